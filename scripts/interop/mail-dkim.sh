#!/usr/bin/env bash
# DKIM interop between guss and dkimpy, an independent implementation:
#  (a) guss signs (Ed25519 + RSA in one message, and each alone), dkimpy verifies;
#  (b) dkimpy signs (RSA and Ed25519, several canonicalizations), guss verifies;
#  and each verifier must refuse a copy whose body was changed after signing.
# DNS answers come from the keys' TXT records, handed to each verifier
# directly. Installs dkimpy and PyNaCl if they are missing. Prints one
# summary line and exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/../.."

python3 -c 'import dkim, nacl.signing' 2>/dev/null ||
  python3 -m pip install --quiet 'dkimpy==1.1.8' 'PyNaCl==1.6.2'
if ! command -v openssl >/dev/null; then
  as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl
fi

# The binary's path from cargo itself, wherever the caller's target dir is.
tool="$(cargo build -p guss-mail --example dkim-tool --locked --quiet --message-format=json |
  python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "dkim-tool" and m.get("executable"):
        print(m["executable"])')"
[ -x "$tool" ] || { echo "mail-dkim: could not build the dkim-tool example" >&2; exit 1; }
helper=scripts/interop/mail-dkim.py
message=crates/guss-mail/tests/data/dkim-interop.eml

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
  local what="$1"
  shift
  if "$@" >"$work/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $what"
  else
    failed=$((failed + 1))
    echo "FAIL $what"
    sed 's/^/     /' "$work/out"
  fi
}
refuses() { ! "$@"; }
# A copy of a signed message with one body character changed.
tamper() { python3 -c 'import sys
data = open(sys.argv[1], "rb").read()
at = data.rindex(b"Ana")
open(sys.argv[2], "wb").write(data[:at] + b"Eve" + data[at + 3:])' "$1" "$2"; }
txt_args() { # the --txt arguments for every "NAME<TAB>VALUE" line of a file
  while IFS=$'\t' read -r name value; do printf '%s\n' "--txt" "$name=$value"; done <"$1"
}

# (a) guss signs, dkimpy verifies.
"$tool" keygen --algorithm ed25519 --selector guss-ed-202611 --domain example.com \
  --key-out "$work/ed.der" >"$work/guss.txt"
"$tool" keygen --algorithm rsa --selector guss-rsa-202611 --domain example.com \
  --key-out "$work/rsa.der" >>"$work/guss.txt"
mapfile -t guss_txt < <(txt_args "$work/guss.txt")
"$tool" sign --domain example.com --key "ed25519:guss-ed-202611:$work/ed.der" \
  --key "rsa:guss-rsa-202611:$work/rsa.der" --in "$message" --out "$work/guss-both.eml"
"$tool" sign --domain example.com --key "ed25519:guss-ed-202611:$work/ed.der" \
  --in "$message" --out "$work/guss-ed.eml"
"$tool" sign --domain example.com --key "rsa:guss-rsa-202611:$work/rsa.der" \
  --in "$message" --out "$work/guss-rsa.eml"
check "guss Ed25519 + RSA, dkimpy verifies both" \
  python3 "$helper" verify --in "$work/guss-both.eml" --expect 2 "${guss_txt[@]}"
check "guss Ed25519, dkimpy verifies" \
  python3 "$helper" verify --in "$work/guss-ed.eml" --expect 1 "${guss_txt[@]}"
check "guss RSA, dkimpy verifies" \
  python3 "$helper" verify --in "$work/guss-rsa.eml" --expect 1 "${guss_txt[@]}"
tamper "$work/guss-both.eml" "$work/guss-both-changed.eml"
check "guss-signed, body changed: dkimpy refuses" \
  refuses python3 "$helper" verify --in "$work/guss-both-changed.eml" "${guss_txt[@]}"
check "guss-signed, body changed: guss refuses too" \
  refuses "$tool" verify --in "$work/guss-both-changed.eml" "${guss_txt[@]}"

# (b) dkimpy signs, guss verifies.
for algorithm in rsa ed25519; do
  for canon in relaxed/relaxed relaxed/simple simple/simple; do
    name="dkimpy-$algorithm-${canon//\//-}"
    python3 "$helper" sign --algorithm "$algorithm" --canon "$canon" --domain example.org \
      --selector "sel-$algorithm" --in "$message" --out "$work/$name.eml" --txt-out "$work/$name.txt"
    mapfile -t txt < <(txt_args "$work/$name.txt")
    check "dkimpy $algorithm $canon, guss verifies" \
      "$tool" verify --in "$work/$name.eml" --expect 1 "${txt[@]}"
    check "dkimpy $algorithm $canon, dkimpy verifies its own" \
      python3 "$helper" verify --in "$work/$name.eml" --expect 1 "${txt[@]}"
    tamper "$work/$name.eml" "$work/$name-changed.eml"
    check "dkimpy $algorithm $canon, body changed: guss refuses" \
      refuses "$tool" verify --in "$work/$name-changed.eml" "${txt[@]}"
  done
done

echo "mail-dkim: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
