#!/usr/bin/env python3
"""CalDAV scenario with the python `caldav` client (and raw HTTP where the
client would hide the server's answer) against the guss-calendar
caldav-server example, or against Radicale as a reference peer.

Each step is a numbered, named check printing ok, FAIL or skip; the exit
status is 1 when any check fails. The steps:

   1 discovery        /.well-known/caldav redirects; current-user-principal
                      and calendar-home-set by PROPFIND (guss: principal
                      /dav/principals/anna/, home /dav/calendars/anna/)
   2 principal        the caldav client finds the same principal
   3 list-calendars   calendars in the home (guss: a default one exists)
   4 mkcalendar       MKCALENDAR a new calendar; it is listed
   5 create-event     PUT a new event; it reads back with an ETag
   6 update-event     SEQUENCE bump; the ETag changes
   7 etag-412         PUT with the stale If-Match gets 412; If-None-Match: *
                      on an existing resource gets 412
   8 delete-event     DELETE; GET then answers 404
   9 expand-client    weekly series with one moved instance (RECURRENCE-ID)
                      and one EXDATE: caldav search(expand=True) in a window
                      gives exactly the expected instances
  10 expand-server    the same window by a calendar-query REPORT with
                      CALDAV:expand: the server returns exactly those
                      instances, each with a RECURRENCE-ID
  11 sync-initial     sync-collection without a token lists every member
  12 sync-changes     after creates, a change and deletions the token sync
                      reports exactly those, deletions as removed members
  13 free-busy        ben queries anna's free/busy (free-busy-query REPORT
                      on anna's calendar, else a VFREEBUSY POST to ben's
                      schedule outbox): busy periods, no titles
  14 shared-write     ben writes into anna's calendar `team` (--share
                      anna/team:ben); anna sees the event
  15 no-foreign-read  ben cannot read anna's default calendar (403/404)
  16 resource-accept  anna invites car-1 (CUTYPE=RESOURCE) 10:00-11:00: her
                      copy shows PARTSTAT=ACCEPTED for car-1
  17 resource-decline ben invites car-1 10:30-11:30: his copy shows
                      PARTSTAT=DECLINED for car-1, or the PUT is refused with
                      403/409 and a CALDAV precondition element
  18 cleanup          DELETE the calendar made in step 4

With --peer radicale the guss-only parts are skipped: the URL layout of
step 1, the default calendar of step 3, step 14, steps 16-17, and in step
13 the cross-user query (Radicale has no read-free-busy privilege, so the
query is made by anna on her own calendar).

Run against a running server:
    scripts/interop/caldav-scenario.py --url http://127.0.0.1:PORT/ \\
        --users anna:pw-a,ben:pw-b --resource car-1
Start the guss example on a free port (stopped at the end):
    cargo build -p guss-calendar --example caldav-server
    scripts/interop/caldav-scenario.py \\
        --start-server target/debug/examples/caldav-server --data /tmp/cal
    (it is started with --user for each user, --share anna/team:ben,
    --resource car-1, and --database URL when given)
Start Radicale on a free port instead (implies --peer radicale):
    scripts/interop/caldav-scenario.py --start-radicale /tmp/radicale-data

Needs: python3 -m pip install caldav icalendar (and radicale for
--start-radicale).
"""

import argparse
import base64
import datetime
import http.client
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import warnings

warnings.filterwarnings("ignore")
logging.disable(logging.CRITICAL)  # the client logs tracebacks; checks report instead

import caldav  # noqa: E402
import icalendar  # noqa: E402

UTC = datetime.timezone.utc
DOMAIN = "example.test"
RUN = uuid.uuid4().hex[:8]
WINDOW_START = datetime.datetime(2031, 6, 1, tzinfo=UTC)
WINDOW_END = datetime.datetime(2031, 7, 1, tzinfo=UTC)
SERIES_EXPECTED = [  # weekly Monday 11:00 Berlin (09:00Z), 20310616 excluded,
    "2031-06-02T09:00:00Z",  # 20310623 moved to Wednesday 25th 16:00 (14:00Z)
    "2031-06-09T09:00:00Z",
    "2031-06-25T14:00:00Z",
    "2031-06-30T09:00:00Z",
]
VTIMEZONE_BERLIN = """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
"""


class Skip(Exception):
    """The check does not apply to this peer."""


class Failure(Exception):
    """The check failed."""


def require(condition, message):
    if not condition:
        raise Failure(message)


# ---------------------------------------------------------------- HTTP


class Http:
    """Raw HTTP with Basic auth, so status codes and bodies stay visible."""

    def __init__(self, base, user, password):
        self.base = base
        self.user = user
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.auth = "Basic " + token

    def request(self, method, url, body=None, headers=None):
        """Return (status, headers dict lowercased, body text)."""
        target = urllib.parse.urljoin(self.base, url)
        parts = urllib.parse.urlsplit(target)
        conn_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = conn_class(parts.hostname, parts.port, timeout=60)
        all_headers = {"Authorization": self.auth}
        all_headers.update(headers or {})
        if isinstance(body, str):
            body = body.encode()
        path = parts.path + ("?" + parts.query if parts.query else "")
        try:
            conn.request(method, path or "/", body=body, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            conn.close()

    def propfind(self, url, props, depth="0"):
        body = ('<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:" '
                'xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop>'
                + props + "</d:prop></d:propfind>")
        return self.request("PROPFIND", url, body, {"Depth": depth, "Content-Type": "application/xml"})

    def report(self, url, body, depth="1"):
        return self.request("REPORT", url, body, {"Depth": depth, "Content-Type": "application/xml"})

    def put_ics(self, url, ics, extra=None):
        headers = {"Content-Type": "text/calendar; charset=utf-8"}
        headers.update(extra or {})
        return self.request("PUT", url, ics, headers)


def first_href_in(body, element):
    """The first <href> inside <element> (namespace prefixes ignored)."""
    match = re.search(r"<(?:\w+:)?%s\b[^>]*>(.*?)</(?:\w+:)?%s>" % (element, element), body, re.S)
    if not match:
        return None
    href = re.search(r"<(?:\w+:)?href>\s*([^<]+?)\s*</(?:\w+:)?href>", match.group(1))
    return href.group(1) if href else None


def path_of(url):
    return urllib.parse.urlsplit(str(url)).path


# ---------------------------------------------------------------- iCalendar


def vcalendar(*components, tz=False):
    body = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//guss//caldav-scenario//EN\n"
    body += VTIMEZONE_BERLIN if tz else ""
    body += "".join(components) + "END:VCALENDAR\n"
    return body.replace("\n", "\r\n")


def vevent(uid, start, end, summary, extra=""):
    return (f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\nDTSTART:{start}\n"
            f"DTEND:{end}\nSUMMARY:{summary}\n{extra}END:VEVENT\n")


def series_ics(uid):
    master = (f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\n"
              "DTSTART;TZID=Europe/Berlin:20310602T110000\n"
              "DTEND;TZID=Europe/Berlin:20310602T120000\n"
              "SUMMARY:Weekly review\nRRULE:FREQ=WEEKLY;COUNT=6\n"
              "EXDATE;TZID=Europe/Berlin:20310616T110000\nEND:VEVENT\n")
    moved = (f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20300101T000000Z\n"
             "RECURRENCE-ID;TZID=Europe/Berlin:20310623T110000\n"
             "DTSTART;TZID=Europe/Berlin:20310625T160000\n"
             "DTEND;TZID=Europe/Berlin:20310625T170000\n"
             "SEQUENCE:1\nSUMMARY:Weekly review (moved)\nEND:VEVENT\n")
    return vcalendar(master, moved, tz=True)


def utc_text(value):
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def calendar_datas(multistatus):
    """The iCalendar texts inside calendar-data elements of a multistatus."""
    import html

    found = re.findall(r"<(?:\w+:)?calendar-data\b[^>]*>(.*?)</(?:\w+:)?calendar-data>", multistatus, re.S)
    return [html.unescape(text.replace("<![CDATA[", "").replace("]]>", "")) for text in found]


def attendee_partstat(ics, address):
    """PARTSTAT of the ATTENDEE with this address in any VEVENT, or None."""
    calendar = icalendar.Calendar.from_ical(ics)
    for event in calendar.walk("VEVENT"):
        attendees = event.get("ATTENDEE", [])
        for attendee in attendees if isinstance(attendees, list) else [attendees]:
            if str(attendee).lower() == address.lower():
                return attendee.params.get("PARTSTAT", "NEEDS-ACTION")
    return None


# ---------------------------------------------------------------- scenario


class Scenario:
    """State shared by the checks; one method per check."""

    def __init__(self, args, users):
        self.args = args
        self.base = args.url if args.url.endswith("/") else args.url + "/"
        self.peer = args.peer
        (self.owner, self.owner_pw), (self.other, self.other_pw) = users[0], users[1]
        self.http = Http(self.base, self.owner, self.owner_pw)
        self.other_http = Http(self.base, self.other, self.other_pw)
        self.client = caldav.DAVClient(url=self.base, username=self.owner, password=self.owner_pw)
        self.other_client = caldav.DAVClient(url=self.base, username=self.other, password=self.other_pw)
        self.principal_path = self.home_path = None
        self.principal_obj = None
        self.default_calendar = None  # anna's pre-existing (guss) or made calendar
        self.calendar = None  # made in step 4
        self.event = None
        self.stale_etag = None
        self.sync_token = None

    @property
    def guss(self):
        return self.peer == "guss"

    def guss_only(self, what):
        if not self.guss:
            raise Skip(f"{what}: guss only")

    # 1
    def discovery(self):
        status, headers, _ = self.http.request("GET", ".well-known/caldav")
        if status in (301, 302, 303, 307, 308):
            context = urllib.parse.urljoin(self.base, headers.get("location", ""))
        else:
            status, headers, _ = self.http.propfind(".well-known/caldav", "<d:current-user-principal/>")
            require(status in (207, 301, 302, 307, 308), f"/.well-known/caldav answered {status}")
            context = urllib.parse.urljoin(self.base, headers.get("location", ".well-known/caldav"))
        status, _, body = self.http.propfind(context, "<d:current-user-principal/>")
        require(status == 207, f"PROPFIND {context} current-user-principal: {status}")
        self.principal_path = first_href_in(body, "current-user-principal")
        require(self.principal_path, "no current-user-principal href")
        status, _, body = self.http.propfind(self.principal_path, "<c:calendar-home-set/>")
        require(status == 207, f"PROPFIND principal: {status}")
        self.home_path = first_href_in(body, "calendar-home-set")
        require(self.home_path, "no calendar-home-set href")
        # A client goes on from the context path it was redirected to.
        self.client = caldav.DAVClient(url=context, username=self.owner, password=self.owner_pw)
        self.other_client = caldav.DAVClient(url=context, username=self.other, password=self.other_pw)
        if self.guss:
            require(path_of(self.principal_path) == f"/dav/principals/{self.owner}/",
                    f"principal is {self.principal_path}")
            require(path_of(self.home_path) == f"/dav/calendars/{self.owner}/", f"home is {self.home_path}")
        return f"context {path_of(context)} principal {self.principal_path} home {self.home_path}"

    # 2
    def principal(self):
        principal = self.client.principal()
        require(path_of(principal.url) == path_of(self.principal_path),
                f"client principal {principal.url} != {self.principal_path}")
        self.principal_obj = principal
        return str(principal.url)

    # 3
    def list_calendars(self):
        calendars = self.principal_obj.calendars()
        paths = [path_of(c.url) for c in calendars]
        if self.guss:
            own = [c for c in calendars if path_of(c.url).startswith(path_of(self.home_path))
                   and not path_of(c.url).rstrip("/").endswith("/team")]
            require(own, f"no default calendar among {paths}")
            self.default_calendar = own[0]
        return f"{len(calendars)} calendars: {paths}"

    # 4
    def mkcalendar(self):
        cal_id = f"scenario-{RUN}"
        self.calendar = self.principal_obj.make_calendar(name=f"Scenario {RUN}", cal_id=cal_id)
        paths = [path_of(c.url) for c in self.principal_obj.calendars()]
        require(path_of(self.calendar.url) in paths, f"{self.calendar.url} not listed in {paths}")
        if self.default_calendar is None:
            self.default_calendar = self.calendar
        return path_of(self.calendar.url)

    # 5
    def create_event(self):
        uid = f"create-{RUN}@{DOMAIN}"
        ics = vcalendar(vevent(uid, "20310610T080000Z", "20310610T090000Z", "Planning", "SEQUENCE:0\n"))
        self.event = self.calendar.save_event(ics)
        status, headers, body = self.http.request("GET", str(self.event.url))
        require(status == 200, f"GET {self.event.url}: {status}")
        require("SUMMARY:Planning" in body, "summary not read back")
        require(headers.get("etag"), "no ETag on GET")
        self.stale_etag = headers["etag"]
        return f"{path_of(self.event.url)} ETag {self.stale_etag}"

    # 6
    def update_event(self):
        uid = f"create-{RUN}@{DOMAIN}"
        ics = vcalendar(vevent(uid, "20310610T080000Z", "20310610T093000Z", "Planning (longer)", "SEQUENCE:1\n"))
        status, headers, _ = self.http.put_ics(str(self.event.url), ics, {"If-Match": self.stale_etag})
        require(status in (200, 201, 204), f"PUT with the current If-Match: {status}")
        status, headers, body = self.http.request("GET", str(self.event.url))
        require("SEQUENCE:1" in body and "Planning (longer)" in body, "update not read back")
        require(headers.get("etag") and headers["etag"] != self.stale_etag, "ETag did not change")
        self.event.load()
        require(int(self.event.icalendar_component["SEQUENCE"]) == 1, "client sees no SEQUENCE 1")
        return f"ETag {self.stale_etag} -> {headers['etag']}"

    # 7
    def etag_412(self):
        uid = f"create-{RUN}@{DOMAIN}"
        ics = vcalendar(vevent(uid, "20310610T080000Z", "20310610T100000Z", "Lost update", "SEQUENCE:2\n"))
        status, _, _ = self.http.put_ics(str(self.event.url), ics, {"If-Match": self.stale_etag})
        require(status == 412, f"stale If-Match answered {status}")
        status, _, _ = self.http.put_ics(str(self.event.url), ics, {"If-None-Match": "*"})
        require(status == 412, f"If-None-Match: * on an existing resource answered {status}")
        _, _, body = self.http.request("GET", str(self.event.url))
        require("Lost update" not in body, "the refused PUT was stored")
        return "stale If-Match 412, If-None-Match: * 412"

    # 8
    def delete_event(self):
        self.event.delete()
        status, _, _ = self.http.request("GET", str(self.event.url))
        require(status == 404, f"GET after DELETE: {status}")
        return "404 after DELETE"

    # 9
    def expand_client(self):
        self.calendar.save_event(series_ics(f"series-{RUN}@{DOMAIN}"))
        found = self.calendar.search(start=WINDOW_START, end=WINDOW_END, event=True, expand=True)
        starts = sorted(utc_text(o.icalendar_component["DTSTART"].dt) for o in found
                        if "series-" in str(o.icalendar_component["UID"]))
        require(starts == SERIES_EXPECTED, f"instances {starts}, want {SERIES_EXPECTED}")
        return " ".join(starts)

    # 10
    def expand_server(self):
        body = f"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
 <d:prop><c:calendar-data><c:expand start="20310601T000000Z" end="20310701T000000Z"/></c:calendar-data></d:prop>
 <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">
  <c:prop-filter name="UID"><c:text-match collation="i;octet">series-{RUN}</c:text-match></c:prop-filter>
  <c:time-range start="20310601T000000Z" end="20310701T000000Z"/>
 </c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>"""
        status, _, text = self.http.report(str(self.calendar.url), body)
        require(status == 207, f"REPORT answered {status}")
        starts, without_rid = [], 0
        for data in calendar_datas(text):
            for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
                starts.append(utc_text(event.decoded("DTSTART")))
                without_rid += "RECURRENCE-ID" not in event
        require(sorted(starts) == SERIES_EXPECTED, f"instances {sorted(starts)}, want {SERIES_EXPECTED}")
        require(not without_rid, f"{without_rid} expanded instances without RECURRENCE-ID")
        return " ".join(sorted(starts))

    def member_paths(self):
        status, _, body = self.http.propfind(str(self.calendar.url), "<d:getetag/>", depth="1")
        require(status == 207, f"PROPFIND Depth 1: {status}")
        hrefs = {path_of(urllib.parse.unquote(h)) for h in re.findall(r"<(?:\w+:)?href>([^<]+)<", body)}
        return {h for h in hrefs if h.rstrip("/") != path_of(self.calendar.url).rstrip("/")}

    # 11
    def sync_initial(self):
        result = self.calendar.objects_by_sync_token(sync_token=None, load_objects=False, disable_fallback=True)
        removed = {path_of(urllib.parse.unquote(str(u))) for u in result.deleted_urls}
        listed = {path_of(urllib.parse.unquote(str(o.url))) for o in result} - removed
        members = self.member_paths()
        require(result.sync_token, "no sync token")
        require(listed == members, f"sync listed {sorted(listed)}, PROPFIND {sorted(members)}")
        self.sync_token = result.sync_token
        # An initial sync may also carry 404 responses for members removed
        # earlier (Radicale does); they are tolerated and shown here.
        note = f"; also {len(removed)} removed members (404)" if removed else ""
        return f"{len(listed)} members, token {result.sync_token}{note}"

    # 12
    def sync_changes(self):
        made = [self.calendar.save_event(vcalendar(vevent(
            f"sync-{n}-{RUN}@{DOMAIN}", f"2031061{n}T120000Z", f"2031061{n}T130000Z", f"Sync {n}")))
            for n in range(1, 4)]
        token_after_creates = self.calendar.objects_by_sync_token(
            sync_token=self.sync_token, load_objects=False, disable_fallback=True)
        created = {path_of(str(o.url)) for o in token_after_creates}
        want = {path_of(str(e.url)) for e in made}
        require(want <= created, f"creates: sync reported {sorted(created)}, want {sorted(want)}")
        token = token_after_creates.sync_token
        changed = made[0]
        changed.icalendar_component["SUMMARY"] = "Sync 1 changed"
        changed.save()
        made[1].delete()
        made[2].delete()
        result = self.calendar.objects_by_sync_token(sync_token=token, load_objects=False, disable_fallback=True)
        deleted = {path_of(str(u)) for u in result.deleted_urls}
        reported = {path_of(str(o.url)) for o in result}
        require(path_of(str(changed.url)) in reported - deleted, "the change was not reported")
        want_deleted = {path_of(str(made[1].url)), path_of(str(made[2].url))}
        require(deleted == want_deleted, f"deleted {sorted(deleted)}, want {sorted(want_deleted)}")
        require(result.sync_token != token, "the token did not move")
        return f"3 created, 1 changed, 2 deleted reported; token {result.sync_token}"

    # 13
    def free_busy(self):
        busy = [("20310603T100000Z", "20310603T110000Z"), ("20310604T140000Z", "20310604T153000Z")]
        for n, (start, end) in enumerate(busy):
            self.default_calendar.save_event(vcalendar(vevent(
                f"fb-{n}-{RUN}@{DOMAIN}", start, end, f"Secret{n} dentist", "TRANSP:OPAQUE\n")))
        start, end = datetime.datetime(2031, 6, 3, tzinfo=UTC), datetime.datetime(2031, 6, 5, tzinfo=UTC)
        if self.guss:
            text, how = self.free_busy_as_other(start, end)
        else:
            text = self.default_calendar.freebusy_request(start, end).data
            how = "REPORT by the owner (radicale: cross-user part skipped)"
        require("Secret" not in text and "dentist" not in text, "free/busy answer shows titles")
        periods = free_busy_periods(text)
        for want in busy:
            want_span = tuple(datetime.datetime.strptime(t, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for t in want)
            require(any(s <= want_span[0] and want_span[1] <= e for s, e in periods),
                    f"busy {want} not covered by {periods}")
        return f"{how}: {len(periods)} busy periods"

    def free_busy_as_other(self, start, end):
        """ben: free-busy-query REPORT on anna's calendar, else outbox POST."""
        body = ('<?xml version="1.0" encoding="utf-8"?><c:free-busy-query '
                'xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20310603T000000Z" '
                'end="20310605T000000Z"/></c:free-busy-query>')
        status, _, text = self.other_http.report(str(self.default_calendar.url), body)
        if status == 200 and "VFREEBUSY" in text:
            return text, "free-busy-query REPORT by ben on anna's calendar"
        report_status = status
        try:
            outbox = self.other_client.principal().schedule_outbox()
        except Exception as error:
            raise Failure(f"calendar REPORT answered {report_status}; no schedule outbox "
                          f"({type(error).__name__})") from None
        fb = vcalendar(
            f"BEGIN:VFREEBUSY\nUID:fb-{RUN}@{DOMAIN}\nDTSTAMP:20300101T000000Z\n"
            f"DTSTART:{start:%Y%m%dT%H%M%SZ}\nDTEND:{end:%Y%m%dT%H%M%SZ}\n"
            f"ORGANIZER:mailto:{self.other}@{DOMAIN}\nATTENDEE:mailto:{self.owner}@{DOMAIN}\nEND:VFREEBUSY\n"
        ).replace("PRODID", "METHOD:REQUEST\r\nPRODID")
        status, _, text = self.other_http.request("POST", str(outbox.url), fb, {
            "Content-Type": "text/calendar; charset=utf-8; method=REQUEST",
            "Originator": f"mailto:{self.other}@{DOMAIN}",
            "Recipient": f"mailto:{self.owner}@{DOMAIN}",
        })
        require(status == 200 and "VFREEBUSY" in text,
                f"calendar REPORT answered {report_status}, outbox POST {status}")
        return text, f"outbox POST by ben (calendar REPORT answered {report_status})"

    # 14
    def shared_write(self):
        self.guss_only("sharing by --share")
        team = self.find_team_for_other()
        uid = f"team-{RUN}@{DOMAIN}"
        status, _, _ = self.other_http.put_ics(
            team + f"team-{RUN}.ics", vcalendar(vevent(uid, "20310612T090000Z", "20310612T100000Z", "Team lunch")),
            {"If-None-Match": "*"})
        require(status in (200, 201, 204), f"ben's PUT into {team}: {status}")
        owner_team = f"/dav/calendars/{self.owner}/team/"
        status, _, body = self.http.request("GET", owner_team + f"team-{RUN}.ics")
        if status != 200:
            found = [c for c in self.principal_obj.calendars() if path_of(c.url).rstrip("/").endswith("/team")]
            require(found, f"anna has no calendar team (GET {owner_team}: {status})")
            require(any(uid in o.data for o in found[0].events()), "anna does not see ben's event")
        else:
            require(uid in body, "anna reads another body")
        return f"ben wrote via {team}; anna sees it"

    def find_team_for_other(self):
        """Path of the shared calendar as ben sees it: in his home, else anna's URL."""
        for cal in self.other_client.principal().calendars():
            if path_of(cal.url).rstrip("/").endswith("team"):
                return path_of(cal.url).rstrip("/") + "/"
        return f"/dav/calendars/{self.owner}/team/"

    # 15
    def no_foreign_read(self):
        url = str(self.default_calendar.url)
        status, _, _ = self.other_http.propfind(url, "<d:displayname/>", depth="1")
        require(status in (403, 404), f"ben PROPFIND {path_of(url)}: {status}")
        query = ('<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                 '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
                 '</c:calendar-query>')
        status2, _, body = self.other_http.report(url, query)
        require(status2 in (403, 404), f"ben calendar-query REPORT: {status2}")
        status3, _, _ = self.other_http.request("GET", url + f"fb-0-{RUN}@{DOMAIN}.ics")
        require(status3 in (403, 404), f"ben GET of an event: {status3}")
        return f"PROPFIND {status}, REPORT {status2}, GET {status3}"

    # 16, 17
    def booking(self, http, calendar_path, who, start, end):
        """PUT an event inviting the resource; return (status, body, stored text or None)."""
        resource = f"mailto:{self.args.resource}@{DOMAIN}"
        uid = f"car-{who}-{RUN}@{DOMAIN}"
        extra = (f"ORGANIZER:mailto:{who}@{DOMAIN}\n"
                 f"ATTENDEE;CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:{who}@{DOMAIN}\n"
                 f"ATTENDEE;CUTYPE=RESOURCE;PARTSTAT=NEEDS-ACTION;ROLE=NON-PARTICIPANT;RSVP=TRUE:{resource}\n")
        href = calendar_path.rstrip("/") + f"/car-{who}-{RUN}.ics"
        status, _, body = http.put_ics(href, vcalendar(vevent(uid, start, end, f"Car for {who}", extra)))
        if status not in (200, 201, 204):
            return status, body, None
        stored = None
        for _ in range(20):  # scheduling may finish shortly after the PUT
            _, _, stored = http.request("GET", href)
            if attendee_partstat(stored, resource) not in (None, "NEEDS-ACTION"):
                break
            time.sleep(0.25)
        return status, body, stored

    def resource_accept(self):
        self.guss_only("resource auto-accept")
        status, body, stored = self.booking(self.http, path_of(self.default_calendar.url), self.owner,
                                            "20310617T100000Z", "20310617T110000Z")
        require(stored is not None, f"anna's PUT: {status} {body[:200]}")
        partstat = attendee_partstat(stored, f"mailto:{self.args.resource}@{DOMAIN}")
        require(partstat == "ACCEPTED", f"{self.args.resource} PARTSTAT {partstat}")
        return f"{self.args.resource} ACCEPTED 10:00-11:00"

    def resource_decline(self):
        self.guss_only("resource double booking")
        other_home = f"/dav/calendars/{self.other}/"
        mine = [c for c in self.other_client.principal().calendars()
                if path_of(c.url).startswith(other_home) and not path_of(c.url).rstrip("/").endswith("team")]
        require(mine, f"ben has no calendar under {other_home}")
        status, body, stored = self.booking(self.other_http, path_of(mine[0].url), self.other,
                                            "20310617T103000Z", "20310617T113000Z")
        if stored is None:
            require(status in (403, 409) and re.search(r"urn:ietf:params:xml:ns:caldav", body),
                    f"PUT refused with {status} without a CALDAV precondition: {body[:200]}")
            return f"PUT refused {status} with a CALDAV precondition"
        partstat = attendee_partstat(stored, f"mailto:{self.args.resource}@{DOMAIN}")
        require(partstat == "DECLINED", f"{self.args.resource} PARTSTAT {partstat} in ben's copy")
        return f"{self.args.resource} DECLINED in ben's copy"

    # 18
    def cleanup(self):
        if self.calendar is None:
            raise Skip("no calendar made")
        status, _, _ = self.http.request("DELETE", str(self.calendar.url))
        require(status in (200, 204), f"DELETE calendar: {status}")
        return f"deleted {path_of(self.calendar.url)}"


def free_busy_periods(text):
    """[(start, end)] of every FREEBUSY period in a VFREEBUSY answer."""
    body = text
    if "<" in text and "BEGIN:VCALENDAR" in text:
        body = "\n".join(calendar_datas(text)) or text[text.index("BEGIN:VCALENDAR"):]
    periods = []
    for part in re.findall(r"BEGIN:VCALENDAR.*?END:VCALENDAR", body.replace("\r\n ", ""), re.S):
        for fb in icalendar.Calendar.from_ical(part).walk("VFREEBUSY"):
            values = fb.get("FREEBUSY", [])
            for value in values if isinstance(values, list) else [values]:
                if str(value.params.get("FBTYPE", "BUSY")).upper() == "FREE":
                    continue
                for start, end_or_duration in value.dt if isinstance(value.dt, list) else [value.dt]:
                    end = end_or_duration if isinstance(end_or_duration, datetime.datetime) else start + end_or_duration
                    periods.append((start.astimezone(UTC), end.astimezone(UTC)))
    return sorted(periods)


CHECKS = [
    ("discovery", "discovery"), ("principal", "principal"), ("list-calendars", "list_calendars"),
    ("mkcalendar", "mkcalendar"), ("create-event", "create_event"), ("update-event", "update_event"),
    ("etag-412", "etag_412"), ("delete-event", "delete_event"), ("expand-client", "expand_client"),
    ("expand-server", "expand_server"), ("sync-initial", "sync_initial"), ("sync-changes", "sync_changes"),
    ("free-busy", "free_busy"), ("shared-write", "shared_write"), ("no-foreign-read", "no_foreign_read"),
    ("resource-accept", "resource_accept"), ("resource-decline", "resource_decline"), ("cleanup", "cleanup"),
]


def run_checks(scenario):
    """Run every check in order; return (passed, failed, skipped) names."""
    results = {"ok": [], "FAIL": [], "skip": []}
    for number, (name, method) in enumerate(CHECKS, 1):
        try:
            detail, outcome = getattr(scenario, method)(), "ok"
        except Skip as skip:
            detail, outcome = str(skip), "skip"
        except Failure as failure:
            detail, outcome = str(failure), "FAIL"
        except Exception as error:  # a client exception is a failure of this check
            detail, outcome = f"{type(error).__name__}: {str(error)[:300]}", "FAIL"
        results[outcome].append(name)
        print(f"{number:2d} {name:<17} {outcome:<4} {detail}", flush=True)
    return results


# ---------------------------------------------------------------- servers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port, process, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited with {process.returncode} before answering")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"server did not listen on {port} within {seconds} s")


def start_guss(args, users):
    port = free_port()
    command = [args.start_server, "--listen", f"127.0.0.1:{port}", "--data", args.data]
    for user, password in users:
        command += ["--user", f"{user}:{password}"]
    command += ["--share", args.share, "--resource", args.resource]
    if args.database:
        command += ["--database", args.database]
    os.makedirs(args.data, exist_ok=True)
    process = subprocess.Popen(command, stdout=sys.stderr, stderr=sys.stderr)
    wait_for(port, process)
    return process, f"http://127.0.0.1:{port}/"


def start_radicale(args, users):
    port = free_port()
    os.makedirs(args.start_radicale, exist_ok=True)
    htpasswd = os.path.join(args.start_radicale, "users.htpasswd")
    with open(htpasswd, "w") as f:
        f.writelines(f"{user}:{password}\n" for user, password in users)
    command = [sys.executable, "-m", "radicale",
               "--storage-filesystem-folder", os.path.join(args.start_radicale, "collections"),
               "--server-hosts", f"127.0.0.1:{port}", "--auth-type", "htpasswd",
               "--auth-htpasswd-filename", htpasswd, "--auth-htpasswd-encryption", "plain"]
    log = open(os.path.join(args.start_radicale, "radicale.log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=log)
    wait_for(port, process)
    return process, f"http://127.0.0.1:{port}/"


def stop(process):
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def parse_users(text):
    users = [tuple(item.split(":", 1)) for item in text.split(",") if item]
    if len(users) < 2 or any(len(u) != 2 for u in users):
        sys.exit("--users needs at least two NAME:PASSWORD entries (the owner first)")
    return users


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="base URL of a running server")
    parser.add_argument("--users", default="anna:pw-a,ben:pw-b", help="owner first, then the other user")
    parser.add_argument("--resource", default="car-1")
    parser.add_argument("--share", default="anna/team:ben", help="passed to a started guss server")
    parser.add_argument("--peer", choices=["guss", "radicale"], default="guss")
    parser.add_argument("--start-server", metavar="BIN", help="start the caldav-server example")
    parser.add_argument("--data", help="data directory for --start-server (default: a temporary one)")
    parser.add_argument("--database", help="--database URL for --start-server")
    parser.add_argument("--start-radicale", metavar="DIR", help="start Radicale with its data in DIR")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so started servers are stopped
    users = parse_users(args.users)

    process, temp = None, None
    if args.start_server:
        if not args.data:
            temp = tempfile.TemporaryDirectory(prefix="guss-caldav-")
            args.data = temp.name
        process, args.url = start_guss(args, users)
    elif args.start_radicale:
        process, args.url = start_radicale(args, users)
        args.peer = "radicale"
    elif not args.url:
        parser.error("give --url, --start-server or --start-radicale")
    try:
        print(f"caldav scenario: {args.url} peer {args.peer}, caldav {caldav.__version__}, run {RUN}")
        results = run_checks(Scenario(args, users))
    finally:
        stop(process)
        if temp:
            temp.cleanup()
    print(f"caldav scenario: {len(results['ok'])} ok, {len(results['FAIL'])} failed, "
          f"{len(results['skip'])} skipped" + (f" (failed: {', '.join(results['FAIL'])})" if results["FAIL"] else ""))
    return 1 if results["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
