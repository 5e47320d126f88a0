"""SQL tool latency: the three-layer confinement against the old parser-only guard.

    python -m mspilot.bench.sql_guard_bench [--clients 30] [--repeat 200] [--pg URL] [--json]

Setup (not timed): a demo MSP of ``--clients`` clients (two tenants, the generator's rows) is
loaded into a fresh SQLite file and, when PostgreSQL answers at ``--pg``, into a private
schema there. Then, in the same run, for each database and each of the router's typical
queries (as owner and as client user), ``--repeat`` calls of:

- **old**: the guard and runner of the start commit (``db/readonly.py`` at ``--old-rev``, read
  with ``git show`` and loaded as a private module: it is reachable only here): one parse and
  rewrite, SQLite ``mode=ro`` connection, PostgreSQL READ ONLY transaction as
  ``mspilot_readonly``;
- **new**: ``run_readonly_sql``: scope-resolving guard, then the database's walls (SQLite
  authorizer over per-request views; PostgreSQL reader role, RLS, SECURITY DEFINER run).

Printed: p50 per path, the added milliseconds and the ratio new/old.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, text

from mspilot.cli.demo import load_demo_tenant
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.readonly import run_readonly_sql
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import generate

ROOT = Path(__file__).resolve().parents[1]
START = "fa669d9"  # the commit before issue 13's work
QUERIES = [
    "SELECT c.name, c.status, c.seats FROM clients c WHERE c.status = 'active' ORDER BY c.name",
    "SELECT t.subject, c.name AS client, t.priority, t.opened_at FROM tickets t "
    "JOIN clients c ON c.id = t.client_id WHERE t.resolved_at IS NULL ORDER BY t.opened_at "
    "LIMIT 10",
    "SELECT i.number, c.name AS client, i.issued_on, i.total FROM invoices i "
    "JOIN clients c ON c.id = i.client_id WHERE i.status <> 'void' ORDER BY i.total DESC LIMIT 5",
    "WITH open AS (SELECT client_id, count(*) AS n FROM tickets WHERE resolved_at IS NULL "
    "GROUP BY client_id) SELECT c.name, o.n FROM open o JOIN clients c ON c.id = o.client_id "
    "ORDER BY o.n DESC LIMIT 10",
    "SELECT count(*) FROM assets a WHERE a.managed = TRUE",
]


def _old_module(rev: str) -> ModuleType:
    """``db/readonly.py`` as it was at ``rev`` (a private module, never imported elsewhere)."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:db/readonly.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "old_readonly.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("mspilot_bench_old_readonly", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _load(engine: Engine, clients: int) -> tuple[str, str]:
    migrate.upgrade(engine)
    config = DemoConfig(
        seed=7, as_of=dt.date(2026, 10, 31), n_clients=clients, n_tenants=2, years=1
    )
    tenants = []
    for dataset in generate(config):
        load_demo_tenant(engine, dataset.tenant, dataset.tables)
        tenants.append(dataset.tenant.id)
    with engine.connect() as conn:
        client = conn.execute(
            text("SELECT id FROM clients WHERE tenant_id = :t ORDER BY id LIMIT 1"),
            {"t": tenants[0]},
        ).scalar_one()
    return tenants[0], str(client)


def _p50(fn: Any, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(
    engine: Engine, old: ModuleType, tenant: str, client: str, repeat: int
) -> dict[str, Any]:
    scopes: dict[str, dict[str, Any]] = {
        "owner": {"role": "owner"},
        "client_user": {"role": "client_user", "client_id": client},
    }
    rows: list[dict[str, Any]] = []
    for role, scope in scopes.items():
        for sql in QUERIES:
            new_r = run_readonly_sql(engine, sql, tenant_id=tenant, **scope)
            old_r = old.run_readonly_sql(engine, sql, tenant_id=tenant, **scope)
            assert new_r.error is None, (sql, new_r.error)
            assert old_r.error is None, (sql, old_r.error)
            assert sorted(map(str, new_r.rows)) == sorted(map(str, old_r.rows)) or "LIMIT" in sql
            t_old = _p50(
                lambda s=sql, k=scope: old.run_readonly_sql(engine, s, tenant_id=tenant, **k),
                repeat,
            )
            t_new = _p50(
                lambda s=sql, k=scope: run_readonly_sql(engine, s, tenant_id=tenant, **k), repeat
            )
            rows.append({"role": role, "sql": sql[:50], "old_ms": t_old, "new_ms": t_new})
    old_p50 = statistics.median(float(r["old_ms"]) for r in rows)
    new_p50 = statistics.median(float(r["new_ms"]) for r in rows)
    return {
        "queries": rows,
        "old_p50_ms": old_p50,
        "new_p50_ms": new_p50,
        "added_ms": new_p50 - old_p50,
        "ratio": new_p50 / old_p50,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--old-rev", default=START)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    old = _old_module(args.old_rev)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        tenant, client = _load(engine, args.clients)
        results["sqlite"] = measure(engine, old, tenant, client, args.repeat)
        engine.dispose()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # no PostgreSQL here: SQLite only
        results["postgresql"] = {"skipped": str(exc).splitlines()[0]}
    else:
        try:
            sep = "&" if "?" in args.pg else "?"
            engine = make_engine(f"{args.pg}{sep}options=-csearch_path%3D{schema}")
            tenant, client = _load(engine, args.clients)
            results["postgresql"] = measure(engine, old, tenant, client, args.repeat)
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    for backend, res in results.items():
        if "skipped" in res:
            print(f"{backend}: skipped ({res['skipped']})")
            continue
        print(
            f"{backend}: p50 old {res['old_p50_ms']:.2f} ms, new {res['new_p50_ms']:.2f} ms, "
            f"added {res['added_ms']:+.2f} ms, ratio new/old {res['ratio']:.2f} "
            f"({len(res['queries'])} queries x {args.repeat} calls each, owner + client user)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
