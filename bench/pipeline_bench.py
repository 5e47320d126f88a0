"""Pipeline benchmark: the nightly pipeline of many tenants through the task engine.

    python -m mspilot.bench.pipeline_bench [--tenants 20] [--clients 150] [--years 1]
                                           [--workers 1 2] [--json]

Setup (not timed): ``--tenants`` demo MSPs of ``--clients`` clients are generated and served by
the vendor fakes (one SuperOps and one QuickBooks company per tenant, each with its own
subdomain / realm, so each has its own shared rate limit), each tenant gets a vendor account
with its endpoints and its secrets in the encrypted credential store, in a private PostgreSQL
schema. Then, for each worker count, a fresh schema and, timed:

- the pipeline: every tenant's SuperOps and QuickBooks sync (each asks for a rescore and a
  knowledge-base re-index), then every tenant's training (champion/challenger), then every
  tenant's digest -- all enqueued on RabbitMQ (a private queue) and run by ``N`` ``mspilot
  worker`` processes sharing Redis token buckets;
- while it runs, ``/readyz`` of an API server on the same database (database + broker check)
  is polled ten times a second: its p99 latency;
- the vendors' requests per minute per account (the busiest 60-second window) against the
  account's limit.

Printed: wall time per phase and in all, the 2-worker speed-up over 1 worker, API p99, and
the peak requests/min per vendor account with its limit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

PG_URL = os.environ.get("MSPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("MSPILOT_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("MSPILOT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
SECRET_KEY = "pipeline-bench-secret-key-0123456789"
SUPEROPS_LIMIT = 600  # requests/min per SuperOps account (the bench's stand-in for the real cap)
QUICKBOOKS_LIMIT = 500  # requests/min per QuickBooks company (Intuit's documented limit)


def _schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


class Vendors:
    """Every tenant's two fake companies, mounted under /<tenant>/ on two servers."""

    def __init__(self, datasets: list[Any], clock: Any) -> None:
        from fastapi import FastAPI

        from mspilot.connectors.fakes.common import ServedApp
        from mspilot.connectors.fakes.quickbooks import QuickBooksFake
        from mspilot.connectors.fakes.superops import SuperOpsFake
        from mspilot.connectors.fakes.vendor_data import split_dataset

        so_app, qb_app = FastAPI(), FastAPI()
        self.superops: dict[str, Any] = {}
        self.quickbooks: dict[str, Any] = {}
        for n, (tenant_id, tables) in enumerate(datasets):
            data = split_dataset(tables)
            so = SuperOpsFake(data.superops, subdomain=f"msp{n}", token=f"so-{n}", clock=clock)
            qb = QuickBooksFake(
                data.quickbooks,
                realm_id=str(9130350000000000 + n),
                clock=clock,
                per_minute=QUICKBOOKS_LIMIT,
                max_in_flight=10,
            )
            so_app.mount(f"/{tenant_id}", so.app())
            qb_app.mount(f"/{tenant_id}", qb.app())
            self.superops[tenant_id], self.quickbooks[tenant_id] = so, qb
        self.so_server = ServedApp(so_app).start()
        self.qb_server = ServedApp(qb_app).start()

    def counts(self) -> dict[str, int]:
        out = {f"superops:{t}": f.requests for t, f in self.superops.items()}
        out |= {f"quickbooks:{t}": f.requests for t, f in self.quickbooks.items()}
        return out

    def stop(self) -> None:
        self.so_server.stop()
        self.qb_server.stop()


def _prepare(url: str, vendors: Vendors, datasets: list[Any], data_dir: Path) -> None:
    from mspilot.connectors.factory import store_secret
    from mspilot.core.settings import Settings
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import upsert_tenant
    from mspilot.tasks import store

    engine = make_engine(url)
    migrate.upgrade(engine)
    settings = Settings(database_url=url, data_dir=data_dir, secret_key=SECRET_KEY)
    now = store.utcnow()
    for tenant_id, _tables in datasets:
        with engine.begin() as conn:
            upsert_tenant(conn, tenant_id, tenant_id, timezone="America/Chicago")
        so, qb = vendors.superops[tenant_id], vendors.quickbooks[tenant_id]
        store.save_account(
            engine,
            tenant_id,
            "superops",
            now,
            account=so.subdomain,
            overrides={
                "base_url": f"{vendors.so_server.url}/{tenant_id}/msp",
                "requests_per_minute": SUPEROPS_LIMIT,
                "page_size": 100,
            },
        )
        base = f"{vendors.qb_server.url}/{tenant_id}"
        store.save_account(
            engine,
            tenant_id,
            "quickbooks",
            now,
            account=qb.realm_id,
            overrides={
                "base_url": base,
                "token_url": f"{base}/oauth2/v1/tokens/bearer",
                "requests_per_minute": QUICKBOOKS_LIMIT,
            },
        )
        store_secret(settings, engine, tenant_id, "superops", so.token)
        store_secret(settings, engine, tenant_id, "quickbooks", "rt-initial")
    engine.dispose()


def _env(
    url: str, queue: str, data_dir: Path, as_of: str, client: tuple[str, str]
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSPILOT_")}
    return env | {
        "MSPILOT_DATABASE_URL": url,
        "MSPILOT_DATA_DIR": str(data_dir),
        "MSPILOT_BROKER_URL": RABBITMQ_URL,
        "MSPILOT_REDIS_URL": REDIS_URL,
        "MSPILOT_TASKS__QUEUE": queue,
        "MSPILOT_TODAY": as_of,
        "MSPILOT_SECRET_KEY": SECRET_KEY,
        "MSPILOT_QUICKBOOKS__CLIENT_ID": client[0],
        "MSPILOT_QUICKBOOKS__CLIENT_SECRET": client[1],
        "MSPILOT_LOG_LEVEL": "WARNING",
        "MSPILOT_INSIGHTS__SCHEDULER": "false",
    }


def _wait_idle(engine: Any, expected: dict[str, int], timeout_s: float) -> None:
    """Until at least ``expected[job]`` runs of each job ended and none is running."""
    from mspilot.tasks import store

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ended = {job: 0 for job in expected}
        running = 0
        for r in store.runs(engine, limit=5000):
            if r.status == "running":
                running += 1
            elif r.job in ended and r.status in ("done", "dead"):
                ended[r.job] += 1
        if running == 0 and all(ended[j] >= n for j, n in expected.items()):
            return
        time.sleep(0.5)
    raise TimeoutError(f"pipeline not finished in {timeout_s:.0f} s")


class ApiProbe:
    """An API server on the database, ``/readyz`` polled ten times a second."""

    def __init__(self, url: str, data_dir: Path, queue: str) -> None:
        from mspilot.api.app import create_app
        from mspilot.connectors.fakes.common import ServedApp
        from mspilot.core.settings import Settings

        os.environ["MSPILOT_BROKER_URL"] = RABBITMQ_URL
        os.environ["MSPILOT_TASKS__QUEUE"] = queue
        settings = Settings(database_url=url, data_dir=data_dir)
        settings.insights.scheduler = False
        self.server = ServedApp(create_app(settings, warm=False))
        self.server.server.config.lifespan = "on"  # the app's state comes from its lifespan
        self.server.start(timeout_s=60)
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import httpx

        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            while not self._stop.is_set():
                t = time.perf_counter()
                client.get("/readyz")
                self.latencies.append(time.perf_counter() - t)
                self._stop.wait(0.1)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(timeout=30)
        self.server.stop()
        ordered = sorted(self.latencies)
        return ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("nan")


def run_pipeline(
    workers: int, datasets: list[Any], vendors: Vendors, as_of: str, timeout_s: float
) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    from mspilot.core.settings import Settings
    from mspilot.db.engine import make_engine
    from mspilot.tasks.engine import TaskEngine
    from mspilot.tasks.settings import TaskSettings, TasksGroup

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _schema_url(schema)
    data_dir = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    queue = f"mspilot-bench-{uuid.uuid4().hex[:8]}"
    _prepare(url, vendors, datasets, data_dir)
    qb = next(iter(vendors.quickbooks.values()))
    env = _env(url, queue, data_dir, as_of, (qb.client_id, qb.client_secret))
    tasks = TaskEngine(
        Settings(database_url=url, data_dir=data_dir, secret_key=SECRET_KEY),
        TaskSettings(broker_url=RABBITMQ_URL, tasks=TasksGroup(queue=queue)),
        engine=make_engine(url),
    )
    procs = [
        subprocess.Popen(
            [str(Path(sys.executable).parent / "mspilot"), "worker", "--threads", "1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    probe = ApiProbe(url, data_dir, queue)
    samples: deque[tuple[float, dict[str, int]]] = deque()
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append((time.monotonic(), vendors.counts()))
            sampling.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tenants = [t for t, _ in datasets]
    phases: dict[str, float] = {}
    try:
        started = time.perf_counter()
        for tenant in tenants:
            for source in ("superops", "quickbooks"):
                tasks.enqueue("sync", {"tenant_id": tenant, "source": source, "trigger": "manual"})
        n = len(tenants)
        _wait_idle(tasks.db, {"sync": 2 * n, "rescore": n, "reindex": n}, timeout_s)
        phases["sync+rescore+reindex"] = time.perf_counter() - started
        t = time.perf_counter()
        for tenant in tenants:
            tasks.enqueue("train", {"tenant_id": tenant})
        _wait_idle(tasks.db, {"train": n}, timeout_s)
        phases["train"] = time.perf_counter() - t
        t = time.perf_counter()
        for tenant in tenants:
            tasks.enqueue("digest", {"tenant_id": tenant, "kind": "weekly"})
        _wait_idle(tasks.db, {"digest": n}, timeout_s)
        phases["digest"] = time.perf_counter() - t
        phases["total"] = time.perf_counter() - started
    finally:
        sampling.set()
        sampler.join(timeout=5)
        p99 = probe.stop()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        from mspilot.tasks import store

        failures = [
            f"{r.key}: {(r.error or '').splitlines()[0][:160]}"
            for r in store.runs(tasks.db, statuses=["failed", "dead"], limit=100)
        ]
        from dramatiq.common import dq_name, xq_name

        for name in (queue, dq_name(queue), xq_name(queue)):
            tasks.broker.channel.queue_delete(name)  # type: ignore[attr-defined]
        tasks.close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return {
        "workers": workers,
        "seconds": {k: round(v, 1) for k, v in phases.items()},
        "api_readyz_p99_ms": round(p99 * 1000, 1),
        "peak_requests_per_min": _peaks(list(samples)),
        "failed_runs": failures,
    }


def _peaks(samples: list[tuple[float, dict[str, int]]]) -> dict[str, int]:
    """Per vendor: the most requests one account made in any 60-second window."""
    peaks: dict[str, int] = {}
    for i, (t0, c0) in enumerate(samples):
        for t1, c1 in samples[i:]:
            if t1 - t0 > 60:
                break
            for account, count in c1.items():
                vendor = account.split(":")[0]
                peaks[vendor] = max(peaks.get(vendor, 0), count - c0.get(account, 0))
    return peaks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--clients", type=int, default=150)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    import datetime as dt

    from mspilot.connectors.fakes.common import FakeClock
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    config = DemoConfig(n_clients=args.clients, years=args.years, n_tenants=args.tenants)
    datasets = []
    for i in range(args.tenants):
        generated = generate_tenant(config, i)
        datasets.append((f"t{i:02d}", generated.tables))
    as_of = config.as_of
    clock = FakeClock(dt.datetime.combine(as_of, dt.time(23, 59), tzinfo=dt.UTC))
    results = []
    for workers in args.workers:
        vendors = Vendors(datasets, clock)  # fresh fakes: same data, counters from zero
        try:
            results.append(
                run_pipeline(workers, datasets, vendors, as_of.isoformat(), args.timeout)
            )
        finally:
            vendors.stop()
    report: dict[str, Any] = {
        "tenants": args.tenants,
        "clients_per_tenant": args.clients,
        "years": args.years,
        "limits_per_min": {"superops": SUPEROPS_LIMIT, "quickbooks": QUICKBOOKS_LIMIT},
        "runs": results,
    }
    by = {r["workers"]: r["seconds"]["total"] for r in results}
    if 1 in by and 2 in by:
        report["speed_up_2_workers"] = round(by[1] / by[2], 2)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"{args.tenants} tenants x {args.clients} clients ({args.years} y), PostgreSQL + RabbitMQ"
    )
    for r in results:
        print(
            f"  {r['workers']} worker(s): {r['seconds']} · /readyz p99 {r['api_readyz_p99_ms']} ms"
            f" · peak req/min per account {r['peak_requests_per_min']} (limits"
            f" {report['limits_per_min']}) · failed {len(r['failed_runs'])}"
        )
        for failure in r["failed_runs"][:10]:
            print(f"    failed: {failure}")
    if "speed_up_2_workers" in report:
        print(f"  2-worker speed-up: {report['speed_up_2_workers']}x")


if __name__ == "__main__":
    main()
