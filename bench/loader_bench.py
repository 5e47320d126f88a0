"""Load-path benchmark: rows/s through the product's Loader vs a raw DBAPI ``executemany`` of
the same rows into the same table of the same database, in the same run.

    python -m mspilot.bench.loader_bench [--rows 100000] [--pg URL] [--json]

The ratio (loader / raw) is the figure: the loader also validates every row with pydantic,
resolves and checks references, fingerprints content and upserts, so it is slower than a
bare insert; the goal is ≥ 0.3 of raw and ≥ 50,000 rows/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text

from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.schema import Ticket

SEED_CLAIM_ROWS_PER_S = 69


def ticket_rows(n: int) -> list[dict[str, Any]]:
    base = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    rows = []
    for i in range(n):
        opened = base + dt.timedelta(minutes=7 * i)
        rows.append(
            {
                "external_id": f"t{i}",
                "client_id": f"c{i % 50}",
                "technician_id": f"k{i % 5}",
                "opened_at": opened,
                "resolved_at": opened + dt.timedelta(hours=2),
                "priority": f"p{1 + i % 4}",
                "category": "Network",
                "status": "resolved",
                "sla_breached": i % 11 == 0,
                "csat": 1 + i % 5 if i % 3 == 0 else None,
                "subject": f"Printer on floor {i % 9} is jammed",
            }
        )
    return rows


def _prepare(engine: Engine, tenant: str) -> None:
    with engine.begin() as conn:
        upsert_tenant(conn, tenant, "Bench MSP")
    loader = Loader(engine, tenant, "bench")
    loader.load(
        "clients",
        [
            {"external_id": f"c{i}", "name": f"C{i}", "seats": 10, "status": "active"}
            for i in range(50)
        ],
    )
    loader.load(
        "technicians",
        [{"external_id": f"k{i}", "name": f"K{i}", "hourly_cost": Decimal("50")} for i in range(5)],
    )


def bench_loader(engine: Engine, rows: list[dict[str, Any]]) -> float:
    tenant = f"b{uuid.uuid4().hex[:8]}"
    _prepare(engine, tenant)
    start = time.perf_counter()
    Loader(engine, tenant, "bench", batch_size=5000).load("tickets", rows)
    return len(rows) / (time.perf_counter() - start)


def bench_raw(engine: Engine, rows: list[dict[str, Any]]) -> float:
    """The same rows, already in final column form, through the bare DBAPI executemany."""
    tenant = f"r{uuid.uuid4().hex[:8]}"
    _prepare(engine, tenant)
    cols = [c.name for c in Ticket.__table__.columns]
    sqlite = engine.dialect.name == "sqlite"
    tuples = []
    for r in rows:
        full = {
            "deleted_at": None,
            "synced_at": None,
            "resolution": None,
            **r,
            "id": f"{tenant}.bench.{r['external_id']}",
            "tenant_id": tenant,
            "source": "bench",
            "row_hash": "0" * 32,
            "client_id": f"{tenant}.bench.{r['client_id']}",
            "technician_id": f"{tenant}.bench.{r['technician_id']}",
        }
        if sqlite:
            for k in ("opened_at", "resolved_at"):
                full[k] = full[k].replace(tzinfo=None).isoformat(sep=" ")
        tuples.append(tuple(full[c] for c in cols))
    mark = "?" if sqlite else "%s"
    sql = f"INSERT INTO tickets ({', '.join(cols)}) VALUES ({', '.join([mark] * len(cols))})"
    raw = engine.raw_connection()
    try:
        start = time.perf_counter()
        cur = raw.cursor()
        for i in range(0, len(tuples), 5000):
            cur.executemany(sql, tuples[i : i + 5000])
            raw.commit()
        elapsed = time.perf_counter() - start
    finally:
        raw.close()
    return len(rows) / elapsed


def _pg_engine(url: str) -> tuple[Engine, str]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in url else "?"
    return make_engine(f"{url}{sep}options=-csearch_path%3D{schema}"), schema


def _drop_schema(url: str, schema: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def run(n_rows: int, pg_url: str | None) -> list[dict[str, Any]]:
    rows = ticket_rows(n_rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        targets: list[tuple[str, Engine, str | None]] = [
            ("sqlite", make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}"), None)
        ]
        if pg_url:
            pg, schema = _pg_engine(pg_url)
            targets.append(("postgresql", pg, schema))
        for name, engine, pg_schema in targets:
            migrate.upgrade(engine)
            raw = bench_raw(engine, rows)
            loader = bench_loader(engine, rows)
            results.append(
                {
                    "database": name,
                    "rows": n_rows,
                    "loader_rows_per_s": round(loader),
                    "raw_executemany_rows_per_s": round(raw),
                    "ratio_loader_to_raw": round(loader / raw, 3),
                    "x_seed_claim": round(loader / SEED_CLAIM_ROWS_PER_S),
                }
            )
            engine.dispose()
            if pg_schema and pg_url:
                _drop_schema(pg_url, pg_schema)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test", help="'' to skip"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.rows, args.pg or None)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'database':<11} {'rows':>8} {'loader rows/s':>14} {'raw rows/s':>11} {'ratio':>6}")
    for r in results:
        print(
            f"{r['database']:<11} {r['rows']:>8} {r['loader_rows_per_s']:>14,} "
            f"{r['raw_executemany_rows_per_s']:>11,} {r['ratio_loader_to_raw']:>6}"
        )


if __name__ == "__main__":
    main()
