#!/usr/bin/env python3
"""dkimpy's side of the DKIM interop check (scripts/interop/mail-dkim.sh).

  mail-dkim.py sign --algorithm rsa|ed25519 --canon relaxed/simple \
      --domain D --selector S --in MSG --out SIGNED --txt-out FILE
      makes a fresh key (RSA 2048 with openssl, Ed25519 with PyNaCl), signs
      MSG with dkimpy and writes "NAME<TAB>VALUE" of its TXT record to FILE.

  mail-dkim.py verify --in SIGNED --txt NAME=VALUE ... [--expect N]
      verifies every DKIM-Signature with dkimpy, answering its DNS queries
      from the --txt records only; exits 1 unless all pass (and there are N).
"""

import argparse
import base64
import subprocess
import sys

import dkim
import nacl.signing


def make_key(algorithm):
    """Returns (private key as dkimpy takes it, TXT record value)."""
    if algorithm == "ed25519":
        key = nacl.signing.SigningKey.generate()
        private = base64.b64encode(bytes(key))
        public = base64.b64encode(bytes(key.verify_key)).decode()
        return private, f"v=DKIM1; k=ed25519; p={public}"
    private = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        check=True, capture_output=True).stdout
    spki = subprocess.run(
        ["openssl", "pkey", "-pubout", "-outform", "DER"],
        input=private, check=True, capture_output=True).stdout
    return private, f"v=DKIM1; k=rsa; p={base64.b64encode(spki).decode()}"


def sign(args):
    message = open(args.input, "rb").read()
    private, txt = make_key(args.algorithm)
    header_canon, body_canon = args.canon.split("/")
    signature = dkim.sign(
        message,
        args.selector.encode(),
        args.domain.encode(),
        private,
        canonicalize=(header_canon.encode(), body_canon.encode()),
        signature_algorithm=b"ed25519-sha256" if args.algorithm == "ed25519" else b"rsa-sha256",
        include_headers=[b"from", b"to", b"cc", b"subject", b"date", b"message-id"],
    )
    open(args.out, "wb").write(signature + message)
    with open(args.txt_out, "w") as out:
        out.write(f"{args.selector}._domainkey.{args.domain}\t{txt}\n")
    return 0


def verify(args):
    records = {}
    for record in args.txt:
        name, value = record.split("=", 1)
        records[name.lower().rstrip(".")] = value.encode()

    def dnsfunc(name, timeout=5):
        return records.get(name.decode().lower().rstrip("."))

    message = open(args.input, "rb").read()
    checker = dkim.DKIM(message, minkey=1024)
    count = sum(1 for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
                if line.lower().startswith(b"dkim-signature:"))
    ok = count > 0
    for idx in range(count):
        passed = checker.verify(idx=idx, dnsfunc=dnsfunc)
        sig = checker.signature_fields
        print(f"dkimpy: signature {idx} a={sig.get(b'a', b'?').decode()} "
              f"s={sig.get(b's', b'?').decode()}: {'pass' if passed else 'FAIL'}")
        ok &= bool(passed)
    if args.expect is not None and count != args.expect:
        print(f"dkimpy: expected {args.expect} signatures, found {count}")
        ok = False
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    s = commands.add_parser("sign")
    s.add_argument("--algorithm", choices=["rsa", "ed25519"], required=True)
    s.add_argument("--canon", default="relaxed/relaxed")
    s.add_argument("--domain", required=True)
    s.add_argument("--selector", required=True)
    s.add_argument("--in", dest="input", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--txt-out", required=True)
    v = commands.add_parser("verify")
    v.add_argument("--in", dest="input", required=True)
    v.add_argument("--txt", action="append", default=[])
    v.add_argument("--expect", type=int)
    args = parser.parse_args()
    return sign(args) if args.command == "sign" else verify(args)


if __name__ == "__main__":
    sys.exit(main())
