//! Parsing an Outlook-shaped calendar of 20,000 events (MB/s) and
//! expanding recurrences (instances per second), on one core.
//!
//! `cargo bench -p guss-calendar --bench calendar`
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use guss_calendar::ical::{Limits, parse};
use guss_calendar::recurrence::{ExpandLimits, expand};

const VTIMEZONE: &str = "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nRRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n";

/// An export the way Outlook writes one: Windows zone names, CDO
/// properties, long folded descriptions, attendees, some series.
fn outlook_export(events: usize) -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nX-MS-OLK-FORCEINSPECTOROPEN:TRUE\r\n",
    );
    out.push_str(VTIMEZONE);
    for i in 0..events {
        let day = 1 + i % 28;
        let month = 1 + (i / 28) % 12;
        let hour = 8 + i % 9;
        out.push_str("BEGIN:VEVENT\r\n");
        out.push_str("CLASS:PUBLIC\r\nCREATED:20290101T080000Z\r\n");
        out.push_str(&format!(
            "DESCRIPTION:Besprechung zur Akte {i}/29 mit Mandantin Frau Dr. Müller\\, Anlagen siehe Kanzleiakte. \r\n Bitte die Unterlagen vorab prüfen und Fristen im Blick behalten\\; Rückfragen an das Sekretariat.\\n\\nRaum 2\\, 1. OG\r\n"
        ));
        out.push_str(&format!(
            "DTEND;TZID=\"W. Europe Standard Time\":2030{month:02}{day:02}T{:02}3000\r\n",
            hour + 1
        ));
        out.push_str(&format!("DTSTAMP:20291201T120000Z\r\nDTSTART;TZID=\"W. Europe Standard Time\":2030{month:02}{day:02}T{hour:02}0000\r\n"));
        out.push_str("LAST-MODIFIED:20291201T120000Z\r\nLOCATION:Besprechungsraum 2\r\nPRIORITY:5\r\nSEQUENCE:0\r\n");
        out.push_str(&format!(
            "SUMMARY;LANGUAGE=de:Mandantengespräch Akte {i}\r\nTRANSP:OPAQUE\r\n"
        ));
        out.push_str(&format!(
            "UID:040000008200E00074C5B7101A82E0080000000070{i:012}\r\n"
        ));
        out.push_str("ORGANIZER;CN=\"Kanzlei Weber\":mailto:kanzlei@weber.example\r\n");
        out.push_str("ATTENDEE;CN=\"Müller, Anna\";ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:anna.mueller@mandant.example\r\n");
        if i % 5 == 0 {
            out.push_str("RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO,WE\r\n");
        }
        out.push_str("X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nX-MICROSOFT-CDO-IMPORTANCE:1\r\nX-MICROSOFT-DISALLOW-COUNTER:FALSE\r\nX-MS-OLK-AUTOFILLLOCATION:FALSE\r\nX-MS-OLK-CONFTYPE:0\r\n");
        out.push_str("BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n");
        out.push_str("END:VEVENT\r\n");
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

fn parsing(c: &mut Criterion) {
    let text = outlook_export(20_000);
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("outlook export, 20,000 events", |b| {
        b.iter(|| parse(&text, &limits).unwrap().calendar.components.len())
    });
    // The tokenizer alone, for how much the repair pass costs on top.
    group.bench_function("outlook export, 20,000 events, calcard alone", |b| {
        b.iter(|| {
            guss_calendar::calcard::icalendar::ICalendar::parse(&text)
                .unwrap()
                .components
                .len()
        })
    });
    group.finish();
}

fn expansion(c: &mut Criterion) {
    // A daily series in Berlin with an exception, over ten years: 3,653 instances per run.
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{VTIMEZONE}BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20300101T000000Z\r\nDTSTART;TZID=W. Europe Standard Time:20300101T083000\r\nDURATION:PT30M\r\nRRULE:FREQ=DAILY\r\nEXDATE;TZID=W. Europe Standard Time:20300105T083000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let calendar = parse(&text, &Limits::default()).unwrap().calendar;
    let window = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
        ..Utc.with_ymd_and_hms(2040, 1, 1, 0, 0, 0).unwrap();
    let limits = ExpandLimits::default();
    let count = expand(&calendar, &window, &limits).instances.len();
    assert!(count > 3_600);
    let mut group = c.benchmark_group("expand");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function("daily series, ten years, Europe/Berlin", |b| {
        b.iter(|| expand(&calendar, &window, &limits).instances.len())
    });
    group.finish();
}

criterion_group!(benches, parsing, expansion);
criterion_main!(benches);
