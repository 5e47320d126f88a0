"""Demo-MSP benchmark: generation and load timings of a demo of a given size.

    python -m mspilot.bench.demo_bench                       # default demo: 150 clients, 1 tenant
    python -m mspilot.bench.demo_bench --clients 2000 --tenants 3 --pg ''   # the large demo

For each tenant it times the generator and the load through the product's Loader into a fresh
database, and reports load rows/s next to a raw DBAPI ``executemany`` of the same number of
ticket rows measured in the same run (``bench.loader_bench``), so the ratio is comparable
across machines and loads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from mspilot.bench.loader_bench import _drop_schema, _pg_engine, bench_raw, ticket_rows
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import generate_tenant


def _load(engine: Engine, tenant: Any, tables: dict[str, list[dict[str, Any]]]) -> float:
    start = time.perf_counter()
    with engine.begin() as conn:
        upsert_tenant(
            conn,
            tenant.id,
            tenant.name,
            currency=tenant.currency,
            timezone=tenant.timezone,
            max_discount_pct=float(tenant.max_discount_pct),
        )
    report = Loader(engine, tenant.id, "demo", batch_size=5000).load_all(tables)
    if report.issues:
        raise SystemExit(f"{len(report.issues)} data-quality issues loading {tenant.id}")
    return time.perf_counter() - start


def run(config: DemoConfig, engine: Engine) -> dict[str, Any]:
    migrate.upgrade(engine)
    tenants = []
    total_rows = 0
    total_gen = total_load = 0.0
    for index in range(config.n_tenants):
        start = time.perf_counter()
        ds = generate_tenant(config, index)
        gen_s = time.perf_counter() - start
        rows = sum(len(v) for v in ds.tables.values())
        load_s = _load(engine, ds.tenant, ds.tables)
        tenants.append(
            {
                "tenant": ds.tenant.id,
                "rows": rows,
                "generate_s": round(gen_s, 2),
                "load_s": round(load_s, 2),
                "load_rows_per_s": round(rows / load_s),
            }
        )
        total_rows += rows
        total_gen += gen_s
        total_load += load_s
        del ds
    raw = bench_raw(engine, ticket_rows(50_000))
    loader_rps = total_rows / total_load
    return {
        "database": engine.dialect.name,
        "clients": config.n_clients,
        "tenants": config.n_tenants,
        "rows": total_rows,
        "generate_s": round(total_gen, 2),
        "load_s": round(total_load, 2),
        "total_s": round(total_gen + total_load, 2),
        "load_rows_per_s": round(loader_rps),
        "raw_executemany_rows_per_s": round(raw),
        "ratio_load_to_raw": round(loader_rps / raw, 3),
        "per_tenant": tenants,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=150)
    parser.add_argument("--tenants", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default="2026-10-31")
    parser.add_argument(
        "--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test", help="'' to skip"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = DemoConfig(
        seed=args.seed,
        as_of=dt.date.fromisoformat(args.as_of),
        n_clients=args.clients,
        n_tenants=args.tenants,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run(config, make_engine(f"sqlite:///{Path(tmp) / 'demo.db'}")))
    if args.pg:
        pg, schema = _pg_engine(args.pg)
        try:
            results.append(run(config, pg))
        finally:
            pg.dispose()
            _drop_schema(args.pg, schema)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(
            f"{r['database']:<10} {r['clients']} clients x {r['tenants']} tenants: "
            f"{r['rows']:,} rows; generate {r['generate_s']} s, load {r['load_s']} s "
            f"(total {r['total_s']} s); load {r['load_rows_per_s']:,} rows/s vs raw "
            f"executemany {r['raw_executemany_rows_per_s']:,} rows/s = "
            f"ratio {r['ratio_load_to_raw']}"
        )


if __name__ == "__main__":
    main()
