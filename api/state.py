"""What one running app holds: settings, the engine, the agent, limits, metrics, the hub.

Built once by the lifespan (``api.app``) and reached by routes through ``api.deps``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from mspilot.api.metrics import Metrics
from mspilot.api.pubsub import InsightHub
from mspilot.api.ratelimit import Limiter
from mspilot.api.security import TokenClaims, decode_token
from mspilot.core.clock import Clock
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.db.audit import ROW_COLUMNS, AuditRecord, AuditRow, record_rows
from mspilot.db.users import UserRow, get_user, user_for_key

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


class AuditWriter:
    """Writes audit rows from a background thread in batches; a request only appends a flat
    tuple to a deque (no cross-thread wake-up per request, nothing for the garbage collector to
    walk). Each batch is one statement (:func:`~mspilot.db.audit.record_rows`), so the writer
    takes the GIL a few times per batch, not per row, and keeps up with the request rate.
    ``flush()`` returns once everything submitted before it is written."""

    def __init__(self, engine: Engine, interval_s: float = 0.25, batch: int = 2000) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.batch = batch
        self._pending: deque[AuditRow] = deque()
        self._submitted = 0
        self._written = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, record: AuditRecord) -> None:
        self.submit_row(record.row())

    def submit_row(self, row: AuditRow) -> None:
        self._pending.append(row)
        self._submitted += 1

    def _drain(self) -> None:
        while self._pending:
            batch: list[AuditRow] = []
            while self._pending and len(batch) < self.batch:
                batch.append(self._pending.popleft())
            try:
                record_rows(self.engine, batch)
            except Exception:  # one bad row must not cost the batch: write them one by one
                self._write_singly(batch)
            self._written += len(batch)

    def _write_singly(self, batch: list[AuditRow]) -> None:
        """Each row on its own; if the first rows all fail, the database itself is failing
        (down, full): the batch is given up rather than retried a row at a time."""
        failed = written = 0
        for row in batch:
            if failed >= 3 and not written:
                break
            try:
                record_rows(self.engine, [row])
                written += 1
            except Exception:  # the audit must never take the service down
                failed += 1
                if failed == 1:
                    named = dict(zip(ROW_COLUMNS, row, strict=True))
                    log.exception(
                        "audit write failed", resource=named["resource"], status=named["status"]
                    )
        if written < len(batch):
            log.warning("audit rows not written", lost=len(batch) - written, of=len(batch))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self._drain()
        self._drain()

    def flush(self, timeout_s: float = 10.0) -> None:
        target = self._submitted
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while self._written < target and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)


@dataclass
class _Cached:
    user: UserRow | None
    until: float


class UserCache:
    """Users by id and by API-key hash, for a few seconds (disable/role changes land fast)."""

    def __init__(self, engine: Engine, ttl_s: float = 15.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._by_id: dict[str, _Cached] = {}
        self._by_key: dict[str, _Cached] = {}

    def _lookup(
        self, table: dict[str, _Cached], key: str, load: Callable[[Engine, str], UserRow | None]
    ) -> UserRow | None:
        hit = table.get(key)
        now = time.monotonic()
        if hit is None or hit.until < now:
            hit = _Cached(load(self.engine, key), now + self.ttl_s)
            table[key] = hit
        return hit.user

    def user(self, user_id: str) -> UserRow | None:
        return self._lookup(self._by_id, user_id, get_user)

    def user_for_key(self, key_hash: str) -> UserRow | None:
        return self._lookup(self._by_key, key_hash, user_for_key)

    def clear(self) -> None:
        self._by_id.clear()
        self._by_key.clear()


class TokenCache:
    """Verified token claims for a minute at most (never past the token's expiry), so a
    client that sends the same bearer token on every request is verified once."""

    def __init__(self, key: str, ttl_s: float = 60.0, size: int = 10_000) -> None:
        self.key = key
        self.ttl_s = ttl_s
        self.size = size
        self._claims: dict[str, tuple[float, TokenClaims]] = {}

    def claims(self, token: str) -> TokenClaims:
        now = time.time()
        hit = self._claims.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        claims = decode_token(self.key, token)  # raises TokenError
        if len(self._claims) >= self.size:
            self._claims.clear()
        self._claims[token] = (min(now + self.ttl_s, claims.expires_at.timestamp()), claims)
        return claims


@dataclass(frozen=True)
class CachedResponse:
    """A whole 200 response (status line headers and body bytes, serialised once) with the
    route it matched and the audit rows its request wrote (replayed per hit with the
    caller's user id, request id and time)."""

    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any
    audit: tuple[AuditRow, ...]
    until: float


#: (tenant_id, role, client_id, product date, path, raw query string)
ResponseKey = tuple[str, str, str | None, dt.date, str, bytes]


class ResponseCache:
    """Finished responses of the read-only prediction endpoints for a few seconds, so a
    repeated request is authenticated, rate limited and audited, then answered from bytes.

    The key holds the tenant, the caller's role and client (the only inputs besides the URL
    these endpoints depend on, and what any redaction is by) and the product date, so no
    entry is served across tenants, roles or clients. The TTL bounds how much staler an
    answer may be than the handlers' own caches (the champion version is re-read every 5 s).
    """

    def __init__(
        self,
        ttl_s: float = 5.0,
        size: int = 4096,
        max_body: int = 2_000_000,
        max_bytes: int = 64_000_000,
    ) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self.max_body = max_body
        self.max_bytes = max_bytes  # bodies held at most (many distinct pages cannot bloat it)
        self._entries: dict[ResponseKey, CachedResponse] = {}
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: ResponseKey) -> CachedResponse | None:
        hit = self._entries.get(key)
        if hit is None or hit.until < time.monotonic():
            self.misses += 1
            return None
        self.hits += 1
        return hit

    def put(
        self,
        key: ResponseKey,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        route: Any,
        audit: list[AuditRecord],
    ) -> None:
        if self.ttl_s <= 0 or len(body) > min(self.max_body, self.max_bytes):
            return
        if len(self._entries) >= self.size or self._bytes + len(body) > self.max_bytes:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v.until >= now}
            if len(self._entries) >= self.size or self._held() + len(body) > self.max_bytes:
                self._entries.clear()
            self._bytes = self._held()
        old = self._entries.get(key)
        self._bytes += len(body) - (len(old.body) if old is not None else 0)
        self._entries[key] = CachedResponse(
            headers, body, route, tuple(r.row() for r in audit), time.monotonic() + self.ttl_s
        )

    def _held(self) -> int:
        return sum(len(v.body) for v in self._entries.values())

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


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
