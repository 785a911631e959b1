#!/usr/bin/env python3
"""Differential recurrence test: the guss-calendar `ics-expand` example
against the Python reference libraries (icalendar + recurring-ical-events).

For every fixture tests/recurrence/*.ics and its window [START, END) from
tests/recurrence/windows.txt, the expected output is the sorted list of the
UTC starts of all VEVENT instances that overlap the window, formatted
2030-03-11T09:00:00Z, one per line. It is computed with
recurring-ical-events, whose rules are mirrored here:

  * overlap: an instance [s, e) is in the window when s < END and
    e > START; an instance of zero duration (DATE-TIME DTSTART without
    DTEND/DURATION, or DTEND == DTSTART) when START <= s < END;
  * an all-day instance starts at 00:00 UTC of its date and, without
    DTEND/DURATION, lasts one day; floating times are read as UTC
    (both by querying with UTC-aware bounds);
  * an instance overridden with STATUS:CANCELLED (RECURRENCE-ID) is still
    listed: recurring-ical-events returns it, and so must ics-expand;
    EXDATE removes an instance, RDATE adds one (a duplicate of a rule
    instance counts once), RANGE=THISANDFUTURE moves the instance and all
    later ones;
  * a TZID with a VTIMEZONE whose name is a Windows zone name
    ("W. Europe Standard Time") resolves as icalendar does (to the IANA
    zone); a made-up TZID uses its VTIMEZONE definition;
  * local times that do not exist (DST gap) use the UTC offset before the
    gap, and repeated local times (DST overlap) the first occurrence
    (RFC 5545 3.3.5).

A fixture whose expected output is fixed by hand, because the reference
library is wrong per RFC 5545, has tests/recurrence/NAME.expected (one
start per line, # comments allowed); that list wins, and the reference
output is shown beside it when they differ.

The binary is run as `ics-expand FILE START END`; its stdout lines are
sorted and compared with the expected list (as a multiset: two events
starting at the same instant give two lines). It must also exit 1 with
something on stderr for a missing file and for a file that is not
iCalendar.

Run:
    cargo build -p guss-calendar --example ics-expand
    scripts/interop/recurrence-diff.py [--bin PATH] [--verbose]
    scripts/interop/recurrence-diff.py --self-test   # reference side only

Needs: python3 -m pip install icalendar recurring-ical-events
Exit status: 0 when every fixture matches and the error checks pass.
"""

import argparse
import datetime
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "tests", "recurrence")
WINDOWS = os.path.join(FIXTURES, "windows.txt")
DEFAULT_BIN = os.path.join(ROOT, "target", "debug", "examples", "ics-expand")
UTC = datetime.timezone.utc
FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TIMEOUT = 60


def parse_utc(text):
    """Parse 2030-01-01T00:00:00Z into an aware UTC datetime."""
    return datetime.datetime.strptime(text, FORMAT).replace(tzinfo=UTC)


def read_windows(path=WINDOWS):
    """Return [(fixture name, START text, END text)] from the sidecar list."""
    windows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 3:
                sys.exit(f"{path}:{number}: want FILE START END, got {line!r}")
            parse_utc(fields[1]), parse_utc(fields[2])
            windows.append(tuple(fields))
    return windows


def check_fixture_list(windows):
    """Every .ics fixture has a window and every window a fixture."""
    listed = {name for name, _, _ in windows}
    present = {n for n in os.listdir(FIXTURES) if n.endswith(".ics")}
    problems = [f"fixture without a window: {n}" for n in sorted(present - listed)]
    problems += [f"window for a missing fixture: {n}" for n in sorted(listed - present)]
    return problems


def to_utc_text(value):
    """UTC text of a DTSTART value: date -> 00:00 UTC, floating -> UTC."""
    if not isinstance(value, datetime.datetime):
        value = datetime.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(FORMAT)


def reference_starts(path, start, end):
    """Sorted UTC starts of the VEVENT instances overlapping [start, end)."""
    import icalendar
    import recurring_ical_events

    with open(path, "rb") as f:
        calendar = icalendar.Calendar.from_ical(f.read())
    # UTC-aware bounds make the library read floating and all-day values
    # as UTC; between() keeps instances with s < end and e > start.
    events = recurring_ical_events.of(calendar).between(parse_utc(start), parse_utc(end))
    return sorted(to_utc_text(event.decoded("DTSTART")) for event in events)


def read_expected_file(path):
    """Lines of a hand-written NAME.expected file, without comments."""
    with open(path, encoding="utf-8") as f:
        lines = [line.split("#", 1)[0].strip() for line in f]
    return sorted(line for line in lines if line)


def expected_starts(name, start, end):
    """(expected list, reference list, source) for one fixture."""
    reference = reference_starts(os.path.join(FIXTURES, name), start, end)
    override = os.path.join(FIXTURES, name[: -len(".ics")] + ".expected")
    if os.path.exists(override):
        return read_expected_file(override), reference, "expected-file"
    return reference, reference, "reference"


def run_binary(binary, path, start, end):
    """Run ics-expand; return (exit code, sorted stdout lines, stderr)."""
    try:
        proc = subprocess.run(
            [binary, path, start, end],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return None, [], f"timed out after {TIMEOUT} s"
    except OSError as error:
        return None, [], f"cannot run {binary}: {error}"
    lines = sorted(line.strip() for line in proc.stdout.splitlines() if line.strip())
    return proc.returncode, lines, proc.stderr


def describe_difference(expected, actual):
    """Short text naming what is missing and what is extra."""
    missing, extra = list(expected), []
    for item in actual:
        if item in missing:
            missing.remove(item)
        else:
            extra.append(item)
    return f"missing {missing} extra {extra}"


def diff_fixture(binary, name, start, end, verbose):
    """Compare one fixture; print its line; return True when it matches."""
    expected, reference, source = expected_starts(name, start, end)
    note = "" if source == "reference" else " (expected fixed by hand)"
    code, actual, stderr = run_binary(binary, os.path.join(FIXTURES, name), start, end)
    if code != 0:
        print(f"FAIL {name}: exit {code}: {stderr.strip()[:300]}")
        return False
    if actual != expected:
        print(f"FAIL {name}{note}: {describe_difference(expected, actual)}")
        if verbose:
            print("  expected: " + " ".join(expected))
            print("  actual:   " + " ".join(actual))
        return False
    print(f"ok   {name}: {len(expected)} instances{note}")
    return True


def check_error_exit(binary, label, path):
    """The binary must exit 1 and say something on stderr."""
    code, _, stderr = run_binary(binary, path, "2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z")
    if code == 1 and stderr.strip():
        print(f"ok   {label}: exit 1, stderr: {stderr.strip().splitlines()[0][:120]}")
        return True
    print(f"FAIL {label}: want exit 1 and a message on stderr, got exit {code}, stderr {stderr.strip()[:120]!r}")
    return False


def error_checks(binary):
    """Missing file and garbage file; return the number of failures."""
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        missing = os.path.join(tmp, "does-not-exist.ics")
        failures += not check_error_exit(binary, "missing file", missing)
        garbage = os.path.join(tmp, "garbage.ics")
        with open(garbage, "wb") as f:
            f.write(b"this is not a calendar\x00\xff\xfe\r\nBEGIN:VEVENT\r\nDTSTART:nonsense\r\n")
        failures += not check_error_exit(binary, "garbage file", garbage)
    return failures


def self_test(windows):
    """Print the expected list of every fixture (reference side only)."""
    total = 0
    for name, start, end in windows:
        expected, reference, source = expected_starts(name, start, end)
        total += len(expected)
        tag = "" if source == "reference" else " [fixed by hand]"
        print(f"{name} [{start}, {end}): {len(expected)} instances{tag}")
        for line in expected:
            print(f"  {line}")
        if expected != reference:
            print(f"  reference library says: {' '.join(reference)}")
    print(f"recurrence self-test: {len(windows)} fixtures, {total} instances")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--bin", default=DEFAULT_BIN, help="path of the ics-expand binary")
    parser.add_argument("--self-test", action="store_true", help="print the expected lists only")
    parser.add_argument("--verbose", action="store_true", help="print both lists on a difference")
    args = parser.parse_args()

    windows = read_windows()
    problems = check_fixture_list(windows)
    for problem in problems:
        print(f"FAIL {problem}")
    if args.self_test:
        self_test(windows)
        return 1 if problems else 0
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"no executable at {args.bin}: build it with "
                 "cargo build -p guss-calendar --example ics-expand")
    differ = sum(not diff_fixture(args.bin, *window, args.verbose) for window in windows)
    failed_errors = error_checks(args.bin)
    print(f"recurrence diff: {len(windows)} fixtures, {differ} differ, "
          f"{failed_errors} error checks failed")
    return 1 if differ or failed_errors or problems else 0


if __name__ == "__main__":
    sys.exit(main())
