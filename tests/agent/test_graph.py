"""The agent graph at four levels: routing functions, single nodes, the whole loop with a
scripted fake model, and partial paths (interrupt before a node, resume)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver

from mspilot.agent.graph import build_graph
from mspilot.agent.memory import sqlite_checkpointer
from mspilot.agent.nodes import (
    make_answer_node,
    make_route_node,
    make_tools_node,
    route_after_planner,
    route_after_router,
    route_after_tools,
)
from mspilot.agent.plan import PlannedCall, Route
from mspilot.agent.state import AgentState, Budget
from mspilot.agent.turn import new_turn
from support.agent_fakes import call, make_tools, script

TODAY = dt.date(2026, 10, 31)
CFG = {"configurable": {"thread_id": "t1"}}


def state(*messages: Any, **extra: Any) -> AgentState:
    base = new_turn("q")
    base["messages"] = [HumanMessage(content="q"), *messages]
    base.update(extra)  # type: ignore[typeddict-item]
    return base


# ---- level 1: routing functions -------------------------------------------------------------


def test_route_after_router_sends_router_calls_to_tools_and_others_by_mode() -> None:
    assert route_after_router(state(call("query_metrics", metric="x"), mode="router")) == "tools"
    assert route_after_router(state(mode="llm")) == "planner"
    assert route_after_router(state(mode="none")) == "answer"
    assert route_after_router(state(AIMessage(content="hi"), mode="router")) == "answer"


def test_route_after_planner_respects_calls_budget_and_clock() -> None:
    budget = Budget(max_tool_calls=2)
    with_call = call("query_metrics", metric="revenue")
    assert route_after_planner(state(with_call, mode="llm"), budget) == "tools"
    assert route_after_planner(state(AIMessage(content="done"), mode="llm"), budget) == "answer"
    spent = state(with_call, mode="llm", tool_calls_used=2)
    assert route_after_planner(spent, budget) == "answer"
    late = state(with_call, mode="llm", deadline=time.time() - 1)
    assert route_after_planner(late, budget) == "answer"
    stopped = state(with_call, mode="llm", stop_reason="duplicate_call")
    assert route_after_planner(stopped, budget) == "answer"


def test_route_after_tools_loops_only_for_the_llm_within_its_rounds() -> None:
    budget = Budget(max_planner_rounds=2)
    assert route_after_tools(state(mode="llm", planner_rounds=1), budget) == "planner"
    assert route_after_tools(state(mode="llm", planner_rounds=2), budget) == "answer"
    assert route_after_tools(state(mode="router"), budget) == "answer"
    assert route_after_tools(state(mode="llm", stop_reason="tool_budget"), budget) == "answer"


# ---- level 2: single nodes -----------------------------------------------------------------


def test_tools_node_turns_failures_into_messages() -> None:
    node = make_tools_node(make_tools(), Budget())
    ai = AIMessage(
        content="",
        tool_calls=[
            {"name": "run_sql", "args": {"sql": "select boom"}, "id": "a", "type": "tool_call"},
            {"name": "nope", "args": {}, "id": "b", "type": "tool_call"},
            {"name": "query_metrics", "args": {"period": 3}, "id": "c", "type": "tool_call"},
            {
                "name": "query_metrics",
                "args": {"metric": "tickets"},
                "id": "d",
                "type": "tool_call",
            },
        ],
    )
    out = node(state(ai))
    msgs: list[ToolMessage] = out["messages"]
    assert [m.tool_call_id for m in msgs] == ["a", "b", "c", "d"]
    assert [m.status for m in msgs] == ["error", "error", "error", "success"]
    assert "no such column: boom" in msgs[0].text
    assert "no tool named 'nope'" in msgs[1].text
    assert "metric" in msgs[2].text  # the validation error names the missing field
    assert msgs[3].artifact == {
        "columns": ["tickets"],
        "rows": [[42]],
        "meta": {"period": None, "row_count": 1},
    }
    assert out["tool_calls_used"] == 4


def test_tools_node_refuses_duplicates_and_calls_over_budget() -> None:
    calls: list[dict[str, Any]] = []
    node = make_tools_node(make_tools(calls), Budget(max_tool_calls=1))
    first = node(state(call("query_metrics", metric="revenue")))
    assert len(calls) == 1 and first["tool_calls_used"] == 1
    again = state(call("query_metrics", metric="revenue"), **first)
    again["messages"] = [HumanMessage(content="q"), call("query_metrics", metric="revenue")]
    dup = node(again)
    assert dup["stop_reason"] == "duplicate_call" and len(calls) == 1
    other = state(call("query_metrics", metric="tickets"), **first)
    other["messages"] = [HumanMessage(content="q"), call("query_metrics", metric="tickets")]
    over = node(other)
    assert over["stop_reason"] == "tool_budget" and len(calls) == 1
    assert over["messages"][0].status == "error"


def test_answer_node_keeps_grounded_prose_and_replaces_invented_numbers() -> None:
    node = make_answer_node()
    tool_msg = ToolMessage(
        content="revenue 12345.67",
        tool_call_id="call_1",
        name="query_metrics",
        artifact={"columns": ["revenue"], "rows": [[12345.67]], "meta": {"period": "Q3 2026"}},
    )
    good = AIMessage(content="Revenue was $12,345.67 (about $12.3k).", id="ai-1")
    out = node(state(call("query_metrics", metric="revenue"), tool_msg, good, mode="llm"))
    assert out["grounded"] is True
    assert out["answer"].startswith("Revenue was $12,345.67")
    assert out["messages"][0].id == "ai-1"  # replaces the planner's message in the thread
    assert "Source: query_metrics · Q3 2026 · 1 row" in out["answer"]

    bad = AIMessage(content="Revenue was $99,999.", id="ai-2")
    out = node(state(call("query_metrics", metric="revenue"), tool_msg, bad, mode="llm"))
    assert out["grounded"] is False
    assert "99,999" not in out["answer"] and "12,345.67" in out["answer"]


def test_route_node_takes_confident_routes_and_defers_to_the_model_otherwise() -> None:
    class StubRouter:
        def __init__(self, confident: bool) -> None:
            self.confident = confident

        def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route:
            return Route(
                intent="metric",
                confidence=0.9 if self.confident else 0.3,
                confident=self.confident,
                calls=[PlannedCall(name="query_metrics", args={"metric": "revenue"})],
                slots={"metric": "revenue"},
            )

    sure = make_route_node(StubRouter(True), has_model=True)(state())
    assert sure["mode"] == "router" and sure["messages"][0].tool_calls[0]["name"] == "query_metrics"
    unsure = make_route_node(StubRouter(False), has_model=True)(state())
    assert unsure["mode"] == "llm" and "messages" not in unsure
    # without a model the router's best guess is still used
    guess = make_route_node(StubRouter(False), has_model=False)(state())
    assert guess["mode"] == "router"


# ---- level 3: the whole loop ----------------------------------------------------------------


def test_whole_loop_with_a_scripted_model_calls_tools_and_answers() -> None:
    calls: list[dict[str, Any]] = []
    model = script(
        call("query_metrics", metric="revenue", period="Q3 2026"),
        AIMessage(content="Contoso led Q3 2026 with $12,345.67."),
    )
    graph = build_graph(model, make_tools(calls), InMemorySaver(), today=TODAY)
    out = graph.invoke(new_turn("Who led revenue in Q3?"), CFG)
    assert calls == [{"tool": "query_metrics", "metric": "revenue", "period": "Q3 2026"}]
    assert out["mode"] == "llm" and out["grounded"] is True
    assert out["answer"].startswith("Contoso led Q3 2026 with $12,345.67.")
    assert out["citations"][0]["tool"] == "query_metrics"
    # the model saw the system prompt with the product clock's date
    assert TODAY.isoformat() in model.prompts[0][0].text


def test_tool_error_goes_back_to_the_model_which_retries() -> None:
    calls: list[dict[str, Any]] = []
    model = script(
        call("run_sql", sql="select boom"),
        call("run_sql", _id="call_2", sql="select count(*) as n from tickets"),
        AIMessage(content="There are 7."),
    )
    graph = build_graph(model, make_tools(calls), InMemorySaver(), today=TODAY)
    out = graph.invoke(new_turn("How many?"), CFG)
    assert [c["sql"] for c in calls] == ["select boom", "select count(*) as n from tickets"]
    second_prompt = model.prompts[1]
    assert any(isinstance(m, ToolMessage) and "boom" in m.text for m in second_prompt)
    assert out["answer"].startswith("There are 7.")


def test_repeated_call_stops_the_loop_with_a_templated_answer() -> None:
    model = script(
        call("query_metrics", metric="tickets"),
        call("query_metrics", _id="call_2", metric="tickets"),
        AIMessage(content="never reached"),
    )
    graph = build_graph(model, make_tools(), InMemorySaver(), today=TODAY)
    out = graph.invoke(new_turn("How many tickets?"), CFG)
    assert out["stop_reason"] == "duplicate_call"
    assert "42" in out["answer"] and "never reached" not in out["answer"]


def test_json_in_content_tool_call_is_understood() -> None:
    calls: list[dict[str, Any]] = []
    model = script(
        AIMessage(
            content='```json\n{"name": "query_metrics", "arguments": {"metric": "tickets"}}\n```'
        ),
        AIMessage(content="42 tickets."),
    )
    out = build_graph(model, make_tools(calls), InMemorySaver(), today=TODAY).invoke(
        new_turn("How many tickets?"), CFG
    )
    assert calls[0]["metric"] == "tickets"
    assert out["answer"].startswith("42 tickets.")


def test_malformed_arguments_get_one_corrective_retry() -> None:
    calls: list[dict[str, Any]] = []
    model = script(
        call("query_metrics", period="Q3"),  # metric missing
        call("query_metrics", _id="call_2", metric="revenue", period="Q3"),
        AIMessage(content="Done: $12,345.67."),
    )
    out = build_graph(model, make_tools(calls), InMemorySaver(), today=TODAY).invoke(
        new_turn("Revenue in Q3?"), CFG
    )
    assert [c["metric"] for c in calls] == ["revenue"]
    assert "metric" in model.prompts[1][-1].text  # the retry prompt names the bad field
    assert out["grounded"] is True


def test_wall_clock_budget_ends_the_turn() -> None:
    model = script(call("query_metrics", metric="tickets"), AIMessage(content="x"))
    graph = build_graph(
        model, make_tools(), InMemorySaver(), budget=Budget(wall_clock_s=0.0), today=TODAY
    )
    out = graph.invoke(new_turn("How many tickets?"), CFG)
    assert out["stop_reason"] == "wall_clock"
    assert out["tool_calls_used"] == 0


def test_memory_keeps_the_thread_on_the_sqlite_checkpointer(tmp_path: Path) -> None:
    saver = sqlite_checkpointer(tmp_path / "memory.sqlite")
    model = script(
        AIMessage(content="Hello."),
        AIMessage(content="You said hello before."),
        AIMessage(content="Hi."),
    )
    graph = build_graph(model, make_tools(), saver, today=TODAY)
    graph.invoke(new_turn("hello"), CFG)
    # a new graph (another process, say) on the same file continues the thread
    saver2 = sqlite_checkpointer(tmp_path / "memory.sqlite")
    graph2 = build_graph(model, make_tools(), saver2, today=TODAY)
    out = graph2.invoke(new_turn("what did I say?"), CFG)
    texts = [m.text for m in out["messages"]]
    assert texts[0] == "hello" and "what did I say?" in texts
    second_prompt = [m.text for m in model.prompts[1]]
    assert "hello" in second_prompt and "Hello." in second_prompt
    other = graph2.invoke(new_turn("fresh"), {"configurable": {"thread_id": "t2"}})
    assert next(m.text for m in other["messages"]) == "fresh"


# ---- level 4: partial paths ------------------------------------------------------------------


def test_partial_path_interrupt_before_answer_then_resume() -> None:
    model = script(call("query_metrics", metric="revenue"), AIMessage(content="Total $2,000.00."))
    graph = build_graph(model, make_tools(), InMemorySaver(), today=TODAY)
    graph.invoke(new_turn("Revenue?"), CFG, interrupt_before=["answer"])
    snapshot = graph.get_state(CFG)
    assert snapshot.next == ("answer",)
    assert snapshot.values["tool_calls_used"] == 1
    assert snapshot.values.get("answer", "") == ""
    out = graph.invoke(None, CFG)
    assert out["answer"].startswith("Total $2,000.00.")


def test_partial_path_from_injected_tool_calls() -> None:
    """Start a turn as if the planner had already asked for a call: only tools → answer run."""
    calls: list[dict[str, Any]] = []
    graph = build_graph(None, make_tools(calls), InMemorySaver(), today=TODAY)
    turn = new_turn("revenue?")
    graph.update_state(CFG, turn, as_node="route")
    graph.update_state(
        CFG,
        {"mode": "router", "messages": [call("query_metrics", metric="revenue")]},
        as_node="route",
    )
    out = graph.invoke(None, CFG)
    assert calls and calls[0]["metric"] == "revenue"
    assert "Contoso" in out["answer"] and out["mode"] == "router"


def test_unconfident_route_hands_its_slots_to_the_model_as_hints() -> None:
    class Unsure:
        def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route:
            return Route(
                intent="metric", confidence=0.4, confident=False,
                calls=[PlannedCall(name="query_metrics", args={"metric": "tickets"})],
                slots={"metric": "tickets", "filters": {"client": ["Contoso"]},
                       "period": {"start": "2026-09-01", "end": "2026-10-01"}},
            )  # fmt: skip

    model = script(AIMessage(content="No numbers here."))
    graph = build_graph(model, make_tools(), InMemorySaver(), router=Unsure(), today=TODAY)
    out = graph.invoke(new_turn("tix for contoso in sept?"), CFG)
    system = model.prompts[0][0].text
    assert '"client": ["Contoso"]' in system and "2026-09" in system
    assert out["mode"] == "llm"


def test_metric_answer_without_its_value_falls_back_to_the_template() -> None:
    model = script(
        call("query_metrics", metric="revenue"), AIMessage(content="Revenue looks healthy.")
    )
    out = build_graph(model, make_tools(), InMemorySaver(), today=TODAY).invoke(
        new_turn("Revenue?"), CFG
    )
    assert out["grounded"] is False
    assert "$12,345.67" in out["answer"]


def test_model_that_plans_nothing_falls_back_to_the_routers_plan() -> None:
    class Unsure:
        def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route:
            return Route(
                intent="metric", confidence=0.4, confident=False,
                calls=[PlannedCall(name="query_metrics", args={"metric": "tickets"})],
                slots={"metric": "tickets"},
            )  # fmt: skip

    calls: list[dict[str, Any]] = []
    model = script(AIMessage(content=""))
    graph = build_graph(model, make_tools(calls), InMemorySaver(), router=Unsure(), today=TODAY)
    out = graph.invoke(new_turn("tix?"), CFG)
    assert calls == [{"tool": "query_metrics", "metric": "tickets", "period": None}]
    assert out["mode"] == "router" and "42" in out["answer"]
