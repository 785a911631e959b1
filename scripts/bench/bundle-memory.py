#!/usr/bin/env python3
"""Idle memory of the `guss` bundle with 1 and with N organisations.

Starts the server on a fresh data directory (SQLite + local files), creates
organisations through the admin API, and reads the process's RSS and PSS
(/proc/PID/smaps_rollup) once it is idle:

  1. with 1 organisation;
  2. with N organisations, right after creating them, and once the
     database files they used are closed again;
  3. after a restart with N organisations, before any request;
  4. after every organisation has served one page (its sign-in page).

Usage:
  cargo build --release -p guss-server
  python3 scripts/bench/bundle-memory.py --bin target/release/guss --tenants 1000
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "bench-admin-token-0123456789abcdef"
# guss-sql closes SQLite connections unused for 60 s, checking once a minute.
IDLE_CLOSE = 130


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kib(pid):
    """RSS and PSS of the process, in KiB."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] in ("Rss:", "Pss:"):
                values[parts[0][:-1]] = int(parts[1])
    return values["Rss"], values["Pss"]


def idle(pid, seconds=3.0):
    time.sleep(seconds)
    return memory_kib(pid)


class Server:
    def __init__(self, binary, data, port):
        env = dict(os.environ, GUSS_ADMIN_TOKEN=TOKEN, GUSS_LOG="warn")
        self.process = subprocess.Popen(
            [binary, "--data", data, "serve", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        self.port = port
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("the server did not start")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)

    def request(self, method, path, host, body=None, headers=None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method, data=body,
            headers={"Host": host, **(headers or {})})
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.read()

    def create_tenant(self, index):
        body = json.dumps({
            "name": f"Office {index}",
            "owner_email": f"owner{index}@office{index}.example",
            "host": f"office{index}.localhost:{self.port}",
        }).encode()
        status, _ = self.request("POST", "/api/admin/tenants", "admin.localhost", body, {
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        assert status == 201, status


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/guss")
    parser.add_argument("--tenants", type=int, default=1000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        server = Server(args.bin, data, port)
        try:
            server.create_tenant(0)
            rows.append(("1 organisation, idle", *idle(server.process.pid)))
            started = time.time()
            for i in range(1, args.tenants):
                server.create_tenant(i)
            created = time.time() - started
            rows.append((f"{args.tenants} organisations, idle after creating them",
                         *idle(server.process.pid)))
            rows.append((f"{args.tenants} organisations, {IDLE_CLOSE} s later (idle files closed)",
                         *idle(server.process.pid, IDLE_CLOSE)))
        finally:
            server.stop()
        server = Server(args.bin, data, port)
        try:
            rows.append((f"{args.tenants} organisations, idle after a restart",
                         *idle(server.process.pid)))
            for i in range(args.tenants):
                status, _ = server.request("GET", "/sign-in", f"office{i}.localhost:{port}")
                assert status == 200, status
            rows.append((f"{args.tenants} organisations, each served one page",
                         *idle(server.process.pid)))
        finally:
            server.stop()
        db_size = sum(os.path.getsize(os.path.join(d, f))
                      for d, _, files in os.walk(data) for f in files)
    print(f"created {args.tenants - 1} organisations in {created:.1f} s "
          f"({(args.tenants - 1) / created:.1f}/s); data directory {db_size / 2**20:.1f} MiB")
    print("| state | RSS | PSS |")
    print("|---|---|---|")
    for name, rss, pss in rows:
        print(f"| {name} | {rss / 1024:.1f} MiB | {pss / 1024:.1f} MiB |")


if __name__ == "__main__":
    sys.exit(main())
