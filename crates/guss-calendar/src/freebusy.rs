//! Free/busy: when someone is busy, without what they do (RFC 5545
//! §3.6.4 VFREEBUSY, RFC 4791 §7.10). Transparent and cancelled instances
//! do not block time; tentative ones are reported as such; overlapping
//! periods are merged, so nothing but time leaks.

use std::ops::Range;

use calcard::icalendar::{ICalendar, ICalendarStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::recurrence::{Expansion, Kind};

/// How busy a period is (FBTYPE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BusyKind {
    /// FBTYPE=BUSY.
    Busy,
    /// FBTYPE=BUSY-TENTATIVE.
    Tentative,
}

/// One busy period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    /// From.
    pub start: DateTime<Utc>,
    /// Until.
    pub end: DateTime<Utc>,
    /// Busy or tentative.
    pub kind: BusyKind,
}

/// The busy periods of the events in `expansion` (of `calendar`), clipped
/// to `window`, merged and sorted.
pub fn busy_periods(
    calendar: &ICalendar,
    expansion: &Expansion,
    window: &Range<DateTime<Utc>>,
) -> Vec<Period> {
    let mut periods: Vec<Period> = expansion
        .instances
        .iter()
        .filter(|i| i.kind == Kind::Event && !i.transparent && !i.cancelled && i.end > i.start)
        .map(|i| {
            let tentative = calendar
                .components
                .get(i.component)
                .and_then(|c| c.status())
                .is_some_and(|s| *s == ICalendarStatus::Tentative);
            Period {
                start: i.start.max(window.start),
                end: i.end.min(window.end),
                kind: if tentative {
                    BusyKind::Tentative
                } else {
                    BusyKind::Busy
                },
            }
        })
        .filter(|p| p.end > p.start)
        .collect();
    merge(&mut periods);
    periods
}

/// Merges overlapping periods of the same kind; where busy and tentative
/// overlap, busy wins.
pub fn merge(periods: &mut Vec<Period>) {
    let mut busy: Vec<Period> = periods
        .iter()
        .filter(|p| p.kind == BusyKind::Busy)
        .cloned()
        .collect();
    let mut tentative: Vec<Period> = periods
        .iter()
        .filter(|p| p.kind == BusyKind::Tentative)
        .cloned()
        .collect();
    join(&mut busy);
    join(&mut tentative);
    // Cut tentative time that busy time covers.
    let mut cut = Vec::new();
    for t in tentative {
        let mut pieces = vec![t];
        for b in &busy {
            pieces = pieces
                .into_iter()
                .flat_map(|p| {
                    if b.end <= p.start || b.start >= p.end {
                        return vec![p];
                    }
                    let mut rest = Vec::new();
                    if b.start > p.start {
                        rest.push(Period {
                            start: p.start,
                            end: b.start,
                            kind: p.kind,
                        });
                    }
                    if b.end < p.end {
                        rest.push(Period {
                            start: b.end,
                            end: p.end,
                            kind: p.kind,
                        });
                    }
                    rest
                })
                .collect();
        }
        cut.extend(pieces);
    }
    busy.extend(cut);
    busy.sort_by_key(|p| (p.start, p.kind));
    *periods = busy;
}

fn join(periods: &mut Vec<Period>) {
    periods.sort_by_key(|p| p.start);
    let mut out: Vec<Period> = Vec::with_capacity(periods.len());
    for p in periods.drain(..) {
        match out.last_mut() {
            Some(last) if p.start <= last.end => last.end = last.end.max(p.end),
            _ => out.push(p),
        }
    }
    *periods = out;
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A VCALENDAR with one VFREEBUSY for `window` listing `periods` (no
/// titles, no locations): the answer to a free-busy query.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use guss_calendar::freebusy::{BusyKind, Period, vfreebusy};
///
/// let at = |h| Utc.with_ymd_and_hms(2030, 5, 6, h, 0, 0).unwrap();
/// let text = vfreebusy(&(at(0)..at(23)), &[Period { start: at(9), end: at(10), kind: BusyKind::Busy }], at(0), None);
/// assert!(text.contains("FREEBUSY;FBTYPE=BUSY:20300506T090000Z/20300506T100000Z\r\n"));
/// guss_calendar::ical::parse(&text, &Default::default())?;
/// # Ok::<(), guss_calendar::Error>(())
/// ```
pub fn vfreebusy(
    window: &Range<DateTime<Utc>>,
    periods: &[Period],
    dtstamp: DateTime<Utc>,
    attendee: Option<&str>,
) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//guss//guss-calendar//EN\r\nBEGIN:VFREEBUSY\r\n",
    );
    // RFC 5545 §3.6.4: a VFREEBUSY has a UID; this one names its window and time.
    out.push_str(&format!(
        "UID:freebusy-{}-{}-{}@guss.invalid\r\n",
        stamp(window.start),
        stamp(window.end),
        stamp(dtstamp)
    ));
    out.push_str(&format!("DTSTAMP:{}\r\n", stamp(dtstamp)));
    out.push_str(&format!(
        "DTSTART:{}\r\nDTEND:{}\r\n",
        stamp(window.start),
        stamp(window.end)
    ));
    if let Some(attendee) = attendee {
        out.push_str(&format!(
            "ATTENDEE:{}\r\n",
            attendee.replace(['\r', '\n'], "")
        ));
    }
    for p in periods {
        let kind = match p.kind {
            BusyKind::Busy => "BUSY",
            BusyKind::Tentative => "BUSY-TENTATIVE",
        };
        out.push_str(&format!(
            "FREEBUSY;FBTYPE={kind}:{}/{}\r\n",
            stamp(p.start),
            stamp(p.end)
        ));
    }
    out.push_str("END:VFREEBUSY\r\nEND:VCALENDAR\r\n");
    out
}
