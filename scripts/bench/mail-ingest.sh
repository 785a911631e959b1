#!/usr/bin/env bash
# SMTP ingest, messages per second: Postfix's smtp-source sends the same
# load to the mail-server example's MX port (release build) and, in the same
# run, to a private Postfix instance on this machine that delivers into a
# Maildir. guss's clock stops when smtp-source has had 250 for every message
# (guss answers 250 once the message is stored); Postfix's when every message
# is in the Maildir (its 250 only means queued; the time until smtp-source
# is done is printed as well). Afterwards --export checks that guss stored
# every message. Both get one message before the clock starts (the first
# delivery creates the mailbox, or the Maildir). guss verifies SPF, DKIM and
# DMARC of what comes in; if the example has --dns-server, its lookups go to
# a local name server that answers NXDOMAIN at once (Postfix checks nothing).
#
#   scripts/bench/mail-ingest.sh [--messages 2000] [--sessions 10] [--size 4096]
#       [--reuse] [--backend sqlite|postgres] [--bin PATH] [--keep]
#
# --sessions: parallel SMTP sessions; --size: payload bytes per message;
# --reuse: several messages per connection (smtp-source -d), otherwise one
# connection per message; --backend: the example on SQLite (default) or a
# private PostgreSQL cluster; --bin: the example's binary (default: cargo
# build --release, the caller's target dir). Needs root (the private
# Postfix); installs Postfix if missing. Loopback only; bounded by the
# message count (and 600 s per side).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/postfix.sh
source scripts/lib/postgres.sh

messages=2000
sessions=10
size=4096
reuse=()
backend=sqlite
bin=""
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages="${2:?}"; shift 2 ;;
    --sessions) sessions="${2:?}"; shift 2 ;;
    --size) size="${2:?}"; shift 2 ;;
    --reuse) reuse=(-d); shift ;;
    --backend) backend="${2:?}"; shift 2 ;;
    --bin) bin="${2:?}"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "mail-ingest.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$backend" in sqlite | postgres) ;; *) echo "mail-ingest.sh: --backend is sqlite or postgres" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "mail-ingest.sh: run as root (a private Postfix instance)" >&2; exit 1; }

ensure_postfix
if [ "$backend" = postgres ] && ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
[ -n "$bin" ] || bin="$(python3 scripts/interop/mail_lib.py build --release)"
[ -x "$bin" ] || { echo "mail-ingest.sh: $bin is not an executable" >&2; exit 1; }

lib=scripts/interop/mail_lib.py
work="$(mktemp -d /tmp/guss-mail-ingest.XXXXXXXX)"
server=""
job=""
dns_stub=""
# in_background COMMAND...: runs COMMAND and waits for it, so that a TERM or
# INT reaches the trap at once.
in_background() {
  "$@" &
  job="$!"
  local status=0
  wait "$job" || status=$?
  job=""
  return "$status"
}
stop_server() {
  [ -n "$server" ] || return 0
  kill -INT "$server" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}
cleanup() {
  set +e # clean up everything, whatever fails
  if [ -n "$job" ]; then kill "$job" 2>/dev/null; wait "$job" 2>/dev/null; fi
  stop_server
  [ -n "$dns_stub" ] && kill "$dns_stub" 2>/dev/null && wait "$dns_stub" 2>/dev/null
  [ -n "$keep" ] && KEEP_POSTFIX=1
  stop_private_postfix
  stop_private_postgres
  if [ -n "$keep" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
rate() { python3 -c "import sys; n, a, b = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print(f'{n / (b - a):.0f}')" "$@"; }
seconds() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$@"; }
source_args=(-s "$sessions" -m "$messages" -l "$size" "${reuse[@]}" -f bench@remote.test)

# ------------------------------------------------------------ guss
# The example resolves SPF, DKIM and DMARC of senders: a local name server
# that answers NXDOMAIN at once keeps that on loopback (if it has --dns-server).
dns_args=()
if "$bin" --help 2>/dev/null | grep -q -- --dns-server; then
  python3 "$lib" dns-stub >"$work/dns-stub.out" 2>&1 &
  dns_stub="$!"
  for _ in $(seq 1 100); do
    grep -q listening "$work/dns-stub.out" && break
    sleep 0.05
  done
  dns_args=(--dns-server "127.0.0.1:$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/dns-stub.out")")
fi
extra=()
if [ "$backend" = postgres ]; then
  # A signal while the cluster starts waits until its stop command is known.
  trap 'signalled=143' TERM
  trap 'signalled=130' INT
  signalled=""
  start_private_postgres
  trap 'exit 143' TERM
  trap 'exit 130' INT
  [ -z "$signalled" ] || exit "$signalled"
  extra+=(--database "$PG_URL")
fi
mx="$(free_port)"
sub="$(free_port)"
# No outbound mail in this benchmark; the relay port has nothing behind it.
"$bin" --domain guss.test --smtp "127.0.0.1:$mx" --submission "127.0.0.1:$sub" --data "$work/data" \
  --user anna:bench-password --relay "127.0.0.1:$(free_port)" "${extra[@]}" "${dns_args[@]}" >"$work/server.log" 2>&1 &
server="$!"
python3 "$lib" wait-smtp "$mx" 90 || { tail -n 20 "$work/server.log"; echo "mail-ingest.sh: the example did not start" >&2; exit 1; }
echo "smtp-source ${source_args[*]} -> guss (MX 127.0.0.1:$mx, $backend, $(basename "$(dirname "$(dirname "$bin")")") build$([ ${#dns_args[@]} -gt 0 ] && echo ", SPF/DKIM/DMARC lookups answered NXDOMAIN by a local stub"))"
# One message first, untimed: the first delivery creates anna's mailboxes.
smtp-source -m 1 -f bench@remote.test -t anna@guss.test "127.0.0.1:$mx" >"$work/source-guss.log" 2>&1 ||
  { cat "$work/source-guss.log"; echo "mail-ingest.sh: the first message into guss failed" >&2; exit 1; }
t0="$(now)"
if ! in_background timeout 600 smtp-source "${source_args[@]}" -t anna@guss.test "127.0.0.1:$mx" >"$work/source-guss.log" 2>&1; then
  tail -n 20 "$work/source-guss.log"
  tail -n 20 "$work/server.log"
  echo "mail-ingest.sh: smtp-source into guss failed" >&2
  exit 1
fi
t1="$(now)"
guss_rate="$(rate "$messages" "$t0" "$t1")"
echo "  guss:    $messages messages stored in $(seconds "$t0" "$t1") s = $guss_rate messages/s"
stop_server
stored="$("$bin" --domain guss.test --data "$work/data" "${extra[@]}" --export anna@guss.test "$work/export" >/dev/null 2>&1 &&
  find "$work/export" -name '*.eml' | wc -l || echo "?")"
if [ "$stored" != "$((messages + 1))" ]; then
  echo "mail-ingest.sh: guss acknowledged $((messages + 1)) messages but --export found $stored" >&2
  exit 1
fi
stop_private_postgres

# ------------------------------------------------------------ Postfix
pf="$(free_port)"
start_private_postfix "$pf" pf.test "anna"
echo "smtp-source ${source_args[*]} -> Postfix $(postconf -c "$PF_CONF" -h mail_version) (127.0.0.1:$pf, delivering to a Maildir)"
smtp-source -m 1 -f bench@remote.test -t anna@pf.test "127.0.0.1:$pf" >"$work/source-postfix.log" 2>&1 ||
  { cat "$work/source-postfix.log"; echo "mail-ingest.sh: the first message into Postfix failed" >&2; exit 1; }
while [ "$(maildir_count anna)" -lt 1 ]; do sleep 0.02; done
t0="$(now)"
if ! in_background timeout 600 smtp-source "${source_args[@]}" -t anna@pf.test "127.0.0.1:$pf" >"$work/source-postfix.log" 2>&1; then
  tail -n 20 "$work/source-postfix.log"
  tail -n 20 "$PF_LOG"
  echo "mail-ingest.sh: smtp-source into Postfix failed" >&2
  exit 1
fi
t1="$(now)"
deadline=$(($(date +%s) + 600))
while [ "$(maildir_count anna)" -lt "$((messages + 1))" ]; do
  if [ "$(date +%s)" -gt "$deadline" ]; then
    echo "mail-ingest.sh: Postfix delivered $(($(maildir_count anna) - 1)) of $messages within 600 s" >&2
    exit 1
  fi
  sleep 0.02
done
t2="$(now)"
postfix_accept_rate="$(rate "$messages" "$t0" "$t1")"
postfix_rate="$(rate "$messages" "$t0" "$t2")"
echo "  Postfix: $messages messages queued in $(seconds "$t0" "$t1") s = $postfix_accept_rate messages/s," \
  "in the Maildir after $(seconds "$t0" "$t2") s = $postfix_rate messages/s"

ratio="$(python3 -c "import sys; print(f'{int(sys.argv[1]) / int(sys.argv[2]):.2f}')" "$guss_rate" "$postfix_rate")"
echo "mail-ingest: guss $guss_rate messages/s, Postfix $postfix_rate messages/s (delivered to Maildir), ratio guss/Postfix $ratio ($messages messages of $size bytes, $sessions sessions, $backend, $([ ${#reuse[@]} -gt 0 ] && echo "connections reused" || echo "one connection per message"))"
