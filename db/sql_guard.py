"""Layer 1 of the SQL tool's confinement: the parser guard (sqlglot).

It reads the query the way the database will, and rewrites it so that the database can only
run what it understood:

1. **Parse**: exactly one statement, a query (SELECT, CTEs, set operations). Writes, DDL,
   PRAGMA, ATTACH, SET, SELECT INTO, FOR UPDATE, data-modifying CTEs are refused.
2. **Resolve names by scope** (``sqlglot.optimizer.scope``) after normalising identifiers the
   way the dialect does (SQLite folds every identifier, quoted or not; PostgreSQL folds the
   unquoted ones). Every table reference either resolves to a CTE visible at that point or is
   a real table of the role's set; anything else — a table reference outside every scope,
   schema-qualified names, table-valued functions, catalogue tables — is refused.
3. **Make the resolution binding**: every CTE is renamed to a fresh name (``_cte1_x``) and each
   reference resolved to it is renamed with it, and every reference resolved to a real table is
   replaced by a subquery of that table filtered to the caller's tenant (and client) projecting
   only the role's visible columns. So a CTE named after a table (at any depth) cannot make the
   database read the real table unscoped: after the rewrite no name means two things.
4. **Functions**: sqlglot's typed functions are allowed except the ones that read the
   session, the server or files; functions sqlglot does not know are allowed only from a short
   list.
5. **Cap** the rows (``LIMIT max_rows + 1`` to detect truncation) and strip comments.

This layer is the first of three (see ``db.sql_sandbox`` for the database's own walls); it is
not trusted to be sufficient alone, and the attack suite runs with it switched off too.
"""

from __future__ import annotations

import functools
import re
from typing import Final, cast

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from mspilot.core.errors import UserInputError
from mspilot.db.schema import TABLES_BY_NAME
from mspilot.db.semantic_access import check_role, hidden_columns, sql_tables

MAX_ROWS: Final = 200


class SqlRejected(UserInputError):
    """The statement was refused before it ran; the message says why."""


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
        "Lateral",
        "Unnest",
        "Pivot",
        "Values",
        "TableSample",
        "Describe",
        "Show",
    )
    if hasattr(exp, name)
)
_QUERY_ROOTS: Final = (exp.Select, exp.SetOperation)

#: sqlglot's typed functions that read the session, the server, files or other databases.
_DENIED_FUNC_CLASSES: Final = frozenset(
    {
        "ReadCSV",
        "ReadParquet",
        "Load",
        "Uuid",
        "Version",
        "SessionUser",
        "SessionParameter",
        "UserDefinedFunction",
        "AlterSession",
        "CurrentVersion",
        "CurrentUser",
        "CurrentUserId",
        "CurrentRole",
        "CurrentRoleType",
        "CurrentDatabase",
        "CurrentSchema",
        "CurrentSchemas",
        "CurrentCatalog",
        "CurrentSession",
        "CurrentStatement",
        "CurrentTransaction",
        "CurrentAccount",
        "CurrentAccountName",
        "CurrentAvailableRoles",
        "CurrentClient",
        "CurrentIpAddress",
        "CurrentOrganizationName",
        "CurrentOrganizationUser",
        "CurrentRegion",
        "CurrentSecondaryRoles",
        "CurrentWarehouse",
    }
)
#: Functions sqlglot does not know (``exp.Anonymous``) that a read may call.
ALLOWED_UNKNOWN_FUNCTIONS: Final = frozenset(
    {
        # SQLite
        "date",
        "time",
        "datetime",
        "julianday",
        "strftime",
        "unixepoch",
        "printf",
        "format",
        "total",
        "iif",
        "ifnull",
        "instr",
        "likely",
        "unlikely",
        "likelihood",
        "char",
        "ltrim",
        "rtrim",
        "mod",
        "pi",
        "log",
        "log10",
        "log2",
        "percent_rank",
        "cume_dist",
        "nth_value",
        "json_array_length",
        "json_type",
        "json_valid",
        # PostgreSQL
        "age",
        "make_date",
        "make_timestamp",
        "make_interval",
        "date_part",
        "to_char",
        "to_number",
        "char_length",
        "octet_length",
        "btrim",
        "translate",
        "width_bucket",
        "justify_hours",
        "justify_interval",
        "isfinite",
        "percentile_disc",
        "regr_slope",
        "cbrt",
        "degrees",
        "radians",
        "scale",
        "every",
    }
)
#: Name patterns never allowed, whatever sqlglot thinks the function is.
_DENIED_PATTERN: Final = re.compile(
    r"^(pg_|lo_|dblink|sqlite_|txid|set_|current_setting|load_extension)"
    r"|xml|file|exec|sleep|copy|blob|version|advisory|nextval|setval|currval|query"
)


def dialect_of(name: str) -> str:
    return "postgres" if name.startswith("postgres") else "sqlite"


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _check_functions(tree: exp.Expression) -> None:
    for node in tree.find_all(exp.Func):
        name = _function_name(node)
        if isinstance(node, exp.Anonymous):
            allowed = name in ALLOWED_UNKNOWN_FUNCTIONS
        else:
            allowed = type(node).__name__ not in _DENIED_FUNC_CLASSES
        if not allowed or _DENIED_PATTERN.search(name):
            raise SqlRejected(f"function {name}() is not allowed in read-only queries")


def visible_columns(role: str, table: str) -> list[str]:
    """The columns of ``table`` the role may read, in table order."""
    orm = TABLES_BY_NAME[table].__table__
    hidden = hidden_columns(role, table)
    return [c.name for c in orm.columns if c.name not in hidden]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def scoped_select_sql(
    name: str, *, tenant_id: str, client_id: str | None, role: str, source: str | None = None
) -> str:
    """``SELECT <visible cols> FROM <source or name> WHERE tenant_id = … [AND client scope]``,
    without deleted rows: the one definition of a caller's scope over a table, used by the
    parser guard's rewrite and by SQLite's per-request views. ``source`` renames the table
    read (SQLite's views read ``main.<name>``)."""
    table = TABLES_BY_NAME[name].__table__
    schema = "main." if source and source.startswith("main.") else ""
    tenant = _literal(tenant_id)
    where = [f"tenant_id = {tenant}", "deleted_at IS NULL"]
    if client_id is not None:
        client = _literal(client_id)
        if name == "clients":
            where.append(f"id = {client}")
        elif "client_id" in table.columns:
            where.append(f"client_id = {client}")
        elif name == "invoice_lines":
            where.append(
                f"invoice_id IN (SELECT id FROM {schema}invoices "
                f"WHERE tenant_id = {tenant} AND client_id = {client})"
            )
        else:  # nothing to tie the table to one client: show nothing
            where.append("1 = 0")
    cols = ", ".join(visible_columns(role, name))
    return f"SELECT {cols} FROM {source or name} WHERE {' AND '.join(where)}"


@functools.lru_cache(maxsize=256)
def _scoped_tree(
    name: str, tenant_id: str, client_id: str | None, role: str, read: str
) -> exp.Expression:
    sql = scoped_select_sql(name, tenant_id=tenant_id, client_id=client_id, role=role)
    return cast(exp.Expression, sqlglot.parse_one(sql, read=read))


def scoped_select(
    name: str, *, tenant_id: str, client_id: str | None, role: str, read: str = "sqlite"
) -> exp.Expression:
    """``scoped_select_sql`` as a tree (a fresh copy: the caller grafts it into a query)."""
    return _scoped_tree(name, tenant_id, client_id, role, read).copy()


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


def _parse_one(sql: str, read: str) -> exp.Expression:
    if not sql or not sql.strip():
        raise SqlRejected("empty query")
    if "\x00" in sql:
        raise SqlRejected("the query contains a NUL byte")
    try:
        statements = [s for s in sqlglot.parse(sql, read=read) if s is not None]
    except (ParseError, sqlglot.errors.TokenError) as exc:
        raise SqlRejected(f"could not parse the query: {str(exc).splitlines()[0]}") from None
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise SqlRejected(f"could not parse the query: {type(exc).__name__}") from None
    if len(statements) != 1:
        raise SqlRejected(f"exactly one SELECT statement is allowed, got {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, _QUERY_ROOTS):
        raise SqlRejected(f"only SELECT queries are allowed, not {tree.key.upper()}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise SqlRejected(f"only plain reads are allowed: {node.key.upper()} found")
        if isinstance(node, exp.Select) and node.args.get("locks"):
            raise SqlRejected("only plain reads are allowed: FOR UPDATE/SHARE found")
    return tree


def _cte_of(source: Scope) -> exp.CTE | None:
    """The CTE a source scope stands for (a recursive CTE's self-reference resolves to the
    anchor of its set operation)."""
    parent = source.expression.parent
    while isinstance(parent, exp.SetOperation):
        parent = parent.parent
    return parent if isinstance(parent, exp.CTE) else None


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
    read = dialect_of(dialect)
    tree = _parse_one(sql, read)
    try:
        tree = normalize_identifiers(tree, dialect=read)
    except (SqlglotError, RecursionError) as exc:
        raise SqlRejected(f"could not read the query's names: {type(exc).__name__}") from None
    _check_functions(tree)

    try:
        scopes = list(traverse_scope(tree))
    except (OptimizeError, SqlglotError, RecursionError) as exc:
        raise SqlRejected(f"could not resolve the query's names: {exc}") from None

    allowed = sql_tables(role)
    # every table reference, resolved in its own scope: to a CTE, or to a real table
    to_cte: dict[int, tuple[exp.Table, exp.CTE]] = {}
    to_table: dict[int, exp.Table] = {}
    for scope in scopes:
        for table in scope.tables:
            if not isinstance(table.this, exp.Identifier) or table.args.get("joins"):
                raise SqlRejected("table functions are not allowed; select from tables")
            if table.args.get("db") or table.args.get("catalog"):
                raise SqlRejected(f"use plain table names (no schema prefix): {table.sql()}")
            source = scope.sources.get(table.alias_or_name)
            if isinstance(source, Scope):
                cte = _cte_of(source)
                if cte is None or cte.alias_or_name != table.name:
                    raise SqlRejected(f"could not resolve the table {table.name!r}")
                to_cte[id(table)] = (table, cte)
                continue
            if source is not table:
                raise SqlRejected(f"could not resolve the table {table.name!r}")
            name = table.name
            if name not in allowed:
                known = ", ".join(sorted(allowed))
                raise SqlRejected(
                    f"unknown or forbidden table {name!r}; tables you can read: {known}"
                )
            to_table[id(table)] = table
    for node in tree.find_all(exp.Table):
        if id(node) not in to_cte and id(node) not in to_table:
            raise SqlRejected(f"could not resolve the table {node.sql(dialect=read)!r}")
    if not isinstance(tree, _QUERY_ROOTS):  # normalize_identifiers keeps the root type
        raise SqlRejected("only SELECT queries are allowed")

    referenced = {t.name for t in to_table.values()}
    hidden = set().union(*(hidden_columns(role, t) for t in referenced)) if referenced else set()
    for column in tree.find_all(exp.Column):
        if column.name.lower() in hidden:
            raise SqlRejected(f"column {column.name!r} is not available to the {role} role")

    # make the resolution binding: fresh CTE names, scoped subqueries for real tables
    fresh: dict[int, str] = {}
    for i, cte in enumerate(tree.find_all(exp.CTE), start=1):
        fresh[id(cte)] = f"_cte{i}_{cte.alias_or_name}"[:60]
    for table, cte in to_cte.values():
        alias = table.alias or table.name
        new = exp.Table(this=exp.to_identifier(fresh[id(cte)], quoted=True))
        new.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
        table.replace(new)
    for cte in list(tree.find_all(exp.CTE)):
        cte_alias = cte.args.get("alias")
        if isinstance(cte_alias, exp.TableAlias):
            cte_alias.set("this", exp.to_identifier(fresh[id(cte)], quoted=True))
    for real in to_table.values():
        alias = real.alias or real.name
        scoped = scoped_select(
            real.name, tenant_id=tenant_id, client_id=client_id, role=role, read=read
        )
        real.replace(
            exp.Subquery(
                this=scoped, alias=exp.TableAlias(this=exp.to_identifier(alias, quoted=True))
            )
        )
    for any_node in tree.walk():
        any_node.comments = None
    _cap(tree, max_rows)
    return tree.sql(dialect=read, normalize_functions=False)
