"""OpenTelemetry: one chat request gives one trace whose tree is request → agent turn → steps →
tool call → SQL; nothing secret (the query string) or textual (SQL, the question) is exported."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mspilot.core import telemetry
from mspilot.db.engine import make_engine
from support.api_world import World, auth, make_app
from support.tracing import finished_spans

QUESTION = "how many tickets per month?"


@pytest.fixture
def spans(
    world: World, span_exporter: InMemorySpanExporter
) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    # engines made from now on are traced, as the server's (made in its lifespan) is
    engine = make_engine(world.url)
    try:
        with TestClient(make_app(dataclasses.replace(world, engine=engine))) as client:
            yield client, span_exporter
    finally:
        engine.dispose()


def _children(all_spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in all_spans if s.parent and s.parent.span_id == parent.context.span_id]


def test_one_chat_is_one_trace_with_the_expected_tree(
    spans: tuple[TestClient, InMemorySpanExporter], world: World
) -> None:
    client, exporter = spans
    resp = client.post(
        "/v1/chat?note=secret-token", json={"question": QUESTION}, headers=auth(world, "owner")
    )
    assert resp.status_code == 200 and "event: final" in resp.text
    finished = finished_spans(exporter)
    chat = [s for s in finished if s.name.startswith("POST /v1/chat")]
    (server,) = [s for s in chat if s.parent is None]
    trace_spans = [s for s in finished if s.context.trace_id == server.context.trace_id]
    (turn,) = [s for s in trace_spans if s.name == "agent.turn"]
    steps = {s.name for s in _children(trace_spans, turn)}
    assert {"agent.step route", "agent.step tools", "agent.step answer"} <= steps
    (tools_step,) = [s for s in trace_spans if s.name == "agent.step tools"]
    (tool,) = _children(trace_spans, tools_step)
    assert tool.name == "execute_tool tickets_by_month"
    assert tool.attributes and tool.attributes["gen_ai.tool.name"] == "tickets_by_month"
    # the turn hangs under the HTTP request, through the worker thread that runs the agent
    ancestors, node = [], turn
    by_id = {s.context.span_id: s for s in trace_spans}
    while node.parent is not None:
        node = by_id[node.parent.span_id]
        ancestors.append(node)
    assert server in ancestors
    # SQL spans exist (the request's auth and the tool read), without their text
    sql = [
        s
        for s in trace_spans
        if (s.attributes or {}).get("db.system") or (s.attributes or {}).get("db.system.name")
    ]
    assert sql
    for s in trace_spans:
        attributes = dict(s.attributes or {})
        assert not {"db.statement", "db.query.text", "url.query", "http.target"} & set(attributes)
        assert not any("secret-token" in str(v) or QUESTION in str(v) for v in attributes.values())


def test_tracing_off_exports_nothing_and_adds_no_callbacks(world: World) -> None:
    from mspilot.agent.tracing import callbacks

    telemetry.reset()
    assert callbacks() == []
    with TestClient(make_app(world)) as client:
        resp = client.post("/v1/chat", json={"question": QUESTION}, headers=auth(world, "owner"))
        assert resp.status_code == 200
    assert telemetry.provider() is None
