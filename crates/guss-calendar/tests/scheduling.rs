//! Scheduling (iTIP, RFC 5546; implicit scheduling, RFC 6638) and
//! free/busy (RFC 5545 §3.6.4, RFC 4791 §7.10) as a law firm uses them:
//! invitations, answers that must come from the person they name, and
//! busy time that tells nothing but time.
// Test helpers build known-good data; a failing unwrap is a failing test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::ops::Range;

use calcard::icalendar::{ICalendar, ICalendarParticipationStatus as P};
use chrono::{DateTime, Utc};
use guss_calendar::freebusy::{BusyKind, Period, busy_periods, merge, vfreebusy};
use guss_calendar::ical;
use guss_calendar::itip::{
    self, Attendee, ReplyError, UserKind, apply_reply, attendees, cancel, normalize, plan, reply,
};
use guss_calendar::recurrence::{ExpandLimits, expand};

fn z(text: &str) -> DateTime<Utc> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .unwrap()
        .and_utc()
}

fn parse(body: &str) -> ICalendar {
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{}\r\nEND:VCALENDAR\r\n",
        body.trim().replace('\n', "\r\n")
    );
    ical::parse(&text, &ical::Limits::default())
        .unwrap()
        .calendar
}

/// The organizer's copy of a meeting with the given ATTENDEE lines.
fn meeting(uid: &str, sequence: u32, attendee_lines: &str) -> ICalendar {
    parse(&format!(
        "BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\nSEQUENCE:{sequence}\n\
         DTSTART:20300506T090000Z\nDTEND:20300506T100000Z\nSUMMARY:Mandantentermin\n\
         STATUS:CONFIRMED\nORGANIZER;CN=Anna:mailto:anna@kanzlei.example\n{}\nEND:VEVENT",
        attendee_lines.trim()
    ))
}

const ANNA: &str = "ATTENDEE;PARTSTAT=ACCEPTED;CN=Anna:mailto:anna@kanzlei.example";
const BEN: &str = "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:ben@kanzlei.example";
const CARLA: &str = "ATTENDEE;PARTSTAT=TENTATIVE:mailto:Carla@Kanzlei.example";
const DORA: &str = "ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION:mailto:raum-1@kanzlei.example";

fn lines_of(text: &str, name: &str) -> Vec<String> {
    // Unfold first (RFC 5545 §3.1), then pick the property's lines.
    text.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| {
            l.split([':', ';'])
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .map(str::to_owned)
        .collect()
}

// ------------------------------------------------------------ normalize

#[test]
fn normalize_strips_mailto_and_case() {
    assert_eq!(
        normalize("mailto:ben@kanzlei.example"),
        "ben@kanzlei.example"
    );
    assert_eq!(
        normalize("  MAILTO:Ben@Kanzlei.Example "),
        "ben@kanzlei.example"
    );
    assert_eq!(normalize("MailTo:x@y.example"), "x@y.example");
    assert_eq!(normalize("Ben@Kanzlei.example"), "ben@kanzlei.example");
    assert_eq!(normalize("urn:uuid:ABC-1"), "urn:uuid:abc-1");
    assert_eq!(normalize("mailto:"), "");
    assert_eq!(normalize("mail"), "mail");
}

// ------------------------------------------------------------ plan

#[test]
fn plan_requests_added_and_kept_cancels_removed_never_the_organizer() {
    let old = meeting("m1", 0, &format!("{ANNA}\n{BEN}\n{CARLA}"));
    let new = meeting("m1", 1, &format!("{ANNA}\n{BEN}\n{DORA}"));
    let got = plan(Some(&old), &new);
    assert_eq!(
        got.request,
        [
            Attendee {
                address: "ben@kanzlei.example".into(),
                kind: UserKind::Individual,
                partstat: "NEEDS-ACTION".into(),
            },
            Attendee {
                address: "raum-1@kanzlei.example".into(),
                kind: UserKind::Room,
                partstat: "NEEDS-ACTION".into(),
            },
        ]
    );
    assert_eq!(got.cancel, ["carla@kanzlei.example"]);
}

#[test]
fn plan_for_a_new_event_cancels_nobody() {
    let new = meeting("m2", 0, &format!("{BEN}\n{CARLA}\n{ANNA}"));
    let got = plan(None, &new);
    let addresses: Vec<&str> = got.request.iter().map(|a| a.address.as_str()).collect();
    assert_eq!(addresses, ["ben@kanzlei.example", "carla@kanzlei.example"]);
    assert_eq!(got.request[1].partstat, "TENTATIVE");
    assert!(got.cancel.is_empty());
    // Removing everyone but the organizer: the others get a CANCEL.
    let alone = meeting("m2", 1, ANNA);
    let got = plan(Some(&new), &alone);
    assert!(got.request.is_empty());
    assert_eq!(got.cancel, ["ben@kanzlei.example", "carla@kanzlei.example"]);
}

// ------------------------------------------------------------ cancel

#[test]
fn cancel_sets_status_and_raises_sequence() {
    let copy = meeting("m3", 2, &format!("{ANNA}\n{BEN}"));
    let message = cancel(&copy);
    let text = ical::emit(&message);
    assert_eq!(lines_of(&text, "METHOD"), ["METHOD:CANCEL"]);
    assert_eq!(lines_of(&text, "STATUS"), ["STATUS:CANCELLED"]);
    assert_eq!(lines_of(&text, "SEQUENCE"), ["SEQUENCE:3"]);
    assert_eq!(itip::sequence(&message), 3);
    // The copy itself is untouched.
    assert_eq!(itip::sequence(&copy), 2);
    // Without SEQUENCE the cancel carries 1.
    let plain = parse(
        "BEGIN:VEVENT\nUID:m4\nDTSTAMP:20300101T000000Z\nDTSTART:20300506T090000Z\nEND:VEVENT",
    );
    assert_eq!(
        lines_of(&ical::emit(&cancel(&plain)), "SEQUENCE"),
        ["SEQUENCE:1"]
    );
}

// ------------------------------------------------------------ reply

#[test]
fn reply_carries_only_the_senders_line() {
    let copy = meeting("m5", 1, &format!("{ANNA}\n{BEN}\n{CARLA}"));
    let answer = reply(&copy, "MAILTO:Ben@Kanzlei.example", P::Accepted);
    let text = ical::emit(&answer);
    assert_eq!(lines_of(&text, "METHOD"), ["METHOD:REPLY"]);
    let lines = lines_of(&text, "ATTENDEE");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("PARTSTAT=ACCEPTED"), "{}", lines[0]);
    assert!(
        lines[0].ends_with(":mailto:ben@kanzlei.example"),
        "{}",
        lines[0]
    );
    assert_eq!(lines_of(&text, "ORGANIZER").len(), 1);
    assert_eq!(attendees(&answer).len(), 1);
}

// ------------------------------------------------------------ apply_reply

#[test]
fn apply_reply_sets_the_partstat() {
    let mut copy = meeting("m6", 1, &format!("{ANNA}\n{BEN}\n{CARLA}"));
    let answer = reply(&copy, "mailto:ben@kanzlei.example", P::Declined);
    apply_reply(&mut copy, &answer, "Ben@Kanzlei.example").unwrap();
    let now: Vec<(String, String)> = attendees(&copy)
        .into_iter()
        .map(|a| (a.address, a.partstat))
        .collect();
    assert_eq!(
        now,
        [
            ("anna@kanzlei.example".into(), "ACCEPTED".into()),
            ("ben@kanzlei.example".into(), "DECLINED".into()),
            ("carla@kanzlei.example".into(), "TENTATIVE".into()),
        ]
    );
}

#[test]
fn apply_reply_refuses_a_reply_naming_someone_else() {
    let mut copy = meeting("m7", 0, &format!("{ANNA}\n{BEN}\n{CARLA}"));
    let before = copy.clone();
    let forged = reply(&copy, "mailto:carla@kanzlei.example", P::Declined);
    assert_eq!(
        apply_reply(&mut copy, &forged, "mailto:ben@kanzlei.example"),
        Err(ReplyError::NotFromAttendee)
    );
    assert_eq!(copy, before);
}

#[test]
fn apply_reply_refuses_several_attendees() {
    let mut copy = meeting("m8", 0, &format!("{ANNA}\n{BEN}\n{CARLA}"));
    let before = copy.clone();
    let several = parse(
        "METHOD:REPLY\nBEGIN:VEVENT\nUID:m8\nDTSTAMP:20300102T000000Z\nSEQUENCE:0\n\
         ORGANIZER:mailto:anna@kanzlei.example\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@kanzlei.example\n\
         ATTENDEE;PARTSTAT=DECLINED:mailto:carla@kanzlei.example\nEND:VEVENT",
    );
    assert_eq!(
        apply_reply(&mut copy, &several, "mailto:ben@kanzlei.example"),
        Err(ReplyError::NotFromAttendee)
    );
    assert_eq!(copy, before);
}

#[test]
fn apply_reply_refuses_an_unknown_attendee() {
    let mut copy = meeting("m9", 0, &format!("{ANNA}\n{BEN}"));
    let stranger = parse(
        "METHOD:REPLY\nBEGIN:VEVENT\nUID:m9\nDTSTAMP:20300102T000000Z\n\
         ORGANIZER:mailto:anna@kanzlei.example\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:zoe@elsewhere.example\nEND:VEVENT",
    );
    assert_eq!(
        apply_reply(&mut copy, &stranger, "mailto:Zoe@elsewhere.example"),
        Err(ReplyError::UnknownAttendee("zoe@elsewhere.example".into()))
    );
}

#[test]
fn apply_reply_refuses_another_uid() {
    let mut copy = meeting("m10", 0, &format!("{ANNA}\n{BEN}"));
    let other = meeting("m11", 0, &format!("{ANNA}\n{BEN}"));
    let answer = reply(&other, "mailto:ben@kanzlei.example", P::Accepted);
    assert_eq!(
        apply_reply(&mut copy, &answer, "mailto:ben@kanzlei.example"),
        Err(ReplyError::OtherEvent)
    );
    assert_eq!(attendees(&copy)[1].partstat, "NEEDS-ACTION");
}

#[test]
fn apply_reply_refuses_an_older_sequence_and_takes_the_same() {
    let old = meeting("m12", 1, &format!("{ANNA}\n{BEN}"));
    let stale = reply(&old, "mailto:ben@kanzlei.example", P::Accepted);
    let mut copy = meeting("m12", 2, &format!("{ANNA}\n{BEN}"));
    assert_eq!(
        apply_reply(&mut copy, &stale, "mailto:ben@kanzlei.example"),
        Err(ReplyError::Stale)
    );
    assert_eq!(attendees(&copy)[1].partstat, "NEEDS-ACTION");
    let current = reply(&copy, "mailto:ben@kanzlei.example", P::Tentative);
    apply_reply(&mut copy, &current, "mailto:ben@kanzlei.example").unwrap();
    assert_eq!(attendees(&copy)[1].partstat, "TENTATIVE");
}

// ------------------------------------------------------------ free/busy

fn busy_of(body: &str, window: &Range<DateTime<Utc>>) -> Vec<Period> {
    let calendar = parse(body);
    let expansion = expand(&calendar, window, &ExpandLimits::default());
    busy_periods(&calendar, &expansion, window)
}

fn ev(uid: &str, start: &str, end: &str, extra: &str) -> String {
    format!(
        "BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\nDTSTART:{start}\nDTEND:{end}\n\
         SUMMARY:Geheim {uid}\nLOCATION:Zimmer 3\nDESCRIPTION:Akte 17/30\n{extra}END:VEVENT\n"
    )
}

fn period(start: &str, end: &str, kind: BusyKind) -> Period {
    Period {
        start: z(start),
        end: z(end),
        kind,
    }
}

#[test]
fn busy_periods_merge_skip_and_mark() {
    let body = [
        ev("early", "20300506T070000Z", "20300506T083000Z", ""),
        ev("a", "20300506T090000Z", "20300506T100000Z", ""),
        ev("b", "20300506T093000Z", "20300506T110000Z", ""),
        ev("tent-over", "20300506T103000Z", "20300506T113000Z", "STATUS:TENTATIVE\n"),
        ev("free", "20300506T120000Z", "20300506T130000Z", "TRANSP:TRANSPARENT\n"),
        ev("gone", "20300506T140000Z", "20300506T150000Z", "STATUS:CANCELLED\n"),
        ev("maybe", "20300506T150000Z", "20300506T160000Z", "STATUS:TENTATIVE\n"),
        ev("adjacent", "20300506T160000Z", "20300506T170000Z", ""),
        "BEGIN:VTODO\nUID:task\nDTSTAMP:20300101T000000Z\nDTSTART:20300506T180000Z\nDUE:20300506T190000Z\nEND:VTODO\n".to_owned(),
    ]
    .concat();
    let window = z("2030-05-06T08:00")..z("2030-05-06T23:00");
    assert_eq!(
        busy_of(&body, &window),
        [
            period("2030-05-06T08:00", "2030-05-06T08:30", BusyKind::Busy),
            period("2030-05-06T09:00", "2030-05-06T11:00", BusyKind::Busy),
            period("2030-05-06T11:00", "2030-05-06T11:30", BusyKind::Tentative),
            period("2030-05-06T15:00", "2030-05-06T16:00", BusyKind::Tentative),
            period("2030-05-06T16:00", "2030-05-06T17:00", BusyKind::Busy),
        ]
    );
}

#[test]
fn merge_joins_touching_busy_and_cuts_tentative_inside_busy() {
    let mut periods = vec![
        period("2030-05-06T12:00", "2030-05-06T13:00", BusyKind::Tentative),
        period("2030-05-06T09:00", "2030-05-06T10:00", BusyKind::Busy),
        period("2030-05-06T10:00", "2030-05-06T11:00", BusyKind::Busy),
        period("2030-05-06T08:00", "2030-05-06T14:00", BusyKind::Tentative),
    ];
    merge(&mut periods);
    assert_eq!(
        periods,
        [
            period("2030-05-06T08:00", "2030-05-06T09:00", BusyKind::Tentative),
            period("2030-05-06T09:00", "2030-05-06T11:00", BusyKind::Busy),
            period("2030-05-06T11:00", "2030-05-06T14:00", BusyKind::Tentative),
        ]
    );
}

#[test]
fn recurring_busy_time_follows_the_expansion() {
    let body = "BEGIN:VEVENT\nUID:daily\nDTSTAMP:20300101T000000Z\n\
                DTSTART;TZID=Europe/Berlin:20300330T090000\nDURATION:PT1H\nRRULE:FREQ=DAILY;COUNT=3\nEND:VEVENT";
    let window = z("2030-03-30T00:00")..z("2030-04-02T00:00");
    assert_eq!(
        busy_of(body, &window),
        [
            period("2030-03-30T08:00", "2030-03-30T09:00", BusyKind::Busy),
            period("2030-03-31T07:00", "2030-03-31T08:00", BusyKind::Busy),
            period("2030-04-01T07:00", "2030-04-01T08:00", BusyKind::Busy),
        ]
    );
}

#[test]
fn vfreebusy_tells_only_time_and_parses_back() {
    let body = [
        ev("a", "20300506T090000Z", "20300506T100000Z", ""),
        ev(
            "maybe",
            "20300506T150000Z",
            "20300506T160000Z",
            "STATUS:TENTATIVE\n",
        ),
    ]
    .concat();
    let window = z("2030-05-06T00:00")..z("2030-05-07T00:00");
    let periods = busy_of(&body, &window);
    let text = vfreebusy(
        &window,
        &periods,
        z("2030-05-01T12:00"),
        Some("mailto:anna@kanzlei.example\r\nSUMMARY:injected"),
    );
    for secret in ["SUMMARY", "LOCATION", "DESCRIPTION"] {
        assert!(
            lines_of(&text, secret).is_empty(),
            "{secret} leaked: {text}"
        );
    }
    assert!(!text.contains("Geheim") && !text.contains("Zimmer") && !text.contains("Akte"));
    assert_eq!(
        lines_of(&text, "FREEBUSY"),
        [
            "FREEBUSY;FBTYPE=BUSY:20300506T090000Z/20300506T100000Z",
            "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20300506T150000Z/20300506T160000Z",
        ]
    );
    assert_eq!(lines_of(&text, "DTSTART"), ["DTSTART:20300506T000000Z"]);
    assert_eq!(lines_of(&text, "DTEND"), ["DTEND:20300507T000000Z"]);
    assert_eq!(lines_of(&text, "DTSTAMP"), ["DTSTAMP:20300501T120000Z"]);
    assert_eq!(lines_of(&text, "ATTENDEE").len(), 1);
    let parsed = ical::parse(&text, &ical::Limits::default()).unwrap();
    assert!(parsed.report.is_clean(), "{:?}", parsed.report);
    let components: Vec<_> = parsed
        .calendar
        .components
        .iter()
        .map(|c| c.component_type.as_str().to_owned())
        .collect();
    assert_eq!(components, ["VCALENDAR", "VFREEBUSY"]);
    // The same text through an independent parser.
    let other: icalendar::Calendar = text.parse().unwrap();
    assert_eq!(other.components.len(), 1);
}

#[test]
fn vfreebusy_without_periods_is_still_a_calendar() {
    let window = z("2030-05-06T00:00")..z("2030-05-07T00:00");
    let text = vfreebusy(&window, &[], z("2030-05-01T12:00"), None);
    assert!(lines_of(&text, "FREEBUSY").is_empty());
    assert!(lines_of(&text, "ATTENDEE").is_empty());
    ical::parse(&text, &ical::Limits::default()).unwrap();
}
