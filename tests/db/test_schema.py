from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from mspilot.db import migrate
from mspilot.db.loader import upsert_tenant
from mspilot.db.schema import Base


def test_migrations_create_every_table_and_reach_head(engine: Engine) -> None:
    names = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert migrate.is_current(engine)


def test_schema_matches_the_orm(engine: Engine) -> None:
    """No drift between the ORM and the migrations (alembic autogenerate finds nothing)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    migrate.downgrade(engine, "base")
    assert "clients" not in inspect(engine).get_table_names()
    migrate.upgrade(engine)
    assert "clients" in inspect(engine).get_table_names()


def test_rows_cannot_reference_another_tenants_client(engine: Engine) -> None:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        upsert_tenant(conn, "a", "A")
        upsert_tenant(conn, "b", "B")
        conn.execute(
            text(
                "INSERT INTO clients (id, tenant_id, source, external_id, row_hash, name, "
                "industry, seats, status) VALUES ('a.x.1','a','x','1','h','C','Legal',5,'active')"
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tickets (id, tenant_id, source, external_id, row_hash, client_id, "
                "opened_at, priority, category, status, sla_breached, subject) VALUES "
                "('b.x.t','b','x','t','h','a.x.1',:t,'p1','Network','open',false,'s')"
            ),
            {"t": now},
        )
