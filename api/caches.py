"""The running app's short-lived caches: users (by id and API-key hash), verified token
claims, and whole responses of the read-only prediction endpoints."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from mspilot.api.security import TokenClaims, decode_token
from mspilot.db.audit import AuditRecord, AuditRow
from mspilot.db.users import UserRow, get_user, user_for_key


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
