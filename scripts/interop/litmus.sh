#!/usr/bin/env bash
# litmus, every suite (basic, copymove, props, locks, http), against the
# webdav-server example on persistent storage: once on the embedded default
# (SQLite + local files) and once on PostgreSQL + S3 (the S3 server at
# GUSS_TEST_S3_ENDPOINT, bucket guss-test; skipped if unset unless
# GUSS_REQUIRE_S3=1). Every suite must pass 100%.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/postgres.sh

cargo build -p guss-storage --example webdav-server --locked --quiet
bin=target/debug/examples/webdav-server
work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  stop_private_postgres
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run_litmus NAME [server options...]
run_litmus() {
  local name="$1" port out
  shift
  port="$(free_port)"
  "$bin" --listen "127.0.0.1:$port" --data "$work/$name" --user anna:litmus-app-password "$@" >"$work/$name.log" 2>&1 &
  server="$!"
  # A debug build on PostgreSQL and S3 may take a while to migrate and start.
  local answered=""
  for _ in $(seq 1 600); do
    kill -0 "$server" 2>/dev/null || break
    if curl -s -o /dev/null -X OPTIONS "http://127.0.0.1:$port/"; then
      answered=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$answered" ]; then
    cat "$work/$name.log"
    echo "the webdav-server on $name did not answer within 60 s"
    exit 1
  fi
  out="$work/$name.litmus"
  (cd "$work" && TESTS="basic copymove props locks http" litmus "http://127.0.0.1:$port/anna/" anna litmus-app-password) >"$out" 2>&1 || true
  kill "$server"
  wait "$server" 2>/dev/null || true
  server=""
  echo "litmus on $name:"
  grep -E '^<- summary' "$out" | sed 's/^/  /'
  local suites passed
  suites="$(grep -c '^<- summary' "$out" || true)"
  passed="$(grep -c '^<- summary.* 100\.0%$' "$out" || true)"
  if [ "$suites" -ne 5 ] || [ "$passed" -ne 5 ]; then
    grep -E 'FAIL|WARNING' "$out" | head -n 40
    tail -n 20 "$work/$name.log"
    echo "litmus on $name: $passed of 5 suites at 100%" >&2
    exit 1
  fi
}

run_litmus "sqlite-and-local-files"

start_private_postgres
if [ -n "${GUSS_TEST_S3_ENDPOINT:-}" ]; then
  s3="${GUSS_TEST_S3_ENDPOINT/:\/\//://litmus:litmus-secret@}/guss-test"
  run_litmus "postgresql-and-s3" --database "$PG_URL" --s3 "$s3"
elif [ "${GUSS_REQUIRE_S3:-}" = 1 ] || [ "${CI:-}" = true ]; then
  echo "GUSS_TEST_S3_ENDPOINT is not set: no S3 server for the litmus run" >&2
  exit 1
else
  echo "no S3 server (GUSS_TEST_S3_ENDPOINT): litmus on PostgreSQL with local files"
  run_litmus "postgresql-and-local-files" --database "$PG_URL"
fi
