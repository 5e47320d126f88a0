"""What the models' tools share: reading a period argument and an optional client name."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from mspilot.core.errors import UserInputError
from mspilot.core.periods import Period, parse_period
from mspilot.tools.clients import ClientRef, resolve_client
from mspilot.tools.context import ToolContext


def period_arg(ctx: ToolContext, value: Any) -> Period | None:
    """A period from the LLM's or router's argument: relative words ('last quarter', 'next
    month'), 'YYYY-MM' / 'YYYY-Qn' / 'YYYY', or ``{"start", "end"}`` (end exclusive)."""
    if value is None or value == "":
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump()
    try:
        return parse_period(value, ctx.today)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None


def client_arg(ctx: ToolContext, name: str | None) -> ClientRef | None:
    """The client a name means within the caller's scope (None when no name was given)."""
    if name is None or not name.strip():
        return None
    return resolve_client(ctx, name)


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"
