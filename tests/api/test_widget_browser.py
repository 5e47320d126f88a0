"""The chat widget in a real browser (Playwright driving Debian's Chromium, headless) against a
real uvicorn server on loopback: ask, watch the answer stream with a chart, reload and keep the
thread; the client view cannot reach another client's data; error and rate-limit states.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.api_world import AS_OF, World, make_app
from support.browser import CHROMIUM, chromium, serving

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="apt-get install chromium"),
]


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    with serving(make_app(world, real_agent=True, demo_portal=True)) as base:  # no LLM
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _ask(page: Any, question: str) -> Any:
    before = page.locator(".msg.assistant").count()
    page.fill("textarea", question)
    page.keyboard.press("Enter")
    answer = page.locator(".msg.assistant").nth(before)
    answer.locator(".body p").first.wait_for(timeout=15_000)
    return answer


def test_ask_stream_chart_reload_keeps_thread(browser: Any, server: str, world: World) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    external: list[str] = []
    page.on(
        "request",
        lambda r: external.append(r.url) if not r.url.startswith(server) else None,
    )
    page.goto(server + "/")
    page.click(".launcher")
    answer = _ask(page, "How many tickets did we open per month this year?")
    answer.locator("svg.chart").wait_for(timeout=10_000)
    assert "tickets" in answer.inner_text().lower()
    assert answer.locator(".steps .ok").count() >= 1  # the tool step was shown and ticked
    assert answer.locator("table.artifact tbody tr").count() == AS_OF.month
    page.screenshot(path=str(ARTIFACTS / "widget-owner-answer.png"))

    stored = page.evaluate(
        "() => Object.entries(localStorage).filter(([k]) => k.startsWith('mspilot:thread:'))"
    )
    thread_id = json.loads(stored[0][1])["thread_id"]
    assert thread_id

    page.reload()
    page.click(".launcher")
    page.locator(".msg.user").first.wait_for()
    assert page.locator(".msg.user").count() == 1
    assert page.locator(".msg.assistant svg.chart").count() == 1
    second = _ask(page, "revenue by month this year")
    second.locator("svg.chart").wait_for(timeout=10_000)
    page.screenshot(path=str(ARTIFACTS / "widget-owner-after-reload.png"))
    stored = page.evaluate(
        "() => Object.entries(localStorage).filter(([k]) => k.startsWith('mspilot:thread:'))"
    )
    assert json.loads(stored[0][1])["thread_id"] == thread_id  # same thread after reload
    history = page.evaluate(
        """async ([t, tok]) => (await fetch('/v1/threads/' + t,
             {headers: {Authorization: 'Bearer ' + tok}})).json()""",
        [thread_id, page.evaluate("() => document.querySelector('mspilot-chat').token")],
    )
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"] * 2
    assert external == []
    context.close()


def test_client_view_cannot_reach_another_clients_data(
    browser: Any, server: str, world: World
) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.goto(server + "/?as=client")
    page.click(".launcher")
    answer = _ask(page, "How many tickets did we open per month this year?")
    answer.locator("svg.chart").wait_for(timeout=10_000)
    own_rows = answer.locator("table.artifact tbody tr td.num").all_inner_texts()
    denied = _ask(page, "show revenue by client this year")
    assert denied.locator("svg.chart").count() == 0
    assert denied.locator("table.artifact").count() == 0
    assert "may not see" in denied.inner_text()
    page.screenshot(path=str(ARTIFACTS / "widget-client-view.png"))
    token = page.evaluate("() => document.querySelector('mspilot-chat').token")
    me = page.evaluate(
        "async (tok) => (await fetch('/v1/auth/me', {headers: {Authorization: 'Bearer ' + tok}}))"
        ".json()",
        token,
    )
    own = me["client_id"]
    others = [c for c in world.clients if c != own]
    for path in (f"/v1/clients/{others[0]}", "/v1/churn", "/v1/margins", "/v1/pricing"):
        status = page.evaluate(
            """async ([p, tok]) => (await fetch(p,
                 {headers: {Authorization: 'Bearer ' + tok}})).status""",
            [path, token],
        )
        assert status == 403, path
    listed = page.evaluate(
        "async (tok) => (await fetch('/v1/clients', {headers: {Authorization: 'Bearer ' + tok}}))"
        ".json()",
        token,
    )
    assert [c["id"] for c in listed["items"]] == [own]
    total = sum(int(v.replace(",", "")) for v in own_rows)
    assert total == _tickets_this_year(world, own)
    context.close()


def _tickets_this_year(world: World, client_id: str) -> int:
    import datetime as dt

    from sqlalchemy import func, select

    from mspilot.db.schema import Ticket

    start = dt.datetime(AS_OF.year, 1, 1, tzinfo=dt.UTC)
    with world.engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).where(
                    Ticket.tenant_id == world.tenant_id,
                    Ticket.client_id == client_id,
                    Ticket.deleted_at.is_(None),
                    Ticket.opened_at >= start,
                )
            )
            or 0
        )


def test_rate_limit_and_error_states_are_clear(browser: Any, server: str) -> None:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.goto(server + "/")
    page.click(".launcher")
    page.route(
        "**/v1/chat",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "7", "Content-Type": "application/json"},
            body=json.dumps({"detail": "rate limit", "code": "rate_limited", "retry_after": 7}),
        ),
    )
    page.fill("textarea", "anything")
    page.keyboard.press("Enter")
    notice = page.locator(".notice.ratelimit")
    notice.wait_for(timeout=5_000)
    assert "too quickly" in notice.inner_text()
    assert page.locator("button.send").is_disabled()
    page.screenshot(path=str(ARTIFACTS / "widget-rate-limited.png"))
    page.unroute("**/v1/chat")
    page.route(
        "**/v1/chat",
        lambda route: route.fulfill(
            status=401,
            headers={"Content-Type": "application/json"},
            body=json.dumps({"detail": "the access token has expired", "code": "token_expired"}),
        ),
    )
    page.evaluate("() => { const w = document.querySelector('mspilot-chat'); w.cooldown = 0; }")
    page.evaluate("() => document.querySelector('mspilot-chat').ask('again')")
    error = page.locator(".notice.error")
    error.wait_for(timeout=5_000)
    assert "sign in again" in error.inner_text()
    context.close()
