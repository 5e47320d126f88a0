"""The agent's spans with a model: turn → planner step → ``chat <model>`` (GenAI attributes,
token counts) and tool step → ``execute_tool``; no prompt, answer or tool-argument text unless
text capture is on."""

from __future__ import annotations

import datetime as dt

from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from mspilot.agent.graph import build_graph
from mspilot.agent.tracing import callbacks
from mspilot.agent.turn import new_turn
from support.agent_fakes import call, make_tools, script
from support.tracing import finished_spans

QUESTION = "Who led revenue in Q3?"


def _answer_with_usage(text: str) -> AIMessage:
    return AIMessage(
        content=text,
        usage_metadata={"input_tokens": 120, "output_tokens": 9, "total_tokens": 129},
        response_metadata={"model_name": "scripted-1"},
    )


def test_llm_turn_spans_follow_the_genai_conventions(
    span_exporter: InMemorySpanExporter,
) -> None:
    model = script(
        call("query_metrics", metric="revenue", period="Q3 2026"),
        _answer_with_usage("Contoso led Q3 2026 with $12,345.67."),
    )
    graph = build_graph(model, make_tools(), InMemorySaver(), today=dt.date(2026, 10, 31))
    config = {"configurable": {"thread_id": "t1"}, "callbacks": callbacks()}
    out = graph.invoke(new_turn(QUESTION), config)
    assert out["answer"].startswith("Contoso led Q3 2026")
    spans: list[ReadableSpan] = finished_spans(span_exporter)
    by_id = {s.context.span_id: s for s in spans}
    (turn,) = [s for s in spans if s.name == "agent.turn"]
    chats = [s for s in spans if (s.attributes or {}).get("gen_ai.operation.name") == "chat"]
    assert len(chats) == 2  # the planner asked twice: the tool call, then the answer
    for chat in chats:
        assert chat.parent is not None
        step = by_id[chat.parent.span_id]
        assert step.name == "agent.step planner"
        assert step.parent is not None and step.parent.span_id == turn.context.span_id
    last = max(chats, key=lambda s: s.start_time or 0)
    attributes = dict(last.attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] == 120
    assert attributes["gen_ai.usage.output_tokens"] == 9
    assert attributes["gen_ai.response.model"] == "scripted-1"
    (tool,) = [s for s in spans if s.name == "execute_tool query_metrics"]
    assert tool.parent is not None and by_id[tool.parent.span_id].name == "agent.step tools"
    for s in spans:
        values = [str(v) for v in (s.attributes or {}).values()]
        assert not any(QUESTION in v or "Contoso" in v or "Q3 2026" in v for v in values)
