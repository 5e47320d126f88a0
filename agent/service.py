"""The agent as a service: what the CLI, the API and Slack call.

``AgentService.ask(question, ctx, thread_id)`` → :class:`AgentAnswer`;
``stream(...)`` / ``astream(...)`` yield :class:`AgentEvent` (``token``, ``tool_start``,
``tool_end``, ``final``). The caller's tenant and client scope come from the
:class:`~mspilot.tools.context.ToolContext`; thread ids are namespaced by that scope, so one
tenant can never continue another tenant's conversation.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver

from mspilot.agent.entities import client_scope_line
from mspilot.agent.graph import build_graph
from mspilot.agent.nodes import ToolSelector
from mspilot.agent.plan import Renderer, Router
from mspilot.agent.results import AgentAnswer, AgentEvent, answer_from_results
from mspilot.agent.state import Budget
from mspilot.agent.turn import new_turn, tool_results
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.tools.context import ToolContext

log = get_logger(__name__)


ToolsFactory = Callable[[ToolContext], Sequence[BaseTool]]
RouterFactory = Callable[[ToolContext, Sequence[BaseTool]], Router | None]


def _scope_key(ctx: ToolContext) -> tuple[Any, ...]:
    return (ctx.tenant_id, ctx.role, ctx.client_id, ctx.today, id(ctx.engine))


def scoped_thread_id(ctx: ToolContext, thread_id: str) -> str:
    return f"{ctx.tenant_id}:{ctx.client_id or '*'}:{thread_id}"


class AgentService:
    """Wires a model (or none), the router, the tools and the checkpointer per caller scope."""

    def __init__(
        self,
        *,
        model: BaseChatModel | None,
        checkpointer: BaseCheckpointSaver[Any] | None,
        tools_factory: ToolsFactory,
        router_factory: RouterFactory | None = None,
        renderer: Renderer | None = None,
        budget: Budget | None = None,
        tool_selector: ToolSelector | None = None,
        fast_path: bool = True,
    ) -> None:
        self.model = model
        self.checkpointer = checkpointer
        self.tools_factory = tools_factory
        self.router_factory = router_factory
        self.renderer = renderer
        self.budget = budget or Budget()
        self.tool_selector = tool_selector
        self.fast_path = fast_path
        self._graphs: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        provider: str | None = None,
        fast_path: bool = True,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> AgentService:
        """The product wiring: provider from settings (or ``provider``), the intent router,
        the real tools and the SQLite/PostgreSQL checkpointer."""
        from mspilot.agent.llm import make_chat_model
        from mspilot.agent.memory import make_checkpointer
        from mspilot.agent.router import router_for_context
        from mspilot.agent.templates import render_answer
        from mspilot.tools.registry import build_tools

        llm_settings = settings.llm
        if provider is not None:
            llm_settings = llm_settings.model_copy(update={"provider": provider})
        settings.ensure_data_dir()
        model = make_chat_model(llm_settings, settings.data_dir)
        selector: ToolSelector | None = None
        budget = Budget()
        if llm_settings.provider == "local":
            from mspilot.agent.tool_retrieval import ToolRetriever

            selector = ToolRetriever(k=2)
            budget = Budget(max_tool_calls=3, max_planner_rounds=3, wall_clock_s=120.0)
        if checkpointer is None:
            checkpointer = make_checkpointer(settings.resolved_database_url, settings.data_dir)
        return cls(
            model=model,
            checkpointer=checkpointer,
            tools_factory=build_tools,
            router_factory=router_for_context,
            renderer=render_answer,
            budget=budget,
            tool_selector=selector,
            fast_path=fast_path,
        )

    # ---- wiring ------------------------------------------------------------------------------

    def graph_for(self, ctx: ToolContext) -> Any:
        key = _scope_key(ctx)
        with self._lock:
            graph = self._graphs.get(key)
            if graph is None:
                router = None
                tools = list(self.tools_factory(ctx))
                if self.router_factory is not None:
                    router = self.router_factory(ctx, tools)
                graph = build_graph(
                    self.model,
                    tools,
                    self.checkpointer,
                    router=router,
                    renderer=self.renderer,
                    budget=self.budget,
                    today=ctx.today,
                    tool_selector=self.tool_selector,
                    fast_path=self.fast_path,
                    scope_line=client_scope_line(ctx),
                )
                self._graphs[key] = graph
            return graph

    def _config(self, ctx: ToolContext, thread_id: str) -> dict[str, Any]:
        from mspilot.agent.tracing import callbacks

        return {
            "configurable": {"thread_id": scoped_thread_id(ctx, thread_id)},
            "recursion_limit": 4 * self.budget.max_planner_rounds + 10,
            "callbacks": callbacks(),  # spans for the turn, its steps, tools and LLM calls
        }

    # ---- asking ------------------------------------------------------------------------------

    def ask(self, question: str, ctx: ToolContext, thread_id: str | None = None) -> AgentAnswer:
        thread_id = thread_id or uuid.uuid4().hex
        started = time.perf_counter()
        state = self.graph_for(ctx).invoke(
            new_turn(question, self.budget), self._config(ctx, thread_id), durability="exit"
        )
        return _answer_from_state(question, thread_id, state, time.perf_counter() - started)

    def stream(
        self, question: str, ctx: ToolContext, thread_id: str | None = None
    ) -> Iterator[AgentEvent]:
        """Events as the turn runs: LLM tokens, each tool call starting and ending, the final
        answer (whose text is authoritative: it replaces streamed tokens that failed grounding)."""
        thread_id = thread_id or uuid.uuid4().hex
        started = time.perf_counter()
        graph = self.graph_for(ctx)
        config = self._config(ctx, thread_id)
        streamed = False
        for mode, payload in graph.stream(
            new_turn(question, self.budget),
            config,
            stream_mode=["messages", "updates"],
            durability="exit",  # one checkpoint write per turn
        ):
            if mode == "messages":
                chunk, meta = payload
                if (
                    meta.get("langgraph_node") == "planner"
                    and isinstance(chunk, AIMessageChunk)
                    and chunk.text
                    and not chunk.tool_call_chunks
                ):
                    streamed = True
                    yield AgentEvent(type="token", text=chunk.text)
                continue
            for node, update in (payload or {}).items():
                yield from _node_events(node, update or {})
        state = graph.get_state(config).values
        answer = _answer_from_state(question, thread_id, state, time.perf_counter() - started)
        if not streamed:
            yield AgentEvent(type="token", text=answer.answer)
        yield AgentEvent(type="final", text=answer.answer, answer=answer)

    async def aask(
        self, question: str, ctx: ToolContext, thread_id: str | None = None
    ) -> AgentAnswer:
        return await asyncio.to_thread(self.ask, question, ctx, thread_id)

    async def astream(
        self, question: str, ctx: ToolContext, thread_id: str | None = None
    ) -> AsyncIterator[AgentEvent]:
        """``stream`` run in a worker thread, its events handed to the event loop."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[AgentEvent | BaseException | None] = asyncio.Queue()

        def pump() -> None:
            try:
                for event in self.stream(question, ctx, thread_id):
                    loop.call_soon_threadsafe(queue.put_nowait, event)
            except BaseException as exc:  # handed to the consumer, raised there
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        # the copied context carries the request's trace span into the worker thread
        worker = threading.Thread(
            target=contextvars.copy_context().run, args=(pump,), name="agent-stream", daemon=True
        )
        worker.start()
        while (item := await queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def history(self, ctx: ToolContext, thread_id: str) -> list[dict[str, str]]:
        """The thread's questions and answers, oldest first."""
        state = self.graph_for(ctx).get_state(self._config(ctx, thread_id)).values
        out = []
        for msg in state.get("messages", []):
            if msg.type == "human":
                out.append({"role": "user", "content": msg.text})
            elif isinstance(msg, AIMessage) and not msg.tool_calls and msg.text:
                out.append({"role": "assistant", "content": msg.text})
        return out


def _node_events(node: str, update: dict[str, Any]) -> Iterator[AgentEvent]:
    for msg in update.get("messages", []) or []:
        if isinstance(msg, AIMessage) and msg.tool_calls and node in ("route", "planner"):
            for call in msg.tool_calls:
                yield AgentEvent(type="tool_start", tool=call["name"], args=dict(call["args"]))
        elif isinstance(msg, ToolMessage):
            table = msg.artifact if isinstance(msg.artifact, dict) else None
            rows = len((table or {}).get("rows") or [])
            yield AgentEvent(
                type="tool_end",
                tool=msg.name,
                ok=msg.status != "error",
                rows=rows,
                text=msg.text[:300],
            )


def _answer_from_state(
    question: str, thread_id: str, state: dict[str, Any], elapsed_s: float
) -> AgentAnswer:
    return answer_from_results(
        question,
        thread_id,
        tool_results(state.get("messages", [])),
        answer=state.get("answer", ""),
        citations=state.get("citations", []),
        mode=state.get("mode", "none"),
        grounded=state.get("grounded", True),
        intent=state.get("intent"),
        stop_reason=state.get("stop_reason"),
        elapsed_s=elapsed_s,
    )
