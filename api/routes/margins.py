"""``/v1/margins``: per-client revenue, costs, margin and effective rate over a period."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mspilot.api.deps import (
    AuditDep,
    MarginsUser,
    PageDep,
    StateDep,
)
from mspilot.api.errors import ApiError
from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.models import serving
from mspilot.models.serving import ClientMargin

router = APIRouter(tags=["analytics"])


_PERIOD = re.compile(r"^(?:(\d{4})(?:-(?:Q([1-4])|(0[1-9]|1[0-2])))?|last-(\d{1,2})-months)$")


def parse_period(text: str, today: dt.date) -> Period:
    m = _PERIOD.match(text)
    if m is None:
        raise ApiError(
            422,
            "invalid_request",
            f"period {text!r} not understood; use YYYY, YYYY-Qn, YYYY-MM or last-N-months",
        )
    year, quarter, month, last = m.groups()
    if last is not None:
        months = int(last)
        if not 1 <= months <= 60:
            raise ApiError(422, "invalid_request", "last-N-months takes N from 1 to 60")
        return Period.months_before(add_months(today, 1), months)
    y = int(year)
    if not 2000 <= y <= 2100:
        raise ApiError(422, "invalid_request", "the year must fall between 2000 and 2100")
    if quarter:
        return Period.quarter(y, int(quarter))
    if month:
        return Period.month(y, int(month))
    return Period.year(y)


class MarginPage(BaseModel):
    period: str
    start: dt.date
    end: dt.date = Field(description="Exclusive")
    items: list[ClientMargin]
    total: int
    offset: int
    limit: int
    totals: dict[str, float]


SortMargin = Literal["margin", "margin_pct", "revenue", "effective_rate", "-margin", "-revenue"]


@router.get(
    "/v1/margins",
    response_model=MarginPage,
    summary="Per-client revenue, costs, margin and effective rate over a period",
)
async def margins(
    state: StateDep,
    user: MarginsUser,
    page: PageDep,
    audit: AuditDep,
    period: Annotated[
        str,
        Query(
            max_length=20,
            description="YYYY, YYYY-Qn, YYYY-MM or last-N-months",
            examples=["last-12-months", "2026-Q3"],
        ),
    ] = "last-12-months",
    sort: Annotated[SortMargin, Query(description="Ascending; '-' for descending")] = "margin",
) -> MarginPage:
    span = parse_period(period, state.clock.today())
    rows: list[ClientMargin] = await state.acached(
        ("margins", user.tenant_id, span),
        60.0,
        lambda: serving.client_margins(state.engine, user.tenant_id, span),
    )
    field = sort.lstrip("-")
    ordered = sorted(
        rows,
        key=lambda r: (getattr(r, field) is None, getattr(r, field) or 0.0),
        reverse=sort.startswith("-"),
    )
    items = ordered[page.offset : page.offset + page.limit]
    audit.data(user, rows=len(items), fields=list(ClientMargin.model_fields))
    return MarginPage(
        period=span.label(),
        start=span.start,
        end=span.end,
        items=items,
        total=len(rows),
        offset=page.offset,
        limit=page.limit,
        totals=serving.margin_totals(rows),
    )
