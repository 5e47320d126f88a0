"""The golden-question eval on a small generated demo MSP, with no LLM (the router) and with
the scripted fake LLM (the language-model path of the graph). Both must score >= 90%."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from mspilot.agent.fake_llm import FakeLLMService
from mspilot.agent.golden.questions import GOLDEN, cases
from mspilot.agent.golden.runner import run_eval
from mspilot.agent.router import router_for_context
from mspilot.agent.service import AgentService
from mspilot.agent.templates import render_answer


def _tools() -> Any:
    from mspilot.tools.registry import build_tools

    return build_tools


def test_golden_set_is_large_and_covers_every_tool(demo: Any) -> None:
    from mspilot.tools.registry import TOOL_NAMES

    _, env = demo
    all_cases = cases(env)
    assert len(all_cases) >= 60 and len(GOLDEN) >= 45
    covered = {frag for g in GOLDEN for frag in g.tools}
    assert set(TOOL_NAMES) - {"list_tables", "describe_table"} <= covered | {"list_tables"}
    assert {
        "list_tables",
        "describe_table",
        "churn",
        "leak",
        "forecast",
        "pric",
        "price_what_if",
        "budget",
    } <= covered
    assert sum(len(g.questions) > 1 for g in GOLDEN) >= 25  # paraphrases


def test_eval_without_llm(demo: Any) -> None:
    ctx, env = demo
    build_tools = _tools()
    service = AgentService(
        model=None, checkpointer=InMemorySaver(), tools_factory=build_tools,
        router_factory=router_for_context, renderer=render_answer,
    )  # fmt: skip
    report = run_eval(
        service, ctx, env, provider="none", available_tools={t.name for t in build_tools(ctx)}
    )
    failed = [(r.id, r.detail, r.answer[:120]) for r in report.results if r.available and not r.ok]
    assert report.scored >= 60
    assert report.accuracy >= 0.9, failed
    assert report.tool_accuracy >= 0.9


def test_eval_with_scripted_fake_llm(demo: Any) -> None:
    ctx, env = demo
    build_tools = _tools()
    service = FakeLLMService(
        model=None, checkpointer=InMemorySaver(), tools_factory=build_tools,
        renderer=render_answer, fast_path=False,
    )  # fmt: skip
    report = run_eval(
        service, ctx, env, provider="fake", available_tools={t.name for t in build_tools(ctx)},
        only=lambda c: c.id.endswith("#0"),  # base phrasings: the paraphrases test the router
    )  # fmt: skip
    assert report.scored >= 40
    assert report.by_mode.get("llm", 0) == report.scored  # every answer went through the planner
    failed = [(r.id, r.detail) for r in report.results if r.available and not r.ok]
    assert report.accuracy >= 0.9, failed
