"""Names every part of the semantic layer shares: units, time dimensions, limits, the error."""

from __future__ import annotations

from typing import Literal

from mspilot.core.errors import UserInputError

Unit = Literal["money", "hours", "count", "ratio", "score", "rate", "seats", "days"]
#: What a metric's number is: a count of things, a sum, an average, a rate or a share
#: (ratios), a list of rows, or a change between two periods (any metric, compared).
MeasureKind = Literal["count", "sum", "average", "rate", "share", "list", "change"]
#: Which end of a metric is good: "worst" clients by SLA breach rate are the highest ones.
Better = Literal["higher", "lower"]
TIME_DIMENSIONS = ("month", "quarter", "year")
DEFAULT_COST_MONTHS = 12
MAX_BUCKETS = 60


class SemanticError(UserInputError):
    """A metric request that cannot be answered as asked (the message lists what can)."""
