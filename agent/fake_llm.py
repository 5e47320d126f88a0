"""A scripted stand-in LLM for CI: it plans with the deterministic router and writes its prose
from the tool results, but goes through the language-model path of the graph (planner ⇄ tools,
JSON tool calls, the grounding check). ``mspilot eval --provider fake`` uses it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from pydantic import ConfigDict

from mspilot.agent.graph import build_graph
from mspilot.agent.plan import Router
from mspilot.agent.service import AgentService, _scope_key
from mspilot.agent.templates import render_answer
from mspilot.agent.turn import tool_results
from mspilot.core.settings import Settings
from mspilot.tools.context import ToolContext


class RouterPlannedChatModel(BaseChatModel):
    """Chat model whose 'thinking' is the intent router: tool calls first, then prose."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    router: Any

    @property
    def _llm_type(self) -> str:
        return "mspilot-router-planned-fake"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> RouterPlannedChatModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kw: Any,
    ) -> ChatResult:
        last_human = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
        question = messages[last_human].text
        turn = messages[last_human:]
        route = self.router.route(question, None)
        if not any(isinstance(m, ToolMessage) for m in turn):
            if route is None or not route.calls:
                ai = AIMessage(content="I could not find a tool for that question.")
            else:
                calls: list[ToolCall] = [
                    {"name": c.name, "args": c.args, "id": f"fake_{i}", "type": "tool_call"}
                    for i, c in enumerate(route.calls)
                ]
                ai = AIMessage(content="", tool_calls=calls)
        else:
            intent = {"intent": route.intent, **route.slots} if route else None
            ai = AIMessage(
                content=render_answer(
                    question, intent, tool_results(cast(list[AnyMessage], list(turn)))
                )
            )
        return ChatResult(generations=[ChatGeneration(message=ai)])


class FakeLLMService(AgentService):
    """The product's service with the scripted LLM (its planner router is per caller scope)."""

    def graph_for(self, ctx: ToolContext) -> Any:
        from mspilot.agent.router import router_for_context

        key = _scope_key(ctx)
        with self._lock:
            graph = self._graphs.get(key)
            if graph is None:
                tools: list[BaseTool] = list(self.tools_factory(ctx))
                router: Router = router_for_context(ctx, tools)
                graph = build_graph(
                    RouterPlannedChatModel(router=router),
                    tools,
                    self.checkpointer,
                    router=router if self.fast_path else None,
                    renderer=self.renderer,
                    budget=self.budget,
                    today=ctx.today,
                )
                self._graphs[key] = graph
            return graph


def fake_service(settings: Settings, *, fast_path: bool = False) -> AgentService:
    from mspilot.agent.memory import make_checkpointer
    from mspilot.tools.registry import build_tools

    settings.ensure_data_dir()
    return FakeLLMService(
        model=None,
        checkpointer=make_checkpointer(settings.resolved_database_url, settings.data_dir),
        tools_factory=build_tools,
        renderer=render_answer,
        fast_path=fast_path,
    )
