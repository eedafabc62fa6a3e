"""A real SMTP server for tend's integration tests, built on aiosmtpd.

Usage:
    python3 tests/support/smtp_server.py --out FILE.jsonl [--port 0]
        [--rule ADDR=REPLY ...] [--rules-file PATH] [--refusals FILE.jsonl]
        [--drop ADDR ...] [--stall-data SECONDS] [--announce]
        [--tls-cert PEM --tls-key PEM [--implicit-tls]] [--auth USER:PASS]

It binds 127.0.0.1:PORT (0 = any free port), prints exactly one line
`READY <port>` to stdout, then serves until SIGTERM/SIGINT.

Every accepted message is appended to --out as one JSON line
`{"mail_from": ..., "rcpt_tos": [...], "data": "<message as received>"}`
and fsynced *before* the client gets its 250, so once a client has seen the
250 the line is on disk, and the number of accepted messages is simply the
file's line count.

A REPLY is either a bare code (`550`: a stock text for that code) or a whole
reply (`554 5.7.1 Service unavailable; client host [127.0.0.1] blocked`);
`\n` (a real newline or the two characters backslash, n) starts another line,
sent as `554-...` continuation lines before the last `554 ...` one (a line
may repeat the code or leave it out). Codes are 4xx or 5xx. After any 421
the server closes the connection, as real servers do.

Fault injection, keyed on the RCPT TO address (case-insensitive):
  --rule ADDR=REPLY answer RCPT with REPLY instead of 250; the recipient is
                    not accepted.
  --drop ADDR       accept RCPT, read the whole message, then reset the TCP
                    connection instead of answering the end of DATA.
  --stall-data S    wait S seconds before answering the end of DATA. A client
                    that gives up (closes) meanwhile gets nothing recorded.
  ADDR may be a shell-style pattern (`*@bounce.test`); exact addresses win.
  --rules-file PATH a JSON file, re-read whenever it changes (checked at each
                    command, so a test can switch behaviour while the server
                    runs; replace it atomically, e.g. write and rename):
          {"greeting": REPLY | null,   refuse at connect, then hang up
           "mail": REPLY | null,       answer MAIL FROM
           "rcpt": [RULE, ...],        answer RCPT TO
           "data_end": [RULE, ...]}    answer the end of DATA (nothing recorded)
        RULE = {"match": PATTERN, "reply": REPLY, "times": N}: PATTERN is a
        shell pattern on the RCPT address (case-insensitive; for data_end the
        first recipient that matches decides), the first matching RULE wins,
        and `times` (optional) applies it only to the first N attempts of each
        address, counted across connections from when this version of the
        file was read. The file wins over --rule. A missing file means no
        rules; a malformed one makes every command answer
        `451 4.3.5 bad rules file: ...` (and says why on stderr).
  --refusals FILE   append every refusal made by a rule or the rules file as
                    one JSON line `{"phase": "greeting"|"mail"|"rcpt"|
                    "data_end", "rcpt": ADDR or null, "reply": "554 ..."}`
                    (lines of a multi-line reply joined by "\n"), fsynced
                    before the reply is sent, so tests can count attempts.
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
import re
import signal
import socket
import ssl
import struct
import sys
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError:
    sys.exit("aiosmtpd missing: run `pip install -r tests/requirements.txt`")

# Replies for bare codes; anything else gets a generic text.
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

CODE = re.compile(r"([45]\d\d)(?:[ -]|$)")


def reply_for(code):
    return REPLIES.get(code, f"{code} {code // 100}.0.0 rejected by test rule")


def wire_reply(value):
    """A REPLY (bare code or reply text, lines split by \n) as sent on the wire:
    its lines joined by CRLF, `CODE-` on all but the last. Raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError(f"a reply must be a string or a code, got {value!r}")
    value = value.replace("\\n", "\n")
    if value.strip().isdigit():
        code = int(value.strip())
        if not 400 <= code <= 599:
            raise ValueError(f"expected a 4xx/5xx code, got {value!r}")
        return reply_for(code)
    lines = [line.rstrip("\r") for line in value.split("\n")]
    first = CODE.match(lines[0])
    if not first:
        raise ValueError(f"a reply must start with a 4xx/5xx code, got {lines[0]!r}")
    code = first.group(1)
    texts = []
    for line in lines:
        if line == code:
            line = ""
        elif line.startswith((code + " ", code + "-")):
            line = line[4:]
        texts.append(line)
    wire = [f"{code}-{t}" for t in texts[:-1]]
    wire.append(f"{code} {texts[-1]}" if texts[-1] else code)
    return "\r\n".join(wire)


def text(value):
    """Make sure a str/bytes from the wire is valid UTF-8 text for JSON.

    aiosmtpd keeps undecodable bytes as lone surrogates, which JSON readers
    such as serde_json reject; replace them instead.
    """
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return value.decode("utf-8", "replace")


class JsonLines:
    """An append-only JSON-lines file whose lines are on disk once written."""

    def __init__(self, path):
        # O_APPEND + one write() per line: a reader sees whole lines only.
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def append(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.fd, data):]
        os.fsync(self.fd)

    def close(self):
        os.close(self.fd)


class RulesFile:
    """The --rules-file, re-read when its inode, mtime or size changes."""

    KEYS = {"greeting", "mail", "rcpt", "data_end"}
    EMPTY = {"greeting": None, "mail": None, "rcpt": [], "data_end": []}

    def __init__(self, path):
        self.path = path
        self.key = ("unread",)
        self.rules = self.EMPTY
        self.error = None
        # (phase, rule index, address) -> attempts a `times` rule has answered.
        self.counts = {}

    def current(self):
        """The rules now in force (and the error if the file is malformed)."""
        if self.path is None:
            return self
        try:
            st = os.stat(self.path)
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            key = None
        if key != self.key:
            self.key = key
            self.counts = {}
            self.rules, self.error = self.EMPTY, None
            if key is not None:
                try:
                    with open(self.path, encoding="utf-8") as f:
                        self.rules = self.parse(json.load(f))
                except (OSError, ValueError) as e:
                    self.error = " ".join(str(e).split())
                    print(f"smtp_server: bad rules file {self.path}: {self.error}",
                          file=sys.stderr, flush=True)
        return self

    @classmethod
    def parse(cls, raw):
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        unknown = set(raw) - cls.KEYS
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")

        def optional(key):
            value = raw.get(key)
            return None if value is None else wire_reply(value)

        def rules(key):
            value = raw.get(key) or []
            if not isinstance(value, list):
                raise ValueError(f"{key} must be a list of rules")
            parsed = []
            for rule in value:
                if not isinstance(rule, dict) or set(rule) - {"match", "reply", "times"}:
                    raise ValueError(f"{key}: a rule is {{match, reply, times}}, got {rule!r}")
                if not isinstance(rule.get("match"), str):
                    raise ValueError(f"{key}: match must be a pattern, got {rule!r}")
                times = rule.get("times")
                if times is not None and (not isinstance(times, int) or times < 1):
                    raise ValueError(f"{key}: times must be a positive integer, got {rule!r}")
                parsed.append((rule["match"].lower(), wire_reply(rule.get("reply")), times))
            return parsed

        return {"greeting": optional("greeting"), "mail": optional("mail"),
                "rcpt": rules("rcpt"), "data_end": rules("data_end")}

    def pick(self, phase, address):
        """The reply of the first `phase` rule that applies to `address`."""
        address = address.lower()
        for index, (pattern, reply, times) in enumerate(self.rules[phase]):
            if not fnmatch.fnmatchcase(address, pattern):
                continue
            if times is not None:
                key = (phase, index, address)
                used = self.counts.get(key, 0)
                if used >= times:
                    continue
                self.counts[key] = used + 1
            return reply
        return None


class Recorder:
    """aiosmtpd handler: applies the fault rules and records messages."""

    def __init__(self, out_path, rules, drops, stall, announce, rules_file, refusals_path):
        self.rules = rules
        self.drops = drops
        self.stall = stall
        self.announce = announce
        self.rules_file = RulesFile(rules_file)
        self.refusals = JsonLines(refusals_path) if refusals_path else None
        self.out = JsonLines(out_path)
        with open(out_path, "rb") as existing:
            self.count = sum(1 for _ in existing)

    def rule_for(self, address):
        address = address.lower()
        if address in self.rules:
            return self.rules[address]
        for pattern, reply in self.rules.items():
            if fnmatch.fnmatchcase(address, pattern):
                return reply
        return None

    def dropped(self, address):
        address = address.lower()
        return any(fnmatch.fnmatchcase(address, pattern) for pattern in self.drops)

    def refuse(self, phase, rcpt, reply):
        """Logs a refusal (before the client can see it) and returns it."""
        if self.refusals is not None:
            self.refusals.append({
                "phase": phase,
                "rcpt": None if rcpt is None else text(rcpt),
                "reply": reply.replace("\r\n", "\n"),
            })
        return reply

    def file_reply(self, phase, address=None):
        """The rules file's answer for this command, or None to go on."""
        current = self.rules_file.current()
        if current.error is not None:
            return f"451 4.3.5 bad rules file: {current.error}"
        if phase in ("greeting", "mail"):
            return current.rules[phase]
        return current.pick(phase, address)

    def greeting_refusal(self):
        reply = self.file_reply("greeting")
        return None if reply is None else self.refuse("greeting", None, reply)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        reply = self.file_reply("mail")
        if reply is not None:
            return self.refuse("mail", None, reply)
        # With a MAIL hook installed, aiosmtpd leaves accepting to us.
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.file_reply("rcpt", address)
        if reply is None:
            reply = self.rule_for(address)
        if reply is not None:
            return self.refuse("rcpt", address, reply)  # not in rcpt_tos: not accepted
        # With a RCPT hook installed, aiosmtpd leaves accepting to us.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        for rcpt in envelope.rcpt_tos:
            reply = self.file_reply("data_end", rcpt)
            if reply is not None:
                return self.refuse("data_end", rcpt, reply)
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
        self.out.append({
            "mail_from": text(envelope.mail_from),
            "rcpt_tos": [text(r) for r in envelope.rcpt_tos],
            "data": text(envelope.original_content),
            # When the message was accepted (seconds since the epoch): rate tests.
            "at": time.time(),
        })
        self.count += 1
        if self.announce:
            print(f"RECEIVED {self.count}", flush=True)

    def close(self):
        self.out.close()
        if self.refusals is not None:
            self.refusals.close()


class TestSMTP(SMTP):
    greeted = False

    async def push(self, status):
        # aiosmtpd's first push is always its 220 greeting.
        if not self.greeted:
            self.greeted = True
            refusal = self.event_handler.greeting_refusal()
            if refusal is not None:
                await super().push(refusal)
                if self.transport is not None:
                    self.transport.close()
                return
        await super().push(status)
        # Real servers hang up after a 421; aiosmtpd only does for its own.
        if status[:3] in ("421", b"421") and self.transport is not None:
            self.transport.close()


def parse_args():
    def rule(arg):
        # ADDR ends at the first "=" that a 4xx/5xx reply follows.
        match = re.match(r"(.+?)=([45]\d\d(?:[ -].*)?)$", arg, re.S)
        try:
            if not match:
                raise ValueError("expected ADDR=REPLY")
            return match.group(1).lower(), wire_reply(match.group(2))
        except ValueError as e:
            raise argparse.ArgumentTypeError(
                f"expected ADDR=REPLY with a 4xx/5xx reply, got {arg!r}: {e}")

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON-lines file to append messages to")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--rule", type=rule, action="append", default=[], metavar="ADDR=REPLY")
    p.add_argument("--rules-file", metavar="PATH")
    p.add_argument("--refusals", metavar="FILE")
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
        rules_file=args.rules_file,
        refusals_path=args.refusals,
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
    handler.close()


if __name__ == "__main__":
    asyncio.run(main())
