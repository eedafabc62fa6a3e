"""Sends one message (stdin) to tend's inbound receiver with Python's smtplib,
over SMTP or LMTP, and prints every reply as JSON: an independent client for
the receiver's integration tests.

smtplib's LMTP class reads one reply after the data; the others (one per
accepted recipient, RFC 2033) are read here with getreply().
"""

import argparse
import json
import smtplib
import sys


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lmtp", action="store_true")
    parser.add_argument("--sender", default="")
    parser.add_argument("recipients", nargs="+")
    args = parser.parse_args()
    message = sys.stdin.buffer.read()

    if args.lmtp:
        client = smtplib.LMTP("127.0.0.1", args.port)
    else:
        client = smtplib.SMTP("127.0.0.1", args.port)
    client.ehlo()
    out = {"features": sorted(client.esmtp_features)}
    out["mail"] = client.mail(args.sender)[0]
    out["rcpt"] = [client.rcpt(r)[0] for r in args.recipients]
    accepted = sum(1 for code in out["rcpt"] if code == 250)
    code, text = client.data(message)
    data = [[code, text.decode()]]
    if args.lmtp:
        for _ in range(accepted - 1):
            code, text = client.getreply()
            data.append([code, text.decode()])
    out["data"] = data
    client.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
