"""Metric definitions and the aggregations they use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Float,
    case,
    cast,
    func,
    null,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from mspilot.db.semantic.base import Better, MeasureKind, Unit
from mspilot.db.semantic.facts import FACTS
from mspilot.db.semantic_access import (
    STAFF_WITH_MONEY,
)

Agg = Callable[[Subquery, list[ColumnElement[Any]]], ColumnElement[Any]]


@dataclass(frozen=True)
class MetricDef:
    name: str
    description: str
    fact: str
    unit: Unit
    agg: Agg = field(repr=False)
    synonyms: tuple[str, ...] = ()
    audience: frozenset[str] = STAFF_WITH_MONEY
    #: Broken down by a dimension, leave out groups whose value is zero (e.g. paid-up clients).
    nonzero: bool = False
    kind: MeasureKind = "sum"
    #: Which end is good (None: neither, e.g. hours); decides "best" / "worst".
    better: Better | None = None
    #: A list metric's columns: (column label, fact column); the last one is its value.
    list_columns: tuple[tuple[str, str], ...] = ()
    #: Dimensions used when the request names none (list metrics: one row per ...).
    default_dimensions: tuple[str, ...] = ()

    @property
    def dimensions(self) -> tuple[str, ...]:
        return FACTS[self.fact].dimensions


def agg_sum(column: str) -> Agg:
    return lambda f, _p: func.coalesce(func.sum(f.c[column]), 0)


def agg_count() -> Agg:
    return lambda f, _p: func.count()


def agg_row_value(column: str) -> Agg:
    """List metrics: the row's own value (one row per group)."""
    return lambda f, _p: func.max(f.c[column])


def agg_avg(column: str) -> Agg:
    return lambda f, _p: func.avg(cast(f.c[column], Float))


def agg_count_distinct(column: str) -> Agg:
    return lambda f, _p: func.count(func.distinct(f.c[column]))


def agg_ratio(num: str, den: str) -> Agg:
    def agg(f: Subquery, _p: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        n, m = func.sum(cast(f.c[num], Float)), func.sum(cast(f.c[den], Float))
        return case((m > 0, n / m), else_=null())

    return agg


def agg_margin(f: Subquery, _p: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    return func.coalesce(
        func.sum(f.c.revenue) - func.sum(f.c.labour_cost) - func.sum(f.c.licence_cost), 0
    )


def agg_margin_pct(f: Subquery, _p: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    revenue = func.sum(cast(f.c.revenue, Float))
    margin = cast(agg_margin(f, _p), Float)
    return case((revenue > 0, margin / revenue), else_=null())


def agg_share(f: Subquery, partition: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    total = func.sum(func.count()).over(partition_by=partition or None)
    return cast(func.count(), Float) / cast(total, Float)
