//! Calendar object resources (RFC 4791 §4.1): one VCALENDAR whose
//! components (apart from time zones) share one UID and one type, no
//! METHOD; and what a store indexes about one for time-range queries.

use calcard::icalendar::{ICalendar, ICalendarComponentType, ICalendarProperty};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;

use crate::recurrence::{ExpandLimits, expand};

/// Why a resource is not a calendar object resource, by the CalDAV
/// precondition it fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// `valid-calendar-data`: not iCalendar.
    #[error("not valid iCalendar: {0}")]
    NotCalendarData(String),
    /// `valid-calendar-object-resource`: iCalendar, but not one object.
    #[error("not one calendar object: {0}")]
    NotOneObject(String),
    /// `supported-calendar-component`: a component type this calendar does not take.
    #[error("this calendar does not take {0}")]
    UnsupportedComponent(String),
}

/// What a store keeps about an object to find it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObjectIndex {
    /// The UID all its components share.
    pub uid: String,
    /// VEVENT, VTODO or VJOURNAL.
    pub component: String,
    /// The earliest start of any instance (None: no time at all).
    pub first_start: Option<DateTime<Utc>>,
    /// The latest end of any instance (None: open-ended or no time).
    pub last_end: Option<DateTime<Utc>>,
}

/// Checks that `calendar` is one calendar object of a type in `allowed`
/// and computes its index.
///
/// ```
/// use guss_calendar::{ical, object::index};
///
/// let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300101T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=3\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
/// let parsed = ical::parse(text, &Default::default())?;
/// let found = index(&parsed.calendar, &["VEVENT"]).unwrap();
/// assert_eq!(found.uid, "u1");
/// assert_eq!(found.last_end.unwrap().to_rfc3339(), "2030-01-03T10:00:00+00:00");
/// assert!(index(&parsed.calendar, &["VTODO"]).is_err());
/// # Ok::<(), guss_calendar::Error>(())
/// ```
pub fn index(calendar: &ICalendar, allowed: &[&str]) -> Result<ObjectIndex, ObjectError> {
    index_of(calendar, allowed, false)
}

/// [`index`] for a schedule inbox, whose objects are iTIP messages (with METHOD).
pub fn index_message(calendar: &ICalendar, allowed: &[&str]) -> Result<ObjectIndex, ObjectError> {
    index_of(calendar, allowed, true)
}

fn index_of(
    calendar: &ICalendar,
    allowed: &[&str],
    message: bool,
) -> Result<ObjectIndex, ObjectError> {
    let root = calendar
        .components
        .first()
        .ok_or_else(|| ObjectError::NotCalendarData("empty".into()))?;
    if !message
        && root
            .entries
            .iter()
            .any(|e| e.name == ICalendarProperty::Method)
    {
        return Err(ObjectError::NotOneObject(
            "a stored object has no METHOD".into(),
        ));
    }
    let mut uid: Option<String> = None;
    let mut kind: Option<&'static str> = None;
    for component in calendar.components.iter().skip(1) {
        let this = match component.component_type {
            ICalendarComponentType::VEvent => "VEVENT",
            ICalendarComponentType::VTodo => "VTODO",
            ICalendarComponentType::VJournal => "VJOURNAL",
            ICalendarComponentType::VFreebusy if message => "VFREEBUSY",
            ICalendarComponentType::VFreebusy => {
                return Err(ObjectError::UnsupportedComponent("VFREEBUSY".into()));
            }
            _ => continue, // time zones, alarms, observances
        };
        if kind.is_some_and(|k| k != this) {
            return Err(ObjectError::NotOneObject(
                "components of more than one type".into(),
            ));
        }
        kind = Some(this);
        let this_uid = component
            .uid()
            .ok_or_else(|| ObjectError::NotOneObject("a component without UID".into()))?;
        if uid.as_deref().is_some_and(|u| u != this_uid) {
            return Err(ObjectError::NotOneObject(
                "components with different UIDs".into(),
            ));
        }
        uid = Some(this_uid.to_owned());
    }
    let (Some(uid), Some(kind)) = (uid, kind) else {
        return Err(ObjectError::NotOneObject(
            "no event, task or journal".into(),
        ));
    };
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(kind)) {
        return Err(ObjectError::UnsupportedComponent(kind.into()));
    }
    // Only the object's own rules count: a VTIMEZONE's observances repeat
    // forever, but they do not make the event endless.
    let open_ended = calendar.components.iter().filter(|c| c.component_type.is_event_or_todo() || c.component_type.is_journal()).any(|c| {
        c.entries.iter().any(|e| {
            e.name == ICalendarProperty::Rrule
                && matches!(e.values.first(), Some(calcard::icalendar::ICalendarValue::RecurrenceRule(r)) if r.count.is_none() && r.until.is_none())
        })
    });
    let all_time = Utc
        .with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        ..Utc
            .with_ymd_and_hms(2200, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
    let limits = ExpandLimits {
        max_instances: usize::MAX,
        ..ExpandLimits::default()
    };
    let expansion = expand(calendar, &all_time, &limits);
    let first_start = expansion.instances.iter().map(|i| i.start).min();
    let last_end = if open_ended || expansion.truncated {
        None
    } else {
        expansion.instances.iter().map(|i| i.end).max()
    };
    Ok(ObjectIndex {
        uid,
        component: kind.to_owned(),
        first_start,
        last_end,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_time_zone_that_repeats_forever_leaves_a_single_event_its_end() {
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{}BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20300101T000000Z\r\n\
             DTSTART;TZID=Europe/Berlin:20300107T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            crate::edit::vtimezone(chrono_tz::Europe::Berlin, 2030)
        );
        let parsed = crate::ical::parse(&text, &Default::default()).unwrap();
        let found = index(&parsed.calendar, &["VEVENT"]).unwrap();
        assert_eq!(
            found.last_end.map(|t| t.to_rfc3339()).as_deref(),
            Some("2030-01-07T09:00:00+00:00")
        );
        let endless = text.replace(
            "DURATION:PT1H\r\n",
            "DURATION:PT1H\r\nRRULE:FREQ=WEEKLY\r\n",
        );
        let parsed = crate::ical::parse(&endless, &Default::default()).unwrap();
        assert_eq!(index(&parsed.calendar, &["VEVENT"]).unwrap().last_end, None);
    }
}
