#!/usr/bin/env bash
# IMAP against Dovecot: scripts/bench/mail-imap.py (see its --help) after
# Dovecot's IMAP server is installed. The benchmark runs a private Dovecot
# instance on a loopback port (own config, Maildir and run directories
# under one temp dir); the system's Dovecot is stopped and its
# configuration in /etc/dovecot is not used.
#
#   scripts/bench/mail-imap.sh [--bin PATH] [--messages 2000] [--rounds 3]
#       [--cycles 300] [--idle 100] [--backend sqlite|postgres] [--keep] ...
#
# Every argument goes to mail-imap.py. Without --bin the mail-server example
# is built with the `imap` feature (cargo build --release, the caller's
# target dir). Installs dovecot-imapd (apt) if `dovecot` is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

case "${1:-}" in
  -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exec python3 scripts/bench/mail-imap.py --help ;;
esac

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if ! command -v dovecot >/dev/null || [ ! -x /usr/lib/dovecot/imap ]; then
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
fi
# The package starts the system's instance where it can; the benchmark
# runs its own, and nothing else should take the two cores meanwhile.
"${sudo[@]}" service dovecot stop >/dev/null 2>&1 || true

exec python3 scripts/bench/mail-imap.py "$@"
