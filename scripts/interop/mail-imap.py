#!/usr/bin/env python3
"""IMAP interop for the mail-server example: Python's imaplib and
imapclient as real clients on --imap (STARTTLS) and --imaps (implicit TLS).

What runs (DOMAIN guss.test; anna, chef and ben, with anna as chef's
deputy under the guss-policy engine, `--deputy anna:chef`):

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
 (f) with imapclient: a message submitted over SMTP (submission, as
     anna) to chef is fetched by chef byte for byte behind the trace
     fields, and the copy she appends to Sent comes back unchanged; SEARCH by sender, subject and text; flags set and cleared;
     a draft appended, moved to Archive and expunged;
 (g) chef IDLEs on INBOX and is told at once of a message delivered over
     SMTP to the MX (the time it took is printed);
 (h) anna, as chef's deputy, sees "Other Users/chef/..." in LIST, opens
     chef's INBOX and flags a message; ben, without a grant, is refused;
     every step of the deputy is in the events (actor: the deputy);
 (i) the mailboxes, read back with --export, hold what the client saw.

Run:

    python3 scripts/interop/mail-imap.py [--backend sqlite|postgres-s3|...] [--bin PATH] [--keep]

Without --bin the example is built with cargo and the `imap` feature.
"""

import argparse
import contextlib
import imaplib
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import sys
import tempfile
import time

import mail_lib as lib  # the shared helpers, next to this script



DOMAIN = "guss.test"
USER, PASSWORD = "anna", "anna-mail-password"
ADDRESS = f"{USER}@{DOMAIN}"
MESSAGE = (b"From: Ben Berg <ben@remote.test>\r\nTo: anna@guss.test\r\n"
           b"Subject: Termin am Montag\r\nMessage-ID: <imap-1@remote.test>\r\n"
           b"Date: Mon, 2 Mar 2026 10:00:00 +0100\r\n\r\nMorgen um neun?\r\n")
DRAFT = b"From: anna@guss.test\r\nSubject: Entwurf\r\n\r\nNoch nicht fertig.\r\n"
CHEF, CHEF_PASSWORD = "chef", "chef-mail-password"
BEN, BEN_PASSWORD = "ben", "ben-mail-password"
SUBMITTED = (b"From: Anna <anna@guss.test>\r\nTo: chef@guss.test\r\n"
             b"Subject: Akte Meyer ./. Bau GmbH\r\nMessage-ID: <imap-2@guss.test>\r\n"
             b"Date: Tue, 3 Mar 2026 09:30:00 +0100\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
             + "Die Klageschrift ist fertig. Grüße, Anna\r\n".encode())
LATE = (b"From: Gericht <post@gericht.test>\r\nTo: chef@guss.test\r\nSubject: Ladung\r\n"
        b"Message-ID: <imap-3@gericht.test>\r\n\r\nTermin am 12. Maerz.\r\n")


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


def with_imapclient(server, imaps_port, events_path):
    from imapclient import IMAPClient

    def client(user, password):
        c = IMAPClient("127.0.0.1", port=imaps_port, ssl=True, ssl_context=unverified(), timeout=30)
        c.login(f"{user}@{DOMAIN}", password)
        # imapclient sends literals by what it learnt here (LITERAL+).
        check(b"IDLE" in c.capabilities(), f"imapclient: {user} logged in, IDLE offered")
        return c

    # (f) submitted over SMTP, fetched over IMAP
    with smtplib.SMTP("127.0.0.1", server.submission_port) as smtp:
        smtp.starttls(context=unverified())
        smtp.login(ADDRESS, PASSWORD)
        smtp.sendmail(ADDRESS, [f"{CHEF}@{DOMAIN}"], SUBMITTED)
    chef = client(CHEF, CHEF_PASSWORD)
    chef.select_folder("INBOX")
    uids = chef.search(["SUBJECT", "Meyer"])
    check(len(uids) == 1, "imapclient: SEARCH SUBJECT finds the submitted message")
    fetched = chef.fetch(uids, ["BODY.PEEK[]", "ENVELOPE", "FLAGS"])[uids[0]]
    body = fetched[b"BODY[]"]
    check(body.endswith(SUBMITTED) and len(body) > len(SUBMITTED),
          "imapclient: the message submitted over SMTP comes back byte for byte behind the trace fields")
    envelope = fetched[b"ENVELOPE"]
    check(envelope.subject == b"Akte Meyer ./. Bau GmbH" and envelope.from_[0].mailbox == b"anna"
          and envelope.message_id == b"<imap-2@guss.test>", "imapclient: ENVELOPE parsed")
    check(chef.search(["FROM", "anna@guss.test"]) == uids, "imapclient: SEARCH FROM")
    check(chef.search(["TEXT", "Klageschrift"]) == uids, "imapclient: SEARCH TEXT")
    check(chef.search(["BODY", "grüße", "UNSEEN"], charset="UTF-8") == uids,
          "imapclient: SEARCH BODY with UTF-8 (case-insensitive) and UNSEEN")
    check(chef.search(["SUBJECT", "nirgends"]) == [], "imapclient: SEARCH for what is not there")
    chef.add_flags(uids, [b"\\Seen", b"\\Flagged", b"$Wichtig"])
    flags = set(chef.get_flags(uids)[uids[0]])
    check({b"\\Seen", b"\\Flagged", b"$Wichtig"} <= flags, "imapclient: flags and a keyword set")
    chef.remove_flags(uids, [b"\\Flagged"])
    flags = set(chef.get_flags(uids)[uids[0]])
    check(b"\\Flagged" not in flags and b"\\Seen" in flags, "imapclient: a flag cleared, the others kept")
    check(chef.search(["KEYWORD", "$Wichtig"]) == uids, "imapclient: SEARCH KEYWORD")
    anna = client(USER, PASSWORD)
    # Mail clients keep their own copy of what they sent (the server does
    # not, or every client would find two).
    anna.append("Sent", SUBMITTED, flags=[b"\\Seen"])
    sent = anna.select_folder("Sent")
    sent_uids = anna.search(["HEADER", "Message-ID", "<imap-2@guss.test>"])
    check(len(sent_uids) == 1 and sent[b"EXISTS"] == 1, "imapclient: the client's copy is in Sent")
    copy = anna.fetch(sent_uids, ["BODY.PEEK[]"])[sent_uids[0]][b"BODY[]"]
    check(copy == SUBMITTED, "imapclient: APPEND keeps the message byte for byte")
    special = {name: flags for flags, _, name in anna.list_folders()}
    check(b"\\Drafts" in special.get("Drafts", ()), "imapclient: LIST with special use")
    result = anna.append("Drafts", DRAFT, flags=[b"\\Draft"])
    check(b"APPENDUID" in result, "imapclient: APPEND a draft")
    anna.select_folder("Drafts")
    drafts = anna.search(["SUBJECT", "Entwurf"])
    check(len(drafts) == 3, "imapclient: three drafts")
    check(anna.search(["DRAFT"]) == [drafts[0], drafts[2]], "imapclient: SEARCH DRAFT finds the two with \\Draft")
    anna.move(drafts[-1:], "Archive")
    check(len(anna.search(["ALL"])) == 2, "imapclient: MOVE to Archive")
    anna.select_folder("Archive")
    archived = anna.search(["SUBJECT", "Entwurf"])
    anna.set_flags(archived, [b"\\Deleted"])
    anna.uid_expunge(archived)
    check(anna.search(["SUBJECT", "Entwurf"]) == [], "imapclient: UID EXPUNGE removes it from Archive")

    # (g) IDLE told at once of mail delivered over SMTP
    chef.idle()
    started = time.monotonic()
    with smtplib.SMTP("127.0.0.1", server.smtp_port) as smtp:
        smtp.sendmail("post@gericht.test", [f"{CHEF}@{DOMAIN}"], LATE)
    responses = []
    while time.monotonic() - started < 25 and not any(r[1:] == (b"EXISTS",) for r in responses):
        responses += chef.idle_check(timeout=1)
    took = time.monotonic() - started
    chef.idle_done()
    check(any(r[1:] == (b"EXISTS",) and r[0] == 2 for r in responses),
          f"imapclient: IDLE pushes the delivery over SMTP ({took * 1000:.0f} ms after the SMTP dialogue began)")
    # A debug build on a busy machine may take seconds for the SMTP dialogue
    # and the delivery; the next poll would come only after 30 s.
    check(took < 10, "imapclient: ... at once, not at the next poll (30 s)")

    # (h) the deputy, and someone without a grant
    namespaces = anna.namespace()
    check(namespaces.other and namespaces.other[0][0] == "Other Users/", "imapclient: NAMESPACE names Other Users")
    folders = [name for _, _, name in anna.list_folders()]
    check("Other Users/chef/INBOX" in folders, "deputy: chef's INBOX is listed for anna")
    opened = anna.select_folder("Other Users/chef/INBOX")
    check(opened[b"EXISTS"] == 2 and opened.get(b"READ-WRITE") is True,
          "deputy: anna opens chef's INBOX")
    theirs = anna.search(["FROM", "gericht.test"])
    late = anna.fetch(theirs, ["BODY.PEEK[]"])[theirs[0]][b"BODY[]"]
    check(late.endswith(LATE), "deputy: the message delivered to chef, byte for byte")
    anna.add_flags(theirs, [b"\\Flagged"])
    check(b"\\Flagged" in chef.get_flags(theirs)[theirs[0]], "deputy: chef sees the flag anna set")
    ben = client(BEN, BEN_PASSWORD)
    check(not any(name.startswith("Other Users") for _, _, name in ben.list_folders()),
          "without a grant: ben sees nothing of chef's")
    try:
        ben.select_folder("Other Users/chef/INBOX")
        check(False, "without a grant: ben cannot open chef's INBOX")
    except IMAPClient.Error as e:
        check("NONEXISTENT" in str(e), f"without a grant: ben cannot open chef's INBOX ({e})")
    for c in (ben, anna, chef):
        c.logout()
    with open(events_path, "rb") as f:
        events = [json.loads(line) for line in f if b"guss.mail.delegated.access" in line]
    actions = [e["data"]["action"] for e in events]
    check(actions == ["select", "search", "read", "flags"], f"deputy: every step is an event ({actions})")
    # The actor reads "person:DEPUTY for person:REPRESENTED".
    check(all(e.get("actor", "").endswith(" for " + e["data"]["account"]) for e in events),
          "deputy: the events name anna as acting for chef")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", help="the mail-server example, built with the imap feature")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--backend", default="sqlite", choices=lib.BACKENDS)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    lib.exit_on_sigterm()
    lib.ensure_python_modules("imapclient")
    binary = args.bin or lib.build_example(features=["imap"])
    work = tempfile.mkdtemp(prefix="guss-mail-imap.")
    stack = contextlib.ExitStack()
    imap_port, imaps_port = lib.free_port(), lib.free_port()
    extra = lib.backend_args(args.backend, stack) + lib.dns_server_args(binary) + [
        "--imap", f"127.0.0.1:{imap_port}", "--imaps", f"127.0.0.1:{imaps_port}",
        "--user", f"{CHEF}:{CHEF_PASSWORD}", "--user", f"{BEN}:{BEN_PASSWORD}", "--deputy", f"{USER}:{CHEF}"]
    server = lib.MailServer(binary, work, DOMAIN, USER, PASSWORD, extra=extra)
    try:
        server.start()
        wait_port(imap_port)
        wait_port(imaps_port)
        scenario(server, imap_port, imaps_port)
        with_imapclient(server, imaps_port, os.path.join(server.data, "events.jsonl"))
        server.stop()
        # (f) what the store holds
        mail = server.export(os.path.join(work, "export"))
        archived = list(mail.get("Archive", {}).values())
        check(len(archived) == 1 and archived[0].endswith(MESSAGE), "--export: the moved message is in Archive")
        drafts = list(mail.get("Drafts", {}).values())
        check(drafts == [DRAFT, DRAFT], "--export: two drafts are in Drafts, byte for byte")
        chef_mail = server.export(os.path.join(work, "export-chef"), f"{CHEF}@{DOMAIN}")
        inbox = sorted(chef_mail.get("INBOX", {}).items())
        check(len(inbox) == 2 and inbox[0][1].endswith(SUBMITTED) and inbox[1][1].endswith(LATE),
              "--export: chef's INBOX holds both messages")
        print(f"mail-imap ({args.backend}): all checks passed")
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        raise
    finally:
        server.stop()
        stack.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
