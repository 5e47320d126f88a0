"""Connector benchmark: end-to-end records/s from each fake vendor over real HTTP (paging,
auth, JSON, schema validation, mapping, entity resolution, the loader, bookmarks), for the
demo MSP from ``synthetic``.

    python -m mspilot.bench.connectors_bench [--clients 60] [--years 1] [--db-url URL] [--json]

Printed per source: records read, seconds, records/s, the ratio to the seed system's claimed
69 records/s, and — measured in the same run on the same rows — the loader alone (no HTTP), so
the cost of the HTTP/mapping layer is visible. The fakes run in this process (on 127.0.0.1),
so the figure includes serving the requests too. The client-side throttles are lifted to
measure the connector itself; under the default throttles the ceiling is the vendor's rate
(SuperOps: 100 requests/min × 100 records = 167 records/s; QuickBooks: 500/min × 1000).

Also measured in the same run:
- the fake's latency floor: the same SuperOps pages fetched by the connector's own GraphQL
  client with nothing done to them (no parsing, mapping or loading), with no faults and under
  a fault schedule (5% of requests answered 429 / 502 / rate_limit_exceeded): the best a sync
  could do against that fake, so ``vs_floor`` is the share of it the connector achieves;
- generated accounts (``connectors.fakes.generated``, ``--accounts N``): rows loaded (with a
  derived value: warned), refused with a reason, waiting for a parent, and lost (must be 0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

from mspilot.connectors.base import SyncContext
from mspilot.connectors.demo_sync import (
    DEMO_SECRET_KEY,
    dataset_as_of,
    serve_fakes,
    technician_costs,
)
from mspilot.connectors.fakes.common import FakeClock
from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.connectors.http import RetryPolicy, Throttle, make_http_client
from mspilot.connectors.quickbooks.source import QuickBooksSource
from mspilot.connectors.runner import run_source
from mspilot.connectors.superops.source import SuperOpsSource
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import generate_tenant

SEED_CLAIM_RECORDS_PER_S = 69


def _fresh_engine(url: str | None, folder: Path, name: str) -> Any:
    engine = make_engine(url or f"sqlite:///{folder / name}.db")
    migrate.upgrade(engine)
    return engine


def _superops_floor(source: SuperOpsSource) -> tuple[int, int, float]:
    """Every page of every SuperOps list, fetched and decoded, nothing else done."""
    from mspilot.connectors.superops.streams import STREAMS

    records = requests = 0
    began = time.perf_counter()
    for cls in STREAMS:
        stream = cls(source)
        for partition in stream.partitions():
            sort = [{"attribute": stream.primary_key[0], "order": "ASC"}]
            for items, _info in stream.fetch(partition, None, sort):
                records += len(items)
    requests = source.requests
    return records, requests, time.perf_counter() - began


def _floor_and_sync(
    ds: Any, clock_start: dt.datetime, folder: Path, storm: float
) -> dict[str, Any]:
    """SuperOps: the fake's floor, then the connector's sync, same fault schedule."""
    from mspilot.connectors.fakes.common import Faults

    retry = RetryPolicy(initial_wait_s=0.01, max_wait_s=0.2, jitter_s=0.0, max_attempts=30)
    out: dict[str, Any] = {}
    for label in ("floor", "sync"):
        faults = Faults(seed=7)
        if storm:
            faults.storm(storm)
        engine = _fresh_engine(None, folder, f"floor-{label}-{storm}-{time.monotonic_ns()}")
        with engine.begin() as conn:
            upsert_tenant(conn, ds.tenant.id, ds.tenant.name)
        with (
            serve_fakes(ds.tables, clock=FakeClock(clock_start), superops_faults=faults) as v,
            make_http_client(30) as http,
        ):
            source = SuperOpsSource(
                v.superops_settings(),
                http,
                retry=retry,
                throttle=Throttle(1_000_000),
                hourly_costs=technician_costs(ds.tables),
            )
            if label == "floor":
                records, requests, seconds = _superops_floor(source)
            else:
                began = time.perf_counter()
                summary = run_source(source, SyncContext(engine, ds.tenant.id, now=v.clock.now))
                seconds = time.perf_counter() - began
                records, requests = summary.records, summary.requests
        engine.dispose()
        out[label] = {
            "records": records,
            "requests": requests,
            "seconds": round(seconds, 2),
            "records_per_s": round(records / seconds, 1),
        }
    out["vs_floor"] = round(out["sync"]["records_per_s"] / out["floor"]["records_per_s"], 2)
    return out


def generated_accounts(n: int, folder: Path) -> dict[str, Any]:
    """Sync ``n`` accounts generated from the SuperOps schema; where every record went."""
    from hypothesis import Phase, given, seed, settings

    from mspilot.connectors.fakes.generated import Account, accounting, accounts, sync_account

    engine = _fresh_engine(None, folder, "generated")
    totals = {"accounts": 0, "served": 0, "loaded": 0, "warned": 0, "refused": 0, "waiting": 0}
    lost: list[Any] = []

    @seed(20261208)
    @settings(max_examples=n, database=None, deadline=None, phases=(Phase.generate,))
    @given(accounts(max_records=6))
    def one(account: Account) -> None:
        tenant = f"gen{totals['accounts']}"
        totals["accounts"] += 1
        with engine.begin() as conn:
            upsert_tenant(conn, tenant, tenant)
        sync_account(engine, tenant, account)
        books = accounting(engine, tenant, account)
        for key in ("loaded", "warned", "refused", "waiting"):
            totals[key] += getattr(books, key)
        totals["served"] += books.served
        lost.extend(books.lost)

    one()
    engine.dispose()
    return totals | {"lost": len(lost)}


def run(clients: int, years: int, db_url: str | None, n_accounts: int = 0) -> dict[str, Any]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ds = generate_tenant(DemoConfig(n_clients=clients, years=years), 0)
    tenant = ds.tenant
    as_of = dataset_as_of(ds)
    start = dt.datetime.combine(as_of, dt.time(23, 59), tzinfo=dt.UTC)
    results: dict[str, Any] = {"rows": ds.row_counts, "sources": {}}
    retry = RetryPolicy(initial_wait_s=0.05, max_wait_s=1.0, jitter_s=0.05)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = _fresh_engine(db_url, folder, "connectors")
        with engine.begin() as conn:
            upsert_tenant(conn, tenant.id, tenant.name)
        with (
            serve_fakes(ds.tables, clock=FakeClock(start)) as vendors,
            make_http_client(30) as http,
        ):
            clock = vendors.clock
            sources = {
                "superops": SuperOpsSource(
                    vendors.superops_settings(),
                    http,
                    retry=retry,
                    throttle=Throttle(1_000_000),
                    hourly_costs=technician_costs(ds.tables),
                ),
                "quickbooks": QuickBooksSource(
                    vendors.quickbooks_settings(),
                    http,
                    engine=engine,
                    tenant_id=tenant.id,
                    secret_key=DEMO_SECRET_KEY,
                    now=clock.now,
                    retry=retry,
                    throttle=Throttle(1_000_000, max_concurrent=10),
                ),
            }
            for name, source in sources.items():
                began = time.perf_counter()
                summary = run_source(source, SyncContext(engine, tenant.id, now=clock.now))
                seconds = time.perf_counter() - began
                results["sources"][name] = {
                    "records": summary.records,
                    "requests": summary.requests,
                    "seconds": round(seconds, 2),
                    "records_per_s": round(summary.records / seconds, 1),
                    "vs_seed_69": round(summary.records / seconds / SEED_CLAIM_RECORDS_PER_S, 1),
                }
            problems = compare_with_dataset(engine, tenant.id, ds.tables, vendors.ids)
        results["equal_to_dataset"] = not problems
        results["problems"] = problems[:5]
        engine.dispose()

        # the loader alone, same rows, same kind of database, no HTTP (measured now)
        direct = _fresh_engine(db_url if db_url is None else None, folder, "direct")
        with direct.begin() as conn:
            upsert_tenant(conn, tenant.id, tenant.name)
        began = time.perf_counter()
        Loader(direct, tenant.id, "demo").load_all(ds.tables)
        seconds = time.perf_counter() - began
        rows = sum(ds.row_counts.values())
        results["loader_only"] = {
            "rows": rows,
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds, 1),
        }
        direct.dispose()
        _floor_and_sync(ds, start, folder, 0.0)  # warm-up (imports, schema build): discarded
        results["superops_floor"] = _floor_and_sync(ds, start, folder, 0.0)
        results["superops_floor_faults"] = _floor_and_sync(ds, start, folder, 0.05)
        if n_accounts:
            results["generated"] = generated_accounts(n_accounts, folder)
    total_records = sum(s["records"] for s in results["sources"].values())
    total_seconds = sum(s["seconds"] for s in results["sources"].values())
    results["overall_records_per_s"] = round(total_records / total_seconds, 1)
    results["overall_vs_seed_69"] = round(
        total_records / total_seconds / SEED_CLAIM_RECORDS_PER_S, 1
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--years", type=int, default=1)
    parser.add_argument("--db-url", default=None, help="database to load into (default SQLite)")
    parser.add_argument("--accounts", type=int, default=30, help="generated accounts to sync")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.clients, args.years, args.db_url, args.accounts)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"demo MSP: {args.clients} clients, {args.years} year(s); rows {results['rows']}")
    for name, r in results["sources"].items():
        print(
            f"{name:>10}: {r['records']:>7} records in {r['seconds']:>6.2f} s over "
            f"{r['requests']} requests = {r['records_per_s']:>8.1f} records/s "
            f"({r['vs_seed_69']}x the seed's 69 records/s)"
        )
    print(
        f"   overall: {results['overall_records_per_s']} records/s "
        f"({results['overall_vs_seed_69']}x the seed's 69 records/s); "
        f"equal to the dataset: {results['equal_to_dataset']}"
    )
    for problem in results["problems"]:
        print(f"   difference: {problem}")
    lo = results["loader_only"]
    print(f"loader alone (no HTTP), same rows: {lo['rows_per_s']} rows/s ({lo['seconds']} s)")
    for key, title in (("superops_floor", "no faults"), ("superops_floor_faults", "5% faults")):
        f = results[key]
        print(
            f"superops vs the fake's floor ({title}): sync {f['sync']['records_per_s']} "
            f"records/s over {f['sync']['requests']} requests; floor "
            f"{f['floor']['records_per_s']} records/s over {f['floor']['requests']} requests "
            f"= {f['vs_floor']} of the floor"
        )
    if "generated" in results:
        g = results["generated"]
        print(
            f"generated accounts: {g['accounts']} accounts, {g['served']} records served: "
            f"{g['loaded']} loaded ({g['warned']} with a derived value), {g['refused']} "
            f"refused with a reason, {g['waiting']} waiting for a parent, {g['lost']} lost"
        )


if __name__ == "__main__":
    main()
