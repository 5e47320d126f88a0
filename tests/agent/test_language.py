"""Periods in words, grounding of numbers, and tool calls written as text."""

from __future__ import annotations

import datetime as dt

import pytest

from mspilot.agent.grounding import build_evidence, numbers_in, ungrounded_numbers
from mspilot.agent.toolcalls import parse_content_tool_calls
from mspilot.core.periods import Period
from mspilot.core.periods import find_period as parse_period

TODAY = dt.date(2026, 10, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("revenue last month", Period.month(2026, 9)),
        ("tickets in October", Period.month(2026, 10)),
        ("hours in December", Period.month(2025, 12)),  # the latest December that has started
        ("P1 tickets in Q3", Period.quarter(2026, 3)),
        ("Q4 2025 revenue", Period.quarter(2025, 4)),
        ("the third quarter", Period.quarter(2026, 3)),
        ("last quarter", Period.quarter(2026, 3)),
        ("this quarter", Period.quarter(2026, 4)),
        ("this year", Period.year(2026)),
        ("in 2025", Period.year(2025)),
        ("Sept 2025 hours", Period.month(2025, 9)),
        ("year to date", Period(dt.date(2026, 1, 1), dt.date(2026, 11, 1))),
        ("past 3 months", Period(dt.date(2026, 7, 1), dt.date(2026, 10, 1))),
        ("last 30 days", Period(dt.date(2026, 10, 2), dt.date(2026, 11, 1))),
        ("since March", Period(dt.date(2026, 3, 1), dt.date(2026, 11, 1))),
        ("next month", Period.month(2026, 11)),
    ],
)
def test_periods_relative_to_the_product_clock(text: str, expected: Period) -> None:
    match = parse_period(text, TODAY)
    assert match is not None and match.period == expected


@pytest.mark.parametrize("text", ["top 5 clients", "P1 tickets by client", "what may happen", "Q"])
def test_no_period_where_none_is_named(text: str) -> None:
    assert parse_period(text, TODAY) is None


def test_numbers_in_prose_with_units_and_identifiers() -> None:
    found = [
        (m.value * m.scale, m.percent)
        for m in numbers_in("$12,345.67, 41.2% of P1s in Q3, 1.2k h, INV-1001")
    ]
    assert found == [(12345.67, False), (41.2, True), (1200.0, False)]


def test_grounding_allows_rounding_percentages_and_counts_only() -> None:
    evidence = build_evidence(
        "top 3 clients in 2026?",
        ["revenue 12345.67"],
        [
            {
                "columns": ["client", "share"],
                "rows": [["A", 0.4107], ["B", 0.2]],
                "meta": {"row_count": 2},
            }
        ],
    )
    ok = (
        "Revenue was $12,345.67 (about $12.3k, ~$12,346); A has 41.1% and B 20%. "
        "2 clients, top 3 of 2026."
    )
    assert ungrounded_numbers(ok, evidence) == []
    assert ungrounded_numbers("Revenue grew 17% to $13,000.", evidence) == ["17%", "$13,000"]
    assert ungrounded_numbers("Due on 2026-11-30.", evidence) == ["2026-11-30"]


def test_tool_calls_written_as_text_are_parsed() -> None:
    known = {"query_metrics", "run_sql"}
    fenced = 'Sure!\n```json\n{"name": "query_metrics", "arguments": {"metric": "revenue"}}\n```'
    assert parse_content_tool_calls(fenced, known)[0]["args"] == {"metric": "revenue"}
    as_string = '{"name": "run_sql", "arguments": "{\\"sql\\": \\"select 1\\"}"}'
    assert parse_content_tool_calls(as_string, known)[0]["args"] == {"sql": "select 1"}
    tagged = '<tool_call>{"function": {"name": "run_sql", "arguments": {"sql": "x"}}}</tool_call>'
    assert parse_content_tool_calls(tagged, known)[0]["name"] == "run_sql"
    assert parse_content_tool_calls('{"name": "drop_tables", "arguments": {}}', known) == []
    assert parse_content_tool_calls("Revenue was {not json}", known) == []
