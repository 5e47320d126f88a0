"""list_tables, describe_table and run_sql: read-only SQL over the caller's scoped tables."""

from __future__ import annotations

from functools import partial

from pydantic import BaseModel, Field

from mspilot.db.readonly import run_readonly_sql, table_columns
from mspilot.db.semantic_access import sql_tables
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolError, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.context import ToolContext


class NoArgs(BaseModel):
    pass


class DescribeTableArgs(BaseModel):
    table: str = Field(description=P.ARG_TABLE)


class RunSqlArgs(BaseModel):
    sql: str = Field(description=P.ARG_SQL)


def list_tables(ctx: ToolContext) -> ToolOutput:
    names = sorted(sql_tables(ctx.role))
    rows = [[n, P.TABLE_DESCRIPTIONS.get(n, "")] for n in names]
    text = "\n".join(f"- {n}: {d}" for n, d in rows)
    return text, table_artifact(["table", "description"], rows)


def describe_table(ctx: ToolContext, table: str) -> ToolOutput:
    name = table.strip().strip('"').lower()
    cols = table_columns(ctx.role, name)
    rows = [[c, t, note] for c, t, note in cols if c not in ("source", "external_id", "synced_at")]
    lines = [f"{name}: {P.TABLE_DESCRIPTIONS.get(name, '')}", "columns:"]
    lines += [f"- {c} {t}" + (f" ({note})" if note else "") for c, t, note in rows]
    lines += [f"joins: {P.TABLE_JOINS.get(name, '')}", P.SQL_NOTES]
    return "\n".join(lines), table_artifact(["column", "type", "description"], rows, table=name)


def run_sql(ctx: ToolContext, sql: str) -> ToolOutput:
    result = run_readonly_sql(
        ctx.engine, sql, tenant_id=ctx.tenant_id, client_id=ctx.client_id, role=ctx.role
    )
    if result.error is not None:  # an error message the planner can correct and retry
        raise ToolError(P.SQL_RETRY_HINT.format(error=result.error))
    header = f"{result.row_count} rows" + (
        " (truncated at the row cap)" if result.truncated else ""
    )
    text = f"{header}. {P.DATA_NOTICE}\n{text_table(result.columns, result.rows)}"
    return text, table_artifact(
        result.columns, result.rows, sql=sql, truncated=result.truncated, tool="run_sql"
    )


def build(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool("list_tables", P.LIST_TABLES, NoArgs, partial(list_tables, ctx)),
        make_tool(
            "describe_table",
            P.DESCRIBE_TABLE,
            DescribeTableArgs,
            partial(describe_table, ctx),
        ),
        make_tool("run_sql", P.RUN_SQL, RunSqlArgs, partial(run_sql, ctx)),
    ]
