"""The HTTP plumbing every connector shares: one httpx client with timeouts, a client-side
throttle per source (requests per minute and concurrent requests) and retries with
exponential backoff and jitter that honour ``Retry-After``.

Clocks and sleeps are injectable, so tests run fault storms without waiting.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
)

from mspilot.connectors.errors import RateLimited, TransientError
from mspilot.core.logging import get_logger

T = TypeVar("T")
log = get_logger("mspilot.connectors.http")

USER_AGENT = "mspilot-connectors/0.1"


def make_http_client(
    timeout_s: float = 30.0, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one shared client: pooled connections, explicit timeouts, no redirects followed."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
        headers={"User-Agent": USER_AGENT},
        transport=transport,
        follow_redirects=False,
    )


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; ``Retry-After`` wins when it asks for longer."""

    max_attempts: int = 8
    initial_wait_s: float = 1.0
    max_wait_s: float = 60.0
    jitter_s: float = 1.0
    max_retry_after_s: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def wait_for(self, state: RetryCallState) -> float:
        attempt = max(1, state.attempt_number)
        base = float(min(self.max_wait_s, self.initial_wait_s * 2 ** (attempt - 1)))
        base += random.uniform(0, self.jitter_s)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(max(base, min(float(retry_after), self.max_retry_after_s)))
        return base

    def run(self, attempt: Callable[[], T], *, what: str = "request") -> T:
        """Call ``attempt`` until it succeeds, a non-transient error is raised, or attempts
        run out (the last error is re-raised)."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "retrying",
                what=what,
                attempt=state.attempt_number,
                reason=type(exc).__name__,
                detail=str(exc)[:200],
                wait_s=round(state.upcoming_sleep, 3),
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self.wait_for,
            retry=retry_if_exception_type(
                (TransientError, httpx.TimeoutException, httpx.TransportError)
            ),
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)


class Throttle:
    """At most ``per_minute`` request starts in any 60 s window and ``max_concurrent`` at once."""

    def __init__(
        self,
        per_minute: int,
        max_concurrent: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window_s: float = 60.0,
        shared: Callable[[], float] | None = None,
    ) -> None:
        if per_minute < 1 or max_concurrent < 1:
            raise ValueError("throttle limits must be positive")
        self.per_minute = per_minute
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self.waited_s = 0.0
        self.requests = 0
        #: a limit shared with other processes (``connectors.ratelimit``): called before each
        #: request starts, blocks until the shared bucket lets it go, returns the seconds waited
        self.shared = shared

    def _reserve(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and now - self._starts[0] >= self.window_s:
                    self._starts.popleft()
                if len(self._starts) < self.per_minute:
                    self._starts.append(now)
                    self.requests += 1
                    return
                wait = self.window_s - (now - self._starts[0])
            self.waited_s += wait
            self._sleep(wait)

    def __enter__(self) -> Throttle:
        self._slots.acquire()
        try:
            self._reserve()
            if self.shared is not None:
                self.waited_s += self.shared()
        except BaseException:
            self._slots.release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._slots.release()


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    reference = time.time() if now is None else now
    return max(0.0, when.timestamp() - reference)


def raise_for_transient(response: httpx.Response, what: str) -> None:
    """429 and 5xx become retryable errors (with the server's Retry-After)."""
    status = response.status_code
    if status == 429:
        raise RateLimited(f"{what}: HTTP 429", retry_after=retry_after_seconds(response))
    if status >= 500:
        raise TransientError(f"{what}: HTTP {status}", retry_after=retry_after_seconds(response))
