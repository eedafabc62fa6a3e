"""Verify a message's DKIM signature with dkimpy, an independent verifier.

Usage: python3 tests/support/dkim_verify.py PUBLIC_KEY_DNS_TXT < message

The DNS lookup is answered with the given TXT record (e.g.
`v=DKIM1; k=rsa; p=MIIB...`) instead of asking real DNS. Prints the signed
header list and exits 0 when the signature verifies, 1 otherwise.
"""

import sys

import dkim


def main():
    record = sys.argv[1].encode()
    message = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def dns(name, timeout=5):
        return record

    verifier = dkim.DKIM(message)
    ok = verifier.verify(dnsfunc=dns)
    signed = [name.decode() for name, _ in verifier.signed_headers] if ok else []
    print("signed headers:", ", ".join(signed))
    print("DKIM verification:", "pass" if ok else "fail")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
