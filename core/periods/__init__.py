"""Half-open date periods ``[start, end)``: the one place that reads and writes them.

Reading (one rule table, relative to the product clock's ``today``):

- ``find_period(text, today)``: the first period named anywhere in free text, or ``None``;
- ``parse_period(value, today)``: a whole value (a ``Period``, ``{"start", "end"}`` with the end
  exclusive, or text) -> ``Period``; ``None`` for "all time"; ``ValueError`` otherwise;
- ``find_comparison`` / ``parse_comparison``: two periods compared ("Q2 vs Q1", "September vs
  August", "this month compared to last", "YTD vs last year", "month over month") -> a
  ``Comparison`` whose ``baseline`` starts before its ``current``.

What text may name: months ("September", "Sept 2025", "2025-09"), quarters ("Q3", "third
quarter", "Q3 2025", "2025-Q3", "Q3'25"), halves ("H1 2026"), years ("2025", "FY2025"),
"this/last/next month|quarter|year|week", "last/past/trailing/next N days|weeks|months|
quarters|years" (whole calendar units before the current one; days end today), "trailing
twelve months"/"TTM", YTD/QTD/MTD, "since March", "yesterday"/"today", a date
("2026-03-05", "March 5, 2026") and explicit ranges ("2026-01-01 to 2026-03-31", "from March 3
to April 5 2026", "January through March"), whose last day is inclusive as people write it.
A bare month or quarter is the latest one that has started by today. The code
``last-N-months`` (the API's) is the N months up to and including the current one.

Writing: ``format_period`` (what people read: "September 2026", "Q3 2026", "2026",
"2026-01-01 to 2026-03-31"), ``period_code`` ("2026-09", "2026-Q3", "2026",
"2026-01-01..2026-03-31") and ``period_dict``; ``parse_period`` reads all of them back.
"""

from mspilot.core.periods.compare import Comparison, find_comparison, parse_comparison
from mspilot.core.periods.period import (
    Grain,
    Period,
    format_period,
    period_code,
    period_dict,
)
from mspilot.core.periods.words import (
    MONTHS,
    NUMBER_WORDS,
    PeriodMatch,
    find_period,
    parse_period,
)

__all__ = [
    "MONTHS",
    "NUMBER_WORDS",
    "Comparison",
    "Grain",
    "Period",
    "PeriodMatch",
    "find_comparison",
    "find_period",
    "format_period",
    "parse_comparison",
    "parse_period",
    "period_code",
    "period_dict",
]
