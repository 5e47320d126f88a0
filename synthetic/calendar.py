"""The generator's calendar: the month grid, the day grid and US federal holidays.

Holidays come from a small built-in rule set (observed dates: a Saturday holiday is observed
on the Friday before, a Sunday one on the Monday after), so no holiday package is needed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from mspilot.core.clock import add_months, month_end, month_start

IntArr = npt.NDArray[np.int64]
FloatArr = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]

_EPOCH = dt.date(1970, 1, 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The ``n``-th ``weekday`` (Mon=0) of a month; ``n=-1`` is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = month_end(dt.date(year, month, 1))
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


def us_federal_holidays(year: int) -> list[tuple[dt.date, str]]:
    """The observed US federal holidays of ``year`` (Juneteenth from 2021)."""
    days = [
        (_observed(dt.date(year, 1, 1)), "New Year's Day"),
        (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, 0, 3), "Washington's Birthday"),
        (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
        (_observed(dt.date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, 0, 1), "Labor Day"),
        (_nth_weekday(year, 10, 0, 2), "Columbus Day"),
        (_observed(dt.date(year, 11, 11)), "Veterans Day"),
        (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
        (_observed(dt.date(year, 12, 25)), "Christmas Day"),
    ]
    if year >= 2021:
        days.append((_observed(dt.date(year, 6, 19)), "Juneteenth National Independence Day"))
    return sorted(days)


def epoch_day(day: dt.date) -> int:
    return (day - _EPOCH).days


@dataclass(frozen=True)
class Window:
    """Months and days from the first month of the window to the as-of date (inclusive)."""

    as_of: dt.date
    months: tuple[dt.date, ...]  # first day of each month; the last one contains as_of
    days: tuple[dt.date, ...]  # every day from months[0] to as_of
    day_month: IntArr  # month index of each day
    weekday: IntArr  # Mon=0 .. Sun=6
    day_of_year: IntArr  # 1..366
    holidays: tuple[tuple[dt.date, str], ...]
    is_holiday: BoolArr
    utc_offset_s: IntArr  # the tenant's UTC offset at noon of each day, in seconds
    first_epoch_day: int

    @classmethod
    def build(cls, as_of: dt.date, years: int, timezone: str) -> Window:
        first = add_months(month_start(as_of), -(12 * years - 1))
        months = tuple(add_months(first, k) for k in range(12 * years))
        n_days = (as_of - first).days + 1
        days = tuple(first + dt.timedelta(days=k) for k in range(n_days))
        index = {m: k for k, m in enumerate(months)}
        day_month = np.array([index[d.replace(day=1)] for d in days], dtype=np.int64)
        holidays = tuple(
            (d, name)
            for year in range(first.year, as_of.year + 1)
            for d, name in us_federal_holidays(year)
            if first <= d <= as_of
        )
        holiday_days = {d for d, _ in holidays}
        zone = ZoneInfo(timezone)
        offsets = []
        for d in days:
            off = dt.datetime(d.year, d.month, d.day, 12, tzinfo=zone).utcoffset()
            offsets.append(int(off.total_seconds()) if off is not None else 0)
        return cls(
            as_of=as_of,
            months=months,
            days=days,
            day_month=day_month,
            weekday=np.array([d.weekday() for d in days], dtype=np.int64),
            day_of_year=np.array([d.timetuple().tm_yday for d in days], dtype=np.int64),
            holidays=holidays,
            is_holiday=np.array([d in holiday_days for d in days], dtype=np.bool_),
            utc_offset_s=np.array(offsets, dtype=np.int64),
            first_epoch_day=epoch_day(first),
        )

    @property
    def n_months(self) -> int:
        return len(self.months)

    @property
    def n_days(self) -> int:
        return len(self.days)

    @property
    def n_invoiced(self) -> int:
        """Months whose invoice (issued on the 1st of the next month) exists by as_of."""
        return sum(1 for m in self.months if add_months(m, 1) <= self.as_of)

    def month_date(self, index: int) -> dt.date:
        """First day of month ``index`` (may lie before or after the window)."""
        return add_months(self.months[0], index)

    def day_index(self, day: dt.date) -> int:
        return (day - self.months[0]).days

    def month_first_day(self, index: int) -> int:
        """Day index of the first day of month ``index`` (clipped to the window)."""
        return max(0, min(self.n_days, (self.month_date(index) - self.months[0]).days))

    def month_last_day(self, index: int) -> int:
        """Day index of the last day of month ``index`` within the window."""
        return min(self.n_days - 1, (month_end(self.month_date(index)) - self.months[0]).days)
