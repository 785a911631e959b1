#!/usr/bin/env python3
"""Checks, with the python `caldav` client, a weekly series made on the
bundle's calendar pages with one occurrence moved to another time.

    python3 scripts/interop/bundle_calendar.py \\
        --caldav-url http://localhost:PORT/.well-known/caldav \\
        --username ben@example.org --password APP-PASSWORD \\
        --calendar Büro --summary Teamrunde \\
        --moved-from 2026-12-14T09:00 --moved-to 2026-12-15T14:00

Times are wall-clock times in --zone (Europe/Berlin). The checks:
  1 calendar   the calendar is found by its name from the principal
  2 series     the stored object is a weekly series (RRULE FREQ=WEEKLY)
               with an exception whose RECURRENCE-ID is --moved-from and
               whose start is --moved-to
  3 expanded   the week of --moved-from, expanded, holds the occurrence at
               --moved-to and none at --moved-from; the week after holds
               the series at its own time

Exit code 0 when all pass. Needs: python3 -m pip install caldav
"""

import argparse
import datetime
import sys
import zoneinfo

try:
    import caldav
except ImportError as e:  # pragma: no cover - the test command installs it
    print(f"missing the caldav client: {e} (python3 -m pip install caldav)", file=sys.stderr)
    sys.exit(2)

TIMEOUT = 30


class Failed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise Failed(message)


def local(value, zone):
    """A DTSTART/RECURRENCE-ID value as a wall-clock time in `zone`."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return value
        return value.astimezone(zone).replace(tzinfo=None)
    return datetime.datetime.combine(value, datetime.time())


def events_of(obj):
    return [c for c in obj.icalendar_instance.walk("VEVENT")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--caldav-url", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--calendar", required=True, help="the calendar's display name")
    parser.add_argument("--summary", required=True)
    parser.add_argument("--moved-from", required=True, type=datetime.datetime.fromisoformat)
    parser.add_argument("--moved-to", required=True, type=datetime.datetime.fromisoformat)
    parser.add_argument("--zone", default="Europe/Berlin")
    args = parser.parse_args()
    zone = zoneinfo.ZoneInfo(args.zone)
    client = caldav.DAVClient(url=args.caldav_url, username=args.username,
                              password=args.password, timeout=TIMEOUT)
    failures = 0

    def run(name, body):
        nonlocal failures
        try:
            print(f"ok   {name}: {body()}", flush=True)
            return True
        except Exception as e:  # noqa: BLE001 - every failure is reported by name
            failures += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            return False

    state = {}

    def calendar():
        names = []
        for found in client.principal().calendars():
            names.append(found.get_display_name())
            if names[-1] == args.calendar:
                state["calendar"] = found
        require("calendar" in state, f"no calendar {args.calendar!r} among {names}")
        return str(state["calendar"].url)

    def week_of(moment):
        monday = moment.date() - datetime.timedelta(days=moment.weekday())
        start = datetime.datetime.combine(monday, datetime.time(), zone)
        return start, start + datetime.timedelta(days=7)

    def series():
        start, end = week_of(args.moved_from)
        found = [o for o in state["calendar"].search(event=True, start=start, end=end)
                 if any(str(v.get("SUMMARY")) == args.summary for v in events_of(o))]
        require(len(found) == 1, f"{len(found)} objects named {args.summary!r} in the week")
        vevents = events_of(found[0])
        masters = [v for v in vevents if v.get("RECURRENCE-ID") is None]
        require(len(masters) == 1, f"{len(masters)} series in the object")
        rule = masters[0].get("RRULE")
        require(rule is not None and rule.get("FREQ") == ["WEEKLY"], f"not weekly: {rule}")
        exceptions = [v for v in vevents if v.get("RECURRENCE-ID") is not None]
        require(len(exceptions) == 1, f"{len(exceptions)} exceptions")
        rid = local(exceptions[0]["RECURRENCE-ID"].dt, zone)
        moved = local(exceptions[0]["DTSTART"].dt, zone)
        require(rid == args.moved_from, f"RECURRENCE-ID {rid}, expected {args.moved_from}")
        require(moved == args.moved_to, f"the exception starts {moved}, expected {args.moved_to}")
        return f"weekly from {local(masters[0]['DTSTART'].dt, zone)}, {rid} moved to {moved}"

    def starts_in(start, end):
        found = state["calendar"].search(event=True, start=start, end=end, expand=True)
        return sorted(local(v["DTSTART"].dt, zone) for o in found for v in events_of(o)
                      if str(v.get("SUMMARY")) == args.summary)

    def expanded():
        start, end = week_of(args.moved_from)
        this_week = starts_in(start, end)
        require(this_week == [args.moved_to], f"the week holds {this_week}, expected [{args.moved_to}]")
        next_week = starts_in(start + datetime.timedelta(days=7), end + datetime.timedelta(days=7))
        usual = args.moved_from + datetime.timedelta(days=7)
        require(next_week == [usual], f"the next week holds {next_week}, expected [{usual}]")
        return f"this week {this_week}, next week {next_week}"

    if run("calendar", calendar):
        run("series", series)
        run("expanded", expanded)
    print(f"{3 - failures if 'calendar' in state else 0}/3 passed", flush=True)
    return 1 if failures or "calendar" not in state else 0


if __name__ == "__main__":
    sys.exit(main())
