#!/usr/bin/env bash
# Browser interop test for passkeys: builds the guss-identity `passkey-login`
# example, starts it on a free loopback port with a throwaway data dir, and
# runs tests/browser/passkey-login.mjs (Debian Chromium + a CDP virtual
# WebAuthn authenticator) against http://localhost:PORT.
#
# Installs what is missing (Chromium from Debian, playwright-core from the
# lockfile). Exit code = the test result.
#
# Env:
#   GUSS_PASSKEY_BIN  use this server binary instead of building the example
#                     (it must accept --listen ADDR --data DIR)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/interop/browser-lib.sh
. "$ROOT/scripts/interop/browser-lib.sh"
BROWSER_DIR="$ROOT/tests/browser"

log() { printf '[passkey-browser] %s\n' "$*" >&2; }


# --- dependencies -----------------------------------------------------------
install_browser_deps "$BROWSER_DIR"

# --- server binary ----------------------------------------------------------
if [ -n "${GUSS_PASSKEY_BIN:-}" ]; then
  SERVER_BIN="$GUSS_PASSKEY_BIN"
else
  log "building the passkey-login example"
  cargo build -p guss-identity --example passkey-login --locked
  SERVER_BIN="$ROOT/target/debug/examples/passkey-login"
fi
[ -x "$SERVER_BIN" ] || { log "server binary not found: $SERVER_BIN"; exit 1; }

# --- start the server -------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/guss-passkey-browser.XXXXXX")"
DATA="$WORK/data"
SERVER_LOG="$WORK/server.log"
mkdir -p "$DATA"
SERVER_PID=""

cleanup() {
  local rc=$?
  stop_server "$SERVER_PID"
  if [ "$rc" -ne 0 ] && [ -s "$SERVER_LOG" ]; then
    log "server log (last 50 lines):"
    tail -n 50 "$SERVER_LOG" >&2 || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE_URL="http://localhost:$PORT"

log "starting $SERVER_BIN on 127.0.0.1:$PORT (data: $DATA)"
"$SERVER_BIN" --listen "127.0.0.1:$PORT" --data "$DATA" >"$SERVER_LOG" 2>&1 &
SERVER_PID=$!

wait_for_server "$SERVER_PID" "$BASE_URL/" 30

# --- run the browser test ---------------------------------------------------
log "running the browser test against $BASE_URL"
set +e
GUSS_BASE_URL="$BASE_URL" node --test "$BROWSER_DIR/passkey-login.mjs"
rc=$?
set -e
exit "$rc"
