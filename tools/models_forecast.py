"""demand_forecast: weekly tickets and hours ahead, against capacity (``models.serving``)."""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from pydantic import BaseModel, Field

from mspilot.db.semantic_access import INTERNAL_ROLES
from mspilot.models import serving
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.context import ToolContext
from mspilot.tools.metrics import PeriodArg
from mspilot.tools.models_common import client_arg, period_arg

#: as the API's ``forecast`` capability: every staff role (no money in it), no client users
ROLES: Final = {"demand_forecast": INTERNAL_ROLES}
COLUMNS: Final = (
    "week",
    "tickets",
    "tickets_lo",
    "tickets_hi",
    "hours",
    "hours_lo",
    "hours_hi",
    "technicians_needed",
)


class ForecastArgs(BaseModel):
    period: str | PeriodArg | None = Field(default=None, description=P.ARG_FORECAST_PERIOD)
    client: str | None = Field(default=None, description=P.ARG_CLIENT_OPTIONAL)


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def demand_forecast(ctx: ToolContext, period: Any = None, client: str | None = None) -> ToolOutput:
    ref = client_arg(ctx, client)
    span = period_arg(ctx, period)
    forecast = serving.demand_forecast(
        ctx.data_dir, ctx.tenant_id, client_id=ref.id if ref else None
    )
    weeks = serving.weeks_in(forecast, span) if span is not None else list(forecast.weeks)
    rows = [
        (
            w.week.isoformat(),
            _r(w.tickets),
            _r(w.tickets_lo),
            _r(w.tickets_hi),
            _r(w.hours),
            _r(w.hours_lo),
            _r(w.hours_hi),
            None if w.technicians_needed is None else round(w.technicians_needed, 2),
        )
        for w in weeks
    ]
    tickets = round(sum(w.tickets for w in weeks), 1)
    hours = round(sum(w.hours for w in weeks), 1)
    needed = [w.technicians_needed for w in weeks if w.technicians_needed is not None]
    peak = round(max(needed), 2) if needed else None
    first, last = (weeks[0].week.isoformat(), weeks[-1].week.isoformat()) if weeks else ("", "")
    who = ref.name if ref else "all clients"
    head = P.FORECAST_HEAD.format(
        who=who,
        n=len(rows),
        first=first,
        last=last,
        tickets=tickets,
        hours=hours,
        capacity=forecast.capacity_hours,
        peak=P.FORECAST_PEAK.format(peak=peak) if peak is not None else "",
    )
    head += " " + P.DATA_NOTICE
    return head + "\n" + text_table(COLUMNS, rows), table_artifact(
        COLUMNS,
        rows,
        title=f"Demand forecast ({who})",
        client=ref.name if ref else None,
        first_week=first,
        last_week=last,
        weeks=len(rows),
        tickets_total=tickets,
        hours_total=hours,
        capacity_hours_per_week=round(forecast.capacity_hours, 1),
        peak_technicians_needed=peak,
        as_of=forecast.as_of.isoformat(),
    )


def tools(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool("demand_forecast", P.DEMAND_FORECAST, ForecastArgs, partial(demand_forecast, ctx))
    ]
