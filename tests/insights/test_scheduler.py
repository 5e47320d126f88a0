"""Schedule slots, one active scheduler among workers, and each slot sent exactly once."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, func, select

from mspilot.core.settings import InsightsSettings, Settings
from mspilot.db.engine import make_engine
from mspilot.db.loader import upsert_tenant
from mspilot.db.schema_insights import DigestRun, InsightSent
from mspilot.insights import store
from mspilot.insights.scheduler import LEASE_NAME, DigestScheduler, due_slots, run_digest
from support.insights_world import AS_OF, planted_signals, tenant_with_clients

UTC = dt.UTC
GRACE = dt.timedelta(hours=6)


def _slots(now: dt.datetime, tz: str = "America/New_York") -> list[tuple[str, str]]:
    return list(due_slots(now, tz, weekday=0, hour=8, daily=True, grace=GRACE))


def test_weekly_and_daily_slots_in_tenant_time() -> None:
    # 2026-11-02 is a Monday; New York is UTC-5 then (EST)
    monday_0810 = dt.datetime(2026, 11, 2, 13, 10, tzinfo=UTC)
    assert _slots(monday_0810) == [("weekly:2026-11-02T08:00", "weekly")]  # no daily on Mondays
    tuesday_0830 = dt.datetime(2026, 11, 3, 13, 30, tzinfo=UTC)
    assert _slots(tuesday_0830) == [("daily:2026-11-03T08:00", "daily")]
    monday_0730 = dt.datetime(2026, 11, 2, 12, 30, tzinfo=UTC)
    assert _slots(monday_0730) == []  # last week's slot and Sunday's are past the grace
    thursday = dt.datetime(2026, 11, 5, 20, 0, tzinfo=UTC)
    assert _slots(thursday) == []  # a missed Monday is not sent on Thursday
    # Tokyo's Monday 08:00 is Sunday 23:00 UTC
    assert _slots(dt.datetime(2026, 11, 1, 23, 5, tzinfo=UTC), "Asia/Tokyo")[0] == (
        "weekly:2026-11-02T08:00",
        "weekly",
    )
    # an unknown zone falls back to UTC instead of failing
    assert _slots(dt.datetime(2026, 11, 2, 8, 1, tzinfo=UTC), "Mars/Olympus")[0][1] == "weekly"


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path, today=AS_OF, insights=InsightsSettings(lease_s=90, grace_hours=6)
    )


def test_two_workers_one_leader_and_each_slot_once(db_url: str, tmp_path: Path) -> None:
    """Two schedulers (own engines, own threads) tick in lockstep over three simulated days:
    at every step exactly one holds the lease, and every due slot is built exactly once."""
    setup = make_engine(db_url)
    clients = tenant_with_clients(setup, "acme")
    with setup.begin() as conn:
        upsert_tenant(conn, "beta", "Beta MSP", timezone="Asia/Tokyo")
    setup.dispose()
    settings = _settings(tmp_path)
    signals = planted_signals(clients)
    steps = [
        dt.datetime(2026, 11, 1, 0, 0, tzinfo=UTC) + dt.timedelta(minutes=30 * k)
        for k in range(144)
    ]
    barrier = threading.Barrier(2)
    leaders: list[list[bool]] = [[], []]
    outcomes: list[list[str]] = [[], []]
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        engine = make_engine(db_url)
        scheduler = DigestScheduler(
            engine, settings, holder=f"worker-{n}", signals_for=lambda _t: signals
        )
        try:
            for now in steps:
                barrier.wait(timeout=60)
                ran = scheduler.tick(now)
                leaders[n].append(scheduler.leader)
                outcomes[n].extend(f"{o.tenant_id}/{o.slot}" for o in ran if o.error is None)
                errors.extend(RuntimeError(o.error) for o in ran if o.error)
        except BaseException as exc:
            errors.append(exc)
            barrier.abort()
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert all(a != b for a, b in zip(leaders[0], leaders[1], strict=True))  # one leader a step
    ran = Counter(outcomes[0] + outcomes[1])
    assert set(ran.values()) == {1}  # nothing ran twice
    assert sorted(ran) == sorted(
        [
            "acme/daily:2026-11-01T08:00",
            "acme/weekly:2026-11-02T08:00",
            "acme/daily:2026-11-03T08:00",
            "beta/daily:2026-11-01T08:00",  # Tokyo: Sunday 08:00 JST, 1 h before the first step
            "beta/weekly:2026-11-02T08:00",
            "beta/daily:2026-11-03T08:00",
            "beta/daily:2026-11-04T08:00",
        ]
    )
    check = make_engine(db_url)
    with check.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DigestRun)) == 7
        statuses = set(conn.scalars(select(DigestRun.status)))
        # the weekly digest recorded its insights as sent (so the dailies did not repeat them)
        sent = conn.scalar(
            select(func.count()).select_from(InsightSent).where(InsightSent.tenant_id == "acme")
        )
    check.dispose()
    assert statuses == {"done"} and sent == 7


def test_a_dead_leader_is_replaced_after_its_lease(sqlite_engine: Engine, tmp_path: Path) -> None:
    tenant_with_clients(sqlite_engine)
    settings = _settings(tmp_path)
    a = DigestScheduler(sqlite_engine, settings, holder="a", signals_for=lambda _t: None)
    b = DigestScheduler(sqlite_engine, settings, holder="b", signals_for=lambda _t: None)
    t0 = dt.datetime(2026, 11, 4, 1, 0, tzinfo=UTC)  # Wednesday night: nothing due
    a.tick(t0)
    b.tick(t0 + dt.timedelta(seconds=30))
    assert a.leader and not b.leader
    # a stops ticking (dies); once its lease (90 s) has expired b takes over
    b.tick(t0 + dt.timedelta(seconds=60))
    assert not b.leader
    b.tick(t0 + dt.timedelta(seconds=120))
    assert b.leader
    assert store.lease_holder(sqlite_engine, LEASE_NAME)[0] == "b"
    b.stop()
    assert store.lease_holder(sqlite_engine, LEASE_NAME) is None


def test_cron_and_scheduler_share_slots_and_failed_runs_retry(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    clients = tenant_with_clients(sqlite_engine)
    settings = _settings(tmp_path)
    now = dt.datetime(2026, 11, 2, 8, 5, tzinfo=UTC)
    signals = planted_signals(clients)
    first = run_digest(
        sqlite_engine,
        settings,
        "acme",
        kind="weekly",
        slot="weekly:x",
        holder="cron",
        now=now,
        signals=signals,
    )
    assert first is not None and first.error is None and first.items == 7
    again = run_digest(
        sqlite_engine,
        settings,
        "acme",
        kind="weekly",
        slot="weekly:x",
        holder="server",
        now=now,
        signals=signals,
    )
    assert again is None  # already claimed
    # a run whose every channel fails is marked failed and retried (at most 3 attempts)
    store.configure_delivery(sqlite_engine, "acme", now, email_to="ops@acme.test")
    broken = settings.model_copy(
        update={"smtp": settings.smtp.model_copy(update={"host": "127.0.0.1", "port": 9})}
    )
    attempts = [
        run_digest(
            sqlite_engine,
            broken,
            "acme",
            kind="weekly",
            slot="weekly:y",
            holder="s",
            now=now,
            signals=signals,
        )
        for _ in range(4)
    ]
    assert [a is not None and a.error is not None for a in attempts] == [True, True, True, False]
    assert attempts[3] is None
    (run,) = [r for r in store.runs(sqlite_engine, "acme") if r.slot == "weekly:y"]
    assert run.status == "failed" and run.attempts == 3 and "every channel failed" in run.error
