//! Time zones as calendars name them: IANA names, Windows names ("W.
//! Europe Standard Time"), names with vendor prefixes, and — when none of
//! those is recognised — the rules of the file's own VTIMEZONE. Local times
//! become UTC by RFC 5545 §3.3.5: a time that does not exist (skipped by a
//! change to summer time) is read with the offset in force before the
//! change; a time that exists twice (the hour repeated in autumn) is its
//! first occurrence.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use calcard::common::timezone::Tz as NamedTz;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarProperty, ICalendarValue,
};
use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};

/// How far before a local time to look for the offset in force before a
/// gap: longer than any real transition.
const BEFORE_GAP: TimeDelta = TimeDelta::hours(3);
/// Onsets of one custom observance kept at most (a rule a year for four centuries).
const MAX_ONSETS: usize = 400;

/// The zone of a date-time value.
#[derive(Clone, Debug, PartialEq)]
pub enum Zone {
    /// UTC (`Z`).
    Utc,
    /// A fixed offset.
    Fixed(FixedOffset),
    /// A zone of the IANA database (also reached through Windows names).
    Named(chrono_tz::Tz),
    /// A zone known only by its VTIMEZONE rules.
    Custom(Arc<CustomZone>),
}

/// A zone from VTIMEZONE observances: the onsets of its offsets, in UTC.
#[derive(Debug, PartialEq)]
pub struct CustomZone {
    /// The TZID.
    pub id: String,
    /// (onset, offset from then on), sorted.
    onsets: Vec<(DateTime<Utc>, FixedOffset)>,
    /// The offset before the first onset.
    initial: FixedOffset,
}

impl CustomZone {
    fn offset_at(&self, utc: DateTime<Utc>) -> FixedOffset {
        let index = self.onsets.partition_point(|(onset, _)| *onset <= utc);
        index
            .checked_sub(1)
            .and_then(|i| self.onsets.get(i))
            .map_or(self.initial, |(_, offset)| *offset)
    }

    fn offsets(&self) -> impl Iterator<Item = FixedOffset> + '_ {
        std::iter::once(self.initial).chain(self.onsets.iter().map(|(_, o)| *o))
    }
}

impl Zone {
    /// The offset from UTC at the instant `utc`.
    pub fn offset_at(&self, utc: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Utc => FixedOffset::east_opt(0).unwrap_or(Utc.fix()),
            Zone::Fixed(offset) => *offset,
            Zone::Named(tz) => tz.offset_from_utc_datetime(&utc.naive_utc()).fix(),
            Zone::Custom(zone) => zone.offset_at(utc),
        }
    }

    /// The local time at the instant `utc`.
    pub fn to_local(&self, utc: DateTime<Utc>) -> NaiveDateTime {
        let seconds = i64::from(self.offset_at(utc).local_minus_utc());
        // At the very ends of the calendar the local time is the UTC time.
        utc.naive_utc()
            .checked_add_signed(chrono::TimeDelta::seconds(seconds))
            .unwrap_or_else(|| utc.naive_utc())
    }

    /// The instant a local time names (RFC 5545 §3.3.5 for gaps and overlaps).
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use guss_calendar::timezone::Zone;
    ///
    /// let berlin = Zone::Named(chrono_tz::Europe::Berlin);
    /// let at = |d, h, m| NaiveDate::from_ymd_opt(2030, 3, d).unwrap().and_hms_opt(h, m, 0).unwrap();
    /// // 02:30 on 31 March 2030 does not exist in Berlin: read with +01:00.
    /// assert_eq!(berlin.to_utc(at(31, 2, 30)).to_rfc3339(), "2030-03-31T01:30:00+00:00");
    /// assert_eq!(berlin.to_utc(at(30, 2, 30)).to_rfc3339(), "2030-03-30T01:30:00+00:00");
    /// ```
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Utc => local.and_utc(),
            Zone::Fixed(offset) => (local - *offset).and_utc(),
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(at) => at.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(first, second) => {
                    first.with_timezone(&Utc).min(second.with_timezone(&Utc))
                }
                chrono::LocalResult::None => {
                    // The offset of the local time BEFORE_GAP earlier (read
                    // as local time, not as UTC: east of UTC that would
                    // already lie after the change).
                    let probe = local - BEFORE_GAP;
                    let before = tz.from_local_datetime(&probe).earliest().map_or_else(
                        || tz.offset_from_utc_datetime(&probe).fix(),
                        |at| at.offset().fix(),
                    );
                    (local - before).and_utc()
                }
            },
            Zone::Custom(zone) => {
                // Every offset the zone uses that maps back to this local
                // time; the earliest instant is the first occurrence.
                let first = |local: NaiveDateTime| {
                    zone.offsets()
                        .map(|offset| ((local - offset).and_utc(), offset))
                        .filter(|(utc, offset)| zone.offset_at(*utc) == *offset)
                        .map(|(utc, _)| utc)
                        .min()
                };
                first(local).unwrap_or_else(|| {
                    // The offset of the local time BEFORE_GAP earlier, read
                    // as local time like the named zones above.
                    let probe = local - BEFORE_GAP;
                    let before = first(probe).map_or_else(
                        || zone.offset_at(probe.and_utc()),
                        |utc| zone.offset_at(utc),
                    );
                    (local - before).and_utc()
                })
            }
        }
    }

    /// The IANA name, when there is one.
    pub fn iana_name(&self) -> Option<&'static str> {
        match self {
            Zone::Named(tz) => Some(tz.name()),
            Zone::Utc => Some("UTC"),
            _ => None,
        }
    }
}

/// The zones a calendar's TZIDs name.
#[derive(Clone, Debug, Default)]
pub struct Zones {
    by_id: HashMap<String, Zone>,
}

/// A recognised name (IANA, Windows, prefixed), as calcard maps them.
fn named(tzid: &str) -> Option<Zone> {
    match NamedTz::from_str(tzid).ok()? {
        NamedTz::Tz(tz) if tz == chrono_tz::UTC => Some(Zone::Utc),
        NamedTz::Tz(tz) => Some(Zone::Named(tz)),
        NamedTz::Fixed(offset) => Some(Zone::Fixed(offset)),
        NamedTz::Floating => None,
    }
}

fn offset_value(component: &ICalendarComponent, name: &ICalendarProperty) -> Option<FixedOffset> {
    let entry = component.entries.iter().find(|e| &e.name == name)?;
    let ICalendarValue::PartialDateTime(value) = entry.values.first()? else {
        return None;
    };
    let seconds = i32::from(value.tz_hour?) * 3600 + i32::from(value.tz_minute.unwrap_or(0)) * 60;
    FixedOffset::east_opt(if value.tz_minus { -seconds } else { seconds })
}

fn local_value(component: &ICalendarComponent, name: &ICalendarProperty) -> Vec<NaiveDateTime> {
    component
        .entries
        .iter()
        .filter(|e| &e.name == name)
        .flat_map(|e| e.values.iter())
        .filter_map(|v| match v {
            ICalendarValue::PartialDateTime(dt) => dt.to_date_time().map(|d| d.date_time),
            _ => None,
        })
        .collect()
}

/// The onsets of one STANDARD or DAYLIGHT observance, as (UTC onset, offset to, offset from).
fn observance_onsets(
    observance: &ICalendarComponent,
) -> Vec<(DateTime<Utc>, FixedOffset, FixedOffset)> {
    let (Some(from), Some(to)) = (
        offset_value(observance, &ICalendarProperty::Tzoffsetfrom),
        offset_value(observance, &ICalendarProperty::Tzoffsetto),
    ) else {
        return Vec::new();
    };
    let Some(start) = local_value(observance, &ICalendarProperty::Dtstart)
        .first()
        .copied()
    else {
        return Vec::new();
    };
    let mut locals = vec![start];
    locals.extend(local_value(observance, &ICalendarProperty::Rdate));
    let rules = observance
        .entries
        .iter()
        .filter(|e| e.name == ICalendarProperty::Rrule)
        .filter_map(|e| match e.values.first() {
            Some(ICalendarValue::RecurrenceRule(rule)) => Some(rule),
            _ => None,
        });
    for rule in rules {
        let horizon = start + TimeDelta::days(366 * 400);
        locals.extend(
            crate::recurrence::floating_occurrences(rule, start, Some(from), MAX_ONSETS)
                .into_iter()
                .take_while(|at| *at <= horizon),
        );
    }
    locals.sort_unstable();
    locals.dedup();
    locals
        .into_iter()
        .map(|local| ((local - from).and_utc(), to, from))
        .collect()
}

fn custom_zone(id: &str, calendar: &ICalendar, zone: &ICalendarComponent) -> Option<Zone> {
    let mut onsets: Vec<(DateTime<Utc>, FixedOffset, FixedOffset)> = zone
        .component_ids
        .iter()
        .filter_map(|i| calendar.components.get(usize::try_from(*i).ok()?))
        .filter(|c| {
            matches!(
                c.component_type,
                ICalendarComponentType::Standard | ICalendarComponentType::Daylight
            )
        })
        .flat_map(observance_onsets)
        .collect();
    onsets.sort_by_key(|(at, _, _)| *at);
    let initial = onsets.first().map(|(_, _, from)| *from)?;
    Some(Zone::Custom(Arc::new(CustomZone {
        id: id.to_owned(),
        onsets: onsets.into_iter().map(|(at, to, _)| (at, to)).collect(),
        initial,
    })))
}

impl Zones {
    /// The zones of `calendar`: each VTIMEZONE by its TZID (a recognised
    /// name or vendor hint first, its own rules otherwise).
    pub fn of(calendar: &ICalendar) -> Zones {
        let mut by_id = HashMap::new();
        for zone in calendar
            .components
            .iter()
            .filter(|c| c.component_type == ICalendarComponentType::VTimezone)
        {
            let id = zone
                .entries
                .iter()
                .find(|e| e.name == ICalendarProperty::Tzid)
                .and_then(|e| match e.values.first() {
                    Some(ICalendarValue::Text(t)) => Some(t.clone()),
                    _ => None,
                });
            let Some(id) = id else {
                continue;
            };
            let resolved = zone
                .timezone()
                .and_then(|(_, tz)| match tz {
                    NamedTz::Tz(tz) => Some(Zone::Named(tz)),
                    NamedTz::Fixed(offset) => Some(Zone::Fixed(offset)),
                    NamedTz::Floating => None,
                })
                .or_else(|| custom_zone(&id, calendar, zone));
            if let Some(resolved) = resolved {
                by_id.insert(id, resolved);
            }
        }
        Zones { by_id }
    }

    /// The zone a TZID names: the calendar's own VTIMEZONE, else a known name.
    ///
    /// ```
    /// use guss_calendar::timezone::{Zone, Zones};
    ///
    /// let zones = Zones::default();
    /// assert_eq!(zones.resolve("W. Europe Standard Time"), Some(Zone::Named(chrono_tz::Europe::Berlin)));
    /// assert_eq!(zones.resolve("Europe/Vienna"), Some(Zone::Named(chrono_tz::Europe::Vienna)));
    /// assert_eq!(zones.resolve("Mars/Olympus_Mons"), None);
    /// ```
    pub fn resolve(&self, tzid: &str) -> Option<Zone> {
        self.by_id.get(tzid).cloned().or_else(|| named(tzid))
    }
}
