"""The CLI's router answer without the graph (``agent.quick``) says what the graph says."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from mspilot.agent.quick import quick_answer
from mspilot.agent.router import router_for_context
from mspilot.agent.service import AgentService
from mspilot.agent.templates import render_answer
from mspilot.tools.context import ToolContext
from mspilot.tools.registry import build_tools


@pytest.mark.parametrize(
    "question",
    [
        "How many tickets did we open last month?",
        "What are our oldest open tickets?",
        "What does {neighbour} owe us?",
        "average resolution time by priority this year",
    ],
)
def test_the_quick_answer_is_the_graphs_router_answer(world: dict[str, Any], question: str) -> None:
    ctx: ToolContext = world["ctx"]
    question = question.format(neighbour=world["neighbour"]["name"])
    service = AgentService(
        model=None,
        checkpointer=InMemorySaver(),
        tools_factory=build_tools,
        router_factory=router_for_context,
        renderer=render_answer,
    )
    graph = service.ask(question, ctx)
    quick = quick_answer(question, ctx)
    assert quick is not None
    assert quick.answer == graph.answer
    assert [c.name for c in quick.tool_calls] == [c.name for c in graph.tool_calls]
    assert [a.rows for a in quick.artifacts] == [a.rows for a in graph.artifacts]


def test_the_quick_path_imports_no_langchain_tracing_chat_models_or_eval_code() -> None:
    code = (
        "import sys; import mspilot.agent.quick; import mspilot.cli.ask;"
        "print(sorted(m for m in sys.modules if m.startswith(('langchain', 'langsmith',"
        " 'langgraph', 'mspilot.agent.golden', 'pandas'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
