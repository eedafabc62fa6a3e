"""A real SMTP server for tend's integration tests, built on aiosmtpd.

Usage:
    python3 tests/support/smtp_server.py --out FILE.jsonl [--port 0]
        [--rule ADDR=CODE ...] [--drop ADDR ...] [--stall-data SECONDS] [--announce]
        [--tls-cert PEM --tls-key PEM [--implicit-tls]] [--auth USER:PASS]

It binds 127.0.0.1:PORT (0 = any free port), prints exactly one line
`READY <port>` to stdout, then serves until SIGTERM/SIGINT.

Every accepted message is appended to --out as one JSON line
`{"mail_from": ..., "rcpt_tos": [...], "data": "<message as received>"}`
and fsynced *before* the client gets its 250, so once a client has seen the
250 the line is on disk, and the number of accepted messages is simply the
file's line count.

Fault injection, keyed on the RCPT TO address (case-insensitive):
  --rule ADDR=CODE  answer RCPT with CODE (e.g. 550, 450, 421) instead of 250;
                    the recipient is not accepted. After a 421 the server
                    closes the connection, as real servers do.
  --drop ADDR       accept RCPT, read the whole message, then reset the TCP
                    connection instead of answering the end of DATA.
  --stall-data S    wait S seconds before answering the end of DATA. A client
                    that gives up (closes) meanwhile gets nothing recorded.
  ADDR may be a shell-style pattern (`*@bounce.test`); exact addresses win.
  --tls-cert/--tls-key  offer STARTTLS with this certificate (PEM files);
                    with --implicit-tls, speak TLS from the first byte instead.
  --auth USER:PASS  offer AUTH PLAIN/LOGIN (only over TLS) and require it.
  --announce        also print `RECEIVED <count>` after each recorded message,
                    so a parent can wait for messages without polling.
"""

import argparse
import asyncio
import fnmatch
import json
import os
import signal
import socket
import ssl
import struct
import sys

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    sys.exit("aiosmtpd missing: run `pip install -r tests/requirements.txt`")

# Replies for --rule codes; anything else gets a generic text.
REPLIES = {
    421: "421 4.3.0 service not available",
    450: "450 4.2.0 try again later",
    451: "451 4.3.0 local error in processing",
    452: "452 4.2.2 insufficient storage",
    550: "550 5.1.1 mailbox unavailable",
    552: "552 5.2.2 mailbox full",
    553: "553 5.1.3 mailbox name not allowed",
    554: "554 5.7.1 transaction failed",
}


def reply_for(code):
    return REPLIES.get(code, f"{code} {code // 100}.0.0 rejected by test rule")


def text(value):
    """Make sure a str/bytes from the wire is valid UTF-8 text for JSON.

    aiosmtpd keeps undecodable bytes as lone surrogates, which JSON readers
    such as serde_json reject; replace them instead.
    """
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return value.decode("utf-8", "replace")


class Recorder:
    """aiosmtpd handler: applies the fault rules and records messages."""

    def __init__(self, out_path, rules, drops, stall, announce):
        self.rules = rules
        self.drops = drops
        self.stall = stall
        self.announce = announce
        # O_APPEND + one write() per line: a reader sees whole lines only.
        self.fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        with open(out_path, "rb") as existing:
            self.count = sum(1 for _ in existing)

    def rule_for(self, address):
        address = address.lower()
        if address in self.rules:
            return self.rules[address]
        for pattern, code in self.rules.items():
            if fnmatch.fnmatchcase(address, pattern):
                return code
        return None

    def dropped(self, address):
        address = address.lower()
        return any(fnmatch.fnmatchcase(address, pattern) for pattern in self.drops)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        code = self.rule_for(address)
        if code is not None:
            return reply_for(code)  # not appended to rcpt_tos: not accepted
        # With a RCPT hook installed, aiosmtpd leaves accepting to us.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(self.dropped(rcpt) for rcpt in envelope.rcpt_tos):
            # SO_LINGER 0 turns close into an RST: the client sees the
            # connection die with no reply. Whatever aiosmtpd then tries to
            # push goes to a closed transport and is discarded.
            sock = server.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            server.transport.abort()
            return "451 dropped"
        if self.stall:
            # If the client disconnects meanwhile, aiosmtpd cancels this
            # coroutine, so nothing gets recorded for a message whose client
            # never saw a 250.
            await asyncio.sleep(self.stall)
        self.record(envelope)
        return "250 OK"

    def record(self, envelope):
        line = json.dumps({
            "mail_from": text(envelope.mail_from),
            "rcpt_tos": [text(r) for r in envelope.rcpt_tos],
            "data": text(envelope.original_content),
        }) + "\n"
        data = line.encode("utf-8")
        while data:
            data = data[os.write(self.fd, data):]
        os.fsync(self.fd)
        self.count += 1
        if self.announce:
            print(f"RECEIVED {self.count}", flush=True)


class TestSMTP(SMTP):
    async def push(self, status):
        await super().push(status)
        # Real servers hang up after a 421; aiosmtpd only does for its own.
        if status[:3] in ("421", b"421") and self.transport is not None:
            self.transport.close()


def parse_args():
    def rule(arg):
        addr, sep, code = arg.rpartition("=")
        if not sep or not addr or not code.isdigit() or not 400 <= int(code) <= 599:
            raise argparse.ArgumentTypeError(f"expected ADDR=CODE with a 4xx/5xx code, got {arg!r}")
        return addr.lower(), int(code)

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON-lines file to append messages to")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rule", type=rule, action="append", default=[], metavar="ADDR=CODE")
    p.add_argument("--drop", action="append", default=[], metavar="ADDR")
    p.add_argument("--stall-data", type=float, default=0.0, metavar="SECONDS")
    p.add_argument("--announce", action="store_true")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth", metavar="USER:PASS")
    return p.parse_args()


async def main():
    args = parse_args()
    handler = Recorder(
        args.out,
        rules=dict(args.rule),
        drops={a.lower() for a in args.drop},
        stall=args.stall_data,
        announce=args.announce,
    )
    loop = asyncio.get_running_loop()
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    options = {"hostname": "tend-test-smtp", "enable_SMTPUTF8": True}
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult, LoginPassword
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok)

        options.update(authenticator=authenticator, auth_required=True,
                       auth_require_tls=not args.implicit_tls)
    if context is not None and not args.implicit_tls:
        options.update(tls_context=context)
    server = await loop.create_server(
        lambda: TestSMTP(handler, **options),
        host="127.0.0.1",
        port=args.port,
        ssl=context if args.implicit_tls else None,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    await stop.wait()
    server.close()
    os.close(handler.fd)


if __name__ == "__main__":
    asyncio.run(main())
