#!/usr/bin/env bash
# End-to-end browser tests of the guss bundle server, onboarding and then,
# on the office the onboarding made, the files, calendar and people pages
# (tests/browser/bundle-files.mjs, bundle-calendar.mjs, bundle-people.mjs;
# screenshots at two widths and axe-core findings next to the onboarding's
# artifacts, in bundle-files/, bundle-calendar/ and bundle-people/): builds
# `guss` (crates/guss-server), starts it on a free loopback port with a fresh
# data directory, and runs tests/browser/bundle-onboarding.mjs (Debian
# Chromium + CDP virtual WebAuthn authenticators) against
# http://localhost:PORT. The test calls scripts/interop/bundle_clients.py,
# which checks the colleague's app password with webdav4 and caldav.
#
# Installs what is missing (Chromium and Node from Debian, playwright-core
# from the lockfile, webdav4 and caldav from PyPI). Exit code = the test
# result. Screenshots and summary.json stay in the artifacts directory.
#
# Env:
#   GUSS_BUNDLE_BIN  use this server binary instead of building one
#                    (it must accept `--data DIR serve --listen ADDR`)
#   GUSS_ARTIFACTS   where the screenshots and summary.json go
#                    (default target/test-artifacts/bundle-onboarding)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/interop/browser-lib.sh
. "$ROOT/scripts/interop/browser-lib.sh"
BROWSER_DIR="$ROOT/tests/browser"
ARTIFACTS="${GUSS_ARTIFACTS:-$ROOT/target/test-artifacts/bundle-onboarding}"
FILES_ARTIFACTS="$(dirname "$ARTIFACTS")/bundle-files"
PEOPLE_ARTIFACTS="$(dirname "$ARTIFACTS")/bundle-people"
CALENDAR_ARTIFACTS="$(dirname "$ARTIFACTS")/bundle-calendar"
WEBDAV4_VERSION="0.11.0"
CALDAV_VERSION="3.6.0"

log() { printf '[bundle-browser] %s\n' "$*" >&2; }

# --- dependencies -----------------------------------------------------------
install_browser_deps "$BROWSER_DIR"

if ! python3 -c 'import webdav4' >/dev/null 2>&1; then
  log "installing webdav4 $WEBDAV4_VERSION (PyPI)"
  python3 -m pip install --quiet "webdav4==$WEBDAV4_VERSION"
fi
if ! python3 -c 'import caldav' >/dev/null 2>&1; then
  log "installing caldav $CALDAV_VERSION (PyPI)"
  python3 -m pip install --quiet "caldav==$CALDAV_VERSION"
fi

# --- server binary ----------------------------------------------------------
if [ -n "${GUSS_BUNDLE_BIN:-}" ]; then
  SERVER_BIN="$GUSS_BUNDLE_BIN"
else
  log "building the guss server"
  cargo build -p guss-server --locked
  SERVER_BIN="$ROOT/target/debug/guss"
fi
[ -x "$SERVER_BIN" ] || { log "server binary not found: $SERVER_BIN"; exit 1; }

# --- start the server -------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/guss-bundle-browser.XXXXXX")"
DATA="$WORK/data"
SERVER_LOG="$WORK/server.log"
SERVER_PID=""

cleanup() {
  local rc=$?
  stop_server "$SERVER_PID"
  if [ "$rc" -ne 0 ] && [ -s "$SERVER_LOG" ]; then
    log "server log (last 60 lines):"
    tail -n 60 "$SERVER_LOG" >&2 || true
  fi
  if [ -s "$SERVER_LOG" ] && [ -d "$ARTIFACTS" ]; then
    cp "$SERVER_LOG" "$ARTIFACTS/server.log" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  log "artifacts: $ARTIFACTS"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The test itself removes the screenshots and summary of an earlier run.
mkdir -p "$ARTIFACTS"

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE_URL="http://localhost:$PORT"

log "starting $SERVER_BIN on 127.0.0.1:$PORT (data: $DATA)"
# Mail listeners too, so that the app password is tried over submission and IMAP.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
SUBMISSION_PORT="$(free_port)"
IMAP_PORT="$(free_port)"
printf '[mail]\nhostname = "localhost"\nsubmission = "127.0.0.1:%s"\nimap = "127.0.0.1:%s"\n' \
  "$SUBMISSION_PORT" "$IMAP_PORT" >"$WORK/guss.toml"
"$SERVER_BIN" --config "$WORK/guss.toml" --data "$DATA" serve --listen "127.0.0.1:$PORT" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

wait_for_server "$SERVER_PID" "$BASE_URL/healthz" 60 ok

# --- run the browser test ---------------------------------------------------
log "running the browser test against $BASE_URL"
STATE="$WORK/state.json"
set +e
GUSS_BASE_URL="$BASE_URL" GUSS_ARTIFACTS="$ARTIFACTS" GUSS_STATE="$STATE" \
  GUSS_SUBMISSION_PORT="$SUBMISSION_PORT" GUSS_IMAP_PORT="$IMAP_PORT" \
  node --test "$BROWSER_DIR/bundle-onboarding.mjs"
rc=$?
if [ "$rc" -eq 0 ]; then
  # The everyday pages, on the office the onboarding made.
  log "running the files pages' browser test"
  GUSS_STATE="$STATE" GUSS_ARTIFACTS="$FILES_ARTIFACTS" \
    node --test "$BROWSER_DIR/bundle-files.mjs"
  rc=$?
fi
if [ "$rc" -eq 0 ]; then
  # Before the people test: it checks over CalDAV with the colleague's app password.
  log "running the calendar pages' browser test"
  GUSS_STATE="$STATE" GUSS_ARTIFACTS="$CALENDAR_ARTIFACTS" \
    node --test "$BROWSER_DIR/bundle-calendar.mjs"
  rc=$?
fi
if [ "$rc" -eq 0 ]; then
  # Last: it suspends the onboarding's colleague.
  log "running the people pages' browser test"
  GUSS_STATE="$STATE" GUSS_ARTIFACTS="$PEOPLE_ARTIFACTS" \
    node --test "$BROWSER_DIR/bundle-people.mjs"
  rc=$?
fi
set -e
exit "$rc"
