"""``/v1/margins?period=``: read by the product's one period parser (``core/periods``), then
bounded for the API (a named period of at most 60 months within 2000-2100)."""

from __future__ import annotations

import datetime as dt

import pytest

from mspilot.api.errors import ApiError
from mspilot.api.routes.margins import parse_period
from mspilot.core.periods import Period

TODAY = dt.date(2026, 10, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026", Period.year(2026)),
        ("2026-Q3", Period.quarter(2026, 3)),
        ("2026-09", Period.month(2026, 9)),
        ("last-12-months", Period.months_before(dt.date(2026, 11, 1), 12)),
        ("last quarter", Period.quarter(2026, 3)),
    ],
)
def test_codes_and_words_read_as_the_agent_reads_them(text: str, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


@pytest.mark.parametrize(
    "text", ["soon", "2026-13", "all time", "last-0-months", "last-61-months", "1999"]
)
def test_anything_else_is_a_422(text: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_period(text, TODAY)
    assert err.value.status_code == 422
