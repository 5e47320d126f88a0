"""The response cache in front of the prediction GETs: a repeated request is answered from
the bytes the first one produced (the cache itself: :class:`~mspilot.api.caches.ResponseCache`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mspilot.api.caches import ResponseKey
from mspilot.api.deps import AUDIT_CAPTURE, authenticate, enforce_rate_limits
from mspilot.api.errors import ApiError, api_error_response
from mspilot.api.state import AppState
from mspilot.db.audit import AuditRecord, for_caller

#: GET endpoints whose 200 answers depend only on the URL, the tenant, the caller's role and
#: client and the product date (the prediction endpoints): the response cache serves them
CACHED_PREFIXES = ("/v1/churn", "/v1/margins", "/v1/leaks", "/v1/forecast", "/v1/pricing")


def _credentials(scope: Scope) -> tuple[str | None, str | None]:
    """(credential, tenant header) exactly as the dependencies read them: ``X-API-Key`` wins
    over a ``Bearer`` authorization; the first occurrence of a header counts."""
    api_key = bearer = tenant = None
    for name, value in scope["headers"]:
        if name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
        elif name == b"authorization" and bearer is None:
            scheme, _, param = value.decode("latin-1").partition(" ")
            bearer = param if scheme.lower() == "bearer" and param else ""
        elif name == b"x-mspilot-tenant" and tenant is None:
            tenant = value.decode("latin-1")
    return (api_key or bearer or None), tenant


class ResponseCacheMiddleware:
    """Answers a repeated prediction GET from its serialised bytes (see
    :class:`~mspilot.api.caches.ResponseCache`).

    A hit still authenticates the caller (same function as the dependencies: disabled users,
    wrong tenants, expired tokens fall through to the full path and get its error), counts the
    rate limits (a 429 is answered here with the same body) and writes the audit record the
    original request wrote, with this caller's user and request id. A miss runs the full app
    and keeps its 200 JSON answer under (tenant, role, client, date, path, query).

    Misses are single-flight: when an entry expires under load, the first request for it runs
    the app and the others for the same key wait for its answer, instead of every open
    connection rendering the same page at once (a burst that stalls the event loop for all).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._filling: dict[ResponseKey, asyncio.Event] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope["path"].startswith(CACHED_PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        state: AppState | None = getattr(scope["app"].state, "mspilot", None)
        credential, tenant_header = _credentials(scope)
        if state is None or credential is None:
            await self.app(scope, receive, send)
            return
        try:
            user = authenticate(state, credential, tenant_header)
        except ApiError:  # the full path answers with the right error
            await self.app(scope, receive, send)
            return
        key: ResponseKey = (
            user.tenant_id,
            user.role,
            user.client_id,
            state.clock.today(),
            scope["path"],
            scope["query_string"],
        )
        hit = state.responses.get(key)
        filling = self._filling.get(key) if hit is None else None
        if filling is not None:  # another request is rendering this page: take its answer
            await filling.wait()
            hit = state.responses.get(key)
        if hit is None:  # (a request waits at most once: after an uncacheable answer, it renders)
            render = self._render(state, key, user.user_id, scope, receive, send)
            if filling is None:  # (no await since the lookup: nobody else is rendering it)
                await self._single_flight(key, render)
            else:
                await render
            return
        scope_state = scope.setdefault("state", {})
        scope_state.update(user_id=user.user_id, tenant_id=user.tenant_id, role=user.role)
        scope["route"] = hit.route
        try:
            await enforce_rate_limits(state, user)
        except ApiError as exc:
            await api_error_response(Request(scope), exc)(scope, receive, send)
            return
        request_id = scope_state.get("request_id")
        for row in hit.audit:
            state.audit.submit_row(for_caller(row, user.user_id, request_id))
        await send({"type": "http.response.start", "status": 200, "headers": hit.headers})
        await send({"type": "http.response.body", "body": hit.body})

    async def _single_flight(self, key: ResponseKey, render: Awaitable[None]) -> None:
        """Run ``render`` as the one request rendering ``key``; wake the waiters when done
        (also when it fails or the client goes away: they then render themselves)."""
        self._filling[key] = done = asyncio.Event()
        try:
            await render
        finally:
            del self._filling[key]
            done.set()

    async def _render(
        self,
        state: AppState,
        key: ResponseKey,
        user_id: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        captured: list[AuditRecord] = []
        scope.setdefault("state", {})[AUDIT_CAPTURE] = captured
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []
        cacheable = True

        async def capture(message: Message) -> None:
            nonlocal cacheable
            if message["type"] == "http.response.start":
                headers.extend(message.get("headers", []))  # a copy: outer layers add theirs
                named = dict(headers)
                cacheable = (
                    message["status"] == 200
                    and named.get(b"content-type", b"").startswith(b"application/json")
                    and b"set-cookie" not in named
                )
            elif message["type"] == "http.response.body" and cacheable:
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if (
            cacheable
            and headers
            and captured
            and scope["state"].get("user_id") == user_id
            and scope.get("route") is not None
        ):
            body = b"".join(chunks)
            state.responses.put(key, headers, body, scope["route"], captured)
