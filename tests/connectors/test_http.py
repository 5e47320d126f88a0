"""The shared HTTP plumbing: throttle windows and concurrency, backoff that honours
Retry-After, which failures are retried (clocks and sleeps injected: nothing really waits)."""

from __future__ import annotations

import threading

import httpx
import pytest

from mspilot.connectors.errors import RateLimited, SourceAPIError, TransientError
from mspilot.connectors.http import RetryPolicy, Throttle, raise_for_transient, retry_after_seconds


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_throttle_allows_n_per_window_then_waits_for_the_oldest() -> None:
    t = FakeTime()
    throttle = Throttle(3, clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        with throttle:
            t.now += 1.0
    assert t.slept == []
    with throttle:  # the 4th start waits until the 1st leaves the 60 s window
        pass
    assert t.slept == [pytest.approx(57.0)]
    assert throttle.requests == 4


def test_throttle_bounds_concurrency() -> None:
    throttle = Throttle(10_000, max_concurrent=2)
    inside, peak, lock = [0], [0], threading.Lock()
    gate = threading.Event()

    def work() -> None:
        with throttle:
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            gate.wait(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert peak[0] == 2


def test_backoff_grows_and_honours_retry_after() -> None:
    t = FakeTime()
    policy = RetryPolicy(max_attempts=5, initial_wait_s=1, max_wait_s=8, jitter_s=0, sleep=t.sleep)
    calls = [0]

    def flaky() -> str:
        calls[0] += 1
        if calls[0] == 1:
            raise TransientError("5xx")
        if calls[0] == 2:
            raise RateLimited("429", retry_after=30)
        if calls[0] == 3:
            raise httpx.ReadTimeout("slow")
        return "ok"

    assert policy.run(flaky) == "ok"
    assert t.slept == [1, 30, 4]  # exponential, Retry-After wins when longer


def test_permanent_errors_are_not_retried_and_attempts_are_bounded() -> None:
    t = FakeTime()
    policy = RetryPolicy(max_attempts=3, initial_wait_s=0.1, jitter_s=0, sleep=t.sleep)
    with pytest.raises(SourceAPIError):
        policy.run(lambda: (_ for _ in ()).throw(SourceAPIError("bad query")))
    assert t.slept == []
    with pytest.raises(TransientError):
        policy.run(lambda: (_ for _ in ()).throw(TransientError("down")))
    assert len(t.slept) == 2


def test_status_classification_and_retry_after_parsing() -> None:
    req = httpx.Request("GET", "http://x")
    with pytest.raises(RateLimited) as err:
        raise_for_transient(httpx.Response(429, headers={"Retry-After": "7"}, request=req), "x")
    assert err.value.retry_after == 7
    with pytest.raises(TransientError):
        raise_for_transient(httpx.Response(503, request=req), "x")
    raise_for_transient(httpx.Response(404, request=req), "x")  # not transient: no raise
    dated = httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"})
    assert retry_after_seconds(dated, now=1445412480.0) == pytest.approx(10.0)
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "soon"})) is None
