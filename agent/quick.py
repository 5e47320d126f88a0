"""The router's answer without the graph: ``mspilot ask`` with no language model.

The same steps as the graph's router path (route → the planned tool calls → the templated,
cited answer), with plain :class:`~mspilot.tools.base.Tool` objects: no LangGraph, no
LangChain, no tracing, no chat-model machinery is imported, so a one-off question costs what
the router, the tool and the database cost. A question the router cannot plan returns
``None`` and the caller falls back to the full agent.
"""

from __future__ import annotations

import time
import uuid

from mspilot.agent.artifacts import to_table
from mspilot.agent.entities import client_scope_line
from mspilot.agent.plan import PlannedCall, Route
from mspilot.agent.render import finish_answer
from mspilot.agent.results import AgentAnswer, ToolResult, answer_from_results
from mspilot.agent.router import router_for_context
from mspilot.agent.templates import render_answer
from mspilot.tools.base import Tool, ToolError
from mspilot.tools.context import ToolContext
from mspilot.tools.registry import build_plain, tool_names


def _run(tool: Tool | None, call: PlannedCall) -> ToolResult:
    if tool is None:
        return ToolResult(call.name, call.args, f"no tool named {call.name!r}", None, True)
    try:
        content, artifact = tool.run(call.args)
    except ToolError as exc:
        return ToolResult(call.name, call.args, str(exc), None, True)
    return ToolResult(call.name, call.args, content, to_table(artifact), False)


def quick_answer(question: str, ctx: ToolContext) -> AgentAnswer | None:
    """The router's answer to ``question`` in ``ctx``'s scope, or ``None`` when it plans no
    call (the full agent then answers: a clarifying reply, the LLM, or "I could not...")."""
    started = time.perf_counter()
    router = router_for_context(ctx, tool_names(ctx.role))
    route: Route | None = router.route(question)
    if route is None or not (route.calls or route.reply):
        return None
    intent = {"intent": route.intent, "confidence": route.confidence, **route.slots}
    results: list[ToolResult] = []
    if route.reply:
        text = route.reply
    else:
        tools = {t.name: t for t in build_plain(ctx, include={c.name for c in route.calls})}
        results = [_run(tools.get(call.name), call) for call in route.calls]
        text = render_answer(question, intent, results)
    citations = [r.citation() for r in results]
    return answer_from_results(
        question,
        uuid.uuid4().hex[:12],
        results,
        answer=finish_answer(text, citations, client_scope_line(ctx)),
        citations=citations,
        mode="router",
        intent=intent,
        elapsed_s=time.perf_counter() - started,
    )
