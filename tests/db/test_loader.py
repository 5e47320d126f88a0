from __future__ import annotations

import datetime as dt
import math
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, text

from mspilot.db import migrate
from mspilot.db.checksums import table_checksums
from mspilot.db.engine import make_engine
from mspilot.db.loader import ANALYZE_GROWTH, Loader, upsert_tenant
from mspilot.db.records import CanonicalId
from mspilot.db.schema import Client, DataQualityIssue, Ticket
from mspilot.db.schema_connectors import OrphanRow
from support.bulk_rows import bulk_msp


def _tenant(engine: Engine, tenant_id: str = "t") -> None:
    with engine.begin() as conn:
        upsert_tenant(conn, tenant_id, "Test MSP")


def test_loading_twice_changes_nothing(engine: Engine) -> None:
    _tenant(engine)
    data = bulk_msp()
    first = Loader(engine, "t", "demo", batch_size=100).load_all(data)
    before = table_checksums(engine, "t")
    second = Loader(engine, "t", "demo", batch_size=100).load_all(data)
    assert table_checksums(engine, "t") == before
    assert first.tables["tickets"].inserted == len(data["tickets"])
    assert second.tables["tickets"].inserted == 0
    assert second.tables["tickets"].unchanged == len(data["tickets"])
    assert second.rows_written == 0


def test_changed_rows_are_updated_in_place(engine: Engine) -> None:
    _tenant(engine)
    data = bulk_msp(n_clients=2, tickets_per_client=5)
    Loader(engine, "t", "demo").load_all(data)
    data["clients"][0] = {**data["clients"][0], "seats": 99, "name": "Renamed"}
    report = Loader(engine, "t", "demo").load_all(data)
    assert report.tables["clients"].updated == 1
    assert report.tables["clients"].unchanged == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Client)) == 2
        assert conn.scalar(select(Client.seats).where(Client.name == "Renamed")) == 99


def test_rows_repeated_inside_a_batch_land_once(sqlite_engine: Engine) -> None:
    _tenant(sqlite_engine)
    data = bulk_msp(n_clients=1, tickets_per_client=3)
    data["tickets"] = data["tickets"] + data["tickets"]  # e.g. a page served twice
    Loader(sqlite_engine, "t", "demo").load_all(data)
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Ticket)) == 3


def test_bad_rows_are_reported_not_dropped_silently(engine: Engine) -> None:
    _tenant(engine)
    data = bulk_msp(n_clients=2, tickets_per_client=3)
    bad: list[dict[str, Any]] = [
        {**data["tickets"][0], "external_id": "bad-priority", "priority": "urgent"},
        {**data["tickets"][0], "external_id": "bad-client", "client_id": "nope"},
        {**data["tickets"][0], "external_id": "bad-csat", "csat": 9},
        {
            **data["tickets"][0],
            "external_id": "naive-time",
            "opened_at": dt.datetime(2026, 1, 1, 9),
            "resolved_at": None,
        },
        {
            **data["tickets"][0],
            "external_id": "bad-order",
            "resolved_at": data["tickets"][0]["opened_at"] - dt.timedelta(hours=1),
        },
    ]
    data["tickets"] = data["tickets"] + bad
    data["time_entries"].append(
        {**data["time_entries"][0], "external_id": "e-neg", "hours": Decimal("-1")}
    )
    report = Loader(engine, "t", "demo").load_all(data)
    reasons = {i.key: i.reason for i in report.issues}
    assert set(reasons) == {
        "bad-priority",
        "bad-csat",
        "naive-time",
        "bad-order",
        "e-neg",
    }
    assert "priority" in reasons["bad-priority"]
    assert "csat" in reasons["bad-csat"]
    assert "timezone" in reasons["naive-time"]
    assert "hours" in reasons["e-neg"]
    assert report.tables["tickets"].rejected == 4
    assert report.tables["tickets"].inserted == 6
    # a row whose parent is missing is not refused: it waits for the parent, with the reason
    assert report.waiting == {"tickets": 1}
    with engine.connect() as conn:
        stored = conn.execute(
            select(DataQualityIssue.table_name, DataQualityIssue.record_key)
        ).all()
        waiting = conn.execute(select(OrphanRow.row_id, OrphanRow.waits_for_id)).all()
    assert ("time_entries", "e-neg") in stored and ("tickets", "bad-client") not in stored
    assert len(stored) == 5
    assert waiting == [("t.demo.bad-client", "t.demo.nope")]


def test_tenants_never_see_each_others_rows(engine: Engine) -> None:
    _tenant(engine, "a")
    _tenant(engine, "b")
    data = bulk_msp(n_clients=2, tickets_per_client=2)
    Loader(engine, "a", "demo").load_all(data)
    Loader(engine, "b", "demo").load_all(data)
    assert table_checksums(engine, "a")["tickets"][0] == 4
    assert table_checksums(engine, "b")["tickets"][0] == 4
    # b cannot point a ticket at a's client, even by canonical id
    report = Loader(engine, "b", "demo").load(
        "tickets",
        [{**data["tickets"][0], "external_id": "x", "client_id": CanonicalId("a.demo.c0")}],
    )
    assert report.rejected == 1


def test_mark_deleted_keeps_history(sqlite_engine: Engine) -> None:
    _tenant(sqlite_engine)
    data = bulk_msp(n_clients=1, tickets_per_client=3)
    loader = Loader(sqlite_engine, "t", "demo")
    loader.load_all(data)
    assert loader.mark_deleted("tickets", ["t0-1"]) == 1
    assert loader.mark_deleted("tickets", ["t0-1"]) == 0  # idempotent
    with sqlite_engine.connect() as conn:
        rows = dict(conn.execute(select(Ticket.external_id, Ticket.deleted_at)).all())
    assert rows["t0-1"] is not None and rows["t0-0"] is None


_KILLABLE = textwrap.dedent(
    """
    import time
    from support.bulk_rows import bulk_msp
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    engine = make_engine({url!r})
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "Test MSP")
    batches = 0
    def slow(table, n):
        global batches
        batches += 1
        if batches == 6:
            print("HALFWAY", flush=True)
            time.sleep(60)
    Loader(engine, "t", "demo", batch_size=50, on_progress=slow).load_all(bulk_msp())
    """
)


def test_a_load_killed_half_way_then_rerun_equals_an_uninterrupted_load(
    db_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    script = tmp_path / "load.py"
    script.write_text(_KILLABLE.format(url=db_url))
    env = os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)}  # the test support package too
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "HALFWAY"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    engine = make_engine(db_url)
    partial = table_checksums(engine, "t")
    committed = partial["tickets"][0]
    assert 0 < committed < len(bulk_msp()["tickets"])
    assert committed % 50 == 0  # whole batches only: nothing half-written

    Loader(engine, "t", "demo", batch_size=50).load_all(bulk_msp())
    after_rerun = table_checksums(engine, "t")

    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    from mspilot.db import migrate

    migrate.upgrade(reference)
    _tenant(reference)
    Loader(reference, "t", "demo", batch_size=50).load_all(bulk_msp())
    assert after_rerun == table_checksums(reference, "t")
    engine.dispose()
    reference.dispose()


def test_progress_callback_sees_every_row(sqlite_engine: Engine) -> None:
    _tenant(sqlite_engine)
    seen: dict[str, int] = {}
    data = bulk_msp(n_clients=3, tickets_per_client=7)
    Loader(
        sqlite_engine,
        "t",
        "demo",
        batch_size=5,
        on_progress=lambda t, n: seen.__setitem__(t, seen.get(t, 0) + n),
    ).load_all(data)
    assert seen == {k: len(v) for k, v in data.items()}


def test_same_content_by_another_path_is_unchanged(sqlite_engine: Engine) -> None:
    """12.5 == 12.50 and one instant in two time-zone spellings are the same content."""
    _tenant(sqlite_engine)
    data = bulk_msp(n_clients=1, tickets_per_client=2)
    Loader(sqlite_engine, "t", "demo").load_all(data)
    respelled = [{**e, "hours": Decimal("1.250")} for e in data["time_entries"]]
    tickets = [
        {**t, "opened_at": t["opened_at"].astimezone(dt.timezone(dt.timedelta(hours=-5)))}
        for t in data["tickets"]
    ]
    loader = Loader(sqlite_engine, "t", "demo")
    assert loader.load("time_entries", respelled).unchanged == 2
    assert loader.load("tickets", tickets).unchanged == 2


def _sqlite_steps_to_update_tickets(tmp: Path, extra_entries: int) -> int:
    """SQLite VM steps (in hundreds) to re-load every ticket with a changed subject, with
    ``extra_entries`` time entries (not on those tickets) in the child table."""
    from sqlalchemy import event

    engine = make_engine(f"sqlite:///{tmp / f'steps{extra_entries}.db'}")
    from mspilot.db import migrate

    migrate.upgrade(engine)
    _tenant(engine)
    data = bulk_msp(n_clients=4, tickets_per_client=50)
    data["time_entries"] += [
        {**data["time_entries"][0], "external_id": f"x{i}", "ticket_id": None}
        for i in range(extra_entries)
    ]
    Loader(engine, "t", "demo").load_all(data)
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    @event.listens_for(engine, "connect")
    def _progress(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_progress_handler(count, 100)

    engine.dispose()  # new connections get the handler
    changed = {"tickets": [{**t, "subject": t["subject"] + "!"} for t in data["tickets"]]}
    report = Loader(engine, "t", "demo").load_all(changed)
    assert report.tables["tickets"].updated == len(data["tickets"])
    engine.dispose()
    return steps[0]


def test_updating_parents_does_not_scan_their_children(tmp_path: Path) -> None:
    """An upsert never rewrites the key columns, so SQLite does not re-check every child
    row's reference for each updated parent (that made re-syncing changed tickets scan
    time_entries once per ticket: quadratic). The cost of updating 200 tickets must not grow
    with 20x more unrelated time entries."""
    small = _sqlite_steps_to_update_tickets(tmp_path, 0)
    large = _sqlite_steps_to_update_tickets(tmp_path, 4000)
    assert large < 1.5 * small, (small, large)


def _pg_engine(pg_url: str) -> Engine:
    engine = make_engine(pg_url)
    migrate.upgrade(engine)
    return engine


def _scan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Scan" in plan["Node Type"]:
        yield plan
    for child in plan.get("Plans", []):
        yield from _scan_nodes(child)


def _scans_of(conn: Connection, statement: str, params: Any, table: str) -> list[str]:
    """How the plan of ``statement`` reaches ``table``: one line per scan node."""
    [[explain]] = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", params).all()
    scans = [n for n in _scan_nodes(explain[0]["Plan"]) if n.get("Relation Name", table) == table]
    scans = [n for n in scans if n["Node Type"] != "Bitmap Heap Scan"]  # its index scan says how
    return [f"{n['Node Type']} {n.get('Index Name', '')} {n.get('Index Cond', '')}" for n in scans]


def _by_key(scan: str) -> bool:
    """An index scan whose condition is on ``id`` (not a walk over the tenant's rows)."""
    return "Index" in scan and "(id)::text" in scan


def test_postgres_lookups_go_by_key_after_a_load(pg_url: str) -> None:
    """Loading into empty PostgreSQL tables leaves them with statistics, so the loader's own
    lookup and the foreign-key check of every child row find a row by its key. Without
    statistics the planner walked ``ix_<table>_tenant_deleted`` over all the tenant's rows per
    lookup (a 2,000-client demo load never finished)."""
    engine = _pg_engine(pg_url)
    _tenant(engine)
    data = bulk_msp(n_clients=400, tickets_per_client=10)
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.startswith("SELECT tickets.id, tickets.row_hash"):
            seen.append((statement, params))

    Loader(engine, "t", "demo", batch_size=1000).load_all(data)
    event.listen(engine, "before_cursor_execute", capture)
    try:  # a re-sync of a few tickets: the lookup runs against a full table
        Loader(engine, "t", "demo").load("tickets", data["tickets"][:5])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(lookup, params)] = seen
    with engine.connect() as conn:
        scans = _scans_of(conn, lookup, params, "tickets")
        assert scans and all(_by_key(s) for s in scans), scans
        # The shape of PostgreSQL's own check of a row's reference to its client or ticket
        # (ri_triggers.c), as a generic plan: a cached plan is what every inserted row runs.
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        for parent in ("clients", "tickets"):
            conn.exec_driver_sql(
                f"PREPARE fk_{parent} (text, text) AS SELECT 1 FROM ONLY {parent} x "
                "WHERE tenant_id = $1 AND id = $2 FOR KEY SHARE OF x"
            )
            scans = _scans_of(conn, f"EXECUTE fk_{parent} ('t', 'x')", (), parent)
            assert scans and all(_by_key(s) for s in scans), (parent, scans)
        # psycopg prepares a statement it has run five times, and PostgreSQL may then plan it
        # once for any parameters: a full batch's lookup must go by key as a generic plan too
        # (without statistics it walked the tenant and matched each row against the 1,000
        # parameters one by one)
        marks = ", ".join(f"${i + 2}" for i in range(1000))
        conn.exec_driver_sql(
            f"PREPARE lookup (text, {', '.join(['text'] * 1000)}) AS "
            f"SELECT id, row_hash FROM tickets WHERE tenant_id = $1 AND id IN ({marks})"
        )
        ids = [f"'t.demo.{row['external_id']}'" for row in data["tickets"][:1000]]
        scans = _scans_of(conn, f"EXECUTE lookup ('t', {', '.join(ids)})", (), "tickets")
        assert scans and all(_by_key(s) for s in scans), scans
    engine.dispose()


def test_postgres_tables_are_analyzed_a_logarithmic_number_of_times(pg_url: str) -> None:
    engine = _pg_engine(pg_url)
    _tenant(engine)
    data = bulk_msp(n_clients=16, tickets_per_client=100)  # 1,600 tickets in 16 batches of 100
    analyzed: list[str] = []

    def capture(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("ANALYZE"):
            analyzed.append(statement.split()[1].strip('"'))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        Loader(engine, "t", "demo", batch_size=100).load_all(data)
        first = list(analyzed)
        analyzed.clear()
        Loader(engine, "t", "demo", batch_size=100).load_all(data)  # nothing new
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    # empty: after batch 1; then each time the rows inserted since pass the analyzed count
    # (at 300, 700 and 1,500 rows): a handful of ANALYZEs, not one per batch
    assert 2 <= first.count("tickets") <= 1 + math.ceil(math.log2(16)), first
    assert first.count("clients") == 1, first  # one batch
    assert analyzed == [], analyzed
    with engine.connect() as conn:
        reltuples = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = to_regclass('tickets')")
        ).scalar()
    # the statistics are never off by more than the growth factor
    assert len(data["tickets"]) / (1 + ANALYZE_GROWTH) <= reltuples <= len(data["tickets"])
    engine.dispose()


def test_sqlite_loads_issue_no_analyze(sqlite_engine: Engine) -> None:
    _tenant(sqlite_engine)
    statements: list[str] = []
    event.listen(sqlite_engine, "before_cursor_execute", lambda *a: statements.append(str(a[2])))
    Loader(sqlite_engine, "t", "demo", batch_size=100).load_all(bulk_msp(n_clients=4))
    assert statements and not [s for s in statements if s.upper().startswith("ANALYZE")]
