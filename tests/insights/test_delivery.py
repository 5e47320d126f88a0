"""Delivery: e-mail through a real SMTP server (aiosmtpd on 127.0.0.1), Slack through the real
slack_sdk client against the local fake Web API, and the feed follower that hands finished
digests to every server worker's hub."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from mspilot.core.settings import Settings, SlackSettings, SmtpSettings
from mspilot.insights import store
from mspilot.insights.delivery import deliver, send_email, send_slack
from mspilot.insights.digest import build_digest
from mspilot.insights.model import Digest
from mspilot.insights.scheduler import run_digest
from mspilot.insights.server import FeedFollower
from support.fakes.slack_api import FakeSlack
from support.insights_world import AS_OF, planted_signals, tenant_with_clients
from support.smtp import Inbox, free_port


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, SmtpSettings]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, SmtpSettings(host="127.0.0.1", port=port, starttls=False, sender="a@b.test")
    finally:
        controller.stop()


def _digest(engine: Engine) -> Digest:
    clients = tenant_with_clients(engine)
    return build_digest(
        engine, "acme", as_of=AS_OF, data_dir=Path("."), signals=planted_signals(clients)
    )


def test_email_has_text_and_html_parts(
    sqlite_engine: Engine, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, cfg = smtp
    digest = _digest(sqlite_engine)
    outcome = send_email(cfg, ("ops@acme.test", "cfo@acme.test"), digest)
    assert outcome == "sent: 2 recipient(s)"
    ((rcpts, msg),) = inbox.messages
    assert rcpts == ["ops@acme.test", "cfo@acme.test"]
    assert msg["Subject"].startswith("Weekly insights for Acme IT")
    assert msg.get_content_type() == "multipart/alternative"
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in msg.walk()
        if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    top = digest.items[0]
    assert top.title in parts["text/plain"]
    assert "<table" in parts["text/html"] and f"${top.dollars:,.0f}" in parts["text/html"]


def test_unreachable_smtp_is_reported_not_raised(sqlite_engine: Engine) -> None:
    cfg = SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, timeout_s=2)
    assert send_email(cfg, ("x@y.test",), _digest(sqlite_engine)).startswith("failed:")
    assert send_email(SmtpSettings(), ("x@y.test",), _digest(sqlite_engine)).startswith("skipped")


def test_slack_delivery_posts_blocks_with_the_bot_token(sqlite_engine: Engine) -> None:
    digest = _digest(sqlite_engine)
    with FakeSlack(not_in_channel={"CGONE"}) as fake:
        settings = Settings(slack=SlackSettings(bot_token="xoxb-digest", api_url=fake.base_url))
        assert send_slack(settings, "CINSIGHTS", digest).startswith("sent: 1700000000.")
        (call,) = fake.of("chat.postMessage")
        assert call.headers["Authorization"] == "Bearer xoxb-digest"
        blocks = fake.blocks(call)
        assert blocks[0]["type"] == "header" and len(blocks) <= 50
        assert send_slack(settings, "CGONE", digest) == "failed: not_in_channel"
    assert send_slack(Settings(), "C1", digest).startswith("skipped")


def test_deliver_goes_where_the_tenant_configured(
    sqlite_engine: Engine, smtp: tuple[Inbox, SmtpSettings]
) -> None:
    inbox, cfg = smtp
    digest = _digest(sqlite_engine)
    with FakeSlack() as fake:
        settings = Settings(
            smtp=cfg, slack=SlackSettings(bot_token="xoxb-t", api_url=fake.base_url)
        )
        nowhere = deliver(settings, store.delivery_for(sqlite_engine, "acme"), digest)
        assert all(v.startswith("skipped") for v in nowhere.values())
        target = store.configure_delivery(
            sqlite_engine, "acme", store.utcnow(), slack_channel="C9", email_to=["a@acme.test"]
        )
        sent = deliver(settings, target, digest)
        assert sent["slack"].startswith("sent") and sent["email"].startswith("sent")
        assert len(fake.of("chat.postMessage")) == 1 and len(inbox.messages) == 1
        # a daily alert with nothing urgent is not sent at all
        quiet = digest.model_copy(update={"kind": "daily", "items": []})
        assert all(v.startswith("skipped") for v in deliver(settings, target, quiet).values())
        assert len(fake.of("chat.postMessage")) == 1


def test_feed_follower_publishes_each_finished_digest_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    clients = tenant_with_clients(sqlite_engine)
    published: list[dict[str, Any]] = []
    worker_a = FeedFollower(sqlite_engine, published.append)
    worker_b_feed: list[dict[str, Any]] = []
    worker_b = FeedFollower(sqlite_engine, worker_b_feed.append)
    settings = Settings(data_dir=tmp_path, today=AS_OF)
    out = run_digest(
        sqlite_engine,
        settings,
        "acme",
        kind="weekly",
        slot="s1",
        holder="h",
        signals=planted_signals(clients),
    )
    assert out is not None and out.items == 7
    assert worker_a.poll() == 7 and worker_a.poll() == 0  # once
    assert worker_b.poll() == 7  # every worker's hub gets it
    assert {e["kind"] for e in published} == {"churn_risk", "revenue_leak", "pricing", "capacity"}
    assert all(e["tenant_id"] == "acme" and e["audience"] for e in published)
    assert published[-1]["data"]["dollars"] == max(e["data"]["dollars"] for e in published)
    # after a restart the latest digest is primed into the feed
    restarted: list[dict[str, Any]] = []
    assert FeedFollower(sqlite_engine, restarted.append).prime() == 7
    assert len({e["id"] for e in restarted}) == 7
