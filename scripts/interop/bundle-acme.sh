#!/usr/bin/env bash
# HTTPS for the bundle from an ACME certificate authority: pebble (the test
# CA) with pebble-challtestsrv as its DNS (every name is 127.0.0.1), and
# `guss serve` with `tls.acme_directory`. Passes when guss answers HTTPS
# for its public host and for an organisation's host with a certificate
# that chains to pebble's root, obtained through HTTP-01 on guss's plain
# listener, and redirects plain HTTP to HTTPS.
#
# Env: GUSS_BUNDLE_BIN  use this binary instead of building it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
log() { printf '[bundle-acme] %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

command -v pebble >/dev/null || { as_root apt-get update -qq; as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pebble; }
command -v openssl >/dev/null || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl

if [ -n "${GUSS_BUNDLE_BIN:-}" ]; then
  BIN="$GUSS_BUNDLE_BIN"
else
  cargo build -p guss-server --locked --quiet
  BIN="$ROOT/target/debug/guss"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/guss-acme.XXXXXX")"
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$rc" -ne 0 ]; then
    for f in pebble challtestsrv guss; do
      [ -s "$WORK/$f.log" ] && { log "--- $f.log"; tail -n 40 "$WORK/$f.log" >&2; }
    done
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ACME_PORT="$(port)"; MGMT_PORT="$(port)"; DNS_PORT="$(port)"; HTTP_PORT="$(port)"; HTTPS_PORT="$(port)"

# pebble's own HTTPS certificate (its directory is served over TLS).
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -addext "basicConstraints=critical,CA:FALSE" \
  -keyout "$WORK/pebble.key" -out "$WORK/pebble.pem" 2>/dev/null
cat >"$WORK/pebble.json" <<EOF
{
  "pebble": {
    "listenAddress": "127.0.0.1:$ACME_PORT",
    "managementListenAddress": "127.0.0.1:$MGMT_PORT",
    "certificate": "$WORK/pebble.pem",
    "privateKey": "$WORK/pebble.key",
    "httpPort": $HTTP_PORT,
    "tlsPort": $(port),
    "ocspResponderURL": "",
    "externalAccountBindingRequired": false
  }
}
EOF

pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" \
  -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$(port)" >"$WORK/challtestsrv.log" 2>&1 &
pids+=("$!")
# No artificial validation delays, no random nonce rejections.
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
  pebble -config "$WORK/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$WORK/pebble.log" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  curl -sf --cacert "$WORK/pebble.pem" "https://localhost:$ACME_PORT/dir" >/dev/null && break
  sleep 0.1
done
curl -sf --cacert "$WORK/pebble.pem" "https://localhost:$ACME_PORT/dir" >/dev/null || { log "pebble did not start"; exit 1; }

HOST="guss.acme.test"
cat >"$WORK/guss.toml" <<EOF
data = "$WORK/data"
listen = "127.0.0.1:$HTTPS_PORT"
public_url = "https://$HOST:$HTTPS_PORT"

[tls]
acme_directory = "https://localhost:$ACME_PORT/dir"
acme_contact = "mailto:hosting@acme.test"
acme_root_file = "$WORK/pebble.pem"
http_listen = "127.0.0.1:$HTTP_PORT"
EOF
# An organisation first, so that its host is on the certificate too.
LINK="$("$BIN" --config "$WORK/guss.toml" tenant create --name "Kanzlei Acme" --owner-email anna@kanzlei.acme.test)"
log "setup link: $LINK"
case "$LINK" in "https://kanzlei-acme.$HOST:$HTTPS_PORT/join/"*) ;; *) log "unexpected link $LINK"; exit 1 ;; esac

GUSS_LOG=info "$BIN" --config "$WORK/guss.toml" serve >"$WORK/guss.log" 2>&1 &
pids+=("$!")

# pebble's issuing root, to check what guss serves.
for _ in $(seq 1 300); do
  curl -sf --cacert "$WORK/pebble.pem" "https://localhost:$MGMT_PORT/roots/0" -o "$WORK/root.pem" && break
  sleep 0.1
done
[ -s "$WORK/root.pem" ] || { log "pebble did not hand out its root within 30 s"; exit 1; }
ok=""
for _ in $(seq 1 120); do
  if curl -sf --cacert "$WORK/root.pem" --resolve "$HOST:$HTTPS_PORT:127.0.0.1" \
      "https://$HOST:$HTTPS_PORT/healthz" >/dev/null 2>&1; then
    ok=1; break
  fi
  sleep 0.5
done
[ -n "$ok" ] || { log "guss never served a certificate from pebble"; exit 1; }
log "https://$HOST:$HTTPS_PORT/ serves a certificate issued by pebble"
curl -sf --cacert "$WORK/root.pem" --resolve "kanzlei-acme.$HOST:$HTTPS_PORT:127.0.0.1" \
  "https://kanzlei-acme.$HOST:$HTTPS_PORT/sign-in" | grep -q "Kanzlei Acme" \
  || { log "the organisation's host is not served with the certificate"; exit 1; }
log "the organisation's host is on the certificate and serves its sign-in page"
# The certificate is served a moment before the log line is written.
logged=""
for _ in $(seq 1 50); do
  grep -q "new certificate in use" "$WORK/guss.log" && { logged=1; break; }
  sleep 0.2
done
[ -n "$logged" ] || { log "guss did not log the new certificate"; exit 1; }
redirect="$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "Host: $HOST" "http://127.0.0.1:$HTTP_PORT/home?x=1")"
[ "$redirect" = "308 https://$HOST:$HTTPS_PORT/home?x=1" ] || { log "plain HTTP answered $redirect"; exit 1; }
log "plain HTTP redirects to HTTPS"
# A restart serves the stored certificate at once.
kill "${pids[2]}"; wait "${pids[2]}" 2>/dev/null || true
GUSS_LOG=info "$BIN" --config "$WORK/guss.toml" serve >"$WORK/guss.log" 2>&1 &
pids[2]="$!"
for _ in $(seq 1 300); do
  curl -sf --cacert "$WORK/root.pem" --resolve "$HOST:$HTTPS_PORT:127.0.0.1" \
    "https://$HOST:$HTTPS_PORT/healthz" >/dev/null 2>&1 && { log "after a restart the stored certificate is served"; exit 0; }
  sleep 0.2
done
log "after a restart the stored certificate was not served"
exit 1
