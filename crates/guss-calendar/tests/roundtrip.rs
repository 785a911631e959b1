//! iCalendar round trips (RFC 5545): what is read is written back stably
//! and completely, X- properties and parameters included, and what we
//! write is read by an independent parser (the `icalendar` crate) too.
// Test helpers build known-good data; a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use calcard::icalendar::{
    ICalendar, ICalendarComponentType, ICalendarParameterName, ICalendarParameterValue,
    ICalendarProperty, ICalendarValue,
};
use chrono::{TimeZone, Utc};
use guss_calendar::ical::{self, Limits};
use guss_calendar::recurrence::{ExpandLimits, expand};
use proptest::prelude::*;

// ------------------------------------------------------------ an independent reading

/// One content line, split by a reader written for this test: name,
/// parameter names (upper case) and the raw value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Line {
    name: String,
    params: Vec<String>,
}

/// Components in order, each with its lines (sorted): what must survive.
fn skeleton(text: &str) -> Vec<(String, Vec<Line>)> {
    let unfolded = text.replace("\r\n ", "").replace("\r\n\t", "");
    let mut out: Vec<(String, Vec<Line>)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    for raw in unfolded.split("\r\n").filter(|l| !l.is_empty()) {
        // Split name;params at the first colon outside quotes.
        let mut quoted = false;
        let mut head_end = raw.len();
        for (i, c) in raw.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ':' if !quoted => {
                    head_end = i;
                    break;
                }
                _ => {}
            }
        }
        let head = &raw[..head_end];
        let value = raw.get(head_end + 1..).unwrap_or_default();
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        for c in head.chars() {
            match c {
                '"' => {
                    quoted = !quoted;
                    current.push(c);
                }
                ';' if !quoted => parts.push(std::mem::take(&mut current)),
                _ => current.push(c),
            }
        }
        parts.push(current);
        let name = parts[0].to_ascii_uppercase();
        match name.as_str() {
            "BEGIN" => {
                out.push((value.to_ascii_uppercase(), Vec::new()));
                stack.push(out.len() - 1);
            }
            "END" => {
                stack.pop();
            }
            _ => {
                let mut params: Vec<String> = parts[1..]
                    .iter()
                    .map(|p| p.split('=').next().unwrap_or_default().to_ascii_uppercase())
                    .collect();
                params.sort();
                let at = *stack.last().unwrap();
                out[at].1.push(Line { name, params });
            }
        }
    }
    for (_, lines) in &mut out {
        lines.sort();
    }
    out
}

// ------------------------------------------------------------ generated calendars

#[derive(Clone, Debug)]
enum Start {
    Utc,
    Zoned(&'static str),
    Floating,
    Date,
}

#[derive(Clone, Debug)]
struct Attendee {
    cn: String,
    role: &'static str,
    rsvp: bool,
    x_param: Option<String>,
    local: String,
}

/// An X- property: name, text value, and perhaps one X- parameter.
type XProp = (String, String, Option<(String, String)>);

#[derive(Clone, Debug)]
struct Component {
    todo: bool,
    uid: String,
    summary: String,
    description: Option<String>,
    start: Start,
    day: u32,
    rrule: Option<&'static str>,
    attendees: Vec<Attendee>,
    alarms: Vec<String>,
    x_props: Vec<XProp>,
}

/// RFC 5545 §3.3.11 TEXT escaping.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out
}

/// RFC 5545 §3.1 folding at 75 octets, never inside a character.
fn fold(line: &str) -> String {
    let mut out = String::new();
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

fn render(components: &[Component]) -> String {
    let mut out =
        String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//guss//roundtrip//EN\r\n");
    out.push_str("X-WR-CALNAME:Kanzlei\r\n");
    for c in components {
        let kind = if c.todo { "VTODO" } else { "VEVENT" };
        out.push_str(&format!("BEGIN:{kind}\r\n"));
        out.push_str(&fold(&format!("UID:{}", escape(&c.uid))));
        out.push_str("DTSTAMP:20300101T000000Z\r\n");
        let date = format!("203006{:02}", c.day);
        let start = match &c.start {
            Start::Utc => format!("DTSTART:{date}T090000Z"),
            Start::Zoned(tz) => format!("DTSTART;TZID={tz}:{date}T090000"),
            Start::Floating => format!("DTSTART:{date}T090000"),
            Start::Date => format!("DTSTART;VALUE=DATE:{date}"),
        };
        out.push_str(&fold(&start));
        out.push_str(&fold(&format!("SUMMARY:{}", escape(&c.summary))));
        if let Some(description) = &c.description {
            out.push_str(&fold(&format!("DESCRIPTION:{}", escape(description))));
        }
        if let Some(rule) = c.rrule {
            out.push_str(&format!("RRULE:{rule}\r\n"));
        }
        for a in &c.attendees {
            let mut line = format!("ATTENDEE;CN=\"{}\";ROLE={}", a.cn, a.role);
            if a.rsvp {
                line.push_str(";RSVP=TRUE");
            }
            if let Some(x) = &a.x_param {
                line.push_str(&format!(";X-GUSS-KANAL={x}"));
            }
            line.push_str(&format!(":mailto:{}@kanzlei.example", a.local));
            out.push_str(&fold(&line));
        }
        for (name, value, param) in &c.x_props {
            let mut line = name.clone();
            if let Some((p, v)) = param {
                line.push_str(&format!(";{p}=\"{v}\""));
            }
            line.push(':');
            line.push_str(&escape(value));
            out.push_str(&fold(&line));
        }
        for alarm in &c.alarms {
            out.push_str("BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\n");
            out.push_str(&fold(&format!("DESCRIPTION:{}", escape(alarm))));
            out.push_str("X-GUSS-ALARM:1\r\nEND:VALARM\r\n");
        }
        out.push_str(&format!("END:{kind}\r\n"));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// Text with the characters RFC 5545 TEXT must escape, and non-ASCII.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z'),
            1 => Just(' '),
            1 => Just(','),
            1 => Just(';'),
            1 => Just('\\'),
            1 => Just('\n'),
            1 => Just(':'),
            1 => Just('"'),
            1 => Just('ü'),
            1 => Just('ß'),
            1 => Just('€'),
            1 => Just('日'),
            1 => Just('🗓'),
        ],
        1..120,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A parameter value as RFC 5545 §3.1 allows inside quotes (no DQUOTE, no controls).
fn param_text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9 ,;:äöüÄÖÜ.-]{1,30}"
}

fn attendee() -> impl Strategy<Value = Attendee> {
    (
        param_text(),
        prop_oneof![
            Just("REQ-PARTICIPANT"),
            Just("OPT-PARTICIPANT"),
            Just("CHAIR")
        ],
        any::<bool>(),
        proptest::option::of("[a-z]{1,10}"),
        "[a-z][a-z0-9.]{0,15}",
    )
        .prop_map(|(cn, role, rsvp, x_param, local)| Attendee {
            cn,
            role,
            rsvp,
            x_param,
            local,
        })
}

fn component() -> impl Strategy<Value = Component> {
    (
        any::<bool>(),
        "[A-Za-z0-9@._-]{1,40}",
        text(),
        proptest::option::of(text()),
        prop_oneof![
            Just(Start::Utc),
            Just(Start::Zoned("Europe/Berlin")),
            Just(Start::Zoned("America/New_York")),
            Just(Start::Zoned("W. Europe Standard Time")),
            Just(Start::Floating),
            Just(Start::Date),
        ],
        1u32..29,
        proptest::option::of(prop_oneof![
            Just("FREQ=DAILY;COUNT=5"),
            Just("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR"),
            Just("FREQ=MONTHLY;BYDAY=-1FR;COUNT=12"),
            Just("FREQ=YEARLY;BYMONTH=6;BYMONTHDAY=-1"),
            Just("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"),
        ]),
        proptest::collection::vec(attendee(), 0..4),
        proptest::collection::vec(text(), 0..3),
        proptest::collection::vec(
            (
                "X-[A-Z]{1,8}-[A-Z]{1,8}",
                text(),
                proptest::option::of(("X-[A-Z]{1,8}", param_text())),
            ),
            0..4,
        ),
    )
        .prop_map(
            |(todo, uid, summary, description, start, day, rrule, attendees, alarms, x_props)| {
                Component {
                    todo,
                    uid,
                    summary,
                    description,
                    start,
                    day,
                    rrule,
                    attendees,
                    alarms,
                    x_props,
                }
            },
        )
}

fn text_of(calendar: &ICalendar, uid: &str, name: &ICalendarProperty) -> Vec<String> {
    let component = calendar
        .components
        .iter()
        .find(|c| c.uid() == Some(uid))
        .unwrap();
    component
        .entries
        .iter()
        .filter(|e| &e.name == name)
        .map(|e| {
            e.values
                .iter()
                .filter_map(|v| v.as_text())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn parse_emit_is_stable_and_loses_nothing(
        components in proptest::collection::vec(component(), 1..5)
            .prop_filter("UIDs differ", |cs| {
                let mut uids: Vec<&str> = cs.iter().map(|c| c.uid.as_str()).collect();
                uids.sort_unstable();
                uids.dedup();
                uids.len() == cs.len()
            })
    ) {
        let source = render(&components);
        let first = ical::parse(&source, &Limits::default()).unwrap();
        prop_assert!(first.report.is_clean(), "{:?}", first.report);
        let emitted = ical::emit(&first.calendar);
        let second = ical::parse(&emitted, &Limits::default()).unwrap();
        prop_assert!(second.report.is_clean(), "{:?}", second.report);
        let again = ical::emit(&second.calendar);
        // Stable: the second writing is the first.
        prop_assert_eq!(&again, &emitted);
        prop_assert_eq!(&second.calendar, &first.calendar);
        // Nothing lost: the same components, properties and parameter names.
        prop_assert_eq!(skeleton(&emitted), skeleton(&source));
        // And the values that need escaping or quoting come back as written.
        for c in &components {
            prop_assert_eq!(text_of(&second.calendar, &c.uid, &ICalendarProperty::Summary), vec![c.summary.clone()]);
            if let Some(description) = &c.description {
                prop_assert_eq!(text_of(&second.calendar, &c.uid, &ICalendarProperty::Description), vec![description.clone()]);
            }
            for (name, value, _) in &c.x_props {
                let got = text_of(&second.calendar, &c.uid, &ICalendarProperty::Other(name.clone()));
                prop_assert!(got.contains(value), "{name}: {got:?} lacks {value:?}");
            }
            let component = second.calendar.components.iter().find(|x| x.uid() == Some(c.uid.as_str())).unwrap();
            let expected_type = if c.todo { ICalendarComponentType::VTodo } else { ICalendarComponentType::VEvent };
            prop_assert_eq!(&component.component_type, &expected_type);
            let cns: Vec<String> = component
                .entries
                .iter()
                .filter(|e| e.name == ICalendarProperty::Attendee)
                .filter_map(|e| match e.parameter(&ICalendarParameterName::Cn) {
                    Some(ICalendarParameterValue::Text(t)) => Some(t.clone()),
                    _ => None,
                })
                .collect();
            let wanted: Vec<String> = c.attendees.iter().map(|a| a.cn.clone()).collect();
            prop_assert_eq!(cns, wanted);
        }
        // The independent parser reads what we wrote, component for component.
        let oracle: Result<icalendar::Calendar, String> = emitted.parse();
        prop_assert!(oracle.is_ok(), "{:?}\n{}", oracle.err(), emitted);
        prop_assert_eq!(oracle.unwrap().components.len(), components.len());
    }
}

// ------------------------------------------------------------ real-world shapes

/// A desktop client's invitation on a Windows system: Windows zone names,
/// CDO properties, a long folded description, a quoted CN with a comma.
const WINDOWS_CLIENT: &str = "BEGIN:VCALENDAR\r
PRODID:-//Desktop Client//16.0 MIMEDIR//EN\r
VERSION:2.0\r
METHOD:REQUEST\r
BEGIN:VTIMEZONE\r
TZID:W. Europe Standard Time\r
X-MICROSOFT-CDO-TZID:4\r
BEGIN:STANDARD\r
DTSTART:16011028T030000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010325T020000\r
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
ATTENDEE;CN=\"Müller, Anna\";ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:anna.muelle\r
 r@kanzlei.example\r
ATTENDEE;CN=Besprechungsraum 2;CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT;RSVP=TRUE:\r
 mailto:raum2@kanzlei.example\r
CLASS:PUBLIC\r
CREATED:20300301T101500Z\r
DESCRIPTION:Guten Tag Frau Müller\\,\\n\\nanbei die Unterlagen zur Besprechung de\r
 r Akte 17/30. Bitte bringen Sie die Vollmacht\\, den Personalausweis und die \r
 Korrespondenz mit der Gegenseite mit.\\n\\nMit freundlichen Grüßen\\nKanzlei\r
  Beispiel\\n\r
DTEND;TZID=W. Europe Standard Time:20300331T103000\r
DTSTAMP:20300301T101500Z\r
DTSTART;TZID=W. Europe Standard Time:20300331T093000\r
LAST-MODIFIED:20300301T101500Z\r
LOCATION:Besprechungsraum 2\r
ORGANIZER;CN=Kanzlei Beispiel:mailto:sekretariat@kanzlei.example\r
PRIORITY:5\r
SEQUENCE:0\r
SUMMARY;LANGUAGE=de-de:Besprechung Akte 17/30\r
TRANSP:OPAQUE\r
UID:040000008200E00074C5B7101A82E00800000000B0C2D3E4F5A6B701000000000000000010000000\r
X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r
X-MICROSOFT-CDO-IMPORTANCE:1\r
X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY\r
X-MICROSOFT-DISALLOW-COUNTER:FALSE\r
BEGIN:VALARM\r
TRIGGER:-PT15M\r
ACTION:DISPLAY\r
DESCRIPTION:Reminder\r
END:VALARM\r
END:VEVENT\r
END:VCALENDAR\r
";

/// A web calendar's export: X-WR- calendar properties, a VTIMEZONE with
/// X-LIC-LOCATION, attendees with vendor parameters; plus an event as a
/// hand edit left it (no UID, DTEND and DURATION both).
const WEB_EXPORT: &str = "BEGIN:VCALENDAR\r
PRODID:-//Web Calendar//70.9054//EN\r
VERSION:2.0\r
CALSCALE:GREGORIAN\r
METHOD:PUBLISH\r
X-WR-CALNAME:Kanzlei Termine\r
X-WR-TIMEZONE:Europe/Berlin\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
X-LIC-LOCATION:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
DTSTART;TZID=Europe/Berlin:20300603T080000\r
DTEND;TZID=Europe/Berlin:20300603T083000\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
DTSTAMP:20300520T120000Z\r
ORGANIZER;CN=Kanzlei Termine:mailto:abc123@group.calendar.example\r
UID:7kukuqrfedlm2f9t6sqp0q3dtk@calendar.example\r
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Ben Be\r
 ispiel;X-NUM-GUESTS=0:mailto:ben@kanzlei.example\r
X-CONFERENCE-LINK:https://meet.example/abc-defg-hij\r
CREATED:20300520T115900Z\r
DESCRIPTION:Wöchentliche Runde\r
LAST-MODIFIED:20300520T120000Z\r
LOCATION:\r
SEQUENCE:0\r
STATUS:CONFIRMED\r
SUMMARY:Montagsrunde\r
TRANSP:OPAQUE\r
END:VEVENT\r
BEGIN:VEVENT\r
DTSTART:20300604T140000Z\r
DTEND:20300604T150000Z\r
DURATION:PT2H\r
DTSTAMP:20300520T120000Z\r
SUMMARY:Nachtrag\r
END:VEVENT\r
END:VCALENDAR\r
";

/// A desktop client on a Mac: structured location with X- parameters,
/// alarms with their own UIDs, travel properties; one TZID without its
/// VTIMEZONE that no database knows.
const MAC_CLIENT: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Desktop Calendar//15.0//EN\r
CALSCALE:GREGORIAN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
DTSTART:19810329T020000\r
TZNAME:MESZ\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
DTSTART:19961027T030000\r
TZNAME:MEZ\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
CREATED:20300510T080000Z\r
UID:5D3F1A2B-7C8E-4F90-A1B2-C3D4E5F60718\r
DTEND;TZID=Europe/Berlin:20300612T113000\r
TRANSP:OPAQUE\r
X-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC\r
SUMMARY:Ortstermin Baustelle\r
LAST-MODIFIED:20300510T080500Z\r
DTSTAMP:20300510T080500Z\r
DTSTART;TZID=Europe/Berlin:20300612T100000\r
LOCATION:Hauptstraße 1\\n10827 Berlin\r
SEQUENCE:1\r
X-APPLE-STRUCTURED-LOCATION;VALUE=URI;X-ADDRESS=Hauptstraße 1\\\\n10827 Berl\r
 in;X-APPLE-RADIUS=70.5;X-TITLE=\"Hauptstraße 1, Berlin\":geo:52.48,13.35\r
BEGIN:VALARM\r
X-WR-ALARMUID:0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9\r
UID:0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9\r
TRIGGER:-PT30M\r
ATTACH;VALUE=URI:Chord\r
ACTION:AUDIO\r
X-APPLE-DEFAULT-ALARM:TRUE\r
ACKNOWLEDGED:20300612T073000Z\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:FB1C2D3E-0000-4000-8000-000000000001\r
DTSTAMP:20300510T080500Z\r
DTSTART;TZID=Kanzlei/Hausnetz:20300613T090000\r
SUMMARY:Telefonat\r
END:VEVENT\r
END:VCALENDAR\r
";

fn finding_texts(findings: &[ical::Finding]) -> Vec<String> {
    findings.iter().map(|f| f.what.clone()).collect()
}

fn reread(text: &str) -> (ical::Parsed, String) {
    let parsed = ical::parse(text, &Limits::default()).unwrap();
    let emitted = ical::emit(&parsed.calendar);
    let again = ical::parse(&emitted, &Limits::default()).unwrap();
    assert_eq!(
        again.calendar, parsed.calendar,
        "stable over a second reading"
    );
    assert_eq!(ical::emit(&again.calendar), emitted);
    (parsed, emitted)
}

fn x_value(calendar: &ICalendar, name: &str) -> Vec<String> {
    calendar
        .components
        .iter()
        .flat_map(|c| c.entries.iter())
        .filter(|e| e.name == ICalendarProperty::Other(name.to_owned()))
        .map(|e| {
            e.values
                .iter()
                .filter_map(ICalendarValue::as_text)
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect()
}

#[test]
fn windows_client_invitation() {
    let (parsed, emitted) = reread(WINDOWS_CLIENT);
    assert!(parsed.report.is_clean(), "{:?}", parsed.report);
    assert_eq!(skeleton(&emitted), skeleton(WINDOWS_CLIENT));
    for (name, value) in [
        ("X-MICROSOFT-CDO-TZID", "4"),
        ("X-MICROSOFT-CDO-BUSYSTATUS", "BUSY"),
        ("X-MICROSOFT-CDO-IMPORTANCE", "1"),
        ("X-MICROSOFT-DISALLOW-COUNTER", "FALSE"),
    ] {
        assert_eq!(x_value(&parsed.calendar, name), [value], "{name}");
    }
    let event = parsed
        .calendar
        .components
        .iter()
        .find(|c| c.component_type == ICalendarComponentType::VEvent)
        .unwrap();
    let anna = event
        .entries
        .iter()
        .find(|e| e.name == ICalendarProperty::Attendee)
        .unwrap();
    assert_eq!(
        anna.parameter(&ICalendarParameterName::Cn),
        Some(&ICalendarParameterValue::Text("Müller, Anna".into()))
    );
    assert_eq!(
        anna.values.first().and_then(ICalendarValue::as_text),
        Some("mailto:anna.mueller@kanzlei.example")
    );
    let description = text_of(
        &parsed.calendar,
        "040000008200E00074C5B7101A82E00800000000B0C2D3E4F5A6B701000000000000000010000000",
        &ICalendarProperty::Description,
    );
    assert_eq!(
        description,
        [
            "Guten Tag Frau Müller,\n\nanbei die Unterlagen zur Besprechung der Akte 17/30. \
          Bitte bringen Sie die Vollmacht, den Personalausweis und die Korrespondenz mit \
          der Gegenseite mit.\n\nMit freundlichen Grüßen\nKanzlei Beispiel\n"
        ]
    );
    // Written lines stay within 75 octets (RFC 5545 §3.1).
    assert!(emitted.split("\r\n").all(|l| l.len() <= 75), "{emitted}");
    // 09:30 on the day summer time begins: 07:30Z.
    let window = Utc.with_ymd_and_hms(2030, 3, 31, 0, 0, 0).unwrap()
        ..Utc.with_ymd_and_hms(2030, 4, 1, 0, 0, 0).unwrap();
    let found = expand(&parsed.calendar, &window, &ExpandLimits::default());
    assert_eq!(found.instances.len(), 1);
    assert_eq!(
        found.instances[0].start.to_rfc3339(),
        "2030-03-31T07:30:00+00:00"
    );
    assert_eq!(
        found.instances[0].end.to_rfc3339(),
        "2030-03-31T08:30:00+00:00"
    );
    let oracle: icalendar::Calendar = emitted.parse().unwrap();
    assert_eq!(oracle.components.len(), 2, "VTIMEZONE and VEVENT");
}

#[test]
fn web_calendar_export_with_a_hand_edited_event() {
    let parsed = ical::parse(WEB_EXPORT, &Limits::default()).unwrap();
    let repaired = finding_texts(&parsed.report.repaired);
    assert_eq!(repaired, ["added a UID", "dropped DURATION next to DTEND"]);
    assert!(
        parsed.report.ignored.is_empty(),
        "{:?}",
        parsed.report.ignored
    );
    let generated = parsed.report.repaired[0].uid.clone().unwrap();
    assert!(generated.ends_with("-1@guss.invalid"), "{generated}");
    assert_eq!(
        parsed.report.repaired[1].uid.as_deref(),
        Some(generated.as_str())
    );
    let (reparsed, emitted) = reread(WEB_EXPORT);
    assert_eq!(
        reparsed.calendar, parsed.calendar,
        "the generated UID is stable"
    );
    for (name, value) in [
        ("X-WR-CALNAME", "Kanzlei Termine"),
        ("X-WR-TIMEZONE", "Europe/Berlin"),
        ("X-LIC-LOCATION", "Europe/Berlin"),
        ("X-CONFERENCE-LINK", "https://meet.example/abc-defg-hij"),
    ] {
        assert_eq!(x_value(&parsed.calendar, name), [value], "{name}");
    }
    assert!(emitted.replace("\r\n ", "").contains(";X-NUM-GUESTS=0"));
    assert!(!emitted.contains("DURATION"));
    // Mondays 08:00 Berlin (06:00Z in June), and the repaired event keeps DTEND.
    let window = Utc.with_ymd_and_hms(2030, 6, 1, 0, 0, 0).unwrap()
        ..Utc.with_ymd_and_hms(2030, 6, 15, 0, 0, 0).unwrap();
    let found = expand(&parsed.calendar, &window, &ExpandLimits::default());
    let starts: Vec<String> = found
        .instances
        .iter()
        .map(|i| format!("{}..{}", i.start.format("%d %H:%M"), i.end.format("%H:%M")))
        .collect();
    assert_eq!(
        starts,
        ["03 06:00..06:30", "04 14:00..15:00", "10 06:00..06:30"]
    );
    let oracle: icalendar::Calendar = emitted.parse().unwrap();
    assert_eq!(oracle.components.len(), 3);
}

#[test]
fn mac_client_event_with_structured_location() {
    let (parsed, emitted) = reread(MAC_CLIENT);
    assert!(
        parsed.report.repaired.is_empty(),
        "{:?}",
        parsed.report.repaired
    );
    assert_eq!(
        parsed.report.ignored,
        [ical::Finding {
            uid: Some("FB1C2D3E-0000-4000-8000-000000000001".into()),
            what: "unknown time zone \"Kanzlei/Hausnetz\" on DTSTART: read as floating time".into(),
        }]
    );
    assert_eq!(skeleton(&emitted), skeleton(MAC_CLIENT));
    for (name, value) in [
        ("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR", "AUTOMATIC"),
        ("X-WR-ALARMUID", "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"),
        ("X-APPLE-DEFAULT-ALARM", "TRUE"),
    ] {
        assert_eq!(x_value(&parsed.calendar, name), [value], "{name}");
    }
    let location = parsed
        .calendar
        .components
        .iter()
        .flat_map(|c| c.entries.iter())
        .find(|e| e.name == ICalendarProperty::Other("X-APPLE-STRUCTURED-LOCATION".into()))
        .unwrap();
    assert_eq!(
        location.parameter(&ICalendarParameterName::Other("X-TITLE".into())),
        Some(&ICalendarParameterValue::Text(
            "Hauptstraße 1, Berlin".into()
        ))
    );
    assert_eq!(
        location.parameter(&ICalendarParameterName::Other("X-APPLE-RADIUS".into())),
        Some(&ICalendarParameterValue::Text("70.5".into()))
    );
    let window = Utc.with_ymd_and_hms(2030, 6, 12, 0, 0, 0).unwrap()
        ..Utc.with_ymd_and_hms(2030, 6, 14, 0, 0, 0).unwrap();
    let found = expand(&parsed.calendar, &window, &ExpandLimits::default());
    let starts: Vec<String> = found
        .instances
        .iter()
        .map(|i| i.start.to_rfc3339())
        .collect();
    // 10:00 CEST = 08:00Z; the unknown zone is read as floating (UTC by default).
    assert_eq!(
        starts,
        ["2030-06-12T08:00:00+00:00", "2030-06-13T09:00:00+00:00"]
    );
    let oracle: icalendar::Calendar = emitted.parse().unwrap();
    assert_eq!(oracle.components.len(), 3);
}

#[test]
fn skeleton_reads_names_and_parameters() {
    // The test's own reader: quoted colons and semicolons stay in the value.
    let text = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nATTENDEE;CN=\"A;B:C\";x-k=v:mailto:a@b\r\nSUMMARY:x\r\n ;y\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let line = |name: &str, params: &[&str]| Line {
        name: name.into(),
        params: params.iter().map(|p| (*p).to_owned()).collect(),
    };
    assert_eq!(
        skeleton(text),
        [
            ("VCALENDAR".to_owned(), vec![]),
            (
                "VEVENT".to_owned(),
                vec![line("ATTENDEE", &["CN", "X-K"]), line("SUMMARY", &[])]
            ),
        ]
    );
}
