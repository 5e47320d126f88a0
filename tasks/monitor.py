"""What the API shows of the task engine: Prometheus metrics, a readiness check, and the
follower that drops a tenant's cached predictions when a rescore saw new data.

Metrics come from the shared database and the broker (workers run elsewhere), refreshed in the
background every ``refresh_s``; a scrape only reads the last snapshot:

- ``mspilot_task_queue_depth{queue,state}``: messages ready, delayed (retries), dead-lettered;
- ``mspilot_task_runs{job,status}`` and ``mspilot_task_failures{job}``: runs in the last 24 h;
- ``mspilot_task_duration_seconds{job}``: a histogram of the last 24 h's finished runs;
- ``mspilot_sync_last_success_timestamp_seconds{tenant,source}``: the freshness of each sync;
- ``mspilot_task_broker_up``: 1 when the broker answered the last refresh.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select

from mspilot.core.logging import get_logger
from mspilot.db.schema_tasks import TaskRun
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine

log = get_logger(__name__)
BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


@dataclass
class Snapshot:
    depth: dict[str, int] = field(default_factory=dict)
    broker_up: bool = True
    runs: dict[tuple[str, str], int] = field(default_factory=dict)
    durations: dict[str, list[float]] = field(default_factory=dict)
    last_sync: dict[tuple[str, str], float] = field(default_factory=dict)


def durations_since(engine: Engine, since: dt.datetime) -> dict[str, list[float]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(TaskRun.job, TaskRun.duration_s).where(
                TaskRun.started_at >= since, TaskRun.duration_s.is_not(None)
            )
        ).all()
    out: dict[str, list[float]] = {}
    for job, seconds in rows:
        if seconds is not None:
            out.setdefault(str(job), []).append(float(seconds))
    return out


def take_snapshot(engine: TaskEngine) -> Snapshot:
    snap = Snapshot()
    since = store.utcnow() - dt.timedelta(hours=24)
    try:
        snap.depth = engine.queue_depth()
    except Exception as exc:
        snap.broker_up = False
        log.warning("broker not reachable", error=type(exc).__name__)
    snap.runs = store.counts_by_status(engine.db, since)
    snap.durations = durations_since(engine.db, since)
    for key, at in store.last_success(engine.db, "sync").items():
        _job, tenant, source = [*key.split(":", 2), "", ""][:3]
        snap.last_sync[(tenant, source)] = at.timestamp()
    return snap


class TaskMetrics(Collector):
    """A Prometheus collector over the last :class:`Snapshot`."""

    def __init__(self, engine: TaskEngine) -> None:
        self.engine = engine
        self.snapshot = Snapshot()

    def refresh(self) -> None:
        self.snapshot = take_snapshot(self.engine)

    def collect(self) -> Iterator[Any]:
        snap = self.snapshot
        depth = GaugeMetricFamily(
            "mspilot_task_queue_depth", "Messages in the task queue", labels=["queue", "state"]
        )
        for state, count in snap.depth.items():
            depth.add_metric([self.engine.queue, state], count)
        yield depth
        yield GaugeMetricFamily(
            "mspilot_task_broker_up", "1 if the broker answered", value=int(snap.broker_up)
        )
        runs = GaugeMetricFamily(
            "mspilot_task_runs", "Task runs in the last 24 h", labels=["job", "status"]
        )
        failures = GaugeMetricFamily(
            "mspilot_task_failures", "Failed, dead or lost runs in the last 24 h", labels=["job"]
        )
        failed: dict[str, int] = {}
        for (job, status), count in sorted(snap.runs.items()):
            runs.add_metric([job, status], count)
            if status in ("failed", "dead", "lost"):
                failed[job] = failed.get(job, 0) + count
        for job, count in sorted(failed.items()):
            failures.add_metric([job], count)
        yield runs
        yield failures
        hist = HistogramMetricFamily(
            "mspilot_task_duration_seconds", "Task run durations, last 24 h", labels=["job"]
        )
        for job, values in sorted(snap.durations.items()):
            buckets = [(str(b), sum(v <= b for v in values)) for b in BUCKETS]
            buckets.append(("+Inf", len(values)))
            hist.add_metric([job], buckets, sum_value=sum(values))
        yield hist
        fresh = GaugeMetricFamily(
            "mspilot_sync_last_success_timestamp_seconds",
            "When each tenant's source last synced successfully (Unix time)",
            labels=["tenant", "source"],
        )
        for (tenant, source), at in sorted(snap.last_sync.items()):
            fresh.add_metric([tenant, source], at)
        yield fresh


class VersionFollower:
    """Calls ``invalidate(tenant_id)`` once per rescore that recorded a new data version."""

    def __init__(self, engine: Engine, invalidate: Callable[[str], None]) -> None:
        self.engine = engine
        self.invalidate = invalidate
        self.watermark: int | None = None
        self.versions: dict[str, str] = {}

    def poll(self) -> list[str]:
        with self.engine.connect() as conn:
            stmt = select(TaskRun.id, TaskRun.tenant_id, TaskRun.result).where(
                TaskRun.job == "rescore", TaskRun.status == "done"
            )
            if self.watermark is not None:
                stmt = stmt.where(TaskRun.id > self.watermark)
            rows = conn.execute(stmt.order_by(TaskRun.id)).all()
        first = self.watermark is None
        changed: list[str] = []
        for run_id, tenant_id, result in rows:
            self.watermark = int(run_id)
            version = _version_of(result)
            if tenant_id is None or version is None:
                continue
            if self.versions.get(tenant_id) != version:
                self.versions[tenant_id] = version
                if not first:
                    changed.append(str(tenant_id))
        if first and self.watermark is None:
            self.watermark = 0
        for tenant_id in dict.fromkeys(changed):
            self.invalidate(tenant_id)
        return changed


def _version_of(result: str | None) -> str | None:
    import json

    if not result:
        return None
    try:
        value = json.loads(result).get("data_version")
    except (ValueError, AttributeError):
        return None
    return None if value is None else str(value)


class Monitor:
    """The background thread refreshing metrics and following data versions."""

    def __init__(
        self, metrics: TaskMetrics, follower: VersionFollower, interval_s: float = 10.0
    ) -> None:
        self.metrics = metrics
        self.follower = follower
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for step in (self.metrics.refresh, self.follower.poll):
                try:
                    step()
                except Exception as exc:  # the database may be restarting
                    log.warning("task monitor step failed", error=repr(exc))
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
