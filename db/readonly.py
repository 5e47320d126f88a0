"""Read-only SQL for the agent: parse, check, scope, cap, then run on a read-only connection.

1. **Parse** with sqlglot: exactly one statement, and it must be a query (SELECT, CTEs, set
   operations). Anything else — writes, DDL, PRAGMA, ATTACH, SET, SELECT INTO, FOR UPDATE,
   data-modifying CTEs, file/system functions — is refused with a clear reason.
2. **Check** every table against the role's readable tables (``semantic_access``) and every
   column against the role's hidden columns. Schema-qualified names, catalogue tables and
   table-valued functions are refused.
3. **Scope**: every table reference is rewritten on the AST to a subquery of that table
   filtered to the caller's tenant (and, for a client user, to their client), without
   deleted rows and projecting only the columns the role may see. The LLM never writes the
   tenant filter and cannot remove it.
4. **Cap** the rows (``LIMIT max_rows + 1`` to detect truncation) and strip comments.
5. **Run** read-only: SQLite through a ``mode=ro`` URI connection with ``PRAGMA query_only``
   and a progress-handler timeout; PostgreSQL in a ``READ ONLY`` transaction with
   ``statement_timeout``, as the ``mspilot_readonly`` role (migration 0004) whose row-level
   security policies filter on ``app.tenant_id`` / ``app.client_id`` (set per transaction).

A database error does not raise: it comes back in ``SqlResult.error`` so the agent can show it
to the planner and retry once. Refusals raise ``SqlRejected`` (a ``UserInputError``).
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import sqlglot
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import QueuePool
from sqlglot import exp
from sqlglot.errors import ParseError

from mspilot.core.errors import UserInputError
from mspilot.db.schema import TABLES_BY_NAME
from mspilot.db.semantic_access import check_role, hidden_columns, sql_tables

MAX_ROWS: Final = 200
TIMEOUT_S: Final = 5.0
READONLY_ROLE: Final = "mspilot_readonly"

#: Statement kinds that are never a read.
_FORBIDDEN_NODES: Final[tuple[type[exp.Expression], ...]] = tuple(
    getattr(exp, name)
    for name in (
        "Insert",
        "Update",
        "Delete",
        "Merge",
        "Create",
        "Drop",
        "Alter",
        "Command",
        "Pragma",
        "Set",
        "Transaction",
        "Commit",
        "Rollback",
        "Copy",
        "LoadData",
        "Use",
        "Attach",
        "Detach",
        "Into",
        "Lock",
        "TruncateTable",
        "Grant",
        "Analyze",
    )
    if hasattr(exp, name)
)
_QUERY_ROOTS: Final = (exp.Select, exp.Union, exp.Intersect, exp.Except)

#: Functions that reach outside the query (files, settings, other SQL, sleeping, extensions).
_DENIED_FUNCTIONS: Final = frozenset(
    {
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        "current_setting",
        "set_config",
        "dblink",
        "randomblob",
        "zeroblob",
        "sqlite_compileoption_get",
        "sqlite_compileoption_used",
        "sqlite_offset",
        "txid_current",
        "version",
        "current_user",
        "session_user",
        "inet_server_addr",
        "has_table_privilege",
        "to_regclass",
    }
)
_DENIED_PATTERN: Final = re.compile(r"^(pg_|lo_|dblink|sqlite_)|xml|file|exec|sleep|copy")
#: Function node types sqlglot knows that read files or other databases.
_DENIED_FUNC_NODES: Final = frozenset(
    n for n in ("ReadCSV", "ReadParquet", "Load", "Uuid") if hasattr(exp, n)
)


class _DriverError(Exception):
    """A database error raised by the driver's own cursor."""


class SqlRejected(UserInputError):
    """The statement was refused before it ran; the message says why."""


@dataclass
class SqlResult:
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    sql: str = ""  # the statement as run (scoped and capped)
    error: str | None = None  # a database error, for the agent to correct and retry

    @property
    def ok(self) -> bool:
        return self.error is None


# ---- the guard -------------------------------------------------------------------------------


def _dialect(name: str) -> str:
    return "postgres" if name.startswith("postgres") else "sqlite"


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_functions(tree: exp.Expression) -> None:
    for node in tree.find_all(exp.Func):
        name = _function_name(node)
        if (
            name in _DENIED_FUNCTIONS
            or _DENIED_PATTERN.search(name)
            or type(node).__name__ in _DENIED_FUNC_NODES
        ):
            raise SqlRejected(f"function {name}() is not allowed in read-only queries")


def _scoped_table(
    name: str, alias: str, *, tenant_id: str, client_id: str | None, role: str
) -> exp.Subquery:
    """``(SELECT <visible cols> FROM name WHERE tenant_id = … [AND client scope]) AS alias``."""
    table = TABLES_BY_NAME[name].__table__
    hidden = hidden_columns(role, name)
    cols = [c.name for c in table.columns if c.name not in hidden]
    tenant = exp.Literal.string(tenant_id)
    where: exp.Condition = exp.and_(
        exp.EQ(this=exp.column("tenant_id"), expression=tenant),
        exp.Is(this=exp.column("deleted_at"), expression=exp.Null()),
    )
    if client_id is not None:
        client = exp.Literal.string(client_id)
        if name == "clients":
            cond: exp.Condition = exp.EQ(this=exp.column("id"), expression=client)
        elif "client_id" in table.columns:
            cond = exp.EQ(this=exp.column("client_id"), expression=client)
        elif name == "invoice_lines":
            inner = (
                exp.select("id")
                .from_("invoices")
                .where(
                    exp.and_(
                        exp.EQ(this=exp.column("tenant_id"), expression=tenant.copy()),
                        exp.EQ(this=exp.column("client_id"), expression=client.copy()),
                    )
                )
            )
            cond = exp.In(this=exp.column("invoice_id"), query=exp.Subquery(this=inner))
        else:  # nothing to tie the table to one client: show nothing
            cond = exp.false()
        where = exp.and_(where, cond)
    select = exp.select(*cols).from_(name).where(where)
    return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _cap(tree: exp.Expression, max_rows: int) -> None:
    limit = tree.args.get("limit")
    current: int | None = None
    if isinstance(limit, exp.Limit) and isinstance(limit.expression, exp.Literal):
        try:
            current = int(limit.expression.this)
        except ValueError:
            current = None
    if current is None or current > max_rows + 1:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(max_rows + 1)))


def guard_sql(
    sql: str,
    *,
    tenant_id: str,
    client_id: str | None = None,
    role: str = "owner",
    dialect: str = "sqlite",
    max_rows: int = MAX_ROWS,
) -> str:
    """Check ``sql`` and return the scoped, capped statement to run; raise ``SqlRejected``."""
    check_role(role)
    if role == "client_user" and client_id is None:
        raise SqlRejected("a client user needs a client_id")
    read = _dialect(dialect)
    if not sql or not sql.strip():
        raise SqlRejected("empty query")
    if "\x00" in sql:
        raise SqlRejected("the query contains a NUL byte")
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except (ParseError, sqlglot.errors.TokenError) as exc:
        raise SqlRejected(f"could not parse the query: {str(exc).splitlines()[0]}") from None
    if len(statements) != 1:
        raise SqlRejected(f"exactly one SELECT statement is allowed, got {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, _QUERY_ROOTS):
        raise SqlRejected(f"only SELECT queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise SqlRejected(f"only plain reads are allowed: {node.key.upper()} found")
    _check_functions(tree)

    allowed = sql_tables(role)
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    if cte_names & set(TABLES_BY_NAME):
        raise SqlRejected("a CTE may not be named like a table")
    tables: list[exp.Table] = []
    referenced: set[str] = set()
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SqlRejected("table functions are not allowed; select from tables")
        name = table.name.lower()
        if table.args.get("db") or table.args.get("catalog"):
            raise SqlRejected(f"use plain table names (no schema prefix): {table.sql()}")
        if name in cte_names:
            continue
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise SqlRejected(f"unknown or forbidden table {name!r}; tables you can read: {known}")
        tables.append(table)
        referenced.add(name)

    hidden = set().union(*(hidden_columns(role, t) for t in referenced)) if referenced else set()
    for column in tree.find_all(exp.Column):
        if column.name.lower() in hidden:
            raise SqlRejected(f"column {column.name!r} is not available to the {role} role")

    for table in tables:
        alias = table.alias or table.name
        table.replace(
            _scoped_table(
                table.name.lower(), alias, tenant_id=tenant_id, client_id=client_id, role=role
            )
        )
    for node in tree.walk():
        node.comments = None
    _cap(tree, max_rows)
    return tree.sql(dialect=read, normalize_functions=False)


# ---- execution -------------------------------------------------------------------------------

_RO_ENGINES: dict[str, Engine] = {}
_RO_LOCK = threading.Lock()


def _query_only(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def readonly_engine(engine: Engine) -> Engine:
    """A read-only engine on the same database (SQLite: a ``mode=ro`` URI connection)."""
    if engine.dialect.name != "sqlite":
        return engine  # PostgreSQL: read-only transactions + role, see run_readonly_sql
    database = engine.url.database
    if not database or database == ":memory:":
        return engine
    key = str(database)
    with _RO_LOCK:
        ro = _RO_ENGINES.get(key)
        if ro is None:
            uri = f"file:{quote(str(Path(database).resolve()))}?mode=ro"

            def connect() -> sqlite3.Connection:
                return sqlite3.connect(uri, uri=True, check_same_thread=False)

            ro = create_engine("sqlite://", creator=connect, poolclass=QueuePool)
            event.listen(ro, "connect", _query_only)
            _RO_ENGINES[key] = ro
        return ro


@contextmanager
def _sqlite_deadline(conn: Connection, timeout_s: float) -> Iterator[None]:
    raw: Any = conn.connection.dbapi_connection
    deadline = time.monotonic() + timeout_s
    raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
    try:
        yield
    finally:
        raw.set_progress_handler(None, 0)


def _pg_has_readonly_role(conn: Connection) -> bool:
    row = conn.execute(
        text("SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = :r"),
        {"r": READONLY_ROLE},
    ).first()
    return bool(row and row[0])


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return value


def _error_text(exc: Exception) -> str:
    orig = getattr(exc, "orig", None)
    msg = str(orig if orig is not None else exc).strip().splitlines()[0]
    if "interrupted" in msg or "statement timeout" in msg or "canceling statement" in msg:
        return "the query took too long and was stopped; simplify it or filter more"
    return msg


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
    try:
        if engine.dialect.name == "postgresql":
            columns, raw = _run_pg(engine, safe, tenant_id, client_id, timeout_s)
        else:
            columns, raw = _run_sqlite(engine, safe, timeout_s)
    except (DBAPIError, SQLAlchemyError, _DriverError) as exc:
        return SqlResult(sql=safe, error=_error_text(exc))
    rows = [[_plain(v) for v in row] for row in raw[:max_rows]]
    return SqlResult(
        columns=columns, rows=rows, row_count=len(rows), truncated=len(raw) > max_rows, sql=safe
    )


def _run_sqlite(engine: Engine, sql: str, timeout_s: float) -> tuple[list[str], list[Any]]:
    ro = readonly_engine(engine)
    with ro.connect() as conn:
        shared = ro is engine  # in-memory database: no separate read-only file handle
        if shared:
            conn.exec_driver_sql("PRAGMA query_only=ON")
        try:
            with _sqlite_deadline(conn, timeout_s):
                result = conn.exec_driver_sql(sql)
                columns = list(result.keys())
                raw = list(result.fetchall())
        finally:
            conn.rollback()
            if shared:
                conn.exec_driver_sql("PRAGMA query_only=OFF")
    return columns, raw


def _run_pg(
    engine: Engine, sql: str, tenant_id: str, client_id: str | None, timeout_s: float
) -> tuple[list[str], list[Any]]:
    with engine.connect() as conn:
        try:
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(int(timeout_s * 1000))},
            )
            conn.execute(
                text(
                    "SELECT set_config('app.tenant_id', :t, true), "
                    "set_config('app.client_id', :c, true)"
                ),
                {"t": tenant_id, "c": client_id or ""},
            )
            if _pg_has_readonly_role(conn):
                conn.exec_driver_sql(f"SET LOCAL ROLE {READONLY_ROLE}")
            # the driver's own cursor without parameters: '%' in the query stays literal
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(sql)
                columns = [col.name for col in cursor.description or []]
                raw = list(cursor.fetchall())
            except Exception as exc:
                raise _DriverError(str(exc)) from exc
            finally:
                cursor.close()
        finally:
            conn.rollback()
    return columns, raw


def table_columns(role: str, table: str) -> list[tuple[str, str, str]]:
    """(name, type, comment) of the columns of ``table`` the role may see."""
    if table not in sql_tables(role):
        raise SqlRejected(
            f"unknown or forbidden table {table!r}; tables you can read: "
            f"{', '.join(sorted(sql_tables(role)))}"
        )
    hidden = hidden_columns(role, table)
    orm = TABLES_BY_NAME[table].__table__
    return [(c.name, str(c.type), c.comment or "") for c in orm.columns if c.name not in hidden]
