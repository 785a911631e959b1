#!/usr/bin/env bash
# The calendar interop suite: recurrence against recurring-ical-events
# (ics-expand example, every fixture in tests/recurrence), then the python
# caldav client scenario against the caldav-server example on SQLite and on
# PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/postgres.sh

cargo build -p guss-calendar --examples --locked --quiet
trap stop_private_postgres EXIT

python3 scripts/interop/recurrence-diff.py --bin target/debug/examples/ics-expand

echo "caldav scenario on SQLite:"
python3 scripts/interop/caldav-scenario.py --start-server target/debug/examples/caldav-server

start_private_postgres
echo "caldav scenario on PostgreSQL:"
python3 scripts/interop/caldav-scenario.py --start-server target/debug/examples/caldav-server --database "$PG_URL"
