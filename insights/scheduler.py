"""When digests go out, and making sure each goes out once.

- Slots: the weekly digest at ``weekday`` ``hour``:00 tenant time (default Monday 08:00), the
  daily alert (urgent items only) at ``hour``:00 on the other days. A slot is run if it is due and
  no more than ``grace_hours`` old (a server down on Monday does not send Monday's digest on
  Thursday).
- One active scheduler: each server worker ticks, but only the holder of the database lease
  (``scheduler_leases``) runs slots; a dead holder's lease expires and another worker takes
  over.
- Once per slot: ``digest_runs`` has a unique (tenant, slot) key; whoever inserts it builds and
  sends the digest (the lease avoids the race, the key makes it impossible), so a scheduler and
  ``mspilot digest run`` from cron can coexist.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine

from mspilot.agent.approvals import ApprovalFlow
from mspilot.core.clock import Clock
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.db.tenants import list_tenants
from mspilot.insights import store
from mspilot.insights.delivery import deliver
from mspilot.insights.digest import build_digest, commit_digest
from mspilot.insights.feedback import propose_approvals
from mspilot.insights.model import DigestKind
from mspilot.insights.signals import Signals

log = get_logger(__name__)
LEASE_NAME = "digest-scheduler"
SignalsFor = Callable[[str], Signals | None]


def holder_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def last_weekly(local: dt.datetime, weekday: int, hour: int) -> dt.datetime:
    """The latest weekly slot at or before ``local`` (same zone)."""
    back = (local.weekday() - weekday) % 7
    slot = (local - dt.timedelta(days=back)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= local else slot - dt.timedelta(days=7)


def last_daily(local: dt.datetime, hour: int) -> dt.datetime:
    slot = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= local else slot - dt.timedelta(days=1)


def due_slots(
    now: dt.datetime,
    timezone: str,
    *,
    weekday: int,
    hour: int,
    daily: bool,
    grace: dt.timedelta,
) -> Iterator[tuple[str, DigestKind]]:
    """(slot id, kind) of the slots due at ``now`` (UTC), newest first."""
    local = now.astimezone(_zone(timezone))
    weekly = last_weekly(local, weekday, hour)
    if local - weekly <= grace:
        yield f"weekly:{weekly:%Y-%m-%dT%H:%M}", "weekly"
    if daily:
        day = last_daily(local, hour)
        if day != weekly and local - day <= grace:
            yield f"daily:{day:%Y-%m-%dT%H:%M}", "daily"


@dataclass
class RunOutcome:
    tenant_id: str
    slot: str
    kind: str
    run_id: int
    items: int = 0
    dollars: float = 0.0
    deliveries: dict[str, str] = field(default_factory=dict)
    error: str | None = None


def run_digest(
    engine: Engine,
    settings: Settings,
    tenant_id: str,
    *,
    kind: DigestKind,
    slot: str,
    holder: str,
    flow: ApprovalFlow | None = None,
    now: dt.datetime | None = None,
    signals: Signals | None = None,
) -> RunOutcome | None:
    """Claim (tenant, slot), build, deliver and record the digest; None if already claimed.

    If every configured channel failed the run is marked failed (retried at the next tick, at
    most three attempts) and nothing is recorded as sent."""
    now = now or store.utcnow()
    run_id = store.claim_run(engine, tenant_id, slot, kind, holder, now)
    if run_id is None:
        return None
    outcome = RunOutcome(tenant_id, slot, kind, run_id)
    try:
        digest = build_digest(
            engine,
            tenant_id,
            as_of=Clock(settings.today).today(),
            data_dir=settings.data_dir,
            kind=kind,
            max_items=settings.insights.max_items,
            signals=signals,
            now=now,
        )
        digest.digest_id = run_id
        outcome.deliveries = deliver(
            settings, store.delivery_for(engine, tenant_id), digest, engine=engine
        )
        tried = [o for o in outcome.deliveries.values() if not o.startswith("skipped")]
        if tried and all(o.startswith("failed") for o in tried):
            raise RuntimeError("every channel failed: " + "; ".join(tried))
        commit_digest(engine, digest, now)
        if flow is not None:
            propose_approvals(flow, tenant_id, digest.items)
        store.finish_run(engine, run_id, digest, outcome.deliveries, store.utcnow())
        outcome.items = len(digest.items)
        outcome.dollars = digest.total_dollars
        log.info(
            "digest sent",
            tenant_id=tenant_id,
            slot=slot,
            items=outcome.items,
            deliveries=outcome.deliveries,
        )
    except Exception as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
        store.fail_run(engine, run_id, outcome.error, store.utcnow())
        log.warning("digest failed", tenant_id=tenant_id, slot=slot, error=outcome.error)
    return outcome


def run_due(
    engine: Engine,
    settings: Settings,
    now: dt.datetime,
    *,
    holder: str,
    tenant_id: str | None = None,
    flow: ApprovalFlow | None = None,
    signals_for: SignalsFor | None = None,
    keep_lease: Callable[[], bool] | None = None,
) -> list[RunOutcome]:
    """Run every slot due at ``now`` (each tenant's schedule), each at most once."""
    cfg = settings.insights
    outcomes = []
    for tenant in list_tenants(engine):
        tid, timezone = tenant.id, tenant.timezone
        if tenant_id is not None and tid != tenant_id:
            continue
        if keep_lease is not None and not keep_lease():
            break
        d = store.delivery_for(engine, tid)
        if d.paused:
            continue
        slots = due_slots(
            now,
            timezone,
            weekday=cfg.weekday if d.weekday is None else d.weekday,
            hour=cfg.hour if d.hour is None else d.hour,
            daily=cfg.daily_alerts if d.daily_alerts is None else d.daily_alerts,
            grace=dt.timedelta(hours=cfg.grace_hours),
        )
        for slot, kind in slots:
            result = run_digest(
                engine,
                settings,
                tid,
                kind=kind,
                slot=slot,
                holder=holder,
                flow=flow,
                now=now,
                signals=signals_for(tid) if signals_for else None,
            )
            if result is not None:
                outcomes.append(result)
    return outcomes


class DigestScheduler:
    """One per server worker; only the lease holder runs slots."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        holder: str | None = None,
        flow: ApprovalFlow | None = None,
        signals_for: SignalsFor | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.holder = holder or holder_id()
        self.flow = flow
        self.signals_for = signals_for
        self.leader = False

    def _lease(self, now: dt.datetime) -> bool:
        self.leader = store.acquire_lease(
            self.engine, LEASE_NAME, self.holder, now, self.settings.insights.lease_s
        )
        return self.leader

    def tick(self, now: dt.datetime | None = None) -> list[RunOutcome]:
        """Take or renew the lease; if held, run the due slots."""
        now = now or store.utcnow()
        if not self._lease(now):
            return []
        started = time.monotonic()
        return run_due(
            self.engine,
            self.settings,
            now,
            holder=self.holder,
            flow=self.flow,
            signals_for=self.signals_for,
            keep_lease=lambda: self._lease(now + dt.timedelta(seconds=time.monotonic() - started)),
        )

    def stop(self) -> None:
        if self.leader:
            store.release_lease(self.engine, LEASE_NAME, self.holder)
            self.leader = False
