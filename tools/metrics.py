"""query_metrics: the semantic layer as a tool (the agent's first choice for numbers)."""

from __future__ import annotations

import datetime as dt
import functools
import re
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model
from sqlalchemy import select

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db.schema import Technician
from mspilot.db.semantic import (
    DIMENSIONS,
    MetricRequest,
    MetricResult,
    metrics_for_role,
    run_metric,
)
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.clients import ClientRef, client_candidates, match_name
from mspilot.tools.context import ToolContext


class PeriodArg(BaseModel):
    start: dt.date = Field(description="First day (inclusive), YYYY-MM-DD")
    end: dt.date = Field(description="Day after the last day (exclusive), YYYY-MM-DD")


@functools.cache
def metric_args_schema(role: str) -> type[BaseModel]:
    """The argument schema for ``role``: only the metrics that role may see are offered."""
    metrics = metrics_for_role(role)
    fields: dict[str, Any] = {
        "metric": (str, Field(description=P.ARG_METRIC.format(metrics=", ".join(metrics)))),
        "dimensions": (
            list[str],
            Field(
                default_factory=list,
                description=P.ARG_DIMENSIONS.format(dimensions=", ".join(DIMENSIONS)),
            ),
        ),
        "filters": (
            dict[str, list[str] | str],
            Field(default_factory=dict, description=P.ARG_FILTERS),
        ),
        "period": (str | PeriodArg | None, Field(default=None, description=P.ARG_PERIOD)),
        "top_n": (int | None, Field(default=None, ge=1, le=1000, description=P.ARG_TOP_N)),
        "order": (Literal["desc", "asc"], Field(default="desc", description=P.ARG_ORDER)),
    }
    return create_model(f"QueryMetricsArgs_{role}", **fields)


def _resolve_names(
    ctx: ToolContext, filters: dict[str, list[str]]
) -> tuple[dict[str, list[str]], list[str]]:
    """Client and technician names as the user typed them -> their ids (fuzzy)."""
    notes: list[str] = []
    out = dict(filters)
    wanted = {k: v for k, v in filters.items() if k in ("client", "technician") and v}
    if not wanted:
        return out, notes
    with ctx.engine.connect() as conn:
        for key, values in wanted.items():
            if key == "client":
                candidates = client_candidates(conn, ctx.tenant_id)
            else:
                candidates = [
                    (r.id, r.name)
                    for r in conn.execute(
                        select(Technician.id, Technician.name).where(
                            Technician.tenant_id == ctx.tenant_id, Technician.deleted_at.is_(None)
                        )
                    )
                ]
            resolved = []
            for value in values:
                found = match_name(candidates, str(value))
                if isinstance(found, ClientRef):
                    resolved.append(found.id)
                    if found.name.lower() != str(value).strip().lower():
                        notes.append(f"{key} {value!r} read as {found.name!r}")
                else:
                    resolved.append(str(value))
                    hint = f" (did you mean: {', '.join(found)}?)" if found else ""
                    notes.append(f"no {key} named {value!r}{hint}")
            out[key] = resolved
    return out, notes


_RELATIVE = re.compile(
    r"^(this|current|last|previous|past|trailing|next|coming)\s+(\d+\s+)?"
    r"(week|month|quarter|year)s?$"
)


def relative_period(text: str, today: dt.date) -> Period | None:
    """'last month', 'this quarter', 'last 6 months', 'next week', 'coming quarter', 'ytd'...
    relative to ``today`` (whole calendar units; weeks start on Monday)."""
    low = " ".join(text.strip().lower().replace("_", " ").split())
    if low in ("ytd", "year to date"):
        return Period(dt.date(today.year, 1, 1), today + dt.timedelta(days=1))
    match = _RELATIVE.match(low)
    if not match:
        return None
    which, count, unit = match.group(1), int(match.group(2) or 1), match.group(3)
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday())
        week = dt.timedelta(days=7)
        if which in ("this", "current"):
            return Period(monday, monday + week)
        if which in ("next", "coming"):
            return Period(monday + week, monday + week * (1 + count))
        return Period(monday - week * count, monday)
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    start = today.replace(day=1)
    if unit == "quarter":
        start = start.replace(month=3 * ((start.month - 1) // 3) + 1)
    elif unit == "year":
        start = start.replace(month=1)
    if which in ("this", "current"):
        return Period(start, add_months(start, months))
    if which in ("next", "coming"):
        return Period(add_months(start, months), add_months(start, months * (1 + count)))
    return Period(add_months(start, -months * count), start)


def metric_request(ctx: ToolContext, args: dict[str, Any]) -> tuple[MetricRequest, list[str]]:
    filters = {k: v if isinstance(v, list) else [v] for k, v in (args.get("filters") or {}).items()}
    filters, notes = _resolve_names(ctx, filters)
    period = args.get("period")
    if isinstance(period, BaseModel):
        period = period.model_dump()
    elif isinstance(period, str):
        period = relative_period(period, ctx.today) or period
    request = MetricRequest(
        metric=str(args["metric"]).strip().lower(),
        dimensions=[str(x).strip().lower() for x in args.get("dimensions") or []],
        filters=filters,
        period=period,
        top_n=args.get("top_n"),
        order=args.get("order") or "desc",
    )
    return request, notes


def run_request(ctx: ToolContext, request: MetricRequest) -> MetricResult:
    return run_metric(
        ctx.engine,
        ctx.tenant_id,
        request,
        client_id=ctx.client_id,
        today=ctx.today,
        role=ctx.role,
    )


def describe_result(result: MetricResult, notes: list[str]) -> str:
    dims = [c for c in result.columns[:-1]]
    head = f"{result.metric} ({result.unit})" + (f" by {', '.join(dims)}" if dims else "")
    head += f", {result.period_label}: {result.row_count} rows."
    if notes:
        head += " Note: " + "; ".join(notes) + "."
    return f"{head} {P.DATA_NOTICE}\n{text_table(result.columns, result.rows)}"


def result_artifact(result: MetricResult, request: MetricRequest) -> dict[str, Any]:
    return table_artifact(
        result.columns,
        result.rows,
        tool="query_metrics",
        metric=result.metric,
        unit=result.unit,
        period=result.period_label,
        as_of=result.as_of.isoformat() if result.as_of else None,
        sql=result.sql,
        request=request.model_dump(mode="json"),
    )


def query_metrics(ctx: ToolContext, **args: Any) -> ToolOutput:
    request, notes = metric_request(ctx, args)
    result = run_request(ctx, request)
    return describe_result(result, notes), result_artifact(result, request)


def build(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool(
            "query_metrics",
            P.QUERY_METRICS,
            metric_args_schema(ctx.role),
            partial(query_metrics, ctx),
        )
    ]
