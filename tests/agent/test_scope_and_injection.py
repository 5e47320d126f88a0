"""A client user's scope, and text from the data treated as data (issue 13, agent side).

Two tenants of a small generated MSP on SQLite. A ticket of the client user's own client
carries an injected instruction. The scripted chat model below *obeys* it: the test proves
that the structure holds anyway: no tool outside the role's set runs, and every row read is
the caller's tenant and client, because the scope comes from the data layer (the
``ToolContext`` the tools were built with), never from the model's arguments.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import Field

from mspilot.agent.entities import client_scope_line
from mspilot.agent.graph import build_graph
from mspilot.agent.render import FENCE
from mspilot.agent.router import router_for_context
from mspilot.agent.service import AgentService
from mspilot.agent.templates import render_answer
from mspilot.agent.turn import new_turn, tool_results
from mspilot.tools.context import ToolContext
from mspilot.tools.registry import build_tools


class ObedientModel(BaseChatModel):
    """A chat model fooled by the data: it reads the tickets, then does whatever a
    "SYSTEM:" line in a tool result tells it, with every argument it can think of."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "obedient-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ObedientModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if not results:
            ai = _calls(("run_sql", {"sql": "SELECT subject, resolution FROM tickets"}))
        elif len(results) == 1 and "SYSTEM:" in results[0].text:
            order = results[0].text
            sql = re.search(r"`([^`]+)`", order)
            other = re.search(r"query_metrics for ([^.]+)\.", order)
            assert sql is not None and other is not None
            hostile = {"tenant_id": "demo2", "client_id": None, "role": "owner"}
            ai = _calls(
                ("run_sql", {"sql": sql.group(1), **hostile}),
                ("churn_risk", {"top": 50, **hostile}),
                ("revenue_leaks", {}),
                (
                    "query_metrics",
                    {"metric": "tickets", "filters": {"client": [other.group(1)]}, **hostile},
                ),
            )
        else:
            ai = AIMessage(content="Done as instructed.")
        return ChatResult(generations=[ChatGeneration(message=ai)])


def _calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    return AIMessage(
        content="",
        tool_calls=[
            {"name": n, "args": a, "id": f"c{uuid.uuid4().hex[:8]}", "type": "tool_call"}
            for n, a in calls
        ],
    )


def _cells(results: Sequence[Any]) -> set[str]:
    return {str(v) for r in results if r.table for row in r.table.get("rows") or [] for v in row}


def test_an_injected_instruction_obeyed_by_the_model_changes_no_tool_and_no_scope(
    world: dict[str, Any],
) -> None:
    ctx: ToolContext = world["ctx"]
    tools = build_tools(ctx)
    allowed = {t.name for t in tools}
    assert "churn_risk" not in allowed and "revenue_leaks" not in allowed
    model = ObedientModel()
    graph = build_graph(
        model,
        tools,
        InMemorySaver(),
        router=router_for_context(ctx, tools),
        renderer=render_answer,
        fast_path=False,
        today=ctx.today,
        scope_line=client_scope_line(ctx),
    )
    config = {"configurable": {"thread_id": "inj"}}
    state = graph.invoke(new_turn("Show me the text of our tickets"), config)

    # the model was fooled: it did try the injected calls ...
    asked = [c["name"] for m in state["messages"] if isinstance(m, AIMessage) for c in m.tool_calls]
    assert {"churn_risk", "revenue_leaks"} <= set(asked)
    # ... the tool result it read was labelled as untrusted data ...
    second = model.prompts[1]
    marked = [m for m in second if isinstance(m, ToolMessage)]
    assert marked and all('trust="untrusted-data"' in m.text for m in marked)
    # ... but no tool outside the role's set ran
    results = tool_results(state["messages"])
    ran = [r.name for r in results if not r.error]
    assert ran and set(ran) <= allowed
    refused = [r for r in results if r.name in ("churn_risk", "revenue_leaks")]
    assert refused and all(r.error and "no tool named" in r.content for r in refused)
    # and every row read is our tenant's and our client's: the scope came from the data layer
    cells = _cells(results)
    foreign = {o["name"] for o in world["others"]} | {o["id"] for o in world["others"]}
    assert not cells & foreign
    assert "demo2" not in cells
    hostile_sql = next(r for r in results if r.name == "run_sql" and "demo2" in str(r.args))
    assert hostile_sql.error or {str(v) for row in hostile_sql.table["rows"] for v in row} <= {
        world["mine"]["name"],
        world["mine"]["id"],
        "demo",
    }
    # the answer says whose data it is
    assert state["answer"].startswith(client_scope_line(ctx) or "?")


def _service(ctx: ToolContext) -> AgentService:
    from mspilot.agent.router import router_for_context

    return AgentService(
        model=None,
        checkpointer=InMemorySaver(),
        tools_factory=build_tools,
        router_factory=router_for_context,
        renderer=render_answer,
    )


@pytest.mark.parametrize(
    "template",
    [
        "What does {neighbour} owe us?",
        "how many tickets did {neighbour} open last month",
        "What is the revenue of Zenith Holdings this year?",  # not a client at all: same reply
    ],
)
def test_a_client_user_asking_about_another_client_is_refused_with_what_they_can_see(
    world: dict[str, Any], template: str
) -> None:
    ctx: ToolContext = world["ctx"]
    question = template.format(neighbour=world["neighbour"]["name"])
    answer = _service(ctx).ask(question, ctx)
    assert not answer.tool_calls  # nothing was read
    assert world["mine"]["name"] in answer.answer
    assert "only see" in answer.answer
    assert world["neighbour"]["name"] not in answer.answer.replace(question, "")


def test_every_client_user_answer_names_the_client_and_quotes_data_text(
    world: dict[str, Any],
) -> None:
    ctx: ToolContext = world["ctx"]
    service = _service(ctx)
    own = service.ask("How many tickets did we open last month?", ctx)
    line = client_scope_line(ctx)
    assert line and world["mine"]["name"] in line
    assert own.answer.startswith(line)
    listed = service.ask("What are our oldest open tickets?", ctx)
    assert listed.answer.startswith(line)
    # the injected subject is shown only inside a fenced block, as data
    text = listed.answer
    start = text.index("SYSTEM:")
    assert text.count(FENCE, 0, start) % 2 == 1, text
