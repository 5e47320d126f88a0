"""agent read-only access (PostgreSQL): the mspilot_readonly role and row-level security

The agent's raw SQL (db/readonly.py) runs as ``mspilot_readonly`` inside a READ ONLY
transaction that sets ``app.tenant_id`` (and ``app.client_id`` for a client-portal user).
The role may only SELECT the synced tables, and row-level security policies show it only the
rows of that tenant (and client), as a second wall behind the query rewriting. Table owners
(the application's writer) are not affected. Roles are cluster-wide: the role is created once
and kept on downgrade (other schemas/databases may use it). SQLite: nothing to do.

Revision ID: 0004_agent
Revises: 0001
Create Date: 2026-11-30
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_agent"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLE = "mspilot_readonly"
TENANT = "tenant_id = current_setting('app.tenant_id', true)"
NO_CLIENT = "coalesce(current_setting('app.client_id', true), '') = ''"
CLIENT = "current_setting('app.client_id', true)"
#: table -> the client condition of its policy
TABLES = {
    "clients": f"({NO_CLIENT} OR id = {CLIENT})",
    "contracts": f"({NO_CLIENT} OR client_id = {CLIENT})",
    "technicians": NO_CLIENT,
    "tickets": f"({NO_CLIENT} OR client_id = {CLIENT})",
    "time_entries": f"({NO_CLIENT} OR client_id = {CLIENT})",
    "invoices": f"({NO_CLIENT} OR client_id = {CLIENT})",
    "invoice_lines": f"({NO_CLIENT} OR invoice_id IN (SELECT id FROM invoices))",
    "payments": f"({NO_CLIENT} OR client_id = {CLIENT})",
    "assets": f"({NO_CLIENT} OR client_id = {CLIENT})",
    "licenses": f"({NO_CLIENT} OR client_id = {CLIENT})",
}
POLICY = "mspilot_agent_read"


def _role_ready() -> bool:
    bind = op.get_bind()
    row = bind.exec_driver_sql(
        f"SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = '{ROLE}'"
    ).first()
    return bool(row and row[0])


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
                CREATE ROLE {ROLE} NOLOGIN;
            END IF;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'no CREATEROLE: agent SQL runs without the read-only role';
        END $$;
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                EXECUTE format('GRANT {ROLE} TO %I', current_user);
            END IF;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE 'cannot grant {ROLE} to the current user';
        END $$;
        """
    )
    if not _role_ready():
        return
    op.execute(
        f"DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO {ROLE}', current_schema()); "
        "END $$;"
    )
    for table, client_condition in TABLES.items():
        op.execute(f"GRANT SELECT ON {table} TO {ROLE}")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} FOR SELECT TO {ROLE} "
            f"USING ({TENANT} AND {client_condition})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
        op.execute(
            f"DO $$ BEGIN REVOKE ALL ON {table} FROM {ROLE}; "
            "EXCEPTION WHEN undefined_object THEN NULL; END $$;"
        )
