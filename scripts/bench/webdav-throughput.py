#!/usr/bin/env python3
"""Throughput and deduplication benchmark for the webdav-server example,
measured against a plain file copy on the same disk in the same run.

Throughput, for each --sizes entry (median of --runs, random incompressible
content, data directory and test files on the same filesystem):
  PUT   upload over HTTP to the server (a new name each run; the answer
        comes once content and metadata are durable)
  copy  shutil.copyfile to a new name, then os.fsync of the copy (a durable
        copy, the counterpart of a durable PUT)
  GET   download over HTTP, streamed and discarded
  read  plain read of the file, after one warm-up read (the server reads
        warm files too)
reported in MiB/s and as the ratios PUT/copy, GET/copy and GET/read.

Deduplication: ten successive versions of an office folder (~30 text
documents, CSV sheets and PDF-like binaries, ~30 MiB). Version 1 is
uploaded whole; each later version edits ~20 % of the files (a sentence
in the middle of a text, rows appended to a sheet, byte ranges replaced in
a binary), adds one file and deletes one, and uploads what changed. It
reports the bytes uploaded against the bytes under DATA/blobs (sealed,
deduplicated, compressed chunks) on a fresh data directory.

Prints a markdown table (date | what | command | result) for
docs/performance.md, preceded by the machine it ran on.

Run (builds first):

    cargo build --release -p guss-storage --example webdav-server
    scripts/bench/webdav-throughput.py [--runs 5] [--sizes 1MiB,100MiB] [--bin PATH]
"""

import argparse
import base64
import http.client
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(ROOT, "target", "release", "examples", "webdav-server")
USER, PASSWORD = "anna", "geheim"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
KIB, MIB = 1024, 1024 * 1024
BLOCK = MIB  # read and send size
UNITS = {"KIB": KIB, "MIB": MIB, "GIB": 1024 * MIB}
VERSIONS = 10

WORDS = """
der die das und oder aber nicht auch noch schon sehr mehr wir ihr sie es
Angebot Rechnung Vertrag Kunde Kundin Projekt Termin Besprechung Protokoll
Abteilung Geschäftsführung Mitarbeiter Mitarbeiterin Budget Quartal Umsatz
Auftrag Lieferung Frist Zahlung Mahnung Bestellung Ware Lager Versand
Abrechnung Steuer Finanzamt Buchhaltung Bilanz Kosten Ausgaben Einnahmen
Planung Entwicklung Qualität Prüfung Freigabe Änderung Anlage Unterlagen
Sitzung Ergebnis Vorschlag Entscheidung Beschluss Zeitraum Verantwortung
wird wurde werden sind ist war hat haben hatte soll sollen kann können muss
müssen bitte gemäß bezüglich hinsichtlich voraussichtlich vereinbart
erledigt offen dringend wichtig zusätzlich jährlich monatlich wöchentlich
neue alte gesamte weitere folgende genannte zuständige entsprechende
für mit von bei nach vor über unter zwischen während wegen seit bis ohne
Herr Frau Kollege Kollegin Team Standort Büro Zentrale Niederlassung
""".split()


def parse_size(text):
    match = re.fullmatch(r"(\d+)\s*(KiB|MiB|GiB)?", text.strip(), re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 1MiB)")
    return int(match.group(1)) * UNITS.get((match.group(2) or "").upper(), 1)


def human(size):
    for unit, factor in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", KIB)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The webdav-server on its own data directory, until stopped."""

    def __init__(self, binary, data, log_path):
        self.data = data
        self.port = free_port()
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}", "--data", data,
             "--user", f"{USER}:{PASSWORD}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                status, _ = self.request("OPTIONS", "")
                if status < 500:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server not ready")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def connect(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=300, blocksize=BLOCK)

    def request(self, method, name, body=None, expect=None):
        """Sends a request (body: bytes or a file); returns (status, body)."""
        conn = self.connect()
        try:
            headers = {"Authorization": AUTH}
            if hasattr(body, "fileno"):
                headers["Content-Length"] = str(os.fstat(body.fileno()).st_size)
            conn.request(method, f"/{USER}/{name}", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
        finally:
            conn.close()
        if expect and response.status not in expect:
            raise RuntimeError(f"{method} {name}: status {response.status}")
        return response.status, answer

    def get_discard(self, name, size):
        """Downloads a file, streaming into one buffer."""
        conn = self.connect()
        try:
            conn.request("GET", f"/{USER}/{name}", headers={"Authorization": AUTH})
            response = conn.getresponse()
            if response.status != 200:
                raise RuntimeError(f"GET {name}: status {response.status}")
            received = read_discard(response)
        finally:
            conn.close()
        if received != size:
            raise RuntimeError(f"GET {name}: {received} bytes, expected {size}")


def read_discard(stream):
    buffer = memoryview(bytearray(BLOCK))
    total = 0
    while n := stream.readinto(buffer):
        total += n
    return total


def timed(action):
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def make_random_file(path, size):
    with open(path, "wb") as out:
        left = size
        while left:
            piece = os.urandom(min(BLOCK, left))
            out.write(piece)
            left -= len(piece)
        out.flush()
        os.fsync(out.fileno())


def durable_copy(source, target):
    shutil.copyfile(source, target)
    with open(target, "rb+") as copy:
        os.fsync(copy.fileno())


def plain_read(path):
    with open(path, "rb", buffering=0) as f:
        return read_discard(f)


def throughput(server, work, size, runs):
    """Median seconds for PUT, GET, copy and read of one random file."""
    source = os.path.join(work, f"source-{size}")
    make_random_file(source, size)
    times = {"put": [], "get": [], "copy": [], "read": []}
    plain_read(source)
    for run in range(runs):
        name = f"bench-{size}-{run}.bin"
        with open(source, "rb") as body:
            times["put"].append(timed(lambda: server.request("PUT", name, body, expect={201})))
        times["get"].append(timed(lambda: server.get_discard(name, size)))
        target = os.path.join(work, f"copy-{size}-{run}")
        times["copy"].append(timed(lambda: durable_copy(source, target)))
        os.remove(target)
        times["read"].append(timed(lambda: plain_read(source)))
    os.remove(source)
    return {what: statistics.median(t) for what, t in times.items()}


# --- the office folder ------------------------------------------------------

def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
    return " ".join([words[0].capitalize(), *words[1:]]) + "."


def text_document(rng, size):
    paragraphs, length = [], 0
    while length < size:
        paragraph = " ".join(sentence(rng) for _ in range(rng.randint(3, 8)))
        paragraphs.append(paragraph)
        length += len(paragraph.encode()) + 2
    return "\n\n".join(paragraphs).encode()


def csv_rows(rng, count):
    return "".join(
        f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d};{rng.randint(1000, 9999)};"
        f"{rng.uniform(-5000, 50000):.2f};{rng.randint(1, 500)};{rng.choice(WORDS)}\n"
        for _ in range(count)).encode()


def csv_sheet(rng, size):
    header = b"Datum;Kostenstelle;Betrag;Menge;Bemerkung\n"
    return header + csv_rows(rng, size // 40)


def pdf_like(rng, size):
    parts = [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"]
    number, length = 1, 0
    while length < size:
        stream = rng.randbytes(rng.randint(16 * KIB, 256 * KIB))
        parts.append(f"{number} 0 obj\n<< /Type /XObject /Subtype /Image /Filter /DCTDecode "
                     f"/Length {len(stream)} >>\nstream\n".encode())
        parts += [stream, b"\nendstream\nendobj\n"]
        number += 1
        length += len(stream)
    parts.append(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n")
    return b"".join(parts)


KINDS = {
    "txt": lambda rng: text_document(rng, rng.randint(20 * KIB, 600 * KIB)),
    "csv": lambda rng: csv_sheet(rng, rng.randint(100 * KIB, 2 * MIB)),
    "pdf": lambda rng: pdf_like(rng, rng.randint(256 * KIB, 3 * MIB)),
}


def edit(rng, name, body):
    """A small change of the kind people make to that kind of file."""
    kind = name.rsplit(".", 1)[1]
    if kind == "txt":
        middle = rng.randint(len(body) // 3, 2 * len(body) // 3)
        cut = body.rfind(b". ", 0, middle) + 2
        return body[:cut] + sentence(rng).encode() + b" " + body[cut + rng.randint(0, 200):]
    if kind == "csv":
        return body + csv_rows(rng, rng.randint(20, 200))
    changed = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        length = rng.randint(64, 16 * KIB)
        start = rng.randrange(len(changed) - length)
        changed[start:start + length] = rng.randbytes(length)
    return bytes(changed)


def new_file(rng, number):
    kind = rng.choice(sorted(KINDS))
    return f"dokument-{number:03d}.{kind}", KINDS[kind](rng)


def office_versions(seed):
    """Yields, per version, the files to upload and the names to delete."""
    rng = random.Random(seed)
    folder = dict(new_file(rng, n) for n in range(30))
    yield dict(folder), []
    for version in range(2, VERSIONS + 1):
        names = sorted(folder)
        changed = {n: edit(rng, n, folder[n]) for n in rng.sample(names, len(names) // 5)}
        name, body = new_file(rng, 100 + version)
        changed[name] = body
        gone = rng.choice([n for n in names if n not in changed])
        folder.update(changed)
        del folder[gone]
        yield changed, [gone]


def tree_size(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)


def deduplication(server, seed):
    """Uploads the ten versions; returns (files and bytes in version 1,
    bytes uploaded, bytes stored)."""
    server.request("MKCOL", "office", expect={201})
    logical = 0
    versions = office_versions(seed)
    upload, delete = next(versions)
    first = (len(upload), sum(map(len, upload.values())))
    for upload, delete in [(upload, delete), *versions]:
        for name, body in sorted(upload.items()):
            server.request("PUT", f"office/{name}", body, expect={201, 204})
            logical += len(body)
        for name in delete:
            server.request("DELETE", f"office/{name}", expect={204})
    return *first, logical, tree_size(os.path.join(server.data, "blobs"))


# --- report -------------------------------------------------------------------

def machine(path):
    cpus = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout.strip()
    model = re.search(r"^model name\s*:\s*(.*)$", open("/proc/cpuinfo").read(), re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", open("/proc/meminfo").read(), re.M)
    mounts = [line.split() for line in open("/proc/mounts")]
    mount = max((m for m in mounts if path.startswith(m[1].rstrip("/") + "/")),
                key=lambda m: len(m[1]))
    return (f"{cpus} cores ({model.group(1) if model else 'unknown CPU'}), "
            f"{int(memory.group(1)) // (1024 * 1024)} GiB, Linux {os.uname().release}, "
            f"data on {mount[2]} ({mount[0]})")


def mib_s(size, seconds):
    return size / MIB / seconds


def report(args, results, dedup, work):
    command = "`" + " ".join(["scripts/bench/webdav-throughput.py", *map(shlex.quote, sys.argv[1:])]) + "`"
    date = time.strftime("%Y-%m-%d")
    print(f"Machine: {machine(work)}. Server: {args.bin}.\n")
    print("| date | what | command | result |\n|---|---|---|---|")
    for row, (size, t) in enumerate(results):
        put, copy = mib_s(size, t["put"]), mib_s(size, t["copy"])
        get, read = mib_s(size, t["get"]), mib_s(size, t["read"])
        print(f"| {date} | WebDAV PUT of a {human(size)} random file (answered once durable) "
              f"against copy + fsync on the same disk, median of {args.runs} | "
              f"{'same' if row else command} | "
              f"PUT {put:.0f} MiB/s, copy {copy:.0f} MiB/s: ratio PUT/copy **{put / copy:.2f}** |")
        print(f"| {date} | WebDAV GET of the same file against the plain copy above and a plain "
              f"(warm) read, median of {args.runs} | same | "
              f"GET {get:.0f} MiB/s: ratio GET/copy **{get / copy:.2f}**; "
              f"read {read:.0f} MiB/s: ratio GET/read {get / read:.2f} |")
    files, first, logical, stored = dedup
    print(f"| {date} | {VERSIONS} successive versions of an office folder ({files} texts, "
          f"sheets and PDF-like files, {first / MIB:.1f} MiB; ~20 % edited, one added and one "
          f"deleted per version) | same | {logical / MIB:.1f} MiB uploaded, "
          f"{stored / MIB:.1f} MiB under blobs "
          f"(deduplicated and compressed): ratio **{logical / stored:.1f}** |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=DEFAULT_BIN, help="the webdav-server binary")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1MiB,100MiB",
                        type=lambda s: [parse_size(x) for x in s.split(",")])
    parser.add_argument("--seed", type=int, default=1, help="seed of the office folder")
    parser.add_argument("--dir", help="where to work (default: a temporary directory)")
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin} not found; cargo build --release -p guss-storage --example webdav-server")
    work = tempfile.mkdtemp(prefix="webdav-bench-", dir=args.dir)
    servers = []
    try:
        servers.append(Server(args.bin, os.path.join(work, "data"), os.path.join(work, "server.log")))
        results = [(size, throughput(servers[-1], work, size, args.runs)) for size in args.sizes]
        servers.append(Server(args.bin, os.path.join(work, "dedup"), os.path.join(work, "server.log")))
        dedup = deduplication(servers[-1], args.seed)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(args, results, dedup, work)


if __name__ == "__main__":
    main()
