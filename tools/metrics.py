"""query_metrics: the semantic layer as a tool (the agent's first choice for numbers)."""

from __future__ import annotations

import datetime as dt
import functools
from functools import partial
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model
from sqlalchemy import select

from mspilot.core.errors import UserInputError
from mspilot.core.periods import Period, find_comparison, parse_period
from mspilot.db.schema import Technician
from mspilot.db.semantic import (
    DIMENSIONS,
    MetricCondition,
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
        "order": (
            Literal["desc", "asc", "best", "worst"],
            Field(default="desc", description=P.ARG_ORDER_BEST),
        ),
        "conditions": (
            list[MetricCondition],
            Field(default_factory=list, description=P.ARG_CONDITIONS),
        ),
        "compare_to": (
            str | PeriodArg | None,
            Field(default=None, description=P.ARG_COMPARE_TO),
        ),
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


def metric_request(ctx: ToolContext, args: dict[str, Any]) -> tuple[MetricRequest, list[str]]:
    filters = {k: v if isinstance(v, list) else [v] for k, v in (args.get("filters") or {}).items()}
    filters, notes = _resolve_names(ctx, filters)
    period, compare_to = _periods(ctx, args.get("period"), args.get("compare_to"))
    conditions = [
        c.model_dump() if isinstance(c, BaseModel) else c for c in args.get("conditions") or []
    ]
    request = MetricRequest(
        metric=str(args["metric"]).strip().lower(),
        dimensions=[str(x).strip().lower() for x in args.get("dimensions") or []],
        filters=filters,
        period=period,
        top_n=args.get("top_n"),
        order=args.get("order") or "desc",
        conditions=conditions,
        compare_to=compare_to,
    )
    return request, notes


def _periods(ctx: ToolContext, period: Any, compare_to: Any) -> tuple[Period | None, Any]:
    """The period and the baseline (if any): 'Q2 vs Q1' as a period names both."""
    values = [v.model_dump() if isinstance(v, BaseModel) else v for v in (period, compare_to)]
    try:
        if isinstance(values[0], str) and values[1] is None:
            found = find_comparison(values[0], ctx.today)
            if found is not None:
                return found.current.period, found.baseline.period
        first = parse_period(values[0], ctx.today)
        return first, parse_period(values[1], ctx.today)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None


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
    value_columns = 4 if result.measure == "change" else 1
    dims = [] if result.measure == "list" else result.columns[:-value_columns]
    head = f"{result.metric} ({result.unit})" + (f" by {', '.join(dims)}" if dims else "")
    head += f", {result.period_label}"
    if result.baseline_label:
        head += f" compared with {result.baseline_label}"
    head += f": {result.row_count} rows."
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
        measure=result.measure,
        baseline=result.baseline_label,
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
