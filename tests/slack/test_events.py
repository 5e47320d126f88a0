"""The Slack app over HTTP: signatures, url_verification, mentions, DMs, /mspilot, charts,
Slack users mapped to mspilot users (roles and client scope). Real Bolt + slack_sdk code
against a local fake Slack Web API."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from mspilot.api.app import create_app
from mspilot.db.schema_insights import SlackUser
from mspilot.slack.blocks import HELP, NOT_LINKED
from support.api_world import World, make_ctx, settings_for
from support.fakes.slack_api import Call, FakeSlack
from support.slack_app import TEAM, make_agent, post_signed, send_command, send_event

_TS = iter(range(100, 10**6))
MONEY = re.compile(r"revenue \$[\d,]+")


def new_ts() -> str:
    return f"1700001234.{next(_TS):06d}"


def is_progress(slack: FakeSlack, call: Call) -> bool:
    """A streaming update (cursor, or an italic status line) rather than the final answer."""
    for block in slack.blocks(call):
        text = json.dumps(block)
        if "▌" in text:
            return True
        elements = block.get("elements", []) if block.get("type") == "context" else []
        if any(str(e.get("text", "")).startswith("_") for e in elements):
            return True
    return False


def answer_in(
    slack: FakeSlack, channel: str, thread_ts: str | None, nth: int = 1
) -> tuple[Call, list[Call]]:
    """(the placeholder post, its updates up to the final one) of the ``nth`` answer placed
    in ``channel`` / ``thread_ts``."""
    post = slack.wait_for(
        "chat.postMessage",
        count=nth,
        where=lambda c: (
            c.body.get("channel") == channel
            and c.body.get("thread_ts") == thread_ts
            and c.body.get("text") == "Thinking…"
        ),
    )[nth - 1]
    ts = post.response["ts"]
    slack.wait_for(
        "chat.update", where=lambda c: c.body.get("ts") == ts and not is_progress(slack, c)
    )
    return post, [c for c in slack.of("chat.update") if c.body.get("ts") == ts]


def final_text(slack: FakeSlack, updates: list[Call]) -> str:
    return json.dumps(slack.blocks(updates[-1]))


def tickets_listed(slack: FakeSlack, updates: list[Call]) -> int:
    """The total of the monthly ticket counts in the answer's text (its first section)."""
    section = next(b for b in slack.blocks(updates[-1]) if b["type"] == "section")
    return sum(int(n) for n in re.findall(r"tickets (\d+)", section["text"]["text"]))


def mention(text: str, user: str, channel: str = "C111", **extra: Any) -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {text}",
        "ts": new_ts(),
        "channel": channel,
        **extra,
    }


# ---- the door --------------------------------------------------------------------------------


def test_signatures_replay_window_and_url_verification(client: TestClient) -> None:
    body = json.dumps({"token": "x", "challenge": "c-42", "type": "url_verification"})
    ok = post_signed(client, body, "application/json")
    assert ok.status_code == 200 and ok.json() == {"challenge": "c-42"}
    assert post_signed(client, body, "application/json", secret="forged").status_code == 401
    assert post_signed(client, body, "application/json", age_s=301).status_code == 401
    unsigned = client.post(
        "/slack/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert unsigned.status_code == 401


def test_route_is_off_without_a_signing_secret(world: World) -> None:
    app = create_app(
        settings_for(world),
        engine=world.engine,
        agent=make_agent(),
        context_factory=make_ctx,
        warm=False,
    )
    with TestClient(app) as tc:
        assert tc.post("/slack/events", content=b"{}").status_code == 404


# ---- answering -------------------------------------------------------------------------------


def test_mention_streams_the_answer_into_the_thread_and_keeps_the_conversation(
    client: TestClient, slack: FakeSlack, world: World
) -> None:
    event = mention("tickets by month", "UOWNER")
    assert send_event(client, event).status_code == 200
    post, updates = answer_in(slack, "C111", event["ts"])
    assert post.headers.get("Authorization") == "Bearer xoxb-test"
    assert len(updates) >= 2  # streamed: progress updates, then the final answer
    assert any(is_progress(slack, u) for u in updates[:-1])
    final = final_text(slack, updates)
    assert tickets_listed(slack, updates) > 0 and "```" in final  # the answer and its table
    assert "Source: tickets_by_month" in final
    # a follow-up in the same Slack thread continues the same conversation
    follow = mention("and revenue?", "UOWNER", thread_ts=event["ts"])
    send_event(client, follow)
    _post, later = answer_in(slack, "C111", event["ts"], nth=2)
    assert later[-1].body["ts"] != updates[-1].body["ts"]  # a second answer in the thread
    state = client.app.state.mspilot  # type: ignore[attr-defined]
    ctx = state.tool_context(world.tenant_id, "owner", None)
    history = state.agent.history(ctx, f"slack-{TEAM}-C111-{event['ts']}-owner")
    assert [m["content"] for m in history if m["role"] == "user"] == [
        "tickets by month",
        "and revenue?",
    ]


def test_roles_and_client_scope_apply_in_slack(client: TestClient, slack: FakeSlack) -> None:
    asks = {
        "UOWNER": mention("revenue by client", "UOWNER"),
        "UTECH": mention("revenue by client", "UTECH"),
        "UCLIENT": mention("tickets by month", "UCLIENT"),
        "UOWNER-tickets": mention("tickets by month", "UOWNER"),
    }
    for event in asks.values():
        send_event(client, event)
    answers = {k: answer_in(slack, "C111", e["ts"])[1] for k, e in asks.items()}
    text = {k: final_text(slack, u) for k, u in answers.items()}
    assert MONEY.search(text["UOWNER"])
    assert not MONEY.search(text["UTECH"]) and "may not see revenue" in text["UTECH"]
    own = tickets_listed(slack, answers["UCLIENT"])
    everyone = tickets_listed(slack, answers["UOWNER-tickets"])
    assert 0 < own < everyone  # a client user sees only their own client's tickets


def test_charts_are_uploaded_as_images_into_the_thread(
    client: TestClient, slack: FakeSlack
) -> None:
    event = mention("chart of tickets", "UOWNER")
    send_event(client, event)
    answer_in(slack, "C111", event["ts"])
    (done,) = slack.wait_for(
        "files.completeUploadExternal", where=lambda c: c.body.get("thread_ts") == event["ts"]
    )
    assert done.body.get("channel_id") == "C111"
    url_calls = slack.of("files.getUploadURLExternal")
    assert url_calls and int(url_calls[-1].body["length"]) > 1000
    upload = slack.of("upload")[-1]
    assert b"\x89PNG" in upload.raw  # the PNG went to the upload URL Slack handed out


def test_direct_messages_are_answered_in_the_dm(client: TestClient, slack: FakeSlack) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "user": "UFINANCE",
        "text": "tickets by month",
        "ts": new_ts(),
        "channel": "D777",
    }
    send_event(client, event)
    _post, updates = answer_in(slack, "D777", None)  # not threaded: the DM is the conversation
    assert tickets_listed(slack, updates) > 0
    # the bot's own messages and edits are not answered
    send_event(client, {**event, "ts": new_ts(), "bot_id": "BBOT"})
    send_event(client, {**event, "ts": new_ts(), "subtype": "message_changed"})
    send_event(client, {**event, "ts": new_ts(), "text": "revenue by client"})
    answer_in(slack, "D777", None, nth=2)  # the revenue question, after the two ignored ones
    answers = [
        c
        for c in slack.of("chat.postMessage")
        if c.body.get("channel") == "D777" and c.body.get("text") == "Thinking…"
    ]
    assert len(answers) == 2


def test_slash_command_acks_then_posts_the_answer(client: TestClient, slack: FakeSlack) -> None:
    help_text = send_command(client, "help", "UOWNER", "C111", slack.response_url())
    assert help_text.status_code == 200 and help_text.text == HELP
    ack = send_command(client, "tickets by month", "UOWNER", "C222", slack.response_url())
    assert ack.status_code == 200 and "Looking into it" in ack.text
    post, updates = answer_in(slack, "C222", None)
    assert "<@UOWNER> asked: tickets by month" in json.dumps(slack.blocks(post))
    assert tickets_listed(slack, updates) > 0
    # the bot is not in that channel: the answer comes back privately through response_url
    slack.not_in_channel.add("CPRIVATE")
    send_command(client, "tickets by month", "UOWNER", "CPRIVATE", slack.response_url("p1"))
    (private,) = slack.wait_for("response_url", where=lambda c: "tickets" in str(c.body))
    assert private.body.get("text")


def test_unknown_users_are_refused_and_known_emails_are_linked(
    client: TestClient, slack: FakeSlack, world: World
) -> None:
    stranger = mention("revenue by client", "USTRANGER")
    send_event(client, stranger)
    (refusal,) = slack.wait_for(
        "chat.postEphemeral", where=lambda c: c.body.get("user") == "USTRANGER"
    )
    assert refusal.body["text"] == NOT_LINKED
    not_linked = send_command(client, "revenue", "USTRANGER", "C111", slack.response_url())
    assert not_linked.text == NOT_LINKED
    # the workspace is bound to the tenant: a Slack e-mail matching a user links them
    slack.emails["UNEWSM"] = "service_manager@demo.test"
    event = mention("revenue by client", "UNEWSM")
    send_event(client, event)
    _post, updates = answer_in(slack, "C111", event["ts"])
    assert MONEY.search(final_text(slack, updates))  # a service manager sees revenue
    with world.engine.connect() as conn:
        row = conn.execute(select(SlackUser).where(SlackUser.slack_user_id == "UNEWSM")).one()
    assert row.linked_by == "email" and row.user_id == world.users["service_manager"].id


def test_slack_retries_are_not_answered_twice(client: TestClient, slack: FakeSlack) -> None:
    first = mention("tickets by month", "UOWNER")  # delivered again by Slack after a lost ack
    send_event(client, first, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "x"})
    second = mention("tickets by month", "UOWNER")
    send_event(client, second)
    answer_in(slack, "C111", second["ts"])
    assert not [c for c in slack.of("chat.postMessage") if c.body.get("thread_ts") == first["ts"]]
