//! Changes to an event as a calendar page makes them: a new event, the
//! whole series changed, one occurrence moved or cancelled.
//!
//! Each change is made to the stored iCalendar object itself, so that
//! everything a page does not show (alarms, categories, other clients'
//! properties, attendees' answers) is kept. Times are wall-clock times in
//! an IANA zone, written with `TZID` and a VTIMEZONE that describes the
//! zone (RFC 5545 §3.6.5), so that a weekly 09:00 stays at 09:00 across
//! daylight-saving changes.
//!
//! ```
//! use chrono::{NaiveDate, TimeZone, Utc};
//! use guss_calendar::edit::{self, Draft, Frequency, Repeat};
//!
//! let day = NaiveDate::from_ymd_opt(2030, 3, 25).unwrap();
//! let draft = Draft {
//!     summary: "Teamrunde".into(),
//!     start: day.and_hms_opt(9, 0, 0).unwrap(),
//!     end: day.and_hms_opt(10, 0, 0).unwrap(),
//!     repeat: Some(Repeat { frequency: Frequency::Weekly, until: None }),
//!     ..Draft::new(chrono_tz::Europe::Berlin)
//! };
//! let now = Utc.with_ymd_and_hms(2030, 3, 1, 12, 0, 0).unwrap();
//! let text = edit::create("teamrunde@example.org", &draft, now)?;
//! // The second Monday falls after the clock change: still 09:00 in Berlin.
//! let second = Utc.with_ymd_and_hms(2030, 4, 1, 7, 0, 0).unwrap();
//! let moved = edit::move_occurrence(&text, second, day.and_hms_opt(11, 0, 0).unwrap() + chrono::Days::new(8),
//!     day.and_hms_opt(12, 0, 0).unwrap() + chrono::Days::new(8), draft.zone, now)?;
//! assert!(moved.contains("RECURRENCE-ID;TZID=Europe/Berlin:20300401T090000"));
//! # Ok::<(), guss_calendar::Error>(())
//! ```

use std::fmt::Write as _;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarFrequency,
    ICalendarParameter, ICalendarParameterName, ICalendarParameterValue,
    ICalendarParticipationStatus, ICalendarProperty, ICalendarUserTypes, ICalendarValue,
};
use chrono::{
    DateTime, Datelike as _, Days, NaiveDate, NaiveDateTime, Offset as _, TimeDelta, TimeZone,
    Timelike as _, Utc,
};
use chrono_tz::Tz;

use crate::itip::{UserKind, normalize};
use crate::timezone::{Zone, Zones};
use crate::{Error, Result, ical};

/// The longest summary or location a page writes, in characters.
pub const MAX_LINE: usize = 500;
/// The longest description, in characters.
pub const MAX_DESCRIPTION: usize = 10_000;
/// The most attendees of one event.
pub const MAX_ATTENDEES: usize = 100;
/// The longest event (rooms and cars are booked for days at most).
pub const MAX_LENGTH: TimeDelta = TimeDelta::days(31);
/// The years a page's dates may fall in: those the zone database gives
/// daylight-saving rules for.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2099;

/// How often a series repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    /// Every day.
    Daily,
    /// Every week, on the start's weekday.
    Weekly,
    /// Every month, on the start's day.
    Monthly,
    /// Every year.
    Yearly,
    /// As the stored series already repeats: a rule the form does not
    /// show (an interval, a count, chosen weekdays, extra dates), kept.
    Custom,
}

impl Frequency {
    fn rule(self) -> &'static str {
        match self {
            Frequency::Daily => "DAILY",
            Frequency::Weekly => "WEEKLY",
            Frequency::Monthly => "MONTHLY",
            Frequency::Yearly => "YEARLY",
            Frequency::Custom => "",
        }
    }
}

/// A series: how often, and the last day (inclusive), if any.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repeat {
    /// How often.
    pub frequency: Frequency,
    /// The last day an occurrence may start on.
    pub until: Option<NaiveDate>,
}

/// Someone (or a room, or a car) taking part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// Their calendar user address, without `mailto:`.
    pub address: String,
    /// Their name.
    pub name: String,
    /// Person, room or resource.
    pub kind: UserKind,
}

/// What is wrong with a draft.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// No title.
    #[error("the event needs a title")]
    NoTitle,
    /// A title, place or notes longer than allowed.
    #[error("the title, place or notes are too long")]
    TooLong,
    /// More than [`MAX_ATTENDEES`].
    #[error("too many attendees")]
    TooManyAttendees,
    /// A date outside [`YEARS`].
    #[error("dates lie between 1900 and 2099")]
    OutOfRange,
    /// A time the clock skips in the zone (the spring change).
    #[error("a time that does not exist in the zone: the clock skips it")]
    Skipped,
    /// The end is not after the start, or more than [`MAX_LENGTH`] after.
    #[error("the end must be after the start, within 31 days")]
    Times,
    /// The series ends before it starts.
    #[error("the series must end after it starts")]
    Until,
}

impl From<Problem> for Error {
    fn from(problem: Problem) -> Self {
        Error::invalid("event", problem.to_string())
    }
}

/// What a page's event form holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Draft {
    /// The title.
    pub summary: String,
    /// Where.
    pub location: String,
    /// Notes.
    pub description: String,
    /// The first start, wall-clock time in `zone`.
    pub start: NaiveDateTime,
    /// The first end (for all-day events: the last day, inclusive).
    pub end: NaiveDateTime,
    /// Whole days rather than times.
    pub all_day: bool,
    /// The zone the times are in.
    pub zone: Tz,
    /// The series, if it repeats.
    pub repeat: Option<Repeat>,
    /// Who organizes it, when anyone is invited or anything booked.
    pub organizer: Option<Participant>,
    /// Colleagues invited, rooms and cars booked.
    pub attendees: Vec<Participant>,
}

impl Draft {
    /// An empty draft in `zone`.
    pub fn new(zone: Tz) -> Self {
        Draft {
            summary: String::new(),
            location: String::new(),
            description: String::new(),
            start: NaiveDateTime::default(),
            end: NaiveDateTime::default(),
            all_day: false,
            zone,
            repeat: None,
            organizer: None,
            attendees: Vec::new(),
        }
    }

    /// Checks the draft: a title, bounded texts, an end after the start
    /// within [`MAX_LENGTH`], times that exist in the zone, an end of the
    /// series after its start, and at most [`MAX_ATTENDEES`].
    pub fn check(&self) -> Result<(), Problem> {
        if self.summary.trim().is_empty() {
            return Err(Problem::NoTitle);
        }
        if self.summary.chars().count() > MAX_LINE
            || self.location.chars().count() > MAX_LINE
            || self.description.chars().count() > MAX_DESCRIPTION
        {
            return Err(Problem::TooLong);
        }
        if self.attendees.len() > MAX_ATTENDEES {
            return Err(Problem::TooManyAttendees);
        }
        let until = self.repeat.and_then(|r| r.until);
        if [Some(self.start.date()), Some(self.end.date()), until]
            .into_iter()
            .flatten()
            .any(|d| !YEARS.contains(&d.year()))
        {
            return Err(Problem::OutOfRange);
        }
        let (start, end) = self.span().map_err(|_| Problem::Skipped)?;
        if end <= start || end - start > MAX_LENGTH {
            return Err(Problem::Times);
        }
        if let Some(until) = self.repeat.and_then(|r| r.until)
            && until < self.start.date()
        {
            return Err(Problem::Until);
        }
        Ok(())
    }

    /// Start and end as instants.
    fn span(&self) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
        if self.all_day {
            let start = instant(self.zone, self.start.date().and_time(Default::default()))?;
            let end = instant(
                self.zone,
                (self.end.date() + Days::new(1)).and_time(Default::default()),
            )?;
            return Ok((start, end));
        }
        Ok((
            instant(self.zone, self.start)?,
            instant(self.zone, self.end)?,
        ))
    }
}

/// The instant a wall-clock time names in `zone`: the earlier one when
/// the clock is turned back; an error when the clock skips it.
pub fn instant(zone: Tz, local: NaiveDateTime) -> Result<DateTime<Utc>> {
    zone.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            Error::invalid(
                "event",
                format!("{local} does not exist in {zone}: the clock skips it"),
            )
        })
}

/// A new event `uid` from `draft`, as iCalendar text.
pub fn create(uid: &str, draft: &Draft, now: DateTime<Utc>) -> Result<String> {
    draft.check()?;
    if draft
        .repeat
        .is_some_and(|r| r.frequency == Frequency::Custom)
    {
        return Err(Error::invalid("event", "a new event has no rule to keep"));
    }
    if uid.is_empty() || uid.len() > 255 || uid.chars().any(char::is_control) {
        return Err(Error::invalid(
            "event",
            "the UID is empty, too long or not text",
        ));
    }
    let mut text =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//guss//calendar//EN\r\n");
    if !draft.all_day {
        text.push_str(&vtimezone(draft.zone, draft.start.year()));
    }
    text.push_str("BEGIN:VEVENT\r\n");
    let _ = write!(text, "UID:{}\r\nSEQUENCE:0\r\n", escape(uid));
    text.push_str(&draft_lines(draft, now));
    text.push_str("END:VEVENT\r\nEND:VCALENDAR\r\n");
    Ok(ical::emit(&parse(&text)?))
}

/// The stored event `text` with its series (the master) changed to
/// `draft`.
///
/// What the draft leaves as it was stays as stored: times unchanged keep
/// their own zone, a rule unchanged (or [`Frequency::Custom`]) keeps every
/// part. Attendees who stay keep their answers unless the time or the rule
/// changed (then they are asked again, RFC 6638 §3.2.8). Exceptions follow
/// the series' attendees and its changed texts; when the start or the rule
/// changes they no longer match and go, with the series' EXDATEs.
pub fn change_series(text: &str, draft: &Draft, now: DateTime<Utc>) -> Result<String> {
    draft.check()?;
    let mut calendar = parse(text)?;
    let master = master_of(&calendar)?;
    let old = read_master(&calendar, master, draft.zone)?;
    if draft
        .repeat
        .is_some_and(|r| r.frequency == Frequency::Custom)
        && draft.repeat != old.repeat
    {
        return Err(Error::invalid("event", "the series has no rule to keep"));
    }
    let (start, end) = draft.span()?;
    let (old_start, old_end) = old.span()?;
    let start_kept = start == old_start && draft.all_day == old.all_day;
    let times_kept = start_kept && end == old_end;
    let rule_kept = draft.repeat == old.repeat;
    let old_master = at(&calendar, master)?.clone();
    let uid = old_master.uid().unwrap_or_default().to_owned();
    let organizer = draft.organizer.as_ref().map(|o| normalize(&o.address));
    let decided = |name: &ICalendarProperty| {
        MANAGED.contains(name)
            && !(times_kept
                && matches!(
                    name,
                    ICalendarProperty::Dtstart
                        | ICalendarProperty::Dtend
                        | ICalendarProperty::Duration
                ))
            && !(rule_kept && *name == ICalendarProperty::Rrule)
    };
    let fresh = entries_of(&draft_lines(draft, now))?;
    let component = at_mut(&mut calendar, master)?;
    let sequence = sequence_of(component) + 1;
    component.entries.retain(|e| !decided(&e.name));
    if !rule_kept || draft.repeat.is_none() || !start_kept {
        component
            .entries
            .retain(|e| !matches!(e.name, ICalendarProperty::Rdate | ICalendarProperty::Exdate));
    }
    for entry in fresh.into_iter().filter(|e| decided(&e.name)) {
        let kept = (entry.name == ICalendarProperty::Attendee && times_kept && rule_kept)
            .then(|| answer_of(&old_master, &entry))
            .flatten();
        component.entries.push(kept.unwrap_or(entry));
    }
    set_sequence(component, sequence);
    if !(times_kept && rule_kept) {
        reset_answers(component, organizer.as_deref());
    }
    let series = component.clone();
    let overrides = overrides_of(&calendar, &uid);
    if draft.repeat.is_none() || !start_kept || !rule_kept {
        let ids: Vec<u32> = overrides
            .into_iter()
            .filter_map(|i| u32::try_from(i).ok())
            .collect();
        calendar.remove_component_ids(&ids);
    } else {
        for index in overrides {
            follow_series(at_mut(&mut calendar, index)?, &old_master, &series);
        }
    }
    if !draft.all_day && !times_kept {
        ensure_vtimezone(&mut calendar, draft.zone, draft.start.year())?;
    }
    Ok(ical::emit(&calendar))
}

/// The stored ATTENDEE line in `component` of the attendee `entry` names,
/// with their answer, if they were there.
fn answer_of(component: &ICalendarComponent, entry: &ICalendarEntry) -> Option<ICalendarEntry> {
    let address = entry.calendar_address().map(normalize);
    component
        .entries
        .iter()
        .find(|old| {
            old.name == ICalendarProperty::Attendee
                && old.calendar_address().map(normalize) == address
        })
        .cloned()
}

/// Asks every attendee but the organizer again (PARTSTAT=NEEDS-ACTION).
fn reset_answers(component: &mut ICalendarComponent, organizer: Option<&str>) {
    for entry in component
        .entries
        .iter_mut()
        .filter(|e| e.name == ICalendarProperty::Attendee)
    {
        if entry.calendar_address().map(normalize).as_deref() == organizer {
            continue;
        }
        entry
            .params
            .retain(|p| p.name != ICalendarParameterName::Partstat);
        entry.params.push(ICalendarParameter {
            name: ICalendarParameterName::Partstat,
            value: ICalendarParameterValue::Partstat(ICalendarParticipationStatus::NeedsAction),
        });
    }
}

/// An exception after its series changed from `old` to `new`: the
/// series' organizer and attendees (those already in the exception keep
/// their answer for it), and the texts it had from the series.
fn follow_series(
    exception: &mut ICalendarComponent,
    old: &ICalendarComponent,
    new: &ICalendarComponent,
) {
    let people: Vec<ICalendarEntry> = new
        .entries
        .iter()
        .filter(|e| {
            matches!(
                e.name,
                ICalendarProperty::Attendee | ICalendarProperty::Organizer
            )
        })
        .map(|e| match e.name {
            ICalendarProperty::Attendee => answer_of(exception, e).unwrap_or_else(|| e.clone()),
            _ => e.clone(),
        })
        .collect();
    exception.entries.retain(|e| {
        !matches!(
            e.name,
            ICalendarProperty::Attendee | ICalendarProperty::Organizer
        )
    });
    exception.entries.extend(people);
    for name in [
        ICalendarProperty::Summary,
        ICalendarProperty::Location,
        ICalendarProperty::Description,
    ] {
        if text_of(exception, name.clone()) != text_of(old, name.clone()) {
            continue;
        }
        exception.entries.retain(|e| e.name != name);
        exception
            .entries
            .extend(new.entries.iter().filter(|e| e.name == name).cloned());
    }
    let sequence = sequence_of(exception) + 1;
    set_sequence(exception, sequence);
}

/// The stored series `text` with its occurrence `recurrence_id` (the start
/// the rule gave it) moved to `start`..`end`, wall-clock times in `zone`:
/// an exception (RFC 5545 §3.8.4.4) that copies the series.
pub fn move_occurrence(
    text: &str,
    recurrence_id: DateTime<Utc>,
    start: NaiveDateTime,
    end: NaiveDateTime,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<String> {
    if !YEARS.contains(&start.year()) || !YEARS.contains(&end.year()) {
        return Err(Problem::OutOfRange.into());
    }
    let (from, to) = (instant(zone, start)?, instant(zone, end)?);
    if to <= from || to - from > MAX_LENGTH {
        return Err(Error::invalid(
            "event",
            "the end must be after the start, within 31 days",
        ));
    }
    let mut calendar = parse(text)?;
    let master = master_of(&calendar)?;
    if !at(&calendar, master)?.is_recurrent() {
        return Err(Error::invalid("event", "the event is not a series"));
    }
    let rid = rid_line(&calendar, master, recurrence_id, zone);
    let uid = at(&calendar, master)?.uid().unwrap_or_default().to_owned();
    let organizer = at(&calendar, master)?
        .property(&ICalendarProperty::Organizer)
        .and_then(|e| e.calendar_address())
        .map(normalize);
    let times = entries_of(&format!(
        "DTSTART;TZID={name}:{}\r\nDTEND;TZID={name}:{}\r\nDTSTAMP:{}\r\n",
        local_stamp(start),
        local_stamp(end),
        utc_stamp(now),
        name = zone.name()
    ))?;
    let existing = find_override(&calendar, &uid, recurrence_id, zone);
    let index = match existing {
        Some(index) => index,
        None => {
            let rid_entries = entries_of(&rid)?;
            copy_as_override(&mut calendar, master, rid_entries)?
        }
    };
    let component = at_mut(&mut calendar, index)?;
    let sequence = sequence_of(component) + 1;
    component.entries.retain(|e| {
        !matches!(
            e.name,
            ICalendarProperty::Dtstart
                | ICalendarProperty::Dtend
                | ICalendarProperty::Duration
                | ICalendarProperty::Dtstamp
        )
    });
    component.entries.extend(times);
    set_sequence(component, sequence);
    // A new time: those invited are asked again for this occurrence.
    reset_answers(component, organizer.as_deref());
    ensure_vtimezone(&mut calendar, zone, start.year())?;
    Ok(ical::emit(&calendar))
}

/// The stored series `text` without its occurrence `recurrence_id`: an
/// EXDATE on the series, and any exception for it removed. Dates and
/// floating times are read in `zone`, as the expansion that found the
/// occurrence read them.
pub fn cancel_occurrence(
    text: &str,
    recurrence_id: DateTime<Utc>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Result<String> {
    let mut calendar = parse(text)?;
    let master = master_of(&calendar)?;
    if !at(&calendar, master)?.is_recurrent() {
        return Err(Error::invalid("event", "the event is not a series"));
    }
    let uid = at(&calendar, master)?.uid().unwrap_or_default().to_owned();
    let exdate =
        rid_line(&calendar, master, recurrence_id, zone).replacen("RECURRENCE-ID", "EXDATE", 1);
    let mut fresh = entries_of(&format!("{exdate}DTSTAMP:{}\r\n", utc_stamp(now)))?;
    let component = at_mut(&mut calendar, master)?;
    let sequence = sequence_of(component) + 1;
    component
        .entries
        .retain(|e| e.name != ICalendarProperty::Dtstamp);
    component.entries.append(&mut fresh);
    set_sequence(component, sequence);
    if let Some(index) = find_override(&calendar, &uid, recurrence_id, zone)
        && let Ok(index) = u32::try_from(index)
    {
        calendar.remove_component_ids(&[index]);
    }
    Ok(ical::emit(&calendar))
}

/// What the event form shows of a stored event: its series (the master)
/// as a draft in `zone`. Attendees are everyone but the organizer.
pub fn read(text: &str, zone: Tz) -> Result<Draft> {
    let calendar = parse(text)?;
    read_master(&calendar, master_of(&calendar)?, zone)
}

/// The series at `master` as a draft in `zone`.
fn read_master(calendar: &ICalendar, master: usize, zone: Tz) -> Result<Draft> {
    let component = at(calendar, master)?;
    let (start, end, all_day) = crate::recurrence::own_span(calendar, master, &Zone::Named(zone))
        .ok_or_else(|| Error::invalid("event", "the event has no start"))?;
    let local = |t: DateTime<Utc>| t.with_timezone(&zone).naive_local();
    let (start, end) = if all_day {
        (local(start), local(end) - Days::new(1))
    } else {
        (local(start), local(end))
    };
    let organizer = component
        .property(&ICalendarProperty::Organizer)
        .and_then(participant);
    let attendees = component
        .entries
        .iter()
        .filter(|e| e.name == ICalendarProperty::Attendee)
        .filter_map(participant)
        .filter(|p| organizer.as_ref().is_none_or(|o| o.address != p.address))
        .collect();
    Ok(Draft {
        summary: text_of(component, ICalendarProperty::Summary),
        location: text_of(component, ICalendarProperty::Location),
        description: text_of(component, ICalendarProperty::Description),
        start,
        end,
        all_day,
        zone,
        repeat: repeat_of(component, zone),
        organizer,
        attendees,
    })
}

/// A property's text, or empty.
pub fn text_of(component: &ICalendarComponent, name: ICalendarProperty) -> String {
    component
        .property(&name)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
        .unwrap_or_default()
        .to_owned()
}

/// The properties a draft decides; the rest of the series is kept.
const MANAGED: &[ICalendarProperty] = &[
    ICalendarProperty::Summary,
    ICalendarProperty::Location,
    ICalendarProperty::Description,
    ICalendarProperty::Dtstart,
    ICalendarProperty::Dtend,
    ICalendarProperty::Duration,
    ICalendarProperty::Rrule,
    ICalendarProperty::Organizer,
    ICalendarProperty::Attendee,
    ICalendarProperty::Dtstamp,
];

fn parse(text: &str) -> Result<ICalendar> {
    Ok(ical::parse(text, &ical::Limits::default())?.calendar)
}

/// The entries of content `lines` (part of a VEVENT's body), and no
/// others: the UID and DTSTAMP the parser would add to the incomplete
/// event are left out.
fn entries_of(lines: &str) -> Result<Vec<ICalendarEntry>> {
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//guss//calendar//EN\r\nBEGIN:VEVENT\r\n{lines}END:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let stamped = lines.contains("DTSTAMP:");
    let calendar = parse(&text)?;
    let mut entries = calendar
        .components
        .into_iter()
        .find(|c| c.component_type == ICalendarComponentType::VEvent)
        .map(|c| c.entries)
        .ok_or_else(|| Error::invalid("event", "no event"))?;
    entries.retain(|e| {
        e.name != ICalendarProperty::Uid && (stamped || e.name != ICalendarProperty::Dtstamp)
    });
    Ok(entries)
}

/// The series' master: the first event without a RECURRENCE-ID.
fn master_of(calendar: &ICalendar) -> Result<usize> {
    calendar
        .components
        .iter()
        .position(|c| {
            c.component_type == ICalendarComponentType::VEvent && !c.is_recurrence_override()
        })
        .ok_or(Error::NotFound("event"))
}

fn overrides_of(calendar: &ICalendar, uid: &str) -> Vec<usize> {
    calendar
        .components
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.component_type == ICalendarComponentType::VEvent
                && c.is_recurrence_override()
                && c.uid() == Some(uid)
        })
        .map(|(i, _)| i)
        .collect()
}

/// The exception of `uid` for the occurrence `rid`, if there is one.
fn find_override(calendar: &ICalendar, uid: &str, rid: DateTime<Utc>, zone: Tz) -> Option<usize> {
    let zones = Zones::of(calendar);
    overrides_of(calendar, uid).into_iter().find(|&i| {
        calendar
            .components
            .get(i)
            .and_then(|c| c.property(&ICalendarProperty::RecurrenceId))
            .and_then(|e| moment(e, &zones, zone))
            .is_some_and(|t| t == rid)
    })
}

/// The instant a date-time entry names, as the expansion reads it: dates
/// and floating times in `floating`.
fn moment(entry: &ICalendarEntry, zones: &Zones, floating: Tz) -> Option<DateTime<Utc>> {
    let ICalendarValue::PartialDateTime(value) = entry.values.first()? else {
        return None;
    };
    let parsed = value.to_date_time()?;
    let zone = entry
        .tz_id()
        .filter(|_| value.has_time())
        .and_then(|id| zones.resolve(id));
    Some(match (parsed.offset, zone) {
        (Some(offset), _) => (parsed.date_time - offset).and_utc(),
        (None, Some(zone)) => zone.to_utc(parsed.date_time),
        (None, None) => Zone::Named(floating).to_utc(parsed.date_time),
    })
}

/// A `RECURRENCE-ID` line for the occurrence `rid` of the master, in the
/// form of its DTSTART (RFC 5545 §3.8.4.4): a date, UTC, a local time with
/// its TZID, or a floating time; dates and floating times in `floating`,
/// as the expansion read them.
fn rid_line(calendar: &ICalendar, master: usize, rid: DateTime<Utc>, floating: Tz) -> String {
    let value = calendar
        .components
        .get(master)
        .and_then(|c| c.property(&ICalendarProperty::Dtstart))
        .and_then(|start| match start.values.first() {
            Some(ICalendarValue::PartialDateTime(value)) => Some((start, value)),
            _ => None,
        });
    let Some((start, value)) = value else {
        return format!("RECURRENCE-ID:{}\r\n", utc_stamp(rid));
    };
    let in_floating = rid.with_timezone(&floating).naive_local();
    if !value.has_time() {
        return format!(
            "RECURRENCE-ID;VALUE=DATE:{}\r\n",
            in_floating.format("%Y%m%d")
        );
    }
    if value.to_date_time().is_some_and(|p| p.offset.is_some()) {
        return format!("RECURRENCE-ID:{}\r\n", utc_stamp(rid));
    }
    match start.tz_id() {
        Some(tzid) => {
            let local = Zones::of(calendar)
                .resolve(tzid)
                .map_or(in_floating, |z| z.to_local(rid));
            format!(
                "RECURRENCE-ID;TZID={}:{}\r\n",
                param_value(tzid),
                local_stamp(local)
            )
        }
        None => format!("RECURRENCE-ID:{}\r\n", local_stamp(in_floating)),
    }
}

/// Adds a copy of the master (its alarms too) without its rule, with
/// `rid_entries`; returns the copy's index.
fn copy_as_override(
    calendar: &mut ICalendar,
    master: usize,
    rid_entries: Vec<ICalendarEntry>,
) -> Result<usize> {
    let mut copy = at(calendar, master)?.clone();
    copy.entries.retain(|e| {
        !matches!(
            e.name,
            ICalendarProperty::Rrule
                | ICalendarProperty::Rdate
                | ICalendarProperty::Exdate
                | ICalendarProperty::Exrule
                | ICalendarProperty::RecurrenceId
        )
    });
    copy.entries.extend(rid_entries);
    let children = std::mem::take(&mut copy.component_ids);
    for child in children {
        let Some(alarm) = calendar.components.get(child as usize).cloned() else {
            continue;
        };
        calendar.components.push(alarm);
        copy.component_ids
            .push(index_u32(calendar.components.len() - 1)?);
    }
    calendar.components.push(copy);
    let index = calendar.components.len() - 1;
    let id = index_u32(index)?;
    if let Some(root) = calendar.components.first_mut() {
        root.component_ids.push(id);
    }
    Ok(index)
}

fn at(calendar: &ICalendar, index: usize) -> Result<&ICalendarComponent> {
    calendar
        .components
        .get(index)
        .ok_or(Error::NotFound("event"))
}

fn at_mut(calendar: &mut ICalendar, index: usize) -> Result<&mut ICalendarComponent> {
    calendar
        .components
        .get_mut(index)
        .ok_or(Error::NotFound("event"))
}

fn index_u32(index: usize) -> Result<u32> {
    u32::try_from(index).map_err(|_| Error::LimitExceeded {
        what: "components",
        limit: u64::from(u32::MAX),
    })
}

/// Adds a VTIMEZONE for `zone` unless the calendar has one by its name.
fn ensure_vtimezone(calendar: &mut ICalendar, zone: Tz, year: i32) -> Result<()> {
    let present = calendar.components.iter().any(|c| {
        c.component_type == ICalendarComponentType::VTimezone
            && c.property(&ICalendarProperty::Tzid)
                .and_then(|e| e.values.first())
                .and_then(|v| v.as_text())
                == Some(zone.name())
    });
    if present {
        return Ok(());
    }
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//guss//calendar//EN\r\n{}END:VCALENDAR\r\n",
        vtimezone(zone, year)
    );
    let zone_calendar = parse(&text)?;
    // Appended after the calendar's components; child ids shift by the offset.
    let offset = calendar.components.len();
    let mut root_children = Vec::new();
    for (index, mut component) in zone_calendar.components.into_iter().enumerate().skip(1) {
        component.component_ids = component
            .component_ids
            .iter()
            .map(|id| index_u32(*id as usize - 1 + offset))
            .collect::<Result<_>>()?;
        if component.component_type == ICalendarComponentType::VTimezone {
            root_children.push(index_u32(index - 1 + offset)?);
        }
        calendar.components.push(component);
    }
    if let Some(root) = calendar.components.first_mut() {
        root.component_ids.splice(0..0, root_children);
    }
    Ok(())
}

fn sequence_of(component: &ICalendarComponent) -> i64 {
    component
        .property(&ICalendarProperty::Sequence)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_integer())
        .unwrap_or(0)
}

fn set_sequence(component: &mut ICalendarComponent, sequence: i64) {
    component
        .entries
        .retain(|e| e.name != ICalendarProperty::Sequence);
    component
        .entries
        .push(ICalendarEntry::new(ICalendarProperty::Sequence).with_value(sequence));
}

fn participant(entry: &ICalendarEntry) -> Option<Participant> {
    let address = normalize(entry.calendar_address()?);
    let name = match entry.parameter(&ICalendarParameterName::Cn) {
        Some(ICalendarParameterValue::Text(name)) => name.clone(),
        _ => address.clone(),
    };
    let kind = match entry.parameter(&ICalendarParameterName::Cutype) {
        Some(ICalendarParameterValue::Cutype(ICalendarUserTypes::Room)) => UserKind::Room,
        Some(ICalendarParameterValue::Cutype(ICalendarUserTypes::Resource)) => UserKind::Resource,
        Some(ICalendarParameterValue::Cutype(ICalendarUserTypes::Group)) => UserKind::Group,
        _ => UserKind::Individual,
    };
    Some(Participant {
        address,
        name,
        kind,
    })
}

/// The series as the form offers it: a simple rule (FREQ and UNTIL), or
/// [`Frequency::Custom`] for anything richer (an interval, a count, chosen
/// days, extra dates), which the form keeps as it is.
fn repeat_of(component: &ICalendarComponent, zone: Tz) -> Option<Repeat> {
    let custom = Repeat {
        frequency: Frequency::Custom,
        until: None,
    };
    let Some(entry) = component.property(&ICalendarProperty::Rrule) else {
        return component
            .has_property(&ICalendarProperty::Rdate)
            .then_some(custom);
    };
    let Some(ICalendarValue::RecurrenceRule(rule)) = entry.values.first() else {
        return Some(custom);
    };
    let simple = rule.count.is_none()
        && rule.interval.is_none_or(|i| i == 1)
        && rule.bysecond.is_empty()
        && rule.byminute.is_empty()
        && rule.byhour.is_empty()
        && rule.byday.is_empty()
        && rule.bymonthday.is_empty()
        && rule.byyearday.is_empty()
        && rule.byweekno.is_empty()
        && rule.bymonth.is_empty()
        && rule.bysetpos.is_empty()
        && !component.has_property(&ICalendarProperty::Rdate)
        && component
            .entries
            .iter()
            .filter(|e| e.name == ICalendarProperty::Rrule)
            .count()
            == 1;
    let frequency = match rule.freq {
        ICalendarFrequency::Daily if simple => Frequency::Daily,
        ICalendarFrequency::Weekly if simple => Frequency::Weekly,
        ICalendarFrequency::Monthly if simple => Frequency::Monthly,
        ICalendarFrequency::Yearly if simple => Frequency::Yearly,
        _ => return Some(custom),
    };
    let until = rule
        .until
        .as_ref()
        .and_then(|u| u.to_date_time())
        .map(|u| match u.offset {
            Some(offset) => (u.date_time - offset)
                .and_utc()
                .with_timezone(&zone)
                .date_naive(),
            None => u.date_time.date(),
        });
    Some(Repeat { frequency, until })
}

/// The content lines a draft decides (see [`MANAGED`]).
fn draft_lines(draft: &Draft, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let _ = write!(out, "DTSTAMP:{}\r\n", utc_stamp(now));
    if draft.all_day {
        let _ = write!(
            out,
            "DTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\n",
            draft.start.format("%Y%m%d"),
            (draft.end.date() + Days::new(1)).format("%Y%m%d")
        );
    } else {
        let _ = write!(
            out,
            "DTSTART;TZID={zone}:{}\r\nDTEND;TZID={zone}:{}\r\n",
            local_stamp(draft.start),
            local_stamp(draft.end),
            zone = draft.zone.name()
        );
    }
    let _ = write!(out, "SUMMARY:{}\r\n", escape(draft.summary.trim()));
    if !draft.location.trim().is_empty() {
        let _ = write!(out, "LOCATION:{}\r\n", escape(draft.location.trim()));
    }
    if !draft.description.trim().is_empty() {
        let _ = write!(out, "DESCRIPTION:{}\r\n", escape(draft.description.trim()));
    }
    if let Some(repeat) = draft.repeat.filter(|r| r.frequency != Frequency::Custom) {
        let _ = write!(out, "RRULE:FREQ={}", repeat.frequency.rule());
        if let Some(until) = repeat.until {
            // UNTIL is UTC when DTSTART has a zone (RFC 5545 §3.3.10): the
            // end of the last day in the zone.
            let last = (until + Days::new(1)).and_time(Default::default());
            let end = draft
                .zone
                .from_local_datetime(&last)
                .earliest()
                .map_or(last.and_utc(), |t| t.with_timezone(&Utc))
                - TimeDelta::seconds(1);
            if draft.all_day {
                let _ = write!(out, ";UNTIL={}", until.format("%Y%m%d"));
            } else {
                let _ = write!(out, ";UNTIL={}", utc_stamp(end));
            }
        }
        out.push_str("\r\n");
    }
    if let Some(organizer) = draft
        .organizer
        .as_ref()
        .filter(|_| !draft.attendees.is_empty())
    {
        let _ = write!(
            out,
            "ORGANIZER;CN={}:mailto:{}\r\n",
            param_value(&organizer.name),
            organizer.address
        );
        let _ = write!(
            out,
            "ATTENDEE;CN={};CUTYPE=INDIVIDUAL;ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:{}\r\n",
            param_value(&organizer.name),
            organizer.address
        );
        for attendee in &draft.attendees {
            let (cutype, role, rsvp) = match attendee.kind {
                UserKind::Room => ("ROOM", "NON-PARTICIPANT", "FALSE"),
                UserKind::Resource => ("RESOURCE", "NON-PARTICIPANT", "FALSE"),
                UserKind::Group => ("GROUP", "REQ-PARTICIPANT", "TRUE"),
                _ => ("INDIVIDUAL", "REQ-PARTICIPANT", "TRUE"),
            };
            let _ = write!(
                out,
                "ATTENDEE;CN={};CUTYPE={cutype};ROLE={role};PARTSTAT=NEEDS-ACTION;RSVP={rsvp}:mailto:{}\r\n",
                param_value(&attendee.name),
                attendee.address
            );
        }
    }
    out
}

/// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon, comma and line
/// breaks escaped; other control characters dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (RFC 5545 §3.2): quoted, without quotes or control
/// characters inside.
fn param_value(text: &str) -> String {
    let clean: String = text
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .take(MAX_LINE)
        .collect();
    format!("\"{clean}\"")
}

fn local_stamp(t: NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn utc_stamp(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A VTIMEZONE for `zone` as its rules stand in `year`: each change of
/// offset that year becomes a yearly observance (nth or last weekday of
/// its month), or one standard observance for a zone without changes.
pub fn vtimezone(zone: Tz, year: i32) -> String {
    let year = year.clamp(*YEARS.start(), *YEARS.end());
    let offset_at = |t: DateTime<Utc>| zone.offset_from_utc_datetime(&t.naive_utc());
    let seconds = |t: DateTime<Utc>| offset_at(t).fix().local_minus_utc();
    let mut out = format!("BEGIN:VTIMEZONE\r\nTZID:{}\r\n", zone.name());
    // The zone database lists changes only so far ahead; a later year
    // takes the rules of a year it lists.
    let mut changes = offset_changes(zone, year);
    if changes.is_empty() && year > 2037 {
        changes = offset_changes(zone, 2037);
    }
    if changes.is_empty() {
        let first = Utc
            .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let _ = write!(
            out,
            "BEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:{o}\r\nTZOFFSETTO:{o}\r\nTZNAME:{}\r\nEND:STANDARD\r\n",
            escape(&offset_at(first).to_string()),
            o = utc_offset(seconds(first))
        );
        return out + "END:VTIMEZONE\r\n";
    }
    for (change, from, to) in changes {
        let onset = change.naive_utc() + TimeDelta::seconds(i64::from(from));
        let (month, weekday) = (onset.month(), onset.weekday());
        let last = onset.day() + 7 > days_in_month(onset.year(), month);
        let nth = onset.day().div_ceil(7);
        let first_onset = if last {
            (1..=5)
                .rev()
                .find_map(|n| NaiveDate::from_weekday_of_month_opt(1970, month, weekday, n))
        } else {
            u8::try_from(nth)
                .ok()
                .and_then(|n| NaiveDate::from_weekday_of_month_opt(1970, month, weekday, n))
        }
        .unwrap_or(onset.date());
        let kind = if to > from { "DAYLIGHT" } else { "STANDARD" };
        let by_day = if last {
            format!("-1{}", weekday_code(weekday))
        } else {
            format!("{nth}{}", weekday_code(weekday))
        };
        let _ = write!(
            out,
            "BEGIN:{kind}\r\nDTSTART:{}\r\nRRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={by_day}\r\nTZOFFSETFROM:{}\r\nTZOFFSETTO:{}\r\nTZNAME:{}\r\nEND:{kind}\r\n",
            local_stamp(first_onset.and_time(onset.time().with_second(0).unwrap_or_default())),
            utc_offset(from),
            utc_offset(to),
            escape(&offset_at(change).to_string()),
        );
    }
    out + "END:VTIMEZONE\r\n"
}

/// The changes of `zone`'s offset in `year`: the instant (to the minute)
/// and the offsets before and after, in seconds.
fn offset_changes(zone: Tz, year: i32) -> Vec<(DateTime<Utc>, i32, i32)> {
    let seconds = |t: DateTime<Utc>| {
        zone.offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let Some(first) = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single() else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    let mut at = first;
    let mut before = seconds(at);
    while at.year() == year && changes.len() < 4 {
        let next = at + TimeDelta::hours(1);
        let after = seconds(next);
        if after != before {
            // The exact minute of the change within this hour.
            let mut change = at;
            while seconds(change) == before {
                change += TimeDelta::minutes(1);
            }
            changes.push((change, before, after));
            before = after;
        }
        at = next;
    }
    changes
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |d| d.day())
}

fn weekday_code(day: chrono::Weekday) -> &'static str {
    use chrono::Weekday::*;
    match day {
        Mon => "MO",
        Tue => "TU",
        Wed => "WE",
        Thu => "TH",
        Fri => "FR",
        Sat => "SA",
        Sun => "SU",
    }
}

fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    format!("{sign}{:02}{:02}", seconds / 3600, seconds % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike as _, TimeZone as _};

    use super::*;
    use crate::recurrence::{ExpandLimits, expand};

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn local(y: i32, m: u32, d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    /// Content lines unfolded (RFC 5545 §3.1).
    fn flat(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    fn weekly() -> Draft {
        Draft {
            summary: "Teamrunde; Raum 1, oben".into(),
            description: "Tagesordnung:\nBericht".into(),
            start: local(2030, 3, 18, 9),
            end: local(2030, 3, 18, 10),
            repeat: Some(Repeat {
                frequency: Frequency::Weekly,
                until: Some(NaiveDate::from_ymd_opt(2030, 4, 15).unwrap()),
            }),
            ..Draft::new(BERLIN)
        }
    }

    /// The weekly series with its occurrence of 1 April (09:00 in Berlin)
    /// moved to 2 April, 14:00.
    fn moved_weekly() -> String {
        let text = create("a@x", &weekly(), at(2030, 3, 1, 0, 0)).unwrap();
        move_occurrence(
            &text,
            at(2030, 4, 1, 7, 0),
            local(2030, 4, 2, 14),
            local(2030, 4, 2, 15),
            BERLIN,
            at(2030, 3, 2, 0, 0),
        )
        .unwrap()
    }

    fn starts(text: &str) -> Vec<DateTime<Utc>> {
        let calendar = parse(text).unwrap();
        expand(
            &calendar,
            &(at(2030, 1, 1, 0, 0)..at(2031, 1, 1, 0, 0)),
            &ExpandLimits::default(),
        )
        .instances
        .into_iter()
        .map(|i| i.start)
        .collect()
    }

    #[test]
    fn a_weekly_series_keeps_its_wall_clock_time_across_the_clock_change() {
        let text = create("a@x", &weekly(), at(2030, 3, 1, 0, 0)).unwrap();
        assert!(text.contains("BEGIN:VTIMEZONE"), "{text}");
        assert!(
            text.contains("SUMMARY:Teamrunde\\; Raum 1\\, oben"),
            "{text}"
        );
        // 09:00 CET is 08:00 UTC; from 31 March 09:00 CEST is 07:00 UTC; the
        // last Monday, 15 April, is included.
        assert_eq!(
            starts(&text),
            [
                at(2030, 3, 18, 8, 0),
                at(2030, 3, 25, 8, 0),
                at(2030, 4, 1, 7, 0),
                at(2030, 4, 8, 7, 0),
                at(2030, 4, 15, 7, 0)
            ]
        );
    }

    #[test]
    fn the_generated_time_zone_matches_the_zone_database() {
        let text = create("a@x", &weekly(), at(2030, 3, 1, 0, 0)).unwrap();
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"),
            "{text}"
        );
        // Read back through the file's own VTIMEZONE under another name.
        let renamed = text.replace("Europe/Berlin", "Office Time");
        assert_eq!(starts(&renamed), starts(&text));
        let plain = vtimezone(chrono_tz::Asia::Tokyo, 2030);
        assert!(plain.contains("TZOFFSETTO:+0900"), "{plain}");
    }

    #[test]
    fn moving_one_occurrence_adds_an_exception_and_keeps_the_rest() {
        let moved = moved_weekly();
        assert!(moved.contains("RECURRENCE-ID;TZID=Europe/Berlin:20300401T090000"));
        // One UID and one DTSTAMP in each of the two events.
        assert_eq!(moved.matches("\r\nUID:").count(), 2, "{moved}");
        assert_eq!(moved.matches("\r\nDTSTAMP:").count(), 2, "{moved}");
        let found = starts(&moved);
        assert_eq!(found.len(), 5);
        assert!(found.contains(&at(2030, 4, 2, 12, 0)));
        assert!(!found.contains(&at(2030, 4, 1, 7, 0)));
        // Moving it again changes the same exception.
        let again = move_occurrence(
            &moved,
            at(2030, 4, 1, 7, 0),
            local(2030, 4, 3, 14),
            local(2030, 4, 3, 15),
            BERLIN,
            at(2030, 3, 3, 0, 0),
        )
        .unwrap();
        assert_eq!(again.matches("RECURRENCE-ID").count(), 1, "{again}");
        assert!(starts(&again).contains(&at(2030, 4, 3, 12, 0)));
    }

    #[test]
    fn cancelling_one_occurrence_excludes_it_and_drops_its_exception() {
        let moved = moved_weekly();
        let cancelled =
            cancel_occurrence(&moved, at(2030, 4, 1, 7, 0), BERLIN, at(2030, 3, 3, 0, 0)).unwrap();
        assert!(!cancelled.contains("RECURRENCE-ID"), "{cancelled}");
        assert!(cancelled.contains("EXDATE;TZID=Europe/Berlin:20300401T090000"));
        assert_eq!(cancelled.matches("\r\nUID:").count(), 1, "{cancelled}");
        assert_eq!(cancelled.matches("\r\nDTSTAMP:").count(), 1, "{cancelled}");
        assert_eq!(starts(&cancelled).len(), 4);
    }

    #[test]
    fn changing_the_series_keeps_what_the_form_does_not_show() {
        let text = create("a@x", &weekly(), at(2030, 3, 1, 0, 0)).unwrap();
        let with_alarm = text.replace(
            "END:VEVENT",
            "CATEGORIES:Intern\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:bald\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT",
        );
        let mut draft = read(&with_alarm, BERLIN).unwrap();
        assert_eq!(draft.summary, "Teamrunde; Raum 1, oben");
        assert_eq!(draft.description, "Tagesordnung:\nBericht");
        assert_eq!(draft.start, local(2030, 3, 18, 9));
        assert_eq!(draft.repeat, weekly().repeat);
        draft.summary = "Teamrunde neu".into();
        draft.start = local(2030, 3, 18, 10);
        draft.end = local(2030, 3, 18, 11);
        let changed = change_series(&with_alarm, &draft, at(2030, 3, 5, 0, 0)).unwrap();
        assert!(changed.contains("CATEGORIES:Intern"), "{changed}");
        assert!(changed.contains("TRIGGER:-PT15M"), "{changed}");
        assert!(changed.contains("SEQUENCE:1"), "{changed}");
        assert_eq!(changed.matches("\r\nUID:").count(), 1, "{changed}");
        assert_eq!(starts(&changed)[0], at(2030, 3, 18, 9, 0));
        // No longer a series: the rule and its exceptions go.
        let moved = move_occurrence(
            &changed,
            at(2030, 3, 25, 9, 0),
            local(2030, 3, 26, 14),
            local(2030, 3, 26, 15),
            BERLIN,
            at(2030, 3, 6, 0, 0),
        )
        .unwrap();
        draft.repeat = None;
        let single = change_series(&moved, &draft, at(2030, 3, 7, 0, 0)).unwrap();
        assert!(
            !single.contains("FREQ=WEEKLY") && !single.contains("RECURRENCE-ID"),
            "{single}"
        );
        assert_eq!(starts(&single), [at(2030, 3, 18, 9, 0)]);
    }

    #[test]
    fn invitations_name_the_organizer_and_keep_answers() {
        let mut draft = weekly();
        draft.organizer = Some(Participant {
            address: "anna@example.org".into(),
            name: "Anna \"A\" Berg".into(),
            kind: UserKind::Individual,
        });
        draft.attendees = vec![
            Participant {
                address: "ben@example.org".into(),
                name: "Ben".into(),
                kind: UserKind::Individual,
            },
            Participant {
                address: "raum-1@example.org".into(),
                name: "Raum 1".into(),
                kind: UserKind::Room,
            },
        ];
        let text = flat(&create("a@x", &draft, at(2030, 3, 1, 0, 0)).unwrap());
        assert!(text.contains("CUTYPE=ROOM"), "{text}");
        let answered = text.replacen(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ben",
            "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben",
            1,
        );
        let back = read(&answered, BERLIN).unwrap();
        assert_eq!(back.attendees, draft.attendees);
        assert_eq!(back.organizer.unwrap().address, "anna@example.org");
        let changed = flat(&change_series(&answered, &draft, at(2030, 3, 2, 0, 0)).unwrap());
        assert!(
            changed.contains("PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben"),
            "{changed}"
        );
    }

    #[test]
    fn bad_drafts_are_refused_with_a_reason() {
        let mut draft = weekly();
        draft.end = draft.start;
        assert!(create("a@x", &draft, at(2030, 1, 1, 0, 0)).is_err());
        let mut draft = weekly();
        draft.summary = " ".into();
        assert!(create("a@x", &draft, at(2030, 1, 1, 0, 0)).is_err());
        let mut draft = weekly();
        // 02:30 on 31 March 2030 does not exist in Berlin.
        draft.start = local(2030, 3, 31, 2) + TimeDelta::minutes(30);
        draft.end = local(2030, 3, 31, 4);
        assert!(create("a@x", &draft, at(2030, 1, 1, 0, 0)).is_err());
        let mut draft = weekly();
        draft.start = local(2030, 3, 18, 9).with_year(262_000).unwrap();
        draft.end = draft.start + TimeDelta::hours(1);
        assert!(create("a@x", &draft, at(2030, 1, 1, 0, 0)).is_err());
        let far = NaiveDate::MAX.and_hms_opt(0, 0, 0).unwrap();
        assert!(
            move_occurrence(
                &create("c@x", &weekly(), at(2030, 1, 1, 0, 0)).unwrap(),
                at(2030, 3, 25, 8, 0),
                far,
                far,
                BERLIN,
                at(2030, 1, 1, 0, 0)
            )
            .is_err()
        );
        assert!(vtimezone(BERLIN, i32::MAX).contains("BEGIN:DAYLIGHT"));
        let mut draft = weekly();
        draft.end = draft.start + TimeDelta::days(40);
        assert!(create("a@x", &draft, at(2030, 1, 1, 0, 0)).is_err());
        assert!(create("a\r\nb", &weekly(), at(2030, 1, 1, 0, 0)).is_err());
        let single = create(
            "b@x",
            &Draft {
                repeat: None,
                ..weekly()
            },
            at(2030, 1, 1, 0, 0),
        )
        .unwrap();
        assert!(
            move_occurrence(
                &single,
                at(2030, 3, 18, 8, 0),
                local(2030, 3, 19, 9),
                local(2030, 3, 19, 10),
                BERLIN,
                at(2030, 1, 1, 0, 0)
            )
            .is_err()
        );
    }

    #[test]
    fn all_day_occurrences_are_named_by_their_own_date() {
        let daily = Draft {
            summary: "Bereitschaft".into(),
            start: local(2030, 6, 29, 0),
            end: local(2030, 6, 29, 0),
            all_day: true,
            repeat: Some(Repeat {
                frequency: Frequency::Daily,
                until: None,
            }),
            ..Draft::new(BERLIN)
        };
        let text = create("d@x", &daily, at(2030, 1, 1, 0, 0)).unwrap();
        // The pages read dates in Berlin: 1 July begins 30 June, 22:00 UTC.
        let first_of_july = at(2030, 6, 30, 22, 0);
        let cancelled =
            cancel_occurrence(&text, first_of_july, BERLIN, at(2030, 1, 2, 0, 0)).unwrap();
        assert!(
            cancelled.contains("EXDATE;VALUE=DATE:20300701"),
            "{cancelled}"
        );
        let moved = move_occurrence(
            &text,
            first_of_july,
            local(2030, 7, 2, 9),
            local(2030, 7, 2, 10),
            BERLIN,
            at(2030, 1, 2, 0, 0),
        )
        .unwrap();
        assert!(
            moved.contains("RECURRENCE-ID;VALUE=DATE:20300701"),
            "{moved}"
        );
        // Moved again: the same exception is found and changed.
        let again = move_occurrence(
            &moved,
            first_of_july,
            local(2030, 7, 3, 9),
            local(2030, 7, 3, 10),
            BERLIN,
            at(2030, 1, 3, 0, 0),
        )
        .unwrap();
        assert_eq!(again.matches("RECURRENCE-ID").count(), 1, "{again}");
    }

    #[test]
    fn rules_and_zones_the_form_does_not_show_are_kept() {
        let text = create("r@x", &weekly(), at(2030, 1, 1, 0, 0))
            .unwrap()
            .replace(
                "RRULE:FREQ=WEEKLY;UNTIL=20300415T215959Z",
                "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE",
            )
            .replace("TZID=Europe/Berlin:", "TZID=America/New_York:");
        let mut draft = read(&text, BERLIN).unwrap();
        assert_eq!(draft.repeat.map(|r| r.frequency), Some(Frequency::Custom));
        assert!(
            create("n@x", &draft, at(2030, 1, 1, 0, 0)).is_err(),
            "nothing to keep in a new event"
        );
        draft.summary = "Umbenannt".into();
        let renamed = flat(&change_series(&text, &draft, at(2030, 1, 2, 0, 0)).unwrap());
        assert!(
            renamed.contains("RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE"),
            "{renamed}"
        );
        assert!(
            renamed.contains("DTSTART;TZID=America/New_York:20300318T090000"),
            "{renamed}"
        );
        assert!(renamed.contains("SUMMARY:Umbenannt"));
        // Choosing a simple rule replaces the custom one.
        draft.repeat = Some(Repeat {
            frequency: Frequency::Daily,
            until: None,
        });
        let daily = change_series(&text, &draft, at(2030, 1, 3, 0, 0)).unwrap();
        assert!(daily.contains("RRULE:FREQ=DAILY\r\n"), "{daily}");
    }

    #[test]
    fn a_new_time_asks_again_and_lets_stale_exceptions_go() {
        let mut draft = weekly();
        draft.organizer = Some(Participant {
            address: "anna@example.org".into(),
            name: "Anna".into(),
            kind: UserKind::Individual,
        });
        draft.attendees = vec![Participant {
            address: "ben@example.org".into(),
            name: "Ben".into(),
            kind: UserKind::Individual,
        }];
        let text = create("t@x", &draft, at(2030, 1, 1, 0, 0)).unwrap();
        let moved = move_occurrence(
            &text,
            at(2030, 4, 1, 7, 0),
            local(2030, 4, 2, 14),
            local(2030, 4, 2, 15),
            BERLIN,
            at(2030, 1, 2, 0, 0),
        )
        .unwrap();
        let answered = flat(&moved).replace(
            "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ben",
            "PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben",
        );
        let cancelled = cancel_occurrence(
            &answered,
            at(2030, 3, 25, 8, 0),
            BERLIN,
            at(2030, 1, 3, 0, 0),
        )
        .unwrap();
        // A new title reaches the exception; the answers stay.
        let mut renamed = read(&cancelled, BERLIN).unwrap();
        renamed.summary = "Neu".into();
        let kept = flat(&change_series(&cancelled, &renamed, at(2030, 1, 4, 0, 0)).unwrap());
        assert_eq!(kept.matches("SUMMARY:Neu").count(), 2, "{kept}");
        // Ben's answers stay: accepted for the series, still open for the
        // moved occurrence (moving it asked him again).
        assert!(
            kept.contains("PARTSTAT=ACCEPTED;RSVP=TRUE:mailto:ben"),
            "{kept}"
        );
        assert!(
            kept.contains("RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:ben"),
            "{kept}"
        );
        assert!(kept.contains("EXDATE") && kept.contains("RECURRENCE-ID"));
        // An hour later: Ben is asked again, the exception and the EXDATE go.
        renamed.start = local(2030, 3, 18, 10);
        renamed.end = local(2030, 3, 18, 11);
        let later = flat(&change_series(&cancelled, &renamed, at(2030, 1, 5, 0, 0)).unwrap());
        assert!(
            later.contains("RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:ben"),
            "{later}"
        );
        assert!(
            !later.contains("EXDATE") && !later.contains("RECURRENCE-ID"),
            "{later}"
        );
        assert!(
            later.contains("ROLE=CHAIR;PARTSTAT=ACCEPTED:mailto:anna"),
            "the organizer's own answer stays: {later}"
        );
    }

    #[test]
    fn all_day_events_end_after_their_last_day() {
        let draft = Draft {
            summary: "Urlaub".into(),
            start: local(2030, 7, 1, 0),
            end: local(2030, 7, 5, 0),
            all_day: true,
            ..Draft::new(BERLIN)
        };
        let text = create("u@x", &draft, at(2030, 1, 1, 0, 0)).unwrap();
        assert!(text.contains("DTEND;VALUE=DATE:20300706"), "{text}");
        let back = read(&text, BERLIN).unwrap();
        assert_eq!(
            (back.start, back.end, back.all_day),
            (draft.start, draft.end, true)
        );
    }
}
