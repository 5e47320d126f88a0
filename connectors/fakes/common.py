"""What both fake vendors share: switchable faults, a clock, and serving an app on a real
socket (uvicorn in a thread) for tests, the demo and the bench."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import uvicorn

FAULT_KINDS = ("429", "5xx", "timeout", "error200", "repeat_page", "expire_token")


@dataclass
class Faults:
    """Faults a fake injects: an explicit queue first (``push``), then random draws by rate.

    Kinds: ``429`` (with Retry-After), ``5xx``, ``timeout`` (the fake hangs longer than the
    client waits), ``error200`` (an error inside an HTTP 200 body), ``repeat_page`` (a list
    page repeats the previous one), ``expire_token`` (QuickBooks: the access token dies).
    """

    rates: dict[str, float] = field(default_factory=dict)
    retry_after: str | None = "0"
    hang_s: float = 1.0
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    _queue: deque[str] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}")
        self._rng = random.Random(self.seed)

    def push(self, *kinds: str) -> None:
        with self._lock:
            for kind in kinds:
                if kind not in FAULT_KINDS:
                    raise ValueError(f"unknown fault kind {kind!r}")
                self._queue.append(kind)

    def storm(self, rate: float, kinds: tuple[str, ...] = ("429", "5xx", "error200")) -> None:
        """Every request fails with probability ``rate``, split evenly over ``kinds``."""
        self.rates = {k: rate / len(kinds) for k in kinds}

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.rates = {}

    def draw(self, allowed: tuple[str, ...] = FAULT_KINDS) -> str | None:
        with self._lock:
            for i, kind in enumerate(self._queue):
                if kind in allowed:
                    del self._queue[i]
                    self.injected[kind] += 1
                    return kind
            roll = self._rng.random()
            acc = 0.0
            for kind in FAULT_KINDS:
                if kind not in allowed:
                    continue
                acc += self.rates.get(kind, 0.0)
                if roll < acc:
                    self.injected[kind] += 1
                    return kind
        return None


class FakeClock:
    """The fake vendor's idea of now: pinned (and moved by hand) or the real clock."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now if self._now is not None else dt.datetime.now(dt.UTC)

    def advance(self, seconds: float = 1.0) -> dt.datetime:
        with self._lock:
            if self._now is None:
                raise RuntimeError("a real-time FakeClock cannot be advanced")
            self._now += dt.timedelta(seconds=seconds)
            return self._now

    def set(self, when: dt.datetime) -> None:
        with self._lock:
            self._now = when


class ServedApp:
    """Serve an ASGI app on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fake-vendor", daemon=True)
        self.host = host
        self.port = port

    def start(self, timeout_s: float = 10.0) -> ServedApp:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("fake vendor server did not start")
            time.sleep(0.01)
        sockets = self.server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # do not wait for idle keep-alive connections
        self.thread.join(timeout=10)

    def __enter__(self) -> ServedApp:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
