"""Reading comparisons: two periods set against each other ("Q2 vs Q1", "YoY")."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from mspilot.core.clock import add_months
from mspilot.core.periods.period import Period
from mspilot.core.periods.words import (
    FILLER,
    NUMBER_PATTERN,
    UNIT_MONTHS,
    PeriodMatch,
    ReadContext,
    normalise,
    search_period,
    unit_start,
)


@dataclass(frozen=True)
class Comparison:
    """Two periods compared: ``baseline`` starts before ``current``; change = current − baseline."""

    current: PeriodMatch
    baseline: PeriodMatch
    text: str


_VS = re.compile(
    r"\s+(?:vs\.?|versus|compared\s+(?:to|with)|against|relative\s+to|over)\s+"
    r"|\s+(?:and|to)\s+(?=\S)"
)
_CHANGE = re.compile(
    r"\b(?:grow\w*|grew|change\w*|increas\w*|decreas\w*|drop\w*|rise|risen|rose|fell|fall\w*|"
    r"declin\w*|differ\w*|compar\w*)\b"
)
_PREVIOUS = re.compile(
    r"^(?:the\s+)?(?:last|previous|prior|preceding|one before|period before)"
    rf"(?:\s+(?:{NUMBER_PATTERN}))?(?:\s+(?:one|period|(?:day|week|month|quarter|year)s?))?\b|^before\b"
)
_YEAR_AGO = re.compile(
    r"^(?:the\s+)?(?:same\s+(?:period|time|month|quarter|span|days)\s+)?"
    r"(?:(?:a|one)\s+year\s+(?:ago|earlier|before)|last\s+year|(?:the\s+)?prior\s+year|"
    r"(?:the\s+)?previous\s+year)\b"
)
_OVER = re.compile(
    r"\b(?:(year|month|quarter|week)[- ]over[- ](?:the[- ])?(?:previous[- ])?\1|yoy|mom|qoq)\b"
)
_OVER_UNIT = {"yoy": "year", "mom": "month", "qoq": "quarter"}


def _follow(right: str, first: PeriodMatch, ctx: ReadContext) -> PeriodMatch | None:
    """The second half of a comparison, read against the first."""
    right = right.strip()
    if (m := _YEAR_AGO.match(right)) and (first.grain != "year" or "same" in m[0]):
        return PeriodMatch(first.period.shifted(months=-12), m[0], first.grain, False)
    if m := _PREVIOUS.match(right):
        unit = re.search(r"\b(month|quarter|year|week)s?\b", m[0])
        if unit is None or first.grain in (unit[1], "range"):
            return PeriodMatch(first.period.previous(), m[0], first.grain, False)
    # a bare month or quarter falls in the first half's year (or the one before)
    year = first.period.start.year if first.grain in ("month", "quarter", "half") else None
    text = "vs " + right  # so that "May" after "vs" reads as the month
    found = search_period(text, ReadContext(ctx.today, year))
    if found is None or FILLER.sub(" ", text[3 : found[1][0]]).strip():
        return None  # the period must open the second half
    words = text[max(found[1][0], 3) : found[1][1]].strip()
    return replace(found[0], text=re.sub(r"^(?:vs\.?|versus)\s+", "", words))


def _last_complete(unit: str, today: dt.date) -> Period:
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return Period(monday - dt.timedelta(days=7), monday)
    start = unit_start(today, unit)
    return Period(add_months(start, -UNIT_MONTHS[unit]), start)


def _over(low: str, ctx: ReadContext) -> Comparison | None:
    m = _OVER.search(low)
    if m is None:
        return None
    unit = m[1] or _OVER_UNIT[m[0]]
    named = search_period(low[: m.start()] + " " + low[m.end() :], ctx)
    if named is not None:
        current = named[0]
    else:  # the last complete unit
        last = _last_complete(unit, ctx.day)
        current = PeriodMatch(last, m[0], "week" if unit == "week" else last.grain)
    months = {"year": 12, "quarter": 3, "month": 1}.get(unit)
    base = current.period.shifted(months=-months) if months else current.period.shifted(days=-7)
    return Comparison(current, PeriodMatch(base, m[0], current.grain), m[0])


def find_comparison(text: str, today: dt.date) -> Comparison | None:
    """Two periods compared in ``text`` ("A vs B", "A compared to last", "YoY"...), or ``None``.

    "between A and B" / "from A to B" count only with a word of change (growth, drop...)."""
    low, ctx = normalise(text), ReadContext(today)
    if over := _over(low, ctx):
        return over
    seps = list(_VS.finditer(low))
    strong = [sep for sep in seps if sep[0].strip() not in ("and", "to")]
    weak = [sep for sep in seps if sep not in strong] if _CHANGE.search(low) else []
    for sep in strong + weak:  # "A to B compared to C" splits at "compared to"
        left = search_period(low[: sep.start()], ctx)
        if left is None or FILLER.sub(" ", low[left[1][1] : sep.start()]).strip():
            continue
        right = _follow(low[sep.end() :], left[0], ctx)
        if right is None or right.period == left[0].period:
            continue
        a, b = left[0], right
        if not a.year_given and b.year_given and b.grain in ("month", "quarter", "half"):
            # "Q1 vs Q2 2025": the bare half takes the other's year
            again = search_period(low[: sep.start()], ReadContext(today, b.period.start.year))
            a = again[0] if again else a
        current, baseline = (a, b) if b.period.start < a.period.start else (b, a)
        return Comparison(current, baseline, low[left[1][0] : sep.end()] + right.text)
    return None


def parse_comparison(value: str, today: dt.date) -> Comparison:
    """The comparison ``value`` names, or ``ValueError``."""
    found = find_comparison(value, today)
    if found is None:
        raise ValueError(f"cannot read two periods to compare from {value!r}")
    return found
