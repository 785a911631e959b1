#!/usr/bin/env python3
"""IMAP benchmark: the mail-server example's IMAP listener (release build)
against a private Dovecot on this machine, in the same run, with the same
mailbox content and the same client, reported as ratios guss/Dovecot.

Each round starts both servers afresh (empty data directories; which one
goes first alternates between rounds) and runs, on each:

  APPEND      --messages messages (about 4 KiB each, generated from --seed:
              varied senders, subjects and bodies) appended to INBOX over
              one connection, synchronizing literals, one command at a time
  FETCH one   UID FETCH uid (FLAGS ENVELOPE BODY.PEEK[]) for every message,
              one command at a time; each body is checked byte for byte
  FETCH bulk  FETCH 1:* (FLAGS ENVELOPE), --bulk-repeats times
  STORE       UID STORE uid +FLAGS (\\Flagged) for every message, then
              UID STORE uid -FLAGS (\\Flagged), one command at a time
  cycles      --cycles times: a new TCP connection, LOGIN, SELECT INBOX
              (holding the messages), LOGOUT
  idle        --idle logged-in connections (10 per person, so that neither
              server's per-person session limit applies), each with its
              INBOX (empty) selected and in IDLE; the server's memory before
              and after, per session, and the CPU time the server uses over
              5 s while they idle. guss: the PSS (and VmRSS) of its one
              process; Dovecot: the PSS summed over its master process and
              every process below it (it forks a process per session, so
              summed RSS would count shared pages many times)

Every command's answer is checked; a NO, BAD, BYE, missing data or a
timeout (--timeout) ends the run with status 1 and the exact command and
answer. The client is Python's imaplib (its connection, greeting and LOGIN;
the commands themselves are sent and read with a thin loop of our own, the
same for both servers), one command at a time, on loopback.

Dovecot: `dovecot -F -c CONF` with a config of its own in a temp dir
(listen 127.0.0.1 on a free port, ssl = no, plain LOGIN allowed, passdb and
userdb from a passwd-file with {SHA256} passwords, Maildir under the temp
dir, base_dir and state_dir there too, no chroot, Dovecot's defaults
otherwise: mail_fsync = optimized). It runs as the invoking user; when that
is root, whom Dovecot refuses for login and mail processes, as Debian's
`dovenull` (login) and `dovecot` (everything else, and the mail files).

Run:

    cargo build --release -p guss-mail --features imap --example mail-server
    scripts/bench/mail-imap.py --bin target/release/examples/mail-server [--rounds 3]

or scripts/bench/mail-imap.sh, which installs Dovecot first if it is
missing. Without --bin the example is built (cargo build --release
--features imap, wherever the caller's cargo puts it). --backend postgres
puts the example's metadata in a private PostgreSQL cluster (whose memory
the idle measure does not count).
"""

import argparse
import base64
import contextlib
import hashlib
import imaplib
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

DOMAIN = "bench.test"
USER = "anna"
PASSWORD = "bench-imap-password"
IDLE_PER_PERSON = 10
IDLE_WINDOW = 5.0  # seconds over which the CPU use of idle sessions is taken
LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
EXISTS = re.compile(rb"^\* (\d+) EXISTS\r\n$")
BODY_LITERAL = re.compile(rb"BODY\[\] \{(\d+)\}\r\n$")


# The interop scripts' shared helpers.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "interop"))
import mail_lib as lib  # noqa: E402


class Failure(Exception):
    """A command that did not do what it should: ends the run."""


# ---------------------------------------------------------------- messages

FIRST = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannes", "Ines", "Jonas",
         "Katrin", "Lukas", "Marie", "Nils", "Olga", "Paul", "Rosa", "Stefan", "Tanja", "Uwe"]
LAST = ["Berg", "Fischer", "Hoffmann", "Klein", "Lange", "Meyer", "Neumann", "Richter", "Schmidt",
        "Schulz", "Wagner", "Weber", "Winter", "Zimmermann"]
DOMAINS = ["kanzlei-berg.example", "steuer-partner.example", "praxis-nord.example", "mail.example",
           "buero24.example", "verein-am-see.example"]
SUBJECTS = ["Termin am {day}", "Rechnung {n}", "Re: Angebot {n}", "Fwd: Unterlagen {name}",
            "Protokoll der Sitzung vom {date}", "Frage zu Akte {n}", "Urlaubsvertretung {day}",
            "Re: Re: Vertragsentwurf {name}", "Erinnerung: Frist {date}", "Bewerbung {name}",
            "=?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_{city}?=", "Lieferung {n} versandt"]
DAYS = ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"]
CITIES = ["Koeln", "Leipzig", "Kiel", "Passau", "Bremen"]
WORDS = ("anbei bitte danke die der das und mit fuer den Unterlagen Termin Woche Akte Frist Angebot "
         "Rechnung Vertrag Kunde naechste gerne wieder kurz Rueckmeldung Entwurf Besprechung noch heute "
         "morgen Uhr Buero Anlage Stand offen erledigt pruefen senden").split()


def make_messages(count, size, seed):
    """`count` messages of about `size` bytes (CRLF line ends), the same for
    the same seed."""
    rng = random.Random(seed)
    messages = []
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        sender = f"{first} {last} <{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}>"
        day = 1 + n % 28
        weekday = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][(day - 1) % 7]  # March 2026 starts on a Sunday
        date = f"{weekday}, {day} Mar 2026 {8 + n % 10:02d}:{n % 60:02d}:00 +0100"
        subject = rng.choice(SUBJECTS).format(day=rng.choice(DAYS), n=rng.randint(1000, 99999),
                                              name=rng.choice(LAST), date=f"{day}.03.2026",
                                              city=rng.choice(CITIES))
        headers = [f"From: {sender}", f"To: Anna Berg <anna@{DOMAIN}>", f"Subject: {subject}",
                   f"Date: {date}", f"Message-ID: <bench-{seed}-{n}@{rng.choice(DOMAINS)}>",
                   "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                   "Content-Transfer-Encoding: 8bit"]
        if rng.random() < 0.3:
            headers.append(f"Cc: {rng.choice(FIRST)} {rng.choice(LAST)} <cc{n}@{rng.choice(DOMAINS)}>")
        text = "\r\n".join(headers) + "\r\n\r\nHallo Anna,\r\n\r\n"
        while len(text) < size - 80:
            line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12)))
            text += line[0].upper() + line[1:] + ".\r\n"
        text += f"\r\nViele Gruesse\r\n{first}\r\n"
        messages.append(text.encode())
    return messages


# ---------------------------------------------------------------- client

class Client:
    """One IMAP connection: imaplib connects, reads the greeting and logs
    in; `run` sends a tagged command and reads its answer with literals."""

    def __init__(self, port, user, password, timeout):
        try:
            self.imap = imaplib.IMAP4("127.0.0.1", port, timeout=timeout)
        except (OSError, imaplib.IMAP4.error) as e:
            raise Failure(f"connect to 127.0.0.1:{port}: {e}") from e
        try:
            typ, data = self.imap.login(user, password)
        except (OSError, imaplib.IMAP4.error) as e:
            raise Failure(f"LOGIN {user}: {e}") from e
        if typ != "OK":
            raise Failure(f"LOGIN {user}: {typ} {data!r}")
        self.user = user
        self.count = 0

    def send(self, command):
        self.count += 1
        tag = b"B%d" % self.count
        self.imap.send(tag + b" " + command + b"\r\n")
        return tag

    def line(self, command):
        try:
            line = self.imap.readline()
        except OSError as e:
            raise Failure(f"{command.decode(errors='replace')}: {e} (user {self.user})") from e
        if not line.endswith(b"\r\n"):
            raise Failure(f"{command.decode(errors='replace')}: connection closed, last {line!r}")
        return line

    def read(self, n, command):
        try:
            data = self.imap.read(n)
        except OSError as e:
            raise Failure(f"{command.decode(errors='replace')}: {e} (user {self.user})") from e
        if len(data) != n:
            raise Failure(f"{command.decode(errors='replace')}: connection closed in a literal")
        return data

    def response(self, command):
        """One response: a list of its lines and literals in order."""
        parts = [self.line(command)]
        while (m := LITERAL.search(parts[-1])):
            parts.append(self.read(int(m.group(1)), command))
            parts.append(self.line(command))
        return parts

    def finish(self, tag, command):
        """Reads up to the tagged answer; returns the untagged responses.
        Anything but OK, or a BYE, is a failure."""
        untagged = []
        while True:
            parts = self.response(command)
            first = parts[0]
            if first.startswith(tag + b" "):
                if not first.startswith(tag + b" OK"):
                    raise Failure(f"{command.decode(errors='replace')}: {first.decode(errors='replace').strip()}")
                return untagged, first
            if first.startswith(b"* BYE"):
                raise Failure(f"{command.decode(errors='replace')}: {first.decode(errors='replace').strip()}")
            untagged.append(parts)

    def run(self, command):
        return self.finish(self.send(command), command)

    def append(self, mailbox, message):
        """APPEND with a synchronizing literal; the new UID (APPENDUID)."""
        command = b"APPEND %s {%d}" % (mailbox, len(message))
        tag = self.send(command)
        while True:
            parts = self.response(command)
            if parts[0].startswith(b"+"):
                break
            if parts[0].startswith(tag + b" ") or parts[0].startswith(b"* BYE"):
                raise Failure(f"{command.decode()}: {parts[0].decode(errors='replace').strip()}")
        self.imap.send(message + b"\r\n")
        _, tagged = self.finish(tag, command)
        m = APPENDUID.search(tagged)
        if not m:
            raise Failure(f"{command.decode()}: no APPENDUID in {tagged!r}")
        return int(m.group(1))

    def select(self, mailbox=b"INBOX"):
        """SELECT; the number of messages (EXISTS)."""
        untagged, _ = self.run(b"SELECT " + mailbox)
        for parts in untagged:
            m = EXISTS.match(parts[0])
            if m:
                return int(m.group(1))
        raise Failure(f"SELECT {mailbox.decode()}: no EXISTS")

    def idle(self):
        command = b"IDLE"
        tag = self.send(command)
        while True:
            parts = self.response(command)
            if parts[0].startswith(b"+"):
                return tag
            if not parts[0].startswith(b"* ") or parts[0].startswith(b"* BYE"):
                raise Failure(f"IDLE: {parts[0].decode(errors='replace').strip()}")

    def done(self, tag):
        self.imap.send(b"DONE\r\n")
        self.finish(tag, b"IDLE ... DONE")

    def logout(self):
        try:
            typ, data = self.imap.logout()
        except (OSError, imaplib.IMAP4.error) as e:
            raise Failure(f"LOGOUT ({self.user}): {e}") from e
        if typ != "BYE" and typ != "OK":
            raise Failure(f"LOGOUT ({self.user}): {typ} {data!r}")


def search_uids(client, criteria):
    untagged, _ = client.run(b"UID SEARCH " + criteria)
    uids = []
    for parts in untagged:
        if parts[0].startswith(b"* SEARCH"):
            uids += [int(u) for u in parts[0][8:].split()]
    return sorted(uids)


# ---------------------------------------------------------------- memory

def smaps(pid):
    """(PSS, RSS) of a process in KiB, from /proc/PID/smaps_rollup."""
    values = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Pss", "Rss"):
                    values[key] = int(rest.split()[0])
    except FileNotFoundError:
        return 0, 0  # gone meanwhile
    except PermissionError as e:
        raise Failure(f"cannot read /proc/{pid}/smaps_rollup: {e}") from e
    return values.get("Pss", 0), values.get("Rss", 0)


def descendants(root):
    """`root` and every process below it."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def cpu_seconds(pids):
    """User and system CPU time used so far by `pids`, in seconds."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def memory(pids):
    """Summed (PSS, RSS) in KiB and the number of processes."""
    pss = rss = 0
    for pid in pids:
        p, r = smaps(pid)
        pss, rss = pss + p, rss + r
    return pss, rss, len(pids)


# ---------------------------------------------------------------- servers

def wait_imap(port, proc, timeout=60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Failure(f"the server exited with status {proc.returncode} before 127.0.0.1:{port} was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                greeting = s.makefile("rb").readline()
                if greeting.startswith(b"* OK"):
                    s.sendall(b"a LOGOUT\r\n")
                    return
                last = greeting
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise Failure(f"no IMAP greeting on 127.0.0.1:{port} within {timeout} s (last: {last})")


class Guss:
    name = "guss"

    def __init__(self, binary, work, people, extra):
        self.port = lib.free_port()
        users = [arg for name in people if name != USER for arg in ("--user", f"{name}:{PASSWORD}")]
        self.server = lib.MailServer(binary, work, DOMAIN, USER, PASSWORD,
                                     extra=users + ["--imap", f"127.0.0.1:{self.port}"] + extra, name="guss")

    def start(self):
        try:
            self.server.start()
        except RuntimeError as e:
            raise Failure(f"the mail-server example did not start: {e}") from e
        wait_imap(self.port, self.server.proc)

    def login(self, name):
        return f"{name}@{DOMAIN}", PASSWORD

    def pids(self):
        return [self.server.proc.pid]

    def stop(self):
        self.server.stop()

    def log_tail(self):
        return self.server.log_tail()


class Dovecot:
    name = "Dovecot"

    def __init__(self, work, people):
        self.work = os.path.join(work, "dovecot")
        os.makedirs(self.work)
        os.chmod(work, 0o755)
        os.chmod(self.work, 0o755)
        self.port = lib.free_port()
        self.conf = os.path.join(self.work, "dovecot.conf")
        self.log = os.path.join(self.work, "dovecot.log")
        self.proc = None
        home = os.path.join(self.work, "home")
        os.makedirs(home)
        if os.getuid() == 0:
            # Dovecot refuses root for its login and mail processes.
            login_user, internal_user, mail_user = "dovenull", "dovecot", "dovecot"
            shutil.chown(home, "dovecot", "dovecot")
        else:
            login_user = internal_user = mail_user = subprocess.check_output(["id", "-un"]).decode().strip()
        uid = int(subprocess.check_output(["id", "-u", mail_user]))
        gid = int(subprocess.check_output(["id", "-g", mail_user]))
        group = subprocess.check_output(["id", "-gn", internal_user]).decode().strip()
        digest = base64.b64encode(hashlib.sha256(PASSWORD.encode()).digest()).decode()
        passwd = os.path.join(self.work, "users")
        with open(passwd, "w") as f:
            for name in people:
                f.write(f"{name}@{DOMAIN}:{{SHA256}}{digest}::::{home}/{name}::\n")
        with open(self.conf, "w") as f:
            f.write(f"""# A private instance for scripts/bench/mail-imap.py.
instance_name = guss-bench-{self.port}
base_dir = {self.work}/run
state_dir = {self.work}/state
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
default_internal_user = {internal_user}
default_internal_group = {group}
default_login_user = {login_user}
first_valid_uid = {uid}
first_valid_gid = {gid}
log_path = {self.log}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=SHA256 {passwd}
}}
userdb {{
  driver = passwd-file
  args = {passwd}
  default_fields = uid={uid} gid={gid}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
""")

    def start(self):
        self.out = open(os.path.join(self.work, "dovecot.out"), "wb")
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf], stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_imap(self.port, self.proc)

    def login(self, name):
        return f"{name}@{DOMAIN}", PASSWORD

    def pids(self):
        return descendants(self.proc.pid)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                for pid in descendants(self.proc.pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc is not None:
            self.out.close()

    def log_tail(self):
        tail = []
        for path in (os.path.join(self.work, "dovecot.out"), self.log):
            with contextlib.suppress(OSError), open(path, "rb") as f:
                tail.append(f"--- {path}:\n" + "\n".join(f.read().decode(errors="replace").splitlines()[-30:]))
        return "\n".join(tail)


def dovecot_version():
    try:
        return subprocess.check_output(["dovecot", "--version"]).decode().split()[0]
    except (OSError, subprocess.CalledProcessError):
        return None


# ---------------------------------------------------------------- the measures

def timed(work):
    begin = time.perf_counter()
    result = work()
    return time.perf_counter() - begin, result


def bench(server, messages, args, idle_people):
    """The measures on one running server: {key: value}."""
    results = {}
    n = len(messages)
    user, password = server.login(USER)
    client = Client(server.port, user, password, args.timeout)

    # APPEND
    uids = []
    seconds, _ = timed(lambda: uids.extend(client.append(b"INBOX", m) for m in messages))
    results["append"] = n / seconds
    print(f"  {server.name}: APPEND {n} messages in {seconds:.2f} s = {n / seconds:.0f}/s")
    exists = client.select()
    if exists != n or len(set(uids)) != n:
        raise Failure(f"after {n} APPENDs SELECT INBOX says {exists} EXISTS, {len(set(uids))} distinct APPENDUIDs")
    if search_uids(client, b"ALL") != sorted(uids):
        raise Failure("UID SEARCH ALL does not list the UIDs APPEND answered")

    # FETCH one at a time, each body checked
    def fetch_each():
        for uid, message in zip(uids, messages):
            command = b"UID FETCH %d (FLAGS ENVELOPE BODY.PEEK[])" % uid
            untagged, _ = client.run(command)
            body = None
            for parts in untagged:
                for i, part in enumerate(parts[:-1]):
                    if i % 2 == 0 and BODY_LITERAL.search(part):
                        body = parts[i + 1]
            if body != message:
                got = "no BODY[]" if body is None else f"{len(body)} bytes that differ"
                raise Failure(f"{command.decode()}: {got} (appended {len(message)} bytes)")
    seconds, _ = timed(fetch_each)
    results["fetch_one"] = n / seconds
    print(f"  {server.name}: UID FETCH (FLAGS ENVELOPE BODY.PEEK[]) x {n} in {seconds:.2f} s = {n / seconds:.0f}/s")

    # FETCH 1:* (FLAGS ENVELOPE)
    def fetch_bulk():
        for _ in range(args.bulk_repeats):
            untagged, _ = client.run(b"FETCH 1:* (FLAGS ENVELOPE)")
            count = sum(1 for parts in untagged if b" FETCH " in parts[0] and b"ENVELOPE" in b"".join(parts))
            if count != n:
                raise Failure(f"FETCH 1:* (FLAGS ENVELOPE): {count} messages with an ENVELOPE, expected {n}")
    seconds, _ = timed(fetch_bulk)
    results["fetch_bulk"] = n * args.bulk_repeats / seconds
    results["fetch_bulk_ms"] = 1000 * seconds / args.bulk_repeats
    print(f"  {server.name}: FETCH 1:* (FLAGS ENVELOPE) x {args.bulk_repeats}: "
          f"{results['fetch_bulk_ms']:.0f} ms each = {results['fetch_bulk']:.0f} messages/s")

    # STORE +FLAGS, then -FLAGS
    def store(sign):
        for uid in uids:
            command = b"UID STORE %d %sFLAGS (\\Flagged)" % (uid, sign)
            untagged, _ = client.run(command)
            if not any(b"FETCH" in parts[0] and (b"\\Flagged" in parts[0]) == (sign == b"+") for parts in untagged):
                raise Failure(f"{command.decode()}: no FETCH with the new flags in {untagged!r}")
    seconds_add, _ = timed(lambda: store(b"+"))
    flagged = search_uids(client, b"FLAGGED")
    if flagged != sorted(uids):
        raise Failure(f"after UID STORE +FLAGS (\\Flagged) on all, SEARCH FLAGGED finds {len(flagged)} of {n}")
    seconds_remove, _ = timed(lambda: store(b"-"))
    if search_uids(client, b"FLAGGED"):
        raise Failure("after UID STORE -FLAGS (\\Flagged) on all, SEARCH FLAGGED still finds some")
    seconds = seconds_add + seconds_remove
    results["store"] = 2 * n / seconds
    print(f"  {server.name}: UID STORE +/-FLAGS (\\Flagged) x {2 * n} in {seconds:.2f} s = {2 * n / seconds:.0f}/s")
    client.logout()

    # LOGIN, SELECT INBOX, LOGOUT on new connections
    def cycles():
        for _ in range(args.cycles):
            c = Client(server.port, user, password, args.timeout)
            exists = c.select()
            if exists != n:
                raise Failure(f"SELECT INBOX in a new session: {exists} EXISTS, expected {n}")
            c.logout()
    seconds, _ = timed(cycles)
    results["cycles"] = args.cycles / seconds
    print(f"  {server.name}: {args.cycles} x (connect, LOGIN, SELECT INBOX, LOGOUT) in {seconds:.2f} s "
          f"= {args.cycles / seconds:.0f}/s")

    # Memory per idle session. Each person logs in once before (the first
    # login makes the mailboxes on both servers).
    for person in idle_people:
        c = Client(server.port, *server.login(person), args.timeout)
        c.select()
        c.logout()
    time.sleep(args.settle)
    before = memory(server.pids())
    sessions = []
    try:
        for i in range(args.idle):
            c = Client(server.port, *server.login(idle_people[i // IDLE_PER_PERSON]), args.timeout)
            c.select()
            sessions.append((c, c.idle()))
        time.sleep(args.settle)
        pids = server.pids()
        after, cpu_from = memory(pids), cpu_seconds(pids)
        time.sleep(IDLE_WINDOW)
        again, cpu_to = memory(pids), cpu_seconds(pids)
        for c, tag in sessions:
            c.done(tag)
            c.logout()
    finally:
        for c, _ in sessions:
            with contextlib.suppress(OSError):
                c.imap.shutdown()
    after = max(after, again)
    results["idle_pss"] = (after[0] - before[0]) / args.idle
    results["idle_rss"] = (after[1] - before[1]) / args.idle
    results["idle_cpu"] = 100 * (cpu_to - cpu_from) / IDLE_WINDOW
    print(f"  {server.name}: {args.idle} idle sessions: PSS {before[0]} -> {after[0]} KiB "
          f"({before[2]} -> {after[2]} processes) = {results['idle_pss']:.0f} KiB per session; "
          f"RSS {before[1]} -> {after[1]} KiB = {results['idle_rss']:.0f} KiB per session; "
          f"CPU while they idle {results['idle_cpu']:.1f} % of one core")
    return results


# ---------------------------------------------------------------- report

ROWS = [
    ("append", "APPEND, one connection, messages/s", "{:,.0f}"),
    ("fetch_one", "UID FETCH (FLAGS ENVELOPE BODY.PEEK[]) one message at a time, commands/s", "{:,.0f}"),
    ("fetch_bulk", "FETCH 1:* (FLAGS ENVELOPE) of the whole INBOX, messages/s", "{:,.0f}"),
    ("store", "UID STORE ±FLAGS (\\Flagged) one message at a time, commands/s", "{:,.0f}"),
    ("cycles", "connect + LOGIN + SELECT INBOX + LOGOUT, cycles/s", "{:,.0f}"),
    ("idle_pss", "memory per idle session (IDLE, INBOX selected), KiB PSS, lower is better", "{:,.0f}"),
    ("idle_cpu", "CPU while those sessions idle, % of one core, lower is better", "{:.1f}"),
]


def table(rounds):
    """Markdown: median over the rounds (each round's value in brackets
    when there are several) and the ratio guss/Dovecot per round."""
    lines = ["| measure | guss | Dovecot | guss/Dovecot |", "|---|---|---|---|"]
    for key, label, fmt in ROWS:
        cells = []
        for side in ("guss", "Dovecot"):
            values = [r[side][key] for r in rounds]
            text = fmt.format(statistics.median(values))
            if len(values) > 1:
                text += " (" + ", ".join(fmt.format(v) for v in values) + ")"
            cells.append(text)
        if all(r["Dovecot"][key] > 0 for r in rounds):
            ratios = [r["guss"][key] / r["Dovecot"][key] for r in rounds]
            text = f"**{statistics.median(ratios):.2f}**"
            if len(ratios) > 1:
                text += " (" + ", ".join(f"{v:.2f}" for v in ratios) + ")"
        else:
            text = "n/a (Dovecot 0)"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {text} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", help="the mail-server example, built with --features imap "
                        "(default: cargo build --release, the caller's target dir)")
    parser.add_argument("--messages", type=int, default=2000, help="messages appended (default 2000)")
    parser.add_argument("--size", type=int, default=4096, help="bytes per message, about (default 4096)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each with fresh servers (default 3)")
    parser.add_argument("--cycles", type=int, default=300, help="LOGIN/SELECT/LOGOUT cycles (default 300)")
    parser.add_argument("--idle", type=int, default=100, help="idle sessions for the memory measure (default 100)")
    parser.add_argument("--bulk-repeats", type=int, default=20, help="FETCH 1:* commands (default 20)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                        help="the example's metadata store (default sqlite)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated messages (default 1)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds any one answer may take (default 60)")
    parser.add_argument("--settle", type=float, default=2.5,
                        help="seconds before a memory reading (default 2.5, more than guss's IDLE poll)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.messages < 1 or args.rounds < 1 or args.cycles < 1 or args.idle < 1 or args.bulk_repeats < 1:
        parser.error("--messages, --rounds, --cycles, --idle and --bulk-repeats must be at least 1")
    version = dovecot_version()
    if version is None:
        sys.exit("mail-imap: no dovecot found (apt-get install dovecot-imapd, or run scripts/bench/mail-imap.sh)")
    args.bin = args.bin or lib.build_example(release=True, features=["imap"])
    if not (os.path.isfile(args.bin) and os.access(args.bin, os.X_OK)):
        parser.error(f"{args.bin} is not an executable")
    lib.exit_on_sigterm()

    messages = make_messages(args.messages, args.size, args.seed)
    idle_people = [f"idle{i:02d}" for i in range((args.idle + IDLE_PER_PERSON - 1) // IDLE_PER_PERSON)]
    people = [USER] + idle_people
    build = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(args.bin))))
    print(f"mail-imap: {args.messages} messages of about {args.size} bytes "
          f"({sum(map(len, messages)) / args.messages:.0f} on average), {args.cycles} login cycles, "
          f"{args.idle} idle sessions; guss: {args.bin} ({build} build, {args.backend}); Dovecot {version}")
    rounds = []
    work = tempfile.mkdtemp(prefix="guss-mail-imap-bench.")
    os.chmod(work, 0o755)  # Dovecot's own users (when run as root) look inside
    status = 0
    try:
        for number in range(1, args.rounds + 1):
            order = ["guss", "Dovecot"] if number % 2 else ["Dovecot", "guss"]
            result = {}
            print(f"round {number} of {args.rounds}")
            for side in order:
                place = os.path.join(work, f"round{number}-{side}")
                os.makedirs(place)
                with contextlib.ExitStack() as stack:
                    if side == "guss":
                        server = Guss(args.bin, place, people, lib.backend_args(args.backend, stack))
                    else:
                        server = Dovecot(place, people)
                    stack.callback(server.stop)
                    try:
                        server.start()
                        result[side] = bench(server, messages, args, idle_people)
                    except BaseException:
                        print(server.log_tail(), file=sys.stderr)
                        raise
            rounds.append(result)
        print()
        print(table(rounds))
        print()
        print("guss/Dovecot above 1: guss does more per second; for memory, below 1: guss needs less per session.")
    except Failure as e:
        print(f"mail-imap: FAILED: {e}", file=sys.stderr)
        status = 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
