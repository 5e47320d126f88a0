"""Reading query results into pandas quickly: money cast to floats in SQL, dates read raw and
parsed in one vectorised call, and month indices (months since year 0) for panel maths."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, String, cast, type_coerce

from mspilot.db.schema import AnySelect


def as_float(column: Any) -> Any:
    return cast(column, Float).label(column.key)


def raw(column: Any) -> Any:
    """A date or time column as the driver returns it (ISO text on SQLite, a datetime on
    PostgreSQL), parsed later by pandas in one vectorised call instead of row by row."""
    return type_coerce(column, String()).label(column.key)


def read_frame(conn: Connection, stmt: AnySelect) -> pd.DataFrame:
    result = conn.execute(stmt)
    keys = list(result.keys())
    # Plain tuples, not Row objects: pandas probes every row for a ``dtype`` attribute, and a
    # Row answers a missing attribute by raising (and catching) two exceptions: 2x slower.
    return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=keys)


def read_rows(conn: Connection, stmt: AnySelect) -> pd.DataFrame:
    """``read_frame`` for the large event reads: the driver's tuples go straight into pandas,
    skipping SQLAlchemy's per-row result processing (about half the read time). Only for
    columns that need no conversion: text, integers, floats cast in SQL and dates read raw
    (booleans come back as 0/1 on SQLite; callers cast them)."""
    result = conn.execute(stmt)
    keys = list(result.keys())
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    return pd.DataFrame(rows, columns=keys)


def parse_dates(frame: pd.DataFrame, *columns: str) -> None:
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")


def month_index(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``) of datetime-like values."""
    idx = pd.DatetimeIndex(values)
    return np.asarray(idx.year * 12 + idx.month - 1, dtype=np.int64)


def month_of_index(index: int) -> dt.date:
    year, month = divmod(int(index), 12)
    return dt.date(year, month + 1, 1)


def date_month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1
