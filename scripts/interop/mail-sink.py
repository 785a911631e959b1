#!/usr/bin/env python3
"""An SMTP sink for the mail interop scripts: accepts every message on a
loopback port and records it, byte for byte, as a file.

Each accepted message becomes two files in --dir: NAME.json (the envelope:
MAIL FROM, RCPT TO, their parameters, the client's address, the time) and
NAME.eml (the message exactly as received, after SMTP dot-unstuffing, CRLF
line ends kept). The .eml file is written last and renamed into place after
an fsync, so a reader that sees it sees it whole. NAME sorts in the order of
arrival, also across restarts of the sink on the same directory.

With --tempfail-while PATH the sink answers every message with
"451 4.3.0" at the end of DATA for as long as PATH exists (the message is
then not recorded): an MTA relaying to it must keep the message queued and
try again.

Run:

    python3 scripts/interop/mail-sink.py --dir DIR [--port 0] [--tempfail-while PATH]

The first line on standard output is "mail-sink listening on 127.0.0.1:PORT".
SIGTERM or SIGINT stops it. Needs aiosmtpd (pip install aiosmtpd).
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    sys.exit("mail-sink: aiosmtpd is missing (python3 -m pip install aiosmtpd)")


class LenientSMTP(SMTP):
    # A recorder, not a judge: longer lines than RFC 5322 allows are kept
    # (the scripts compare bytes and say what is wrong).
    line_length_limit = 1 << 20


class Recorder:
    def __init__(self, directory, tempfail_while):
        self.directory = directory
        self.tempfail_while = tempfail_while
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail_while and os.path.exists(self.tempfail_while):
            return "451 4.3.0 the sink is not accepting mail yet, try again later"
        self.count += 1
        name = f"{time.time_ns():020d}-{os.getpid()}-{self.count:06d}"
        meta = {
            "mail_from": envelope.mail_from,
            "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos,
            "rcpt_options": envelope.rcpt_options,
            "peer": list(session.peer) if session.peer else None,
            "helo": session.host_name,
            "received_at": time.time(),
            "size": len(envelope.original_content),
        }
        write_atomically(os.path.join(self.directory, name + ".json"),
                         json.dumps(meta, indent=1).encode())
        write_atomically(os.path.join(self.directory, name + ".eml"), envelope.original_content)
        return "250 2.0.0 recorded as " + name


def write_atomically(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="where received messages are written")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tempfail-while", metavar="PATH",
                        help="answer 451 at the end of DATA while PATH exists")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    recorder = Recorder(args.dir, args.tempfail_while)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: LenientSMTP(recorder, hostname="sink.remote.test", ident="guss test sink",
                            decode_data=False, enable_SMTPUTF8=True, data_size_limit=None),
        host=args.host, port=args.port, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"mail-sink listening on {args.host}:{port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
