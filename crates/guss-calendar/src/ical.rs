//! Reading and writing iCalendar (RFC 5545) leniently: real files from
//! Outlook, Google, Apple and Thunderbird are read as far as they can be,
//! what was repaired or ignored is reported, and everything not understood
//! (X- properties, unknown parameters) is kept, so data round-trips.

use calcard::Entry;
use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarProperty,
    ICalendarValue,
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::timezone::Zones;
use crate::{Error, Result};

/// Bounds on one document; on by default.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Limits {
    /// The largest document, in bytes.
    pub max_bytes: usize,
    /// The most components (events, tasks, alarms, time zones) in one document.
    pub max_components: usize,
}

impl Default for Limits {
    /// 32 MiB and 200,000 components: a large exported calendar fits.
    fn default() -> Self {
        Limits {
            max_bytes: 32 * 1024 * 1024,
            max_components: 200_000,
        }
    }
}

/// What reading a document changed or left out, for the person who
/// imported it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was repaired, e.g. "added a UID".
    pub repaired: Vec<Finding>,
    /// What was read differently or left out, e.g. an unknown time zone.
    pub ignored: Vec<Finding>,
}

impl Report {
    /// Whether the document was read as it is.
    pub fn is_clean(&self) -> bool {
        self.repaired.is_empty() && self.ignored.is_empty()
    }
}

/// One finding: which component (by UID, when it has one) and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The UID of the component concerned.
    pub uid: Option<String>,
    /// What happened, in words.
    pub what: String,
}

/// A document read: the calendar and the report.
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The calendar, repaired.
    pub calendar: ICalendar,
    /// What was repaired or ignored.
    pub report: Report,
}

fn describe(entry: &Entry) -> String {
    match entry {
        Entry::InvalidLine(line) => {
            let shown: String = line.chars().take(80).collect();
            format!("a line that is not iCalendar: {shown:?}")
        }
        Entry::UnexpectedComponentEnd { expected, found } => {
            format!(
                "END:{} where END:{} was expected",
                found.as_str(),
                expected.as_str()
            )
        }
        Entry::UnterminatedComponent(name) => format!("BEGIN:{name} without its END"),
        Entry::TooManyComponents => "too many components".to_owned(),
        Entry::Eof => "no data".to_owned(),
        Entry::VCard(_) => "a vCard, not an iCalendar".to_owned(),
        _ => "not an iCalendar document".to_owned(),
    }
}

/// Reads one iCalendar document within `limits`, repairing what a client
/// would expect repaired: a missing UID or DTSTAMP is added, an end before
/// the start is dropped, a TZID that names no known zone is reported.
///
/// ```
/// use guss_calendar::ical::{Limits, parse};
///
/// let parsed = parse("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20300101T090000Z\r\nSUMMARY:Ohne UID\r\nX-KANZLEI-AKTE:17/30\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", &Limits::default())?;
/// assert!(parsed.report.repaired.iter().any(|f| f.what.contains("UID")));
/// let text = guss_calendar::ical::emit(&parsed.calendar);
/// assert!(text.contains("X-KANZLEI-AKTE:17/30"), "unknown properties are kept");
/// assert!(parse("BEGIN:VCARD\r\nEND:VCARD\r\n", &Limits::default()).is_err());
/// # Ok::<(), guss_calendar::Error>(())
/// ```
pub fn parse(text: &str, limits: &Limits) -> Result<Parsed> {
    if text.len() > limits.max_bytes {
        return Err(Error::LimitExceeded {
            what: "iCalendar document",
            limit: limits.max_bytes as u64,
        });
    }
    let mut calendar =
        ICalendar::parse(text).map_err(|e| Error::invalid("iCalendar", describe(&e)))?;
    if calendar.components.len() > limits.max_components {
        return Err(Error::LimitExceeded {
            what: "iCalendar components",
            limit: limits.max_components as u64,
        });
    }
    if calendar.components.first().map(|c| &c.component_type)
        != Some(&ICalendarComponentType::VCalendar)
    {
        return Err(Error::invalid(
            "iCalendar",
            "the document is not a VCALENDAR",
        ));
    }
    let mut report = Report::default();
    repair(&mut calendar, &mut report);
    Ok(Parsed { calendar, report })
}

fn has(component: &ICalendarComponent, name: &ICalendarProperty) -> bool {
    component.entries.iter().any(|e| &e.name == name)
}

fn repair(calendar: &mut ICalendar, report: &mut Report) {
    let zones = Zones::of(calendar);
    if let Some(root) = calendar.components.first_mut() {
        if !has(root, &ICalendarProperty::Version) {
            root.entries
                .push(ICalendarEntry::new(ICalendarProperty::Version).with_value("2.0".to_owned()));
            report.repaired.push(Finding {
                uid: None,
                what: "added VERSION:2.0".into(),
            });
        }
        if !has(root, &ICalendarProperty::Prodid) {
            root.entries.push(
                ICalendarEntry::new(ICalendarProperty::Prodid)
                    .with_value("-//guss//guss-calendar//EN".to_owned()),
            );
            report.repaired.push(Finding {
                uid: None,
                what: "added PRODID".into(),
            });
        }
    }
    let now = PartialDateTime::from_utc_timestamp(Utc::now().timestamp());
    let mut counter = 0u32;
    for component in calendar.components.iter_mut() {
        let scheduling = matches!(
            component.component_type,
            ICalendarComponentType::VEvent
                | ICalendarComponentType::VTodo
                | ICalendarComponentType::VJournal
        );
        if !scheduling {
            continue;
        }
        if !has(component, &ICalendarProperty::Uid) {
            counter += 1;
            let uid = generated_uid(component, counter);
            component.add_uid(&uid);
            report.repaired.push(Finding {
                uid: Some(uid),
                what: "added a UID".into(),
            });
        }
        let uid = component.uid().map(str::to_owned);
        if !has(component, &ICalendarProperty::Dtstamp) {
            component.add_dtstamp(now.clone());
            report.repaired.push(Finding {
                uid: uid.clone(),
                what: "added DTSTAMP".into(),
            });
        }
        if has(component, &ICalendarProperty::Dtend) && has(component, &ICalendarProperty::Duration)
        {
            component
                .entries
                .retain(|e| e.name != ICalendarProperty::Duration);
            report.repaired.push(Finding {
                uid: uid.clone(),
                what: "dropped DURATION next to DTEND".into(),
            });
        }
        if end_before_start(component) {
            component
                .entries
                .retain(|e| e.name != ICalendarProperty::Dtend);
            report.repaired.push(Finding {
                uid: uid.clone(),
                what: "dropped a DTEND before DTSTART".into(),
            });
        }
        for entry in &component.entries {
            if let Some(tzid) = entry.tz_id()
                && zones.resolve(tzid).is_none()
            {
                report.ignored.push(Finding {
                    uid: uid.clone(),
                    what: format!(
                        "unknown time zone {tzid:?} on {}: read as floating time",
                        entry.name.as_str()
                    ),
                });
            }
        }
    }
}

/// A UID for a component that has none: stable for the same content.
fn generated_uid(component: &ICalendarComponent, counter: u32) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{component:?}").hash(&mut hasher);
    counter.hash(&mut hasher);
    format!("{:016x}-{counter}@guss.invalid", hasher.finish())
}

fn instant(component: &ICalendarComponent, name: &ICalendarProperty) -> Option<DateTime<Utc>> {
    let entry = component.entries.iter().find(|e| &e.name == name)?;
    match entry.values.first()? {
        ICalendarValue::PartialDateTime(dt) => {
            let parsed = dt.to_date_time()?;
            // Compared in the same (possibly unknown) zone: the local times suffice.
            let offset = parsed.offset.map_or(0, |o| o.local_minus_utc());
            Some(parsed.date_time.and_utc() - chrono::TimeDelta::seconds(i64::from(offset)))
        }
        _ => None,
    }
}

fn end_before_start(component: &ICalendarComponent) -> bool {
    let same_zone = {
        let tz = |name: &ICalendarProperty| {
            component
                .entries
                .iter()
                .find(|e| &e.name == name)
                .and_then(|e| e.tz_id())
        };
        tz(&ICalendarProperty::Dtstart) == tz(&ICalendarProperty::Dtend)
    };
    match (
        instant(component, &ICalendarProperty::Dtstart),
        instant(component, &ICalendarProperty::Dtend),
    ) {
        (Some(start), Some(end)) => same_zone && end < start,
        _ => false,
    }
}

/// Writes a calendar as iCalendar text (CRLF line ends, folded lines).
pub fn emit(calendar: &ICalendar) -> String {
    calendar.to_string()
}
