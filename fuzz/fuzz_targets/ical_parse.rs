//! iCalendar text: never panics; what parses is written as text that parses
//! again, and expanding it over a year stays within its limits.
#![no_main]

use chrono::{TimeZone, Utc};
use guss_calendar::{ical, recurrence};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut limits = ical::Limits::default();
    limits.max_bytes = 64 * 1024;
    limits.max_components = 256;
    let Ok(parsed) = ical::parse(&text, &limits) else {
        return;
    };
    let emitted = ical::emit(&parsed.calendar);
    // What we write we must read back (folding and repairs may make it longer).
    if let Err(e) = ical::parse(&emitted, &ical::Limits::default()) {
        panic!("emitted text does not parse again: {e}\n{emitted}");
    }
    let (Some(from), Some(to)) = (
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).single(),
        Utc.with_ymd_and_hms(2031, 1, 1, 0, 0, 0).single(),
    ) else {
        return;
    };
    let mut bounds = recurrence::ExpandLimits::default();
    bounds.max_instances = 500;
    bounds.max_iterations = 5_000;
    let expansion = recurrence::expand(&parsed.calendar, &(from..to), &bounds);
    assert!(expansion.instances.len() <= 500);
    for instance in &expansion.instances {
        assert!(instance.end >= instance.start, "{instance:?}");
    }
});
