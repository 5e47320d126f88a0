"""Support for the Slack app tests: the real FastAPI app with Bolt mounted, pointed at a local
fake Slack Web API; an agent with scoped tools (revenue only for money roles, tickets scoped to a
client user's client) and a chart tool; properly signed requests."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from httpx import Response
from langchain_core.tools import BaseTool, StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from slack_sdk.signature import SignatureVerifier

from mspilot.agent.plan import PlannedCall, Route
from mspilot.agent.service import AgentService
from mspilot.core.settings import InsightsSettings, Settings, SlackSettings
from support.api_world import NoArgs, World, scoped_tools, settings_for
from support.fakes.slack_api import FakeSlack

SECRET = "test-signing-secret"
TEAM = "T111"
SLACK_USERS = {
    "UOWNER": "owner",
    "UFINANCE": "finance",
    "UTECH": "technician",
    "UCLIENT": "client_user",
}


def chart_tools(ctx: Any) -> list[BaseTool]:
    """The API tests' scoped tools plus one that returns a chart spec (like make_chart)."""

    def ticket_chart(top: int = 10) -> tuple[str, dict[str, Any]]:
        values = [{"month": f"2026-0{m}", "tickets": 10 + m} for m in range(1, 7)]
        spec = {
            "title": "tickets by month",
            "data": {"values": values},
            "mark": {"type": "line"},
            "encoding": {
                "x": {"field": "month", "type": "ordinal"},
                "y": {"field": "tickets", "type": "quantitative"},
            },
        }
        return "Chart ready: tickets by month", {
            "columns": ["month", "tickets"],
            "rows": [[v["month"], v["tickets"]] for v in values],
            "meta": {"chart": spec},
        }

    extra = StructuredTool.from_function(
        ticket_chart,
        name="ticket_chart",
        description="ticket_chart",
        args_schema=NoArgs,
        response_format="content_and_artifact",
    )
    return [*scoped_tools(ctx), extra]


class Router:
    def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route | None:
        q = question.lower()
        name = (
            "ticket_chart"
            if "chart" in q
            else "revenue_by_client"
            if "revenue" in q
            else "tickets_by_month"
        )
        return Route(intent=name, confidence=1.0, confident=True, calls=[PlannedCall(name=name)])


def make_agent() -> AgentService:
    return AgentService(
        model=None,
        checkpointer=InMemorySaver(),
        tools_factory=chart_tools,
        router_factory=lambda ctx, tools: Router(),
    )


def slack_settings(world: World, fake: FakeSlack, **slack: Any) -> Settings:
    base = settings_for(world)
    return base.model_copy(
        update={
            "slack": SlackSettings(
                signing_secret=SECRET,
                bot_token="xoxb-test",
                api_url=fake.base_url,
                update_interval_s=0.0,
                **slack,
            ),
            "insights": InsightsSettings(scheduler=False),
        }
    )


# ---- signed requests -------------------------------------------------------------------------


def post_signed(
    tc: TestClient,
    body: str,
    content_type: str,
    *,
    secret: str = SECRET,
    age_s: int = 0,
    headers: dict[str, str] | None = None,
) -> Response:
    ts = str(int(time.time()) - age_s)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return tc.post(
        "/slack/events",
        content=body.encode(),
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            **(headers or {}),
        },
    )


_EVENTS = iter(range(1, 10**6))


def send_event(tc: TestClient, event: dict[str, Any], **kw: Any) -> Response:
    body = json.dumps(
        {
            "token": "x",
            "team_id": TEAM,
            "api_app_id": "A111",
            "type": "event_callback",
            "event_id": f"Ev{next(_EVENTS)}",
            "event_time": int(time.time()),
            "event": event,
        }
    )
    return post_signed(tc, body, "application/json", **kw)


def send_command(tc: TestClient, text: str, user: str, channel: str, response_url: str) -> Response:
    body = urlencode(
        {
            "token": "x",
            "team_id": TEAM,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/mspilot",
            "text": text,
            "api_app_id": "A111",
            "response_url": response_url,
            "trigger_id": f"trig{next(_EVENTS)}",
        }
    )
    return post_signed(tc, body, "application/x-www-form-urlencoded")


def send_interaction(tc: TestClient, payload: dict[str, Any]) -> Response:
    body = urlencode({"payload": json.dumps(payload)})
    return post_signed(tc, body, "application/x-www-form-urlencoded")
