"""What one running app holds: settings, the engine, the agent, limits, metrics, the hub,
the audit writer (``api/audit_writer.py``) and the caches (``api/caches.py``).

Built once by the lifespan (``api.app``) and reached by routes through ``api.deps``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from mspilot.api.audit_writer import AuditWriter
from mspilot.api.caches import ResponseCache, TokenCache, UserCache
from mspilot.api.metrics import Metrics
from mspilot.api.pubsub import InsightHub
from mspilot.api.ratelimit import Limiter
from mspilot.core.clock import Clock
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings

log = get_logger(__name__)

#: Builds the agent tools' context: (engine, tenant_id, today, data_dir, role, client_id)
ContextFactory = Callable[[Engine, str, dt.date, Path, str, str | None], Any]


def default_context_factory(
    engine: Engine,
    tenant_id: str,
    today: dt.date,
    data_dir: Path,
    role: str,
    client_id: str | None,
) -> Any:
    from mspilot.tools.context import ToolContext

    return ToolContext(
        engine=engine,
        tenant_id=tenant_id,
        today=today,
        data_dir=data_dir,
        role=role,
        client_id=client_id,
    )


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    clock: Clock
    signing_key: str
    limiter: Limiter
    metrics: Metrics
    hub: InsightHub
    users: UserCache
    audit: AuditWriter
    context_factory: ContextFactory
    tokens: TokenCache
    responses: ResponseCache = field(default_factory=ResponseCache)
    agent: Any = None
    agent_pool: ThreadPoolExecutor | None = None
    agent_error: str | None = None
    models: dict[str, dict[str, str]] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    results: dict[tuple[Any, ...], tuple[float, Any]] = field(default_factory=dict)
    _locks: dict[tuple[Any, ...], threading.Lock] = field(default_factory=dict)
    _locks_guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir

    def cached(self, key: tuple[Any, ...], ttl_s: float, compute: Callable[[], Any]) -> Any:
        """``compute()``'s value, kept for ``ttl_s`` seconds under ``key`` (one computation at
        a time per key; predictions are computed once per data snapshot, not per request)."""
        now = time.monotonic()
        hit = self.results.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._compute_lock(key):
            hit = self.results.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            value = compute()
            self.results[key] = (time.monotonic() + ttl_s, value)
            return value

    async def acached(self, key: tuple[Any, ...], ttl_s: float, compute: Callable[[], Any]) -> Any:
        """``cached`` for the event loop: a fresh value is returned without leaving the loop;
        only a miss computes, in a worker thread."""
        hit = self.results.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return await asyncio.to_thread(self.cached, key, ttl_s, compute)

    def _compute_lock(self, key: tuple[Any, ...]) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def tool_context(self, tenant_id: str, role: str, client_id: str | None) -> Any:
        return self.context_factory(
            self.engine, tenant_id, self.clock.today(), self.data_dir, role, client_id
        )
