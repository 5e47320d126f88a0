"""The whole graph loop over the real models' tools on the trained demo MSP: a scripted chat
model calls churn_risk and writes a grounded answer; prose with an invented number falls back
to the templated answer; the router alone answers each model question from its tool."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from mspilot.agent.graph import build_graph
from mspilot.agent.templates import render_answer
from mspilot.agent.turn import new_turn
from mspilot.models import serving
from mspilot.tools.registry import build_tools
from support.agent_fakes import call, script


def _graph(demo: Any, *messages: AIMessage) -> Any:
    ctx, _ = demo
    model = script(*messages)
    return build_graph(
        model, build_tools(ctx), InMemorySaver(), renderer=render_answer, today=ctx.today
    )


def test_scripted_model_calls_churn_risk_and_answers_from_it(demo: Any) -> None:
    ctx, _ = demo
    risks = serving.churn_risks(ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir)
    top = risks[0]
    prose = (
        f"{top.client_name} is the most likely to leave: a {top.risk_90d * 100:.1f}% risk "
        "over the next 90 days."
    )
    graph = _graph(demo, call("churn_risk", top=3), AIMessage(content=prose))
    out = graph.invoke(new_turn("Who is likely to leave us?"), {"configurable": {"thread_id": "a"}})
    assert out["mode"] == "llm" and out["grounded"] is True
    assert out["answer"].startswith(prose)
    assert out["citations"][0]["tool"] == "churn_risk"
    assert out["citations"][0]["rows"] == len(risks)


def test_an_invented_risk_falls_back_to_the_templated_ranking(demo: Any) -> None:
    ctx, _ = demo
    risks = serving.churn_risks(ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir)
    graph = _graph(
        demo,
        call("churn_risk", top=3),
        AIMessage(content=f"{risks[0].client_name} has a 97.3% chance of leaving."),
    )
    out = graph.invoke(new_turn("Who might leave?"), {"configurable": {"thread_id": "b"}})
    assert out["grounded"] is False
    assert "97.3" not in out["answer"]
    assert out["answer"].startswith("Clients most likely to leave in the next 90 days")
    assert all(r.client_name in out["answer"] for r in risks[:3])


def test_router_answers_a_what_if_with_its_direction(demo: Any) -> None:
    from mspilot.agent.router import router_for_context
    from mspilot.agent.service import AgentService

    ctx, env = demo
    client = env.picks["client_b"]
    service = AgentService(
        model=None, checkpointer=InMemorySaver(), tools_factory=build_tools,
        router_factory=router_for_context, renderer=render_answer,
    )  # fmt: skip
    for change, verb in ((10.0, "raise"), (-10.0, "cut")):
        expected = serving.price_what_if(
            ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir, client, change
        )
        answer = service.ask(f"What if we {verb} {client}'s price by 10%?", ctx, f"w{verb}")
        assert [c.name for c in answer.tool_calls] == ["price_what_if"]
        up = expected.expected_profit_change > 0
        assert ("goes up" if up else "goes down") in answer.answer, answer.answer
        assert f"{expected.churn_90d_new * 100:.1f}%" in answer.answer
