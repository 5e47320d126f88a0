"""Indexes the schema relies on: every foreign key is led by an index (deleting or re-keying a
parent row looks its children up instead of scanning the child table), and ``data_version`` is
answered from indexes on SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, event, inspect, text

from mspilot.db import migrate
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.schema import SYNCED_TABLES, Base
from mspilot.models.data import data_version
from support import fixtures_small

MIGRATION = "0007_indexes"
#: Indexes the foreign keys of ``users`` and ``slack_users``; merges 0005_api and 0006_insights.
USER_MIGRATION = "0008_user_indexes"

#: (table, index name) of every index revision 0008 adds.
USER_ADDED = {("users", "ix_users_tenant_client"), ("slack_users", "ix_slack_users_tenant")}

#: (table, index name) of every index revision 0007 adds.
ADDED = {
    ("tickets", "ix_tickets_tenant_technician"),
    ("invoice_lines", "ix_invoice_lines_tenant_contract"),
    ("time_entries", "ix_time_entries_tenant_ticket"),
    ("time_entries", "ix_time_entries_tenant_technician"),
    ("time_entries", "ix_time_entries_tenant_invoice_line"),
    ("payments", "ix_payments_tenant_client"),
    ("assets", "ix_assets_tenant_client"),
    ("licenses", "ix_licenses_tenant_client"),
} | {
    (model.__tablename__, f"ix_{model.__tablename__}_tenant_{kind}")  # type: ignore[attr-defined]
    for model in SYNCED_TABLES
    for kind in ("synced", "deleted")
}


def _key_prefixes(engine: Engine, table: str) -> list[tuple[str, ...]]:
    """Column lists of the table's primary key, unique constraints and indexes."""
    insp = inspect(engine)
    keys = [tuple(insp.get_pk_constraint(table)["constrained_columns"])]
    keys += [tuple(u["column_names"]) for u in insp.get_unique_constraints(table)]
    keys += [tuple(c for c in i["column_names"] if c is not None) for i in insp.get_indexes(table)]
    return keys


def _unindexed_fks(engine: Engine) -> set[tuple[str, tuple[str, ...]]]:
    missing = set()
    insp = inspect(engine)
    for table in insp.get_table_names():
        keys = _key_prefixes(engine, table)
        for fk in insp.get_foreign_keys(table):
            cols = tuple(fk["constrained_columns"])
            if not any(key[: len(cols)] == cols for key in keys):
                missing.add((table, cols))
    return missing


def _index_names(engine: Engine) -> set[tuple[str, str]]:
    insp = inspect(engine)
    return {
        (table, str(index["name"]))
        for table in insp.get_table_names()
        for index in insp.get_indexes(table)
    }


def test_every_foreign_key_is_led_by_an_index(engine: Engine) -> None:
    assert _unindexed_fks(engine) == set()


def test_the_structural_check_sees_a_missing_index(engine: Engine) -> None:
    """Without revision 0007 the check names exactly the foreign keys it indexes."""
    migrate.downgrade(engine, f"{MIGRATION}@-1")
    assert _unindexed_fks(engine) == {
        ("tickets", ("tenant_id", "technician_id")),
        ("invoice_lines", ("tenant_id", "contract_id")),
        ("time_entries", ("tenant_id", "ticket_id")),
        ("time_entries", ("tenant_id", "technician_id")),
        ("time_entries", ("tenant_id", "invoice_line_id")),
        ("payments", ("tenant_id", "client_id")),
        ("assets", ("tenant_id", "client_id")),
        ("licenses", ("tenant_id", "client_id")),
    }


def test_the_orm_declares_every_index_the_migrations_add() -> None:
    declared = {(t.name, str(i.name)) for t in Base.metadata.tables.values() for i in t.indexes}
    assert declared >= ADDED | USER_ADDED


def test_revision_0008_indexes_users_and_slack_users(engine: Engine) -> None:
    """Without revision 0008 the check names exactly the two foreign keys it indexes; upgrading
    applies it again (it runs after both branches that create its tables)."""
    migrate.downgrade(engine, "0006_insights")  # 0008 is the only revision above it
    revisions = migrate.current_revisions(engine)
    assert USER_MIGRATION not in revisions
    assert {"0005_api", "0006_insights"} <= revisions
    assert not _index_names(engine) & USER_ADDED
    assert _unindexed_fks(engine) == {
        ("users", ("tenant_id", "client_id")),
        ("slack_users", ("tenant_id",)),
    }

    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    script = ScriptDirectory.from_config(migrate.alembic_config())
    applied = {
        r.revision
        for r in script.iterate_revisions(tuple(migrate.current_revisions(engine)), "base")
    }
    assert USER_MIGRATION in applied  # a head, or below a later revision
    assert _index_names(engine) >= USER_ADDED
    assert _unindexed_fks(engine) == set()


def test_upgrade_downgrade_upgrade_keeps_the_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "T")
    Loader(engine, "t", "demo").load_all(fixtures_small.small_msp())
    version = data_version(engine, "t")
    assert _index_names(engine) >= ADDED

    migrate.downgrade(engine, f"{MIGRATION}@-1")
    assert MIGRATION not in migrate.current_revisions(engine)
    assert not _index_names(engine) & ADDED
    assert "insight_feedback" in inspect(engine).get_table_names()  # other branches untouched
    assert data_version(engine, "t") == version

    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    assert _index_names(engine) >= ADDED
    assert data_version(engine, "t") == version


def _explain(engine: Engine, statement: str, params: Any) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    return [str(row[3]) for row in rows]


def test_data_version_reads_indexes_not_tables_on_sqlite(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        upsert_tenant(conn, "t", "T")
    Loader(sqlite_engine, "t", "demo").load_all(fixtures_small.small_msp())
    with sqlite_engine.begin() as conn:
        conn.execute(text("ANALYZE"))

    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    event.listen(sqlite_engine, "before_cursor_execute", capture)
    try:
        data_version(sqlite_engine, "t")
    finally:
        event.remove(sqlite_engine, "before_cursor_execute", capture)
    [(statement, params)] = [s for s in seen if "synced_at" in s[0]]

    plan = _explain(sqlite_engine, statement, params)
    scans = [step for step in plan if step.startswith("SCAN") and step != "SCAN CONSTANT ROW"]
    assert scans == [], plan
    for model in SYNCED_TABLES:
        table = model.__tablename__  # type: ignore[attr-defined]
        searches = [s for s in plan if s.startswith(f"SEARCH {table} USING COVERING INDEX ix_")]
        # row count, latest synced_at, latest deleted_at, deleted rows: each from an index
        assert len(searches) == 4, (table, plan)
        assert any(f"ix_{table}_tenant_synced" in s for s in searches), (table, plan)
        assert any(f"ix_{table}_tenant_deleted" in s for s in searches), (table, plan)


@pytest.mark.parametrize("change", ["insert", "update", "delete"])
def test_data_version_changes_with_every_kind_of_load(sqlite_engine: Engine, change: str) -> None:
    """The index-friendly query shape keeps the fingerprint's meaning: a load that inserts,
    changes or retires a row changes it; a load that changes nothing does not."""
    with sqlite_engine.begin() as conn:
        upsert_tenant(conn, "t", "T")
    tables = fixtures_small.small_msp()
    loader = Loader(sqlite_engine, "t", "demo")
    loader.load_all(tables)
    before = data_version(sqlite_engine, "t")
    loader.load_all(tables)
    assert data_version(sqlite_engine, "t") == before

    asset = dict(tables["assets"][0])
    if change == "insert":
        loader.load("assets", [{**asset, "external_id": "new-asset"}])
    elif change == "update":
        loader.load("assets", [{**asset, "status": "retired"}])
    else:
        loader.mark_deleted("assets", [asset["external_id"]])
    after = data_version(sqlite_engine, "t")
    assert after != before
    changed = {row[0] for row, old in zip(after, before, strict=True) if row != old}
    assert changed == {"assets"}
