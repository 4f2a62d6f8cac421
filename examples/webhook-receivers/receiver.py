#!/usr/bin/env python3
"""Check the signature of an odoo-warden audit webhook request (Python 3 standard library only).

    WARDEN_WEBHOOK_SECRET=... python3 receiver.py "$X_WARDEN_SIGNATURE" < body.json

exits 0 if the signature is valid and recent, 1 if not, 2 on a usage error. In a web framework,
call verify() with the raw request body (the exact bytes received, never re-encoded JSON).
"""

import hashlib
import hmac
import os
import sys
import time

TOLERANCE_S = 300


def verify(secret: bytes, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_S) -> bool:
    """Whether `header` (X-Warden-Signature: t=<unix seconds>,v1=<hex>[,v1=...]) signs `body`."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            return False
        if key == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit()):
                return False
            timestamp = value
        elif key == "v1":
            signatures.append(value.lower().encode("utf-8"))
    if timestamp is None or not signatures:
        return False
    signed = timestamp.encode("ascii") + b"." + body
    expected = hmac.new(secret, signed, hashlib.sha256).hexdigest().encode("ascii")
    matched = False
    for signature in signatures:
        matched |= hmac.compare_digest(expected, signature)
    return matched and abs(now - int(timestamp)) <= tolerance


def main() -> int:
    secret = os.environ.get("WARDEN_WEBHOOK_SECRET")
    if not secret or len(sys.argv) != 2:
        usage = "usage: WARDEN_WEBHOOK_SECRET=... receiver.py SIGNATURE_HEADER < BODY"
        print(usage, file=sys.stderr)
        return 2
    body = sys.stdin.buffer.read()
    if verify(secret.encode("utf-8"), sys.argv[1], body, int(time.time())):
        return 0
    print("invalid signature", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
