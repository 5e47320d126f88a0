"""Rate limits per user and per tenant: fixed one-minute windows, in memory or in Redis.

In memory suits one process; with ``MSPILOT_REDIS_URL`` every worker shares the counters
(``INCR`` + ``EXPIRE`` on ``ratelimit:<key>:<window>``). If Redis stops answering, the limiter
falls back to memory and says so once in the log, rather than failing requests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol

from mspilot.core.logging import get_logger

log = get_logger(__name__)
WINDOW_S = 60


@dataclass(slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    scope: str


class Limiter(Protocol):
    backend: str

    async def hit(self, key: str, limit: int, scope: str) -> Verdict: ...

    async def close(self) -> None: ...


def _verdict(count: int, limit: int, window_start: int, scope: str) -> Verdict:
    retry = max(1, window_start + WINDOW_S - int(time.time()))
    return Verdict(count <= limit, limit, max(0, limit - count), retry, scope)


class MemoryLimiter:
    backend = "memory"

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._window = 0

    async def hit(self, key: str, limit: int, scope: str) -> Verdict:
        window = int(time.time()) // WINDOW_S * WINDOW_S
        if window != self._window:  # drop the previous windows' counters
            self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            self._window = window
        count = self._counts.get((key, window), 0) + 1
        self._counts[(key, window)] = count
        return _verdict(count, limit, window, scope)

    async def close(self) -> None:
        self._counts.clear()


class RedisLimiter:
    backend = "redis"

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._fallback = MemoryLimiter()
        self._degraded = False

    async def hit(self, key: str, limit: int, scope: str) -> Verdict:
        window = int(time.time()) // WINDOW_S * WINDOW_S
        name = f"mspilot:ratelimit:{key}:{window}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(name)
                pipe.expire(name, WINDOW_S + 5)
                count, _ = await pipe.execute()
        except Exception as exc:  # Redis down: keep serving with local counters
            if not self._degraded:
                log.warning("redis rate limiter unavailable; using memory", error=str(exc))
                self._degraded = True
            return await self._fallback.hit(key, limit, scope)
        self._degraded = False
        return _verdict(int(count), limit, window, scope)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), 1.0))
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    return RedisLimiter(redis_url) if redis_url else MemoryLimiter()
