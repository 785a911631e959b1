//! CalDAV REPORT bodies (RFC 4791 §7.8–7.10). The adapter's own report
//! parsing is private to the `caldav` module, so this target walks the
//! parsed XML the same way with public APIs only: guss-dav's XML parser,
//! then the time ranges (`expand`, `comp-filter`/`time-range`,
//! free-busy `time-range`) read as the adapter reads them, and any
//! `calendar-data` text parsed, expanded over that range with small
//! limits, and turned into free/busy. Nothing may panic.
#![no_main]

use std::ops::Range;

use chrono::{DateTime, NaiveDateTime, Utc};
use guss_calendar::{freebusy, ical, recurrence};
use guss_dav::Element;
use libfuzzer_sys::fuzz_target;

const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";

fn is_cal(element: &Element, local: &str) -> bool {
    element.name.namespace == CALDAV && element.name.local == local
}

fn cal_child<'a>(element: &'a Element, local: &str) -> Option<&'a Element> {
    element.children().find(|c| is_cal(c, local))
}

fn attribute<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element
        .attributes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A time-range as the adapter reads it: open ends reach the extremes.
fn time_range(element: &Element) -> Option<Range<DateTime<Utc>>> {
    let utc = |text: &str| {
        NaiveDateTime::parse_from_str(text.trim(), "%Y%m%dT%H%M%SZ")
            .ok()
            .map(|t| t.and_utc())
    };
    let start = match attribute(element, "start") {
        Some(text) => utc(text)?,
        None => DateTime::<Utc>::MIN_UTC,
    };
    let end = match attribute(element, "end") {
        Some(text) => utc(text)?,
        None => DateTime::<Utc>::MAX_UTC,
    };
    (end > start).then_some(start..end)
}

/// Every `calendar-data` text in the tree, bounded by the XML limits.
fn calendar_data<'a>(element: &'a Element, out: &mut Vec<&'a Element>) {
    for child in element.children() {
        if is_cal(child, "calendar-data") {
            out.push(child);
        }
        calendar_data(child, out);
    }
}

fn walk(root: &Element) -> Vec<Range<DateTime<Utc>>> {
    let mut ranges = Vec::new();
    if is_cal(root, "calendar-query") || is_cal(root, "calendar-multiget") {
        if let Some(prop) = root.dav_child("prop") {
            for child in prop.children().filter(|c| is_cal(c, "calendar-data")) {
                if let Some(range) = cal_child(child, "expand").and_then(time_range) {
                    ranges.push(range);
                }
            }
        }
        if let Some(outer) = cal_child(root, "filter").and_then(|f| cal_child(f, "comp-filter")) {
            if let Some(inner) = cal_child(outer, "comp-filter") {
                let _component = attribute(inner, "name").map(str::to_ascii_uppercase);
                if let Some(range) = cal_child(inner, "time-range").and_then(time_range) {
                    ranges.push(range);
                }
            }
        }
    } else if is_cal(root, "free-busy-query") {
        if let Some(range) = cal_child(root, "time-range").and_then(time_range) {
            ranges.push(range);
        }
    }
    ranges
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(root) = guss_dav::parse_xml(&text, guss_dav::Limits::default()) else {
        return;
    };
    let ranges = walk(&root);
    let mut found = Vec::new();
    calendar_data(&root, &mut found);
    let mut limits = ical::Limits::default();
    limits.max_bytes = 64 * 1024;
    limits.max_components = 256;
    let mut bounds = recurrence::ExpandLimits::default();
    bounds.max_instances = 200;
    bounds.max_iterations = 2_000;
    for element in found.iter().take(4) {
        let Ok(parsed) = ical::parse(&element.text(), &limits) else {
            continue;
        };
        for range in ranges.iter().take(4) {
            let expansion = recurrence::expand(&parsed.calendar, range, &bounds);
            assert!(expansion.instances.len() <= 200);
            let busy = freebusy::busy_periods(&parsed.calendar, &expansion, range);
            for period in &busy {
                assert!(period.start >= range.start && period.end <= range.end && period.start < period.end);
            }
            let answer = freebusy::vfreebusy(range, &busy, range.start, None);
            assert!(ical::parse(&answer, &ical::Limits::default()).is_ok(), "{answer}");
        }
    }
});
