"""What the models' tools share: reading a period argument and an optional client name."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import BaseModel

from mspilot.core.clock import add_months
from mspilot.core.errors import UserInputError
from mspilot.core.periods import Period
from mspilot.db.semantic import parse_period
from mspilot.tools.clients import ClientRef, resolve_client
from mspilot.tools.context import ToolContext
from mspilot.tools.metrics import relative_period

_NEXT = re.compile(r"^(next|coming)\s+(\d+\s+)?(week|month|quarter|year)s?$")


def period_arg(ctx: ToolContext, value: Any) -> Period | None:
    """A period from the LLM's or router's argument: relative words ('last quarter', 'next
    month'), 'YYYY-MM' / 'YYYY-Qn' / 'YYYY', or ``{"start", "end"}`` (end exclusive)."""
    if value is None or value == "":
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, str):
        low = " ".join(value.strip().lower().split())
        found = relative_period(low, ctx.today)
        if found is not None:
            return found
        m = _NEXT.match(low)
        if m:
            count, unit = int(m.group(2) or 1), m.group(3)
            if unit == "week":
                start = ctx.today + dt.timedelta(days=7 - ctx.today.weekday())
                return Period(start, start + dt.timedelta(days=7 * count))
            months = {"month": 1, "quarter": 3, "year": 12}[unit]
            start = ctx.today.replace(day=1)
            if unit == "quarter":
                start = start.replace(month=3 * ((start.month - 1) // 3) + 1)
            elif unit == "year":
                start = start.replace(month=1)
            start = add_months(start, months)
            return Period(start, add_months(start, months * count))
        if low in ("last 12 months", "past 12 months", "trailing 12 months"):
            return Period.months_before(ctx.today, 12)
    try:
        return parse_period(value)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None


def client_arg(ctx: ToolContext, name: str | None) -> ClientRef | None:
    """The client a name means within the caller's scope (None when no name was given)."""
    if name is None or not name.strip():
        return None
    return resolve_client(ctx, name)


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"
