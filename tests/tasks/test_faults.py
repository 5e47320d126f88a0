"""Proof under faults, on PostgreSQL with real brokers and real worker processes:

- a worker killed with SIGKILL in the middle of a sync: RabbitMQ redelivers the message to
  another worker, which resumes from the bookmarks: every row of the vendors is there once;
- the broker restarted in the middle of a run (a private Redis with an append-only file on a
  free port, so the shared brokers of other tests are left alone): the work resumes and ends;
- a poisoned task lands in the dead-letter queue and ``mspilot jobs status`` shows it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from mspilot.connectors.demo_sync import DEMO_SECRET_KEY, FakeVendors
from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.connectors.fakes.sample import SampleDataset
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import create_tenant
from mspilot.db.schema import TABLES_BY_NAME
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine

from .conftest import RABBITMQ_URL, TENANT, settings_for, task_settings

MSPILOT = str(Path(sys.executable).parent / "mspilot")
pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    create_tenant(engine, TENANT)
    yield engine
    engine.dispose()


def _env(
    vendors: FakeVendors, db_url: str, broker_url: str, queue: str, today: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSPILOT_")}
    return (
        env
        | vendors.env()
        | {
            "MSPILOT_DATABASE_URL": db_url,
            "MSPILOT_BROKER_URL": broker_url,
            "MSPILOT_TASKS__QUEUE": queue,
            "MSPILOT_TASKS__MIN_BACKOFF_MS": "100",
            "MSPILOT_TASKS__MAX_BACKOFF_MS": "500",
            "MSPILOT_TASKS__REDIS_HEARTBEAT_TIMEOUT_MS": "3000",
            "MSPILOT_TODAY": today,
            "MSPILOT_SECRET_KEY": DEMO_SECRET_KEY,
            "MSPILOT_SUPEROPS__PAGE_SIZE": "10",
            "MSPILOT_QUICKBOOKS__PAGE_SIZE": "10",
            "MSPILOT_SUPEROPS__REQUESTS_PER_MINUTE": "100000",
            "MSPILOT_QUICKBOOKS__REQUESTS_PER_MINUTE": "100000",
            "MSPILOT_LOG_LEVEL": "WARNING",
        }
    )


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [MSPILOT, "worker", "--threads", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(
    engine: Engine, done: Callable[[list[store.RunRow]], bool], timeout_s: float = 150
) -> list[store.RunRow]:
    deadline = time.monotonic() + timeout_s
    runs: list[store.RunRow] = []
    while time.monotonic() < deadline:
        runs = store.runs(engine, limit=200)
        if done(runs):
            return runs
        time.sleep(0.3)
    raise AssertionError(f"not done in {timeout_s} s: {[(r.key, r.status, r.error) for r in runs]}")


def _row_counts(engine: Engine) -> dict[str, tuple[int, int]]:
    """(rows, distinct ids) per synced table: equal when nothing is doubled."""
    out = {}
    with engine.connect() as conn:
        for name, model in TABLES_BY_NAME.items():
            rows = conn.scalar(
                select(func.count()).select_from(model).where(model.tenant_id == TENANT)
            )
            ids = conn.scalar(
                select(func.count(func.distinct(model.id))).where(model.tenant_id == TENANT)
            )
            out[name] = (int(rows or 0), int(ids or 0))
    return out


def _drop_rabbit_queue(tasks: TaskEngine) -> None:
    """Remove the test's private queues from the shared RabbitMQ (a fresh connection)."""
    import pika
    from dramatiq.common import dq_name, xq_name

    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    try:
        channel = connection.channel()
        for queue in (tasks.queue, dq_name(tasks.queue), xq_name(tasks.queue)):
            channel.queue_delete(queue)
    finally:
        connection.close()
    with contextlib.suppress(Exception):
        tasks.close()


def test_a_worker_killed_mid_sync_is_redelivered_and_resumes_from_bookmarks(
    pg_engine: Engine, pg_url: str, tmp_path: Path, vendors: FakeVendors, dataset: SampleDataset
) -> None:
    today = vendors.clock.now().date()
    tasks = TaskEngine(
        settings_for(pg_url, tmp_path / "var", vendors, today),
        task_settings(RABBITMQ_URL),
        engine=pg_engine,
    )
    env = _env(vendors, pg_url, RABBITMQ_URL, tasks.queue, today.isoformat())
    env["MSPILOT_DATA_DIR"] = str(tmp_path / "var")
    first = _worker(env)
    killed_at: list[int] = []

    def kill_mid_sync(count: int) -> None:
        if count == 30 and not killed_at:
            killed_at.append(count)
            os.kill(first.pid, signal.SIGKILL)

    vendors.superops.on_request = kill_mid_sync
    second: subprocess.Popen[bytes] | None = None
    try:
        message_id = tasks.enqueue(
            "sync", {"tenant_id": TENANT, "source": "superops", "trigger": "manual"}
        )
        assert first.wait(timeout=120) == -signal.SIGKILL
        vendors.superops.on_request = None
        served_before_kill = vendors.superops.requests
        second = _worker(env)
        runs = _wait(
            pg_engine, lambda rs: any(r.message_id == message_id and r.status == "done" for r in rs)
        )
        attempts = sorted((r.id, r.status) for r in runs if r.message_id == message_id)
        assert [s for _i, s in attempts] == ["lost", "done"]  # the killed attempt, the redelivery
        # the rest of the tenant's data and a poisoned task (an unknown source)
        tasks.enqueue("sync", {"tenant_id": TENANT, "source": "quickbooks", "trigger": "manual"})
        poison = tasks.enqueue("sync", {"tenant_id": TENANT, "source": "nowhere"})
        _wait(
            pg_engine,
            lambda rs: (
                any(r.key.endswith(":quickbooks") and r.status == "done" for r in rs)
                and any(r.message_id == poison and r.status == "dead" for r in rs)
            ),
        )
        status = subprocess.run(
            [MSPILOT, "jobs", "status", "--json"],
            env=env,
            capture_output=True,
            check=True,
            timeout=120,
        )
    finally:
        vendors.superops.on_request = None
        _stop(first)
        if second is not None:
            _stop(second)
        _drop_rabbit_queue(tasks)
    assert killed_at and served_before_kill >= 30
    assert compare_with_dataset(pg_engine, TENANT, dataset.tables, vendors.ids) == []  # 0 lost
    counts = _row_counts(pg_engine)
    assert all(rows == ids for rows, ids in counts.values()), counts  # 0 doubled
    report = json.loads(status.stdout)
    assert report["queue_depth"]["dead"] == 1
    assert [f["args"]["source"] for f in report["failures"] if f["status"] == "dead"] == ["nowhere"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_server(port: int, folder: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("private redis-server did not start")


def test_the_broker_restarted_mid_run_and_the_work_resumes(
    pg_engine: Engine, pg_url: str, tmp_path: Path, vendors: FakeVendors, dataset: SampleDataset
) -> None:
    port = _free_port()
    folder = tmp_path / "redis"
    folder.mkdir()
    broker_url = f"redis://127.0.0.1:{port}/0"
    redis_proc = _redis_server(port, folder)
    today = vendors.clock.now().date()
    tasks = TaskEngine(
        settings_for(pg_url, tmp_path / "var", vendors, today),
        task_settings(broker_url),
        engine=pg_engine,
    )
    env = _env(vendors, pg_url, broker_url, tasks.queue, today.isoformat())
    env["MSPILOT_DATA_DIR"] = str(tmp_path / "var")
    restarted: list[bool] = []

    def restart_broker(count: int) -> None:
        nonlocal redis_proc
        if count == 20 and not restarted:
            restarted.append(True)
            redis_proc.terminate()  # a clean stop: the append-only file has every message
            redis_proc.wait(timeout=20)
            time.sleep(1.0)
            redis_proc = _redis_server(port, folder)

    worker = _worker(env)
    try:
        first = tasks.enqueue(
            "sync", {"tenant_id": TENANT, "source": "superops", "trigger": "manual"}
        )
        second = tasks.enqueue(
            "sync", {"tenant_id": TENANT, "source": "quickbooks", "trigger": "manual"}
        )
        vendors.superops.on_request = restart_broker
        _wait(
            pg_engine,
            lambda rs: all(
                any(r.message_id == m and r.status == "done" for r in rs) for m in (first, second)
            ),
        )
        vendors.superops.on_request = None
        after = tasks.enqueue("rescore", {"tenant_id": TENANT})  # the broker works again
        _wait(pg_engine, lambda rs: any(r.message_id == after and r.status == "done" for r in rs))
    finally:
        vendors.superops.on_request = None
        _stop(worker)
        tasks.close()
        redis_proc.terminate()
        redis_proc.wait(timeout=20)
    assert restarted
    assert compare_with_dataset(pg_engine, TENANT, dataset.tables, vendors.ids) == []
    assert all(rows == ids for rows, ids in _row_counts(pg_engine).values())
