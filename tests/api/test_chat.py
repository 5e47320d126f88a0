"""Chat: SSE events in order, WebSocket turns and insight push, threads kept and forgotten,
the agent's tools scoped by the authenticated user (never by the request)."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from support.api_world import World, auth, token


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if not ln.startswith(":")]
        if not lines:
            continue
        event = next(ln[7:] for ln in lines if ln.startswith("event: "))
        data = json.loads("\n".join(ln[6:] for ln in lines if ln.startswith("data: ")))
        out.append((event, data))
    return out


def ask(client: TestClient, headers: dict[str, str], question: str, thread: str | None = None):
    body: dict[str, Any] = {"question": question}
    if thread:
        body["thread_id"] = thread
    resp = client.post("/v1/chat", json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    return sse_events(resp.text)


def test_sse_streams_start_tool_steps_tokens_and_final_with_artifacts(
    client: TestClient, world: World
) -> None:
    events = ask(client, auth(world, "owner"), "how many tickets per month?")
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "final"
    assert kinds.index("tool_start") < kinds.index("tool_end") < kinds.index("final")
    assert "token" in kinds
    final = events[-1][1]["answer"]
    assert final["thread_id"] == events[0][1]["thread_id"]
    (artifact,) = final["artifacts"]
    assert artifact["columns"] == ["month", "tickets"] and len(artifact["rows"]) == 6
    assert final["tool_calls"][0]["name"] == "tickets_by_month"


def test_client_user_answers_cover_only_their_client(client: TestClient, world: World) -> None:
    mine = ask(client, auth(world, "client_user"), "tickets per month")[-1][1]["answer"]
    theirs = ask(client, auth(world, "client_user_b"), "tickets per month")[-1][1]["answer"]
    owner = ask(client, auth(world, "owner"), "tickets per month")[-1][1]["answer"]

    def total(ans: dict[str, Any]) -> int:
        return sum(r[1] for r in ans["artifacts"][0]["rows"])

    assert total(mine) < total(owner) and total(theirs) < total(owner)
    assert mine["artifacts"][0]["rows"] != theirs["artifacts"][0]["rows"]


def test_roles_bind_the_agents_tools(client: TestClient, world: World) -> None:
    owner = ask(client, auth(world, "owner"), "revenue by client")[-1][1]["answer"]
    assert owner["artifacts"] and owner["artifacts"][0]["columns"] == ["client", "revenue"]
    for who in ("technician", "client_user"):
        events = ask(client, auth(world, who), "revenue by client")
        ends = [d for e, d in events if e == "tool_end"]
        assert ends and ends[0]["ok"] is False
        assert events[-1][1]["answer"]["artifacts"] == []


def test_body_cannot_widen_the_scope(client: TestClient, world: World) -> None:
    """Extra fields naming a tenant, role or client are ignored: scope comes from the token."""
    resp = client.post(
        "/v1/chat",
        json={
            "question": "revenue by client",
            "role": "owner",
            "tenant_id": world.other_tenant,
            "client_id": world.clients[1],
        },
        headers=auth(world, "technician"),
    )
    final = sse_events(resp.text)[-1][1]["answer"]
    assert final["artifacts"] == []


def test_thread_is_kept_and_private_and_deletable(client: TestClient, world: World) -> None:
    first = ask(client, auth(world, "finance"), "tickets per month")
    thread = first[0][1]["thread_id"]
    ask(client, auth(world, "finance"), "and revenue by client?", thread)
    got = client.get(f"/v1/threads/{thread}", headers=auth(world, "finance"))
    assert got.status_code == 200
    roles = [m["role"] for m in got.json()["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    # another user of the same tenant cannot read it
    assert client.get(f"/v1/threads/{thread}", headers=auth(world, "owner")).status_code == 404
    gone = client.delete(f"/v1/threads/{thread}", headers=auth(world, "finance"))
    assert gone.status_code == 204
    assert client.get(f"/v1/threads/{thread}", headers=auth(world, "finance")).status_code == 404


def test_invalid_chat_requests_are_422(client: TestClient, world: World) -> None:
    for body in ({}, {"question": ""}, {"question": "x", "thread_id": "../etc"}):
        resp = client.post("/v1/chat", json=body, headers=auth(world, "owner"))
        assert resp.status_code == 422
        assert resp.json()["code"] == "invalid_request"


def test_websocket_turn_and_insight_push(client: TestClient, world: World) -> None:
    with client.websocket_connect("/v1/chat/ws") as ws:
        ws.send_json({"type": "auth", "token": token(world, "owner")})
        assert ws.receive_json()["type"] == "ready"
        ws.send_json({"type": "ask", "question": "tickets per month"})
        events = []
        while True:
            msg = ws.receive_json()
            events.append(msg)
            if msg["type"] in ("final", "error"):
                break
        assert events[0]["type"] == "start"
        assert events[-1]["type"] == "final" and events[-1]["answer"]["artifacts"]
        published = client.post(
            "/v1/insights",
            json={"kind": "churn_risk", "title": "Risk rose", "audience": ["owner"]},
            headers=auth(world, "owner"),
        )
        assert published.status_code == 201 and published.json()["delivered"] >= 1
        pushed = ws.receive_json()
        assert pushed["type"] == "insight" and pushed["insight"]["title"] == "Risk rose"
        ws.send_json({"type": "ping"})
        assert ws.receive_json()["type"] == "pong"


def test_websocket_rejects_a_bad_token_with_a_clear_message(
    client: TestClient, world: World
) -> None:
    with client.websocket_connect("/v1/chat/ws?token=nonsense") as ws:
        msg = ws.receive_json()
        assert msg["type"] == "error" and msg["code"] == "invalid_token"


def test_insights_reach_only_their_audience(client: TestClient, world: World) -> None:
    client.post(
        "/v1/insights",
        json={
            "kind": "sla",
            "title": "Client A breached SLA",
            "audience": ["owner", "client_user"],
            "client_id": world.clients[0],
        },
        headers=auth(world, "owner"),
    )
    a = client.get("/v1/insights", headers=auth(world, "client_user")).json()
    b = client.get("/v1/insights", headers=auth(world, "client_user_b")).json()
    tech = client.get("/v1/insights", headers=auth(world, "technician")).json()
    assert "Client A breached SLA" in [i["title"] for i in a["items"]]
    assert "Client A breached SLA" not in [i["title"] for i in b["items"]]
    assert "Client A breached SLA" not in [i["title"] for i in tech["items"]]
    bad = client.post(
        "/v1/insights", json={"kind": "x", "title": "y"}, headers=auth(world, "technician")
    )
    assert bad.status_code == 403
