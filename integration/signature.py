"""The one signature on everything the service sends out (webhook events, code hooks).

Signroom-Timestamp is the Unix time of the attempt and Signroom-Signature is
`v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. The timestamp is inside the
MAC so a receiver can refuse a replayed request; `v1=` leaves room for a second
scheme beside it during a change of algorithm. README shows the receiver's check.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP_HEADER = "Signroom-Timestamp"
SIGNATURE_HEADER = "Signroom-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes) -> dict[str, str]:
    """The timestamp and signature headers for one attempt to send `body` now."""
    stamp = int(time.time())
    return {TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sign(secret, stamp, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """Whether `body` came signed with `secret` within `tolerance` seconds of now
    (the check a receiver of ours makes, and ours of an answer to us)."""
    try:
        stamp = int(headers.get(TIMESTAMP_HEADER, ""))
    except ValueError:
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    given = headers.get(SIGNATURE_HEADER, "")
    return hmac.compare_digest(given, sign(secret, stamp, body))
