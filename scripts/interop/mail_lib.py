#!/usr/bin/env python3
"""Shared helpers for the mail interop scripts (mail-smtp.py, mail-crash.py,
mail-imap.py, mail-postfix.sh and the benchmarks): build and run the mail-server
example, the SMTP sink, a private PostgreSQL and an S3 server, read stored
messages back with --export, and compare bytes.

The scripts next to it import it:

    import mail_lib as lib

It is also a command line for the shell scripts:

    python3 scripts/interop/mail_lib.py build [--release]
        builds the example and prints the path of the binary (wherever the
        caller's cargo puts it: CARGO_TARGET_DIR and .cargo/config apply)
    python3 scripts/interop/mail_lib.py message simple|tricky|big --from A --to B --tag TAG OUT
        writes a test message (CRLF line ends) to OUT
    python3 scripts/interop/mail_lib.py send --port P [--auth ADDRESS:PASSWORD] [--starttls] --from A --to B FILE...
        sends each FILE, byte for byte, over one SMTP connection
    python3 scripts/interop/mail_lib.py dns-stub [PORT]
        a name server on 127.0.0.1 answering NXDOMAIN to everything (prints
        "dns-stub listening on 127.0.0.1:PORT"; SIGTERM stops it)
    python3 scripts/interop/mail_lib.py wait-smtp PORT [SECONDS]
        waits until 127.0.0.1:PORT answers with a 220 greeting
    python3 scripts/interop/mail_lib.py compare-export EXPORT_DIR [MAILBOX] SENT.eml
        checks that exactly one exported message in MAILBOX (default INBOX)
        is SENT.eml with header fields put in front
    python3 scripts/interop/mail_lib.py compare-maildir MAILDIR SENT.eml
        the same for the messages of a Maildir (whose line ends are LF)
"""

import base64
import glob
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from email.utils import formatdate
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "scripts", "interop")
EXAMPLE = "mail-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_example(release=False, features=()):
    """Builds the mail-server example (with the crate `features` given);
    returns the path of the binary."""
    cmd = ["cargo", "build", "-p", "guss-mail", "--example", EXAMPLE, "--locked",
           "--message-format=json-render-diagnostics"]
    if release:
        cmd.append("--release")
    if features:
        cmd += ["--features", ",".join(features)]
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, check=False)
    if out.returncode != 0:
        raise SystemExit(f"building the {EXAMPLE} example failed: {' '.join(cmd)}")
    for line in out.stdout.decode().splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if (msg.get("reason") == "compiler-artifact" and msg.get("executable")
                and msg.get("target", {}).get("name") == EXAMPLE):
            return msg["executable"]
    raise SystemExit(f"cargo built no {EXAMPLE} executable")


def read_reply(sock_file):
    """Reads one (possibly multi-line) SMTP reply; returns (code, text)."""
    lines = []
    while True:
        line = sock_file.readline()
        if not line:
            raise ConnectionError("connection closed while waiting for a reply")
        lines.append(line.decode(errors="replace").rstrip("\r\n"))
        if len(line) < 4 or line[3:4] != b"-":
            break
    return int(lines[-1][:3]), "\n".join(line[4:] for line in lines)


def wait_smtp(port, timeout, proc=None, host="127.0.0.1"):
    """Waits until host:port greets with 220; raises on timeout or if `proc`
    exits meanwhile."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode} before port {port} was ready")
        try:
            with socket.create_connection((host, port), timeout=5) as s:
                code, text = read_reply(s.makefile("rb"))
                if code == 220:
                    s.sendall(b"QUIT\r\n")
                    return
                last = text
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    raise RuntimeError(f"{host}:{port} gave no 220 greeting within {timeout} s (last: {last})")


# ---------------------------------------------------------------- zone file

ZONE_LINE = re.compile(
    r"^(?P<name>\S+)\s+(?:(?:\d+|IN|CH)\s+){0,2}(?P<type>A|AAAA|MX|TXT|CNAME|SRV|TLSA|CAA|NS|PTR)\s+(?P<rdata>.+)$")


def parse_zone(text, domain):
    """The resource records in zone-file syntax found in `text` (the
    example's start output, maybe mixed with log lines), as a list of
    (owner name without trailing dot, type, rdata); TXT rdata is the
    concatenation of its character-strings."""
    records = []
    origin = domain
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("$ORIGIN"):
            origin = line.split()[1].rstrip(".")
            continue
        m = ZONE_LINE.match(line)
        if not m:
            continue
        name = m["name"]
        if name == "@":
            name = origin
        elif name.endswith("."):
            name = name[:-1]
        elif not name.lower().endswith(origin.lower()):
            name = f"{name}.{origin}"
        rdata = m["rdata"].strip()
        if m["type"] == "TXT":
            strings = re.findall(r'"((?:[^"\\]|\\.)*)"', rdata)
            rdata = "".join(re.sub(r"\\(.)", r"\1", s) for s in strings) if strings else rdata
        records.append((name.lower(), m["type"], rdata))
    return records


# ---------------------------------------------------------------- the example

class MailServer:
    """The mail-server example on one data directory (and maybe PostgreSQL
    and S3). The ports stay the same across restarts."""

    def __init__(self, binary, workdir, domain, user, password, relay_port=None, extra=(), name="server"):
        self.binary, self.domain, self.user, self.password = binary, domain, user, password
        self.data = os.path.join(workdir, name + "-data")
        self.stdout_path = os.path.join(workdir, name + ".stdout")
        self.stderr_path = os.path.join(workdir, name + ".stderr")
        self.relay_port = relay_port
        self.extra = list(extra)
        self.smtp_port = free_port()
        self.submission_port = free_port()
        self.submissions_port = free_port()
        self.proc = None
        self.starts = 0
        self._stdout_offset = self._stderr_offset = 0

    @property
    def address(self):
        return f"{self.user}@{self.domain}"

    def command(self):
        cmd = [self.binary, "--domain", self.domain,
               "--smtp", f"127.0.0.1:{self.smtp_port}",
               "--submission", f"127.0.0.1:{self.submission_port}",
               "--submissions", f"127.0.0.1:{self.submissions_port}",
               "--data", self.data, "--user", f"{self.user}:{self.password}"]
        if self.relay_port:
            cmd += ["--relay", f"127.0.0.1:{self.relay_port}"]
        return cmd + self.extra

    def start(self, timeout=90):
        """Starts the server and waits for both ports; returns the seconds
        it took."""
        begin = time.monotonic()
        self.starts += 1
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            for f in (out, err):
                f.write(f"--- start {self.starts}: {' '.join(self.command())}\n".encode())
                f.flush()
            self._stdout_offset, self._stderr_offset = out.tell(), err.tell()
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        wait_smtp(self.smtp_port, timeout, self.proc)
        wait_smtp(self.submission_port, max(1, timeout - (time.monotonic() - begin)), self.proc)
        return time.monotonic() - begin

    def start_output(self):
        """What the server printed since its last start (standard output,
        then standard error)."""
        text = []
        for path, offset in ((self.stdout_path, self._stdout_offset), (self.stderr_path, self._stderr_offset)):
            with open(path, "rb") as f:
                f.seek(offset)
                text.append(f.read().decode(errors="replace"))
        return "\n".join(text)

    def records(self):
        return parse_zone(self.start_output(), self.domain)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait()

    def stop(self, timeout=15):
        """SIGINT (the example stops on Ctrl-C), SIGKILL after `timeout`."""
        if self.running():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, lines=30):
        tail = []
        for path in (self.stdout_path, self.stderr_path):
            try:
                with open(path, "rb") as f:
                    text = f.read().decode(errors="replace")
            except OSError:
                continue
            # Without colours, PostgreSQL's "already exists" notices and the
            # DNS records printed on start.
            text = [line for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
                    if "sqlx::postgres::notice" not in line and not ZONE_LINE.match(line.strip())][-lines:]
            tail.append(f"--- {path}:\n" + "\n".join(text))
        return "\n".join(tail)

    def export(self, outdir, address=None):
        """Runs --export; returns {mailbox: {uid: bytes}}."""
        return export(self.binary, self.domain, self.data, self.extra, address or self.address, outdir)


def export(binary, domain, data, extra, address, outdir):
    """Runs the example's --export mode (with --domain: the example derives
    the organisation from it); returns {mailbox: {uid: bytes}}."""
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    cmd = [binary, "--domain", domain, "--data", data, *extra, "--export", address, outdir]
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"--export failed with status {out.returncode}: {' '.join(cmd)}\n"
                           + out.stdout.decode(errors="replace")[-3000:])
    return read_export(outdir)


def read_export(outdir):
    boxes = {}
    if not os.path.isdir(outdir):
        return boxes
    for path in glob.glob(os.path.join(glob.escape(outdir), "**", "*.eml"), recursive=True):
        box = os.path.relpath(os.path.dirname(path), outdir)
        uid = os.path.basename(path)[:-len(".eml")]
        with open(path, "rb") as f:
            boxes.setdefault(box, {})[uid] = f.read()
    return boxes


def inbox_of(boxes):
    """The INBOX of an export (IMAP's INBOX is case-insensitive)."""
    found = {}
    for box, messages in boxes.items():
        if box.upper() == "INBOX":
            found.update(messages)
    return found


# ---------------------------------------------------------------- comparing

HEADER_BLOCK = re.compile(rb"\A(?:[!-9;-~]+:[^\r\n]*\r?\n(?:[ \t][^\r\n]*\r?\n)*)*\Z")


def prepended(stored, sent):
    """If `stored` is `sent` with complete header fields put in front,
    returns those header fields (bytes, maybe empty); otherwise None."""
    if not stored.endswith(sent):
        return None
    prefix = stored[: len(stored) - len(sent)]
    return prefix if HEADER_BLOCK.match(prefix) else None


def header_names(block):
    return [m.group(1).decode(errors="replace").lower()
            for m in re.finditer(rb"^([!-9;-~]+):", block, re.M)]


def explain_difference(stored, sent):
    """Where `stored` stops being `sent` with header fields prepended."""
    if stored.endswith(sent):
        prefix = stored[: len(stored) - len(sent)]
        return ("the message arrived intact but what was put in front is not a block of header fields: "
                + repr(prefix[-300:]))
    anchor = sent.split(b"\n", 1)[0].rstrip(b"\r")[:60]
    start = stored.find(anchor)
    if start < 0:
        return (f"the first bytes sent {anchor!r} are nowhere in the stored message "
                f"({len(stored)} bytes, begins {stored[:200]!r})")
    tail = stored[start:]
    k = 0
    limit = min(len(tail), len(sent))
    while k < limit and tail[k] == sent[k]:
        k += 1
    line = sent.count(b"\n", 0, k) + 1
    return (f"stored from byte {start} on differs from the sent message at byte {k} (line {line}) "
            f"of {len(sent)} sent / {len(tail)} stored: sent {sent[max(0, k - 40):k + 40]!r}, "
            f"stored {tail[max(0, k - 40):k + 40]!r}")


def message_id(raw):
    m = re.search(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", raw, re.M | re.I)
    return m.group(1).decode() if m else None


def find_sent(messages, sent):
    """The keys of the messages (a dict) that are `sent` with header fields
    prepended, and the keys of those that merely carry its Message-ID."""
    exact, same_id = [], []
    mid = message_id(sent)
    for key, raw in messages.items():
        if prepended(raw, sent) is not None:
            exact.append(key)
        elif mid and mid.encode() in raw:
            same_id.append(key)
    return exact, same_id


def compare(messages, sent, where):
    """(ok, explanation): is `sent` among `messages` exactly once, with
    only header fields put in front?"""
    exact, same_id = find_sent(messages, sent)
    if len(exact) == 1:
        prefix = prepended(messages[exact[0]], sent)
        names = ", ".join(header_names(prefix)) or "nothing"
        return True, f"intact; put in front: {names}"
    if len(exact) > 1:
        return False, f"stored {len(exact)} times in {where}: {', '.join(map(str, exact))}"
    if same_id:
        return False, "changed on the way: " + explain_difference(messages[same_id[0]], sent)
    return False, f"not found in {where}"


# ---------------------------------------------------------------- messages

CRLF = b"\r\n"
RUN = f"{int(time.time())}.{os.getpid()}"


def new_message_id(tag, domain="remote.test"):
    return f"<{tag}.{RUN}@{domain}>"


def build(headers, body_lines):
    """A message from (name, value) header fields and body lines, CRLF line
    ends, ending in CRLF."""
    head = b"".join(n.encode() + b": " + (v if isinstance(v, bytes) else v.encode()) + CRLF
                    for n, v in headers)
    body = b"".join((line if isinstance(line, bytes) else line.encode()) + CRLF for line in body_lines)
    return head + CRLF + body


def simple(tag, sender, to, subject, text, domain="remote.test"):
    return build([("From", sender), ("To", to), ("Subject", subject),
                  ("Date", formatdate(localtime=False)), ("Message-ID", new_message_id(tag, domain))],
                 text.split("\n"))


def tricky(tag, sender, to, rng):
    """Content that breaks careless SMTP code: see the module doc."""
    blob = bytes(rng.getrandbits(8) for _ in range(6000)) + bytes(range(256)) * 4
    b64 = base64.encodebytes(blob).replace(b"\n", CRLF).rstrip(CRLF).split(CRLF)
    headers = [
        ("From", f'"Sender, The" <{sender}>'),
        ("To", f"Anna <{to}>"),
        ("Subject", "=?UTF-8?B?" + base64.b64encode("Grüße – tricky content ✓".encode()).decode() + "?="),
        ("Date", formatdate(localtime=False)),
        ("Message-ID", new_message_id(tag)),
        ("MIME-Version", "1.0"),
        ("X-Folded", "a header field folded\r\n\tover three lines with a tab\r\n    and with spaces"),
        ("References", "\r\n ".join(f"<ref{i}.{RUN}@remote.test>" for i in range(12))),
        ("X-Empty", ""),
        ("X-Trailing-Space", "value with trailing space  "),
        ("X-Long", "l" * 900),
    ]
    headers += [(f"X-Many-{i:03d}", f"header number {i}") for i in range(80)]
    headers += [("Content-Type", 'multipart/mixed;\r\n\tboundary="=-=guss-boundary-=-="')]
    long997 = "a" * 991 + "(997)."
    long998 = "b" * 992 + "(998)."
    body = [
        "This is a multi-part message in MIME format.",
        "",
        "--=-=guss-boundary-=-=",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Grüße aus Köln: ÄÖÜ äöü ß, 日本語のテキスト, Ελληνικά, emoji 🦀📬.",
        ".",
        "..",
        ".a line starting with a dot",
        "..a line starting with two dots",
        ". a dot and a space",
        "",
        "",
        "the lines above: empty, empty; the line below ends in white space",
        "trailing white space \t ",
        "\tstarts with a tab",
        " starts with a space",
        long997,
        long998,
        "From the start of a line (mbox would mangle this)",
        ">From quoted",
        "Subject: not a header, a body line",
        "=?UTF-8?B?bm90IGRlY29kZWQ=?= stays as it is",
        "\x7f delete and \x1b escape bytes",
        ".",
        "--=-=guss-boundary-=-=",
        "Content-Type: application/octet-stream",
        'Content-Disposition: attachment; filename="blob.bin"',
        "Content-Transfer-Encoding: base64",
        "",
        *b64,
        "--=-=guss-boundary-=-=--",
        "",
        "an epilogue after the last boundary",
    ]
    return build(headers, body)


def big(tag, sender, to, size, rng):
    """A message of about `size` bytes with a base64 attachment."""
    blob = rng.randbytes(size * 3 // 4)
    b64 = base64.encodebytes(blob).replace(b"\n", CRLF).rstrip(CRLF).split(CRLF)
    headers = [("From", sender), ("To", to), ("Subject", f"about {size >> 20} MiB"),
               ("Date", formatdate(localtime=False)), ("Message-ID", new_message_id(tag)),
               ("MIME-Version", "1.0"), ("Content-Type", "application/octet-stream"),
               ("Content-Transfer-Encoding", "base64")]
    return build(headers, b64)


def utf8_headers(tag, sender, to):
    headers = [("From", f"Zoë Ünicode <{sender}>"), ("To", f"Anna Ångström <{to}>"),
               ("Subject", "Ünïcödé in the header itself (RFC 6532) 🦀"),
               ("Date", formatdate(localtime=False)), ("Message-ID", new_message_id(tag)),
               ("MIME-Version", "1.0"), ("Content-Type", "text/plain; charset=utf-8"),
               ("Content-Transfer-Encoding", "8bit")]
    return build([(n, v.encode()) for n, v in headers], ["Hallo, ça va? Привет."])


# ---------------------------------------------------------------- clients


def unverified_tls():
    """TLS without certificate checks: the example's certificate is self-signed."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# ---------------------------------------------------------------- sink

class Sink:
    """scripts/interop/mail-sink.py as a child process."""

    def __init__(self, directory, port=0, tempfail_while=None, log_path=None):
        self.directory, self.port, self.tempfail_while = directory, port, tempfail_while
        self.log_path = log_path or directory + ".log"
        self.proc = None

    def start(self, timeout=30):
        cmd = [sys.executable, os.path.join(HERE, "mail-sink.py"), "--dir", self.directory,
               "--port", str(self.port)]
        if self.tempfail_while:
            cmd += ["--tempfail-while", self.tempfail_while]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        line = self.proc.stdout.readline().decode()
        m = re.search(r"listening on [\d.]+:(\d+)", line)
        if not m or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"the SMTP sink did not start: {line!r} (see {self.log_path})")
        self.port = int(m.group(1))
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def messages(self):
        """{name: (envelope dict, bytes)} of every recorded message."""
        found = {}
        for path in sorted(glob.glob(os.path.join(glob.escape(self.directory), "*.eml"))):
            name = os.path.basename(path)[:-4]
            with open(path, "rb") as f:
                raw = f.read()
            try:
                with open(path[:-4] + ".json") as f:
                    envelope = json.load(f)
            except (OSError, ValueError):
                envelope = {}
            found[name] = (envelope, raw)
        return found


# ---------------------------------------------------------------- DNS

def _nxdomain(query):
    """The NXDOMAIN answer to a DNS query (the question copied), or None."""
    if len(query) < 12:
        return None
    qdcount = int.from_bytes(query[4:6], "big")
    end = 12
    for _ in range(qdcount):
        while end < len(query) and query[end] != 0:
            end += 1 + query[end]
        end += 5  # the root label, QTYPE, QCLASS
    if end > len(query):
        return None
    flags = int.from_bytes(query[2:4], "big")
    # QR, the query's opcode and RD, AA, RA, RCODE 3 (NXDOMAIN)
    answer_flags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | 3
    return query[:2] + answer_flags.to_bytes(2, "big") + query[4:6] + bytes(6) + query[12:end]


def start_dns_stub(port=0):
    """A name server on 127.0.0.1 (UDP and TCP) that answers every query
    NXDOMAIN at once, so that SPF, DKIM and DMARC lookups of the test's
    made-up domains neither leave the machine nor wait for timeouts.
    Returns the port; the server runs in daemon threads."""
    import threading
    # The UDP port the kernel picks may be taken for TCP: then pick again.
    for attempt in range(50):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        chosen = udp.getsockname()[1]
        tcp = socket.socket()
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind(("127.0.0.1", chosen))
        except OSError:
            udp.close()
            tcp.close()
            if port or attempt == 49:
                raise
            continue
        port = chosen
        break
    tcp.listen(16)

    def serve_udp():
        while True:
            query, peer = udp.recvfrom(4096)
            answer = _nxdomain(query)
            if answer:
                udp.sendto(answer, peer)

    def serve_tcp():
        while True:
            conn, _ = tcp.accept()
            with conn:
                try:
                    f = conn.makefile("rb")
                    while True:
                        size = f.read(2)
                        if len(size) < 2:
                            break
                        answer = _nxdomain(f.read(int.from_bytes(size, "big")))
                        if not answer:
                            break
                        conn.sendall(len(answer).to_bytes(2, "big") + answer)
                except OSError:
                    pass

    for target in (serve_udp, serve_tcp):
        threading.Thread(target=target, daemon=True).start()
    return port


def dns_server_args(binary):
    """--dns-server 127.0.0.1:PORT of a fresh NXDOMAIN stub, if the example
    has that option (it resolves SPF, DKIM and DMARC through it)."""
    try:
        out = subprocess.run([binary, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=30, check=False).stdout
    except OSError:
        return []
    return ["--dns-server", f"127.0.0.1:{start_dns_stub()}"] if b"--dns-server" in out else []


# ---------------------------------------------------------------- backends

PIP_PINS = {"aiosmtpd": "aiosmtpd==1.4.6", "dkim": "dkimpy==1.1.8", "nacl": "PyNaCl==1.6.2",
            "moto": "moto[server]", "imapclient": "imapclient==3.0.1"}


def ensure_python_modules(*modules):
    """Installs (pip, pinned) whichever of `modules` cannot be imported."""
    import importlib
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(PIP_PINS.get(module, module))
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *missing], check=True)
        importlib.invalidate_caches()


def ensure_postgresql():
    """Installs PostgreSQL (apt) if there is no initdb."""
    if glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    sudo = [] if os.getuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
    subprocess.run(sudo + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq",
                           "postgresql"], check=True, stdout=subprocess.DEVNULL)


def start_private_postgres(stack):
    """A throw-away PostgreSQL cluster on a free port (as scripts/lib/postgres.sh
    does); stopped when `stack` closes. Returns its URL."""
    ensure_postgresql()
    initdbs = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if not initdbs:
        raise SystemExit("no PostgreSQL found (apt-get install postgresql)")
    bindir = os.path.dirname(sorted(initdbs, key=lambda p: int(p.split("/")[4]))[-1])
    owner = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    pgdir = subprocess.check_output(owner + ["mktemp", "-d", "/tmp/guss-scripts-pg.XXXXXXXX"]).decode().strip()
    port = free_port()
    subprocess.run(owner + [f"{bindir}/initdb", "-D", pgdir, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                            "--no-locale"], check=True, stdout=subprocess.DEVNULL)

    def stop():
        subprocess.run(owner + [f"{bindir}/pg_ctl", "-D", pgdir, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        shutil.rmtree(pgdir, ignore_errors=True)

    stack.callback(stop)
    subprocess.run(owner + [f"{bindir}/pg_ctl", "-D", pgdir, "-l", f"{pgdir}/server.log", "-w", "-t", "60",
                            "-o", f"-p {port} -k {pgdir} -c listen_addresses=127.0.0.1", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def start_s3(stack, bucket="guss-mail-test"):
    """The S3 server at GUSS_TEST_S3_ENDPOINT (bucket guss-test), or else a
    moto server of our own with a fresh bucket. Returns the --s3 URL."""
    endpoint = os.environ.get("GUSS_TEST_S3_ENDPOINT")
    if endpoint:
        return endpoint.replace("://", "://mail:mail-secret@", 1) + "/guss-test"
    ensure_python_modules("moto")
    port = free_port()
    log = open(tempfile.mktemp(prefix="guss-scripts-moto.", suffix=".log"), "wb")
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log, stderr=log)

    def stop():
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        os.unlink(log.name)

    stack.callback(stop)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(urllib.request.Request(f"{url}/{bucket}", method="PUT"), timeout=2).read()
            return f"http://mail:mail-secret@127.0.0.1:{port}/{bucket}"
        except OSError:
            if proc.poll() is not None:
                raise SystemExit("moto did not start (python3 -m pip install 'moto[server]')")
            time.sleep(0.2)
    raise SystemExit("moto did not answer within 30 s")


BACKENDS = ("sqlite", "postgres", "s3", "postgres-s3")


def backend_args(name, stack):
    """Server options for a backend: sqlite (SQLite and files in --data),
    postgres (PostgreSQL and files), s3 (SQLite and S3), postgres-s3."""
    if name not in BACKENDS:
        raise SystemExit(f"unknown backend {name!r} (one of {', '.join(BACKENDS)})")
    args = []
    if name.startswith("postgres"):
        args += ["--database", start_private_postgres(stack)]
    if name.endswith("s3"):
        args += ["--s3", start_s3(stack)]
    return args


def exit_on_sigterm():
    """Turns SIGTERM into SystemExit so that cleanup code runs."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


# ---------------------------------------------------------------- CLI

def _send(argv):
    import argparse
    import smtplib
    parser = argparse.ArgumentParser(prog="mail_lib.py send")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--auth", metavar="ADDRESS:PASSWORD", help="AUTH PLAIN")
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--from", dest="sender", required=True)
    parser.add_argument("--to", action="append", required=True)
    parser.add_argument("files", nargs="+", help="messages (CRLF line ends), sent as they are")
    args = parser.parse_args(argv)
    failed = 0
    with smtplib.SMTP("127.0.0.1", args.port, local_hostname="client.remote.test", timeout=60) as s:
        s.ehlo()
        if args.starttls:
            s.starttls(context=unverified_tls())
            s.ehlo()
        if args.auth:
            s.user, s.password = args.auth.rsplit(":", 1)
            s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
        options = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
        for path in args.files:
            with open(path, "rb") as f:
                msg = f.read()
            try:
                refused = s.sendmail(args.sender, args.to, msg, options)
                print(f"{path}: 250" + (f" (refused: {refused})" if refused else ""))
                failed += bool(refused)
            except smtplib.SMTPException as e:
                print(f"{path}: {e}")
                failed += 1
    return 1 if failed else 0


def _message(argv):
    import argparse
    import random
    parser = argparse.ArgumentParser(prog="mail_lib.py message")
    parser.add_argument("kind", choices=["simple", "tricky", "big"])
    parser.add_argument("--from", dest="sender", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("--tag", required=True, help="the Message-ID's local part begins with it")
    parser.add_argument("--size", type=int, default=1 << 20, help="for big")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("out")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    domain = args.sender.rpartition("@")[2]
    if args.kind == "simple":
        msg = simple(args.tag, args.sender, args.to, f"message {args.tag}", f"This is {args.tag}.", domain)
    elif args.kind == "tricky":
        msg = tricky(args.tag, args.sender, args.to, rng)
    else:
        msg = big(args.tag, args.sender, args.to, args.size, rng)
    with open(args.out, "wb") as f:
        f.write(msg)
    return 0


def _main(argv):
    if argv[:1] == ["build"]:
        print(build_example(release="--release" in argv[1:]))
        return 0
    if argv[:1] == ["send"]:
        return _send(argv[1:])
    if argv[:1] == ["message"]:
        return _message(argv[1:])
    if argv[:1] == ["dns-stub"]:
        port = start_dns_stub(int(argv[1]) if len(argv) > 1 else 0)
        print(f"dns-stub listening on 127.0.0.1:{port}", flush=True)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while True:
            time.sleep(3600)
    if argv[:1] == ["wait-smtp"] and len(argv) in (2, 3):
        wait_smtp(int(argv[1]), float(argv[2]) if len(argv) == 3 else 60)
        return 0
    if argv[:1] in (["compare-export"], ["compare-maildir"]) and len(argv) in (3, 4):
        with open(argv[-1], "rb") as f:
            sent = f.read()
        if argv[0] == "compare-export":
            boxes = read_export(argv[1])
            box = argv[2] if len(argv) == 4 else "INBOX"
            messages = inbox_of(boxes) if box.upper() == "INBOX" else boxes.get(box, {})
            where = f"{box} ({sum(len(m) for m in boxes.values())} messages exported in "
            where += f"{', '.join(sorted(boxes)) or 'no mailbox'})"
        else:
            # Maildir files have the local line end, LF.
            sent = sent.replace(b"\r\n", b"\n")
            messages = {}
            for path in glob.glob(os.path.join(glob.escape(argv[1]), "*", "*")):
                with open(path, "rb") as f:
                    messages[path] = f.read()
            where = f"{argv[1]} ({len(messages)} messages)"
        ok, text = compare(messages, sent, where)
        print(text)
        return 0 if ok else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
