"""client_margins: per-client profitability over a period (``models.serving``)."""

from __future__ import annotations

from functools import partial
from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db.definitions import ECONOMICS_COLUMNS
from mspilot.db.semantic_access import STAFF_WITH_MONEY
from mspilot.models import serving
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.context import ToolContext
from mspilot.tools.metrics import PeriodArg
from mspilot.tools.models_common import client_arg, period_arg

#: as the API's ``margins`` capability
ROLES: Final = {"client_margins": STAFF_WITH_MONEY}
COLUMNS: Final = ("client", *ECONOMICS_COLUMNS)


class MarginArgs(BaseModel):
    period: str | PeriodArg | None = Field(default=None, description=P.ARG_MARGIN_PERIOD)
    top: int = Field(default=10, ge=1, le=500, description=P.ARG_TOP)
    order: Literal["asc", "desc"] = Field(default="asc", description=P.ARG_MARGIN_ORDER)
    client: str | None = Field(default=None, description=P.ARG_CLIENT_OPTIONAL)


def default_period(ctx: ToolContext) -> Period:
    """The last 12 months, this month included (the API's ``last-12-months``)."""
    return Period.months_before(add_months(ctx.today, 1), 12)


def client_margins(
    ctx: ToolContext,
    period: Any = None,
    top: int = 10,
    order: str = "asc",
    client: str | None = None,
) -> ToolOutput:
    span = period_arg(ctx, period) or default_period(ctx)
    ref = client_arg(ctx, client)
    rows = serving.client_margins(ctx.engine, ctx.tenant_id, span)
    if ref is not None:
        rows = [r for r in rows if r.client_id == ref.id]
    else:  # clients with no revenue, work or cost in the period (gone, or not yet started)
        rows = [r for r in rows if r.revenue or r.hours or r.labour_cost or r.licence_cost]
    rows.sort(key=lambda r: r.margin, reverse=order == "desc")
    table = [
        (
            r.client_name,
            round(r.revenue, 2),
            round(r.hours, 2),
            round(r.labour_cost, 2),
            round(r.licence_cost, 2),
            round(r.margin, 2),
            None if r.margin_pct is None else round(r.margin_pct, 4),
            None if r.effective_rate is None else round(r.effective_rate, 2),
        )
        for r in rows
    ]
    totals = serving.margin_totals(rows)
    losing = sum(r.margin < 0 for r in rows)
    head = P.MARGINS_HEAD.format(
        period=span.label(),
        which="worst" if order == "asc" else "best",
        n=len(rows),
        losing=losing,
        revenue=totals["revenue"],
        margin=totals["margin"],
    )
    head += " " + P.DATA_NOTICE
    return head + "\n" + text_table(COLUMNS, table, limit=top), table_artifact(
        COLUMNS,
        table,
        title=f"Client margins {span.label()}",
        period=span.label(),
        top=min(top, len(table)),
        order=order,
        negative=losing,
        totals=totals,
    )


def tools(ctx: ToolContext) -> list[Tool]:
    return [make_tool("client_margins", P.CLIENT_MARGINS, MarginArgs, partial(client_margins, ctx))]
