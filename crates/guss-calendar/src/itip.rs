//! Scheduling as pure logic (iTIP, RFC 5546; implicit scheduling, RFC
//! 6638): who an event's organizer must send a REQUEST or a CANCEL to,
//! the messages themselves, and applying a REPLY — only when it comes from
//! the attendee it names and is not older than what is known.

use calcard::icalendar::{
    ICalendar, ICalendarComponentType, ICalendarEntry, ICalendarMethod, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarParticipationStatus,
    ICalendarProperty, ICalendarStatus, ICalendarUserTypes, ICalendarValue,
};
use serde::Serialize;

/// A calendar user address in a comparable form: lower case, without `mailto:`.
///
/// ```
/// assert_eq!(guss_calendar::itip::normalize("MAILTO:Anna@Kanzlei.example"), "anna@kanzlei.example");
/// ```
pub fn normalize(address: &str) -> String {
    let trimmed = address.trim();
    let bare = match trimmed.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("mailto:") => {
            trimmed.get(7..).unwrap_or_default()
        }
        _ => trimmed,
    };
    bare.to_ascii_lowercase()
}

/// What kind of calendar user an attendee is (CUTYPE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// A person.
    Individual,
    /// A group.
    Group,
    /// A resource: a car, a device.
    Resource,
    /// A room.
    Room,
}

/// An attendee as the organizer's copy lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attendee {
    /// The address, normalized.
    pub address: String,
    /// Person, resource, room or group.
    pub kind: UserKind,
    /// Their answer so far (PARTSTAT), as written (`ACCEPTED`, …).
    pub partstat: String,
}

fn scheduling(
    calendar: &ICalendar,
) -> impl Iterator<Item = &calcard::icalendar::ICalendarComponent> {
    calendar.components.iter().filter(|c| {
        matches!(
            c.component_type,
            ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
        )
    })
}

fn address_of(entry: &ICalendarEntry) -> Option<String> {
    entry
        .values
        .first()
        .and_then(|v| v.as_text())
        .map(normalize)
}

/// The organizer's address, when the object is a scheduling object.
pub fn organizer(calendar: &ICalendar) -> Option<String> {
    scheduling(calendar)
        .flat_map(|c| c.entries.iter())
        .find(|e| e.name == ICalendarProperty::Organizer)
        .and_then(address_of)
}

fn partstat_text(status: &ICalendarParticipationStatus) -> &'static str {
    match status {
        ICalendarParticipationStatus::NeedsAction => "NEEDS-ACTION",
        ICalendarParticipationStatus::Accepted => "ACCEPTED",
        ICalendarParticipationStatus::Declined => "DECLINED",
        ICalendarParticipationStatus::Tentative => "TENTATIVE",
        ICalendarParticipationStatus::Delegated => "DELEGATED",
        ICalendarParticipationStatus::Completed => "COMPLETED",
        ICalendarParticipationStatus::InProcess => "IN-PROCESS",
        ICalendarParticipationStatus::Failed => "FAILED",
    }
}

fn attendee_of(entry: &ICalendarEntry) -> Option<Attendee> {
    let address = address_of(entry)?;
    let kind = match entry.parameter(&ICalendarParameterName::Cutype) {
        Some(ICalendarParameterValue::Cutype(ICalendarUserTypes::Resource)) => UserKind::Resource,
        Some(ICalendarParameterValue::Cutype(ICalendarUserTypes::Room)) => UserKind::Room,
        Some(ICalendarParameterValue::Cutype(ICalendarUserTypes::Group)) => UserKind::Group,
        _ => UserKind::Individual,
    };
    let partstat = match entry.parameter(&ICalendarParameterName::Partstat) {
        Some(ICalendarParameterValue::Partstat(p)) => partstat_text(p).to_owned(),
        Some(ICalendarParameterValue::Text(t)) => t.to_ascii_uppercase(),
        _ => "NEEDS-ACTION".to_owned(),
    };
    Some(Attendee {
        address,
        kind,
        partstat,
    })
}

/// The attendees of every component, once each (first mention wins).
pub fn attendees(calendar: &ICalendar) -> Vec<Attendee> {
    let mut out: Vec<Attendee> = Vec::new();
    for entry in scheduling(calendar)
        .flat_map(|c| c.entries.iter())
        .filter(|e| e.name == ICalendarProperty::Attendee)
    {
        if let Some(attendee) = attendee_of(entry)
            && !out.iter().any(|a| a.address == attendee.address)
        {
            out.push(attendee);
        }
    }
    out
}

/// The highest SEQUENCE of the object's components (0 when absent).
pub fn sequence(calendar: &ICalendar) -> i64 {
    scheduling(calendar)
        .flat_map(|c| c.entries.iter())
        .filter(|e| e.name == ICalendarProperty::Sequence)
        .filter_map(|e| match e.values.first() {
            Some(ICalendarValue::Integer(n)) => Some(*n),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

fn set_param(
    entry: &mut ICalendarEntry,
    name: ICalendarParameterName,
    value: ICalendarParameterValue,
) {
    entry.params.retain(|p| p.name != name);
    entry.params.push(ICalendarParameter { name, value });
}

/// Sets the PARTSTAT of `address` in every component; whether it was found.
pub fn set_partstat(
    calendar: &mut ICalendar,
    address: &str,
    partstat: ICalendarParticipationStatus,
) -> bool {
    let wanted = normalize(address);
    let mut found = false;
    for component in calendar.components.iter_mut() {
        for entry in component
            .entries
            .iter_mut()
            .filter(|e| e.name == ICalendarProperty::Attendee)
        {
            if address_of(entry).as_deref() == Some(wanted.as_str()) {
                set_param(
                    entry,
                    ICalendarParameterName::Partstat,
                    ICalendarParameterValue::Partstat(partstat.clone()),
                );
                found = true;
            }
        }
    }
    found
}

/// Sets SCHEDULE-STATUS (RFC 6638 §7.3) of `address` in every component.
pub fn set_schedule_status(calendar: &mut ICalendar, address: &str, status: &str) {
    let wanted = normalize(address);
    for component in calendar.components.iter_mut() {
        for entry in component
            .entries
            .iter_mut()
            .filter(|e| e.name == ICalendarProperty::Attendee)
        {
            if address_of(entry).as_deref() == Some(wanted.as_str()) {
                set_param(
                    entry,
                    ICalendarParameterName::ScheduleStatus,
                    ICalendarParameterValue::Text(status.to_owned()),
                );
            }
        }
    }
}

/// A copy of `calendar` as an iTIP message with `method`.
pub fn message(calendar: &ICalendar, method: ICalendarMethod) -> ICalendar {
    let mut out = calendar.clone();
    if let Some(root) = out.components.first_mut() {
        root.entries.retain(|e| e.name != ICalendarProperty::Method);
        root.entries
            .push(ICalendarEntry::new(ICalendarProperty::Method).with_value(method));
    }
    out
}

/// A CANCEL for the whole object: STATUS:CANCELLED, SEQUENCE one higher.
pub fn cancel(calendar: &ICalendar) -> ICalendar {
    let next = sequence(calendar) + 1;
    let mut out = message(calendar, ICalendarMethod::Cancel);
    for component in out.components.iter_mut().filter(|c| {
        matches!(
            c.component_type,
            ICalendarComponentType::VEvent | ICalendarComponentType::VTodo
        )
    }) {
        component.entries.retain(|e| {
            e.name != ICalendarProperty::Status && e.name != ICalendarProperty::Sequence
        });
        component.entries.push(
            ICalendarEntry::new(ICalendarProperty::Status).with_value(ICalendarStatus::Cancelled),
        );
        component
            .entries
            .push(ICalendarEntry::new(ICalendarProperty::Sequence).with_value(next));
    }
    out
}

/// A REPLY from `attendee` with `partstat`: the attendee's line only.
pub fn reply(
    calendar: &ICalendar,
    attendee: &str,
    partstat: ICalendarParticipationStatus,
) -> ICalendar {
    let wanted = normalize(attendee);
    let mut out = message(calendar, ICalendarMethod::Reply);
    set_partstat(&mut out, attendee, partstat);
    for component in out.components.iter_mut() {
        component.entries.retain(|e| {
            e.name != ICalendarProperty::Attendee
                || address_of(e).as_deref() == Some(wanted.as_str())
        });
    }
    out
}

/// Why a REPLY was not applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The reply names another attendee than its sender, or several.
    #[error("the reply does not come from the attendee it names")]
    NotFromAttendee,
    /// The attendee is not invited to this event.
    #[error("{0} is not an attendee")]
    UnknownAttendee(String),
    /// The reply is for another event.
    #[error("the reply is for another event")]
    OtherEvent,
    /// The reply answers an older version of the event.
    #[error("the reply answers an older version")]
    Stale,
}

/// Applies a REPLY sent by `sender` to the organizer's copy: the PARTSTAT
/// of the attendee it names, only if that attendee is `sender`, is
/// invited, and the reply is not older than the copy.
///
/// ```
/// use calcard::icalendar::ICalendarParticipationStatus as P;
/// use guss_calendar::{ical, itip};
///
/// let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20300506T090000Z\r\nORGANIZER:mailto:anna@kanzlei.example\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ben@kanzlei.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
/// let mut copy = ical::parse(text, &Default::default())?.calendar;
/// let answer = itip::reply(&copy, "mailto:ben@kanzlei.example", P::Accepted);
/// assert_eq!(itip::apply_reply(&mut copy, &answer, "mailto:eve@evil.example"), Err(itip::ReplyError::NotFromAttendee));
/// itip::apply_reply(&mut copy, &answer, "mailto:ben@kanzlei.example").unwrap();
/// assert_eq!(itip::attendees(&copy)[0].partstat, "ACCEPTED");
/// # Ok::<(), guss_calendar::Error>(())
/// ```
pub fn apply_reply(
    copy: &mut ICalendar,
    reply: &ICalendar,
    sender: &str,
) -> Result<(), ReplyError> {
    let sender = normalize(sender);
    let uid = |c: &ICalendar| scheduling(c).find_map(|x| x.uid()).map(str::to_owned);
    if uid(copy) != uid(reply) {
        return Err(ReplyError::OtherEvent);
    }
    let named = attendees(reply);
    let [attendee] = named.as_slice() else {
        return Err(ReplyError::NotFromAttendee);
    };
    if attendee.address != sender {
        return Err(ReplyError::NotFromAttendee);
    }
    if !attendees(copy).iter().any(|a| a.address == sender) {
        return Err(ReplyError::UnknownAttendee(sender));
    }
    if sequence(reply) < sequence(copy) {
        return Err(ReplyError::Stale);
    }
    let partstat = scheduling(reply)
        .flat_map(|c| c.entries.iter())
        .filter(|e| e.name == ICalendarProperty::Attendee)
        .find_map(|e| match e.parameter(&ICalendarParameterName::Partstat) {
            Some(ICalendarParameterValue::Partstat(p)) => Some(p.clone()),
            _ => None,
        })
        .unwrap_or(ICalendarParticipationStatus::NeedsAction);
    set_partstat(copy, &sender, partstat);
    Ok(())
}

/// Who gets what after the organizer wrote `new` (over `old`): a REQUEST
/// for every attendee of `new`, a CANCEL for those no longer invited.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Addresses that get a REQUEST.
    pub request: Vec<Attendee>,
    /// Addresses that get a CANCEL.
    pub cancel: Vec<String>,
}

/// The scheduling plan for an organizer's write (see [`Plan`]); the
/// organizer never sends to themselves.
pub fn plan(old: Option<&ICalendar>, new: &ICalendar) -> Plan {
    let organizer = organizer(new).unwrap_or_default();
    let now: Vec<Attendee> = attendees(new)
        .into_iter()
        .filter(|a| a.address != organizer)
        .collect();
    let cancel = old
        .map(attendees)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.address != organizer && !now.iter().any(|n| n.address == a.address))
        .map(|a| a.address)
        .collect();
    Plan {
        request: now,
        cancel,
    }
}
