#!/usr/bin/env bash
# Postfix and the mail-server example delivering to each other, on loopback
# only, in a few seconds:
#
#  (a) guss relays to Postfix: anna@guss.test submits (AUTH PLAIN, in clear
#      and after STARTTLS) mail for max@pf.test; the example's --relay is a
#      private Postfix instance that delivers pf.test into Maildirs. Each
#      message must be there once, the submitted bytes intact after the
#      header fields both servers put in front (Maildir has LF line ends).
#  (b) Postfix delivers to guss: mail injected into Postfix for
#      anna@guss.test goes through Postfix's transport map
#      (guss.test smtp:[127.0.0.1]:MX) to the example's MX port, one tricky
#      message and a burst of 20 more (Postfix reuses the connection and
#      pipelines). Read back with --export, each must be in anna's INBOX once,
#      the injected bytes intact after the header fields put in front.
#  (c) Postfix refuses a recipient guss relays to (550 at RCPT): anna must
#      get a delivery status notification (multipart/report) in her INBOX.
#
#   scripts/interop/mail-postfix.sh [--bin PATH] [--keep]
#
# Needs root (the private Postfix instance). Installs Postfix if missing
# (apt, "No configuration": nothing listens on port 25). Without --bin the
# example is built with cargo (the caller's target dir). --keep keeps the
# work and Postfix directories. Exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/postfix.sh

bin=""
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
    --bin=*) bin="${1#*=}"; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "mail-postfix.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "mail-postfix.sh: run as root (a private Postfix instance)" >&2; exit 1; }

ensure_postfix
[ -n "$bin" ] || bin="$(python3 scripts/interop/mail_lib.py build)"
[ -x "$bin" ] || { echo "mail-postfix.sh: $bin is not an executable" >&2; exit 1; }

lib=scripts/interop/mail_lib.py
domain=guss.test
anna=anna@guss.test
password=anna-postfix-password
work="$(mktemp -d /tmp/guss-mail-postfix.XXXXXXXX)"
server=""
job=""
dns_stub=""
cleanup() {
  set +e # clean up everything, whatever fails
  if [ -n "$job" ]; then kill "$job" 2>/dev/null; wait "$job" 2>/dev/null; fi
  stop_server
  [ -n "$dns_stub" ] && kill "$dns_stub" 2>/dev/null && wait "$dns_stub" 2>/dev/null
  [ -n "$keep" ] && KEEP_POSTFIX=1
  stop_private_postfix
  if [ -n "$keep" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# stop_server: Ctrl-C (the example stops on SIGINT), SIGKILL after 10 s.
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

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mx="$(free_port)"
sub="$(free_port)"
pf="$(free_port)"

passed=0
failed=0
failures=()
# check NAME COMMAND...: runs COMMAND, prints its last output line as detail.
# COMMAND runs in the background and is waited for: a TERM or INT then
# reaches the trap at once instead of after COMMAND.
check() {
  local name="$1" out status=0
  shift
  "$@" >"$work/check.out" 2>&1 &
  job="$!"
  wait "$job" || status=$?
  job=""
  out="$(cat "$work/check.out")"
  if [ "$status" = 0 ]; then
    passed=$((passed + 1))
    echo "  ok   $name${out:+: ${out##*$'\n'}}"
  else
    failed=$((failed + 1))
    failures+=("$name")
    echo "  FAIL $name"
    [ -n "$out" ] && printf '%s\n' "$out" | tail -n 15 | sed 's/^/         /'
  fi
  return 0
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
  local seconds="$1" i
  shift
  for i in $(seq 1 $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

maildir_has() { [ "$(maildir_count "$1")" -ge "$2" ]; }

# The example resolves SPF, DKIM and DMARC of senders: a local name server
# that answers NXDOMAIN at once keeps that on loopback (if it has --dns-server).
dns_args=()
if "$bin" --help 2>/dev/null | grep -q -- --dns-server; then
  python3 "$lib" dns-stub >"$work/dns-stub.out" 2>&1 &
  dns_stub="$!"
  for _ in $(seq 1 300); do
    grep -q listening "$work/dns-stub.out" && break
    sleep 0.1
  done
  grep -q listening "$work/dns-stub.out" || { cat "$work/dns-stub.out"; echo "the DNS stub did not start within 30 s"; exit 1; }
  dns_args=(--dns-server "127.0.0.1:$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/dns-stub.out")")
fi
PF_TRANSPORT="$domain smtp:[127.0.0.1]:$mx"
start_private_postfix "$pf" pf.test "max" "relay_domains = $domain"
"$bin" --domain "$domain" --smtp "127.0.0.1:$mx" --submission "127.0.0.1:$sub" --data "$work/data" \
  --user "anna:$password" --relay "127.0.0.1:$pf" "${dns_args[@]}" >"$work/server.log" 2>&1 &
server="$!"
if ! python3 "$lib" wait-smtp "$mx" 90 || ! python3 "$lib" wait-smtp "$sub" 30; then
  tail -n 30 "$work/server.log"
  echo "mail-postfix.sh: the mail-server example did not start" >&2
  exit 1
fi
echo "mail-server on MX 127.0.0.1:$mx, submission 127.0.0.1:$sub; Postfix $(postconf -c "$PF_CONF" -h mail_version) on 127.0.0.1:$pf ($PF_DIR)"

# ------------------------------------------------------------ (a)
echo "(a) guss relays to Postfix:"
python3 "$lib" message tricky --from "$anna" --to max@pf.test --tag a-tricky "$work/a1.eml"
python3 "$lib" message simple --from "$anna" --to max@pf.test --tag a-simple "$work/a2.eml"
check "submission in clear to max@pf.test: 250" \
  python3 "$lib" send --port "$sub" --auth "$anna:$password" --from "$anna" --to max@pf.test "$work/a1.eml"
check "submission after STARTTLS to max@pf.test: 250" \
  python3 "$lib" send --port "$sub" --starttls --auth "$anna:$password" --from "$anna" --to max@pf.test "$work/a2.eml"
check "both arrive in Postfix's Maildir within 30 s" wait_for 30 maildir_has max 2
check "the tricky message: once in the Maildir, bytes intact" python3 "$lib" compare-maildir "$PF_MAILDIR/max" "$work/a1.eml"
check "the simple message: once in the Maildir, bytes intact" python3 "$lib" compare-maildir "$PF_MAILDIR/max" "$work/a2.eml"

# ------------------------------------------------------------ (b)
echo "(b) Postfix delivers to guss:"
python3 "$lib" message tricky --from max@pf.test --to "$anna" --tag b-tricky "$work/b0.eml"
burst=()
for i in $(seq 1 20); do
  python3 "$lib" message simple --from max@pf.test --to "$anna" --tag "b-burst-$i" "$work/b$i.eml"
  burst+=("$work/b$i.eml")
done
check "Postfix accepts the tricky message for anna@guss.test" \
  python3 "$lib" send --port "$pf" --from max@pf.test --to "$anna" "$work/b0.eml"
check "Postfix accepts a burst of 20 for anna@guss.test" \
  python3 "$lib" send --port "$pf" --from max@pf.test --to "$anna" "${burst[@]}"
postfix_flush
sent_to_guss() { [ "$(grep -c "relay=127.0.0.1\[127.0.0.1\]:$mx,.*status=sent" "$PF_LOG")" -ge 21 ]; }
check "Postfix delivered all 21 to guss's MX within 60 s (status=sent)" wait_for 60 sent_to_guss
if grep -q "status=\(deferred\|bounced\)" "$PF_LOG"; then
  echo "  Postfix could not deliver everything:"
  grep "status=\(deferred\|bounced\)" "$PF_LOG" | tail -n 5 | sed 's/^/         /'
fi
grep -q "TLS connection established to 127.0.0.1\[127.0.0.1\]:$mx" "$PF_LOG" &&
  echo "    (Postfix used STARTTLS to guss's MX: $(grep -o "[A-Za-z]* TLS connection established to 127.0.0.1\[127.0.0.1\]:$mx: [^ ]* [^ ]*" "$PF_LOG" | head -n 1))"

# ------------------------------------------------------------ (c)
echo "(c) Postfix refuses a recipient: a DSN for anna"
python3 "$lib" message simple --from "$anna" --to nobody@pf.test --tag c-refused "$work/c.eml"
check "submission to nobody@pf.test: 250 (Postfix refuses it later)" \
  python3 "$lib" send --port "$sub" --auth "$anna:$password" --from "$anna" --to nobody@pf.test "$work/c.eml"
refused_by_postfix() { grep -q "reject: RCPT from .*<nobody@pf.test>" "$PF_LOG"; }
check "Postfix refused RCPT nobody@pf.test within 30 s" wait_for 30 refused_by_postfix
sleep 3 # the DSN is written after the refusal

# ------------------------------------------------------------ the store
stop_server
if "$bin" --domain "$domain" --data "$work/data" --export "$anna" "$work/export" >"$work/export.log" 2>&1; then
  echo "stored for anna (--export): $(cd "$work/export" && for b in *; do printf '%s: %s  ' "$b" "$(ls "$b" | wc -l)"; done)"
  check "the tricky message from Postfix: once in INBOX, bytes intact" \
    python3 "$lib" compare-export "$work/export" INBOX "$work/b0.eml"
  burst_intact() {
    local f bad=0
    for f in "${burst[@]}"; do
      python3 "$lib" compare-export "$work/export" INBOX "$f" >/dev/null || { echo "$f:"; python3 "$lib" compare-export "$work/export" INBOX "$f"; bad=1; }
    done
    [ "$bad" = 0 ] && echo "20 of 20 intact"
  }
  check "the burst of 20 from Postfix: each once in INBOX, bytes intact" burst_intact
  dsn_for_anna() {
    python3 - "$work/export" "$work/c.eml" "${1:-}" <<'EOF'
import glob, os, re, sys
outdir, sent, WANT_STATUS = sys.argv[1:4]
mid = re.search(rb"^Message-ID:\s*(<[^>]+>)", open(sent, "rb").read(), re.M | re.I).group(1)
for path in glob.glob(os.path.join(outdir, "*", "*.eml")):
    if os.path.basename(os.path.dirname(path)).upper() != "INBOX":
        continue
    raw = open(path, "rb").read()
    head = raw.split(b"\r\n\r\n", 1)[0]
    if re.search(rb"^Content-Type:\s*multipart/report", head, re.M | re.I) and mid in raw:
        if not re.search(rb"report-type=\"?delivery-status", head, re.I):
            sys.exit(f"{path}: multipart/report without report-type=delivery-status")
        if not re.search(rb"^Action:\s*failed", raw, re.M | re.I):
            sys.exit(f"{path}: no 'Action: failed' in the delivery-status part")
        status = re.search(rb"^Status:\s*(\S+)", raw, re.M | re.I)
        diagnostic = re.search(rb"^Diagnostic-Code:\s*([^\r\n]*)", raw, re.M | re.I)
        print(f"{os.path.relpath(path, outdir)}, Status: {status.group(1).decode() if status else '?'}, "
              f"Diagnostic-Code: {diagnostic.group(1).decode(errors='replace') if diagnostic else '?'}")
        # RFC 3464 2.3.4 and 2.3.6: the status Postfix gave (550 5.1.1)
        # belongs in Status, its reply in Diagnostic-Code.
        if WANT_STATUS and (not status or status.group(1) != b"5.1.1"):
            sys.exit("the DSN's Status is not 5.1.1, the enhanced status code of Postfix's refusal")
        if WANT_STATUS and (not diagnostic or b"550" not in diagnostic.group(1)):
            sys.exit("the DSN's Diagnostic-Code does not carry Postfix's 550 reply")
        sys.exit(0)
sys.exit("no multipart/report naming the refused message's Message-ID in INBOX")
EOF
  }
  check "a DSN (multipart/report, Action: failed) for the refused message in INBOX" dsn_for_anna
  check "the DSN names Postfix's reason: Status 5.1.1, Diagnostic-Code smtp; 550 ..." dsn_for_anna status
else
  check "--export" sh -c "cat '$work/export.log'; false"
fi

total=$((passed + failed))
if [ "$failed" -gt 0 ]; then
  echo "--- mail-server log (tail, without the DNS records it prints on start):"
  grep -v '^[^ ]* [0-9]* IN ' "$work/server.log" | tail -n 20
  echo "--- Postfix log (tail):"
  tail -n 20 "$PF_LOG"
  echo "mail-postfix: $passed of $total checks passed; failed: $(IFS=';'; echo "${failures[*]}")"
  exit 1
fi
echo "mail-postfix: $passed of $total checks passed (guss -> Postfix, Postfix -> guss, DSN)"
