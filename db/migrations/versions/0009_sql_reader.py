"""SQL tool confinement: sql_scope, and on PostgreSQL the reader roles, grants and RLS

Every query of the agent's SQL tool (db/sql_sandbox.py) runs, on PostgreSQL:

- in a READ ONLY transaction that first writes one ``sql_scope`` row (backend pid, xid,
  tenant, client) and rolls it back at the end (the table exists on SQLite too, unused);
- as one of three NOLOGIN roles, chosen by the caller's application role:
  ``mspilot_reader`` (owner, finance, service manager), ``mspilot_reader_technician`` and
  ``mspilot_reader_client``; each has SELECT on exactly the business tables and columns that
  application role may read (column grants leave out the hidden columns), and nothing else:
  no users, api keys, credentials, audit, checkpoints, insights, scope or tenants;
- through ``mspilot_sql_run_*``, a SECURITY DEFINER function owned by that role: inside it
  PostgreSQL refuses ``SET ROLE`` / ``SET SESSION AUTHORIZATION`` (even through
  ``set_config``), so the query cannot switch back to the application's role; the function
  also caps the rows and bytes it returns;
- under row-level security policies (``mspilot_sql_read``) on the ten business tables: the
  caller's tenant, not deleted, and for a client user their own client. The policies read the
  scope through SECURITY DEFINER functions over ``sql_scope``, not ``current_setting``: a query
  can call ``set_config('mspilot.tenant_id', …)`` itself, it cannot write ``sql_scope``.

Roles are cluster-wide: created once if missing (concurrent creation tolerated), never dropped.
Grants, policies and functions belong to the schema being migrated (tests migrate private
schemas side by side). Without CREATEROLE the roles are not created and the SQL tool refuses
to run on PostgreSQL (it never falls back to the application's own role).

Revision ID: 0009_sql_reader
Revises: 0008_user_indexes
Create Date: 2026-12-08
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_sql_reader"
down_revision: str | None = "0008_user_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUSINESS = (
    "clients",
    "contracts",
    "technicians",
    "tickets",
    "time_entries",
    "invoices",
    "invoice_lines",
    "payments",
    "assets",
    "licenses",
)
#: reader role -> (tables it may read, columns hidden per table); mirrors db.semantic_access
#: at this revision (tests/security checks they agree).
ROLES: dict[str, tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = {
    "mspilot_reader": (BUSINESS, {}),
    "mspilot_reader_technician": (
        ("clients", "technicians", "tickets", "time_entries", "assets", "licenses"),
        {"technicians": ("hourly_cost",), "licenses": ("unit_cost", "unit_price")},
    ),
    "mspilot_reader_client": (
        ("clients", "tickets", "assets", "invoices", "invoice_lines", "payments", "licenses"),
        {"licenses": ("unit_cost",), "tickets": ("technician_id",)},
    ),
}
SYSTEM_HIDDEN = ("row_hash",)
RUN_FUNCTIONS = {
    "mspilot_reader": "mspilot_sql_run_reader",
    "mspilot_reader_technician": "mspilot_sql_run_technician",
    "mspilot_reader_client": "mspilot_sql_run_client",
}
POLICY = "mspilot_sql_read"
TENANT = "tenant_id = (SELECT mspilot_sql_tenant())"
NO_CLIENT = "(SELECT mspilot_sql_client()) IS NULL"
CLIENT = "(SELECT mspilot_sql_client())"
#: table -> the client condition of its policy
CLIENT_CONDITION = {
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


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _roles_ready(bind: sa.Connection) -> bool:
    rows = bind.execute(
        sa.text(
            "SELECT count(*) FROM pg_roles WHERE rolname = ANY(:names) "
            "AND pg_has_role(current_user, oid, 'MEMBER')"
        ),
        {"names": list(ROLES)},
    ).scalar_one()
    return int(rows) == len(ROLES)


def _create_roles() -> None:
    for role in ROLES:
        op.execute(
            f"""
            DO $$
            BEGIN
                IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                    CREATE ROLE {role} NOLOGIN NOINHERIT;
                END IF;
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN NULL;  -- created concurrently
                WHEN insufficient_privilege THEN
                    RAISE NOTICE 'no CREATEROLE: the SQL tool will refuse to run';
            END $$;
            """
        )
        op.execute(
            f"""
            DO $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}')
                   AND NOT pg_has_role(current_user, '{role}', 'MEMBER') THEN
                    EXECUTE format('GRANT {role} TO %I', current_user);
                END IF;
            EXCEPTION WHEN OTHERS THEN
                RAISE NOTICE 'cannot grant {role} to the current user';
            END $$;
            """
        )


def _run_function(schema: str, name: str) -> str:
    return f"""
        CREATE OR REPLACE FUNCTION {name}(q text, max_rows integer, max_bytes integer)
        RETURNS SETOF text LANGUAGE plpgsql VOLATILE SECURITY DEFINER
        SET search_path = {_q(schema)}, pg_temp
        AS $f$
        DECLARE
            r record;
            line text;
            n integer := 0;
            used bigint := 0;
        BEGIN
            FOR r IN EXECUTE q LOOP
                line := to_json(r)::text;
                n := n + 1;
                used := used + octet_length(line);
                IF n > max_rows OR used > max_bytes THEN
                    RETURN NEXT NULL;  -- truncated
                    RETURN;
                END IF;
                RETURN NEXT line;
            END LOOP;
        END
        $f$
    """


def upgrade() -> None:
    op.create_table(
        "sql_scope",
        sa.Column("pid", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("xid", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tenant_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=120), nullable=True),
        sa.PrimaryKeyConstraint("pid", "xid", name=op.f("pk_sql_scope")),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    _create_roles()
    if not _roles_ready(bind):
        return
    schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
    everyone = ", ".join(ROLES)
    op.execute(f"REVOKE ALL ON sql_scope FROM PUBLIC")
    op.execute(f"GRANT USAGE ON SCHEMA {_q(schema)} TO {everyone}")

    # the scope, readable only through these two functions
    for fn, column in (("mspilot_sql_tenant", "tenant_id"), ("mspilot_sql_client", "client_id")):
        op.execute(
            f"""
            CREATE OR REPLACE FUNCTION {fn}() RETURNS text
            LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {_q(schema)}, pg_temp
            AS $f$
                SELECT {column} FROM {_q(schema)}.sql_scope
                WHERE pid = pg_backend_pid() AND xid = txid_current_if_assigned()
            $f$
            """
        )
        op.execute(f"REVOKE ALL ON FUNCTION {fn}() FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn}() TO {everyone}")

    # column grants: exactly what each application role may read
    for role, (tables, hidden) in ROLES.items():
        for table in tables:
            columns = bind.execute(
                sa.text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = :t "
                    "ORDER BY ordinal_position"
                ),
                {"t": table},
            ).scalars().all()
            keep = [
                c for c in columns if c not in hidden.get(table, ()) and c not in SYSTEM_HIDDEN
            ]
            op.execute(f"GRANT SELECT ({', '.join(_q(c) for c in keep)}) ON {table} TO {role}")

    # rows: the caller's tenant, not deleted, and a client user's own client
    for table in BUSINESS:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
        op.execute(
            f"CREATE POLICY {POLICY} ON {table} FOR SELECT TO {everyone} "
            f"USING ({TENANT} AND deleted_at IS NULL AND {CLIENT_CONDITION[table]})"
        )

    # the only way a reader runs a query: as itself, unable to SET ROLE back
    for role, fn in RUN_FUNCTIONS.items():
        op.execute(_run_function(schema, fn))
        op.execute(f"REVOKE ALL ON FUNCTION {fn}(text, integer, integer) FROM PUBLIC")
        op.execute(f"GRANT CREATE ON SCHEMA {_q(schema)} TO {role}")
        op.execute(f"ALTER FUNCTION {fn}(text, integer, integer) OWNER TO {role}")
        op.execute(f"REVOKE CREATE ON SCHEMA {_q(schema)} FROM {role}")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn}(text, integer, integer) TO {role}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        have_roles = bind.execute(
            sa.text("SELECT count(*) FROM pg_roles WHERE rolname = ANY(:names)"),
            {"names": list(ROLES)},
        ).scalar_one()
        for fn in RUN_FUNCTIONS.values():
            op.execute(f"DROP FUNCTION IF EXISTS {fn}(text, integer, integer)")
        for table in BUSINESS:
            op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {table}")
            if have_roles == len(ROLES):
                op.execute(f"REVOKE ALL ON {table} FROM {', '.join(ROLES)}")
        op.execute("DROP FUNCTION IF EXISTS mspilot_sql_tenant()")
        op.execute("DROP FUNCTION IF EXISTS mspilot_sql_client()")
        if have_roles == len(ROLES):
            schema = str(bind.exec_driver_sql("SELECT current_schema()").scalar_one())
            op.execute(f"REVOKE ALL ON SCHEMA {_q(schema)} FROM {', '.join(ROLES)}")
    op.drop_table("sql_scope")
