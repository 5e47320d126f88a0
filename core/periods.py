"""Half-open date periods ``[start, end)`` used by every metric and definition."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from mspilot.core.clock import add_months, month_start


@dataclass(frozen=True, order=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty period {self.start}..{self.end}")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = dt.date(year, month, 1)
        return cls(start, add_months(start, 1))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        start = dt.date(year, 3 * (quarter - 1) + 1, 1)
        return cls(start, add_months(start, 3))

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(dt.date(year, 1, 1), dt.date(year + 1, 1, 1))

    @classmethod
    def months_before(cls, day: dt.date, months: int) -> Period:
        """The ``months`` whole calendar months before the month containing ``day``."""
        end = month_start(day)
        return cls(add_months(end, -months), end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def month_starts(self) -> Iterator[dt.date]:
        """First day of every calendar month the period touches."""
        cur = month_start(self.start)
        while cur < self.end:
            yield cur
            cur = add_months(cur, 1)

    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        if self.start.day == 1 and add_months(self.start, 1) == self.end:
            return self.start.strftime("%B %Y")
        if (
            self.start.day == 1
            and add_months(self.start, 3) == self.end
            and self.start.month % 3 == 1
        ):
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        return f"{self.start.isoformat()} to {last.isoformat()}"
