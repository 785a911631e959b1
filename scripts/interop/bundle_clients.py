#!/usr/bin/env python3
"""Checks an app password of the guss bundle with real clients.

Called by tests/browser/bundle-onboarding.mjs with what the devices page
showed after "connect a device":

    python3 scripts/interop/bundle_clients.py \\
        --webdav-url http://localhost:PORT/dav/files/people/ben@example/ \\
        --caldav-url http://localhost:PORT/.well-known/caldav \\
        --username ben@example --password APP-PASSWORD [--calendar Büro]

WebDAV, with the webdav4 client (PyPI `webdav4`):
  1 webdav-upload     upload a small file into the person's folder
  2 webdav-list       the folder listing shows it, with its size
  3 webdav-download   download it; the bytes are the same
  4 webdav-refused    the same URL with a wrong password answers 401
CalDAV, with the python `caldav` client (PyPI `caldav`):
  5 caldav-principal  the principal is found from the CalDAV URL
  6 caldav-calendars  among its calendars is the office's shared one,
                      display name "Büro" (--calendar)
  7 caldav-event      an event created in that calendar reads back by UID
  8 caldav-refused    a wrong password is refused (401)
Mail, when --submission-port and --imap-port are given (the same app
password; STARTTLS on both, the server's own certificate):
  9 mail-submit       smtplib submits a message from the person to themself
 10 mail-imap         imaplib finds it in the INBOX, byte for byte behind
                      the trace fields
 11 mail-refused      a wrong password is refused at IMAP LOGIN
 12 cleanup           delete the uploaded file and the event (9 without mail)

Each step prints ok or FAIL with what it saw; the exit status is 1 when any
step fails (2 when a client library is missing).
Needs: python3 -m pip install webdav4 caldav
"""

import argparse
import datetime
import email.message
import imaplib
import io
import smtplib
import ssl
import time
import sys
import traceback
import urllib.parse
import uuid
import warnings

warnings.filterwarnings("ignore")

try:
    import httpx
    from webdav4.client import Client as WebDavClient
    from webdav4.client import HTTPError as WebDavHTTPError
except ImportError as e:  # pragma: no cover
    print(f"missing the webdav4 client: {e} (python3 -m pip install webdav4)", file=sys.stderr)
    sys.exit(2)
try:
    import caldav
    from caldav.lib import error as caldav_error
except ImportError as e:  # pragma: no cover
    print(f"missing the caldav client: {e} (python3 -m pip install caldav)", file=sys.stderr)
    sys.exit(2)

TIMEOUT = 20  # seconds, per request
CURRENT_USER_PRINCIPAL = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>'
)
RUN = uuid.uuid4().hex[:12]


class Failed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise Failed(message)


class Steps:
    def __init__(self):
        self.failed = 0
        self.number = 0
        self.skip_rest = set()

    def run(self, name, body, needs=()):
        self.number += 1
        label = f"{self.number:2d} {name:<17}"
        missing = [n for n in needs if n in self.skip_rest]
        if missing:
            print(f"{label} FAIL (not run: {', '.join(missing)} failed)", flush=True)
            self.failed += 1
            self.skip_rest.add(name)
            return None
        try:
            detail = body()
        except Failed as e:
            print(f"{label} FAIL {e}", flush=True)
        except Exception as e:  # a client error is a failed step too
            answer = answer_of(e)
            print(f"{label} FAIL {type(e).__name__}: {e}{answer}", flush=True)
            if not answer:  # not an HTTP answer: show where it came from
                traceback.print_exc(file=sys.stderr)
        else:
            print(f"{label} ok   {detail}", flush=True)
            return True
        self.failed += 1
        self.skip_rest.add(name)
        return None


def status_of(error):
    """The HTTP status inside a client's exception, if it has one."""
    for attr in ("status_code", "status"):
        value = getattr(error, attr, None)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    response = getattr(error, "response", None)
    return getattr(response, "status_code", None)


def answer_of(error):
    """What the server said, for a client exception that carries a response."""
    response = getattr(error, "response", None)
    request = getattr(response, "request", None)
    if response is None or request is None:
        return ""
    try:
        body = response.text.strip().replace("\n", " ")
    except Exception:  # a streamed body that was not read
        body = ""
    depth = request.headers.get("depth", "(none)")
    text = f" [server: {request.method} {request.url.path} Depth: {depth} -> {response.status_code}"
    if body:
        text += f" {body[:200]}"
    if "propfind-finite-depth" in body:
        text += (" -- the client sent PROPFIND without a Depth header (= infinity, RFC 4918 9.1);"
                 " the server refuses that even where there is nothing to recurse into")
    return text + "]"


def ics_event(uid, summary, start):
    end = start + datetime.timedelta(hours=1)
    fmt = "%Y%m%dT%H%M%SZ"
    now = datetime.datetime.now(datetime.timezone.utc).strftime(fmt)
    return (
        "BEGIN:VCALENDAR\r\n"
        "VERSION:2.0\r\n"
        "PRODID:-//guss//bundle_clients.py//EN\r\n"
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\n"
        f"DTSTAMP:{now}\r\n"
        f"DTSTART:{start.strftime(fmt)}\r\n"
        f"DTEND:{end.strftime(fmt)}\r\n"
        f"SUMMARY:{summary}\r\n"
        "END:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    )


def mail_checks(args, steps):
    """Submission and IMAP with the app password."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the bundle's own certificate
    subject = f"Aktennotiz {RUN}"
    message_id = f"<{RUN}@bundle.test>"
    message = email.message.EmailMessage()
    message["From"] = args.username
    message["To"] = args.username
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(f"Bitte Frist notieren. {RUN}\nÄnderungen: keine.\n")
    sent = message.as_bytes().replace(b"\n", b"\r\n")
    print(f"Mail: submission :{args.submission_port}, IMAP :{args.imap_port} as {args.username}", flush=True)

    def submit():
        with smtplib.SMTP("127.0.0.1", args.submission_port, timeout=TIMEOUT) as smtp:
            smtp.starttls(context=context)
            smtp.login(args.username, args.password)
            refused = smtp.send_message(message)
            require(not refused, f"recipients refused: {refused}")
        return f"submitted {subject!r}"

    def imap():
        deadline = time.monotonic() + TIMEOUT
        with imaplib.IMAP4("127.0.0.1", args.imap_port, timeout=TIMEOUT) as client:
            client.starttls(ssl_context=context)
            client.login(args.username, args.password)
            while True:
                client.select("INBOX")
                typ, found = client.uid("SEARCH", None, "HEADER", "Message-ID", message_id)
                uids = found[0].split() if typ == "OK" and found and found[0] else []
                if uids or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            require(uids, "the message did not arrive in the INBOX")
            typ, data = client.uid("FETCH", uids[0], "(BODY.PEEK[])")
            raw = data[0][1]
            require(raw.endswith(sent), "the stored message differs from the submitted one behind the trace fields")
            client.logout()
        return f"UID {uids[0].decode()} in INBOX, {len(raw)} bytes, the submitted message intact"

    def refused():
        with imaplib.IMAP4("127.0.0.1", args.imap_port, timeout=TIMEOUT) as client:
            client.starttls(ssl_context=context)
            try:
                client.login(args.username, args.password + "-wrong")
            except imaplib.IMAP4.error as e:
                return f"LOGIN refused: {e}"
        raise Failed("a wrong password logged in")

    steps.run("mail-submit", submit)
    steps.run("mail-imap", imap, needs=("mail-submit",))
    steps.run("mail-refused", refused)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--webdav-url", required=True, help="the person's WebDAV folder")
    parser.add_argument("--caldav-url", required=True, help="CalDAV: the server's /.well-known/caldav")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True, help="an app password")
    parser.add_argument("--calendar", default="Büro", help="display name of the office's shared calendar")
    parser.add_argument("--submission-port", type=int, help="the bundle's submission port (STARTTLS)")
    parser.add_argument("--imap-port", type=int, help="the bundle's IMAP port (STARTTLS)")
    args = parser.parse_args()

    webdav_url = args.webdav_url if args.webdav_url.endswith("/") else args.webdav_url + "/"
    auth = (args.username, args.password)
    wrong = (args.username, args.password + "-wrong")
    steps = Steps()
    name = f"guss-interop-{RUN}.txt"
    payload = f"guss bundle interop {RUN}\nÄrger mit Umlauten: äöüß\n".encode("utf-8") + bytes(range(256))
    dav = WebDavClient(webdav_url, auth=auth, timeout=TIMEOUT, retry=False)
    state = {}

    print(f"WebDAV {webdav_url} as {args.username}", flush=True)

    def upload():
        dav.upload_fileobj(io.BytesIO(payload), name, overwrite=True)
        return f"PUT {name} ({len(payload)} bytes)"

    def listing():
        entries = dav.ls("", detail=True)
        names = [urllib.parse.unquote(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries]
        mine = [e for e, n in zip(entries, names) if n == name]
        require(mine, f"{name} not listed; the folder has {names}")
        size = mine[0].get("content_length")
        require(size == len(payload), f"listed with size {size}, uploaded {len(payload)}")
        require(mine[0].get("type") == "file", f"listed as {mine[0].get('type')}")
        return f"{len(entries)} entries, {name} with {size} bytes"

    def download():
        buffer = io.BytesIO()
        dav.download_fileobj(name, buffer)
        got = buffer.getvalue()
        require(got == payload, f"downloaded {len(got)} bytes that differ from the {len(payload)} uploaded")
        return f"{len(got)} bytes, identical"

    def webdav_refused():
        bad = WebDavClient(webdav_url, auth=wrong, timeout=TIMEOUT, retry=False)
        try:
            bad.ls("", detail=False)
        except WebDavHTTPError as e:
            require(e.status_code == 401, f"a wrong password answered {e.status_code}, want 401")
        else:
            raise Failed("a wrong password could list the folder")
        # The raw answer too: a 401 with a Basic challenge, and nothing stored.
        response = httpx.put(webdav_url + f"refused-{RUN}.txt", content=b"x", auth=wrong, timeout=TIMEOUT)
        require(response.status_code == 401, f"PUT with a wrong password answered {response.status_code}")
        challenge = response.headers.get("www-authenticate", "")
        require(challenge.lower().startswith("basic"), f"401 without a Basic challenge: {challenge!r}")
        require(not dav.exists(f"refused-{RUN}.txt"), "the refused PUT was stored")
        return f"PROPFIND and PUT 401, WWW-Authenticate: {challenge}"

    steps.run("webdav-upload", upload)
    steps.run("webdav-list", listing, needs=("webdav-upload",))
    steps.run("webdav-download", download, needs=("webdav-upload",))
    steps.run("webdav-refused", webdav_refused)

    print(f"CalDAV {args.caldav_url} as {args.username}", flush=True)
    client = caldav.DAVClient(url=args.caldav_url, username=args.username, password=args.password,
                              timeout=TIMEOUT)

    def principal():
        found = client.principal()
        state["principal"] = found
        if urllib.parse.urlsplit(str(found.url)).path == urllib.parse.urlsplit(args.caldav_url).path:
            # The client found no current-user-principal and fell back to the
            # address itself. Say how the well-known address answers.
            response = httpx.request("PROPFIND", args.caldav_url, auth=(args.username, args.password),
                                     headers={"Depth": "0", "Content-Type": "application/xml"},
                                     content=CURRENT_USER_PRINCIPAL, timeout=TIMEOUT)
            hint = f"PROPFIND {args.caldav_url} answers {response.status_code}"
            if response.is_redirect:
                hint += (f" -> {response.headers.get('location')}; a client that follows a"
                         f" {response.status_code} re-sends PROPFIND without its body (only 307/308"
                         " keep it), and an empty PROPFIND (allprop) has no current-user-principal")
            raise Failed(f"the client found no current-user-principal and took {found.url} itself"
                         f" as the principal ({hint})")
        return str(found.url)

    def calendars():
        found = state["principal"].calendars()
        names = []
        for calendar in found:
            display = calendar.get_display_name()
            names.append((display, str(calendar.url)))
            if display == args.calendar:
                state["calendar"] = calendar
        require("calendar" in state,
                f"no calendar named {args.calendar!r} among {len(found)}: {names}")
        return f"{len(found)} calendars: " + ", ".join(f"{d!r} {u}" for d, u in names)

    def event():
        calendar = state["calendar"]
        uid = f"bundle-{RUN}@guss.test"
        summary = f"Mandantentermin {RUN}"
        start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)).replace(
            minute=0, second=0, microsecond=0)
        created = calendar.save_event(ics_event(uid, summary, start))
        state["event"] = created
        back = calendar.event_by_uid(uid)
        component = back.icalendar_component
        require(str(component["UID"]) == uid, f"read back UID {component['UID']}")
        require(str(component["SUMMARY"]) == summary, f"read back SUMMARY {component['SUMMARY']}")
        got_start = component.decoded("DTSTART")
        require(got_start == start, f"read back DTSTART {got_start}, wrote {start}")
        listed = [str(e.icalendar_component["UID"]) for e in calendar.events()]
        require(uid in listed, f"the event is not listed in the calendar ({len(listed)} events)")
        return f"{created.url} ({summary}, {start.isoformat()})"

    def caldav_refused():
        bad = caldav.DAVClient(url=args.caldav_url, username=args.username, password=args.password + "-wrong",
                               timeout=TIMEOUT)
        try:
            bad.principal()
        except caldav_error.AuthorizationError as e:
            status = status_of(e)
            require(status in (None, 401), f"a wrong password answered {status}, want 401")
            # The raw answer, to be sure it is 401 and not 403.
            response = httpx.request("PROPFIND", args.caldav_url, auth=wrong, headers={"Depth": "0"},
                                     timeout=TIMEOUT, follow_redirects=True)
            require(response.status_code == 401, f"PROPFIND with a wrong password answered {response.status_code}")
            return "principal lookup refused, PROPFIND 401"
        except caldav_error.DAVError as e:
            raise Failed(f"a wrong password gave {type(e).__name__} {status_of(e)}, want 401") from e
        raise Failed("a wrong password found the principal")

    steps.run("caldav-principal", principal)
    steps.run("caldav-calendars", calendars, needs=("caldav-principal",))
    steps.run("caldav-event", event, needs=("caldav-calendars",))
    steps.run("caldav-refused", caldav_refused)

    if args.submission_port and args.imap_port:
        mail_checks(args, steps)

    def cleanup():
        done = []
        if "event" in state:
            state["event"].delete()
            done.append("event")
        if "webdav-upload" not in steps.skip_rest:
            dav.remove(name)
            require(not dav.exists(name), f"{name} still exists after DELETE")
            done.append(name)
        return "deleted " + (", ".join(done) if done else "nothing")

    steps.run("cleanup", cleanup)

    total = steps.number
    print(f"clients: {total - steps.failed} passed, {steps.failed} failed", flush=True)
    return 1 if steps.failed else 0


if __name__ == "__main__":
    sys.exit(main())
