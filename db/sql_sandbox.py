"""Layers 2 and 3 of the SQL tool's confinement: the database's own walls, and the result caps.

Whatever text reaches this module — the parser guard's rewrite, or (in the attack suite) the
attacker's SQL untouched — can read only the caller's scope, and writes nothing.

**SQLite** (``run_sqlite``): the query runs on a connection of its own, opened ``mode=ro``.
Before the query, with no authorizer yet, the connection gets per-request TEMP views:
``_s<nonce>_<table>`` reads ``main.<table>`` filtered to the tenant (and client), without
deleted rows, projecting the role's visible columns; ``<table>`` (same name as the real table,
found first because ``temp`` is searched before ``main``) selects from it. The nonce is new for
every request. Then ``PRAGMA query_only=ON`` and an authorizer callback that allows only:

- ``SQLITE_SELECT`` and ``SQLITE_RECURSIVE``;
- ``SQLITE_READ`` of ``main`` when the innermost view reading it is one of this request's
  ``_s<nonce>_*`` views (SQLite names a CTE there too, so the unguessable nonce is what tells
  our views from a CTE that borrows a table's name), of ``temp`` views of this request, and
  of no schema (a read naming no column, e.g. ``count(*)``) only when the name is no real
  table's (SQLite gives a CTE and a real table alike there);
- ``SQLITE_FUNCTION`` of the functions in ``SQLITE_FUNCTIONS``.

Everything else is denied: other tables (``users``, ``api_keys``, …), ``sqlite_master``,
ATTACH, PRAGMA (and ``pragma_*`` table functions), writes, temp objects, ``json_each`` and
other virtual tables, ``sqlite_version()``, ``load_extension()``. A progress handler stops the
query after ``MAX_VM_STEPS`` virtual-machine steps or ``timeout_s``; ``SQLITE_LIMIT_LENGTH``
caps any value built, ``SQLITE_LIMIT_ATTACHED`` is 0, and the statement cache is off (the
authorizer runs at every prepare).

**PostgreSQL** (``run_postgres``): one transaction that writes its ``sql_scope`` row, turns
``READ ONLY``, sets ``statement_timeout`` and the ``mspilot.*`` settings (informational: the
policies do not trust them), ``SET LOCAL ROLE`` to the reader role of the caller's application
role, runs the query through that role's ``mspilot_sql_run_*`` SECURITY DEFINER function
(PostgreSQL refuses any change of role inside it) and rolls back. The role's grants and the
row-level security policies of migration ``0009_sql_reader`` do the confining.

**Results** (both): at most ``max_rows`` rows (one more is read to flag truncation) and
``MAX_RESULT_BYTES`` of values; the rest is never fetched.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from psycopg import sql as pgsql
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from mspilot.db.semantic_access import check_role, sql_tables
from mspilot.db.sql_guard import SqlRejected, scoped_select_sql

TIMEOUT_S: Final = 5.0
MAX_VM_STEPS: Final = 200_000_000
MAX_RESULT_BYTES: Final = 1_000_000
MAX_VALUE_BYTES: Final = 4_000_000
_PROGRESS_EVERY: Final = 10_000

#: application role -> PostgreSQL reader role (migration 0009_sql_reader)
PG_READER_ROLES: Final = {
    "owner": "mspilot_reader",
    "finance": "mspilot_reader",
    "service_manager": "mspilot_reader",
    "technician": "mspilot_reader_technician",
    "client_user": "mspilot_reader_client",
}
PG_RUN_FUNCTIONS: Final = {
    "mspilot_reader": "mspilot_sql_run_reader",
    "mspilot_reader_technician": "mspilot_sql_run_technician",
    "mspilot_reader_client": "mspilot_sql_run_client",
}

#: SQLite functions a read may call (the authorizer's allow-list; anything else is denied).
SQLITE_FUNCTIONS: Final = frozenset(
    {
        # aggregates and windows
        "count",
        "sum",
        "total",
        "avg",
        "min",
        "max",
        "group_concat",
        "string_agg",
        "row_number",
        "rank",
        "dense_rank",
        "ntile",
        "lag",
        "lead",
        "first_value",
        "last_value",
        "nth_value",
        "percent_rank",
        "cume_dist",
        # scalars
        "abs",
        "round",
        "coalesce",
        "ifnull",
        "nullif",
        "iif",
        "lower",
        "upper",
        "length",
        "substr",
        "substring",
        "trim",
        "ltrim",
        "rtrim",
        "replace",
        "instr",
        "printf",
        "format",
        "concat",
        "concat_ws",
        "typeof",
        "hex",
        "quote",
        "char",
        "unicode",
        "like",
        "glob",
        "likely",
        "unlikely",
        "likelihood",
        "sign",
        "ceil",
        "ceiling",
        "floor",
        "trunc",
        "mod",
        "pow",
        "power",
        "sqrt",
        "exp",
        "ln",
        "log",
        "log10",
        "log2",
        "pi",
        "random",
        # dates
        "date",
        "time",
        "datetime",
        "julianday",
        "unixepoch",
        "strftime",
        "timediff",
        # JSON values (not the json_each/json_tree tables)
        "json",
        "json_extract",
        "json_array_length",
        "json_type",
        "json_valid",
        "json_quote",
    }
)


@dataclass
class SqlResult:
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    row_count: int = 0
    truncated: bool = False
    sql: str = ""  # the statement as run (scoped and capped)
    error: str | None = None  # a database error, for the agent to correct and retry
    #: the database itself refused (authorizer, grants, row security, read-only): layer 2
    denied: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class _DbRefused(Exception):
    """The database refused or failed the query; ``denied`` when by a confinement rule."""

    def __init__(self, message: str, *, denied: bool) -> None:
        super().__init__(message)
        self.denied = denied


def plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return value


def _size(value: Any) -> int:
    if value is None:
        return 4
    if isinstance(value, str | bytes):
        return len(value)
    return 8


# ---- SQLite ------------------------------------------------------------------------------------

_SQLITE_OK: Final = sqlite3.SQLITE_OK
_SQLITE_DENY: Final = sqlite3.SQLITE_DENY


@dataclass
class _Scope:
    role: str
    tenant_id: str
    client_id: str | None


class _SqliteSandbox:
    """One read-only connection and the TEMP views of the request it is serving."""

    def __init__(self, uri: str) -> None:
        self.conn = sqlite3.connect(
            uri, uri=True, check_same_thread=False, cached_statements=0, isolation_level=None
        )
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.views: list[str] = []
        self.real: frozenset[str] = frozenset()
        self.inner: frozenset[str] = frozenset()
        self.outer: frozenset[str] = frozenset()

    def prepare(self, scope: _Scope) -> None:
        """Drop the last request's views and create this one's (no authorizer installed)."""
        conn = self.conn
        conn.set_authorizer(None)
        conn.execute("PRAGMA query_only=OFF")
        for name in self.views:
            conn.execute(f'DROP VIEW IF EXISTS temp."{name}"')
        self.real = frozenset(
            str(n).lower()
            for (n,) in conn.execute(
                "SELECT name FROM main.sqlite_master WHERE type IN ('table', 'view')"
            )
        )
        nonce = secrets.token_hex(12)
        views: list[str] = []
        inner: set[str] = set()
        for table in sorted(sql_tables(scope.role)):
            hidden_name = f"_s{nonce}_{table}"
            select = scoped_select_sql(
                table,
                tenant_id=scope.tenant_id,
                client_id=scope.client_id,
                role=scope.role,
                source=f"main.{table}",
            )
            conn.execute(f'CREATE TEMP VIEW "{hidden_name}" AS {select}')
            conn.execute(f'CREATE TEMP VIEW "{table}" AS SELECT * FROM "{hidden_name}"')
            views += [table, hidden_name]
            inner.add(hidden_name)
        self.views = views
        self.inner = frozenset(inner)
        self.outer = frozenset(views)
        conn.execute("PRAGMA query_only=ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 100_000)

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, db: str | None, via: str | None
    ) -> int:
        if action in (sqlite3.SQLITE_SELECT, sqlite3.SQLITE_RECURSIVE):
            return _SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            if db == "main" and via in self.inner:
                return _SQLITE_OK
            if db == "temp" and arg1 in self.outer:
                return _SQLITE_OK
            if db is None and not self._names_a_real_table(arg1):
                return _SQLITE_OK  # a CTE read without naming a column (count(*))
            return _SQLITE_DENY
        if action == sqlite3.SQLITE_FUNCTION:
            return _SQLITE_OK if (arg2 or "").lower() in SQLITE_FUNCTIONS else _SQLITE_DENY
        return _SQLITE_DENY

    def _names_a_real_table(self, name: str | None) -> bool:
        """SQLite reports a table read that names no column (``count(*)``) with no schema and
        the name as written, for a real table and a CTE alike: any name a real table has is
        refused (a CTE named like a table then fails, which is safe)."""
        low = (name or "").lower()
        return not low or low in self.real or low.startswith("sqlite_")

    def run(
        self, sql: str, *, max_rows: int, timeout_s: float
    ) -> tuple[list[str], list[Any], bool]:
        conn = self.conn
        deadline = time.monotonic() + timeout_s
        steps = [0]

        def progress() -> int:
            steps[0] += _PROGRESS_EVERY
            return int(steps[0] > MAX_VM_STEPS or time.monotonic() > deadline)

        conn.set_progress_handler(progress, _PROGRESS_EVERY)
        conn.set_authorizer(self.authorize)
        try:
            cursor = conn.execute(sql)
            columns = [d[0] for d in cursor.description or []]
            rows, truncated = _fetch_capped(cursor, max_rows)
            cursor.close()
        finally:
            conn.set_authorizer(None)
            conn.set_progress_handler(None, 0)
        return columns, rows, truncated


def _fetch_capped(cursor: Any, max_rows: int) -> tuple[list[Any], bool]:
    rows: list[Any] = []
    used = 0
    while True:
        batch = cursor.fetchmany(min(64, max_rows + 1 - len(rows)))
        if not batch:
            return rows, False
        for row in batch:
            used += sum(_size(v) for v in row)
            if len(rows) >= max_rows or used > MAX_RESULT_BYTES:
                return rows, True
            rows.append(list(row))


#: idle sandboxes, most recently used last (few: each holds a file handle and its views)
_IDLE: list[tuple[str, _SqliteSandbox]] = []
_POOL_LOCK = threading.Lock()
_POOL_SIZE: Final = 6


def _acquire(uri: str) -> _SqliteSandbox:
    with _POOL_LOCK:
        for i in range(len(_IDLE) - 1, -1, -1):
            if _IDLE[i][0] == uri:
                return _IDLE.pop(i)[1]
    return _SqliteSandbox(uri)


def _release(uri: str, box: _SqliteSandbox) -> None:
    with _POOL_LOCK:
        _IDLE.append((uri, box))
        evicted = _IDLE[: max(0, len(_IDLE) - _POOL_SIZE)]
        del _IDLE[: len(evicted)]
    for _, old in evicted:
        old.conn.close()


def _sqlite_uri(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise SqlRejected("the SQL tool needs a SQLite database file")
    return f"file:{quote(str(Path(database).resolve()))}?mode=ro"


def _sqlite_error(exc: sqlite3.Error) -> _DbRefused:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    denied = any(
        k in msg
        for k in (
            "not authorized",
            "prohibited",
            "readonly",
            "read-only",
            "cannot modify",
            "vtable constructor failed",
        )
    )
    if "interrupted" in msg:
        msg = "the query took too long and was stopped; simplify it or filter more"
    if denied:
        msg = f"the database refused: {msg} (read only the listed tables and functions)"
    return _DbRefused(msg, denied=denied)


def run_sqlite(
    engine: Engine,
    sql: str,
    *,
    tenant_id: str,
    client_id: str | None,
    role: str,
    max_rows: int,
    timeout_s: float = TIMEOUT_S,
) -> tuple[list[str], list[Any], bool]:
    """Run ``sql`` confined by the authorizer and the request's views; raise ``_DbRefused``."""
    check_role(role)
    if role == "client_user" and client_id is None:
        raise SqlRejected("a client user needs a client_id")
    uri = _sqlite_uri(engine)
    box = _acquire(uri)
    healthy = False
    try:
        box.prepare(_Scope(role, tenant_id, client_id))
        try:
            result = box.run(sql, max_rows=max_rows, timeout_s=timeout_s)
        except sqlite3.Error as exc:
            healthy = True
            raise _sqlite_error(exc) from None
        except (ValueError, OverflowError, MemoryError) as exc:
            healthy = True
            raise _DbRefused(f"{type(exc).__name__}: {exc}", denied=False) from None
        healthy = True
        return result
    finally:
        if healthy:
            _release(uri, box)
        else:
            box.conn.close()


# ---- PostgreSQL --------------------------------------------------------------------------------


def _pg_error(exc: Exception) -> _DbRefused:
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None)
    msg = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    denied = sqlstate in ("42501", "25006", "42P11") or "permission denied" in msg
    if sqlstate == "57014" or "statement timeout" in msg or "canceling statement" in msg:
        msg = "the query took too long and was stopped; simplify it or filter more"
    elif denied:
        msg = f"the database refused: {msg} (read only the listed tables and functions)"
    return _DbRefused(msg, denied=denied)


_READY: set[tuple[str, str]] = set()


def _check_reader(conn: Connection, reader: str, run_fn: str) -> None:
    """A clear refusal when the reader role or its function is missing (checked once per
    database URL; without them the run fails closed anyway: it never runs as ourselves)."""
    key = (str(conn.engine.url), reader)
    if key in _READY:
        return
    ready = conn.execute(
        text(
            "SELECT to_regprocedure(:fn) IS NOT NULL AND EXISTS "
            "(SELECT 1 FROM pg_roles WHERE rolname = :r "
            "AND pg_has_role(current_user, oid, 'MEMBER'))"
        ),
        {"fn": f"{run_fn}(text,integer,integer)", "r": reader},
    ).scalar_one()
    if not ready:
        raise _DbRefused(
            f"the database has no {reader} role or {run_fn}(): run `mspilot db upgrade` "
            "as a user that may create roles",
            denied=True,
        )
    _READY.add(key)


def _pairs(line: str) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = json.loads(line, object_pairs_hook=list)
    return pairs


def run_postgres(
    engine: Engine,
    sql: str,
    *,
    tenant_id: str,
    client_id: str | None,
    role: str,
    max_rows: int,
    timeout_s: float = TIMEOUT_S,
    columns_hint: list[str] | None = None,
) -> tuple[list[str], list[Any], bool]:
    """Run ``sql`` as the role's reader under row-level security; raise ``_DbRefused``."""
    reader = PG_READER_ROLES[check_role(role)]
    if role == "client_user" and client_id is None:
        raise SqlRejected("a client user needs a client_id")
    run_fn = PG_RUN_FUNCTIONS[reader]
    with engine.connect() as conn:
        try:
            _check_reader(conn, reader, run_fn)
            # one round trip, literals quoted by the driver: scope row, read-only, settings, role
            driver: Any = conn.connection.driver_connection
            setup = pgsql.SQL(
                "INSERT INTO sql_scope (pid, xid, tenant_id, client_id) "
                "VALUES (pg_backend_pid(), txid_current(), {t}, {c}); "
                "SET TRANSACTION READ ONLY; "
                "SELECT set_config('statement_timeout', {ms}, true), "
                "set_config('mspilot.tenant_id', {t}, true), "
                "set_config('mspilot.client_id', {cs}, true); "
                "SET LOCAL ROLE {role}"
            ).format(
                t=pgsql.Literal(tenant_id),
                c=pgsql.Literal(client_id),
                cs=pgsql.Literal(client_id or ""),
                ms=pgsql.Literal(str(max(1, int(timeout_s * 1000)))),
                role=pgsql.Identifier(reader),
            )
            conn.exec_driver_sql(setup.as_string(driver))
            lines = (
                conn.execute(
                    text(f"SELECT {run_fn}(:q, :n, :b)"),
                    {"q": sql, "n": max_rows, "b": MAX_RESULT_BYTES},
                )
                .scalars()
                .all()
            )
        except (DBAPIError, SQLAlchemyError) as exc:
            raise _pg_error(exc) from None
        finally:
            conn.rollback()
            try:  # session-level advisory locks outlive the transaction
                conn.exec_driver_sql("SELECT pg_advisory_unlock_all()")
                conn.rollback()
            except (DBAPIError, SQLAlchemyError):
                conn.invalidate()
    truncated = bool(lines) and lines[-1] is None
    rows_pairs = [_pairs(line) for line in lines if line is not None]
    columns = [k for k, _ in rows_pairs[0]] if rows_pairs else list(columns_hint or [])
    rows = [[v for _, v in pairs] for pairs in rows_pairs]
    return columns, rows, truncated
