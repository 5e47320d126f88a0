"""The half-open date period ``[start, end)`` and how it is written (labels, codes, dicts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from mspilot.core.clock import add_months, month_start

Grain = Literal["day", "week", "month", "quarter", "half", "year", "range"]


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

    @property
    def grain(self) -> Grain:
        """The calendar unit the period is exactly one of, else ``range``."""
        s, e = self.start, self.end
        if e - s == dt.timedelta(days=1):
            return "day"
        if s.day == 1 and add_months(s, 1) == e:
            return "month"
        if s.day == 1 and s.month % 3 == 1 and add_months(s, 3) == e:
            return "quarter"
        if s.day == 1 and s.month in (1, 7) and add_months(s, 6) == e:
            return "half"
        if (s.month, s.day) == (1, 1) and add_months(s, 12) == e:
            return "year"
        return "range"

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def month_starts(self) -> Iterator[dt.date]:
        """First day of every calendar month the period touches."""
        cur = month_start(self.start)
        while cur < self.end:
            yield cur
            cur = add_months(cur, 1)

    def shifted(self, months: int = 0, days: int = 0) -> Period:
        if months:
            return Period(add_months(self.start, months), add_months(self.end, months))
        delta = dt.timedelta(days=days)
        return Period(self.start + delta, self.end + delta)

    def previous(self) -> Period:
        """The period of the same unit (or length) just before this one."""
        grain = self.grain
        step = {"month": 1, "quarter": 3, "half": 6, "year": 12}.get(grain)
        if step is None and self.start.day == 1 and self.end.day == 1:
            step = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
        return self.shifted(months=-step) if step else self.shifted(days=-self.days)

    def label(self) -> str:
        return format_period(self)


# ---- writing ---------------------------------------------------------------------------------


def format_period(period: Period) -> str:
    """'September 2026', 'Q3 2026', 'H1 2026', '2026', '2026-03-05' or 'A to B' (B inclusive)."""
    s, grain = period.start, period.grain
    if grain == "month":
        return s.strftime("%B %Y")
    if grain == "quarter":
        return f"Q{(s.month - 1) // 3 + 1} {s.year}"
    if grain == "half":
        return f"H{1 if s.month == 1 else 2} {s.year}"
    if grain == "year":
        return str(s.year)
    if grain == "day":
        return s.isoformat()
    return f"{s.isoformat()} to {period.last_day.isoformat()}"


def period_code(period: Period) -> str:
    """'2026-09', '2026-Q3', '2026-H1', '2026', '2026-03-05' or 'A..B' (B inclusive)."""
    s, grain = period.start, period.grain
    if grain == "month":
        return f"{s.year}-{s.month:02d}"
    if grain == "quarter":
        return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
    if grain == "half":
        return f"{s.year}-H{1 if s.month == 1 else 2}"
    if grain in ("year", "day"):
        return format_period(period)
    return f"{s.isoformat()}..{period.last_day.isoformat()}"


def period_dict(period: Period) -> dict[str, str]:
    """``{"start", "end"}`` in ISO dates, the end exclusive."""
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}
