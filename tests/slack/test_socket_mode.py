"""Socket Mode (no public URL): the app opens a WebSocket from ``apps.connections.open`` with
the app token, acknowledges each envelope and answers through the Web API."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from mspilot.api.app import create_app
from support.api_world import World, make_ctx
from support.fakes.slack_api import FakeSlack, SocketModeServer
from support.slack_app import TEAM, make_agent, slack_settings


def test_socket_mode_receives_acks_and_answers(world: World) -> None:
    with FakeSlack() as slack, SocketModeServer() as socket:
        slack.socket_url = socket.url
        settings = slack_settings(world, slack, socket_mode=True, app_token="xapp-test")
        settings.slack.signing_secret = None  # Socket Mode needs no signing secret
        app = create_app(
            settings, engine=world.engine, agent=make_agent(), context_factory=make_ctx, warm=False
        )
        with TestClient(app) as tc:
            assert socket.connected.wait(20)
            (opened,) = slack.of("apps.connections.open")
            assert opened.headers["Authorization"] == "Bearer xapp-test"
            assert tc.post("/slack/events", content=b"{}").status_code == 404  # HTTP route off
            socket.send(
                {
                    "envelope_id": "env-1",
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "payload": {
                        "token": "x",
                        "team_id": TEAM,
                        "api_app_id": "A111",
                        "type": "event_callback",
                        "event_id": "EvSocket1",
                        "event_time": int(time.time()),
                        "event": {
                            "type": "app_mention",
                            "user": "UOWNER",
                            "text": "<@UBOT> tickets by month",
                            "ts": "1700009999.000001",
                            "channel": "C111",
                        },
                    },
                }
            )
            slack.wait_for("chat.update", where=lambda c: "Source: tickets_by_month" in str(c.body))
            assert {"envelope_id": "env-1"} in socket.acks
