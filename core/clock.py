"""The product's clock: one place that says what "today" is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    """A clock pinned to a date (demo, tests) or following the real one."""

    pinned: dt.date | None = None

    def today(self) -> dt.date:
        return self.pinned or dt.datetime.now(dt.UTC).date()

    def now(self) -> dt.datetime:
        if self.pinned is None:
            return dt.datetime.now(dt.UTC)
        return dt.datetime.combine(self.pinned, dt.time(12, 0), tzinfo=dt.UTC)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day ``months`` later, clamped to the end of the target month."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def month_end(day: dt.date) -> dt.date:
    return add_months(month_start(day), 1) - dt.timedelta(days=1)
