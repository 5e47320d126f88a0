"""Names every part of the semantic layer shares: units, time dimensions, limits, the error."""

from __future__ import annotations

from typing import Literal

from mspilot.core.errors import UserInputError

Unit = Literal["money", "hours", "count", "ratio", "score", "rate", "seats"]
TIME_DIMENSIONS = ("month", "quarter", "year")
DEFAULT_COST_MONTHS = 12
MAX_BUCKETS = 60


class SemanticError(UserInputError):
    """A metric request that cannot be answered as asked (the message lists what can)."""
