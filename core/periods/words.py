"""Reading periods: one rule table for free text, codes and labels (see ``core.periods``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mspilot.core.clock import add_months, month_start
from mspilot.core.periods.period import Grain, Period

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
    "eleven": 11,
    "twelve": 12,
    "eighteen": 18,
    "twenty-four": 24,
    "a": 1,
}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "1st": 1, "2nd": 2, "3rd": 3}
_STEP = {"this": 0, "current": 0, "last": -1, "previous": -1, "prior": -1, "next": 1, "coming": 1}
UNIT_MONTHS = {"month": 1, "quarter": 3, "year": 12}

_MON = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
NUMBER_PATTERN = r"\d+|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
_Y4 = r"(?:19|20)\d\d"
_ISO = r"\d{4}-\d{2}-\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?(?!\d)"
_DATE = rf"(?:{_ISO}|{_MON}\s+{_DAY}(?:,?\s*{_Y4})?|{_DAY}\s+{_MON}(?:,?\s*{_Y4})?)"
_TO = r"\s*(to|through|thru|until|till|-|–|—|and|\.\.)\s*"


@dataclass(frozen=True)
class PeriodMatch:
    period: Period
    text: str  # the words that named it
    grain: Grain
    year_given: bool = True  # False for a bare month/quarter (its year was inferred)


@dataclass(frozen=True)
class ReadContext:
    today: dt.date | None
    year: int | None = None  # the year a bare month/quarter defaults to (the other half's)

    @property
    def day(self) -> dt.date:
        if self.today is None:
            raise _NeedsToday
        return self.today

    def latest_year(self, month: int) -> int:
        """The year of the latest month ``month`` that has started (in ``self.year`` if set)."""
        if self.year is not None:
            return (
                self.year
                if self.today is None or dt.date(self.year, month, 1) <= self.today
                else self.year - 1
            )
        return self.day.year if month <= self.day.month else self.day.year - 1


class _NeedsToday(Exception):
    pass


def _num(token: str) -> int:
    return int(token) if token.isdigit() else NUMBER_WORDS.get(token, 0)


def _year(token: str) -> int:
    y = int(token.lstrip("'"))
    return y + 2000 if y < 100 else y


def _date(text: str, ctx: ReadContext, year: int | None = None) -> tuple[dt.date, bool]:
    """A single date in words or ISO; (date, year given)."""
    text = text.strip().rstrip(",")
    if re.fullmatch(_ISO, text):
        return dt.date.fromisoformat(text), True
    words = re.findall(r"[a-z]+|\d+", text)
    month = next(MONTHS[w] for w in words if w in MONTHS)
    nums = [int(w) for w in words if w.isdigit()]
    day = next(n for n in nums if n <= 31)
    given = [n for n in nums if n > 31]
    y = given[0] if given else year if year is not None else ctx.latest_year(month)
    return dt.date(y, month, day), bool(given)


Handler = Callable[[re.Match[str], ReadContext], "tuple[Period, Grain, bool] | None"]
_RULES: list[tuple[re.Pattern[str], Handler]] = []


def _rule(pattern: str) -> Callable[[Handler], Handler]:
    def add(fn: Handler) -> Handler:
        _RULES.append((re.compile(pattern), fn))
        return fn

    return add


@_rule(rf"\b(?:from\s+|between\s+)?({_DATE}){_TO}({_DATE})(?![\w-])")
def _date_range(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    end, end_given = _date(m[3], ctx)
    start, start_given = _date(m[1], ctx, end.year if end_given else None)
    if start > end and not start_given:
        start = start.replace(year=start.year - 1)
    return Period(start, end + dt.timedelta(days=1)), "range", start_given or end_given


@_rule(rf"\b(?:from\s+|between\s+)?({_MON})(?:\s+({_Y4}))?{_TO}({_MON})(?:\s*,?\s*({_Y4}))?\b")
def _month_range(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    first, last = MONTHS[m[1].rstrip(".")], MONTHS[m[4].rstrip(".")]
    if m[3] == "and" and first >= last:
        return None  # "September and August": two months, not a range
    end_year = int(m[5]) if m[5] else ctx.latest_year(last)
    start_year = int(m[2]) if m[2] else end_year - (first > last)
    start = dt.date(start_year, first, 1)
    return Period(start, add_months(dt.date(end_year, last, 1), 1)), "range", bool(m[2] or m[5])


@_rule(r"\b(?:(?:fiscal\s+)?year[- ]to[- ]date|(?:this\s+|current\s+|fiscal\s+)?ytd)\b")
def _ytd(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    return Period(dt.date(ctx.day.year, 1, 1), ctx.day + dt.timedelta(days=1)), "range", True


@_rule(r"\b(?:quarter[- ]to[- ]date|qtd)\b")
def _qtd(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    start = dt.date(ctx.day.year, 3 * ((ctx.day.month - 1) // 3) + 1, 1)
    return Period(start, ctx.day + dt.timedelta(days=1)), "range", True


@_rule(r"\b(?:month[- ]to[- ]date|mtd)\b")
def _mtd(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    return Period(month_start(ctx.day), ctx.day + dt.timedelta(days=1)), "range", True


@_rule(r"\b(?:ttm|ltm|l12m|trailing twelve months|trailing 12 months|rolling 12 months)\b")
def _ttm(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    return Period.months_before(ctx.day, 12), "range", True


@_rule(
    r"\b(last|past|previous|trailing|rolling|next|coming|upcoming)\s+"
    rf"(?:(?:the\s+)?({NUMBER_PATTERN})\s+)?(day|week|month|quarter|year)s?\b"
)
def _last_n(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    which, count, unit = m[1], m[2], m[3]
    if count is None and which in ("last", "previous", "next", "coming"):
        return None  # "last month": one calendar unit (the relative rule)
    n = max(_num(count or "1"), 1)
    today, ahead = ctx.day, which in ("next", "coming", "upcoming")
    if unit == "day":  # N days counted from today, the day itself included, either way
        start = today if ahead else today - dt.timedelta(days=n - 1)
        return Period(start, start + dt.timedelta(days=n)), "range", True
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday())
        start = monday + dt.timedelta(weeks=1 if ahead else -n)
        return Period(start, start + dt.timedelta(weeks=n)), "range", True
    months = n * UNIT_MONTHS[unit]
    if ahead:
        start = add_months(unit_start(today, unit), UNIT_MONTHS[unit])
        return Period(start, add_months(start, months)), "range", True
    if unit == "month" or which in ("past", "trailing", "rolling"):
        return Period.months_before(today, months), "range", True
    end = unit_start(today, unit)  # "last 2 quarters": whole quarters before this one
    return Period(add_months(end, -months), end), "range", True


def unit_start(day: dt.date, unit: str) -> dt.date:
    if unit == "quarter":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if unit == "year":
        return dt.date(day.year, 1, 1)
    return month_start(day)


@_rule(
    rf"\b(?:({_Y4})[- ]?q([1-4])|q([1-4])\s*(?:of\s+)?(?:(?:fy\s*)?({_Y4})|(?:fy\s*|')(\d\d))"
    rf"|(first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter\s+(?:of\s+)?({_Y4}))\b"
)
def _quarter_year(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    q = int(m[2] or m[3] or 0) or _ORDINALS.get(m[6], 4)
    return Period.quarter(_year(m[1] or m[4] or m[5] or m[7]), q), "quarter", True


@_rule(r"\b(?:q([1-4])|(first|second|third|fourth|1st|2nd|3rd|4th)\s+quarter)\b")
def _quarter(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    q = int(m[1]) if m[1] else _ORDINALS.get(m[2], 4)
    return Period.quarter(ctx.latest_year(3 * q - 2), q), "quarter", False


@_rule(rf"\b(?:h([12])|(first|second)\s+half)(?:\s+(?:of\s+)?({_Y4}))?\b|\b({_Y4})-h([12])\b")
def _half(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    h = int(m[1] or m[5] or (1 if m[2] == "first" else 2))
    year = int(m[3] or m[4] or 0) or ctx.latest_year(6 * h - 5)
    start = dt.date(year, 6 * h - 5, 1)
    return Period(start, add_months(start, 6)), "half", bool(m[3] or m[4])


@_rule(rf"\bsince\s+({_MON})(?:\s+({_Y4}))?")
def _since(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    month = MONTHS[m[1].rstrip(".")]
    year = int(m[2]) if m[2] else ctx.latest_year(month)
    return Period(dt.date(year, month, 1), ctx.day + dt.timedelta(days=1)), "range", bool(m[2])


@_rule(rf"(?<![\w-])({_ISO})(?![\w-])|\b({_MON}\s+{_DAY},?\s*{_Y4}|{_DAY}\s+{_MON},?\s*{_Y4})\b")
def _one_day(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    day, _ = _date(m[1] or m[2], ctx)
    return Period(day, day + dt.timedelta(days=1)), "day", True


@_rule(rf"\b({_MON})\s*,?\s*({_Y4})\b|(?<![\w-])({_Y4})-(0[1-9]|1[0-2])(?![\w-])")
def _month_year(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    if m[1]:
        return Period.month(int(m[2]), MONTHS[m[1].rstrip(".")]), "month", True
    return Period.month(int(m[3]), int(m[4])), "month", True


@_rule(
    rf"\b(?:in|for|during|of|over|than|vs\.?|versus|and|to|with)\s+({_MON})(?![\w])|^({_MON})(?![\w])|\b({_MON})(?=\s*(?:\?|\.|,|$))"
)
def _month(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    name = (m[1] or m[2] or m[3]).rstrip(".")
    if name == "may" and not m[1]:
        return None  # "may" the verb
    month = MONTHS[name]
    return Period.month(ctx.latest_year(month), month), "month", False


@_rule(r"\b(this|current|last|previous|prior|next|coming)\s+(month|quarter|year|week)\b")
def _relative(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    step, unit, today = _STEP[m[1]], m[2], ctx.day
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=step)
        return Period(monday, monday + dt.timedelta(days=7)), "week", True
    start = add_months(unit_start(today, unit), step * UNIT_MONTHS[unit])
    period = Period(start, add_months(start, UNIT_MONTHS[unit]))
    return period, "year" if unit == "year" else "month" if unit == "month" else "quarter", True


@_rule(
    r"(?<![\w/$.-])(?:fy\s*)?(20\d\d)(?![\w/-])"
    r"(?!\s*(?:h\b|hours?|tickets?|seats?|users?|devices?|clients?|invoices?|dollars?|usd|%))"
)
def _one_year(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    return Period.year(int(m[1])), "year", True


@_rule(r"\b(yesterday|today)\b")
def _day_word(m: re.Match[str], ctx: ReadContext) -> tuple[Period, Grain, bool] | None:
    day = ctx.day - dt.timedelta(days=1 if m[1] == "yesterday" else 0)
    return Period(day, day + dt.timedelta(days=1)), "day", True


def normalise(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").split())


def search_period(low: str, ctx: ReadContext) -> tuple[PeriodMatch, tuple[int, int]] | None:
    for pattern, handler in _RULES:
        for m in pattern.finditer(low):
            try:
                found = handler(m, ctx)
            except ValueError:  # no such date ("February 30") or an empty range
                continue
            if found is not None:
                period, grain, given = found
                return PeriodMatch(period, m[0].strip(), grain, given), m.span()
    return None


def find_period(text: str, today: dt.date) -> PeriodMatch | None:
    """The first period named in ``text`` (by rule priority), or ``None``."""
    found = search_period(normalise(text), ReadContext(today))
    return found[0] if found else None


_ALL_TIME = {"", "all time", "all-time", "ever", "all", "overall", "lifetime", "to date"}
FILLER = re.compile(r"\b(?:in|for|during|of|over|the|period|from|between)\b|[,.?!()]")
_API_LAST = re.compile(r"^last-(\d{1,3})-months$")


def _whole(text: str, ctx: ReadContext) -> PeriodMatch | None:
    low = normalise(text)
    found = search_period(low, ctx)
    if found is None:
        return None
    rest = low[: found[1][0]] + " " + low[found[1][1] :]
    return found[0] if not FILLER.sub(" ", rest).strip() else None


def parse_period(value: Any, today: dt.date | None = None) -> Period | None:
    """A Period from a Period, ``{"start", "end"}`` (end exclusive) or text naming exactly one
    period (codes, labels or words; relative words need ``today``). ``None`` and "all time"
    give ``None``; anything else raises ``ValueError``."""
    if value is None or isinstance(value, Period):
        return value
    if isinstance(value, dict):
        try:
            start = dt.date.fromisoformat(str(value["start"]))
            end = dt.date.fromisoformat(str(value["end"]))
        except (KeyError, ValueError) as exc:
            raise ValueError('period needs ISO dates {"start": ..., "end": ...}') from exc
        return Period(start, end)
    if not isinstance(value, str):
        raise ValueError(f"cannot read a period from {value!r}")
    text = normalise(value)
    if text in _ALL_TIME:
        return None
    if (api := _API_LAST.match(text)) and today is not None:
        return Period.months_before(add_months(today, 1), max(int(api[1]), 1))
    try:
        found = _whole(text, ReadContext(today))
    except _NeedsToday:
        raise ValueError(f"period {value!r} is relative: it needs today's date") from None
    if found is None:
        raise ValueError(
            f"cannot read a period from {value!r}; use e.g. 'YYYY-MM', 'YYYY-Qn', 'YYYY', "
            "'last month', 'Q3 2025', 'last 6 months', 'YTD' or 'YYYY-MM-DD to YYYY-MM-DD'"
        )
    return found.period
