"""Slack's request signature, checked before anything else reads the request.

``v0=HMAC-SHA256(signing_secret, "v0:{timestamp}:{raw body}")`` in ``X-Slack-Signature``, with
``X-Slack-Request-Timestamp`` within five minutes of now. Every malformed header — missing,
non-numeric, negative, huge or non-ASCII timestamp; missing, wrongly prefixed, wrong-length,
non-hex or non-ASCII signature — is simply "not signed" (401), never an exception (Bolt's own
check raises ``ValueError`` on a non-numeric timestamp, which became a 500).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Final

MAX_AGE_S: Final = 300
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_SIGNATURE: Final = re.compile(r"v0=[0-9a-f]{64}")


def signature_ok(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    *,
    now: float | None = None,
) -> bool:
    """True only for a well-formed, fresh and matching signature."""
    if timestamp is None or signature is None:
        return False
    if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
        return False
    clock = time.time() if now is None else now
    if abs(clock - int(timestamp)) > MAX_AGE_S:
        return False
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))
