"""Compiling a metric request to one tenant- and client-scoped statement."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from mspilot.core.clock import Clock, add_months
from mspilot.core.periods import Period
from mspilot.db.schema import (
    AnySelect,
    Client,
    Technician,
)
from mspilot.db.semantic.base import DEFAULT_COST_MONTHS, TIME_DIMENSIONS, SemanticError
from mspilot.db.semantic.catalogue import METRICS, metrics_for_role
from mspilot.db.semantic.dimensions import DIMENSIONS
from mspilot.db.semantic.fact_base import Build, Fact
from mspilot.db.semantic.facts import FACTS
from mspilot.db.semantic.measures import MetricDef, agg_share
from mspilot.db.semantic.models import MetricRequest
from mspilot.db.semantic_access import (
    AccessDenied,
)
from mspilot.db.semantic_sql import (
    month_label,
    quarter_label,
    year_label,
)


def _unknown(kind: str, value: str, valid: Sequence[str]) -> SemanticError:
    return SemanticError(f"unknown {kind} {value!r}; valid {kind}s: {', '.join(valid)}")


def _validate(request: MetricRequest, role: str | None) -> tuple[MetricDef, Fact]:
    if request.metric not in METRICS:
        raise _unknown("metric", request.metric, list(METRICS))
    metric = METRICS[request.metric]
    if role is not None and role not in metric.audience:
        allowed = metrics_for_role(role)
        raise AccessDenied(
            f"the {role} role may not see {metric.name!r}; "
            f"metrics available to this role: {', '.join(allowed) or 'none'}"
        )
    fact = FACTS[metric.fact]
    valid = fact.dimensions
    for name in [*request.dimensions, *request.filters]:
        if name not in DIMENSIONS:
            raise _unknown("dimension", name, list(DIMENSIONS))
        if name not in valid:
            raise SemanticError(
                f"metric {metric.name!r} cannot be broken down or filtered by {name!r}; "
                f"its dimensions are: {', '.join(valid) or 'none'}"
            )
    if len(set(request.dimensions)) != len(request.dimensions):
        raise SemanticError("a dimension is listed twice")
    times = [x for x in request.dimensions if x in TIME_DIMENSIONS]
    if len(times) > 1:
        raise SemanticError("use one time dimension (month, quarter or year) at a time")
    return metric, fact


def _truthy(values: list[str]) -> list[bool]:
    out = []
    for v in values:
        low = str(v).strip().lower()
        if low in ("true", "yes", "1", "billable", "y"):
            out.append(True)
        elif low in ("false", "no", "0", "non-billable", "n"):
            out.append(False)
        else:
            raise SemanticError(f"billable filter takes true/false, not {v!r}")
    return out


@dataclass
class _Compiled:
    stmt: AnySelect
    columns: list[str]
    period: Period | None
    as_of: dt.date
    metric: MetricDef


def compile_metric(
    tenant_id: str,
    request: MetricRequest,
    *,
    client_id: str | None = None,
    today: dt.date | None = None,
    role: str | None = None,
    partition_dims: int | None = None,
) -> _Compiled:
    """Validate ``request`` and build its statement (tenant- and client-scoped).

    ``partition_dims``: for share metrics, how many leading dimensions the shares are taken
    within (default: all but the last)."""
    default_dims = METRICS[request.metric].default_dimensions if request.metric in METRICS else ()
    if default_dims and not request.dimensions:
        request = request.model_copy(update={"dimensions": list(default_dims)})
    metric, fact = _validate(request, role)
    if role == "client_user" and client_id is None:
        raise AccessDenied("a client user needs a client_id")
    today = request.as_of or today or Clock().today()
    period = request.period
    if fact.needs_period and period is None:
        period = Period.months_before(today, DEFAULT_COST_MONTHS)
    if "event_date" not in fact.columns:
        period = None  # current state only (e.g. assets): a period does not apply
    as_of = today
    grain = next((x for x in request.dimensions if x in TIME_DIMENSIONS), None)
    if fact.snapshot and grain is None and any(x in TIME_DIMENSIONS for x in request.filters):
        grain = next(x for x in request.filters if x in TIME_DIMENSIONS)
    if fact.snapshot and grain is not None and period is None:
        period = Period.months_before(add_months(today, 1), DEFAULT_COST_MONTHS)
    needs = {DIMENSIONS[x].needs for x in [*request.dimensions, *request.filters]}
    b = Build(tenant_id, client_id, period, as_of, grain, frozenset({*needs, metric.name}))
    f = fact.build(b).subquery("f")

    clients_joined = False
    techs_joined = False
    src: Any = f

    def client_col(attr: str) -> ColumnElement[Any]:
        nonlocal src, clients_joined
        if not clients_joined:
            src = src.outerjoin(
                Client, and_(Client.id == f.c.client_id, Client.tenant_id == tenant_id)
            )
            clients_joined = True
        col: ColumnElement[Any] = getattr(Client, attr)
        return col

    def dim_expr(name: str) -> ColumnElement[Any]:
        nonlocal src, techs_joined
        if name == "client":
            return client_col("name")
        if name == "industry":
            return client_col("industry")
        if name == "client_status":
            return client_col("status")
        if name == "technician":
            if not techs_joined:
                src = src.outerjoin(
                    Technician,
                    and_(Technician.id == f.c.technician_id, Technician.tenant_id == tenant_id),
                )
                techs_joined = True
            tech_name: ColumnElement[Any] = Technician.__table__.c.name
            return tech_name
        if name == "month":
            return month_label(f.c.event_date)
        if name == "quarter":
            return quarter_label(f.c.event_date)
        if name == "year":
            return year_label(f.c.event_date)
        return f.c[DIMENSIONS[name].needs]

    dims = [dim_expr(x).label(x) for x in request.dimensions]
    conditions: list[ColumnElement[bool]] = []
    for name, values in request.filters.items():
        if not values:
            continue
        if name == "billable":
            conditions.append(f.c.billable.in_(_truthy(values)))
            continue
        expr = dim_expr(name)
        lowered = [str(v).strip().lower() for v in values]
        cond: ColumnElement[bool] = func.lower(expr).in_(lowered)
        if name == "client":
            cond = or_(cond, f.c.client_id.in_([str(v) for v in values]))
        elif name == "technician":
            cond = or_(cond, f.c.technician_id.in_([str(v) for v in values]))
        conditions.append(cond)

    direction = order_direction(metric, request.order)
    if metric.kind == "list":
        return _list(request, metric, f, src, dims, conditions, direction, period, as_of)
    keep = len(dims) - 1 if partition_dims is None else partition_dims
    partition = dims[: max(keep, 0)]
    value = metric.agg(f, [c.element for c in partition]).label(metric.name)
    stmt = select(*dims, value).select_from(src)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    having = _having(request, metric, f)
    if dims:
        stmt = stmt.group_by(*[c.element for c in dims])
        if metric.nonzero:
            having.append(value.element != 0)
    if having:
        stmt = stmt.having(and_(*having))
    time_cols = [c for c in dims if c.name in TIME_DIMENSIONS]
    by_value = value.desc() if direction == "desc" else value.asc()
    nulls_last = case((value.is_(None), 1), else_=0)
    if time_cols and request.top_n is None:
        stmt = stmt.order_by(*time_cols, nulls_last, by_value)
    elif dims:
        stmt = stmt.order_by(nulls_last, by_value, *dims)
    if request.top_n is not None:
        stmt = stmt.limit(request.top_n)
    return _Compiled(stmt, [*request.dimensions, metric.name], period, as_of, metric)


def order_direction(metric: MetricDef, order: str) -> str:
    """desc/asc as asked; best/worst by the metric's good end ("worst" breach rate: highest)."""
    if order in ("desc", "asc"):
        return order
    if metric.better is None:
        raise SemanticError(
            f"{metric.name!r} has no better or worse end; ask for the highest or the lowest"
        )
    return "desc" if (order == "best") == (metric.better == "higher") else "asc"


_OPS = {">=": "__ge__", ">": "__gt__", "<=": "__le__", "<": "__lt__", "=": "__eq__"}


def _having(request: MetricRequest, metric: MetricDef, f: Any) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    for cond in request.conditions:
        other = METRICS.get(cond.metric)
        if other is None:
            raise _unknown("metric", cond.metric, list(METRICS))
        if other.fact != metric.fact or other.kind in ("list",) or other.agg is agg_share:
            same = [m.name for m in METRICS.values() if m.fact == metric.fact and m.kind != "list"]
            raise SemanticError(
                f"a condition on {metric.name!r} can use a metric of the same rows: "
                f"{', '.join(n for n in same if METRICS[n].agg is not agg_share)}"
            )
        out.append(getattr(other.agg(f, []), _OPS[cond.op])(cond.value))
    return out


def _list(
    request: MetricRequest,
    metric: MetricDef,
    f: Any,
    src: Any,
    dims: list[Any],
    conditions: list[ColumnElement[bool]],
    direction: str,
    period: Period | None,
    as_of: dt.date,
) -> _Compiled:
    """A list metric: one row per fact row, its dimensions and its own columns."""
    if request.conditions:
        raise SemanticError(f"{metric.name!r} lists rows; conditions apply to totals")
    cols = [f.c[column].label(label) for label, column in metric.list_columns]
    value = cols[-1]
    stmt = select(*dims, *cols).select_from(src)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    by_value = value.desc() if direction == "desc" else value.asc()
    stmt = stmt.order_by(*dims, case((value.is_(None), 1), else_=0), by_value)
    if request.top_n is not None:
        stmt = stmt.order_by(None).order_by(case((value.is_(None), 1), else_=0), by_value)
        stmt = stmt.limit(request.top_n)
    labels = [label for label, _ in metric.list_columns]
    return _Compiled(stmt, [*request.dimensions, *labels], period, as_of, metric)
