"""The vendor rate limit shared through Redis: however many workers (threads with their own
clients here) take tokens, starts never outrun the bucket's envelope."""

from __future__ import annotations

import threading
import time
import uuid

import redis

from mspilot.connectors.http import Throttle
from mspilot.connectors.ratelimit import RedisTokenBucket, redis_client

from .conftest import REDIS_URL


def test_workers_sharing_a_bucket_stay_inside_its_envelope() -> None:
    account = f"test-{uuid.uuid4().hex[:8]}"
    per_minute, burst = 1200, 5  # refill (1200 - 5) / 60 = 19.9 tokens a second
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        bucket = RedisTokenBucket(
            redis_client(REDIS_URL), "superops", account, per_minute, burst=burst
        )
        throttle = Throttle(100_000, shared=bucket)  # the process's own limit never binds here
        for _ in range(10):
            with throttle, lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rate = (per_minute - burst) / 60.0
    starts.sort()
    assert len(starts) == 40
    # in every window, at most burst + rate * window starts (a little slack for clock reads)
    for i, first in enumerate(starts):
        for j in range(i, len(starts)):
            window = starts[j] - first
            assert j - i + 1 <= burst + rate * window + 1.5, (j - i + 1, window)
    redis.Redis.from_url(REDIS_URL).delete(f"mspilot:ratelimit:superops:{account}")


def test_the_bucket_lets_requests_through_when_redis_is_gone() -> None:
    bucket = RedisTokenBucket(redis_client("redis://127.0.0.1:1/0"), "quickbooks", "x", 60)
    assert bucket() == 0.0  # each process's own throttle still holds
