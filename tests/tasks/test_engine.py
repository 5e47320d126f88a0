"""The task engine: jobs through the real connectors and fakes, in-process and on the real
brokers; locks, retries with backoff, dead letters."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.connectors.demo_sync import FakeVendors
from mspilot.connectors.errors import TransientError
from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.connectors.fakes.sample import SampleDataset
from mspilot.db.bookmarks import get_bookmarks
from mspilot.db.loader import create_tenant
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine
from mspilot.tasks.sources import build_tenant_source

from .conftest import RABBITMQ_URL, REDIS_URL, TENANT, settings_for, task_settings


def _engine(
    sqlite_engine: Engine,
    tmp_path: Path,
    vendors: FakeVendors | None = None,
    broker_url: str | None = None,
    **kwargs: Any,
) -> TaskEngine:
    create_tenant(sqlite_engine, TENANT)
    today = vendors.clock.now().date() if vendors is not None else None
    settings = settings_for(str(sqlite_engine.url), tmp_path / "var", vendors, today)
    return TaskEngine(settings, task_settings(broker_url), engine=sqlite_engine, **kwargs)


def _wait(engine: Engine, done: Any, timeout_s: float = 30.0) -> list[store.RunRow]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = store.runs(engine, limit=100)
        if done(runs):
            return runs
        time.sleep(0.1)
    raise AssertionError(f"not done in {timeout_s} s: {[(r.key, r.status) for r in runs]}")


def test_in_process_syncs_load_the_vendors_data_and_ask_for_a_rescore_and_reindex(
    sqlite_engine: Engine, tmp_path: Path, vendors: FakeVendors, dataset: SampleDataset
) -> None:
    tasks = _engine(sqlite_engine, tmp_path, vendors)
    assert tasks.embedded
    for source in ("superops", "quickbooks"):
        tasks.enqueue("sync", {"tenant_id": TENANT, "source": source})
    assert compare_with_dataset(sqlite_engine, TENANT, dataset.tables, vendors.ids) == []
    runs = {(r.job, r.status) for r in store.runs(sqlite_engine)}
    assert {("sync", "done"), ("rescore", "done"), ("reindex", "done")} <= runs
    assert set(get_bookmarks(sqlite_engine, TENANT, "superops")) >= {"tickets", "clients"}
    # nothing changed at the vendors: the next sync changes nothing and asks for nothing
    tasks.enqueue("sync", {"tenant_id": TENANT, "source": "superops"})
    last = store.runs(sqlite_engine, job="sync", limit=1)[0]
    assert last.status == "done" and last.result is not None
    assert last.result["changed"] == 0 and last.result["follow_ups"] == []


def test_one_sync_per_tenant_and_source_a_scheduled_one_skips_a_webhook_one_defers(
    sqlite_engine: Engine, tmp_path: Path, vendors: FakeVendors
) -> None:
    tasks = _engine(sqlite_engine, tmp_path, vendors)
    tasks.tasks.tasks.defer_ms = 200
    name = f"sync:{TENANT}:superops"
    assert store.acquire_lock(sqlite_engine, name, "another-worker", store.utcnow(), 60)
    tasks.enqueue("sync", {"tenant_id": TENANT, "source": "superops"})
    skipped = store.runs(sqlite_engine, job="sync", limit=1)[0]
    assert skipped.status == "skipped" and "another-worker" in str(skipped.result)
    tasks.start_local_worker(1)
    try:
        tasks.enqueue("sync", {"tenant_id": TENANT, "source": "superops", "trigger": "webhook"})
        _wait(sqlite_engine, lambda runs: sum(r.status == "skipped" for r in runs) >= 2)
        store.release_lock(sqlite_engine, name, "another-worker")  # the holder finished
        runs = _wait(
            sqlite_engine, lambda runs: any(r.status == "done" and r.job == "sync" for r in runs)
        )
    finally:
        tasks.stop_local_worker()
    webhook = [r for r in runs if r.job == "sync" and r.args.get("trigger") == "webhook"]
    assert webhook[-1].status == "skipped" and webhook[0].status == "done"  # newest first


def test_a_transient_failure_is_retried_with_backoff_and_a_poisoned_task_is_dead_lettered(
    sqlite_engine: Engine, tmp_path: Path, vendors: FakeVendors
) -> None:
    failures = {"left": 1}

    def flaky(*args: Any) -> Any:
        if failures["left"]:
            failures["left"] -= 1
            raise TransientError("vendor hiccup")
        return build_tenant_source(*args)

    tasks = _engine(sqlite_engine, tmp_path, vendors, source_factory=flaky)
    tasks.start_local_worker(2)
    try:
        tasks.enqueue("sync", {"tenant_id": TENANT, "source": "superops", "trigger": "manual"})
        tasks.enqueue("sync", {"tenant_id": TENANT, "source": "nowhere"})
        runs = _wait(
            sqlite_engine,
            lambda runs: (
                any(r.status == "dead" for r in runs)
                and any(r.status == "done" and r.job == "sync" for r in runs)
            ),
        )
    finally:
        tasks.stop_local_worker()
    superops = [r for r in runs if r.job == "sync" and r.args["source"] == "superops"]
    assert [(r.attempt, r.status) for r in reversed(superops)] == [(1, "failed"), (2, "done")]
    assert len({r.message_id for r in superops}) == 1  # the same message, redelivered
    [dead] = [r for r in runs if r.status == "dead"]
    assert dead.args["source"] == "nowhere" and dead.attempt == 1  # not retried: poison
    assert tasks.queue_depth()["dead"] == 1


@pytest.mark.parametrize("broker_url", [RABBITMQ_URL, REDIS_URL], ids=["rabbitmq", "redis"])
def test_a_real_broker_carries_a_task_to_a_worker_and_back(
    sqlite_engine: Engine, tmp_path: Path, broker_url: str
) -> None:
    tasks = _engine(sqlite_engine, tmp_path, broker_url=broker_url)
    assert not tasks.embedded and tasks.ping()["ok"]
    worker = tasks.worker(1)
    worker.start()
    try:
        message_id = tasks.enqueue("rescore", {"tenant_id": TENANT})
        runs = _wait(sqlite_engine, lambda runs: any(r.status == "done" for r in runs))
    finally:
        worker.stop()
        _drop_queue(tasks)
    [run] = runs
    assert run.message_id == message_id and run.worker == tasks.worker_id
    assert run.result is not None and run.result["data_version"]


def _drop_queue(tasks: TaskEngine) -> None:
    """Remove the test's private queue from the shared broker."""
    from dramatiq.common import dq_name, xq_name

    if tasks.tasks.broker_url and tasks.tasks.broker_url.startswith("amqp"):
        channel = tasks.broker.channel  # type: ignore[attr-defined]
        for queue in (tasks.queue, dq_name(tasks.queue), xq_name(tasks.queue)):
            channel.queue_delete(queue)
    else:
        client = tasks.broker.client  # type: ignore[attr-defined]
        for key in client.keys(f"mspilot-tasks:{tasks.queue}*"):
            client.delete(key)
    tasks.close()


def test_unknown_job_names_are_refused(sqlite_engine: Engine, tmp_path: Path) -> None:
    from mspilot.core.errors import UserInputError

    tasks = _engine(sqlite_engine, tmp_path)
    with pytest.raises(UserInputError):
        tasks.enqueue(f"nope-{uuid.uuid4().hex[:4]}", {})
