//! Booking: what a resource answers to an invitation, which member of a
//! pool takes a booking, whether an "all of" booking (student, instructor
//! and a car) can be staffed, and the slots a booking page offers.
//!
//! Everything here decides; nothing here stores. The store calls these
//! functions inside the transaction that writes the booking, so a resource
//! is never booked twice whichever client writes. No I/O, no panics, and
//! every loop is bounded by the input or by [`Limits`].
//!
//! Times are half-open intervals in UTC ([`Interval`]). Working hours are
//! local times in the practice's zone, placed on each date with
//! [`Zone::to_utc`], so a 08:00–12:00 morning stays 08:00–12:00 local
//! across a change to or from summer time.
//!
//! ```
//! use chrono::{NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
//! use guss_calendar::booking::{bookable_slots, Availability};
//!
//! let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
//! let mut rules = Availability::new(chrono_tz::Europe::Berlin).open(&[Weekday::Mon], t(8), t(11));
//! rules.slot_length = TimeDelta::minutes(50);
//! rules.buffer_after = TimeDelta::minutes(10);
//! let monday = Utc.with_ymd_and_hms(2030, 4, 1, 0, 0, 0).unwrap()..Utc.with_ymd_and_hms(2030, 4, 2, 0, 0, 0).unwrap();
//! // One session already booked at 09:00 local (07:00 UTC).
//! let booked = [Utc.with_ymd_and_hms(2030, 4, 1, 7, 0, 0).unwrap()..Utc.with_ymd_and_hms(2030, 4, 1, 7, 50, 0).unwrap()];
//! let now = Utc.with_ymd_and_hms(2030, 3, 25, 12, 0, 0).unwrap();
//! let slots = bookable_slots(&rules, &[], &booked, now, &monday);
//! let starts: Vec<String> = slots.slots.iter().map(|s| s.start.format("%H:%M").to_string()).collect();
//! assert_eq!(starts, ["06:00", "08:00"]); // 08:00 and 10:00 in Berlin
//! ```

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::ops::Range;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::timezone::Zone;

/// A half-open span of time, `start..end`, in UTC.
pub type Interval = Range<DateTime<Utc>>;

/// The busy intervals of each bookable (a room, a car, a person) by id,
/// in any order, possibly overlapping.
pub type BusyById = HashMap<String, Vec<Interval>>;

/// Bounds on one computation; on by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// The most slots [`bookable_slots`] returns.
    pub max_slots: usize,
    /// The most local days looked at: the days a slot search covers, or
    /// the days one requested booking spans.
    pub max_days: usize,
    /// The most candidate slot starts looked at in one search.
    pub max_candidates: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_slots: 2_000,
            max_days: 400,
            max_candidates: 100_000,
        }
    }
}

/// Local working hours on one weekday: `start..end`. An `end` of 00:00
/// means midnight at the end of the day, so 00:00–00:00 is the whole day;
/// any other `end` not after `start` gives no hours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingHours {
    /// The weekday.
    pub day: Weekday,
    /// When work starts, local time.
    pub start: NaiveTime,
    /// When work ends, local time (00:00: midnight).
    pub end: NaiveTime,
}

/// The rules a practitioner or a resource books by.
///
/// Durations below zero count as zero. Buffers are time the booking
/// needs around it (preparing, notes, cleaning a car): they must be free
/// of other commitments and other bookings' buffers, but may fall outside
/// the working hours, which only the booking itself must lie within.
///
/// ```
/// use chrono::{NaiveTime, TimeDelta, Weekday};
/// use guss_calendar::booking::Availability;
///
/// let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
/// let mut rules = Availability::new(chrono_tz::Europe::Berlin)
///     .open(&[Weekday::Mon, Weekday::Tue], t(8), t(12))
///     .open(&[Weekday::Tue], t(14), t(18));
/// rules.slot_step = TimeDelta::minutes(15);
/// rules.daily_cap = Some(6);
/// assert_eq!(rules.hours.len(), 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Availability {
    /// The zone the working hours and days are read in (an IANA name).
    #[serde(with = "tz_name")]
    pub zone: Tz,
    /// Weekly working hours; several per day allowed.
    pub hours: Vec<WorkingHours>,
    /// Local dates without any hours (holidays, closing days).
    pub closed: BTreeSet<NaiveDate>,
    /// How long a booking lasts.
    pub slot_length: TimeDelta,
    /// How far apart offered slot starts are, from the start of each
    /// working interval.
    pub slot_step: TimeDelta,
    /// Time needed free before a booking.
    pub buffer_before: TimeDelta,
    /// Time needed free after a booking.
    pub buffer_after: TimeDelta,
    /// No booking starts sooner than this after now.
    pub min_notice: TimeDelta,
    /// No booking starts later than this after now (`None`: no limit).
    pub booking_window: Option<TimeDelta>,
    /// At most this many bookings start on one local day, existing ones
    /// included (`None`: no cap).
    pub daily_cap: Option<u32>,
    /// Bounds on the computations.
    #[serde(default)]
    pub limits: Limits,
}

impl Availability {
    /// Rules in `zone` with no working hours yet: one-hour slots every
    /// hour, no buffers, no notice, no window, no cap.
    ///
    /// ```
    /// use guss_calendar::booking::Availability;
    ///
    /// let rules = Availability::new(chrono_tz::Europe::Vienna);
    /// assert!(rules.hours.is_empty());
    /// assert_eq!(rules.slot_length, chrono::TimeDelta::hours(1));
    /// ```
    pub fn new(zone: Tz) -> Self {
        Availability {
            zone,
            hours: Vec::new(),
            closed: BTreeSet::new(),
            slot_length: TimeDelta::hours(1),
            slot_step: TimeDelta::hours(1),
            buffer_before: TimeDelta::zero(),
            buffer_after: TimeDelta::zero(),
            min_notice: TimeDelta::zero(),
            booking_window: None,
            daily_cap: None,
            limits: Limits::default(),
        }
    }

    /// Rules for something open around the clock every day (a car, a
    /// room without opening hours).
    ///
    /// ```
    /// use guss_calendar::booking::Availability;
    ///
    /// assert_eq!(Availability::always(chrono_tz::UTC).hours.len(), 7);
    /// ```
    pub fn always(zone: Tz) -> Self {
        let midnight = NaiveTime::MIN;
        Availability::new(zone).open(&WEEK, midnight, midnight)
    }

    /// These rules with `start..end` added on each of `days`.
    ///
    /// ```
    /// use chrono::{NaiveTime, Weekday};
    /// use guss_calendar::booking::Availability;
    ///
    /// let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
    /// let rules = Availability::new(chrono_tz::UTC).open(&[Weekday::Sat], nine, NaiveTime::MIN);
    /// assert_eq!(rules.hours[0].day, Weekday::Sat);
    /// ```
    #[must_use]
    pub fn open(mut self, days: &[Weekday], start: NaiveTime, end: NaiveTime) -> Self {
        self.hours
            .extend(days.iter().map(|&day| WorkingHours { day, start, end }));
        self
    }
}

const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// Zones as IANA names in serialized rules.
mod tz_name {
    use chrono_tz::Tz;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(zone: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(zone.name())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Tz, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse::<Tz>()
            .map_err(|_| serde::de::Error::custom(format!("unknown time zone {name:?}")))
    }
}

/// Why a request is declined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The requested interval ends before or when it starts.
    Empty,
    /// It starts sooner than the minimum notice allows.
    TooShortNotice,
    /// It starts later than the booking window allows.
    TooFarAhead,
    /// Its local start date is a closed day.
    Closed,
    /// It does not lie within the working (opening) hours.
    OutsideHours,
    /// It, or its buffers, overlap something already there.
    Busy,
    /// Its local day already has as many bookings as the cap allows.
    DailyCapReached,
    /// It spans more days than [`Limits::max_days`].
    TooLong,
}

/// What a resource answers to an invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The resource takes the booking.
    Accept,
    /// The resource refuses it, and why.
    Decline(Reason),
}

impl Decision {
    /// The participation status the resource replies with.
    ///
    /// ```
    /// use guss_calendar::booking::{Decision, Reason};
    ///
    /// assert_eq!(Decision::Accept.partstat(), "ACCEPTED");
    /// assert_eq!(Decision::Decline(Reason::Busy).partstat(), "DECLINED");
    /// ```
    pub fn partstat(&self) -> &'static str {
        // RFC 5545 §3.2.12 (PARTSTAT), sent in an iTIP REPLY (RFC 5546 §3.2.3).
        match self {
            Decision::Accept => "ACCEPTED",
            Decision::Decline(_) => "DECLINED",
        }
    }
}

/// The slots a search found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    /// Bookable slots, sorted by start, without duplicates.
    pub slots: Vec<Interval>,
    /// Whether a limit cut the search short.
    pub truncated: bool,
}

/// One thing an "all of" booking needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    /// This bookable (a person, a room).
    One(String),
    /// Any one member of this pool ("any car").
    AnyOf(Vec<String>),
}

/// Which requirements of an "all of" booking cannot be met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("requirements {requirements:?} cannot be met at that time")]
pub struct Unavailable {
    /// Their indices in the request, ascending.
    pub requirements: Vec<usize>,
}

/// `busy` sorted by start, overlapping and touching intervals merged,
/// empty ones dropped.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use guss_calendar::booking::normalize;
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 1, 7, h, 0, 0).unwrap();
/// let merged = normalize(&[at(10)..at(12), at(8)..at(9), at(9)..at(10), at(15)..at(14)]);
/// assert_eq!(merged, [at(8)..at(12)]);
/// ```
pub fn normalize(busy: &[Interval]) -> Vec<Interval> {
    let mut sorted: Vec<Interval> = busy.iter().filter(|b| b.start < b.end).cloned().collect();
    sorted.sort_by_key(|b| b.start);
    let mut merged: Vec<Interval> = Vec::with_capacity(sorted.len());
    for b in sorted {
        match merged.last_mut() {
            Some(last) if b.start <= last.end => last.end = last.end.max(b.end),
            _ => merged.push(b),
        }
    }
    merged
}

/// Whether `wanted` is non-empty and overlaps none of `busy` (any order).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use guss_calendar::booking::is_free;
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 1, 7, h, 0, 0).unwrap();
/// let busy = [at(9)..at(10)];
/// assert!(is_free(&busy, &(at(10)..at(11)))); // back to back
/// assert!(!is_free(&busy, &(at(8)..at(10))));
/// ```
pub fn is_free(busy: &[Interval], wanted: &Interval) -> bool {
    wanted.start < wanted.end
        && busy
            .iter()
            .all(|b| b.start >= b.end || b.end <= wanted.start || b.start >= wanted.end)
}

/// What a resource with `rules` answers to a request for `wanted`, given
/// its other commitments (`busy`) and its bookings (`bookings`, whose
/// buffers block too and which count towards the daily cap) at `now`.
///
/// Unlike the slots of a booking page, a request may start at any time
/// and last any length, as long as it lies within the working hours.
///
/// ```
/// use chrono::{TimeDelta, TimeZone, Utc};
/// use guss_calendar::booking::{decide, Availability, Decision, Reason};
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 1, 7, h, 0, 0).unwrap();
/// let room = Availability::always(chrono_tz::Europe::Berlin);
/// let taken = [at(9)..at(11)];
/// let now = at(0);
/// assert_eq!(decide(&room, &[], &taken, &(at(10)..at(12)), now), Decision::Decline(Reason::Busy));
/// assert_eq!(decide(&room, &[], &taken, &(at(11)..at(12)), now), Decision::Accept);
/// ```
pub fn decide(
    rules: &Availability,
    busy: &[Interval],
    bookings: &[Interval],
    wanted: &Interval,
    now: DateTime<Utc>,
) -> Decision {
    let zone = Zone::Named(rules.zone);
    let working = match local_date(&zone, wanted.start) {
        Some(first) => {
            let days = days_between(first, local_date(&zone, wanted.end));
            if days > rules.limits.max_days {
                return Decision::Decline(Reason::TooLong);
            }
            let per_day = working_days(rules, &zone, first, days);
            normalize(&per_day.into_iter().flatten().collect::<Vec<_>>())
        }
        None => Vec::new(),
    };
    let prepared = Prepared::new(rules, &zone, busy, bookings, now);
    match prepared.check(wanted, &working) {
        Ok(()) => Decision::Accept,
        Err(reason) => Decision::Decline(reason),
    }
}

/// Every slot whose start lies in `range` and that satisfies all of
/// `rules` at `now`, given other commitments (`busy`) and existing
/// bookings (`bookings`: their buffers block, and they count towards the
/// daily cap). Slots start at each working interval's start and then every
/// `slot_step`; a slot may run on into working hours that directly follow.
/// Each slot is bookable on its own; booking one may rule out others.
///
/// ```
/// use chrono::{NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
/// use guss_calendar::booking::{bookable_slots, Availability};
///
/// let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
/// let mut rules = Availability::new(chrono_tz::UTC).open(&[Weekday::Mon, Weekday::Tue], t(9), t(11));
/// rules.closed.insert(NaiveDate::from_ymd_opt(2030, 1, 8).unwrap());
/// let at = |d, h| Utc.with_ymd_and_hms(2030, 1, d, h, 0, 0).unwrap();
/// let found = bookable_slots(&rules, &[at(7, 10)..at(7, 11)], &[], at(1, 0), &(at(7, 0)..at(9, 0)));
/// assert_eq!(found.slots, [at(7, 9)..at(7, 10)]);
/// assert!(!found.truncated);
/// ```
pub fn bookable_slots(
    rules: &Availability,
    busy: &[Interval],
    bookings: &[Interval],
    now: DateTime<Utc>,
    range: &Interval,
) -> Slots {
    let mut out = Slots::default();
    let length = rules.slot_length;
    let step = rules.slot_step;
    if length <= TimeDelta::zero() || step <= TimeDelta::zero() {
        return out;
    }
    let zone = Zone::Named(rules.zone);
    let prepared = Prepared::new(rules, &zone, busy, bookings, now);
    let from = range.start.max(prepared.earliest);
    let until = match prepared.latest {
        Some(latest) => range.end.min(plus(latest, TimeDelta::nanoseconds(1))),
        None => range.end,
    };
    if from >= until {
        return out;
    }
    let Some(first) = local_date(&zone, from) else {
        // The range starts where local dates cannot be represented: not searched.
        out.truncated = true;
        return out;
    };
    let limits = &rules.limits;
    // The days slot starts fall on, then the days a slot may run into.
    let wanted_days = days_between(first, local_date(&zone, until));
    let run_on = usize::try_from(length.num_days())
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let start_days = wanted_days.min(limits.max_days.saturating_sub(run_on));
    if start_days < wanted_days {
        out.truncated = true;
    }
    let per_day = working_days(rules, &zone, first, start_days.saturating_add(run_on));
    let working = normalize(&per_day.iter().flatten().cloned().collect::<Vec<_>>());
    let mut candidates = 0usize;
    'days: for mut intervals in per_day.into_iter().take(start_days) {
        intervals.sort_by_key(|i| i.start);
        let mut day_slots = Vec::new();
        for interval in intervals {
            if interval.end <= from {
                continue;
            }
            let mut start = skip_to(interval.start, from, step);
            while start < interval.end && start < until {
                candidates = candidates.saturating_add(1);
                if candidates > limits.max_candidates {
                    out.truncated = true;
                    out.slots.extend(sorted_unique(day_slots));
                    break 'days;
                }
                let slot = start..plus(start, length);
                if prepared.check(&slot, &working).is_ok() {
                    day_slots.push(slot);
                }
                let Some(next) = start.checked_add_signed(step) else {
                    break;
                };
                start = next;
            }
        }
        out.slots.extend(sorted_unique(day_slots));
        // One slot past the limit shows that the limit cut the list.
        if out.slots.len() > limits.max_slots {
            break;
        }
    }
    if out.slots.len() > limits.max_slots {
        out.slots.truncate(limits.max_slots);
        out.truncated = true;
    }
    out
}

/// The deterministic, fair choice of a pool member for `wanted`: among
/// the members free then (present in `busy` and not busy), the one with
/// the least booked time on that local day in `zone`; ties go to the
/// smallest id. A member missing from `busy` is unknown and never chosen.
///
/// ```
/// use std::collections::HashMap;
/// use chrono::{TimeZone, Utc};
/// use guss_calendar::booking::pick_from_pool;
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 1, 7, h, 0, 0).unwrap();
/// let busy = HashMap::from([
///     ("car-a".to_owned(), vec![at(8)..at(9)]),
///     ("car-b".to_owned(), vec![at(10)..at(11)]),
///     ("car-c".to_owned(), vec![]),
/// ]);
/// let pool = ["car-a".to_owned(), "car-b".to_owned(), "car-c".to_owned()];
/// assert_eq!(pick_from_pool(&pool, &busy, &(at(10)..at(11)), chrono_tz::UTC), Some("car-c"));
/// ```
pub fn pick_from_pool<'a>(
    members: &'a [String],
    busy: &BusyById,
    wanted: &Interval,
    zone: Tz,
) -> Option<&'a str> {
    ranked(members, busy, wanted, &Zone::Named(zone))
        .first()
        .copied()
}

/// Chooses a bookable for each requirement so that all are free for
/// `wanted` and no id is chosen twice (two "any car" requirements get two
/// cars). Pools choose fairly as [`pick_from_pool`] does, and an earlier
/// choice gives way when that lets a later requirement be met. Ids
/// missing from `busy` are never chosen.
///
/// Returns `(requirement index, id)` in request order, or which
/// requirements could not be met.
///
/// ```
/// use std::collections::HashMap;
/// use chrono::{TimeZone, Utc};
/// use guss_calendar::booking::{book_all, Requirement, Unavailable};
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 1, 7, h, 0, 0).unwrap();
/// let busy = HashMap::from([
///     ("student".to_owned(), vec![]),
///     ("instructor".to_owned(), vec![]),
///     ("car-1".to_owned(), vec![at(9)..at(10)]),
///     ("car-2".to_owned(), vec![]),
/// ]);
/// let cars = Requirement::AnyOf(vec!["car-1".to_owned(), "car-2".to_owned()]);
/// let lesson = [Requirement::One("student".into()), Requirement::One("instructor".into()), cars.clone()];
/// let chosen = book_all(&lesson, &busy, &(at(9)..at(10)), chrono_tz::UTC).unwrap();
/// assert_eq!(chosen[2], (2, "car-2".to_owned()));
/// // Two cars at 09:00 when only one is free: the second cannot be met.
/// let two = book_all(&[cars.clone(), cars], &busy, &(at(9)..at(10)), chrono_tz::UTC);
/// assert_eq!(two, Err(Unavailable { requirements: vec![1] }));
/// ```
pub fn book_all(
    requirements: &[Requirement],
    busy: &BusyById,
    wanted: &Interval,
    zone: Tz,
) -> Result<Vec<(usize, String)>, Unavailable> {
    let zone = Zone::Named(zone);
    let options: Vec<Vec<&str>> = requirements
        .iter()
        .map(|requirement| match requirement {
            Requirement::One(id) => ranked(std::slice::from_ref(id), busy, wanted, &zone),
            Requirement::AnyOf(members) => ranked(members, busy, wanted, &zone),
        })
        .collect();
    let mut assigned: Vec<Option<&str>> = vec![None; requirements.len()];
    let mut owner: HashMap<&str, usize> = HashMap::new();
    let mut failed = Vec::new();
    for index in 0..requirements.len() {
        if !augment(index, &options, &mut assigned, &mut owner) {
            failed.push(index);
        }
    }
    if !failed.is_empty() {
        return Err(Unavailable {
            requirements: failed,
        });
    }
    Ok(assigned
        .into_iter()
        .enumerate()
        .filter_map(|(index, id)| Some((index, id?.to_owned())))
        .collect())
}

/// The `slots` (from [`bookable_slots`] of whoever leads the booking, say
/// the instructor) at which all `requirements` can be met too (the
/// student, a car from the pool), in the same order.
///
/// ```
/// use std::collections::HashMap;
/// use chrono::{TimeZone, Utc};
/// use guss_calendar::booking::{common_slots, Requirement};
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 1, 7, h, 0, 0).unwrap();
/// let busy = HashMap::from([("car-1".to_owned(), vec![at(9)..at(10)])]);
/// let slots = [at(8)..at(9), at(9)..at(10)];
/// let car = [Requirement::AnyOf(vec!["car-1".to_owned()])];
/// assert_eq!(common_slots(&slots, &car, &busy, chrono_tz::UTC), [at(8)..at(9)]);
/// ```
pub fn common_slots(
    slots: &[Interval],
    requirements: &[Requirement],
    busy: &BusyById,
    zone: Tz,
) -> Vec<Interval> {
    slots
        .iter()
        .filter(|slot| book_all(requirements, busy, slot, zone).is_ok())
        .cloned()
        .collect()
}

/// One requirement's augmenting search (breadth first): take a free
/// option, or move the holders of options to other options of theirs.
/// Every requirement is queued once and every id reached once.
fn augment<'a>(
    start: usize,
    options: &[Vec<&'a str>],
    assigned: &mut [Option<&'a str>],
    owner: &mut HashMap<&'a str, usize>,
) -> bool {
    let mut queue = VecDeque::from([start]);
    let mut queued = HashSet::from([start]);
    let mut reached_from: HashMap<&'a str, usize> = HashMap::new();
    while let Some(requirement) = queue.pop_front() {
        for &id in options.get(requirement).into_iter().flatten() {
            if reached_from.contains_key(id) {
                continue;
            }
            reached_from.insert(id, requirement);
            match owner.get(id) {
                Some(&holder) => {
                    if queued.insert(holder) {
                        queue.push_back(holder);
                    }
                }
                None => {
                    // Hand each id on the path to the requirement that reached it.
                    let mut id = id;
                    for _ in 0..=assigned.len() {
                        let Some(&taker) = reached_from.get(id) else {
                            break;
                        };
                        let Some(slot) = assigned.get_mut(taker) else {
                            break;
                        };
                        let given_up = slot.replace(id);
                        owner.insert(id, taker);
                        match given_up {
                            Some(previous) if taker != start => id = previous,
                            _ => break,
                        }
                    }
                    return true;
                }
            }
        }
    }
    false
}

/// The free members among `members` (each once), least booked on the
/// local day of `wanted` first, then by id.
fn ranked<'a>(
    members: &'a [String],
    busy: &BusyById,
    wanted: &Interval,
    zone: &Zone,
) -> Vec<&'a str> {
    let day = local_date(zone, wanted.start).and_then(|date| local_day(zone, date));
    let mut free: Vec<(TimeDelta, &str)> = members
        .iter()
        .filter_map(|id| {
            let intervals = busy.get(id)?;
            if !is_free(intervals, wanted) {
                return None;
            }
            let load = day
                .as_ref()
                .map_or(TimeDelta::zero(), |day| booked_within(intervals, day));
            Some((load, id.as_str()))
        })
        .collect();
    free.sort_unstable();
    free.dedup_by(|a, b| a.1 == b.1);
    free.into_iter().map(|(_, id)| id).collect()
}

/// How much of `window` the (merged) `busy` intervals cover.
fn booked_within(busy: &[Interval], window: &Interval) -> TimeDelta {
    normalize(busy)
        .iter()
        .filter(|b| b.start < window.end && b.end > window.start)
        .map(|b| b.end.min(window.end) - b.start.max(window.start))
        .fold(TimeDelta::zero(), |sum, part| {
            sum.checked_add(&part).unwrap_or(TimeDelta::MAX)
        })
}

/// What every check of one set of rules shares: the time that blocks a
/// padded slot, bookings per local day, and the notice and window bounds.
struct Prepared<'a> {
    rules: &'a Availability,
    zone: &'a Zone,
    before: TimeDelta,
    after: TimeDelta,
    /// Busy intervals and bookings with their buffers, merged.
    blocked: Vec<Interval>,
    /// Bookings starting on each local date.
    per_day: HashMap<NaiveDate, u32>,
    earliest: DateTime<Utc>,
    latest: Option<DateTime<Utc>>,
}

impl<'a> Prepared<'a> {
    fn new(
        rules: &'a Availability,
        zone: &'a Zone,
        busy: &[Interval],
        bookings: &[Interval],
        now: DateTime<Utc>,
    ) -> Self {
        let before = non_negative(rules.buffer_before);
        let after = non_negative(rules.buffer_after);
        let mut blocked: Vec<Interval> = busy.to_vec();
        blocked.extend(
            bookings
                .iter()
                .filter(|b| b.start < b.end)
                .map(|b| pad(b, before, after)),
        );
        let mut per_day = HashMap::new();
        if rules.daily_cap.is_some() {
            for booking in bookings.iter().filter(|b| b.start < b.end) {
                if let Some(date) = local_date(zone, booking.start) {
                    let count: &mut u32 = per_day.entry(date).or_default();
                    *count = count.saturating_add(1);
                }
            }
        }
        Prepared {
            rules,
            zone,
            before,
            after,
            blocked: normalize(&blocked),
            per_day,
            earliest: plus(now, non_negative(rules.min_notice)),
            latest: rules
                .booking_window
                .map(|window| plus(now, non_negative(window))),
        }
    }

    /// Whether `slot` may be booked, given the merged `working` hours
    /// around it.
    fn check(&self, slot: &Interval, working: &[Interval]) -> Result<(), Reason> {
        if slot.start >= slot.end {
            return Err(Reason::Empty);
        }
        if slot.start < self.earliest {
            return Err(Reason::TooShortNotice);
        }
        if self.latest.is_some_and(|latest| slot.start > latest) {
            return Err(Reason::TooFarAhead);
        }
        let date = local_date(self.zone, slot.start);
        if date.is_some_and(|date| self.rules.closed.contains(&date)) {
            return Err(Reason::Closed);
        }
        if !covered(working, slot) {
            return Err(Reason::OutsideHours);
        }
        if overlaps_any(&self.blocked, &pad(slot, self.before, self.after)) {
            return Err(Reason::Busy);
        }
        if let (Some(cap), Some(date)) = (self.rules.daily_cap, date)
            && self.per_day.get(&date).copied().unwrap_or(0) >= cap
        {
            return Err(Reason::DailyCapReached);
        }
        Ok(())
    }
}

/// How many local dates `first..=last` holds (at least one); unbounded
/// when `last` cannot be represented.
fn days_between(first: NaiveDate, last: Option<NaiveDate>) -> usize {
    last.map_or(usize::MAX, |last| {
        usize::try_from((last - first).num_days().max(0))
            .unwrap_or(usize::MAX)
            .saturating_add(1)
    })
}

/// The working intervals of `count` local dates from `first`, one list
/// per date (closed dates and dates at chrono's ends have none).
fn working_days(
    rules: &Availability,
    zone: &Zone,
    first: NaiveDate,
    count: usize,
) -> Vec<Vec<Interval>> {
    let mut days = Vec::new();
    let mut date = Some(first);
    for _ in 0..count {
        let Some(today) = date else {
            break;
        };
        days.push(working_hours_on(rules, zone, today));
        date = today.succ_opt();
    }
    days
}

fn working_hours_on(rules: &Availability, zone: &Zone, date: NaiveDate) -> Vec<Interval> {
    if rules.closed.contains(&date) {
        return Vec::new();
    }
    rules
        .hours
        .iter()
        .filter(|hours| hours.day == date.weekday())
        .filter_map(|hours| {
            let start = at_local(zone, date, hours.start)?;
            let end = if hours.end == NaiveTime::MIN {
                at_local(zone, date.succ_opt()?, NaiveTime::MIN)?
            } else if hours.end > hours.start {
                at_local(zone, date, hours.end)?
            } else {
                return None;
            };
            (start < end).then_some(start..end)
        })
        .collect()
}

/// The whole local day `date` in UTC.
fn local_day(zone: &Zone, date: NaiveDate) -> Option<Interval> {
    Some(at_local(zone, date, NaiveTime::MIN)?..at_local(zone, date.succ_opt()?, NaiveTime::MIN)?)
}

/// A local time on `date` in UTC (RFC 5545 §3.3.5 for gaps and overlaps,
/// as [`Zone::to_utc`] reads them); `None` near the ends of chrono's range,
/// where the conversion could overflow.
fn at_local(zone: &Zone, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let safe = date.year() > NaiveDate::MIN.year() && date.year() < NaiveDate::MAX.year();
    safe.then(|| zone.to_utc(date.and_time(time)))
}

/// The local date at `at`, if it can be represented.
fn local_date(zone: &Zone, at: DateTime<Utc>) -> Option<NaiveDate> {
    at.naive_utc()
        .checked_add_offset(zone.offset_at(at))
        .map(|local| local.date())
}

/// The first of `start`, `start + step`, … that is not before `from`.
fn skip_to(start: DateTime<Utc>, from: DateTime<Utc>, step: TimeDelta) -> DateTime<Utc> {
    if start >= from {
        return start;
    }
    let (Some(gap), Some(step_ns)) = ((from - start).num_nanoseconds(), step.num_nanoseconds())
    else {
        return start;
    };
    if step_ns <= 0 {
        return start;
    }
    let steps = gap
        .div_euclid(step_ns)
        .saturating_add(i64::from(gap.rem_euclid(step_ns) != 0));
    steps
        .checked_mul(step_ns)
        .and_then(|ns| start.checked_add_signed(TimeDelta::nanoseconds(ns)))
        .unwrap_or(start)
}

fn sorted_unique(mut slots: Vec<Interval>) -> Vec<Interval> {
    slots.sort_by_key(|s| (s.start, s.end));
    slots.dedup();
    slots
}

/// Whether `x` overlaps any of the sorted, disjoint `merged`.
fn overlaps_any(merged: &[Interval], x: &Interval) -> bool {
    let index = merged.partition_point(|b| b.end <= x.start);
    merged.get(index).is_some_and(|b| b.start < x.end)
}

/// Whether one of the sorted, disjoint `merged` contains all of `x`.
fn covered(merged: &[Interval], x: &Interval) -> bool {
    let index = merged.partition_point(|b| b.end <= x.start);
    merged
        .get(index)
        .is_some_and(|b| b.start <= x.start && x.end <= b.end)
}

fn pad(x: &Interval, before: TimeDelta, after: TimeDelta) -> Interval {
    plus(x.start, -before)..plus(x.end, after)
}

fn non_negative(delta: TimeDelta) -> TimeDelta {
    delta.max(TimeDelta::zero())
}

/// `at + delta`, saturating at chrono's ends.
fn plus(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(delta)
        .unwrap_or(if delta < TimeDelta::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, d, h, m, 0).unwrap()
    }

    #[test]
    fn overlap_and_cover_on_merged_lists() {
        let merged = normalize(&[at(7, 12, 0)..at(7, 13, 0), at(7, 8, 0)..at(7, 10, 0)]);
        assert_eq!(
            merged,
            [at(7, 8, 0)..at(7, 10, 0), at(7, 12, 0)..at(7, 13, 0)]
        );
        assert!(!overlaps_any(&merged, &(at(7, 10, 0)..at(7, 12, 0))));
        assert!(overlaps_any(&merged, &(at(7, 11, 0)..at(7, 12, 1))));
        assert!(overlaps_any(&merged, &(at(7, 7, 0)..at(7, 20, 0))));
        assert!(covered(&merged, &(at(7, 8, 30)..at(7, 10, 0))));
        assert!(!covered(&merged, &(at(7, 9, 30)..at(7, 12, 30))));
        assert!(!covered(&[], &(at(7, 9, 30)..at(7, 9, 40))));
    }

    #[test]
    fn skip_to_lands_on_the_step_grid() {
        let step = TimeDelta::minutes(15);
        assert_eq!(skip_to(at(7, 8, 0), at(7, 8, 20), step), at(7, 8, 30));
        assert_eq!(skip_to(at(7, 8, 0), at(7, 8, 30), step), at(7, 8, 30));
        assert_eq!(skip_to(at(7, 9, 0), at(7, 8, 0), step), at(7, 9, 0));
    }

    #[test]
    fn arithmetic_saturates_at_the_ends() {
        let max = DateTime::<Utc>::MAX_UTC;
        assert_eq!(plus(max, TimeDelta::days(1)), max);
        assert_eq!(
            plus(DateTime::<Utc>::MIN_UTC, TimeDelta::days(-1)),
            DateTime::<Utc>::MIN_UTC
        );
        let padded = pad(
            &(at(7, 9, 0)..at(7, 10, 0)),
            TimeDelta::minutes(5),
            TimeDelta::MAX,
        );
        assert_eq!(padded, at(7, 8, 55)..max);
    }

    #[test]
    fn extreme_requests_do_not_panic() {
        let rules = Availability::always(chrono_tz::Pacific::Kiritimati);
        let everything = DateTime::<Utc>::MIN_UTC..DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            decide(&rules, &[], &[], &everything, at(1, 0, 0)),
            Decision::Decline(Reason::TooShortNotice)
        );
        let forever = at(2, 0, 0)..DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            decide(&rules, &[], &[], &forever, at(1, 0, 0)),
            Decision::Decline(Reason::TooLong)
        );
        let late = DateTime::<Utc>::MAX_UTC - TimeDelta::hours(1)..DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            decide(&rules, &[], &[], &late, at(1, 0, 0)),
            Decision::Decline(Reason::OutsideHours)
        );
        // Near chrono's ends there are no hours, and the search says it stopped.
        let found = bookable_slots(&rules, &[], &[], DateTime::<Utc>::MIN_UTC, &everything);
        assert!(found.truncated);
        assert!(found.slots.is_empty());
        // From 2030 on, the slot limit ends it.
        let from_2030 = at(1, 0, 0)..DateTime::<Utc>::MAX_UTC;
        let found = bookable_slots(&rules, &[], &[], at(1, 0, 0), &from_2030);
        assert!(found.truncated);
        assert_eq!(found.slots.len(), rules.limits.max_slots);
        assert_eq!(found.slots.first(), Some(&(at(1, 0, 0)..at(1, 1, 0))));
    }

    #[test]
    fn a_whole_day_resource_takes_an_overnight_booking() {
        let car = Availability::always(chrono_tz::Europe::Berlin);
        let overnight = at(7, 20, 0)..at(9, 6, 0);
        assert_eq!(
            decide(&car, &[], &[], &overnight, at(1, 0, 0)),
            Decision::Accept
        );
        let mut short = car.clone();
        short.limits.max_days = 2;
        assert_eq!(
            decide(&short, &[], &[], &overnight, at(1, 0, 0)),
            Decision::Decline(Reason::TooLong)
        );
    }

    #[test]
    fn augmenting_moves_an_earlier_choice() {
        // The first requirement prefers car-a (less booked); the second can
        // only use car-a, so the first gives way to car-b.
        let busy = HashMap::from([
            ("car-a".to_owned(), vec![]),
            ("car-b".to_owned(), vec![at(7, 6, 0)..at(7, 7, 0)]),
        ]);
        let requirements = [
            Requirement::AnyOf(vec!["car-b".to_owned(), "car-a".to_owned()]),
            Requirement::One("car-a".to_owned()),
        ];
        let chosen = book_all(
            &requirements,
            &busy,
            &(at(7, 9, 0)..at(7, 10, 0)),
            chrono_tz::UTC,
        );
        assert_eq!(
            chosen,
            Ok(vec![(0, "car-b".to_owned()), (1, "car-a".to_owned())])
        );
    }

    #[test]
    fn zones_are_read_by_iana_name() {
        use serde::de::IntoDeserializer;
        let read = |name: &str| {
            tz_name::deserialize::<serde::de::value::StrDeserializer<'_, serde::de::value::Error>>(
                name.into_deserializer(),
            )
        };
        assert_eq!(read("Europe/Berlin").unwrap(), chrono_tz::Europe::Berlin);
        let unknown = read("Mars/Olympus_Mons").unwrap_err().to_string();
        assert_eq!(unknown, "unknown time zone \"Mars/Olympus_Mons\"");
    }
}
