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
from mspilot.core.periods import parse_period as read_period
from mspilot.models import serving
from mspilot.models.serving import ClientMargin

router = APIRouter(tags=["analytics"])


#: the span the margins endpoint serves (a bounded period of at most five years, 2000-2100)
EARLIEST, LATEST, MAX_MONTHS = dt.date(2000, 1, 1), dt.date(2101, 1, 1), 60


def parse_period(text: str, today: dt.date) -> Period:
    """The period of ``?period=``, read by the product's one parser (:mod:`mspilot.core.periods`:
    YYYY, YYYY-Qn, YYYY-MM, last-N-months and the words the agent reads), bounded for the API."""
    if re.fullmatch(r"last-0+-months", text.strip()):
        raise ApiError(422, "invalid_request", "last-N-months takes N from 1 to 60")
    try:
        span = read_period(text, today)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    if span is None:
        raise ApiError(
            422, "invalid_request", "name a period: YYYY, YYYY-Qn, YYYY-MM, last-N-months"
        )
    if span.start < EARLIEST or span.end > LATEST:
        raise ApiError(422, "invalid_request", "the period must fall between 2000 and 2100")
    if span.end > add_months(span.start, MAX_MONTHS):
        raise ApiError(422, "invalid_request", f"a period of at most {MAX_MONTHS} months")
    return span


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
            description="YYYY, YYYY-Qn, YYYY-MM, last-N-months or words ('last quarter')",
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
