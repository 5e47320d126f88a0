"""The FastAPI application: ``create_app(settings)``.

The lifespan opens the database, loads every tenant's registered models, the agent (its graph
and the embedding model) once, and starts the audit writer; routes live in ``api/routes``, one
router per module. A pure ASGI middleware gives each request an id, a structured JSON log line
(never the query string, which may carry a WebSocket token) and Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mspilot.api import admin
from mspilot.api.audit_writer import AuditWriter
from mspilot.api.caches import TokenCache, UserCache
from mspilot.api.errors import install_handlers
from mspilot.api.metrics import Metrics
from mspilot.api.pubsub import Insight, InsightHub
from mspilot.api.ratelimit import make_limiter
from mspilot.api.response_cache import ResponseCacheMiddleware
from mspilot.api.routes import (
    auth,
    budget,
    chat,
    churn,
    clients,
    forecast,
    health,
    insights,
    leaks,
    margins,
    portal,
    pricing,
    webhooks,
)
from mspilot.api.security import signing_key
from mspilot.api.state import AppState, ContextFactory
from mspilot.core import telemetry
from mspilot.core.clock import Clock
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.db.engine import make_engine
from mspilot.db.tenants import tenant_ids
from mspilot.insights.server import insights_router
from mspilot.slack.server import slack_router

log = get_logger("mspilot.api")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

API_DESCRIPTION = """
mspilot answers questions about a managed service provider's clients, margins, revenue leaks,
demand and prices.

**Authentication**: `POST /v1/auth/token` with email and password returns a bearer token
(`Authorization: Bearer <token>`); service accounts send an API key in `X-API-Key`.

**Roles**: `owner`, `finance`, `service_manager`, `technician` (no revenue, margin or pricing),
`client_user` (only their own client's tickets, assets and invoices). The chat agent is bound by
the same rules.

**Errors** are JSON: `{"detail": "...", "code": "...", "request_id": "..."}`; rate limits answer
429 with `Retry-After`.
"""


class RequestContextMiddleware:
    """Request id, one JSON log line per request, request count and latency metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # the logger as configured now (Starlette builds middleware on the first request, after
        # the entry point configured logging): resolving the lazy proxy per request costs ~5%
        # of a busy server's time, and most servers log at WARNING, which skips the line
        self._log = log.bind()
        self._log_requests = self._log.is_enabled_for(logging.INFO)
        # ids only need to be unique: a random per-process prefix and a counter (no syscall
        # per request, unlike uuid4)
        self._prefix = uuid.uuid4().hex[:16]
        self._counter = itertools.count(1)

    def _next_id(self) -> str:
        return f"{self._prefix}{next(self._counter):016x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                request_id = incoming if _REQUEST_ID.match(incoming) else ""
                break
        request_id = request_id or self._next_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "WS")
            if route != "/metrics":
                self.metrics.observe_request(method, route, status, elapsed)
            if self._log_requests and route not in ("/healthz", "/metrics"):
                self._log.info(
                    "request",
                    method=method,
                    route=route,
                    path=scope.get("path"),
                    status=status if scope["type"] == "http" else None,
                    duration_ms=round(elapsed * 1000, 2),
                    user_id=state.get("user_id"),
                    tenant_id=state.get("tenant_id"),
                )
            structlog.contextvars.unbind_contextvars("request_id")


def _release_free_heap() -> None:
    """Hand the heap pages freed by start-up (model loading, warm-up) back to the OS
    (glibc keeps them otherwise: they count in the server's resident memory)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def load_models(state: AppState) -> None:
    """Load each tenant's champion models into memory (the registry caches them)."""
    from mspilot.models.registry import KINDS, Registry

    for tenant_id in tenant_ids(state.engine):
        registry = Registry(state.data_dir, tenant_id, mlflow=False)
        status: dict[str, str] = {}
        for kind in KINDS:
            champ = registry.champion(kind)
            if champ is None:
                status[kind] = "not trained"
                continue
            try:
                registry.load(kind)
                status[kind] = f"v{champ.version}"
            except Exception as exc:
                status[kind] = f"failed: {exc}"
                log.warning("model load failed", tenant_id=tenant_id, kind=kind, error=str(exc))
        state.models[tenant_id] = status


def load_agent(state: AppState) -> None:
    """Build the agent (unless one was given), then warm the embedder and one graph/tenant."""
    if state.agent is None:
        from mspilot.agent.service import AgentService

        state.agent = AgentService.from_settings(state.settings)
    from mspilot.core.embeddings import get_embedder

    get_embedder()
    for tenant_id in tenant_ids(state.engine):
        state.agent.graph_for(state.tool_context(tenant_id, "owner", None))


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    agent: Any = None,
    context_factory: ContextFactory | None = None,
    agent_workers: int = 4,
    warm: bool = True,
) -> FastAPI:
    """The app. Tests pass an engine, an agent and a context factory; production passes
    nothing but settings (the lifespan builds the rest)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from mspilot.api.state import default_context_factory

        db = engine or make_engine(settings.resolved_database_url)
        key = signing_key(settings)
        state = AppState(
            settings=settings,
            engine=db,
            clock=Clock(settings.today),
            signing_key=key,
            tokens=TokenCache(key),
            limiter=make_limiter(settings.redis_url),
            metrics=metrics,
            hub=InsightHub(),
            users=UserCache(db),
            audit=AuditWriter(db),
            context_factory=context_factory or default_context_factory,
            agent=agent,
            agent_pool=ThreadPoolExecutor(agent_workers, thread_name_prefix="agent"),
        )
        app.state.mspilot = state
        if warm:
            try:
                await asyncio.to_thread(load_models, state)
            except Exception as exc:
                log.warning("models not loaded", error=str(exc))
            try:
                await asyncio.to_thread(load_agent, state)
            except Exception as exc:
                state.agent_error = f"{type(exc).__name__}: {exc}"
                log.warning("agent not available", error=state.agent_error)
            # the models, the agent and the libraries live as long as the process: move them
            # out of the cyclic collector's sight, so a full collection under load walks only
            # what requests allocate (it otherwise walks millions of objects: p99 spikes)
            gc.collect()
            gc.freeze()
            _release_free_heap()
        log.info(
            "api started",
            limiter=state.limiter.backend,
            tenants=sorted(state.models),
            agent=state.agent is not None,
        )
        try:
            yield
        finally:
            state.agent_pool.shutdown(wait=False, cancel_futures=True)  # type: ignore[union-attr]
            state.audit.close()
            await state.limiter.close()
            if engine is None:
                db.dispose()

    app = FastAPI(
        title="mspilot API",
        version="1.0.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        # no OpenTelemetry here (Prometheus metrics and JSON logs instead): off, so FastAPI
        # does not look for a configured provider on every request
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_tags=[
            {"name": "auth", "description": "Tokens, users and API keys"},
            {"name": "chat", "description": "Ask the analyst: SSE, WebSocket, threads"},
            {"name": "clients", "description": "Client list and profiles"},
            {"name": "analytics", "description": "Churn, margins, leaks, forecast, pricing"},
            {"name": "insights", "description": "Proactive insights feed and live push"},
            {"name": "ops", "description": "Health, readiness, metrics"},
        ],
    )
    install_handlers(app)
    telemetry.instrument_app(app)  # a no-op unless OTEL_* variables turn tracing on
    app.add_middleware(ResponseCacheMiddleware)  # inside CORS: cached bytes carry no CORS headers
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "X-Request-ID"],
        )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    # the prediction routes, one module per resource (all under the "analytics" tag)
    analytics = (churn, margins, leaks, forecast, pricing, budget)
    for module in (health, auth, chat, clients, *analytics, insights, portal, webhooks):
        app.include_router(module.router)
    app.include_router(insights_router(settings, Insight))  # digest scheduler + live feed
    app.include_router(slack_router(settings))  # /slack/events when Slack is configured
    admin.install(app)  # the console's pages under /admin
    return app


def app_from_env() -> FastAPI:
    """The factory ``mspilot serve`` hands uvicorn (each worker reads the environment)."""
    from mspilot.core.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)
