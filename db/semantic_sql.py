"""Small SQL functions the metrics layer needs, compiled per dialect (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Date, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class utc_date(FunctionElement[Any]):
    """The UTC calendar date of a timestamp."""

    type = Date()
    inherit_cache = True


class month_label(FunctionElement[str]):
    """'YYYY-MM' of a date."""

    type = String()
    inherit_cache = True


class quarter_label(FunctionElement[str]):
    """'YYYY-Qn' of a date."""

    type = String()
    inherit_cache = True


class year_label(FunctionElement[str]):
    """'YYYY' of a date."""

    type = String()
    inherit_cache = True


class hours_between(FunctionElement[float]):
    """Hours from the first timestamp to the second."""

    type = Float()
    inherit_cache = True


def _arg(compiler: SQLCompiler, element: FunctionElement[Any], i: int = 0, **kw: Any) -> str:
    return compiler.process(list(element.clauses)[i], **kw)


@compiles(utc_date, "sqlite")
def _utc_date_sqlite(element: utc_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({_arg(compiler, element, **kw)})"


@compiles(utc_date, "postgresql")
def _utc_date_pg(element: utc_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(({_arg(compiler, element, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@compiles(month_label, "sqlite")
def _month_sqlite(element: month_label, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m', {_arg(compiler, element, **kw)})"


@compiles(month_label, "postgresql")
def _month_pg(element: month_label, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_arg(compiler, element, **kw)}, 'YYYY-MM')"


@compiles(quarter_label, "sqlite")
def _quarter_sqlite(element: quarter_label, compiler: SQLCompiler, **kw: Any) -> str:
    x = _arg(compiler, element, **kw)
    return f"(strftime('%Y', {x}) || '-Q' || ((CAST(strftime('%m', {x}) AS INTEGER) + 2) / 3))"


@compiles(quarter_label, "postgresql")
def _quarter_pg(element: quarter_label, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_arg(compiler, element, **kw)}, 'YYYY-\"Q\"Q')"


@compiles(year_label, "sqlite")
def _year_sqlite(element: year_label, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y', {_arg(compiler, element, **kw)})"


@compiles(year_label, "postgresql")
def _year_pg(element: year_label, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_arg(compiler, element, **kw)}, 'YYYY')"


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = _arg(compiler, element, 0, **kw), _arg(compiler, element, 1, **kw)
    return f"((julianday({b}) - julianday({a})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_pg(element: hours_between, compiler: SQLCompiler, **kw: Any) -> str:
    a, b = _arg(compiler, element, 0, **kw), _arg(compiler, element, 1, **kw)
    return f"(EXTRACT(EPOCH FROM ({b} - {a})) / 3600.0)"
