"""Read-only SQL for the agent: three layers, each sufficient on its own (README: Security).

1. **Parser guard** (``db.sql_guard``): one SELECT; names resolved by scope and made binding
   (CTEs renamed, real tables replaced by tenant/client-scoped subqueries projecting the role's
   columns); unknown functions and anything it cannot resolve are refused (``SqlRejected``).
2. **The database** (``db.sql_sandbox``): SQLite — a ``mode=ro``, ``query_only`` connection
   whose authorizer lets the query read only this request's scoped TEMP views and call only
   allow-listed functions; PostgreSQL — a READ ONLY transaction as a reader role with
   column grants on the role's business tables only and row-level security on tenant/client.
3. **Result caps**: rows (``max_rows``, one more read to flag truncation), bytes, VM steps and
   time.

A database error does not raise: it comes back in ``SqlResult.error`` (with ``denied`` set
when a confinement rule refused it) so the agent can show it to the planner and retry once.
Refusals by the parser raise ``SqlRejected`` (a ``UserInputError``).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import Engine

from mspilot.db.schema import TABLES_BY_NAME
from mspilot.db.semantic_access import hidden_columns, sql_tables
from mspilot.db.sql_guard import MAX_ROWS, SqlRejected, dialect_of, guard_sql, visible_columns
from mspilot.db.sql_sandbox import (
    PG_READER_ROLES,
    TIMEOUT_S,
    SqlResult,
    _DbRefused,
    plain,
    run_postgres,
    run_sqlite,
)

READONLY_ROLE: Final = PG_READER_ROLES["owner"]

__all__ = [
    "MAX_ROWS",
    "READONLY_ROLE",
    "TIMEOUT_S",
    "SqlRejected",
    "SqlResult",
    "guard_sql",
    "run_readonly_sql",
    "run_sandboxed_sql",
    "table_columns",
]


def run_sandboxed_sql(
    engine: Engine,
    sql: str,
    *,
    tenant_id: str,
    client_id: str | None = None,
    role: str = "owner",
    max_rows: int = MAX_ROWS,
    timeout_s: float = TIMEOUT_S,
    columns_hint: list[str] | None = None,
) -> SqlResult:
    """Layers 2 and 3 alone: run ``sql`` as given, confined by the database and the caps.

    ``run_readonly_sql`` calls it with the parser guard's rewrite; the attack suite calls it
    with raw SQL to show the database's walls hold without the parser."""
    try:
        if engine.dialect.name == "postgresql":
            columns, raw, truncated = run_postgres(
                engine,
                sql,
                tenant_id=tenant_id,
                client_id=client_id,
                role=role,
                max_rows=max_rows,
                timeout_s=timeout_s,
                columns_hint=columns_hint,
            )
        else:
            columns, raw, truncated = run_sqlite(
                engine,
                sql,
                tenant_id=tenant_id,
                client_id=client_id,
                role=role,
                max_rows=max_rows,
                timeout_s=timeout_s,
            )
    except _DbRefused as exc:
        return SqlResult(sql=sql, error=str(exc), denied=exc.denied)
    rows = [[plain(v) for v in row] for row in raw[:max_rows]]
    return SqlResult(columns=columns, rows=rows, row_count=len(rows), truncated=truncated, sql=sql)


def run_readonly_sql(
    engine: Engine,
    sql: str,
    *,
    tenant_id: str,
    client_id: str | None = None,
    role: str = "owner",
    max_rows: int = MAX_ROWS,
    timeout_s: float = TIMEOUT_S,
) -> SqlResult:
    """Guard, scope and run one read-only query. Refusals raise ``SqlRejected``; database
    errors come back in ``SqlResult.error``."""
    safe = guard_sql(
        sql,
        tenant_id=tenant_id,
        client_id=client_id,
        role=role,
        dialect=engine.dialect.name,
        max_rows=max_rows,
    )
    hint: list[str] | None = None
    if engine.dialect.name == "postgresql":
        hint = _named_selects(safe, dialect_of(engine.dialect.name))
    return run_sandboxed_sql(
        engine,
        safe,
        tenant_id=tenant_id,
        client_id=client_id,
        role=role,
        max_rows=max_rows,
        timeout_s=timeout_s,
        columns_hint=hint,
    )


def _named_selects(sql: str, dialect: str) -> list[str] | None:
    """Output column names of a guarded query (PostgreSQL returns none with zero rows)."""
    import sqlglot

    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None
    if not isinstance(tree, sqlglot.exp.Query):
        return None
    names = tree.named_selects
    return [n for n in names if n != "*"] or None


def table_columns(role: str, table: str) -> list[tuple[str, str, str]]:
    """(name, type, comment) of the columns of ``table`` the role may see."""
    if table not in sql_tables(role):
        raise SqlRejected(
            f"unknown or forbidden table {table!r}; tables you can read: "
            f"{', '.join(sorted(sql_tables(role)))}"
        )
    hidden = hidden_columns(role, table)
    visible = set(visible_columns(role, table))
    orm = TABLES_BY_NAME[table].__table__
    return [
        (c.name, str(c.type), c.comment or "")
        for c in orm.columns
        if c.name not in hidden and c.name in visible
    ]
