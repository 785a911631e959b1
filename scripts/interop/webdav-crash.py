#!/usr/bin/env python3
"""Crash test for the webdav-server example: kills the server mid-upload
many times and checks every acknowledged file after restart.

Each round runs concurrent uploaders against the server (files of 0 B, a
few KiB and 100 KiB-3 MiB, sharing content so deduplication is exercised;
overwrites; files in MKCOL'd folders), in some rounds also one slowly
streamed 20 MiB upload, and then sends SIGKILL to the server while uploads
are in flight. The server is restarted on the same data directory and every
file is read back: a file whose PUT was answered 201/204 must have the
content of its last answered PUT, unless a later PUT to the same name was
cut off by the kill, in which case that body is allowed too. What the
restarted server shows becomes the known state for the next round. The
test also requires PROPFIND Depth 1 on /anna/ to answer 207 and list every
known top-level file and folder, the server to come back within
--restart-timeout seconds, and exactly the expected status for every
request (201 for a new name, 204 for a replaced one).

Run (builds first):

    cargo build -p guss-storage --example webdav-server
    scripts/interop/webdav-crash.py [--rounds 20] [--seed 1] [--bin PATH] [--data DIR] [--keep]

Exit code 0 when nothing was lost, 1 otherwise.
"""

import argparse
import base64
import hashlib
import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BIN = os.path.join(ROOT, "target", "debug", "examples", "webdav-server")
USER, PASSWORD = "anna", "geheim"
AUTH = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
KIB, MIB = 1024, 1024 * 1024
UPLOADERS = 3
TOP_NAMES = 8  # top-level file names per uploader
FOLDERS = 3  # folders per uploader
FOLDER_NAMES = 4  # file names per folder
BIG_SIZE = 20 * MIB
BIG_PIECE = 256 * KIB
BIG_PAUSE = 0.025  # seconds between pieces: the big upload takes about 2 s
TIMEOUT = 30  # seconds for any one HTTP request
# What a request the kill cuts off raises.
CUT_OFF = (OSError, http.client.HTTPException)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The webdav-server process on one data directory."""

    def __init__(self, binary, data, log_path):
        self.binary, self.data, self.log_path = binary, data, log_path
        self.proc = None
        self.port = None

    def start(self, timeout):
        """Starts the server; returns the seconds it took to be ready."""
        begin = time.monotonic()
        self.port = free_port()
        with open(self.log_path, "ab") as log:
            log.write(f"--- start on port {self.port}\n".encode())
            log.flush()
            offset = log.tell()
            self.proc = subprocess.Popen(
                [self.binary, "--listen", f"127.0.0.1:{self.port}",
                 "--data", self.data, "--user", f"{USER}:{PASSWORD}"],
                stdout=log, stderr=subprocess.STDOUT)
        while time.monotonic() - begin < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} at start")
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                if b"serving WebDAV on" in log.read():
                    return time.monotonic() - begin
            time.sleep(0.02)
        raise RuntimeError(f"server not ready within {timeout} s")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, lines=20):
        with open(self.log_path, "rb") as log:
            return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)


def url(name):
    return f"/{USER}/{name}"


def put(port, name, pieces, length, chunked, pause=0.0, progress=None):
    """PUTs the body given as `pieces` (with Content-Length or chunked
    transfer coding), pausing between pieces; returns the status."""
    conn = connect(port)
    try:
        conn.putrequest("PUT", url(name))
        conn.putheader("Authorization", AUTH)
        conn.putheader("Content-Type", "application/octet-stream")
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        else:
            conn.putheader("Content-Length", str(length))
        conn.endheaders()
        for piece in pieces:
            if chunked and piece:
                conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
            elif piece:
                conn.send(piece)
            if progress is not None:
                progress(len(piece))
            if pause:
                time.sleep(pause)
        if chunked:
            conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def simple(port, method, name, headers=None):
    """Sends a request without a body; returns (status, body)."""
    conn = connect(port)
    try:
        conn.request(method, url(name), headers={"Authorization": AUTH, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_digest(port, name):
    """The sha256 of the file's content, or None when it is absent (404)."""
    conn = connect(port)
    try:
        conn.request("GET", url(name), headers={"Authorization": AUTH})
        response = conn.getresponse()
        if response.status == 404:
            response.read()
            return None
        if response.status != 200:
            raise RuntimeError(f"GET {name}: status {response.status}")
        expected = int(response.getheader("Content-Length"))
        digest, received = hashlib.sha256(), 0
        while piece := response.read(MIB):
            digest.update(piece)
            received += len(piece)
        if received != expected:
            raise http.client.IncompleteRead(b"", expected - received)
        return digest.hexdigest()
    finally:
        conn.close()


def sha(body):
    return hashlib.sha256(body).hexdigest()


class Ledger:
    """What the server has acknowledged, what is known to be stored and
    what was in flight when it was killed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files = {}  # name -> sha256 of the stored content, None if absent
        self.inflight = {}  # name -> sha256 of the body being sent
        self.cut = {}  # name -> sha256 of a body cut off by the kill
        self.folders = {}  # folder -> whether it exists
        self.folders_inflight = set()
        self.folders_cut = set()
        self.errors = []
        self.acknowledged = 0

    def begin(self, name, digest):
        with self.lock:
            self.inflight[name] = digest
            return 204 if self.files.get(name) is not None else 201

    def answered(self, name, status, expected):
        with self.lock:
            digest = self.inflight.pop(name)
            if status != expected:
                self.errors.append(f"PUT {name}: status {status}, expected {expected}")
                return
            self.files[name] = digest
            self.acknowledged += 1

    def cut_off(self, name):
        with self.lock:
            self.cut[name] = self.inflight.pop(name)

    def error(self, message):
        with self.lock:
            self.errors.append(message)


class Content:
    """Bodies built from shared random blocks, so files share chunks."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.blocks = [rng.randbytes(MIB) for _ in range(4)]
        self.recent = []
        self.lock = threading.Lock()

    def mixed(self, rng, size):
        parts, left = [], size
        while left > 0:
            length = min(left, rng.randint(16 * KIB, 512 * KIB))
            if rng.random() < 0.6:
                block = rng.choice(self.blocks)
                start = rng.randrange(len(block))
                part = block[start:start + length]
            else:
                part = rng.randbytes(length)
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def body(self, rng):
        """0 B, a few KiB or 100 KiB-3 MiB; sometimes an earlier body again."""
        roll = rng.random()
        with self.lock:
            if roll < 0.1 and self.recent:
                return rng.choice(self.recent)
        if roll < 0.22:
            return b""
        if roll < 0.5:
            body = self.mixed(rng, rng.randint(1 * KIB, 8 * KIB))
        else:
            body = self.mixed(rng, rng.randint(100 * KIB, 3 * MIB))
        with self.lock:
            self.recent = (self.recent + [body])[-16:]
        return body


def pieces_of(body, size):
    return [body[i:i + size] for i in range(0, len(body), size)] or [b""]


class Round:
    """One round of uploads against a running server, until stopped."""

    def __init__(self, port, ledger, content, rng):
        self.port, self.ledger, self.content, self.rng = port, ledger, content, rng
        self.stop = threading.Event()
        self.big_sent = 0

    def upload(self, name, body, rng, pause=0.0, progress=None):
        expected = self.ledger.begin(name, sha(body))
        chunked = rng.random() < 0.3
        try:
            size = BIG_PIECE if pause else 64 * KIB
            status = put(self.port, name, pieces_of(body, size), len(body), chunked, pause, progress)
        except CUT_OFF as e:
            self.ledger.cut_off(name)
            if not self.stop.is_set():
                self.ledger.error(f"PUT {name}: {e!r} before the kill")
            return
        self.ledger.answered(name, status, expected)

    def make_folder(self, folder):
        with self.ledger.lock:
            self.ledger.folders_inflight.add(folder)
        try:
            status, _ = simple(self.port, "MKCOL", folder)
        except CUT_OFF as e:
            with self.ledger.lock:
                self.ledger.folders_inflight.discard(folder)
                self.ledger.folders_cut.add(folder)
            if not self.stop.is_set():
                self.ledger.error(f"MKCOL {folder}: {e!r} before the kill")
            return
        with self.ledger.lock:
            self.ledger.folders_inflight.discard(folder)
            if status == 201:
                self.ledger.folders[folder] = True
            else:
                self.ledger.errors.append(f"MKCOL {folder}: status {status}, expected 201")

    def uploader(self, index, seed):
        rng = random.Random(seed)
        folders = [f"d{index}-{k}" for k in range(FOLDERS)]
        while not self.stop.is_set() and not self.ledger.errors:
            with self.ledger.lock:
                missing = [f for f in folders if not self.ledger.folders.get(f)]
                existing = [f for f in folders if self.ledger.folders.get(f)]
            if missing and rng.random() < 0.15:
                self.make_folder(rng.choice(missing))
                continue
            if existing and rng.random() < 0.4:
                name = f"{rng.choice(existing)}/f{rng.randrange(FOLDER_NAMES)}.bin"
            else:
                name = f"t{index}-{rng.randrange(TOP_NAMES)}.bin"
            self.upload(name, self.content.body(rng), rng)

    def big(self, seed):
        rng = random.Random(seed)
        body = self.content.mixed(rng, BIG_SIZE)

        def progress(n):
            self.big_sent += n

        self.upload(f"big-{rng.randrange(2)}.bin", body, rng, BIG_PAUSE, progress)

    def start(self, seed, with_big):
        """Starts the uploader threads (and the big upload); returns them."""
        threads = [threading.Thread(target=self.uploader, args=(i, seed * 100 + i))
                   for i in range(UPLOADERS)]
        if with_big:
            threads.append(threading.Thread(target=self.big, args=(seed * 100 + 99,)))
        for t in threads:
            t.start()
        return threads

    def wait_for_kill_point(self, with_big):
        if not with_big:
            time.sleep(self.rng.uniform(0.05, 0.8))
            return
        target = self.rng.uniform(0.05, 1.0) * BIG_SIZE
        deadline = time.monotonic() + 10
        while self.big_sent < target and time.monotonic() < deadline:
            time.sleep(0.005)


def hrefs(body):
    prefix = f"/{USER}/"
    return {h[len(prefix):].rstrip("/") for h in re.findall(r"<D:href>([^<]*)</D:href>", body.decode())
            if h.startswith(prefix)}


def describe(digest):
    if digest is None:
        return "missing"
    return digest if digest.startswith("unreadable") else f"sha256 {digest[:16]}"


def verify(port, ledger, report):
    """Reads back every known file after a restart; returns (files checked
    that were known to be stored, cut-off writes found stored, losses).
    Updates the ledger to what the server now shows."""
    status, body = simple(port, "PROPFIND", "", {"Depth": "1"})
    if status != 207:
        raise RuntimeError(f"PROPFIND Depth 1 /{USER}/: status {status}")
    listed = hrefs(body)
    for folder in ledger.folders_cut:
        ledger.folders[folder] = folder in listed
    ledger.folders_cut.clear()
    lost = 0
    for folder, exists in sorted(ledger.folders.items()):
        if exists and folder not in listed:
            report(f"LOST folder {folder}: not in PROPFIND")
            lost += 1
    checked = stored_cut = 0
    for name in sorted(set(ledger.files) | set(ledger.cut)):
        known = ledger.files.get(name)
        cut = ledger.cut.pop(name, None)
        try:
            actual = get_digest(port, name)
        except CUT_OFF as e:
            actual = f"unreadable: {e!r}"
        allowed = {known, cut} - ({None} if known is not None else set())
        checked += known is not None
        stored_cut += cut is not None and actual == cut != known
        if actual not in allowed:
            report(f"LOST {name}: {describe(actual)}, expected "
                   f"{' or '.join(sorted(describe(a) for a in allowed))}")
            lost += 1
        elif actual is not None and "/" not in name and name not in listed:
            report(f"LOST {name}: readable but not in PROPFIND")
            lost += 1
        ledger.files[name] = actual
    return checked, stored_cut, lost


class Totals:
    def __init__(self):
        self.checked = self.lost = self.cut = self.stored_cut = self.big_kills = 0
        self.slowest_restart = 0.0
        self.failed = False


def crash_round(number, server, ledger, content, rng, args, totals):
    """Uploads, kills the server mid-upload, restarts it and checks."""
    with_big = number % 2 == 0 or rng.random() < 0.3
    round_ = Round(server.port, ledger, content, rng)
    threads = round_.start(args.seed * 1000 + number, with_big)
    round_.wait_for_kill_point(with_big)
    round_.stop.set()
    with ledger.lock:
        in_flight = len(ledger.inflight) + len(ledger.folders_inflight)
        big_in_flight = any(n.startswith("big-") for n in ledger.inflight)
    server.kill()
    for t in threads:
        t.join()
    totals.cut += in_flight
    totals.big_kills += big_in_flight
    totals.slowest_restart = max(totals.slowest_restart, server.start(args.restart_timeout))

    def report(line):
        print(f"round {number}: {line}", file=sys.stderr)

    checked, stored_cut, lost = verify(server.port, ledger, report)
    totals.checked += checked
    totals.stored_cut += stored_cut
    totals.lost += lost
    for line in ledger.errors:
        report(line)
    totals.failed |= bool(ledger.errors) or lost > 0
    if args.verbose:
        report(f"{in_flight} in flight at the kill"
               f"{' (the 20 MiB upload among them)' if big_in_flight else ''}, "
               f"{checked} files checked, {lost} lost")


def crash_test(args, data, log_path):
    """Runs the rounds; returns the totals and the ledger."""
    server = Server(args.bin, data, log_path)
    ledger = Ledger()
    content = Content(args.seed)
    rng = random.Random(args.seed)
    totals = Totals()
    try:
        server.start(args.restart_timeout)
        for number in range(1, args.rounds + 1):
            crash_round(number, server, ledger, content, rng, args, totals)
            if ledger.errors:
                break
    except (RuntimeError, *CUT_OFF) as e:
        print(f"{e}\n--- server log (end)\n{server.log_tail()}", file=sys.stderr)
        totals.failed = True
    finally:
        server.kill()
    return totals, ledger


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=DEFAULT_BIN, help="the webdav-server binary")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    parser.add_argument("--data", help="data directory (default: a fresh temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--restart-timeout", type=float, default=30.0,
                        help="seconds the server may take to come back")
    parser.add_argument("--verbose", action="store_true", help="one line per round")
    args = parser.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin} not found; cargo build -p guss-storage --example webdav-server")
    work = tempfile.mkdtemp(prefix="webdav-crash-")
    data = args.data or os.path.join(work, "data")
    print(f"seed {args.seed}, data {data}, server log {work}/server.log", file=sys.stderr)
    try:
        totals, ledger = crash_test(args, data, os.path.join(work, "server.log"))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"crash test: {args.rounds} rounds, {ledger.acknowledged} acknowledged writes, "
          f"{totals.checked} file checks after restarts, {totals.cut} requests cut off "
          f"({totals.big_kills} kills during the 20 MiB upload, {totals.stored_cut} cut-off "
          f"writes found stored), slowest restart "
          f"{totals.slowest_restart:.2f} s, {totals.lost} lost"
          f"{'' if not totals.failed else ' -- FAILED'}", flush=True)
    sys.exit(1 if totals.failed else 0)


if __name__ == "__main__":
    main()
