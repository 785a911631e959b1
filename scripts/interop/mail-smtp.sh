#!/usr/bin/env bash
# SMTP interop for the mail-server example with real clients: swaks and
# Python's smtplib on the MX and submission ports (AUTH PLAIN in clear and
# after STARTTLS), an aiosmtpd sink as --relay, refusals (550, 535, 530,
# 5xx for a foreign sender, 552), then every message compared byte for byte
# in the sink and, through --export, in the store; relayed mail must carry a
# DKIM-Signature that verifies against the record the server printed. The
# checks themselves are in mail-smtp.py.
#
#   scripts/interop/mail-smtp.sh [--backend sqlite|postgres|s3|postgres-s3] [--bin PATH] [--keep]
#
# --backend: where the example keeps its data: sqlite (SQLite and files in
# --data, the default), postgres (a private PostgreSQL cluster), s3 (message
# bodies in S3: the server at GUSS_TEST_S3_ENDPOINT, bucket guss-test, or else
# a moto server of our own), postgres-s3 (both). --bin: the example's binary;
# without it the example is built with cargo (the caller's target dir).
# Installs what it needs when missing: swaks (apt), aiosmtpd, dkimpy and
# PyNaCl (pip), moto for s3. Exits non-zero if any check fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/postgres.sh

backend=sqlite
bin=""
keep=()
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) backend="${2:?--backend needs a value}"; shift 2 ;;
    --backend=*) backend="${1#*=}"; shift ;;
    --bin) bin="${2:?--bin needs a path}"; shift 2 ;;
    --bin=*) bin="${1#*=}"; shift ;;
    --keep) keep=(--keep); shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "mail-smtp.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$backend" in
  sqlite | postgres | s3 | postgres-s3) ;;
  *) echo "mail-smtp.sh: --backend is one of sqlite, postgres, s3, postgres-s3" >&2; exit 2 ;;
esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_packages=()
command -v swaks >/dev/null || apt_packages+=(swaks)
# swaks --tls needs Net::SSLeay (a recommendation of swaks, not a dependency).
perl -MNet::SSLeay -e 1 2>/dev/null || apt_packages+=(libnet-ssleay-perl)
if [ "${backend%-s3}" = postgres ]; then
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || apt_packages+=(postgresql)
fi
if [ "${#apt_packages[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_packages[@]}" >/dev/null
fi
python3 -c 'import aiosmtpd, dkim, nacl' 2>/dev/null ||
  python3 -m pip install --quiet 'aiosmtpd==1.4.6' 'dkimpy==1.1.8' 'pynacl==1.6.2'
case "$backend" in
  *s3) [ -n "${GUSS_TEST_S3_ENDPOINT:-}" ] || python3 -c 'import moto.server' 2>/dev/null ||
    python3 -m pip install --quiet 'moto[server]' ;;
esac

[ -n "$bin" ] || bin="$(python3 scripts/interop/mail_lib.py build)"
[ -x "$bin" ] || { echo "mail-smtp.sh: $bin is not an executable" >&2; exit 1; }

moto=""
moto_log=""
child=""
cleanup() {
  set +e # clean up everything, whatever fails
  # The checks first (they stop their server and sink), then what they used.
  if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; fi
  [ -n "$moto" ] && kill "$moto" 2>/dev/null && wait "$moto" 2>/dev/null
  [ -n "$moto_log" ] && rm -f "$moto_log"
  stop_private_postgres
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

extra=()
case "$backend" in
  postgres*)
    # A signal while the cluster starts waits until its stop command is known.
  trap 'signalled=143' TERM
  trap 'signalled=130' INT
  signalled=""
  start_private_postgres
  trap 'exit 143' TERM
  trap 'exit 130' INT
  [ -z "$signalled" ] || exit "$signalled"
    extra+=(--database "$PG_URL")
    ;;
esac
case "$backend" in
  *s3)
    if [ -n "${GUSS_TEST_S3_ENDPOINT:-}" ]; then
      extra+=(--s3 "${GUSS_TEST_S3_ENDPOINT/:\/\//://mail:mail-secret@}/guss-test")
    else
      port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
      moto_log="$(mktemp)"
      python3 -m moto.server -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
      moto="$!"
      for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/" && break
        kill -0 "$moto" 2>/dev/null || break
        sleep 0.2
      done
      curl -sf -o /dev/null -X PUT "http://127.0.0.1:$port/guss-mail-test" ||
        { cat "$moto_log"; echo "mail-smtp.sh: moto did not start" >&2; exit 1; }
      extra+=(--s3 "http://mail:mail-secret@127.0.0.1:$port/guss-mail-test")
    fi
    ;;
esac

# In the background and waited for, so that a TERM or INT reaches the trap at once.
python3 scripts/interop/mail-smtp.py --bin "$bin" "${extra[@]}" "${keep[@]}" &
child="$!"
wait "$child"
