"""What the API learns from the task tables: a rescore at a new data version drops that
tenant's cached predictions (once), and the metrics show queue depth, failures and freshness."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine

from mspilot.db.loader import create_tenant
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine
from mspilot.tasks.monitor import TaskMetrics, VersionFollower

from .conftest import TENANT, settings_for, task_settings


def _run(
    engine: Engine, job: str, key: str, status: str, result: dict[str, str] | None = None
) -> None:
    now = store.utcnow()
    run_id = store.start_run(
        engine,
        job=job,
        tenant_id=TENANT,
        key=key,
        args={},
        message_id=None,
        attempt=1,
        worker="w",
        now=now,
    )
    store.finish_run(engine, run_id, status, now, duration_s=1.5, result=result)


def test_a_new_data_version_invalidates_the_tenant_once(sqlite_engine: Engine) -> None:
    dropped: list[str] = []
    follower = VersionFollower(sqlite_engine, dropped.append)
    _run(sqlite_engine, "rescore", f"rescore:{TENANT}", "done", {"data_version": "v1"})
    follower.poll()  # start-up: what exists is the baseline
    assert dropped == []
    _run(sqlite_engine, "rescore", f"rescore:{TENANT}", "done", {"data_version": "v1"})
    follower.poll()
    assert dropped == []  # the same data: caches stay
    _run(sqlite_engine, "rescore", f"rescore:{TENANT}", "done", {"data_version": "v2"})
    _run(sqlite_engine, "rescore", f"rescore:{TENANT}", "done", {"data_version": "v2"})
    follower.poll()
    assert dropped == [TENANT]


def test_metrics_show_failures_durations_and_sync_freshness(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    create_tenant(sqlite_engine, TENANT)
    tasks = TaskEngine(
        settings_for(str(sqlite_engine.url), tmp_path), task_settings(), engine=sqlite_engine
    )
    _run(sqlite_engine, "sync", f"sync:{TENANT}:superops", "done")
    _run(sqlite_engine, "sync", f"sync:{TENANT}:quickbooks", "dead")
    metrics = TaskMetrics(tasks)
    metrics.refresh()
    registry = CollectorRegistry()
    registry.register(metrics)
    text = generate_latest(registry).decode()
    assert 'mspilot_task_failures{job="sync"} 1.0' in text
    assert (
        f'mspilot_sync_last_success_timestamp_seconds{{source="superops",tenant="{TENANT}"}}'
        in text
    )
    assert "quickbooks" not in text.split("mspilot_sync_last_success_timestamp_seconds")[-1]
    assert 'mspilot_task_duration_seconds_count{job="sync"} 2.0' in text
    assert 'mspilot_task_queue_depth{queue="' in text
