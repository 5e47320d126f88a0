"""The one period reader and writer: examples, then properties over generated periods."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mspilot.core.clock import add_months
from mspilot.core.periods import (
    Period,
    find_comparison,
    find_period,
    format_period,
    parse_comparison,
    parse_period,
    period_code,
    period_dict,
)

TODAY = dt.date(2026, 11, 15)  # a Sunday


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("last month", Period.month(2026, 10)),
        ("this quarter", Period.quarter(2026, 4)),
        ("last year", Period.year(2025)),
        ("last 3 months", Period(dt.date(2026, 8, 1), dt.date(2026, 11, 1))),
        ("ytd", Period(dt.date(2026, 1, 1), dt.date(2026, 11, 16))),
        ("QTD", Period(dt.date(2026, 10, 1), dt.date(2026, 11, 16))),
        ("month to date", Period(dt.date(2026, 11, 1), dt.date(2026, 11, 16))),
        ("next month", Period.month(2026, 12)),
        ("coming quarter", Period.quarter(2027, 1)),
        ("next 2 months", Period(dt.date(2026, 12, 1), dt.date(2027, 2, 1))),
        ("trailing 12 months", Period(dt.date(2025, 11, 1), dt.date(2026, 11, 1))),
        ("TTM", Period(dt.date(2025, 11, 1), dt.date(2026, 11, 1))),
        ("this week", Period(dt.date(2026, 11, 9), dt.date(2026, 11, 16))),
        ("next week", Period(dt.date(2026, 11, 16), dt.date(2026, 11, 23))),
        ("last 2 weeks", Period(dt.date(2026, 10, 26), dt.date(2026, 11, 9))),
        ("last 30 days", Period(dt.date(2026, 10, 17), dt.date(2026, 11, 16))),
        ("last 2 quarters", Period(dt.date(2026, 4, 1), dt.date(2026, 10, 1))),
        ("2026-Q3", Period.quarter(2026, 3)),
        ("Q3'25", Period.quarter(2025, 3)),
        ("2026-07", Period.month(2026, 7)),
        ("December", Period.month(2025, 12)),
        ("H1 2026", Period(dt.date(2026, 1, 1), dt.date(2026, 7, 1))),
        ("FY2025", Period.year(2025)),
        ("2026-03-05", Period(dt.date(2026, 3, 5), dt.date(2026, 3, 6))),
        ("from 2026-01-01 to 2026-02-15", Period(dt.date(2026, 1, 1), dt.date(2026, 2, 16))),
        ("between Jan 10 and Mar 31, 2026", Period(dt.date(2026, 1, 10), dt.date(2026, 4, 1))),
        ("January through March", Period.quarter(2026, 1)),
        ("November to February", Period(dt.date(2025, 11, 1), dt.date(2026, 3, 1))),
        ("since March", Period(dt.date(2026, 3, 1), dt.date(2026, 11, 16))),
        ("last-12-months", Period(dt.date(2025, 12, 1), dt.date(2026, 12, 1))),  # the API's
    ],
)
def test_whole_values(text: str, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


def test_all_time_dicts_and_what_is_refused() -> None:
    assert parse_period(None) is None and parse_period("all time") is None
    assert parse_period({"start": "2026-01-01", "end": "2026-02-01"}) == Period.month(2026, 1)
    for bad in ("last tuesday", "revenue", "Q5", "2026-13", {"start": "x"}, 7):
        with pytest.raises(ValueError):
            parse_period(bad, TODAY)
    with pytest.raises(ValueError, match="relative"):
        parse_period("last month")  # needs today
    with pytest.raises(ValueError):
        parse_period({"start": "2026-07-01", "end": "2026-06-01"})


@pytest.mark.parametrize(
    "text", ["top 5 clients", "P1 tickets by client", "what may happen", "at least 2000 hours"]
)
def test_no_period_where_none_is_named(text: str) -> None:
    assert find_period(text, TODAY) is None


@pytest.mark.parametrize(
    ("text", "current", "baseline"),
    [
        ("Q2 vs Q1 growth", Period.quarter(2026, 2), Period.quarter(2026, 1)),
        ("September vs August", Period.month(2026, 9), Period.month(2026, 8)),
        ("revenue in September versus May", Period.month(2026, 9), Period.month(2026, 5)),
        ("this month compared to last", Period.month(2026, 11), Period.month(2026, 10)),
        ("this quarter vs the previous one", Period.quarter(2026, 4), Period.quarter(2026, 3)),
        ("January vs December", Period.month(2026, 1), Period.month(2025, 12)),
        ("Q1 vs Q2 2025", Period.quarter(2025, 2), Period.quarter(2025, 1)),  # put in order
        ("Q3 vs the same quarter last year", Period.quarter(2026, 3), Period.quarter(2025, 3)),
        ("this year vs last year", Period.year(2026), Period.year(2025)),
        (
            "YTD vs last year",
            Period(dt.date(2026, 1, 1), dt.date(2026, 11, 16)),
            Period(dt.date(2025, 1, 1), dt.date(2025, 11, 16)),
        ),
        (
            "last 3 months vs the previous 3 months",
            Period(dt.date(2026, 8, 1), dt.date(2026, 11, 1)),
            Period(dt.date(2026, 5, 1), dt.date(2026, 8, 1)),
        ),
        ("revenue growth from Q1 to Q2", Period.quarter(2026, 2), Period.quarter(2026, 1)),
        ("Q3 revenue year over year", Period.quarter(2026, 3), Period.quarter(2025, 3)),
        ("MoM hours", Period.month(2026, 10), Period.month(2026, 9)),
    ],
)
def test_comparisons(text: str, current: Period, baseline: Period) -> None:
    found = parse_comparison(text, TODAY)
    assert (found.current.period, found.baseline.period) == (current, baseline)


@pytest.mark.parametrize(
    "text", ["revenue in Q3", "revenue from Q1 to Q2", "tickets by client", "Q3 vs Q3"]
)
def test_no_comparison_where_none_is_made(text: str) -> None:
    assert find_comparison(text, TODAY) is None


# ---- properties ------------------------------------------------------------------------------

days = st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2098, 12, 31))


@st.composite
def periods(draw: st.DrawFn) -> Period:
    kind = draw(st.sampled_from(["month", "quarter", "year", "half", "day", "range"]))
    year = draw(st.integers(2001, 2098))
    if kind == "month":
        return Period.month(year, draw(st.integers(1, 12)))
    if kind == "quarter":
        return Period.quarter(year, draw(st.integers(1, 4)))
    if kind == "year":
        return Period.year(year)
    if kind == "half":
        start = dt.date(year, draw(st.sampled_from([1, 7])), 1)
        return Period(start, add_months(start, 6))
    start = draw(days)
    length = 1 if kind == "day" else draw(st.integers(1, 800))
    return Period(start, start + dt.timedelta(days=length))


@given(periods(), days)
@settings(max_examples=200, deadline=None)
def test_every_written_form_reads_back(period: Period, today: dt.date) -> None:
    for text in (format_period(period), period_code(period)):
        assert parse_period(text, today) == period, text
        assert parse_period(text.upper(), None) == period  # absolute: no today needed
    assert parse_period(period_dict(period)) == period
    with pytest.raises(ValueError):  # a whole value names a period and nothing else
        parse_period(f"revenue in {format_period(period)}", today)
    found = find_period(f"revenue for {format_period(period)} by client", today)
    assert found is not None and found.period == period


LOOKING_BACK = st.sampled_from(
    ["last month", "last quarter", "last year", "last week", "ytd", "qtd", "mtd",
     "trailing 12 months", "yesterday", "today", "since march"]
)  # fmt: skip
NAMED = st.sampled_from(["q1", "q4", "december", "january", "second half", "the third quarter"])


@given(LOOKING_BACK, NAMED, st.integers(1, 36),
       st.sampled_from(["day", "week", "month", "quarter", "year"]), days)  # fmt: skip
@settings(max_examples=200, deadline=None)
def test_relative_periods_are_well_formed(
    back: str, named: str, n: int, unit: str, today: dt.date
) -> None:
    tomorrow = today + dt.timedelta(days=1)
    for text in (back, f"last {n} {unit}s", f"past {n} {unit}s"):
        period = parse_period(text, today)
        assert period is not None and period.start < period.end <= tomorrow, text
    ahead = parse_period(f"next {n} {unit}s", today)
    assert ahead is not None and ahead.start < ahead.end
    # "next N days" starts today (as "last N days" ends today); longer units, the next one
    assert ahead.start == today if unit == "day" else today < ahead.start
    bare = parse_period(named, today)  # the latest one that has started
    assert bare is not None and bare.start <= today < bare.shifted(months=12).start, named


@given(periods(), st.sampled_from([" vs ", " versus ", " compared to ", " against "]), days)
@settings(max_examples=200, deadline=None)
def test_comparisons_are_ordered(period: Period, sep: str, today: dt.date) -> None:
    earlier = period.previous()
    for a, b in ((period, earlier), (earlier, period)):
        text = f"revenue {format_period(a)}{sep}{format_period(b)}"
        found = find_comparison(text, today)
        assert found is not None, text
        assert (found.current.period, found.baseline.period) == (period, earlier), text
        assert found.baseline.period.start < found.current.period.start
    elliptic = find_comparison(f"hours {format_period(period)}{sep}the previous period", today)
    assert elliptic is not None and elliptic.baseline.period == earlier
