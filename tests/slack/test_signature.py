"""Slack's signature check: every malformed header field is a 401 (never a 500), over HTTP
through the real app, and ``signature_ok`` refuses each one without raising."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from fastapi.testclient import TestClient

from mspilot.slack.signature import signature_ok

SECRET = "test-signing-secret"  # tests/slack/slack_support.py's signing secret
BODY = json.dumps({"token": "x", "challenge": "c-1", "type": "url_verification"})


def _sign(ts: str, body: str = BODY, secret: str = SECRET) -> str:
    base = f"v0:{ts}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _now() -> str:
    return str(int(time.time()))


#: field -> header value; each makes an otherwise good request malformed
MALFORMED: dict[str, dict[str, str | None]] = {
    "timestamp missing": {"X-Slack-Request-Timestamp": None},
    "timestamp not a number": {"X-Slack-Request-Timestamp": "soon"},
    "timestamp empty": {"X-Slack-Request-Timestamp": ""},
    "timestamp negative": {"X-Slack-Request-Timestamp": "-1"},
    "timestamp fractional": {"X-Slack-Request-Timestamp": "1700000000.5"},
    "timestamp huge": {"X-Slack-Request-Timestamp": "9" * 5000},
    "timestamp exponent": {"X-Slack-Request-Timestamp": "1e9"},
    "timestamp non-ascii digits": {"X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠"},
    "timestamp stale": {"X-Slack-Request-Timestamp": "1000000000"},
    "signature missing": {"X-Slack-Signature": None},
    "signature empty": {"X-Slack-Signature": ""},
    "signature wrong version": {"X-Slack-Signature": "v1=" + "0" * 64},
    "signature no prefix": {"X-Slack-Signature": "0" * 64},
    "signature short": {"X-Slack-Signature": "v0=abc"},
    "signature not hex": {"X-Slack-Signature": "v0=" + "z" * 64},
    "signature non-ascii": {"X-Slack-Signature": "v0=" + "é" * 64},
    "signature wrong": {"X-Slack-Signature": "v0=" + "0" * 64},
}


def _headers(case: dict[str, str | None]) -> dict[str, str]:
    ts = _now()
    headers: dict[str, str | None] = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": _sign(ts),
    }
    headers.update(case)
    if "X-Slack-Request-Timestamp" in case and case["X-Slack-Request-Timestamp"] is not None:
        # signed over the malformed timestamp itself: only the field's form is wrong
        headers.setdefault("X-Slack-Signature", None)
        if "X-Slack-Signature" not in case:
            headers["X-Slack-Signature"] = _sign(str(case["X-Slack-Request-Timestamp"]))
    return {k: v for k, v in headers.items() if v is not None}


@pytest.mark.parametrize("field", sorted(MALFORMED))
def test_malformed_header_is_401(client: TestClient, field: str) -> None:
    headers = _headers(MALFORMED[field])
    response = client.post(
        "/slack/events",
        content=BODY.encode("utf-8"),
        headers={k: v.encode("utf-8") for k, v in headers.items()},
    )
    assert response.status_code == 401, field


def test_well_formed_request_passes(client: TestClient) -> None:
    ts = _now()
    response = client.post(
        "/slack/events",
        content=BODY.encode(),
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": _sign(ts),
        },
    )
    assert response.status_code == 200 and response.json() == {"challenge": "c-1"}


@pytest.mark.parametrize("field", sorted(MALFORMED))
def test_signature_ok_refuses_without_raising(field: str) -> None:
    headers = _headers(MALFORMED[field])
    ok = signature_ok(
        SECRET,
        BODY.encode(),
        headers.get("X-Slack-Request-Timestamp"),
        headers.get("X-Slack-Signature"),
    )
    assert ok is False


def test_signature_ok_accepts_a_good_one_and_binds_the_body() -> None:
    ts = _now()
    assert signature_ok(SECRET, BODY.encode(), ts, _sign(ts))
    assert not signature_ok(SECRET, BODY.encode() + b" ", ts, _sign(ts))
    assert not signature_ok("other", BODY.encode(), ts, _sign(ts))
    # non-UTF-8 body bytes are signed as bytes, not decoded
    raw = b"\xff\xfe"
    sig = "v0=" + hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256).hexdigest()
    assert signature_ok(SECRET, raw, ts, sig)
