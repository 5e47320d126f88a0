"""What fact builders share: the build request, the fact record and scoping helpers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Date,
    Numeric,
    and_,
    cast,
    literal,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db.schema import (
    AnySelect,
    Client,
)
from mspilot.db.semantic.base import MAX_BUCKETS, SemanticError
from mspilot.db.semantic.dimensions import DIMENSIONS


@dataclass(frozen=True)
class Build:
    tenant_id: str
    client_id: str | None
    period: Period | None
    as_of: dt.date
    grain: str | None  # requested time dimension, if any
    #: Columns the request reads (dimension inputs and the metric's name): builders skip the
    #: joins nobody asked for.
    needs: frozenset[str] = frozenset()


FactBuilder = Callable[[Build], "AnySelect"]


@dataclass(frozen=True)
class Fact:
    name: str
    columns: frozenset[str]  # dimension inputs it offers
    build: FactBuilder
    needs_period: bool = False  # cost-based: default to the last 12 whole months
    snapshot: bool = False  # measured at the period's end (per time bucket with a time dim)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(n for n, dim in DIMENSIONS.items() if dim.needs in self.columns)


def client_scope(col: Any, b: Build) -> ColumnElement[bool]:
    return col == b.client_id if b.client_id is not None else true()


def in_window(col: Any, period: Period | None) -> ColumnElement[bool]:
    if period is None:
        return true()
    return and_(col >= period.start, col < period.end)


def in_window_utc(col: Any, period: Period | None) -> ColumnElement[bool]:
    if period is None:
        return true()
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), tzinfo=dt.UTC)
    return and_(col >= start, col < end)


def live_rows(model: Any, b: Build, *, on: Any = None, utc: bool = False) -> ColumnElement[bool]:
    """The model's live rows of this tenant (and client), within the period on ``on``."""
    in_period = (in_window_utc if utc else in_window)(on, b.period) if on is not None else true()
    return and_(
        model.tenant_id == b.tenant_id,
        model.deleted_at.is_(None),
        in_period,
        client_scope(model.id if model is Client else model.client_id, b),
    )


def union_arms(arms: list[AnySelect]) -> AnySelect:
    return arms[0] if len(arms) == 1 else select(union_all(*arms).subquery())


def as_money(value: Any) -> ColumnElement[Any]:
    return cast(value, Numeric(14, 2))


def money_zero() -> ColumnElement[Any]:
    return cast(literal(0), Numeric(14, 2))


def day_literal(value: dt.date) -> ColumnElement[Any]:
    return literal(value, Date)


def snapshot_buckets(b: Build) -> list[tuple[dt.date, dt.date]]:
    """(bucket start, snapshot day) for snapshot facts: one per time bucket, or just one."""
    snap_end = b.as_of
    if b.period is not None:
        snap_end = min(snap_end, b.period.end - dt.timedelta(days=1))
    if b.grain is None or b.period is None:
        start = b.period.start if b.period else snap_end
        return [(start, snap_end)]
    step = {"month": 1, "quarter": 3, "year": 12}[b.grain]
    first = b.period.start.replace(day=1)
    if b.grain == "quarter":
        first = first.replace(month=3 * ((first.month - 1) // 3) + 1)
    elif b.grain == "year":
        first = first.replace(month=1)
    out: list[tuple[dt.date, dt.date]] = []
    cur = first
    while cur < b.period.end and cur <= snap_end:
        out.append((cur, min(add_months(cur, step) - dt.timedelta(days=1), snap_end)))
        cur = add_months(cur, step)
        if len(out) > MAX_BUCKETS:
            raise SemanticError(f"too many {b.grain}s in the period (at most {MAX_BUCKETS})")
    return out or [(first, snap_end)]
