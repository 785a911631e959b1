#!/usr/bin/env python3
"""SMTP interop for the mail-server example: swaks and Python's smtplib as
real clients on the MX port and the submission port, an aiosmtpd sink as
the relay, and every stored or relayed message compared byte for byte.

What runs (DOMAIN guss.test, one person anna@guss.test):

 (a) swaks delivers a message to anna on the MX port;
 (b) smtplib delivers tricky messages there: 8-bit UTF-8 body, lines of 997
     and 998 octets, a line that is only ".", lines starting with ".",
     trailing white space, many and folded header fields, a base64
     attachment, a message of a few MiB, a null reverse-path (a bounce),
     and with SMTPUTF8, if offered, UTF-8 header fields (RFC 6532); then
     10 messages at the same moment on 10 connections to bob@guss.test, who
     has had no mail yet (his mailboxes are made by the first delivery);
 (c) swaks and smtplib submit mail to max@remote.test with AUTH PLAIN, in
     clear on loopback and after STARTTLS (certificate not verified); it
     must reach the relay sink;
 (d) submissions to anna herself, and to anna and max at once, must land
     in anna's INBOX (and at the sink for max);
 (e) refusals: RCPT of an unknown local person 550, relaying through the
     MX port 5xx, AUTH with a wrong password 535, MAIL without AUTH on
     submission 530, a MAIL FROM or From: that is not anna's 5xx, a message
     over the advertised SIZE 552 (SIZE= parameter and real data).

Then the server is stopped and anna's (and bob's) mail is read with
--export: each message delivered must be in INBOX exactly once, as the exact bytes
sent with header fields put in front (a Received: among them); each
relayed message must be at the sink exactly once, the exact bytes
submitted with header fields put in front, among them a DKIM-Signature that
verifies (dkimpy) against the DKIM record the server printed on start. No
refused message may be stored or relayed, and nothing else may reach the
sink.

Run (mail-smtp.sh does the installing, building and backends):

    python3 scripts/interop/mail-smtp.py --bin PATH [--database URL] [--s3 URL] [--keep]

If the example has --dns-server, its SPF, DKIM and DMARC lookups go to a
local name server that answers NXDOMAIN (nothing leaves the machine).

Needs swaks (apt), aiosmtpd and dkimpy (pip). Exit status 0 when every
check passes.
"""

import argparse
import base64
import os
import random
import re
import select
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
from email.utils import formatdate

import mail_lib as lib  # the shared helpers, next to this script



DOMAIN = "guss.test"
USER, PASSWORD = "anna", "anna-mail-password"
ADDRESS = f"{USER}@{DOMAIN}"
BOB = f"bob@{DOMAIN}"                # a second person: gets no mail before the parallel burst
PARALLEL = 10
REMOTE = "max@remote.test"          # an external recipient: goes to the relay
SENDER = "sender@remote.test"       # an external sender on the MX port
TIMEOUT = 60                        # seconds for any one SMTP exchange
CRLF = b"\r\n"


class Checks:
    def __init__(self):
        self.results = []

    def __call__(self, name, ok, detail=""):
        self.results.append((name, bool(ok), detail))
        mark = "ok  " if ok else "FAIL"
        print(f"  {mark} {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def failed(self):
        return [r for r in self.results if not r[1]]


check = Checks()
message_id, build, simple, tricky, big, utf8_headers = (
    lib.new_message_id, lib.build, lib.simple, lib.tricky, lib.big, lib.utf8_headers)
unverified_tls = lib.unverified_tls


def smtp(port):
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.remote.test", timeout=TIMEOUT)
    s.ehlo()
    return s


def login_plain(s, user=ADDRESS, password=PASSWORD):
    """AUTH PLAIN, whatever else the server offers; returns (code, text)."""
    s.user, s.password = user, password
    try:
        code, text = s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as e:
        code, text = e.smtp_code, e.smtp_error
    return code, text.decode(errors="replace") if isinstance(text, bytes) else text


def transaction(s, mail_from, rcpts, msg, mail_options=()):
    """MAIL, RCPT..., DATA; returns (stage, code, text) of the first
    refusal, or ("done", 250, text)."""
    code, text = s.mail(mail_from, list(mail_options))
    if code != 250:
        return "MAIL", code, text.decode(errors="replace")
    accepted = 0
    last = None
    for rcpt in rcpts:
        code, text = s.rcpt(rcpt)
        if code in (250, 251):
            accepted += 1
        else:
            last = ("RCPT", code, text.decode(errors="replace"))
    if not accepted:
        s.rset()
        return last
    try:
        code, text = s.data(msg)
    except smtplib.SMTPDataError as e:
        return "DATA", e.smtp_code, e.smtp_error.decode(errors="replace")
    return ("DATA" if code != 250 else "done"), code, text.decode(errors="replace")


def swaks(port, mail_from, to, msg, workdir, tag, extra=()):
    """Sends `msg` with swaks; returns (exit status, transcript). swaks ends
    the data with CRLF . CRLF itself, so the file holds `msg` without its
    final CRLF."""
    assert msg.endswith(CRLF)
    path = os.path.join(workdir, f"swaks-{tag}.eml")
    with open(path, "wb") as f:
        f.write(msg[:-2])
    cmd = ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "client.remote.test",
           "--from", mail_from, "--to", to, "--data", "@" + path, "--timeout", str(TIMEOUT), *extra]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT * 2, check=False)
    return out.returncode, out.stdout.decode(errors="replace")


def swaks_failure(transcript):
    lines = [line for line in transcript.splitlines() if line.startswith(("<**", "<~*", "***"))]
    return "; ".join(lines[:3]) or transcript[-500:]


def oversize_data(port, limit, auth=False):
    """Sends a message of limit + 64 KiB without a SIZE parameter; returns
    the server's reply (code, text) to it, which may come before the end of
    the data."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    f = sock.makefile("rb")
    try:
        def cmd(line):
            sock.sendall(line.encode() + CRLF)
            return lib.read_reply(f)

        lib.read_reply(f)
        cmd("EHLO client.remote.test")
        if auth:
            token = base64.b64encode(f"\0{ADDRESS}\0{PASSWORD}".encode()).decode()
            cmd("AUTH PLAIN " + token)
        mail_from = ADDRESS if auth else SENDER
        rcpt = REMOTE if auth else ADDRESS
        for line in (f"MAIL FROM:<{mail_from}>", f"RCPT TO:<{rcpt}>"):
            code, text = cmd(line)
            if code != 250:
                return code, f"(at {line.split(':')[0]}) {text}"
        code, text = cmd("DATA")
        if code != 354:
            return code, f"(at DATA) {text}"
        head = build([("From", mail_from), ("To", rcpt), ("Subject", "too big"),
                      ("Message-ID", message_id("oversize-" + str(port)))], [])
        line = b"x" * 76 + CRLF
        chunk = line * 1024
        total = limit + 65536
        sent = 0
        pending = [head]
        sock.setblocking(False)
        while True:
            readable, writable, _ = select.select([sock], [sock], [], TIMEOUT)
            if readable:
                break  # an early reply
            if not writable:
                return None, "the server neither read nor answered for a minute"
            if not pending:
                if sent >= total:
                    pending = [b".\r\n"]
                    sent = -1
                elif sent == -1:
                    # everything is sent: wait for the reply only
                    readable, _, _ = select.select([sock], [], [], TIMEOUT)
                    break
                else:
                    pending = [chunk]
                    sent += len(chunk)
            try:
                n = sock.send(pending[0])
            except (BrokenPipeError, ConnectionResetError):
                break
            pending[0] = pending[0][n:]
            if not pending[0]:
                pending.pop(0)
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)
        try:
            return lib.read_reply(f)
        except (ConnectionError, OSError) as e:
            return None, f"no reply, the connection ended: {e}"
    finally:
        sock.close()


# ---------------------------------------------------------------- DKIM

def verify_dkim(raw, records):
    """(ok, detail): every DKIM-Signature of `raw` verifies against the TXT
    records the server printed."""
    try:
        import dkim
    except ImportError:
        return False, "dkimpy is missing (python3 -m pip install dkimpy pynacl)"
    txt = {name: rdata for name, rtype, rdata in records if rtype == "TXT"}

    def dnsfunc(name, timeout=5):
        key = (name.decode() if isinstance(name, bytes) else name).rstrip(".").lower()
        value = txt.get(key)
        return value.encode() if value is not None else None

    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    fields = re.findall(rb"^DKIM-Signature:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M | re.I)
    count = len(fields)
    if not count:
        return False, "no DKIM-Signature"
    results = []
    for idx in range(count):
        d = dkim.DKIM(raw)
        try:
            ok = d.verify(idx=idx, dnsfunc=dnsfunc)
        except Exception as e:  # dkimpy raises on malformed signatures and missing keys
            ok, why = False, f"{type(e).__name__}: {e}"
        else:
            why = "verifies" if ok else "does not verify"
        field = fields[idx] if idx < len(fields) else b""
        tags = dict(re.findall(rb"(?:^|;)\s*([a-z]+)\s*=\s*([^;]*)", re.sub(rb"\s+", b" ", field)))
        algorithm = tags.get(b"a", b"?").strip().decode(errors="replace")
        selector = tags.get(b"s", b"?").strip().decode(errors="replace")
        results.append((ok, f"{algorithm} s={selector} {why}"))
    return all(ok for ok, _ in results), "; ".join(text for _, text in results)


# ---------------------------------------------------------------- main

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the mail-server example")
    parser.add_argument("--database", help="postgres://... instead of SQLite")
    parser.add_argument("--s3", help="http://KEY:SECRET@HOST:PORT/BUCKET instead of local files")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    lib.exit_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    rng = random.Random(args.seed)
    lib.ensure_python_modules("aiosmtpd", "dkim", "nacl")
    if not shutil.which("swaks"):
        raise SystemExit("mail-smtp: swaks is missing (apt-get install swaks; mail-smtp.sh installs it)")
    extra = (["--database", args.database] if args.database else []) + (["--s3", args.s3] if args.s3 else [])
    backend = "+".join(["PostgreSQL" if args.database else "SQLite", "S3" if args.s3 else "files"])

    work = tempfile.mkdtemp(prefix="guss-mail-smtp.")
    sink = lib.Sink(os.path.join(work, "sink"))
    server = None
    try:
        sink.start()
        extra += lib.dns_server_args(args.bin) + ["--user", "bob:bob-mail-password"]
        server = lib.MailServer(args.bin, work, DOMAIN, USER, PASSWORD, relay_port=sink.port, extra=extra)
        try:
            seconds = server.start()
        except RuntimeError as e:
            print(server.log_tail(), file=sys.stderr)
            raise SystemExit(f"mail-smtp: the server did not start: {e}")
        print(f"mail-server up in {seconds:.1f} s on MX 127.0.0.1:{server.smtp_port}, "
              f"submission 127.0.0.1:{server.submission_port}, relay sink 127.0.0.1:{sink.port} ({backend})")
        Run(server, sink, rng, work).all()
    finally:
        if server is not None:
            server.stop()
        sink.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)

    failed = check.failed()
    print(f"mail-smtp ({backend}): {len(check.results) - len(failed)} of {len(check.results)} checks passed"
          + (f"; failed: {', '.join(name for name, _, _ in failed)}" if failed else ""))
    return 1 if failed else 0


class Run:
    """The checks in order; each section is a method, and an exception in
    one (a protocol error, a dropped connection) fails that section only."""

    def __init__(self, server, sink, rng, work):
        self.server, self.sink, self.rng, self.work = server, sink, rng, work
        self.mx, self.sub = server.smtp_port, server.submission_port
        self.records = []
        self.inbound = {}     # tag -> bytes that must be in anna's INBOX once
        self.inbound_bob = {}  # the same for bob
        self.outbound = {}    # tag -> (bytes, envelope recipients) that must reach the sink once
        self.refused = []     # Message-IDs that must be nowhere
        self.at_sink = {}
        self.mx_features, self.sub_features = {}, {}
        self.size_limit = self.sub_size_limit = None

    def all(self):
        for section in (self.dns, self.extensions, self.a_swaks_inbound, self.b_smtplib_inbound,
                        self.b_parallel_first_delivery,
                        self.c_submission_relay, self.d_submission_local, self.e_refusals_rcpt,
                        self.e_refusals_auth, self.e_refusals_sender, self.e_refusals_size,
                        self.relayed, self.stored):
            try:
                section()
            except Exception as e:  # noqa: BLE001 - reported as a failed check
                where = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__][-1]
                check(f"{section.__name__} ran to its end", False,
                      f"{type(e).__name__}: {e} (mail-smtp.py line {where.lineno}: {where.line})")

    def dns(self):
        self.records = records = self.server.records()
        print("DNS records printed on start:")
        for name, rtype, rdata in records:
            print(f"    {name} {rtype} {rdata[:100]}{'...' if len(rdata) > 100 else ''}")
        check("the DNS records are printed in zone-file syntax", records, f"{len(records)} records")
        check("an MX record for the domain", any(r[1] == "MX" and r[0] == DOMAIN for r in records))
        check("an SPF record (TXT v=spf1) for the domain",
              any(r[1] == "TXT" and r[0] == DOMAIN and r[2].startswith("v=spf1") for r in records))
        check("a DKIM key record (TXT under _domainkey)",
              any(r[1] == "TXT" and "._domainkey." in r[0] and "p=" in r[2] for r in records))
        check("a DMARC record (TXT _dmarc v=DMARC1)",
              any(r[1] == "TXT" and r[0] == f"_dmarc.{DOMAIN}" and r[2].startswith("v=DMARC1") for r in records))

    def extensions(self):
        print("EHLO:")
        s = smtp(self.mx)
        mx = self.mx_features = dict(s.esmtp_features)
        s.quit()
        s = smtp(self.sub)
        sub = self.sub_features = dict(s.esmtp_features)
        tls = {}
        if "starttls" in sub:
            s.starttls(context=unverified_tls())
            s.ehlo()
            tls = dict(s.esmtp_features)
        s.quit()
        print(f"    MX: {' '.join(sorted(mx))}")
        print(f"    submission: {' '.join(sorted(sub))}")
        print(f"    submission after STARTTLS: {' '.join(sorted(tls))}")
        for port_name, features in (("MX", mx), ("submission", sub)):
            check(f"{port_name} offers 8BITMIME (RFC 6152)", "8bitmime" in features)
            check(f"{port_name} offers SIZE with a limit (RFC 1870)", features.get("size", "").strip().isdigit(),
                  features.get("size", "not offered"))
            check(f"{port_name} offers PIPELINING (RFC 2920)", "pipelining" in features)
        if "auth" in mx:
            print(f"    (the MX port offers AUTH {mx['auth']})")
        check("submission offers STARTTLS", "starttls" in sub)
        check("submission offers AUTH PLAIN in clear on loopback", "PLAIN" in sub.get("auth", "").upper().split())
        check("submission offers AUTH PLAIN after STARTTLS", "PLAIN" in tls.get("auth", "").upper().split())
        if mx.get("size", "").strip().isdigit():
            self.size_limit = int(mx["size"])
        if sub.get("size", "").strip().isdigit():
            self.sub_size_limit = int(sub["size"])

    def a_swaks_inbound(self):
        print("(a) swaks delivers to the MX port:")
        msg = simple("swaks-in", SENDER, ADDRESS, "hello from swaks", "Hi Anna,\nthis came by swaks.\n-- \nsender")
        rc, transcript = swaks(self.mx, SENDER, ADDRESS, msg, self.work, "in")
        if check("swaks: 250 for a message to anna", rc == 0, "" if rc == 0 else swaks_failure(transcript)):
            self.inbound["swaks-in"] = msg

    def b_smtplib_inbound(self):
        print("(b) smtplib delivers tricky content to the MX port:")
        options = ["BODY=8BITMIME"] if "8bitmime" in self.mx_features else []
        cases = [("tricky", tricky("tricky", SENDER, ADDRESS, self.rng), SENDER, options)]
        big_size = 3 << 20
        if self.size_limit:
            big_size = min(big_size, self.size_limit // 2)
        cases.append(("big", big("big", SENDER, ADDRESS, big_size, self.rng), SENDER, []))
        cases.append(("bounce", simple("bounce", "MAILER-DAEMON@remote.test", ADDRESS, "Undelivered Mail",
                                       "A bounce comes with a null reverse-path (RFC 5321 4.5.5)."), "", []))
        if "smtputf8" in self.mx_features:
            cases.append(("utf8-headers", utf8_headers("utf8-headers", SENDER, ADDRESS), SENDER,
                          ["SMTPUTF8", "BODY=8BITMIME"]))
        else:
            print("    (no SMTPUTF8 on the MX port: the message with UTF-8 header fields is not sent)")
        s = smtp(self.mx)
        for tag, msg, mail_from, opts in cases:
            stage, code, text = transaction(s, mail_from, [ADDRESS], msg, opts)
            if check(f"smtplib: 250 for the {tag} message ({len(msg)} bytes)", stage == "done",
                     "" if stage == "done" else f"{code} at {stage}: {text}"):
                self.inbound[tag] = msg
        s.quit()

        s = smtp(self.mx)
        s.mail(SENDER)
        code, text = s.rcpt(f"{USER}@{DOMAIN.upper()}")
        check("RCPT with the domain in capitals is accepted (RFC 5321 2.4)", code == 250,
              f"{code} {text.decode(errors='replace')}")
        s.rset()
        results = []
        for tag in ("seq-1", "seq-2"):
            msg = simple(tag, SENDER, ADDRESS, "one connection", tag)
            stage, code, text = transaction(s, SENDER, [ADDRESS], msg)
            results.append(f"{code} at {stage}")
            if stage == "done":
                self.inbound[tag] = msg
        check("two transactions on one connection after RSET: 250, 250", results == ["250 at done"] * 2,
              ", ".join(results))
        s.quit()

    def b_parallel_first_delivery(self):
        print(f"(b) {PARALLEL} messages at once on {PARALLEL} connections to bob, who has no mail yet:")
        import threading
        barrier = threading.Barrier(PARALLEL)
        results = [None] * PARALLEL
        messages = [simple(f"parallel-{i}", SENDER, BOB, "at the same time", f"message {i}") for i in range(PARALLEL)]

        def deliver(i):
            try:
                s = smtp(self.mx)
                s.mail(SENDER)
                s.rcpt(BOB)
                barrier.wait(30)
                code, text = s.data(messages[i])
                results[i] = f"{code} {text.decode(errors='replace')}"
                s.quit()
            except Exception as e:  # noqa: BLE001 - reported below
                results[i] = f"{type(e).__name__}: {e}"

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(PARALLEL)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        bad = [f"#{i}: {r}" for i, r in enumerate(results) if not (r or "").startswith("250")]
        check(f"{PARALLEL} simultaneous first deliveries to bob: all 250", not bad, "; ".join(bad[:3]))
        for i, r in enumerate(results):
            if (r or "").startswith("250"):
                self.inbound_bob[f"parallel-{i}"] = messages[i]

    def c_submission_relay(self):
        print("(c) submission with AUTH PLAIN to an external address (to the relay):")
        auth = ["--auth", "PLAIN", "--auth-user", ADDRESS, "--auth-password", PASSWORD]
        for tag, extra, how in (("swaks-clear", [], "in clear"), ("swaks-tls", ["--tls"], "after STARTTLS")):
            msg = simple(tag, ADDRESS, REMOTE, f"swaks submission {how}", f"Hi Max,\nsent {how}.", DOMAIN)
            rc, transcript = swaks(self.sub, ADDRESS, REMOTE, msg, self.work, tag, auth + extra)
            if check(f"swaks AUTH PLAIN {how}: 250", rc == 0, "" if rc == 0 else swaks_failure(transcript)):
                self.outbound[tag] = (msg, [REMOTE])
        options = ["BODY=8BITMIME"] if "8bitmime" in self.sub_features else []
        for tag, tls, how in (("smtplib-clear", False, "in clear"), ("smtplib-tls", True, "after STARTTLS")):
            s = smtp(self.sub)
            if tls:
                s.starttls(context=unverified_tls())
                s.ehlo()
            code, text = login_plain(s)
            if not check(f"smtplib AUTH PLAIN {how}: 235", code == 235, f"{code} {text}"):
                s.quit()
                continue
            if tls:
                msg, opts = tricky(tag, ADDRESS, REMOTE, self.rng), options
            else:
                msg, opts = simple(tag, ADDRESS, REMOTE, "smtplib", "Hi Max.", DOMAIN), []
            stage, code, text = transaction(s, ADDRESS, [REMOTE], msg, opts)
            if check(f"smtplib submission {how} ({len(msg)} bytes): 250", stage == "done",
                     f"{code} at {stage}: {text}"):
                self.outbound[tag] = (msg, [REMOTE])
            s.quit()

        # Implicit TLS from the first byte (RFC 8314), as on port 465.
        tag = "smtplib-implicit-tls"
        s = None
        for _ in range(50):
            try:
                s = smtplib.SMTP_SSL("127.0.0.1", self.server.submissions_port, local_hostname="client.remote.test",
                                     timeout=TIMEOUT, context=unverified_tls())
                break
            except (ConnectionRefusedError, ssl.SSLError):
                time.sleep(0.1)
        if check("implicit TLS on the submissions port: connected", s is not None):
            s.ehlo()
            code, text = login_plain(s)
            if check("smtplib AUTH PLAIN inside implicit TLS: 235", code == 235, f"{code} {text}"):
                msg = simple(tag, ADDRESS, REMOTE, "implicit TLS", "Hi Max, sent over port 465's kind of TLS.", DOMAIN)
                stage, code, text = transaction(s, ADDRESS, [REMOTE], msg)
                if check("smtplib submission inside implicit TLS: 250", stage == "done", f"{code} at {stage}: {text}"):
                    self.outbound[tag] = (msg, [REMOTE])
            s.quit()

    def d_submission_local(self):
        print("(d) submission to a local person:")
        s = smtp(self.sub)
        s.starttls(context=unverified_tls())
        s.ehlo()
        login_plain(s)
        msg = simple("local", ADDRESS, ADDRESS, "a note to myself", "Submitted to myself.", DOMAIN)
        stage, code, text = transaction(s, ADDRESS, [ADDRESS], msg)
        if check("submission to anna herself: 250", stage == "done", f"{code} at {stage}: {text}"):
            self.inbound["local"] = msg
        msg = build([("From", ADDRESS), ("To", f"{ADDRESS}, {REMOTE}"), ("Subject", "to both"),
                     ("Date", formatdate(localtime=False)), ("Message-ID", message_id("mixed", DOMAIN))],
                    ["One local and one external recipient."])
        stage, code, text = transaction(s, ADDRESS, [ADDRESS, REMOTE], msg)
        if check("submission to anna and max at once: 250", stage == "done", f"{code} at {stage}: {text}"):
            self.inbound["mixed"] = msg
            self.outbound["mixed"] = (msg, [REMOTE])
        s.quit()

    def e_refusals_rcpt(self):
        print("(e) refusals:")
        s = smtp(self.mx)
        s.mail(SENDER)
        code, text = s.rcpt(f"nobody@{DOMAIN}")
        check("MX: RCPT of an unknown local person: 550", code == 550, f"{code} {text.decode(errors='replace')}")
        code, text = s.rcpt(REMOTE)
        check("MX: no relaying to a foreign domain without AUTH: 5xx at RCPT", 500 <= code < 600,
              f"{code} {text.decode(errors='replace')}")
        s.rset()
        msg = simple("partly", SENDER, ADDRESS, "one good recipient of two", "For anna; nobody does not exist.")
        s.mail(SENDER)
        c1, _ = s.rcpt(ADDRESS)
        c2, _ = s.rcpt(f"nobody@{DOMAIN}")
        try:
            code, _ = s.data(msg) if c1 == 250 else (c1, b"")
        except smtplib.SMTPDataError as e:
            code = e.smtp_code
        if check("MX: RCPT anna 250, RCPT nobody 550, DATA 250", (c1, c2, code) == (250, 550, 250),
                 f"{c1}, {c2}, {code}"):
            self.inbound["partly"] = msg
        s.quit()

    def e_refusals_auth(self):
        for user, password, what in ((ADDRESS, "not-the-password", "with a wrong password"),
                                     (f"nobody@{DOMAIN}", PASSWORD, "as an unknown person")):
            s = smtp(self.sub)
            code, text = login_plain(s, user, password)
            check(f"submission: AUTH PLAIN {what}: 535", code == 535, f"{code} {text}")
            s.quit()

        s = smtp(self.sub)
        code, text = s.mail(ADDRESS)
        stage = "MAIL"
        if code == 250:
            code, text = s.rcpt(REMOTE)
            stage = "RCPT"
        check("submission: MAIL without AUTH: 530", code == 530,
              f"{code} at {stage}: {text.decode(errors='replace')}")
        s.quit()

    def e_refusals_sender(self):
        for tag, mail_from, header_from in (("spoof-mailfrom-foreign", "boss@remote.test", ADDRESS),
                                            ("spoof-mailfrom-local", f"ceo@{DOMAIN}", ADDRESS),
                                            ("spoof-from-header-local", ADDRESS, f"ceo@{DOMAIN}"),
                                            ("spoof-from-header-foreign", ADDRESS, "boss@remote.test")):
            s = smtp(self.sub)
            login_plain(s)
            msg = simple(tag, header_from, REMOTE, "not from anna", "This must not go out.", DOMAIN)
            self.refused.append(lib.message_id(msg))
            stage, code, text = transaction(s, mail_from, [REMOTE], msg)
            what = "MAIL FROM" if tag.startswith("spoof-mailfrom") else "From:"
            where = "a foreign" if tag.endswith("foreign") else "another local"
            check(f"submission: {what} of {where} address: 5xx", stage != "done" and 500 <= code < 600,
                  f"{code} at {stage}: {text}")
            s.quit()

    def e_refusals_size(self):
        for name, port, limit, auth in (("MX", self.mx, self.size_limit, False),
                                        ("submission", self.sub, self.sub_size_limit, True)):
            if not limit:
                continue
            s = smtp(port)
            if auth:
                login_plain(s)
            code, text = s.mail(ADDRESS if auth else SENDER, [f"SIZE={limit + 1}"])
            check(f"{name}: MAIL FROM with SIZE={limit + 1} (over the limit): 552", code == 552,
                  f"{code} {text.decode(errors='replace')}")
            s.quit()
            if limit > 256 << 20:
                print(f"    (the {name} limit is {limit} bytes: no oversize data sent)")
                continue
            self.refused.append(message_id("oversize-" + str(port)))
            code, text = oversize_data(port, limit, auth)
            check(f"{name}: {limit + 65536} bytes of data without SIZE=: 552", code == 552, f"{code} {text}")

    def relayed(self):
        print(f"waiting for {len(self.outbound)} messages at the relay sink:")
        wanted = {lib.message_id(msg) for msg, _ in self.outbound.values()}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if wanted <= {lib.message_id(raw) for _, raw in self.sink.messages().values()}:
                break
            time.sleep(0.2)
        time.sleep(2)  # late duplicates and strays
        at_sink = self.at_sink = self.sink.messages()
        raws = {name: raw for name, (_, raw) in at_sink.items()}
        for tag, (msg, rcpts) in self.outbound.items():
            ok, detail = lib.compare(raws, msg, "the sink")
            check(f"relayed {tag}: exactly once, submitted bytes intact", ok, detail)
            if not ok:
                continue
            name = lib.find_sent(raws, msg)[0][0]
            envelope, raw = at_sink[name]
            check(f"relayed {tag}: envelope MAIL FROM anna, RCPT TO max only",
                  envelope.get("mail_from") == ADDRESS and envelope.get("rcpt_tos") == rcpts,
                  f"MAIL FROM {envelope.get('mail_from')}, RCPT TO {envelope.get('rcpt_tos')}")
            prefix = lib.prepended(raw, msg)
            check(f"relayed {tag}: a DKIM-Signature put in front", "dkim-signature" in lib.header_names(prefix),
                  ", ".join(lib.header_names(prefix)))
            ok, detail = verify_dkim(raw, self.records)
            check(f"relayed {tag}: DKIM verifies with the printed record (dkimpy)", ok, detail)
        strays = [f"{name}: MAIL FROM <{envelope.get('mail_from')}> to {envelope.get('rcpt_tos')}, "
                  f"Message-ID {lib.message_id(raw)}"
                  for name, (envelope, raw) in at_sink.items() if lib.message_id(raw) not in wanted]
        check("nothing else reached the sink", not strays, "; ".join(strays))

    def stored(self):
        print("stopping the server and reading anna's mail with --export:")
        self.server.stop()
        boxes = self.server.export(os.path.join(self.work, "export"))
        print("    " + (", ".join(f"{box}: {len(m)}" for box, m in sorted(boxes.items())) or "nothing exported"))
        inbox = lib.inbox_of(boxes)
        check("--export wrote an INBOX", inbox, ", ".join(sorted(boxes)) or "nothing")
        for tag, msg in self.inbound.items():
            ok, detail = lib.compare(inbox, msg, "INBOX")
            check(f"stored {tag}: exactly once in INBOX, bytes intact", ok, detail)
            if ok:
                prefix = lib.prepended(inbox[lib.find_sent(inbox, msg)[0][0]], msg)
                check(f"stored {tag}: a Received: trace field in front (RFC 5321 4.4)",
                      "received" in lib.header_names(prefix), ", ".join(lib.header_names(prefix)))
        if self.inbound_bob:
            bob = lib.inbox_of(self.server.export(os.path.join(self.work, "export-bob"), BOB))
            ok = [tag for tag, msg in self.inbound_bob.items() if lib.compare(bob, msg, "bob's INBOX")[0]]
            bad = [f"{tag}: {lib.compare(bob, msg, 'INBOX')[1]}" for tag, msg in self.inbound_bob.items()
                   if tag not in ok]
            check(f"bob's {len(self.inbound_bob)} acknowledged messages: each once in his INBOX, bytes intact",
                  not bad, "; ".join(bad[:3]) or f"{len(bob)} in INBOX")
        everything = {f"{box}/{uid}": raw for box, m in boxes.items() for uid, raw in m.items()}
        everything.update({f"sink/{name}": raw for name, (_, raw) in self.at_sink.items()})
        for mid in self.refused:
            where = [key for key, raw in everything.items() if mid and mid.encode() in raw]
            check(f"refused {mid} is neither stored nor relayed", not where, ", ".join(where))


if __name__ == "__main__":
    sys.exit(main())
