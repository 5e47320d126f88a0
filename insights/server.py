"""The insights inside the API server: the digest scheduler and the live feed.

``insights_router(settings, make_insight)`` is an ``APIRouter`` with no routes and a lifespan
(FastAPI merges it into the app's, after the app's own start-up):

- every worker follows finished digests in the database and publishes their items to its own
  in-process hub (the ``/v1/insights`` feed and the WebSocket/SSE push), whichever worker or
  cron job built them; on start it publishes each tenant's latest digest so the feed is not
  empty after a restart;
- every worker ticks the :class:`~mspilot.insights.scheduler.DigestScheduler`, but only the
  lease holder runs slots (``MSPILOT_INSIGHTS__SCHEDULER=false`` turns it off).

``make_insight`` builds the API's ``Insight`` model from a feed entry (this package sits below
the API and does not import it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from sqlalchemy import Engine

from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.insights import store
from mspilot.insights.feedback import approval_flow
from mspilot.insights.model import Digest
from mspilot.insights.render import feed_entries
from mspilot.insights.scheduler import DigestScheduler

log = get_logger(__name__)
FEED_POLL_S = 10.0


class FeedFollower:
    """Publishes the items of digests finished in the database (by anyone) exactly once."""

    def __init__(
        self,
        engine: Engine,
        publish: Callable[[dict[str, Any]], Any],
        *,
        overlap: dt.timedelta = dt.timedelta(minutes=2),
    ) -> None:
        self.engine = engine
        self.publish = publish
        self.overlap = overlap
        self.watermark = store.utcnow()
        self.seen: dict[int, dt.datetime] = {}

    def _emit(self, digest: Digest) -> int:
        if digest.digest_id is not None:
            self.seen[digest.digest_id] = store.utcnow()
        entries = feed_entries(digest)
        for entry in reversed(entries):  # the feed is newest first: the top item last
            self.publish(entry)
        return len(entries)

    def prime(self) -> int:
        """Publish each tenant's latest digest (the feed after a restart)."""
        return sum(self._emit(d) for d in store.latest_digests(self.engine))

    def poll(self) -> int:
        started = store.utcnow()
        found = store.digests_finished_since(
            self.engine, self.watermark - self.overlap, seen=self.seen
        )
        published = sum(self._emit(d) for d in found)
        self.watermark = started
        cutoff = started - 2 * self.overlap
        self.seen = {k: v for k, v in self.seen.items() if v >= cutoff}
        return published


class InsightsWorker:
    """What one server worker runs: the feed follower, and a scheduler contending for the
    lease."""

    def __init__(self, state: Any, settings: Settings, make_insight: Callable[..., Any]) -> None:
        self.state = state
        self.settings = settings
        hub = state.hub

        def publish(entry: dict[str, Any]) -> Any:
            return hub.publish(make_insight(**entry))

        self.feed = FeedFollower(state.engine, publish)
        checkpointer = getattr(getattr(state, "agent", None), "checkpointer", None)
        self.scheduler = (
            DigestScheduler(state.engine, settings, flow=approval_flow(state.engine, checkpointer))
            if settings.insights.scheduler
            else None
        )

    async def run(self) -> None:
        cfg = self.settings.insights
        try:
            await asyncio.to_thread(self.feed.prime)
        except Exception as exc:  # the API must start even if the tables are not there yet
            log.warning("insights feed not primed", error=repr(exc))
        next_tick = asyncio.get_running_loop().time() + cfg.poll_s
        while True:
            await asyncio.sleep(min(FEED_POLL_S, cfg.poll_s))
            try:
                await asyncio.to_thread(self.feed.poll)
                if self.scheduler is not None and asyncio.get_running_loop().time() >= next_tick:
                    next_tick = asyncio.get_running_loop().time() + cfg.poll_s
                    await asyncio.to_thread(self.scheduler.tick)
            except Exception as exc:
                log.warning("insights worker tick failed", error=repr(exc))

    def stop(self) -> None:
        if self.scheduler is not None:
            with contextlib.suppress(Exception):
                self.scheduler.stop()


def insights_router(settings: Settings, make_insight: Callable[..., Any]) -> APIRouter:
    """A route-less router whose lifespan runs the insights worker in the server."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = getattr(app.state, "mspilot", None)
        if state is None:
            yield
            return
        worker = InsightsWorker(state, settings, make_insight)
        app.state.insights_worker = worker
        task = asyncio.create_task(worker.run(), name="insights-worker")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await asyncio.to_thread(worker.stop)

    return APIRouter(lifespan=lifespan)
