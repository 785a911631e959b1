#!/usr/bin/env bash
# The DNS records of a mail domain against a private BIND (named) on a
# loopback port, with the dns-records example of guss-mail:
#   1. check an empty zone (SOA and NS only): every record is reported missing;
#   2. add, with nsupdate, a second SPF record (and a third, split into two
#      strings), an old MX, a CNAME where DMARC belongs, an address where the
#      autoconfig alias belongs and a site-verification TXT: check reports
#      the second SPF record and the rest;
#   3. publish with RFC 2136 dynamic updates signed with TSIG;
#   4. check again: no difference;
#   5. dig: exactly one SPF record left, the verification TXT kept, one MX;
#   6. publish again: nothing changes.
# Exits non-zero on any failure; named is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
fail() { echo "mail-dns: FAILED: $*" >&2; exit 1; }

missing=()
command -v named >/dev/null && command -v tsig-keygen >/dev/null || missing+=(bind9 bind9-utils)
command -v dig >/dev/null && command -v nsupdate >/dev/null || missing+=(bind9-dnsutils)
if [ "${#missing[@]}" -gt 0 ]; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
fi

cargo build -p guss-mail --example dns-records --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/examples/dns-records"

work="$(mktemp -d)"
named_pid=""
cleanup() {
  if [ -n "$named_pid" ]; then
    kill "$named_pid" 2>/dev/null || true
    wait "$named_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

start=$SECONDS
# A port free for both TCP and UDP (named listens on both).
port="$(python3 -c '
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); break
    except OSError:
        t.close(); u.close()
print(p)')"
zone=example.test

tsig-keygen -a hmac-sha256 guss-update >"$work/update.key"
cat >"$work/$zone.zone" <<EOF
\$TTL 300
@   IN SOA ns.$zone. hostmaster.$zone. 1 3600 600 86400 300
@   IN NS  ns.$zone.
ns  IN A   127.0.0.1
EOF
cat >"$work/named.conf" <<EOF
include "$work/update.key";
options {
  directory "$work";
  pid-file "$work/named.pid";
  listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  allow-transfer { none; };
};
controls { };
logging {
  channel to_file { file "$work/named.log"; severity info; };
  category default { to_file; };
};
zone "$zone" {
  type primary;
  file "$work/$zone.zone";
  update-policy { grant guss-update zonesub ANY; };
};
EOF
named -c "$work/named.conf" -f -n 1 >"$work/named.out" 2>&1 &
named_pid=$!
for _ in $(seq 1 100); do
  dig +short +time=1 +tries=1 @127.0.0.1 -p "$port" "$zone" SOA 2>/dev/null | grep -q hostmaster && break
  kill -0 "$named_pid" 2>/dev/null || { cat "$work/named.out" "$work/named.log" 2>/dev/null; fail "named did not start"; }
  sleep 0.1
done
dig +short @127.0.0.1 -p "$port" "$zone" SOA | grep -q hostmaster ||
  { cat "$work/named.log"; fail "named does not answer on port $port"; }

domain_args=(--domain "$zone" --mail-host "mail.$zone" --web-host "web.$zone"
  --mail-addr 192.0.2.25 --mail-addr 2001:db8::25 --web-addr 192.0.2.80
  --dkim "guss1:ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
  --dkim "legacy:rsa:$(head -c 294 /dev/zero | tr '\0' 'A' | base64 -w0)"
  --caa letsencrypt.org)
dns() { "$bin" "${domain_args[@]}" "$@"; }
expected_records="$(dns zone | wc -l)"
ours_spf="$(dns zone | awk -v n="$zone." '$1 == n && $4 == "TXT" && /v=spf1/' | cut -d' ' -f5-)"
[ -n "$ours_spf" ] || fail "the zone file has no SPF record for $zone"

# 1. the empty zone
set +e; dns check --server "127.0.0.1:$port" >"$work/check1.out"; rc=$?; set -e
[ "$rc" -eq 1 ] || { cat "$work/check1.out"; fail "check of the empty zone exited $rc, expected 1"; }
missing_count="$(grep -c ' is missing\.$' "$work/check1.out" || true)"
[ "$missing_count" -eq "$expected_records" ] ||
  { cat "$work/check1.out"; fail "expected $expected_records missing records, saw $missing_count"; }

# 2. a second SPF record and other leftovers of an earlier provider
nsupdate -k "$work/update.key" <<EOF
server 127.0.0.1 $port
zone $zone
update add $zone. 300 IN TXT $ours_spf
update add $zone. 300 IN TXT "v=spf1 include:old-provider.example ~all"
update add $zone. 300 IN TXT "v=spf1 include:a.old-provider.example " "include:b.old-provider.example ~all"
update add $zone. 300 IN TXT "google-site-verification=guss-interop"
update add $zone. 300 IN MX 20 mx.old-provider.example.
update add _dmarc.$zone. 300 IN CNAME dmarc.old-provider.example.
update add autoconfig.$zone. 300 IN A 192.0.2.99
send
EOF
set +e; dns check --server "127.0.0.1:$port" >"$work/check2.out"; rc=$?; set -e
[ "$rc" -eq 1 ] || { cat "$work/check2.out"; fail "check with a second SPF record exited $rc, expected 1"; }
second_spf="$(grep -c "^$zone\. TXT has a second SPF record\.$" "$work/check2.out" || true)"
[ "$second_spf" -eq 2 ] || { cat "$work/check2.out"; fail "expected 2 second-SPF findings, saw $second_spf"; }
grep -q "^  $zone\. 300 IN MX 20 mx\.old-provider\.example\.$" "$work/check2.out" ||
  { cat "$work/check2.out"; fail "the old MX was not reported with its record line"; }
grep -q "^  autoconfig\.$zone\. 300 IN A 192\.0\.2\.99$" "$work/check2.out" ||
  { cat "$work/check2.out"; fail "the address at autoconfig was not reported with its record line"; }
grep -q "^  _dmarc\.$zone\. 300 IN CNAME dmarc\.old-provider\.example\.$" "$work/check2.out" ||
  { cat "$work/check2.out"; fail "the CNAME at _dmarc was not reported with its record line"; }
if grep -q 'google-site-verification' "$work/check2.out"; then
  cat "$work/check2.out"; fail "an unrelated TXT record was reported"
fi

# 3. publish
dns publish --server "127.0.0.1:$port" --zone "$zone" --key-file "$work/update.key" >"$work/publish1.out" ||
  { cat "$work/publish1.out" "$work/named.log"; fail "publish failed"; }
changed="$(sed -n 's/^published: \([0-9]*\) record sets changed.*/\1/p' "$work/publish1.out")"
grep -q ', 2 stray SPF records removed$' "$work/publish1.out" ||
  { cat "$work/publish1.out"; fail "publish did not remove the 2 stray SPF records"; }

# 4. check again
dns check --server "127.0.0.1:$port" >"$work/check3.out" ||
  { cat "$work/check3.out"; fail "check after publishing still finds differences"; }

# 5. what a resolver sees
d() { dig +short @127.0.0.1 -p "$port" "$@"; }
spf_count="$(d "$zone" TXT | grep -c '^"v=spf1' || true)"
[ "$spf_count" -eq 1 ] || { d "$zone" TXT; fail "expected exactly one SPF record, dig shows $spf_count"; }
[ "$(d "$zone" TXT | grep '^"v=spf1')" = "$ours_spf" ] || { d "$zone" TXT; fail "the SPF record left is not ours"; }
d "$zone" TXT | grep -q '^"google-site-verification=guss-interop"$' || fail "the verification TXT record was removed"
[ "$(d "$zone" MX)" = "10 mail.$zone." ] || { d "$zone" MX; fail "MX is not exactly 10 mail.$zone."; }
[ "$(d "autoconfig.$zone" CNAME)" = "web.$zone." ] || fail "autoconfig is not a CNAME to web.$zone."
[ "$(d "_imap._tcp.$zone" SRV)" = "0 0 0 ." ] || fail "_imap._tcp is not disabled"
d "guss1._domainkey.$zone" TXT | grep -q 'k=ed25519; p=11qYAYKxCrfVS' || fail "the DKIM key is not published"
[ "$(d "legacy._domainkey.$zone" TXT | grep -o '" "' | wc -l)" -eq 1 ] || fail "the long DKIM key is not split in two strings"
[ "$(d "$zone" CAA)" = '0 issue "letsencrypt.org"' ] || { d "$zone" CAA; fail "CAA is not 0 issue \"letsencrypt.org\""; }

# 6. publishing again changes nothing
dns publish --server "127.0.0.1:$port" --zone "$zone" --key-file "$work/update.key" >"$work/publish2.out"
grep -q '^published: 0 record sets changed' "$work/publish2.out" ||
  { cat "$work/publish2.out"; fail "publishing again changed records"; }

echo "mail-dns: ok: $missing_count records missing from the empty zone, $second_spf second SPF records reported," \
  "published $changed record sets, re-check clean, 1 SPF record left, re-publish idempotent ($((SECONDS - start))s)"
