"""The openai-compatible provider end to end against a local fake /v1/chat/completions server:
real ChatOpenAI serialisation, streamed tool calls, tool results sent back, streamed tokens."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import SecretStr

from mspilot.agent.llm import make_chat_model, openai_model
from mspilot.agent.service import AgentEvent, AgentService
from mspilot.core.errors import ConfigurationError
from mspilot.core.settings import LLMSettings
from support.agent_fakes import make_tools
from support.fakes.openai_server import FakeOpenAI


@dataclass(frozen=True)
class Ctx:
    tenant_id: str = "t"
    today: dt.date = dt.date(2026, 10, 31)
    role: str = "owner"
    client_id: str | None = None
    engine: Any = None


SCRIPT = [
    {
        "tool_calls": [
            {
                "id": "call_q",
                "name": "query_metrics",
                "arguments": {"metric": "revenue", "period": "Q3 2026"},
            }
        ]
    },
    {"content": "Contoso brought in $12,345.67 in Q3 2026."},
]


def service_for(server: FakeOpenAI, calls: list[dict[str, Any]]) -> AgentService:
    settings = LLMSettings(
        provider="openai-compatible",
        model="fake-model",
        base_url=server.base_url,
        api_key=SecretStr("sk-test"),
    )
    model = make_chat_model(settings, Path("/nonexistent"))
    return AgentService(
        model=model, checkpointer=InMemorySaver(), tools_factory=lambda ctx: make_tools(calls)
    )


def test_streamed_tool_calls_round_trip_through_chat_completions() -> None:
    calls: list[dict[str, Any]] = []
    with FakeOpenAI(list(SCRIPT)) as server:
        events = list(service_for(server, calls).stream("Revenue in Q3?", Ctx(), "th-1"))
    assert calls == [{"tool": "query_metrics", "metric": "revenue", "period": "Q3 2026"}]
    first, second = server.requests
    assert first["stream"] is True and first["model"] == "fake-model"
    assert [t["function"]["name"] for t in first["tools"]] == ["query_metrics", "run_sql"]
    assert server.headers[0]["authorization"] == "Bearer sk-test"
    assistant = next(m for m in second["messages"] if m["role"] == "assistant")
    assert assistant["tool_calls"][0]["id"] == "call_q"
    tool_msg = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_msg["tool_call_id"] == "call_q" and "12345.67" in tool_msg["content"]
    kinds = [e.type for e in events]
    assert kinds.index("tool_start") < kinds.index("tool_end") < kinds.index("final")
    tokens = "".join(e.text for e in events if e.type == "token")
    assert tokens == "Contoso brought in $12,345.67 in Q3 2026."
    final = events[-1].answer
    assert final is not None and final.grounded and final.mode == "llm"
    assert final.tool_calls[0].name == "query_metrics" and final.artifacts[0].rows[0] == [
        "Contoso",
        12345.67,
    ]


def test_ungrounded_streamed_prose_is_replaced_in_the_final_event() -> None:
    script = [SCRIPT[0], {"content": "Contoso brought in $50,000 in Q3."}]
    with FakeOpenAI(script) as server:
        events = list(service_for(server, []).stream("Revenue in Q3?", Ctx(), "th-2"))
    final = events[-1]
    assert final.type == "final" and final.answer is not None
    assert final.answer.grounded is False
    assert "50,000" not in final.text and "$12,345.67" in final.text


def test_async_stream_and_thread_memory() -> None:
    script = [*SCRIPT, {"content": "You asked about revenue."}]
    with FakeOpenAI(script) as server:
        service = service_for(server, [])

        async def run() -> list[AgentEvent]:
            return [e async for e in service.astream("Revenue in Q3?", Ctx(), "th-3")]

        events = asyncio.run(run())
        assert events[-1].type == "final"
        answer = service.ask("What did I ask?", Ctx(), "th-3")
        third = server.requests[2]["messages"]
    assert answer.answer.startswith("You asked about revenue.")
    assert [m["content"] for m in third if m["role"] == "user"] == [
        "Revenue in Q3?",
        "What did I ask?",
    ]
    # another tenant using the same thread id starts fresh
    assert service.history(Ctx(tenant_id="other"), "th-3") == []
    assert len(service.history(Ctx(), "th-3")) == 4


def test_non_streaming_client_parses_tool_calls() -> None:
    with FakeOpenAI([SCRIPT[0]]) as server:
        settings = LLMSettings(provider="openai-compatible", base_url=server.base_url)
        model = openai_model(settings, compatible=True).model_copy(update={"streaming": False})
        ai = model.bind_tools(make_tools()).invoke("Revenue in Q3?")
        assert server.requests[0].get("stream") in (None, False)
    assert ai.tool_calls[0]["name"] == "query_metrics"
    assert ai.tool_calls[0]["args"] == {"metric": "revenue", "period": "Q3 2026"}


def test_provider_settings_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="BASE_URL"):
        make_chat_model(LLMSettings(provider="openai-compatible"), Path("."))
    with pytest.raises(ConfigurationError, match="API_KEY"):
        make_chat_model(LLMSettings(provider="openai"), Path("."))
    assert make_chat_model(LLMSettings(provider="none"), Path(".")) is None
