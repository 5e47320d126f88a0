"""Periods in plain words, relative to the product clock.

"last month", "this quarter", "Q3", "Q3 2024", "in October", "Oct 2025", "this year",
"last year", "2024", "year to date", "last 90 days", "past 6 months", "since March",
"last week", "yesterday", "next month" / "next quarter" (forecasts).
A bare month or quarter means the latest one that has started by today.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from mspilot.core.clock import add_months, month_start
from mspilot.core.periods import Period

MONTHS = {
    name: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "a": 1,
}


@dataclass(frozen=True)
class PeriodMatch:
    period: Period
    text: str  # the words that named it
    grain: str  # day, week, month, quarter, year, range


def _quarter_of(day: dt.date) -> int:
    return (day.month - 1) // 3 + 1


def _latest_month(month: int, today: dt.date) -> int:
    return today.year if month <= today.month else today.year - 1


def _latest_quarter_year(quarter: int, today: dt.date) -> int:
    return today.year if quarter <= _quarter_of(today) else today.year - 1


def _num(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS.get(token, 0)


_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:year[- ]to[- ]date|ytd)\b"), "ytd"),
    (re.compile(r"\b(?:quarter[- ]to[- ]date|qtd)\b"), "qtd"),
    (re.compile(r"\b(?:month[- ]to[- ]date|mtd)\b"), "mtd"),
    (
        re.compile(
            r"\b(?:last|past|previous|trailing|over the last|in the last|in the past)\s+"
            r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)\s+"
            r"(day|week|month|quarter|year)s?\b"
        ),
        "last_n",
    ),
    (re.compile(r"\bq([1-4])\s*(?:of\s+)?(?:fy\s*)?'?(\d{4}|\d{2})\b"), "quarter_year"),
    (re.compile(r"\b(?:q([1-4])|(first|second|third|fourth) quarter)\b"), "quarter"),
    (re.compile(rf"\bsince\s+({_MONTH_RE})\b(?:\s+(\d{{4}}))?"), "since_month"),
    (re.compile(rf"\b({_MONTH_RE})\.?\s*,?\s*(\d{{4}})\b"), "month_year"),
    (re.compile(rf"\b(?:in|for|during|of|over)\s+({_MONTH_RE})\b"), "month"),
    (re.compile(rf"^({_MONTH_RE})\b"), "month"),
    (re.compile(rf"\b({_MONTH_RE})(?=\s*(?:\?|$))"), "month"),
    (
        re.compile(
            r"\b(this|current|last|previous|prior|next|coming)\s+(month|quarter|year|week)\b"
        ),
        "relative",
    ),
    (re.compile(r"\b(?:in|for|during|of)\s+(20\d\d)\b|\b(20\d\d)\b"), "year"),
    (re.compile(r"\b(yesterday|today)\b"), "day"),
    (re.compile(r"\b(?:this|current)\s+(?:fiscal\s+)?ytd\b"), "ytd"),
]
_ORDINAL_Q = {"first": 1, "second": 2, "third": 3, "fourth": 4}


def _relative(which: str, unit: str, today: dt.date) -> tuple[Period, str]:
    step = {"this": 0, "current": 0, "last": -1, "previous": -1, "prior": -1}.get(which, 1)
    if unit == "month":
        start = add_months(month_start(today), step)
        return Period(start, add_months(start, 1)), "month"
    if unit == "quarter":
        q_start = dt.date(today.year, 3 * (_quarter_of(today) - 1) + 1, 1)
        start = add_months(q_start, 3 * step)
        return Period(start, add_months(start, 3)), "quarter"
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=step)
        return Period(monday, monday + dt.timedelta(days=7)), "week"
    return Period.year(today.year + step), "year"


def parse_period(text: str, today: dt.date) -> PeriodMatch | None:
    """The first period named in ``text`` (lower-cased internally), or ``None``."""
    low = text.lower()
    for pattern, kind in _RULES:
        m = pattern.search(low)
        if not m:
            continue
        words = m.group(0).strip()
        if kind == "ytd":
            return PeriodMatch(
                Period(dt.date(today.year, 1, 1), today + dt.timedelta(days=1)), words, "range"
            )
        if kind == "qtd":
            start = dt.date(today.year, 3 * (_quarter_of(today) - 1) + 1, 1)
            return PeriodMatch(Period(start, today + dt.timedelta(days=1)), words, "range")
        if kind == "mtd":
            return PeriodMatch(
                Period(month_start(today), today + dt.timedelta(days=1)), words, "range"
            )
        if kind == "last_n":
            n, unit = max(_num(m.group(1)), 1), m.group(2)
            end = today + dt.timedelta(days=1)
            if unit == "day":
                return PeriodMatch(Period(end - dt.timedelta(days=n), end), words, "range")
            if unit == "week":
                return PeriodMatch(Period(end - dt.timedelta(weeks=n), end), words, "range")
            months = n * {"month": 1, "quarter": 3, "year": 12}[unit]
            # whole calendar months before the current one
            return PeriodMatch(Period.months_before(today, months), words, "range")
        if kind == "quarter_year":
            year = int(m.group(2))
            year = year + 2000 if year < 100 else year
            return PeriodMatch(Period.quarter(year, int(m.group(1))), words, "quarter")
        if kind == "quarter":
            q = int(m.group(1)) if m.group(1) else _ORDINAL_Q[m.group(2)]
            return PeriodMatch(Period.quarter(_latest_quarter_year(q, today), q), words, "quarter")
        if kind == "since_month":
            month = MONTHS[m.group(1)]
            year = int(m.group(2)) if m.group(2) else _latest_month(month, today)
            return PeriodMatch(
                Period(dt.date(year, month, 1), today + dt.timedelta(days=1)), words, "range"
            )
        if kind == "month_year":
            return PeriodMatch(Period.month(int(m.group(2)), MONTHS[m.group(1)]), words, "month")
        if kind == "month":
            month = MONTHS[m.group(1)]
            if m.group(1) == "may" and not re.search(r"\b(?:in|for|during|of|over)\s+may\b", low):
                continue  # "may" the verb
            return PeriodMatch(Period.month(_latest_month(month, today), month), words, "month")
        if kind == "relative":
            period, grain = _relative(m.group(1), m.group(2), today)
            return PeriodMatch(period, words, grain)
        if kind == "year":
            year = int(m.group(1) or m.group(2))
            return PeriodMatch(Period.year(year), words, "year")
        if kind == "day":
            day = today - dt.timedelta(days=1 if m.group(1) == "yesterday" else 0)
            return PeriodMatch(Period(day, day + dt.timedelta(days=1)), words, "day")
    return None


def period_label(period: Period) -> str:
    return period.label()
