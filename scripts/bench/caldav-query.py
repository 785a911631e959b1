#!/usr/bin/env python3
"""CalDAV query benchmark: a calendar of 10,000 Outlook-shaped events,
queried by REPORT, on the guss-calendar caldav-server example and/or on
Radicale, with the ratio when both run.

Data (deterministic, --seed): tests/recurrence/generate-outlook.py's
event_items() with 80 % single events spread over 2030-2031 and 20 %
weekly/daily/monthly series (some with EXDATEs and moved instances), each
event with a long DESCRIPTION, ORGANIZER, ATTENDEEs, X-MICROSOFT-CDO-*
properties and usually a VALARM. Each UID is one calendar resource (its
VTIMEZONE, master and overrides). --events counts VEVENTs.

Loading:
  put    one PUT per resource over --workers keep-alive connections (the
         default for --url and --bin); the load rate is printed.
  files  Radicale only (the default for --radicale): the resources are
         written straight into Radicale's storage folder before it starts
         (collection-root/USER/bench/NAME.ics plus .Radicale.props), since
         10,000 PUTs to Radicale take long; its item cache is then built by
         the untimed warm-up query.

Queries, each run once untimed (warm-up), then timed --runs times; the
median is reported with the answer size, MiB/s and queries/s:
  query-week         calendar-query REPORT, VEVENT time-range of one week
                     (2030-06-03 to 2030-06-10 UTC), full calendar-data
  query-week-expand  the same with CALDAV:expand over the week
  multiget-100       calendar-multiget of 100 hrefs (fixed sample)

Run:
    scripts/bench/caldav-query.py --radicale                       # Radicale only
    cargo build --release -p guss-calendar --example caldav-server
    scripts/bench/caldav-query.py --bin target/release/examples/caldav-server --radicale
    scripts/bench/caldav-query.py --url http://127.0.0.1:PORT/ --user anna:pw-a

Needs: python3 -m pip install radicale (for --radicale).
"""

import argparse
import base64
import concurrent.futures
import http.client
import importlib.util
import json
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
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR = os.path.join(ROOT, "tests", "recurrence", "generate-outlook.py")
WEEK = ("20300603T000000Z", "20300610T000000Z")
MIB = 1024 * 1024


def load_generator():
    spec = importlib.util.spec_from_file_location("generate_outlook", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_resources(count, seed):
    """[(file name, iCalendar bytes)]: one resource per UID."""
    gen = load_generator()
    resources = []
    for n, (uid, tzid, texts) in enumerate(gen.event_items(count, seed)):
        body = gen.calendar_header("bench", method=None) + gen.vtimezone(tzid) + "".join(texts) + "END:VCALENDAR\r\n"
        resources.append((f"event-{n:05d}.ics", body.encode("utf-8")))
    return resources


# ---------------------------------------------------------------- HTTP


class Connection:
    """One keep-alive HTTP connection with Basic auth."""

    def __init__(self, base, user, password):
        parts = urllib.parse.urlsplit(base)
        self.host, self.port = parts.hostname, parts.port or 80
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.conn = None
        self.last_location = None

    def request(self, method, path, body=b"", headers=None):
        """Return (status, body bytes); reconnects once on a dropped connection."""
        all_headers = {"Authorization": self.auth}
        all_headers.update(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
            try:
                self.conn.request(method, path, body=body, headers=all_headers)
                response = self.conn.getresponse()
                self.last_location = response.getheader("Location")
                return response.status, response.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def discover_home(conn):
    """Calendar home: /.well-known/caldav, current-user-principal, calendar-home-set."""
    def prop(path, inner, element):
        body = ('<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
                f"<d:prop>{inner}</d:prop></d:propfind>").encode()
        status, text = conn.request("PROPFIND", path, body, {"Depth": "0", "Content-Type": "application/xml"})
        match = re.search(rb"<(?:\w+:)?%s\b[^>]*>\s*<(?:\w+:)?href>([^<]+)<" % element.encode(), text)
        if status != 207 or not match:
            sys.exit(f"PROPFIND {path} for {element}: {status}")
        return urllib.parse.urlsplit(match.group(1).decode()).path

    context = "/"
    status, _ = conn.request("GET", "/.well-known/caldav")
    if status in (301, 302, 303, 307, 308):
        context = urllib.parse.urlsplit(conn.last_location or "/").path or "/"
    principal = prop(context, "<d:current-user-principal/>", "current-user-principal")
    return prop(principal, "<c:calendar-home-set/>", "calendar-home-set")


def mkcalendar(conn, path):
    body = ('<?xml version="1.0"?><c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            "<d:set><d:prop><d:displayname>bench</d:displayname></d:prop></d:set></c:mkcalendar>").encode()
    status, text = conn.request("MKCALENDAR", path, body, {"Content-Type": "application/xml"})
    if status not in (200, 201):
        sys.exit(f"MKCALENDAR {path}: {status} {text[:200]!r}")


def put_all(base, user, password, calendar, resources, workers):
    """PUT every resource; return seconds taken."""
    local = threading.local()

    def put(item):
        name, body = item
        if not hasattr(local, "conn"):
            local.conn = Connection(base, user, password)
        status, text = local.conn.request("PUT", calendar + name, body,
                                          {"Content-Type": "text/calendar; charset=utf-8"})
        if status not in (200, 201, 204):
            raise RuntimeError(f"PUT {name}: {status} {text[:200]!r}")

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(put, resources))
    return time.perf_counter() - started


# ---------------------------------------------------------------- queries


def query_bodies(calendar, names, multiget_size, seed, expand=True):
    start, end = WEEK
    time_range = f'<c:time-range start="{start}" end="{end}"/>'
    filters = ('<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT">'
               f"{time_range}</c:comp-filter></c:comp-filter></c:filter>")
    head = '<?xml version="1.0" encoding="utf-8"?>'
    ns = 'xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"'
    sample = random.Random(seed).sample(names, min(multiget_size, len(names)))
    hrefs = "".join(f"<d:href>{calendar}{name}</d:href>" for name in sample)
    bodies = [
        ("query-week", f"{head}<c:calendar-query {ns}><d:prop><d:getetag/><c:calendar-data/></d:prop>"
                       f"{filters}</c:calendar-query>", "1"),
        ("query-week-expand", f"{head}<c:calendar-query {ns}><d:prop><d:getetag/><c:calendar-data>"
                              f'<c:expand start="{start}" end="{end}"/></c:calendar-data></d:prop>'
                              f"{filters}</c:calendar-query>", "1"),
        (f"multiget-{len(sample)}", f"{head}<c:calendar-multiget {ns}><d:prop><d:getetag/><c:calendar-data/>"
                                    f"</d:prop>{hrefs}</c:calendar-multiget>", "1"),
    ]
    return [b for b in bodies if expand or not b[0].endswith("-expand")]


def time_query(conn, calendar, body, depth, runs):
    """(median seconds, answer bytes, responses in the answer) after a warm-up."""
    headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
    status, text = conn.request("REPORT", calendar, body.encode(), headers)
    if status != 207:
        sys.exit(f"REPORT {calendar}: {status} {text[:300]!r}")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        status, text = conn.request("REPORT", calendar, body.encode(), headers)
        times.append(time.perf_counter() - started)
        if status != 207:
            sys.exit(f"REPORT {calendar}: {status}")
    responses = len(re.findall(rb"<(?:\w+:)?response[ >]", text))
    return statistics.median(times), len(text), responses


def run_queries(name, base, user, password, calendar, names, args):
    conn = Connection(base, user, password)
    results = {}
    for label, body, depth in query_bodies(calendar, names, args.multiget, args.seed, not args.no_expand):
        seconds, size, responses = time_query(conn, calendar, body, depth, args.runs)
        results[label] = (seconds, size, responses)
        print(f"  {name:<9} {label:<18} {seconds * 1000:9.1f} ms  {responses:5d} responses  "
              f"{size / MIB:7.2f} MiB  {size / MIB / seconds:8.1f} MiB/s  {1 / seconds:8.2f} queries/s",
              flush=True)
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
            sys.exit(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"server did not listen on port {port}")


def stop(process):
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_radicale_storage(folder, user, resources):
    """Put the calendar straight into Radicale's filesystem storage."""
    calendar = os.path.join(folder, "collection-root", user, "bench")
    os.makedirs(calendar)
    with open(os.path.join(calendar, ".Radicale.props"), "w") as f:
        json.dump({"tag": "VCALENDAR", "D:displayname": "bench",
                   "C:supported-calendar-component-set": "VEVENT"}, f)
    for name, body in resources:
        with open(os.path.join(calendar, name), "wb") as f:
            f.write(body)
    return f"/{user}/bench/"


def start_radicale(work, user, password):
    port = free_port()
    htpasswd = os.path.join(work, "users")
    with open(htpasswd, "w") as f:
        f.write(f"{user}:{password}\n")
    command = [sys.executable, "-m", "radicale", "--storage-filesystem-folder", os.path.join(work, "storage"),
               "--server-hosts", f"127.0.0.1:{port}", "--auth-type", "htpasswd",
               "--auth-htpasswd-filename", htpasswd, "--auth-htpasswd-encryption", "plain",
               "--logging-level", "warning"]
    log = open(os.path.join(work, "radicale.log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=log)
    wait_for(port, process)
    return process, f"http://127.0.0.1:{port}/"


def start_guss(binary, work, user, password, database):
    port = free_port()
    command = [binary, "--listen", f"127.0.0.1:{port}", "--data", os.path.join(work, "data"),
               "--user", f"{user}:{password}"]
    if database:
        command += ["--database", database]
    os.makedirs(os.path.join(work, "data"))
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "guss.log"), "w"))
    wait_for(port, process)
    return process, f"http://127.0.0.1:{port}/"


def bench_over_http(name, base, user, password, resources, args):
    """MKCALENDAR, PUT everything, run the queries."""
    conn = Connection(base, user, password)
    calendar = discover_home(conn).rstrip("/") + f"/bench-{args.seed}-{random.randrange(1 << 30):08x}/"
    mkcalendar(conn, calendar)
    seconds = put_all(base, user, password, calendar, resources, args.workers)
    print(f"  {name:<9} loaded {len(resources)} resources by PUT in {seconds:.1f} s "
          f"({len(resources) / seconds:.0f} PUT/s)", flush=True)
    return run_queries(name, base, user, password, calendar, [n for n, _ in resources], args)


def bench_radicale(resources, args, work):
    user, password = args.user.split(":", 1)
    if args.load == "put":
        process, base = start_radicale(work, user, password)
        try:
            return bench_over_http("radicale", base, user, password, resources, args)
        finally:
            stop(process)
    started = time.perf_counter()
    calendar = write_radicale_storage(os.path.join(work, "storage"), user, resources)
    print(f"  radicale  wrote {len(resources)} resources into its storage folder in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    process, base = start_radicale(work, user, password)
    try:
        return run_queries("radicale", base, user, password, calendar, [n for n, _ in resources], args)
    finally:
        stop(process)


def print_ratio(guss, radicale):
    print("ratio guss/radicale (queries/s):")
    for label in guss:
        if label in radicale:
            print(f"  {label:<18} {radicale[label][0] / guss[label][0]:6.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="base URL of a running server under test")
    parser.add_argument("--bin", help="start this caldav-server example (guss)")
    parser.add_argument("--database", help="--database URL for --bin")
    parser.add_argument("--radicale", action="store_true", help="also run Radicale with the same data")
    parser.add_argument("--user", default="anna:pw-a", help="NAME:PASSWORD")
    parser.add_argument("--events", type=int, default=10000, help="VEVENTs in the calendar")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--multiget", type=int, default=100)
    parser.add_argument("--no-expand", action="store_true", help="skip the query with CALDAV:expand (slow on some peers)")
    parser.add_argument("--workers", type=int, default=8, help="parallel PUT connections")
    parser.add_argument("--load", choices=["put", "files"], help="Radicale loading (default files)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so started servers are stopped
    if not (args.url or args.bin or args.radicale):
        parser.error("give --url, --bin and/or --radicale")
    args.load = args.load or "files"
    user, password = args.user.split(":", 1)

    started = time.perf_counter()
    resources = make_resources(args.events, args.seed)
    total = sum(len(body) for _, body in resources)
    print(f"data: {args.events} VEVENTs in {len(resources)} resources, {total / MIB:.1f} MiB, "
          f"made in {time.perf_counter() - started:.1f} s; median of {args.runs} runs", flush=True)
    results = {}
    work = tempfile.mkdtemp(prefix="caldav-bench-")
    try:
        if args.url:
            results["server"] = bench_over_http("server", args.url, user, password, resources, args)
        if args.bin:
            os.makedirs(os.path.join(work, "guss"))
            process, base = start_guss(args.bin, os.path.join(work, "guss"), user, password, args.database)
            try:
                results["guss"] = bench_over_http("guss", base, user, password, resources, args)
            finally:
                stop(process)
        if args.radicale:
            os.makedirs(os.path.join(work, "radicale"))
            results["radicale"] = bench_radicale(resources, args, os.path.join(work, "radicale"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    guss = results.get("guss") or results.get("server")
    if guss and "radicale" in results:
        print_ratio(guss, results["radicale"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
