"""Schedules per tenant, each slot run once however many schedulers run.

- Sync: every enabled vendor account (``vendor_accounts``), every ``sync_every_minutes`` (the
  account's, else ``MSPILOT_TASKS__SYNC_EVERY_MINUTES``), slots aligned to the clock.
- Train: nightly at ``MSPILOT_TASKS__TRAIN_HOUR`` tenant time.
- Digest: the weekly digest (and daily alerts) at the tenant's local time, the slots of
  ``insights.scheduler.due_slots`` (the tenant's overrides from ``digest settings`` apply).

Once per slot: a ``task_slots`` row per slot name is inserted by exactly one scheduler (the
primary key decides); the leader lease (``task_locks`` name ``scheduler``) keeps the others
idle, so the race is rare and harmless. A slot whose message could not be sent is given back.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mspilot.core.logging import get_logger
from mspilot.db.tenants import list_tenants
from mspilot.insights import store as insights_store
from mspilot.insights.scheduler import due_slots
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine

log = get_logger(__name__)
LEADER_LEASE = "scheduler"
#: a missed nightly training is still run this late
TRAIN_GRACE = dt.timedelta(hours=6)


@dataclass(frozen=True)
class Due:
    slot: str
    job: str
    kwargs: dict[str, str]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def sync_slot(now: dt.datetime, every_minutes: int) -> dt.datetime:
    """The start of the ``every_minutes`` window ``now`` falls in (aligned to midnight UTC)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = int((now - midnight).total_seconds() // 60)
    return midnight + dt.timedelta(minutes=elapsed - elapsed % every_minutes)


def due(engine: TaskEngine, now: dt.datetime) -> list[Due]:
    """Every slot due at ``now`` (UTC), of every tenant."""
    cfg = engine.tasks.tasks
    insights = engine.settings.insights
    out: list[Due] = []
    for account in store.accounts(engine.db):
        if not account.enabled or account.source not in ("superops", "quickbooks"):
            continue
        every = account.sync_every_minutes or cfg.sync_every_minutes
        start = sync_slot(now, every)
        out.append(
            Due(
                f"sync:{account.tenant_id}:{account.source}@{start:%Y-%m-%dT%H:%M}",
                "sync",
                {"tenant_id": account.tenant_id, "source": account.source},
            )
        )
    for tenant_id, timezone in ((t.id, t.timezone) for t in list_tenants(engine.db)):
        local = now.astimezone(_zone(timezone))
        night = local.replace(hour=cfg.train_hour, minute=0, second=0, microsecond=0)
        if night > local:
            night -= dt.timedelta(days=1)
        if local - night <= TRAIN_GRACE:
            out.append(
                Due(f"train:{tenant_id}@{night:%Y-%m-%d}", "train", {"tenant_id": tenant_id})
            )
        d = insights_store.delivery_for(engine.db, tenant_id)
        if d.paused:
            continue
        for slot, kind in due_slots(
            now,
            timezone,
            weekday=insights.weekday if d.weekday is None else d.weekday,
            hour=insights.hour if d.hour is None else d.hour,
            daily=insights.daily_alerts if d.daily_alerts is None else d.daily_alerts,
            grace=dt.timedelta(hours=insights.grace_hours),
        ):
            out.append(
                Due(
                    f"digest:{tenant_id}:{slot}",
                    "digest",
                    {"tenant_id": tenant_id, "kind": kind, "slot": slot},
                )
            )
    return out


class Scheduler:
    """Ticks every ``scheduler_poll_s``; only the leader enqueues, each slot once."""

    def __init__(self, engine: TaskEngine, *, holder: str | None = None) -> None:
        self.engine = engine
        self.holder = holder or engine.worker_id
        self.leader = False
        self._stop = threading.Event()

    def tick(self, now: dt.datetime | None = None) -> list[Due]:
        """Take or renew the leader lease; if held, enqueue every due slot not yet claimed."""
        now = now or store.utcnow()
        db = self.engine.db
        self.leader = store.acquire_lock(
            db, LEADER_LEASE, self.holder, now, self.engine.tasks.tasks.lease_s
        )
        if not self.leader:
            return []
        sent = []
        for item in due(self.engine, now):
            if not store.claim_slot(db, item.slot, self.holder, now):
                continue
            try:
                message_id = self.engine.enqueue(item.job, dict(item.kwargs))
            except Exception as exc:
                store.release_slot(db, item.slot)
                log.warning("slot not enqueued", slot=item.slot, error=repr(exc))
                continue
            store.slot_enqueued(db, item.slot, message_id)
            sent.append(item)
        store.prune_slots(db, now - dt.timedelta(days=14))
        return sent

    def run(self) -> None:
        """Tick until :meth:`stop` (``mspilot scheduler``)."""
        poll = self.engine.tasks.tasks.scheduler_poll_s
        while not self._stop.is_set():
            try:
                sent = self.tick()
                if sent:
                    log.info("slots enqueued", slots=[d.slot for d in sent])
            except Exception as exc:  # the database may be restarting: try again next tick
                log.warning("scheduler tick failed", error=repr(exc))
            self._stop.wait(poll)
        if self.leader:
            store.release_lock(self.engine.db, LEADER_LEASE, self.holder)

    def stop(self) -> None:
        self._stop.set()
