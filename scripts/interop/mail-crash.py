#!/usr/bin/env python3
"""Crash test for the outbound queue of the mail-server example: what the
server acknowledged with 250 must reach the relay exactly once, whatever
kill -9 does in between.

Each round, with the relay sink (mail-sink.py) not accepting mail — either
nothing listens on the relay port, or the sink answers 451 at the end of
DATA — anna submits --messages messages (AUTH PLAIN on the submission port,
several per connection, some to two recipients in different domains), so
that every acknowledged message sits in the queue. In some rounds (always
the first) the server is killed with SIGKILL in the middle of the burst and
restarted, and the burst goes on. Then the server is killed again,
restarted, and only then the sink comes up (or stops answering 451). The
round waits (at most --timeout seconds) until every message acknowledged so
far has arrived, then a few seconds more for duplicates, and checks:

  - every acknowledged message arrived once per recipient, no more, no
    less, across all rounds so far (matched by Message-ID and RCPT TO);
  - a message whose submission a kill cut off arrived at most once;
  - what arrived is the submitted bytes with header fields put in front;
  - nothing else arrived.

The data directory (and database) carries over from round to round, so a
later kill must not bring back what an earlier round delivered.

Run (builds the example first unless --bin is given):

    scripts/interop/mail-crash.py [--rounds 5] [--messages 30] [--seed 1]
        [--backend sqlite|postgres|s3|postgres-s3] [--timeout 120]
        [--retry-seconds 1] [--lease-seconds 6] [--bin PATH] [--keep]

--retry-seconds is passed to the example as --retry-seconds (its first
retry delay, doubling after; 0 passes nothing and keeps the example's
default). --lease-seconds is the example's queue claim lease: a delivery
cut off by a kill is picked up again once its claim has lapsed (on SQLite at
once, since one process owns the file). Installs aiosmtpd (pip), and PostgreSQL (apt) or moto (pip) for
those backends, when missing. Exit status 0 when nothing was lost or
duplicated.
"""

import argparse
import contextlib
import os
import random
import shutil
import smtplib
import sys
import tempfile
import threading
import time

import mail_lib as lib  # the shared helpers, next to this script



DOMAIN = "guss.test"
USER, PASSWORD = "anna", "anna-crash-password"
ADDRESS = f"{USER}@{DOMAIN}"
RECIPIENTS = ["max@remote.test", "eva@other.test"]
PER_CONNECTION = 4
SETTLE = 3  # seconds to wait for duplicates once everything has arrived


class Submitter(threading.Thread):
    """Submits the round's messages one by one; survives kills of the
    server by waiting for `up` and reconnecting."""

    def __init__(self, server, messages, up, acked, cut_off):
        super().__init__(daemon=True)
        self.server, self.messages, self.up = server, messages, up
        self.acked, self.cut_off = acked, cut_off  # dicts shared with the main thread
        self.count = 0
        self.error = None
        self.lock = threading.Lock()

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the main thread
            self.error = e

    def _run(self):
        pending = list(self.messages)
        s = None
        sent_on_connection = 0
        while pending:
            mid, rcpts, raw = pending[0]
            submitting = False
            try:
                if s is None or sent_on_connection >= PER_CONNECTION:
                    if s is not None:
                        with contextlib.suppress(OSError):
                            s.quit()
                        s = None
                    if not self.up.wait(120):
                        raise RuntimeError("the server did not come back within 120 s")
                    s = smtplib.SMTP("127.0.0.1", self.server.submission_port, timeout=30)
                    s.ehlo("client.remote.test")
                    s.user, s.password = ADDRESS, PASSWORD
                    s.auth("PLAIN", s.auth_plain, initial_response_ok=True)
                    sent_on_connection = 0
                submitting = True
                refused = s.sendmail(ADDRESS, rcpts, raw)
                if refused:
                    raise RuntimeError(f"{mid}: recipients refused: {refused}")
                with self.lock:
                    self.acked[mid] = (rcpts, raw)
                    self.count += 1
                sent_on_connection += 1
                pending.pop(0)
            except smtplib.SMTPResponseException as e:
                raise RuntimeError(f"{mid}: the server answered {e.smtp_code} {e.smtp_error!r}") from e
            except OSError:
                # The kill cut the connection. A message in the middle of its
                # transaction may or may not be queued: it is not sent again
                # (that would be a legitimate duplicate) and may arrive once.
                # One not yet begun is sent on the next connection.
                if submitting:
                    with self.lock:
                        self.cut_off[mid] = (rcpts, raw)
                    pending.pop(0)
                s = None
                time.sleep(0.05)
        if s is not None:
            with contextlib.suppress(OSError):
                s.quit()


def make_messages(rng, round_no, count):
    messages = []
    for i in range(count):
        tag = f"crash-r{round_no}-m{i}"
        rcpts = RECIPIENTS[:2] if rng.random() < 0.3 else RECIPIENTS[:1]
        size = rng.choice([200, 2000, 20000, 200000])
        lines = [f"message {i} of round {round_no}", ".", ".leading dot", "Grüße ✓"]
        while sum(len(line) + 2 for line in lines) < size:
            lines.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 ") for _ in range(76)))
        raw = lib.simple(tag, ADDRESS, ", ".join(rcpts), f"crash round {round_no} #{i}", "\n".join(lines), DOMAIN)
        messages.append((lib.message_id(raw), rcpts, raw))
    return messages


def arrivals(sink):
    """{(Message-ID, recipient): [(sink name, bytes)]} of what reached the sink."""
    found = {}
    for name, (envelope, raw) in sink.messages().items():
        mid = lib.message_id(raw)
        for rcpt in envelope.get("rcpt_tos", []):
            found.setdefault((mid, rcpt.lower()), []).append((name, raw))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", help="the mail-server example (default: build it)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=30, help="submitted per round")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backend", default="sqlite", choices=lib.BACKENDS)
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait for delivery per round")
    parser.add_argument("--retry-seconds", type=int, default=1)
    parser.add_argument("--lease-seconds", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    lib.exit_on_sigterm()
    sys.stdout.reconfigure(line_buffering=True)
    rng = random.Random(args.seed)
    lib.ensure_python_modules("aiosmtpd")
    binary = args.bin or lib.build_example()

    with contextlib.ExitStack() as stack:
        work = tempfile.mkdtemp(prefix="guss-mail-crash.")
        stack.callback(lambda: print(f"kept {work}") if args.keep else shutil.rmtree(work, ignore_errors=True))
        extra = lib.backend_args(args.backend, stack)
        extra += lib.dns_server_args(binary)
        if args.retry_seconds:
            extra += ["--retry-seconds", str(args.retry_seconds)]
        if args.lease_seconds:
            extra += ["--lease-seconds", str(args.lease_seconds)]
        relay_port = lib.free_port()
        tempfail_flag = os.path.join(work, "sink-says-451")
        sink = lib.Sink(os.path.join(work, "sink"), port=relay_port, tempfail_while=tempfail_flag)
        stack.callback(sink.stop)
        server = lib.MailServer(binary, work, DOMAIN, USER, PASSWORD, relay_port=relay_port, extra=extra)
        stack.callback(server.kill)
        try:
            server.start()
        except RuntimeError as e:
            print(server.log_tail(), file=sys.stderr)
            raise SystemExit(f"mail-crash: the server did not start: {e}")
        print(f"mail-crash: {args.rounds} rounds of {args.messages} messages, backend {args.backend}, "
              f"relay 127.0.0.1:{relay_port}, seed {args.seed}")

        acked, cut_off = {}, {}
        kills = 0
        waits = []
        failures = []
        for round_no in range(1, args.rounds + 1):
            mode = "down" if round_no == 1 else "451" if round_no == 2 else rng.choice(["down", "451"])
            midburst = round_no == 1 or rng.random() < 0.5
            if mode == "451":
                open(tempfail_flag, "w").close()
                sink.start()
            messages = make_messages(rng, round_no, args.messages)
            round_mids = {mid for mid, _, _ in messages}
            up = threading.Event()
            up.set()
            submitter = Submitter(server, messages, up, acked, cut_off)
            submitter.start()
            if midburst:
                kill_at = rng.randint(1, max(1, args.messages - 2))
                while submitter.is_alive() and submitter.count < kill_at:
                    time.sleep(0.002)
                time.sleep(rng.random() * 0.02)  # into the next transaction
                up.clear()
                server.kill()
                kills += 1
                server.start()
                up.set()
            submitter.join(600)
            if submitter.error:
                failures.append(f"round {round_no}: submitting failed: {submitter.error}")
                break
            server.kill()
            kills += 1
            server.start()
            if mode == "down":
                sink.start()
            else:
                time.sleep(2)  # a few more 451s after the restart
                os.unlink(tempfail_flag)

            begin = time.monotonic()
            wanted = {(mid, r.lower()) for mid, (rcpts, _) in acked.items() for r in rcpts}
            while time.monotonic() - begin < args.timeout:
                if wanted <= set(arrivals(sink)):
                    break
                time.sleep(0.2)
            waited = time.monotonic() - begin
            waits.append(waited)
            time.sleep(SETTLE)
            found = arrivals(sink)
            problems = check_round(acked, cut_off, found, args.timeout)
            n_acked = sum(1 for m in round_mids if m in acked)
            n_cut = sum(1 for m in round_mids if m in cut_off)
            print(f"round {round_no}: sink {mode}, {'kill mid-burst and ' if midburst else ''}kill after the burst; "
                  f"{n_acked} acknowledged, {n_cut} cut off; all in {waited:.1f} s"
                  + ("" if not problems else f"; {len(problems)} problems"))
            if problems:
                failures += [f"round {round_no}: {p}" for p in problems]
                print("\n".join("    " + p for p in problems[:20]))
                if args.backend.startswith("postgres") and all(p.startswith("lost or late") for p in problems):
                    print("    (on PostgreSQL the queue does not release a killed server's claims at start, as on "
                          "SQLite; a claimed message waits until the claim's lease ends, 10 minutes by default: "
                          "a run with --timeout 700 tells late from lost)")
                print(server.log_tail(10))
                break
            sink.stop()

        total_cut = len(cut_off)
        arrived_cut = sum(1 for mid in cut_off if any(k[0] == mid for k in arrivals(sink)))
        if failures:
            print(f"mail-crash ({args.backend}): FAILED after {kills} kills: {failures[0]}"
                  + (f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""))
            return 1
        print(f"mail-crash ({args.backend}): {len(acked)} acknowledged messages over {args.rounds} rounds and "
              f"{kills} kills each delivered exactly once per recipient, intact; {total_cut} cut off by kills "
              f"({arrived_cut} of them delivered, none twice); longest wait {max(waits):.1f} s")
        return 0


def check_round(acked, cut_off, found, timeout):
    problems = []
    for mid, (rcpts, raw) in acked.items():
        for rcpt in rcpts:
            got = found.get((mid, rcpt.lower()), [])
            if not got:
                problems.append(f"lost or late: {mid} to {rcpt}, acknowledged with 250, "
                                f"was not at the sink {timeout:.0f} s after it came up")
            elif len(got) > 1:
                problems.append(f"duplicated: {mid} to {rcpt} arrived {len(got)} times ({', '.join(n for n, _ in got)})")
            elif lib.prepended(got[0][1], raw) is None:
                problems.append(f"changed: {mid} to {rcpt}: {lib.explain_difference(got[0][1], raw)}")
    for mid, (rcpts, _) in cut_off.items():
        for rcpt in rcpts:
            got = found.get((mid, rcpt.lower()), [])
            if len(got) > 1:
                problems.append(f"duplicated: {mid} to {rcpt} (cut off by a kill) arrived {len(got)} times")
    known = set(acked) | set(cut_off)
    for (mid, rcpt), got in found.items():
        if mid not in known:
            problems.append(f"unexpected: {mid} to {rcpt} ({got[0][0]}) was never submitted")
        elif rcpt not in {r.lower() for r in (acked.get(mid) or cut_off.get(mid))[0]}:
            problems.append(f"misrouted: {mid} arrived for {rcpt}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
