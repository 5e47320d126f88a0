"""Schedules: each slot is enqueued once however many schedulers tick; sync cadence per account,
nightly training and the weekly digest at the tenant's local time."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from sqlalchemy import Engine, update

from mspilot.db.loader import create_tenant
from mspilot.db.schema import Tenant
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine
from mspilot.tasks.schedule import Scheduler, due, sync_slot

from .conftest import TENANT, settings_for, task_settings

SENT: list[tuple[str, dict[str, object]]] = []
SENT_LOCK = threading.Lock()


class Recording(TaskEngine):
    """An engine that records what it is asked to run (in one list, in order) instead of
    running it."""

    def enqueue(self, name: str, kwargs: dict[str, object], *, delay_ms: int | None = None) -> str:  # type: ignore[override]
        with SENT_LOCK:
            SENT.append((name, kwargs))
            return f"m{len(SENT)}"


def _engines(engine: Engine, tmp_path: Path, n: int) -> list[Recording]:
    create_tenant(engine, TENANT)
    with engine.begin() as conn:
        conn.execute(update(Tenant).where(Tenant.id == TENANT).values(timezone="America/Chicago"))
    now = store.utcnow()
    store.save_account(engine, TENANT, "superops", now, account="acme", sync_every_minutes=10)
    store.save_account(engine, TENANT, "quickbooks", now, account="123")
    settings = settings_for(str(engine.url), tmp_path / "var")
    SENT.clear()
    return [Recording(settings, task_settings(), engine=engine) for _ in range(n)]


def test_every_slot_runs_once_however_many_schedulers_tick(engine: Engine, tmp_path: Path) -> None:
    engines = _engines(engine, tmp_path, 4)
    # Monday 2026-11-02 08:05 in Chicago (14:05 UTC): the weekly digest slot is due; 02:00
    # training is due until 08:00 only, so not now
    now = dt.datetime(2026, 11, 2, 14, 5, tzinfo=dt.UTC)
    schedulers = [Scheduler(e, holder=f"s{i}") for i, e in enumerate(engines)]
    barrier = threading.Barrier(len(schedulers))

    def tick(s: Scheduler) -> None:
        barrier.wait()
        s.tick(now)

    threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sent = list(SENT)
    assert sorted((name, str(kw.get("source") or kw.get("kind"))) for name, kw in sent) == [
        ("digest", "weekly"),
        ("sync", "quickbooks"),
        ("sync", "superops"),
    ]
    assert sum(s.leader for s in schedulers) == 1
    # the same slots again (another tick, other schedulers, the lease passed on): nothing new
    store.release_lock(engine, "scheduler", next(s.holder for s in schedulers if s.leader))
    for s in schedulers:
        s.tick(now + dt.timedelta(minutes=3))
    assert len(SENT) == 3
    # ten minutes on: the superops account's next slot; quickbooks' default 15-minute one too
    for s in schedulers:
        s.tick(now + dt.timedelta(minutes=11))
    later = SENT[3:]
    assert sorted(str(kw.get("source")) for _n, kw in later) == ["quickbooks", "superops"], later


def test_training_is_nightly_at_the_tenants_hour(sqlite_engine: Engine, tmp_path: Path) -> None:
    [engine] = _engines(sqlite_engine, tmp_path, 1)
    night = dt.datetime(2026, 11, 3, 8, 30, tzinfo=dt.UTC)  # 02:30 in Chicago
    names = {d.slot for d in due(engine, night)}
    assert f"train:{TENANT}@2026-11-03" in names
    assert not any(
        n.startswith("train:") for n in (d.slot for d in due(engine, night + dt.timedelta(hours=7)))
    )


def test_sync_slots_align_to_the_cadence() -> None:
    at = dt.datetime(2026, 11, 2, 14, 7, 31, tzinfo=dt.UTC)
    assert sync_slot(at, 15) == dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
    assert sync_slot(at, 10) == dt.datetime(2026, 11, 2, 14, 0, tzinfo=dt.UTC)
    assert sync_slot(at, 7) == dt.datetime(2026, 11, 2, 14, 7 - (14 * 60 + 7) % 7, tzinfo=dt.UTC)
