#!/usr/bin/env python3
"""IMAP interop for the mail-server example: Python's imaplib as a real
client on --imap (STARTTLS) and --imaps (implicit TLS).

What runs (DOMAIN guss.test, one person anna@guss.test):

 (a) a message delivered over SMTP to the MX shows up in INBOX;
 (b) STARTTLS (certificate not verified), then a wrong password is
     refused and the right one works (the example allows LOGIN without TLS
     only from loopback, which this run cannot show);
 (c) LIST shows the special-use mailboxes; SELECT, FETCH of flags, size,
     envelope and the whole message (byte for byte, with the header fields
     the MX put in front), header fields and a partial;
 (d) APPEND to Drafts (APPENDUID), STORE, SEARCH, COPY and MOVE (COPYUID),
     EXPUNGE, CREATE/RENAME/DELETE, STATUS;
 (e) a second connection over implicit TLS IDLEs and is told of a new
     message appended by the first;
 (f) the mailboxes, read back with --export, hold what the client saw.

Run:

    python3 scripts/interop/mail-imap.py [--bin PATH] [--keep]

Without --bin the example is built with cargo and the `imap` feature.
"""

import argparse
import imaplib
import importlib.util
import os
import re
import shutil
import smtplib
import socket
import ssl
import sys
import tempfile
import time


def load_mail_lib():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mail-lib.py")
    spec = importlib.util.spec_from_file_location("mail_lib", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lib = load_mail_lib()

DOMAIN = "guss.test"
USER, PASSWORD = "anna", "anna-mail-password"
ADDRESS = f"{USER}@{DOMAIN}"
MESSAGE = (b"From: Ben Berg <ben@remote.test>\r\nTo: anna@guss.test\r\n"
           b"Subject: Termin am Montag\r\nMessage-ID: <imap-1@remote.test>\r\n"
           b"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\nMorgen um neun?\r\n")
DRAFT = b"From: anna@guss.test\r\nSubject: Entwurf\r\n\r\nNoch nicht fertig.\r\n"


def check(condition, what):
    if not condition:
        raise SystemExit(f"mail-imap: FAILED: {what}")
    print(f"ok: {what}")


def ok(result, what):
    typ, data = result
    check(typ == "OK", f"{what} ({typ} {data!r})")
    return data


def wait_port(port, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"mail-imap: nothing listens on {port}")


def unverified():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def scenario(server, imap_port, imaps_port):
    # (a) one message over SMTP
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        smtp.sendmail("ben@remote.test", [ADDRESS], MESSAGE)

    # (b) STARTTLS, a wrong password, the right one
    m = imaplib.IMAP4("127.0.0.1", imap_port)
    check("STARTTLS" in m.capabilities, "STARTTLS is offered")
    ok(m.starttls(unverified()), "STARTTLS")
    check("STARTTLS" not in m.capabilities, "STARTTLS is not offered twice")
    try:
        m.login(ADDRESS, "wrong")
        check(False, "a wrong password is refused")
    except imaplib.IMAP4.error:
        check(True, "a wrong password is refused")
    ok(m.login(ADDRESS, PASSWORD), "LOGIN after STARTTLS")

    # (c) LIST, SELECT, FETCH
    listing = b"\n".join(ok(m.list(), "LIST"))
    for use, name in [(b"\\Sent", b"Sent"), (b"\\Drafts", b"Drafts"), (b"\\Trash", b"Trash"),
                      (b"\\Junk", b"Junk"), (b"\\Archive", b"Archive")]:
        check(use in listing and b'"' + name + b'"' in listing, f"LIST shows {name.decode()} as {use.decode()}")
    exists = ok(m.select("INBOX"), "SELECT INBOX")
    check(exists == [b"1"], "INBOX holds the delivered message")
    data = ok(m.fetch("1", "(FLAGS RFC822.SIZE ENVELOPE)"), "FETCH FLAGS RFC822.SIZE ENVELOPE")
    line = data[0]
    check(b"FLAGS ()" in line, "a new message has no flags")
    check(b'"Termin am Montag"' in line and b'("Ben Berg" NIL "ben" "remote.test")' in line,
          "ENVELOPE has subject and sender")
    data = ok(m.uid("FETCH", "1", "(BODY.PEEK[])"), "UID FETCH BODY.PEEK[]")
    body = data[0][1]
    check(body.endswith(MESSAGE), "the message comes back byte for byte (after the MX's header fields)")
    size = int(re.search(rb"RFC822\.SIZE (\d+)", line).group(1))
    check(size == len(body), "RFC822.SIZE is the size of what FETCH returns")
    data = ok(m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.6>)"), "FETCH sections")
    check(data[0][1] == b"Subject: Termin am Montag\r\n\r\n", "HEADER.FIELDS (SUBJECT)")
    check(data[1][1] == b"Morgen", "TEXT<0.6>")
    data = ok(m.fetch("1", "(FLAGS)"), "FETCH FLAGS after PEEK")
    check(b"\\Seen" not in data[0], "PEEK leaves \\Seen unset")

    # (d) APPEND, STORE, SEARCH, COPY, MOVE, EXPUNGE, mailboxes
    data = ok(m.append("Drafts", "(\\Draft)", None, DRAFT), "APPEND to Drafts")
    check(b"APPENDUID" in data[0], "APPEND answers APPENDUID")
    ok(m.store("1", "+FLAGS", "(\\Flagged)"), "STORE +FLAGS")
    check(ok(m.search(None, "FLAGGED"), "SEARCH FLAGGED") == [b"1"], "SEARCH FLAGGED finds it")
    check(ok(m.search(None, "SUBJECT", "montag"), "SEARCH SUBJECT") == [b"1"], "SEARCH SUBJECT is case-insensitive")
    check(ok(m.search(None, "UNFLAGGED"), "SEARCH UNFLAGGED") == [b""], "SEARCH UNFLAGGED finds nothing")
    ok(m.create("Akten"), "CREATE Akten")
    data = ok(m.copy("1", "Akten"), "COPY to Akten")
    check(b"COPYUID" in data[0], "COPY answers COPYUID")
    ok(m.rename("Akten", "Mandate"), "RENAME Akten Mandate")
    status = ok(m.status("Mandate", "(MESSAGES UNSEEN)"), "STATUS Mandate")
    check(b"MESSAGES 1" in status[0], "STATUS counts the copy")
    ok(m._simple_command("MOVE", "1", "Archive"), "MOVE to Archive")
    check(ok(m.search(None, "ALL"), "SEARCH ALL") == [b""], "INBOX is empty after MOVE")
    ok(m.select("Mandate"), "SELECT Mandate")
    ok(m.store("1", "+FLAGS", "(\\Deleted)"), "STORE \\Deleted")
    data = ok(m.expunge(), "EXPUNGE")
    check(data == [b"1"], "EXPUNGE reports the message")
    ok(m.close(), "CLOSE")
    ok(m.delete("Mandate"), "DELETE Mandate")

    # (e) IDLE over implicit TLS
    n = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=unverified())
    ok(n.login(ADDRESS, PASSWORD), "LOGIN over implicit TLS")
    ok(n.select("Drafts"), "SELECT Drafts")
    tag = n._new_tag().decode()
    n.send(f"{tag} IDLE\r\n".encode())
    check(n.readline().startswith(b"+"), "IDLE is accepted")
    ok(m.append("Drafts", None, None, DRAFT), "APPEND during IDLE")
    n.sock.settimeout(10)
    pushed = n.readline()
    check(pushed == b"* 2 EXISTS\r\n", f"IDLE pushes the new message ({pushed!r})")
    n.send(b"DONE\r\n")
    check(n.readline().startswith(f"{tag} OK".encode()), "DONE ends IDLE")
    n.logout()
    m.logout()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", help="the mail-server example, built with the imap feature")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    binary = args.bin or lib.build_example(features=["imap"])
    work = tempfile.mkdtemp(prefix="guss-mail-imap.")
    imap_port, imaps_port = lib.free_port(), lib.free_port()
    extra = lib.dns_server_args(binary) + ["--imap", f"127.0.0.1:{imap_port}", "--imaps", f"127.0.0.1:{imaps_port}"]
    server = lib.MailServer(binary, work, DOMAIN, USER, PASSWORD, extra=extra)
    try:
        server.start()
        wait_port(imap_port)
        wait_port(imaps_port)
        scenario(server, imap_port, imaps_port)
        server.stop()
        # (f) what the store holds
        mail = server.export(os.path.join(work, "export"))
        archived = list(mail.get("Archive", {}).values())
        check(len(archived) == 1 and archived[0].endswith(MESSAGE), "--export: the moved message is in Archive")
        drafts = list(mail.get("Drafts", {}).values())
        check(drafts == [DRAFT, DRAFT], "--export: both drafts are in Drafts, byte for byte")
        print("mail-imap: all checks passed")
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
