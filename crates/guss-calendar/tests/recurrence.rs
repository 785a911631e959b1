//! Known answers for `recurrence::expand`: every expected instant below
//! was worked out by hand from RFC 5545 (§3.3.5 local times across a change
//! of offset, §3.3.10 rules, §3.8.5 RDATE/EXDATE, §3.8.4.4 RECURRENCE-ID)
//! and RFC 4791 §9.9 (what overlaps a time range), never by the code under
//! test.
// Test helpers build known-good dates; a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::ops::Range;

use chrono::{DateTime, Utc};
use guss_calendar::ical;
use guss_calendar::recurrence::{ExpandLimits, Expansion, Kind, expand};
use guss_calendar::timezone::Zone;

/// A UTC instant from "2030-03-31T01:30".
fn z(text: &str) -> DateTime<Utc> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .unwrap()
        .and_utc()
}

fn window(from: &str, to: &str) -> Range<DateTime<Utc>> {
    z(from)..z(to)
}

/// Wraps components (and optional time zones) in a VCALENDAR.
fn calendar(body: &str) -> String {
    let body = body.trim().replace('\n', "\r\n");
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}\r\nEND:VCALENDAR\r\n")
}

/// A VEVENT with UID, DTSTAMP and the given lines.
fn event(uid: &str, lines: &str) -> String {
    format!(
        "BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\n{}\nEND:VEVENT",
        lines.trim()
    )
}

fn run(body: &str, window: &Range<DateTime<Utc>>, limits: &ExpandLimits) -> Expansion {
    let parsed = ical::parse(&calendar(body), &ical::Limits::default()).unwrap();
    expand(&parsed.calendar, window, limits)
}

fn expand_default(body: &str, window: &Range<DateTime<Utc>>) -> Expansion {
    run(body, window, &ExpandLimits::default())
}

/// Starts as "YYYY-MM-DDTHH:MM" in UTC.
fn starts(expansion: &Expansion) -> Vec<String> {
    expansion
        .instances
        .iter()
        .map(|i| i.start.format("%Y-%m-%dT%H:%M").to_string())
        .collect()
}

/// (start, end) as "YYYY-MM-DDTHH:MM" in UTC.
fn spans(expansion: &Expansion) -> Vec<(String, String)> {
    expansion
        .instances
        .iter()
        .map(|i| {
            (
                i.start.format("%Y-%m-%dT%H:%M").to_string(),
                i.end.format("%Y-%m-%dT%H:%M").to_string(),
            )
        })
        .collect()
}

// ------------------------------------------------------------ DST

#[test]
fn berlin_gap_reads_a_skipped_time_with_the_offset_before() {
    // 2030-03-31: 02:00 CET becomes 03:00 CEST; 02:30 does not exist and
    // is read with +01:00 (RFC 5545 §3.3.5), i.e. 01:30Z (03:30 CEST).
    let body = event(
        "gap",
        "DTSTART;TZID=Europe/Berlin:20300330T023000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3",
    );
    let found = expand_default(&body, &window("2030-03-29T00:00", "2030-04-03T00:00"));
    assert_eq!(
        spans(&found),
        [
            ("2030-03-30T01:30".into(), "2030-03-30T02:30".into()),
            ("2030-03-31T01:30".into(), "2030-03-31T02:30".into()),
            ("2030-04-01T00:30".into(), "2030-04-01T01:30".into()),
        ]
    );
    assert!(!found.truncated);
    assert!(found.problems.is_empty(), "{:?}", found.problems);
}

#[test]
fn berlin_overlap_takes_the_first_occurrence() {
    // 2030-10-27: 03:00 CEST becomes 02:00 CET; 02:30 happens twice, the
    // first time at +02:00 = 00:30Z.
    let body = event(
        "overlap",
        "DTSTART;TZID=Europe/Berlin:20301026T023000\nRRULE:FREQ=DAILY;COUNT=3",
    );
    let found = expand_default(&body, &window("2030-10-25T00:00", "2030-10-30T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-10-26T00:30", "2030-10-27T00:30", "2030-10-28T01:30"]
    );
}

#[test]
fn new_york_gap_and_overlap() {
    // 2030-03-10: 02:00 EST -> 03:00 EDT; 02:30 read with -05:00 = 07:30Z.
    let spring = event(
        "ny-spring",
        "DTSTART;TZID=America/New_York:20300309T023000\nRRULE:FREQ=DAILY;COUNT=3",
    );
    let found = expand_default(&spring, &window("2030-03-08T00:00", "2030-03-13T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-03-09T07:30", "2030-03-10T07:30", "2030-03-11T06:30"]
    );
    // 2030-11-03: 02:00 EDT -> 01:00 EST; 01:30 first at -04:00 = 05:30Z.
    let autumn = event(
        "ny-autumn",
        "DTSTART;TZID=America/New_York:20301102T013000\nRRULE:FREQ=DAILY;COUNT=3",
    );
    let found = expand_default(&autumn, &window("2030-11-01T00:00", "2030-11-06T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-11-02T05:30", "2030-11-03T05:30", "2030-11-04T06:30"]
    );
}

#[test]
fn lord_howe_half_hour_changes() {
    // 2030-04-07: 02:00 (+11:00) -> 01:30 (+10:30); 01:45 happens twice,
    // first at +11:00 = 14:45Z the day before.
    let april = event(
        "lhi-april",
        "DTSTART;TZID=Australia/Lord_Howe:20300406T014500\nRRULE:FREQ=DAILY;COUNT=3",
    );
    let found = expand_default(&april, &window("2030-04-04T00:00", "2030-04-09T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-04-05T14:45", "2030-04-06T14:45", "2030-04-07T15:15"]
    );
    // 2030-10-06: 02:00 (+10:30) -> 02:30 (+11:00); 02:15 does not exist,
    // read with +10:30 = 15:45Z the day before.
    let october = event(
        "lhi-october",
        "DTSTART;TZID=Australia/Lord_Howe:20301005T021500\nRRULE:FREQ=DAILY;COUNT=3",
    );
    let found = expand_default(&october, &window("2030-10-03T00:00", "2030-10-08T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-10-04T15:45", "2030-10-05T15:45", "2030-10-06T15:15"]
    );
}

#[test]
fn daily_0830_stays_0830_local_across_both_changes() {
    let body = event(
        "daily",
        "DTSTART;TZID=Europe/Berlin:20300101T083000\nDURATION:PT30M\nRRULE:FREQ=DAILY",
    );
    // Spring: 07:30Z in winter, 06:30Z in summer, one instance a day.
    let spring = expand_default(&body, &window("2030-03-29T00:00", "2030-04-02T00:00"));
    assert_eq!(
        starts(&spring),
        [
            "2030-03-29T07:30",
            "2030-03-30T07:30",
            "2030-03-31T06:30",
            "2030-04-01T06:30"
        ]
    );
    // Autumn: back to 07:30Z on the day of the change.
    let autumn = expand_default(&body, &window("2030-10-25T00:00", "2030-10-29T00:00"));
    assert_eq!(
        starts(&autumn),
        [
            "2030-10-25T06:30",
            "2030-10-26T06:30",
            "2030-10-27T07:30",
            "2030-10-28T07:30"
        ]
    );
    // A whole year: 365 instances, none doubled, none skipped.
    let year = expand_default(&body, &window("2030-01-01T00:00", "2031-01-01T00:00"));
    assert_eq!(year.instances.len(), 365);
    let mut days: Vec<_> = year
        .instances
        .iter()
        .map(|i| i.start.date_naive())
        .collect();
    days.dedup();
    assert_eq!(days.len(), 365);
    assert!(
        year.instances
            .iter()
            .all(|i| i.end - i.start == chrono::TimeDelta::minutes(30))
    );
}

#[test]
fn windows_tzid_is_read_as_its_iana_zone() {
    // "Eastern Standard Time" is America/New_York, with its DST.
    let body = event(
        "win",
        "DTSTART;TZID=Eastern Standard Time:20300309T083000\nRRULE:FREQ=DAILY;COUNT=2",
    );
    let found = expand_default(&body, &window("2030-03-01T00:00", "2030-03-20T00:00"));
    assert_eq!(starts(&found), ["2030-03-09T13:30", "2030-03-10T12:30"]);
    // "W. Europe Standard Time" is Europe/Berlin.
    let body = event(
        "win-berlin",
        "DTSTART;TZID=W. Europe Standard Time:20301026T090000\nRRULE:FREQ=DAILY;COUNT=2",
    );
    let found = expand_default(&body, &window("2030-10-01T00:00", "2030-11-01T00:00"));
    assert_eq!(starts(&found), ["2030-10-26T07:00", "2030-10-27T08:00"]);
}

/// A zone no IANA zone matches: +03:00 in winter, +04:30 from the second
/// Sunday of May 03:00, back at the first Sunday of September 04:00.
const INSELZEIT: &str = "BEGIN:VTIMEZONE
TZID:Kanzlei Inselzeit
BEGIN:STANDARD
DTSTART:20000903T040000
TZOFFSETFROM:+0430
TZOFFSETTO:+0300
RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=1SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20000514T030000
TZOFFSETFROM:+0300
TZOFFSETTO:+0430
RRULE:FREQ=YEARLY;BYMONTH=5;BYDAY=2SU
END:DAYLIGHT
END:VTIMEZONE";

#[test]
fn custom_vtimezone_offsets_are_honoured() {
    // 2030: daylight from Sunday 12 May, standard from Sunday 1 September.
    let noon = format!(
        "{INSELZEIT}\n{}",
        event(
            "insel-noon",
            "DTSTART;TZID=Kanzlei Inselzeit:20300511T120000\nRRULE:FREQ=DAILY;COUNT=2"
        )
    );
    let found = expand_default(&noon, &window("2030-05-01T00:00", "2030-06-01T00:00"));
    // 12:00 at +03:00 = 09:00Z; 12:00 at +04:30 = 07:30Z.
    assert_eq!(starts(&found), ["2030-05-11T09:00", "2030-05-12T07:30"]);

    // The gap on 12 May: 03:45 does not exist, read with +03:00 = 00:45Z.
    let gap = format!(
        "{INSELZEIT}\n{}",
        event(
            "insel-gap",
            "DTSTART;TZID=Kanzlei Inselzeit:20300512T034500"
        )
    );
    let found = expand_default(&gap, &window("2030-05-11T00:00", "2030-05-13T00:00"));
    assert_eq!(starts(&found), ["2030-05-12T00:45"]);

    // The overlap on 1 September (04:00 -> 02:30): 03:00 first at +04:30.
    let overlap = format!(
        "{INSELZEIT}\n{}",
        event(
            "insel-overlap",
            "DTSTART;TZID=Kanzlei Inselzeit:20300831T030000\nRRULE:FREQ=DAILY;COUNT=3"
        )
    );
    let found = expand_default(&overlap, &window("2030-08-30T00:00", "2030-09-04T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-08-30T22:30", "2030-08-31T22:30", "2030-09-02T00:00"]
    );
    let parsed = ical::parse(&calendar(&overlap), &ical::Limits::default()).unwrap();
    assert!(
        parsed.report.ignored.is_empty(),
        "{:?}",
        parsed.report.ignored
    );
}

// ------------------------------------------------------------ COUNT, UNTIL

#[test]
fn count_stops_the_series() {
    let body = event(
        "count",
        "DTSTART:20300107T100000Z\nRRULE:FREQ=WEEKLY;COUNT=4",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2031-01-01T00:00"));
    assert_eq!(
        starts(&found),
        [
            "2030-01-07T10:00",
            "2030-01-14T10:00",
            "2030-01-21T10:00",
            "2030-01-28T10:00"
        ]
    );
}

#[test]
fn utc_until_with_a_tzid_start_is_compared_as_an_instant() {
    // 09:00 Berlin: 08:00Z until 30 March, 07:00Z from 31 March.
    // UNTIL=20300331T070000Z is exactly 09:00 CEST on the 31st: included.
    let body = event(
        "until",
        "DTSTART;TZID=Europe/Berlin:20300325T090000\nRRULE:FREQ=DAILY;UNTIL=20300331T070000Z",
    );
    let found = expand_default(&body, &window("2030-03-01T00:00", "2030-05-01T00:00"));
    assert_eq!(found.instances.len(), 7);
    assert_eq!(found.instances[0].start, z("2030-03-25T08:00"));
    assert_eq!(found.instances[5].start, z("2030-03-30T08:00"));
    assert_eq!(found.instances[6].start, z("2030-03-31T07:00"));
    // One second earlier excludes it.
    let body = event(
        "until-2",
        "DTSTART;TZID=Europe/Berlin:20300325T090000\nRRULE:FREQ=DAILY;UNTIL=20300331T065959Z",
    );
    let found = expand_default(&body, &window("2030-03-01T00:00", "2030-05-01T00:00"));
    assert_eq!(found.instances.len(), 6);
    assert_eq!(found.instances[5].start, z("2030-03-30T08:00"));
}

#[test]
fn date_until_includes_that_day() {
    let body = event(
        "until-date",
        "DTSTART;VALUE=DATE:20300105\nRRULE:FREQ=DAILY;UNTIL=20300108",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2030-02-01T00:00"));
    assert_eq!(
        starts(&found),
        [
            "2030-01-05T00:00",
            "2030-01-06T00:00",
            "2030-01-07T00:00",
            "2030-01-08T00:00"
        ]
    );
    assert!(found.instances.iter().all(|i| i.all_day));
    // Lenient: a date UNTIL with a date-time start (RFC 5545 wants the same
    // value type) is read as the end of that day.
    let body = event(
        "until-date-2",
        "DTSTART;TZID=Europe/Berlin:20300105T180000\nRRULE:FREQ=DAILY;UNTIL=20300107",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2030-02-01T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-01-05T17:00", "2030-01-06T17:00", "2030-01-07T17:00"]
    );
}

// ------------------------------------------------------------ BYxxx

#[test]
fn byday_with_ordinals() {
    // Second Tuesday: 8 Jan, 12 Feb, 12 Mar 2030.
    let body = event(
        "2tu",
        "DTSTART:20300108T100000Z\nRRULE:FREQ=MONTHLY;BYDAY=2TU;COUNT=3",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2031-01-01T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-01-08T10:00", "2030-02-12T10:00", "2030-03-12T10:00"]
    );
    // Last Friday: 25 Jan, 22 Feb, 29 Mar 2030.
    let body = event(
        "-1fr",
        "DTSTART:20300125T100000Z\nRRULE:FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2031-01-01T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-01-25T10:00", "2030-02-22T10:00", "2030-03-29T10:00"]
    );
}

#[test]
fn bymonthday_minus_one_is_the_last_day() {
    let body = event(
        "eom",
        "DTSTART:20300131T120000Z\nRRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=4",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2031-01-01T00:00"));
    assert_eq!(
        starts(&found),
        [
            "2030-01-31T12:00",
            "2030-02-28T12:00",
            "2030-03-31T12:00",
            "2030-04-30T12:00"
        ]
    );
}

#[test]
fn bysetpos_picks_the_last_workday() {
    // Last weekday: Thu 31 Jan, Thu 28 Feb, Fri 29 Mar (31st is a Sunday), Tue 30 Apr.
    let body = event(
        "lastworkday",
        "DTSTART:20300131T150000Z\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=4",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2031-01-01T00:00"));
    assert_eq!(
        starts(&found),
        [
            "2030-01-31T15:00",
            "2030-02-28T15:00",
            "2030-03-29T15:00",
            "2030-04-30T15:00"
        ]
    );
}

// ------------------------------------------------------------ EXDATE, RDATE

#[test]
fn exdate_in_another_zone_and_in_utc() {
    // 09:00 Berlin (CET) = 08:00Z. EXDATE 04:00 New York (EDT since
    // 10 March) on the 27th = 08:00Z; EXDATE 08:00Z on the 28th.
    let body = event(
        "exdate",
        "DTSTART;TZID=Europe/Berlin:20300325T090000\nRRULE:FREQ=DAILY;COUNT=5\n\
         EXDATE;TZID=America/New_York:20300327T040000\nEXDATE:20300328T080000Z",
    );
    let found = expand_default(&body, &window("2030-03-01T00:00", "2030-05-01T00:00"));
    assert_eq!(
        starts(&found),
        ["2030-03-25T08:00", "2030-03-26T08:00", "2030-03-29T08:00"]
    );
}

#[test]
fn rdate_as_date_time_and_as_period() {
    // RFC 5545 §3.8.5.2: an RDATE PERIOD gives the instance its start and
    // its own end.
    let body = event(
        "rdate",
        "DTSTART:20300603T100000Z\nDURATION:PT1H\nRRULE:FREQ=WEEKLY;COUNT=2\n\
         RDATE:20300605T140000Z\nRDATE;VALUE=PERIOD:20300606T100000Z/20300606T123000Z",
    );
    let found = expand_default(&body, &window("2030-06-01T00:00", "2030-07-01T00:00"));
    assert_eq!(
        spans(&found),
        [
            ("2030-06-03T10:00".into(), "2030-06-03T11:00".into()),
            ("2030-06-05T14:00".into(), "2030-06-05T15:00".into()),
            ("2030-06-06T10:00".into(), "2030-06-06T12:30".into()),
            ("2030-06-10T10:00".into(), "2030-06-10T11:00".into()),
        ]
    );
    assert!(
        found
            .instances
            .iter()
            .all(|i| i.recurrence_id == Some(i.start))
    );
}

// ------------------------------------------------------------ overrides

/// A daily 10:00 Berlin series, 1–5 April 2030 (08:00Z each), one hour.
fn series_with(overrides: &str) -> String {
    format!(
        "{}\n{}",
        event(
            "series",
            "DTSTART;TZID=Europe/Berlin:20300401T100000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=5\nSUMMARY:Team"
        ),
        overrides.trim()
    )
}

#[test]
fn recurrence_id_moves_one_instance() {
    let body = series_with(&event(
        "series",
        "RECURRENCE-ID;TZID=Europe/Berlin:20300403T100000\n\
         DTSTART;TZID=Europe/Berlin:20300403T150000\nDTEND;TZID=Europe/Berlin:20300403T160000\nSUMMARY:Moved",
    ));
    let found = expand_default(&body, &window("2030-03-01T00:00", "2030-05-01T00:00"));
    assert_eq!(
        starts(&found),
        [
            "2030-04-01T08:00",
            "2030-04-02T08:00",
            "2030-04-03T13:00",
            "2030-04-04T08:00",
            "2030-04-05T08:00"
        ]
    );
    let moved = &found.instances[2];
    assert_eq!(moved.component, 2, "the override describes it");
    assert_eq!(moved.recurrence_id, Some(z("2030-04-03T08:00")));
    assert_eq!(moved.end, z("2030-04-03T14:00"));
    assert_eq!(found.instances[1].component, 1);
}

#[test]
fn override_moved_into_the_window_from_outside() {
    // The 3 April instance moves to 4 April 15:00 (13:00Z); the window
    // covers only 4 April.
    let body = series_with(&event(
        "series",
        "RECURRENCE-ID;TZID=Europe/Berlin:20300403T100000\n\
         DTSTART;TZID=Europe/Berlin:20300404T150000\nDURATION:PT1H",
    ));
    let found = expand_default(&body, &window("2030-04-04T00:00", "2030-04-05T00:00"));
    assert_eq!(starts(&found), ["2030-04-04T08:00", "2030-04-04T13:00"]);
    assert_eq!(
        found.instances[1].recurrence_id,
        Some(z("2030-04-03T08:00"))
    );
    // And the window of 3 April no longer holds it.
    let found = expand_default(&body, &window("2030-04-03T00:00", "2030-04-04T00:00"));
    assert!(found.instances.is_empty(), "{:?}", starts(&found));
    // An override from after the window moved into it.
    let body = series_with(&event(
        "series",
        "RECURRENCE-ID;TZID=Europe/Berlin:20300405T100000\n\
         DTSTART;TZID=Europe/Berlin:20300401T070000\nDURATION:PT30M",
    ));
    let found = expand_default(&body, &window("2030-04-01T00:00", "2030-04-02T00:00"));
    assert_eq!(starts(&found), ["2030-04-01T05:00", "2030-04-01T08:00"]);
}

#[test]
fn thisandfuture_shifts_later_instances() {
    // From 3 April on: one hour later (09:00Z) and 30 minutes long.
    let body = series_with(&event(
        "series",
        "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20300403T100000\n\
         DTSTART;TZID=Europe/Berlin:20300403T110000\nDTEND;TZID=Europe/Berlin:20300403T113000",
    ));
    let found = expand_default(&body, &window("2030-03-01T00:00", "2030-05-01T00:00"));
    assert_eq!(
        spans(&found),
        [
            ("2030-04-01T08:00".into(), "2030-04-01T09:00".into()),
            ("2030-04-02T08:00".into(), "2030-04-02T09:00".into()),
            ("2030-04-03T09:00".into(), "2030-04-03T09:30".into()),
            ("2030-04-04T09:00".into(), "2030-04-04T09:30".into()),
            ("2030-04-05T09:00".into(), "2030-04-05T09:30".into()),
        ]
    );
    assert_eq!(found.instances[4].component, 2);
    assert_eq!(
        found.instances[4].recurrence_id,
        Some(z("2030-04-05T08:00"))
    );
}

// ------------------------------------------------------------ all-day, floating

#[test]
fn all_day_defaults_to_one_day_read_as_utc() {
    let body = event("day", "DTSTART;VALUE=DATE:20300704");
    let found = expand_default(&body, &window("2030-07-01T00:00", "2030-08-01T00:00"));
    assert_eq!(
        spans(&found),
        [("2030-07-04T00:00".into(), "2030-07-05T00:00".into())]
    );
    assert!(found.instances[0].all_day);
    // Read in Berlin when asked: midnight CEST = 22:00Z the day before.
    let mut limits = ExpandLimits::default();
    limits.floating = Zone::Named(chrono_tz::Europe::Berlin);
    let found = run(
        &body,
        &window("2030-07-01T00:00", "2030-08-01T00:00"),
        &limits,
    );
    assert_eq!(
        spans(&found),
        [("2030-07-03T22:00".into(), "2030-07-04T22:00".into())]
    );
}

#[test]
fn all_day_with_date_dtend_spans_days_and_recurs() {
    let body = event(
        "holiday",
        "DTSTART;VALUE=DATE:20300704\nDTEND;VALUE=DATE:20300707\nRRULE:FREQ=YEARLY;COUNT=2",
    );
    let found = expand_default(&body, &window("2030-01-01T00:00", "2032-01-01T00:00"));
    assert_eq!(
        spans(&found),
        [
            ("2030-07-04T00:00".into(), "2030-07-07T00:00".into()),
            ("2031-07-04T00:00".into(), "2031-07-07T00:00".into()),
        ]
    );
}

#[test]
fn floating_times_follow_the_floating_zone() {
    let body = event("float", "DTSTART:20300601T090000\nDURATION:PT1H");
    let found = expand_default(&body, &window("2030-06-01T00:00", "2030-06-02T00:00"));
    assert_eq!(starts(&found), ["2030-06-01T09:00"]);
    let mut limits = ExpandLimits::default();
    limits.floating = Zone::Named(chrono_tz::America::New_York);
    let found = run(
        &body,
        &window("2030-06-01T00:00", "2030-06-02T00:00"),
        &limits,
    );
    assert_eq!(starts(&found), ["2030-06-01T13:00"]);
    assert_eq!(found.instances[0].end, z("2030-06-01T14:00"));
}

// ------------------------------------------------------------ limits

#[test]
fn infinite_rule_far_in_the_future() {
    let body = event("forever", "DTSTART:20300101T090000Z\nRRULE:FREQ=DAILY");
    // 40 years of daily instances lie before this window: under the default bound.
    let found = expand_default(&body, &window("2070-01-01T00:00", "2070-01-04T00:00"));
    assert_eq!(
        starts(&found),
        ["2070-01-01T09:00", "2070-01-02T09:00", "2070-01-03T09:00"]
    );
    assert!(!found.truncated);
    // With a small bound the expansion stops and says so.
    let mut limits = ExpandLimits::default();
    limits.max_iterations = 1_000;
    let found = run(
        &body,
        &window("2070-01-01T00:00", "2070-01-04T00:00"),
        &limits,
    );
    assert!(found.instances.is_empty());
    assert!(found.truncated);
    // A minutely rule from 2030 never reaches 2070 within the default bound.
    let body = event("minutely", "DTSTART:20300101T090000Z\nRRULE:FREQ=MINUTELY");
    let found = expand_default(&body, &window("2070-01-01T00:00", "2070-01-01T00:10"));
    assert!(found.instances.is_empty());
    assert!(found.truncated);
}

#[test]
fn max_instances_cuts_and_reports() {
    let body = event("ten", "DTSTART:20300101T090000Z\nRRULE:FREQ=DAILY;COUNT=10");
    let mut limits = ExpandLimits::default();
    limits.max_instances = 4;
    let found = run(
        &body,
        &window("2030-01-01T00:00", "2030-02-01T00:00"),
        &limits,
    );
    assert_eq!(
        starts(&found),
        [
            "2030-01-01T09:00",
            "2030-01-02T09:00",
            "2030-01-03T09:00",
            "2030-01-04T09:00"
        ]
    );
    assert!(found.truncated);
    let found = expand_default(&body, &window("2030-01-01T00:00", "2030-02-01T00:00"));
    assert_eq!(found.instances.len(), 10);
    assert!(!found.truncated);
}

// ------------------------------------------------------------ RFC 4791 §9.9

#[test]
fn instant_event_at_window_start_is_in_at_window_end_is_out() {
    let body = event("instant", "DTSTART:20300601T100000Z");
    let at_start = expand_default(&body, &window("2030-06-01T10:00", "2030-06-01T11:00"));
    assert_eq!(starts(&at_start), ["2030-06-01T10:00"]);
    let at_end = expand_default(&body, &window("2030-06-01T09:00", "2030-06-01T10:00"));
    assert!(at_end.instances.is_empty());
}

#[test]
fn event_ending_at_window_start_is_out() {
    let body = event("hour", "DTSTART:20300601T090000Z\nDTEND:20300601T100000Z");
    assert!(
        expand_default(&body, &window("2030-06-01T10:00", "2030-06-01T11:00"))
            .instances
            .is_empty()
    );
    assert!(
        expand_default(&body, &window("2030-06-01T08:00", "2030-06-01T09:00"))
            .instances
            .is_empty()
    );
    let touching = expand_default(&body, &window("2030-06-01T09:59", "2030-06-01T11:00"));
    assert_eq!(starts(&touching), ["2030-06-01T09:00"]);
}

#[test]
fn vtodo_with_due_only() {
    // RFC 4791 §9.9, VTODO with DUE only: (start < DUE) AND (end >= DUE).
    let body = "BEGIN:VTODO\nUID:task\nDTSTAMP:20300101T000000Z\nDUE:20300610T170000Z\nSUMMARY:Akte\nEND:VTODO";
    let found = expand_default(body, &window("2030-06-10T00:00", "2030-06-11T00:00"));
    assert_eq!(found.instances.len(), 1);
    let task = &found.instances[0];
    assert_eq!(task.kind, Kind::Todo);
    assert_eq!(task.start, z("2030-06-10T17:00"));
    assert_eq!(task.end, z("2030-06-10T17:00"));
    // Due exactly at the end of the window: in.
    let found = expand_default(body, &window("2030-06-10T16:00", "2030-06-10T17:00"));
    assert_eq!(found.instances.len(), 1);
    // Due exactly at the start of the window: out.
    let found = expand_default(body, &window("2030-06-10T17:00", "2030-06-10T18:00"));
    assert!(found.instances.is_empty());
}

#[test]
fn sorted_across_series_with_uids() {
    let body = format!(
        "{}\n{}",
        event("b", "DTSTART:20300601T080000Z"),
        event("a", "DTSTART:20300601T070000Z\nRRULE:FREQ=HOURLY;COUNT=3")
    );
    let found = expand_default(&body, &window("2030-06-01T00:00", "2030-06-02T00:00"));
    let got: Vec<(String, String)> = found
        .instances
        .iter()
        .map(|i| (i.uid.clone(), i.start.format("%H:%M").to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("a".into(), "07:00".into()),
            ("a".into(), "08:00".into()),
            ("b".into(), "08:00".into()),
            ("a".into(), "09:00".into()),
        ]
    );
}

#[test]
fn extreme_window_and_durations_do_not_overflow() {
    // A CalDAV time-range without an end reaches the adapter as the
    // largest instant; a huge DURATION must not overflow either.
    let body = format!(
        "{}\n{}",
        event("long", "DTSTART:20300601T090000Z\nDURATION:P999999999W"),
        event(
            "series",
            "DTSTART;VALUE=DATE:20300601\nDURATION:P999999999W\nRRULE:FREQ=YEARLY;COUNT=2"
        )
    );
    let everything = DateTime::<Utc>::MIN_UTC..DateTime::<Utc>::MAX_UTC;
    let found = expand_default(&body, &everything);
    let got: Vec<(String, String, DateTime<Utc>)> = found
        .instances
        .iter()
        .map(|i| {
            (
                i.uid.clone(),
                i.start.format("%Y-%m-%dT%H:%M").to_string(),
                i.end,
            )
        })
        .collect();
    // Ends that cannot be represented are clamped to the largest instant.
    assert_eq!(
        got,
        [
            (
                "series".into(),
                "2030-06-01T00:00".into(),
                DateTime::<Utc>::MAX_UTC
            ),
            (
                "long".into(),
                "2030-06-01T09:00".into(),
                DateTime::<Utc>::MAX_UTC
            ),
            (
                "series".into(),
                "2031-06-01T00:00".into(),
                DateTime::<Utc>::MAX_UTC
            ),
        ]
    );
}
