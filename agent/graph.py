"""The agent graph, top to bottom.

    START → route ─┬─ confident match ─────────────→ tools → answer → END
                   ├─ otherwise, with a model → planner ⇄ tools
                   │                                 └──→ answer → END
                   └─ no model, no match ───────────────→ answer → END

The router (deterministic, no LLM) is the fast path; the planner is any chat model with
``bind_tools``; the tool node enforces the tool-call budget, duplicate-call detection and
the wall-clock budget; the answer node keeps replies grounded in this turn's tool results.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph

from mspilot.agent.nodes import (
    ToolSelector,
    make_answer_node,
    make_planner_node,
    make_route_node,
    make_tools_node,
    route_after_planner,
    route_after_router,
    route_after_tools,
)
from mspilot.agent.plan import Renderer, Router
from mspilot.agent.state import AgentState, Budget
from mspilot.core.clock import Clock
from mspilot.prompts.agent import SYSTEM_PROMPT


def build_graph(
    model: BaseChatModel | None,
    tools: Sequence[BaseTool],
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    *,
    router: Router | None = None,
    renderer: Renderer | None = None,
    budget: Budget | None = None,
    system_prompt: str | None = None,
    today: dt.date | None = None,
    tool_selector: ToolSelector | None = None,
    fast_path: bool = True,
    scope_line: str | None = None,
) -> Any:
    """Compile the agent: ``model`` may be ``None`` (router only), ``router`` may be ``None``
    (LLM only). With ``fast_path`` off the router never answers itself when there is a model;
    it only hands its recognised names and periods to the model as hints. ``scope_line``
    heads every answer (a client user's "For Contoso ...:").
    Returns a compiled LangGraph graph (``invoke``/``stream`` with a thread id)."""
    budget = budget or Budget()
    graph = StateGraph(AgentState)

    # the node functions are typed AgentState -> partial update; LangGraph's overloads want
    # its own node protocols, hence the Any
    route: Any = make_route_node(
        router, has_model=model is not None, budget=budget, fast_path=fast_path
    )
    run_tools: Any = make_tools_node(tools, budget)
    answer: Any = make_answer_node(renderer, scope_line)
    graph.add_node("route", route)
    graph.add_node("tools", run_tools)
    graph.add_node("answer", answer)
    if model is not None:
        prompt = system_prompt or SYSTEM_PROMPT.format(today=(today or Clock().today()).isoformat())
        planner: Any = make_planner_node(model, tools, prompt, tool_selector)
        graph.add_node("planner", planner)

    graph.add_edge(START, "route")
    after_route = {"tools": "tools", "answer": "answer"}
    if model is not None:
        after_route["planner"] = "planner"
        graph.add_conditional_edges(
            "planner",
            partial(route_after_planner, budget=budget),
            {"tools": "tools", "answer": "answer"},
        )
        graph.add_conditional_edges(
            "tools",
            partial(route_after_tools, budget=budget),
            {"planner": "planner", "answer": "answer"},
        )
    else:
        graph.add_edge("tools", "answer")
    graph.add_conditional_edges("route", route_after_router, after_route)  # type: ignore[arg-type]
    graph.add_edge("answer", END)
    return graph.compile(checkpointer=checkpointer)
