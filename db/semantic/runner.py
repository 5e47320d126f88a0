"""Running a compiled request and shaping its result."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
)

from mspilot.db.schema import (
    AnySelect,
)
from mspilot.db.semantic.base import TIME_DIMENSIONS
from mspilot.db.semantic.catalogue import METRICS
from mspilot.db.semantic.compare import check_comparable, merge_comparison
from mspilot.db.semantic.compiler import compile_metric, order_direction
from mspilot.db.semantic.facts import FACTS
from mspilot.db.semantic.measures import agg_share
from mspilot.db.semantic.models import MetricRequest, MetricResult


def _clean(value: Any, unit: str) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float):
        digits = 4 if unit == "ratio" else 2
        return round(float(value), digits)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def render_sql(stmt: AnySelect, dialect: Any) -> str:
    try:
        return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # some literal types cannot be rendered inline; show placeholders
        return str(stmt.compile(dialect=dialect))


#: Filters on these dimensions of a share metric select the share's numerator, not the
#: tickets counted: "share of P1 tickets" is P1 tickets / all tickets.
SHARE_FILTER_DIMS = ("priority", "category", "status")


def _share_filters(request: MetricRequest) -> tuple[MetricRequest, dict[str, set[str]]]:
    metric = METRICS.get(request.metric)
    if metric is None or metric.agg is not agg_share:
        return request, {}
    moved = {
        k: {str(x).strip().lower() for x in v}
        for k, v in request.filters.items()
        if k in SHARE_FILTER_DIMS and k not in request.dimensions and v
    }
    if not moved:
        return request, {}
    rewritten = request.model_copy(
        update={
            "filters": {k: v for k, v in request.filters.items() if k not in moved},
            "dimensions": [*request.dimensions, *moved],
            "top_n": None,
        }
    )
    return rewritten, moved


def _collapse_shares(
    rows: list[list[Any]],
    columns: list[str],
    moved: dict[str, set[str]],
    original: MetricRequest,
) -> tuple[list[list[Any]], list[str]]:
    """Keep the share of the filtered values, summed per requested dimension group."""
    index = {c: i for i, c in enumerate(columns)}
    keep = original.dimensions
    totals: dict[tuple[Any, ...], float] = {}
    for row in rows:
        key = tuple(row[index[d]] for d in keep)
        totals.setdefault(key, 0.0)
        if all(str(row[index[d]]).lower() in wanted for d, wanted in moved.items()):
            totals[key] += float(row[-1] or 0.0)
    out = [[*key, round(value, 4)] for key, value in totals.items()]
    if not keep and not out:
        out = [[0.0]]
    times = [i for i, d in enumerate(keep) if d in TIME_DIMENSIONS]
    if times and original.top_n is None:
        out.sort(key=lambda r: tuple(str(r[i]) for i in times))
    else:
        metric = METRICS[original.metric]
        descending = order_direction(metric, original.order) == "desc"
        out.sort(key=lambda r: r[-1], reverse=descending)
    if original.top_n is not None:
        out = out[: original.top_n]
    return out, [*keep, columns[-1]]


def run_metric(
    engine_or_conn: Engine | Connection,
    tenant_id: str,
    request: MetricRequest,
    *,
    client_id: str | None = None,
    today: dt.date | None = None,
    role: str | None = None,
) -> MetricResult:
    """Answer ``request`` for ``tenant_id`` (and only ``client_id``'s rows when given).

    ``role`` (when given) is checked against each metric's audience; ``today`` is the product
    clock's date (balances, unbilled hours and snapshots are measured at it). With
    ``request.compare_to`` the result compares the period with that baseline.
    """
    if request.compare_to is not None:
        check_comparable(request)
        one = request.model_copy(update={"compare_to": None, "top_n": None})
        base = one.model_copy(update={"period": request.compare_to})
        kw: dict[str, Any] = {"client_id": client_id, "today": today, "role": role}
        current = run_metric(engine_or_conn, tenant_id, one, **kw)
        baseline = run_metric(engine_or_conn, tenant_id, base, **kw)
        return merge_comparison(current, baseline, request)
    original = request
    request, moved = _share_filters(request)
    compiled = compile_metric(
        tenant_id,
        request,
        client_id=client_id,
        today=today,
        role=role,
        partition_dims=len(request.dimensions) - len(moved) if moved else None,
    )
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            raw = conn.execute(compiled.stmt).all()
        dialect = engine_or_conn.dialect
    else:
        raw = engine_or_conn.execute(compiled.stmt).all()
        dialect = engine_or_conn.dialect
    unit = compiled.metric.unit
    rows = [[_clean(v, unit) for v in row] for row in raw]
    columns = compiled.columns
    if moved:
        rows, columns = _collapse_shares(rows, columns, moved, original)
    period = compiled.period
    fact = FACTS[compiled.metric.fact]
    if period is not None:
        label = period.label()
    elif fact.snapshot or "event_date" not in fact.columns:
        label = f"as of {compiled.as_of.isoformat()}"
    else:
        label = "all time"
    return MetricResult(
        metric=compiled.metric.name,
        columns=columns,
        rows=rows,
        period_label=label,
        sql=render_sql(compiled.stmt, dialect),
        row_count=len(rows),
        unit=unit,
        as_of=compiled.as_of,
        measure=compiled.metric.kind,
    )
