//! Calendars for guss: iCalendar that survives real-world files, time
//! zones from IANA names, Windows names or the file's own VTIMEZONE,
//! DST-correct recurrence, free/busy, scheduling and booking.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use guss_calendar::{ical, recurrence};
//!
//! let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Praxis//DE\r\nBEGIN:VEVENT\r\n\
//! UID:sprechstunde@praxis.example\r\nDTSTAMP:20300101T000000Z\r\n\
//! DTSTART;TZID=W. Europe Standard Time:20300325T083000\r\nDURATION:PT1H\r\n\
//! RRULE:FREQ=DAILY;COUNT=10\r\nSUMMARY:Sprechstunde\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
//! let parsed = ical::parse(text, &ical::Limits::default())?;
//! let window = Utc.with_ymd_and_hms(2030, 3, 30, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2030, 4, 2, 0, 0, 0).unwrap();
//! let expansion = recurrence::expand(&parsed.calendar, &window, &recurrence::ExpandLimits::default());
//! let starts: Vec<String> = expansion.instances.iter().map(|i| i.start.to_rfc3339()).collect();
//! // 08:30 in Berlin: 07:30 UTC in winter, 06:30 UTC once summer time began on 31 March.
//! assert_eq!(starts, ["2030-03-30T07:30:00+00:00", "2030-03-31T06:30:00+00:00", "2030-04-01T06:30:00+00:00"]);
//! # Ok::<(), guss_calendar::Error>(())
//! ```
#![forbid(unsafe_code)]

pub mod booking;
#[cfg(feature = "caldav")]
pub mod caldav;
pub mod edit;
mod error;
pub mod freebusy;
pub mod ical;
pub mod itip;
pub mod object;
pub mod recurrence;
#[cfg(feature = "store")]
pub mod store;
pub mod timezone;

pub use calcard;
pub use error::{Error, Result};
