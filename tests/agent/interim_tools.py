"""Stand-in tools over the real metrics layer and SQL guard, for agent tests that must not
depend on the tools package's exact shapes (content_and_artifact, like the real ones)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field
from sqlalchemy import inspect

from mspilot.db.readonly import run_readonly_sql
from mspilot.db.schema import TABLES_BY_NAME
from mspilot.db.semantic import MetricRequest, run_metric


class MetricArgs(BaseModel):
    metric: str
    dimensions: list[str] = Field(default_factory=list)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    period: dict[str, str] | str | None = None
    top_n: int | None = None
    order: str = "desc"


class SqlArgs(BaseModel):
    sql: str


class TableArgs(BaseModel):
    table: str


class NoArgs(BaseModel):
    pass


def interim_tools(ctx: Any) -> list[BaseTool]:
    def query_metrics(**kwargs: Any) -> tuple[str, dict[str, Any]]:
        request = MetricRequest(**{k: v for k, v in kwargs.items() if v is not None})
        result = run_metric(
            ctx.engine,
            ctx.tenant_id,
            request,
            client_id=ctx.client_id,
            today=ctx.today,
            role=ctx.role,
        )
        text = f"{result.metric} ({result.period_label}): " + "; ".join(
            ", ".join(str(v) for v in row) for row in result.rows[:20]
        )
        return text, result.model_dump()

    def run_sql(sql: str) -> tuple[str, dict[str, Any]]:
        res = run_readonly_sql(
            ctx.engine, sql, tenant_id=ctx.tenant_id, client_id=ctx.client_id, role=ctx.role
        )
        if res.error:
            raise RuntimeError(res.error)
        return f"{res.row_count} rows", {"columns": res.columns, "rows": res.rows}

    def list_tables() -> tuple[str, dict[str, Any]]:
        names = sorted(TABLES_BY_NAME)
        return "Tables: " + ", ".join(names), {"columns": ["table"], "rows": [[n] for n in names]}

    def describe_table(table: str) -> tuple[str, dict[str, Any]]:
        cols = [c.name for c in inspect(TABLES_BY_NAME[table]).columns]
        return f"{table}: " + ", ".join(cols), {"columns": ["column"], "rows": [[c] for c in cols]}

    def tool(fn: Any, schema: type[BaseModel], doc: str) -> BaseTool:
        return StructuredTool.from_function(
            fn,
            name=fn.__name__,
            description=doc,
            args_schema=schema,
            response_format="content_and_artifact",
        )

    return [
        tool(query_metrics, MetricArgs, "A metric over dimensions, filters and a period."),
        tool(run_sql, SqlArgs, "One read-only SELECT."),
        tool(list_tables, NoArgs, "List the tables."),
        tool(describe_table, TableArgs, "Describe a table's columns."),
    ]
