"""Insights: a small in-process pub/sub that pushes new insights to connected clients.

``publish`` may be called from any thread (the digest job, a route); each subscriber is an
asyncio queue on the server's loop that receives only the insights its scope may see (tenant,
role audience, and for a client user only insights about their own client). The latest
insights of each tenant are kept for the feed endpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from mspilot.api.roles import MONEY

Severity = Literal["info", "warning", "critical"]


class Insight(BaseModel):
    """One proactive finding ("Contoso's churn risk rose to 62%")."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    tenant_id: str
    kind: str = Field(description="e.g. churn_risk, revenue_leak, sla, forecast")
    title: str
    body: str = ""
    severity: Severity = "info"
    client_id: str | None = None
    audience: list[str] = Field(
        default_factory=lambda: sorted(MONEY), description="Roles that may see it"
    )
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def visible_to(self, role: str, client_id: str | None) -> bool:
        if role not in self.audience:
            return False
        if role == "client_user":
            return self.client_id is not None and self.client_id == client_id
        return True


@dataclass(eq=False)
class _Subscriber:
    tenant_id: str
    role: str
    client_id: str | None
    queue: asyncio.Queue[Insight]
    loop: asyncio.AbstractEventLoop


@dataclass
class InsightHub:
    keep: int = 500
    _subs: set[_Subscriber] = field(default_factory=set)
    _recent: dict[str, deque[Insight]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def publish(self, insight: Insight) -> int:
        """Store and push ``insight``; returns how many connected clients it reached."""
        with self._lock:
            self._recent.setdefault(insight.tenant_id, deque(maxlen=self.keep)).append(insight)
            targets = [
                s
                for s in self._subs
                if s.tenant_id == insight.tenant_id and insight.visible_to(s.role, s.client_id)
            ]
        for sub in targets:
            sub.loop.call_soon_threadsafe(_offer, sub.queue, insight)
        return len(targets)

    def feed(
        self, tenant_id: str, role: str, client_id: str | None, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[Insight], int]:
        """The insights this scope may see, newest first, one page of them, and the total."""
        with self._lock:
            items = list(self._recent.get(tenant_id, ()))
        visible = [i for i in reversed(items) if i.visible_to(role, client_id)]
        return visible[offset : offset + limit], len(visible)

    @asynccontextmanager
    async def subscribe(
        self, tenant_id: str, role: str, client_id: str | None
    ) -> AsyncIterator[asyncio.Queue[Insight]]:
        sub = _Subscriber(
            tenant_id, role, client_id, asyncio.Queue(maxsize=100), asyncio.get_running_loop()
        )
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub.queue
        finally:
            with self._lock:
                self._subs.discard(sub)


def _offer(queue: asyncio.Queue[Insight], insight: Insight) -> None:
    if queue.full():  # a slow client loses its oldest pending insight, not the server
        queue.get_nowait()
    queue.put_nowait(insight)
