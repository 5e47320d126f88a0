"""A vendor's rate limit shared by every worker: a token bucket per vendor account in Redis.

Each process already throttles itself (``connectors.http.Throttle``); with N workers syncing
tenants of one vendor account (or one tenant's streams) in parallel, only a limit kept in one
place holds. :class:`RedisTokenBucket` is that place: one Lua script refills and takes a token
atomically with Redis' own clock, so the callers' clocks never matter.

Guarantee: a bucket of capacity ``burst`` refilled at ``(per_minute - burst) / 60`` tokens a
second lets at most ``per_minute`` requests start in any 60-second window (``burst`` at once,
then the refill) -- the vendor's limit holds however many workers share the bucket.

It plugs into a throttle as ``Throttle(..., shared=bucket)``. If Redis cannot be reached the
bucket logs once and lets requests through (each process still throttles itself).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from mspilot.core.logging import get_logger

log = get_logger(__name__)

KEY_PREFIX = "mspilot:ratelimit"

#: KEYS[1] bucket; ARGV[1] tokens per ms, ARGV[2] capacity. Returns 0 (token taken) or the
#: milliseconds to wait before trying again.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if tokens == nil or ts == nil then
  tokens = cap
  ts = now
end
if now > ts then
  tokens = math.min(cap, tokens + (now - ts) * rate)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil(cap / rate) + 60000)
return wait
"""


def bucket_key(vendor: str, account: str) -> str:
    return f"{KEY_PREFIX}:{vendor}:{account}"


class RedisTokenBucket:
    """``bucket()`` blocks until a request may start; returns the seconds it waited."""

    def __init__(
        self,
        client: Any,
        vendor: str,
        account: str,
        per_minute: int,
        *,
        burst: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 2:
            raise ValueError("a shared limit needs at least 2 requests a minute")
        self.client = client
        self.key = bucket_key(vendor, account)
        self.per_minute = per_minute
        self.burst = max(1, min(burst, per_minute // 2))
        self.rate_per_ms = (per_minute - self.burst) / 60_000.0
        self._sleep = sleep
        self._script = client.register_script(_TAKE)
        self._warned = False
        self._lock = threading.Lock()
        self.taken = 0
        self.waited_s = 0.0

    def __call__(self) -> float:
        waited = 0.0
        while True:
            try:
                wait_ms = int(self._script(keys=[self.key], args=[self.rate_per_ms, self.burst]))
            except Exception as exc:  # Redis down: each process's own throttle still holds
                if not self._warned:
                    self._warned = True
                    log.warning("shared rate limit unavailable", key=self.key, error=repr(exc))
                return waited
            if wait_ms <= 0:
                with self._lock:
                    self.taken += 1
                    self.waited_s += waited
                return waited
            pause = wait_ms / 1000.0
            waited += pause
            self._sleep(pause)


def redis_client(url: str) -> Any:
    """A Redis client for buckets (one per process is plenty)."""
    import redis

    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
