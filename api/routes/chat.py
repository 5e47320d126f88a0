"""Chat with the analyst: Server-Sent Events, a WebSocket, and threads.

A turn runs the agent's synchronous ``stream`` on a bounded worker pool (so a thousand open
streams queue for a few workers instead of starting a thousand threads); its events are handed
to the event loop and written as they come. The tools' scope (tenant, role, client) is built
from the authenticated user only; thread ids are namespaced by user, then by the agent by
tenant and client, so nobody continues or reads another person's conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from mspilot.api.deps import (
    AuditDep,
    ChatUser,
    Principal,
    StateDep,
    ThreadUser,
    authenticate,
    enforce_rate_limits,
    tool_context,
)
from mspilot.api.errors import ApiError, not_found
from mspilot.api.state import AppState
from mspilot.core.errors import MspilotError
from mspilot.core.logging import get_logger
from mspilot.db.audit import AuditRecord

log = get_logger(__name__)
router = APIRouter(tags=["chat"])

THREAD_ID = r"^[A-Za-z0-9_-]{1,64}$"
KEEPALIVE_S = 15.0
_DONE = object()


class ChatRequest(BaseModel):
    question: str = Field(
        min_length=1, max_length=2000, examples=["who is likely to leave us this quarter?"]
    )
    thread_id: str | None = Field(
        default=None,
        pattern=THREAD_ID,
        description="Continue this thread (default: a new one)",
    )


class ThreadMessage(BaseModel):
    role: str
    content: str


class ThreadOut(BaseModel):
    thread_id: str
    messages: list[ThreadMessage]


def agent_thread(user: Principal, thread_id: str) -> str:
    return f"{user.user_id}.{thread_id}"


def _require_agent(state: AppState) -> Any:
    if state.agent is None:
        raise ApiError(
            503,
            "agent_unavailable",
            f"the analyst is not available: {state.agent_error or 'still starting'}",
        )
    return state.agent


def _event_dict(event: Any) -> dict[str, Any]:
    data: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
    return data


async def run_turn(
    state: AppState, user: Principal, question: str, thread_id: str, request_id: str | None
) -> AsyncIterator[dict[str, Any]]:
    """The events of one turn, as JSON-able dicts; ends with ``final`` or ``error``."""
    agent = _require_agent(state)
    ctx = tool_context(state, user)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()
    metrics = state.metrics
    metrics.queued_turns.inc()

    def post(item: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is listening
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def work() -> None:
        metrics.queued_turns.dec()
        try:
            if stop.is_set():
                return
            for event in agent.stream(question, ctx, agent_thread(user, thread_id)):
                post(event)
                if stop.is_set():
                    break
        except BaseException as exc:
            post(exc)
        finally:
            post(_DONE)

    started = time.perf_counter()
    # the copied context carries the request's trace span into the agent thread
    loop.run_in_executor(state.agent_pool, contextvars.copy_context().run, work)
    tokens = 0
    final: Any = None
    try:
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                metrics.agent_turns.labels("none", "error").inc()
                if isinstance(item, MspilotError):
                    yield {"type": "error", "code": "bad_request", "text": str(item)}
                else:
                    log.error("agent turn failed", error=repr(item))
                    yield {
                        "type": "error",
                        "code": "internal_error",
                        "text": "the analyst hit an internal error; quote the request id",
                        "request_id": request_id,
                    }
                continue
            if item.type == "token":
                tokens += 1
            if item.type == "final" and item.answer is not None:
                item = item.model_copy(
                    update={"answer": item.answer.model_copy(update={"thread_id": thread_id})}
                )
                final = item.answer
            yield _event_dict(item)
    finally:
        stop.set()
    if final is not None:
        elapsed = time.perf_counter() - started
        metrics.agent_turns.labels(final.mode, "ok").inc()
        metrics.agent_turn_latency.observe(elapsed)
        if final.mode == "llm":
            metrics.llm_latency.observe(elapsed)
            metrics.llm_tokens.inc(tokens)
        for call in final.tool_calls:
            metrics.tool_calls.labels(call.name, str(call.ok).lower()).inc()
            if not call.ok:
                metrics.tool_errors.labels(call.name).inc()
        fields = sorted({c for a in final.artifacts for c in a.columns})
        state.audit.submit(
            AuditRecord(
                tenant_id=user.tenant_id,
                user_id=user.user_id,
                role=user.role,
                client_id=user.client_id,
                request_id=request_id,
                action="chat",
                resource=f"thread {thread_id}",
                question=question,
                tools=[
                    {
                        "name": c.name,
                        "args": c.args,
                        "ok": c.ok,
                        "rows": c.rows,
                        "scope": {"role": user.role, "client_id": user.client_id},
                    }
                    for c in final.tool_calls
                ],
                rows_out=sum(len(a.rows) for a in final.artifacts),
                fields_out=fields,
                status=200,
            )
        )


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


async def _with_keepalive(
    events: AsyncIterator[dict[str, Any]],
) -> AsyncIterator[dict[str, Any] | None]:
    """``events``, with ``None`` whenever nothing came for ``KEEPALIVE_S`` seconds."""
    iterator = events.__aiter__()
    pending: asyncio.Task[dict[str, Any]] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE_S)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


@router.post(
    "/v1/chat",
    summary="Ask a question; the answer streams as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {
                "text/event-stream": {
                    "example": 'event: start\ndata: {"thread_id": "a1b2"}\n\n'
                    'event: tool_start\ndata: {"type": "tool_start", "tool": "churn_risk"}\n\n'
                    'event: token\ndata: {"type": "token", "text": "Three clients..."}\n\n'
                    'event: final\ndata: {"type": "final", "answer": {"answer": "..."}}\n\n'
                }
            },
            "description": "Events: start, token, tool_start, tool_end, final, error",
        },
        429: {"description": "Rate limited (Retry-After says when to retry)"},
        503: {"description": "The agent is not available"},
    },
)
async def chat(state: StateDep, user: ChatUser, body: ChatRequest, audit: AuditDep) -> Any:
    _require_agent(state)
    thread_id = body.thread_id or uuid.uuid4().hex
    request_id = audit.request.scope.get("state", {}).get("request_id")

    async def stream() -> AsyncIterator[bytes]:
        state.metrics.open_streams.inc()
        try:
            yield _sse("start", {"type": "start", "thread_id": thread_id, "request_id": request_id})
            turn = run_turn(state, user, body.question, thread_id, request_id)
            async for item in _with_keepalive(turn):
                if item is None:
                    yield b": keep-alive\n\n"
                else:
                    yield _sse(str(item["type"]), item)
        finally:
            state.metrics.open_streams.dec()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


ThreadId = Annotated[str, Path(pattern=THREAD_ID)]
_NO_THREAD: dict[int | str, dict[str, Any]] = {404: {"description": "No such thread for you"}}


async def _thread(
    state: AppState, user: Principal, thread_id: str
) -> tuple[Any, Any, str, list[dict[str, str]]]:
    """(agent, tool context, agent-side thread id, messages); 404 for an unknown thread."""
    agent = _require_agent(state)
    ctx = tool_context(state, user)
    scoped = agent_thread(user, thread_id)
    messages: list[dict[str, str]] = await asyncio.to_thread(agent.history, ctx, scoped)
    if not messages:
        raise not_found(f"no thread {thread_id!r} for you")
    return agent, ctx, scoped, messages


@router.get(
    "/v1/threads/{thread_id}",
    response_model=ThreadOut,
    summary="A thread's questions and answers, oldest first",
    responses=_NO_THREAD,
)
async def get_thread(
    state: StateDep, user: ThreadUser, audit: AuditDep, thread_id: ThreadId
) -> ThreadOut:
    _agent, _ctx, _scoped, messages = await _thread(state, user, thread_id)
    audit.data(user, rows=len(messages), fields=["role", "content"], action="thread")
    return ThreadOut(thread_id=thread_id, messages=[ThreadMessage(**m) for m in messages])


@router.delete(
    "/v1/threads/{thread_id}", status_code=204, summary="Forget a thread", responses=_NO_THREAD
)
async def delete_thread(
    state: StateDep, user: ThreadUser, audit: AuditDep, thread_id: ThreadId
) -> None:
    from mspilot.agent.service import scoped_thread_id

    agent, ctx, scoped, _messages = await _thread(state, user, thread_id)
    await asyncio.to_thread(agent.checkpointer.delete_thread, scoped_thread_id(ctx, scoped))
    audit.data(user, rows=0, action="thread_delete")


# ---- WebSocket -------------------------------------------------------------------------------


class WsAsk(BaseModel):
    type: str = "ask"
    question: str = Field(min_length=1, max_length=2000)
    thread_id: str | None = Field(default=None, pattern=THREAD_ID)


async def _ws_principal(ws: WebSocket, state: AppState, token: str | None) -> Principal | None:
    """Credentials from a header, the ``token`` query parameter, or a first ``auth`` message."""
    credential = ws.headers.get("x-api-key") or token
    header = ws.headers.get("authorization", "")
    if not credential and header.lower().startswith("bearer "):
        credential = header[7:].strip()
    if not credential:
        try:
            first = json.loads(await asyncio.wait_for(ws.receive_text(), 10))
            credential = str(first.get("token") or "") if first.get("type") == "auth" else ""
        except (TimeoutError, ValueError, AttributeError):
            credential = ""
    try:
        return authenticate(state, credential or None, ws.headers.get("x-mspilot-tenant"))
    except ApiError as exc:
        await ws.send_json({"type": "error", "code": exc.code, "text": exc.detail})
        await ws.close(code=4401 if exc.status_code == 401 else 4403)
        return None


@router.websocket("/v1/chat/ws")
async def chat_ws(ws: WebSocket, token: Annotated[str | None, Query()] = None) -> None:
    """Send ``{"type": "auth", "token": ...}`` (unless a header or ``?token=`` authenticated),
    then ``{"type": "ask", "question": ..., "thread_id": ...}``; receive the same events as the
    SSE stream, plus ``{"type": "insight", ...}`` whenever a new insight is published."""
    state: AppState = ws.app.state.mspilot
    await ws.accept()
    user = await _ws_principal(ws, state, token)
    if user is None:
        return
    ws.scope.setdefault("state", {}).update(user_id=user.user_id, tenant_id=user.tenant_id)
    lock = asyncio.Lock()

    async def send(payload: dict[str, Any]) -> None:
        async with lock:
            await ws.send_text(json.dumps(payload, default=str))

    async def push_insights() -> None:
        async with state.hub.subscribe(user.tenant_id, user.role, user.client_id) as inbox:
            while True:
                insight = await inbox.get()
                await send({"type": "insight", "insight": insight.model_dump(mode="json")})

    state.metrics.open_streams.inc()
    pusher = asyncio.create_task(push_insights())
    try:
        await send({"type": "ready", "user_id": user.user_id, "role": user.role})
        while True:
            raw = await ws.receive_text()
            try:
                message = json.loads(raw)
            except ValueError:
                await send({"type": "error", "code": "invalid_request", "text": "send JSON"})
                continue
            if isinstance(message, dict) and message.get("type") == "ping":
                await send({"type": "pong"})
                continue
            try:
                ask = WsAsk.model_validate(message)
            except ValidationError as exc:
                await send({"type": "error", "code": "invalid_request", "text": str(exc)})
                continue
            try:
                await enforce_rate_limits(state, user, chat=True)
                _require_agent(state)
            except ApiError as exc:
                await send({"type": "error", "code": exc.code, "text": exc.detail, **exc.extra})
                continue
            thread_id = ask.thread_id or uuid.uuid4().hex
            request_id = uuid.uuid4().hex
            await send({"type": "start", "thread_id": thread_id, "request_id": request_id})
            async for event in run_turn(state, user, ask.question, thread_id, request_id):
                await send(event)
    except WebSocketDisconnect:
        pass
    finally:
        pusher.cancel()
        state.metrics.open_streams.dec()
