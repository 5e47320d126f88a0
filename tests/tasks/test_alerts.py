"""Alerts out: a tenant's Teams channel gets an Adaptive Card and its webhook a signed,
timestamped JSON digest, from the same delivery as Slack and e-mail; a receiver refuses a
forged or replayed delivery."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.db.loader import create_tenant
from mspilot.insights.delivery import add_alert_channel, deliver, verify_signature
from mspilot.insights.model import Digest, InsightItem, Tuning
from mspilot.insights.store import Delivery

from .conftest import TENANT, settings_for

SECRET = "webhook-signing-secret-0123456789"


class Receiver(ThreadingHTTPServer):
    received: list[tuple[str, dict[str, str], bytes]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            self.server.received.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
            self.send_response(202 if self.path == "/teams" else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = Receiver(("127.0.0.1", 0), Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _digest() -> Digest:
    item = InsightItem(
        key="churn_risk:acme.superops.c1",
        detector="churn_risk",
        title="Contoso may leave within 90 days",
        body="Risk 62% (was 30%): tickets up, CSAT down.",
        dollars=48_000.0,
        metric=0.62,
        threshold=0.4,
        urgent=True,
        client_id="acme.superops.c1",
        client_name="Contoso",
    )
    tuning = Tuning(
        detector="pricing", before=0.1, after=0.15, reason="seasonal", at=dt.datetime.now(dt.UTC)
    )
    return Digest(
        tenant_id=TENANT,
        tenant_name="Acme IT",
        kind="weekly",
        as_of=dt.date(2026, 10, 31),
        generated_at=dt.datetime.now(dt.UTC),
        items=[item],
        total_dollars=48_000.0,
        thresholds={},
        tuning=[tuning],
    )


def test_teams_and_signed_webhooks_get_the_digest_and_its_feedback(
    sqlite_engine: Engine, tmp_path: Path, receiver: Receiver
) -> None:
    create_tenant(sqlite_engine, TENANT)
    settings = settings_for(str(sqlite_engine.url), tmp_path / "var")
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    teams = add_alert_channel(settings, sqlite_engine, TENANT, "teams", f"{base}/teams", None)
    hook = add_alert_channel(settings, sqlite_engine, TENANT, "webhook", f"{base}/hook", SECRET)
    outcomes = deliver(settings, Delivery(TENANT), _digest(), engine=sqlite_engine)
    assert outcomes[f"teams#{teams}"] == "sent: HTTP 202"
    assert outcomes[f"webhook#{hook}"] == "sent: HTTP 200"
    by_path = {path: (headers, body) for path, headers, body in receiver.received}
    card = json.loads(by_path["/teams"][1])["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [b.get("text", "") for b in card["content"]["body"]]
    assert any("Contoso may leave" in t for t in texts)
    assert "Tuned from your feedback" in texts
    headers, body = by_path["/hook"]
    stamp, signature = headers["X-Mspilot-Timestamp"], headers["X-Mspilot-Signature"]
    assert verify_signature(SECRET, stamp, body, signature)
    payload = json.loads(body)
    assert payload["items"][0]["key"] == "churn_risk:acme.superops.c1"
    assert payload["feedback"][0]["heading"] == "Tuned from your feedback"
    # a receiver refuses a forged body, a wrong secret and a replay ten minutes later
    assert not verify_signature(SECRET, stamp, body + b" ", signature)
    assert not verify_signature("another-secret-0123456789", stamp, body, signature)
    assert not verify_signature(SECRET, stamp, body, signature, now=time.time() + 600)


def test_a_webhook_channel_needs_a_secret_and_a_failing_channel_is_reported(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    create_tenant(sqlite_engine, TENANT)
    settings = settings_for(str(sqlite_engine.url), tmp_path / "var")
    with pytest.raises(ValueError):
        add_alert_channel(
            settings, sqlite_engine, TENANT, "webhook", "https://example.test/h", None
        )
    dead = add_alert_channel(settings, sqlite_engine, TENANT, "teams", "http://127.0.0.1:1/x", None)
    outcomes = deliver(settings, Delivery(TENANT), _digest(), engine=sqlite_engine)
    assert outcomes[f"teams#{dead}"].startswith("failed")
