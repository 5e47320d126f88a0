"""OpenTelemetry spans for a chat turn: the turn, each graph step, each tool call, each LLM call.

One LangChain callback handler turns the callbacks LangGraph already emits into spans, so no
node, tool or model needs code of its own: ``agent.turn`` (the graph run) → ``agent.step
{node}`` → ``execute_tool {name}`` / ``chat {model}``. LLM spans follow the OpenTelemetry GenAI
conventions (operation, provider, request and response model, input/output token counts).
Prompt and completion text are never set here; tool arguments are set only with text capture
on (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``), since they carry the user's
words. Handed to the graph only when tracing is configured (``core.telemetry``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from mspilot.core import telemetry


class TracingCallbacks(BaseCallbackHandler):
    """Maps LangChain run ids to spans (thread-safe: one handler serves every turn)."""

    raise_error = False
    run_inline = True

    def __init__(self) -> None:
        self._spans: dict[UUID, Span] = {}
        self._lock = threading.Lock()
        self._capture = telemetry.capture_text()

    # ---- bookkeeping -----------------------------------------------------------------------

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        attributes: Mapping[str, Any],
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> None:
        with self._lock:
            parent = self._spans.get(parent_run_id) if parent_run_id else None
        context = trace.set_span_in_context(parent) if parent is not None else None
        span = telemetry.tracer().start_span(
            name, context=context, kind=kind, attributes=dict(attributes)
        )
        with self._lock:
            self._spans[run_id] = span

    def _end(self, run_id: UUID, error: BaseException | None = None) -> Span | None:
        with self._lock:
            span = self._spans.pop(run_id, None)
        if span is None:
            return None
        if error is not None:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
        return span

    def _chain_name(
        self, parent_run_id: UUID | None, metadata: Mapping[str, Any] | None, name: str | None
    ) -> str | None:
        node = (metadata or {}).get("langgraph_node")
        if parent_run_id is None:
            return "agent.turn"
        with self._lock:
            parent_known = parent_run_id in self._spans
        if node and name == node and parent_known:
            return f"agent.step {node}"
        return None  # internal runnables (routers, channel writes) get no span of their own

    # ---- chains: the turn and its steps ---------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: dict[str, Any] | Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        span_name = self._chain_name(parent_run_id, metadata, kwargs.get("name"))
        if span_name is None:
            # children of an unspanned runnable hang under its nearest spanned ancestor
            with self._lock:
                parent = self._spans.get(parent_run_id) if parent_run_id else None
                if parent is not None:
                    self._spans[run_id] = _Alias(parent)
            return
        node = (metadata or {}).get("langgraph_node")
        attributes = {"mspilot.agent.node": node} if node and parent_run_id else {}
        self._start(run_id, parent_run_id, span_name, attributes)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ---- tools ------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
        }
        if self._capture:
            attributes["gen_ai.tool.call.arguments"] = json.dumps(inputs or {}, default=str)[:4000]
        self._start(run_id, parent_run_id, f"execute_tool {name}", attributes)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ---- LLM calls --------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: Sequence[Sequence[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = invocation_params or {}
        meta = metadata or {}
        model = str(params.get("model") or params.get("model_name") or meta.get("ls_model_name"))
        provider = str(meta.get("ls_provider") or params.get("_type") or "unknown")
        attributes = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider,
            "gen_ai.request.model": model,
        }
        if params.get("temperature") is not None:
            attributes["gen_ai.request.temperature"] = params["temperature"]
        self._start(run_id, parent_run_id, f"chat {model}", attributes, SpanKind.CLIENT)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            span = self._spans.get(run_id)
        if span is not None:
            for name, value in _usage(response).items():
                span.set_attribute(name, value)
        self._end(run_id)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)


class _Alias(trace.NonRecordingSpan):
    """Stands for an unspanned runnable: its children attach to ``target``; ending it is a
    no-op (the target ends with its own run)."""

    def __init__(self, target: Span) -> None:
        super().__init__(target.get_span_context())
        self.target = target


def _usage(response: LLMResult) -> dict[str, Any]:
    """GenAI token counts and response model from the first generation's message metadata."""
    out: dict[str, Any] = {}
    for generations in response.generations:
        for gen in generations:
            message = getattr(gen, "message", None)
            usage = getattr(message, "usage_metadata", None) or {}
            if usage:
                out["gen_ai.usage.input_tokens"] = int(usage.get("input_tokens", 0))
                out["gen_ai.usage.output_tokens"] = int(usage.get("output_tokens", 0))
            meta = getattr(message, "response_metadata", None) or {}
            if meta.get("model_name"):
                out["gen_ai.response.model"] = str(meta["model_name"])
            if out:
                return out
    token_usage = (response.llm_output or {}).get("token_usage") or {}
    if token_usage:
        out["gen_ai.usage.input_tokens"] = int(token_usage.get("prompt_tokens", 0))
        out["gen_ai.usage.output_tokens"] = int(token_usage.get("completion_tokens", 0))
    return out


_handler: TracingCallbacks | None = None
_handler_lock = threading.Lock()


def callbacks() -> list[BaseCallbackHandler]:
    """The handlers a graph run gets: the tracing one when tracing is configured, else none."""
    global _handler
    if telemetry.provider() is None:
        return []
    with _handler_lock:
        if _handler is None:
            _handler = TracingCallbacks()
        return [_handler]
