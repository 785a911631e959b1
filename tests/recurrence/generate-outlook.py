#!/usr/bin/env python3
"""Generate an Outlook-shaped iCalendar file for the parser benchmark.

The output is deterministic for a given --seed and --events: one VCALENDAR
(METHOD:PUBLISH, Outlook's PRODID and X-WR-CALNAME) with Outlook-style
VTIMEZONE blocks for the Windows zone names used ("W. Europe Standard
Time", "Eastern Standard Time", "GMT Standard Time", "Tokyo Standard
Time"), then exactly --events VEVENTs: single meetings, all-day events and
recurring series (weekly/daily/monthly RRULEs, some with EXDATEs and
overridden instances, which are VEVENTs with RECURRENCE-ID and count
towards the total). Events carry Outlook's UIDs, ORGANIZER and ATTENDEEs
with CN, long DESCRIPTIONs with escaped newlines and commas folded at 75
octets (multi-byte characters are never split), X-ALT-DESC HTML bodies on
some, X-MICROSOFT-CDO-* and X-MS-OLK-* properties, and VALARMs. Lines end
in CRLF.

Run:
    tests/recurrence/generate-outlook.py --out /tmp/outlook.ics   # 20,000 VEVENTs
    tests/recurrence/generate-outlook.py --events 1000 > small.ics

scripts/bench/caldav-query.py imports event_items() and vtimezone() from
this file for its calendar data.
"""

import argparse
import datetime
import random
import sys

PRODID = "-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN"
ZONES = {
    # Windows name: (standard offset, daylight offset or None,
    #                daylight start month/BYDAY, standard start month/BYDAY, hour)
    "W. Europe Standard Time": ("+0100", "+0200", (3, "-1SU", "020000"), (10, "-1SU", "030000")),
    "Eastern Standard Time": ("-0500", "-0400", (3, "2SU", "020000"), (11, "1SU", "020000")),
    "GMT Standard Time": ("+0000", "+0100", (3, "-1SU", "010000"), (10, "-1SU", "020000")),
    "Tokyo Standard Time": ("+0900", None, None, None),
}
ZONE_WEIGHTS = [("W. Europe Standard Time", 6), ("Eastern Standard Time", 2),
                ("GMT Standard Time", 1), ("Tokyo Standard Time", 1)]
FIRST_NAMES = ["Anna", "Ben", "Jörg", "Müge", "Søren", "Chloé", "Ingrid", "Paweł", "Amélie", "Tomás",
               "Yuki", "Priya", "Lars", "Zoë", "Mateo", "Ulrike", "Kwame", "Fatma", "Olivier", "Greta"]
LAST_NAMES = ["Schmidt", "Müller", "Nakamura", "O'Brien", "Kowalski", "Dubois", "Andersen", "García",
              "Weiß", "Öztürk", "Haraldsson", "Rossi", "Novák", "Fischer", "Lefèvre", "Brandt"]
TOPICS = ["Quartalsplanung", "Budget review", "Projekt Kickoff", "1:1", "Kundentermin",
          "Design sync", "Retrospektive", "Sprint planning", "Vertragsverhandlung", "Schulung",
          "Board meeting", "Team lunch", "Audit follow-up", "Roadmap", "Interview"]
ROOMS = ["Besprechungsraum 2.14", "Konferenzraum Berlin", "Teams-Besprechung", "Room 4B (NYC)",
         "Café am Markt, Hauptstraße 5; 10115 Berlin", "Microsoft Teams Meeting"]
SENTENCES = [
    "Bitte bereitet die Zahlen für Q3 vor, inklusive der Abweichungen gegenüber dem Plan.",
    "Agenda: 1) Status, 2) Risiken, 3) nächste Schritte; Protokoll folgt per Mail.",
    "Join on your computer, mobile app or room device: click here to join the meeting.",
    "Meeting ID: 345 678 912 01, Passcode: aB3xYz; dial-in by phone +49 30 1234 5678,,987654#",
    "Hinweis: Die Räume im 2. OG sind wegen Renovierung gesperrt – bitte auf 3.14 ausweichen.",
    "Please review the attached draft before the call and add comments directly in the document.",
    "Ça va être rapide: nous validons le périmètre et la date de mise en production.",
    "Für Rückfragen stehe ich gern zur Verfügung. Viele Grüße, das Projektteam.",
    "________________________________________________________________________________",
    "Learn more about Teams | Meeting options | Legal notice; do not forward this invitation.",
]


def escape_text(text):
    """RFC 5545 TEXT escaping."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))


def fold(line):
    """Fold a content line at 75 octets without splitting a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts, start, limit = [], 0, 75
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, limit = end, 74
    return "\r\n ".join(parts) + "\r\n"


def lines(*content):
    return "".join(fold(line) for line in content if line)


def vtimezone(tzid):
    """Outlook's VTIMEZONE block for a Windows zone name (DTSTART in 1601)."""
    standard, daylight, dst_rule, std_rule = ZONES[tzid]
    if daylight is None:
        return lines("BEGIN:VTIMEZONE", f"TZID:{tzid}", "BEGIN:STANDARD", "DTSTART:16010101T000000",
                     f"TZOFFSETFROM:{standard}", f"TZOFFSETTO:{standard}", "END:STANDARD", "END:VTIMEZONE")
    return lines(
        "BEGIN:VTIMEZONE", f"TZID:{tzid}",
        "BEGIN:STANDARD", f"DTSTART:16010101T{std_rule[2]}", f"TZOFFSETFROM:{daylight}",
        f"TZOFFSETTO:{standard}", f"RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY={std_rule[1]};BYMONTH={std_rule[0]}",
        "END:STANDARD",
        "BEGIN:DAYLIGHT", f"DTSTART:16010101T{dst_rule[2]}", f"TZOFFSETFROM:{standard}",
        f"TZOFFSETTO:{daylight}", f"RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY={dst_rule[1]};BYMONTH={dst_rule[0]}",
        "END:DAYLIGHT", "END:VTIMEZONE")


def person(rng):
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    mail = f"{first}.{last}".lower().encode("ascii", "ignore").decode().replace("'", "")
    return f"{first} {last}", f"{mail}@example.test"


def outlook_uid(rng):
    return "040000008200E00074C5B7101A82E00800000000" + "".join(rng.choice("0123456789ABCDEF") for _ in range(72))


def description(rng):
    paragraphs = [" ".join(rng.choice(SENTENCES) for _ in range(rng.randint(1, 4)))
                  for _ in range(rng.randint(1, 6))]
    return "\n\n".join(paragraphs)


def alt_desc(text):
    html = "<html><head><meta name=\"Generator\" content=\"Microsoft Exchange Server\"></head><body>"
    html += "".join(f"<p class=\"MsoNormal\">{p}</p>" for p in text.split("\n\n")) + "</body></html>"
    return "X-ALT-DESC;FMTTYPE=text/html:" + escape_text(html)


def stamp(moment):
    return moment.strftime("%Y%m%dT%H%M%SZ")


def local(moment):
    return moment.strftime("%Y%m%dT%H%M%S")


def people_lines(rng, organizer):
    out = [f"ORGANIZER;CN=\"{organizer[0]}\":mailto:{organizer[1]}"]
    for _ in range(rng.randint(0, 8)):
        name, mail = person(rng)
        role = rng.choice(["REQ-PARTICIPANT", "REQ-PARTICIPANT", "OPT-PARTICIPANT"])
        status = rng.choice(["NEEDS-ACTION", "ACCEPTED", "TENTATIVE", "DECLINED"])
        out.append(f"ATTENDEE;CN=\"{name}\";ROLE={role};PARTSTAT={status};RSVP=TRUE:mailto:{mail}")
    return out


def alarm(rng):
    minutes = rng.choice([5, 10, 15, 15, 15, 30, 60, 1080])
    return ["BEGIN:VALARM", f"TRIGGER:-PT{minutes}M", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "END:VALARM"]


def vevent(rng, uid, tzid, start, minutes, summary, extra=(), all_day=False, sequence=0):
    """One Outlook-shaped VEVENT as folded text."""
    created = datetime.datetime(2029, 1, 1) + datetime.timedelta(minutes=rng.randint(0, 500000))
    organizer = person(rng)
    text = description(rng)
    if all_day:
        times = [f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
                 f"DTEND;VALUE=DATE:{start + datetime.timedelta(days=1):%Y%m%d}",
                 "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE"]
    else:
        end = start + datetime.timedelta(minutes=minutes)
        times = [f"DTSTART;TZID=\"{tzid}\":{local(start)}", f"DTEND;TZID=\"{tzid}\":{local(end)}",
                 "X-MICROSOFT-CDO-ALLDAYEVENT:FALSE"]
    content = (["BEGIN:VEVENT", "CLASS:PUBLIC", f"CREATED:{stamp(created)}",
                "DESCRIPTION:" + escape_text(text)]
               + times
               + [f"DTSTAMP:{stamp(created)}", f"LAST-MODIFIED:{stamp(created)}",
                  "LOCATION:" + escape_text(rng.choice(ROOMS))]
               + people_lines(rng, organizer)
               + ["PRIORITY:5", f"SEQUENCE:{sequence}", f"SUMMARY;LANGUAGE=de-DE:{escape_text(summary)}",
                  "TRANSP:OPAQUE", f"UID:{uid}"]
               + list(extra)
               + ([alt_desc(text)] if rng.random() < 0.3 else [])
               + ["X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "X-MICROSOFT-CDO-IMPORTANCE:1",
                  "X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY", "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
                  "X-MS-OLK-AUTOFILLLOCATION:FALSE", "X-MS-OLK-CONFTYPE:0"]
               + (alarm(rng) if rng.random() < 0.8 else [])
               + ["END:VEVENT"])
    return lines(*content)


def pick_zone(rng):
    return rng.choices([z for z, _ in ZONE_WEIGHTS], [w for _, w in ZONE_WEIGHTS])[0]


def random_start(rng, first_day, days):
    day = first_day + datetime.timedelta(days=rng.randrange(days))
    return datetime.datetime(day.year, day.month, day.day, rng.randint(7, 18), rng.choice([0, 0, 15, 30, 45]))


def series(rng, uid, tzid, start, room_for):
    """A recurring master plus, for weekly series, up to two overridden
    instances (RECURRENCE-ID of a real instance; at most room_for VEVENTs)."""
    minutes = rng.choice([30, 60, 90])
    while start.weekday() >= 5:
        start += datetime.timedelta(days=1)
    day = ["MO", "TU", "WE", "TH", "FR"][start.weekday()]
    kind, overridable = rng.random(), False
    if kind < 0.6:
        interval, count = rng.choice([1, 1, 2]), rng.randint(5, 60)
        rule = f"RRULE:FREQ=WEEKLY;COUNT={count};INTERVAL={interval};BYDAY={day}"
        step, overridable = datetime.timedelta(days=7 * interval), True
    elif kind < 0.85:
        until = start + datetime.timedelta(days=rng.randint(10, 120))
        rule = f"RRULE:FREQ=DAILY;UNTIL={stamp(until)};INTERVAL=1;BYDAY=MO,TU,WE,TH,FR"
        step = None
    else:
        rule = f"RRULE:FREQ=MONTHLY;COUNT={rng.randint(3, 24)};BYDAY=1{day}"
        step = None
    extra = [rule]
    if overridable and rng.random() < 0.4:
        extra.append(f"EXDATE;TZID=\"{tzid}\":{local(start + 2 * step)}")
    summary = rng.choice(TOPICS)
    out = [vevent(rng, uid, tzid, start, minutes, summary, extra)]
    overrides = rng.choice([0, 0, 1, 2]) if overridable else 0
    for index in [3, 4][: min(room_for - 1, overrides)]:
        original = start + index * step
        moved = original + datetime.timedelta(hours=rng.choice([-2, 1, 3]))
        out.append(vevent(rng, uid, tzid, moved, minutes, summary + " (verschoben)",
                          [f"RECURRENCE-ID;TZID=\"{tzid}\":{local(original)}"], sequence=1))
    return out


def event_items(count, seed=1, first_day=datetime.date(2030, 1, 1), days=730, recurring_share=0.2):
    """Yield (uid, tzid, [VEVENT texts]) with exactly `count` VEVENTs in all.

    recurring_share of the items are recurring series; the others are single
    meetings (5 % of them all-day), spread over `days` days from first_day.
    """
    rng = random.Random(seed)
    made = 0
    while made < count:
        uid, tzid = outlook_uid(rng), pick_zone(rng)
        start = random_start(rng, first_day, days)
        if rng.random() < recurring_share:
            texts = series(rng, uid, tzid, start, count - made)
        else:
            all_day = rng.random() < 0.05
            texts = [vevent(rng, uid, tzid, start, rng.choice([15, 30, 30, 60, 60, 90, 120]),
                            rng.choice(TOPICS), all_day=all_day)]
        made += len(texts)
        yield uid, tzid, texts


def calendar_header(name="Kalender", method="PUBLISH"):
    """VCALENDAR start; method=None for a CalDAV resource (RFC 4791 4.1: no METHOD)."""
    return lines("BEGIN:VCALENDAR", f"PRODID:{PRODID}", "VERSION:2.0",
                 f"METHOD:{method}" if method else "",
                 f"X-WR-CALNAME:{name}", "X-MS-OLK-FORCEINSPECTOROPEN:TRUE")


def write_calendar(out, count, seed):
    """Write the whole calendar; return the number of bytes written."""
    written = 0

    def emit(text):
        nonlocal written
        data = text.encode("utf-8")
        out.write(data)
        written += len(data)

    emit(calendar_header())
    for tzid in ZONES:
        emit(vtimezone(tzid))
    for _, _, texts in event_items(count, seed):
        for text in texts:
            emit(text)
    emit("END:VCALENDAR\r\n")
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20000, help="number of VEVENTs (default 20000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="output file (default: stdout)")
    args = parser.parse_args()
    if args.out:
        with open(args.out, "wb") as f:
            size = write_calendar(f, args.events, args.seed)
        print(f"{args.out}: {args.events} VEVENTs, {size} bytes ({size / 1048576:.1f} MiB)", file=sys.stderr)
    else:
        write_calendar(sys.stdout.buffer, args.events, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
