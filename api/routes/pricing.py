"""``/v1/pricing``: recommended prices per client, one client's, and what-ifs."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mspilot.api.deps import (
    AuditDep,
    PageDep,
    PricingUser,
    StateDep,
)
from mspilot.api.errors import not_found
from mspilot.api.predictions import PREDICTION_TTL_S
from mspilot.api.state import AppState
from mspilot.models import serving
from mspilot.models.pricing import PriceRecommendation, WhatIfResult

router = APIRouter(tags=["analytics"])


class PricingPage(BaseModel):
    as_of: dt.date
    response_source: str
    horizon_months: int
    expected_gain: float
    n_under_priced: int
    items: list[PriceRecommendation]
    total: int
    offset: int
    limit: int
    notes: list[str]


class WhatIfRequest(BaseModel):
    client_id: str = Field(max_length=120, description="Client id or name")
    change_pct: float = Field(ge=-90, le=200, examples=[8.0], description="Price change in %")


async def _portfolio(state: AppState, tenant_id: str) -> Any:
    today = state.clock.today()
    return await state.acached(
        ("pricing", tenant_id, today),
        PREDICTION_TTL_S,
        lambda: serving.price_portfolio(state.engine, tenant_id, today, state.data_dir),
    )


@router.get(
    "/v1/pricing",
    response_model=PricingPage,
    summary="Recommended price per client, ranked by expected 12-month gain, within policy",
)
async def pricing(
    state: StateDep,
    user: PricingUser,
    page: PageDep,
    audit: AuditDep,
    action: Annotated[Literal["raise", "lower", "hold", "locked"] | None, Query()] = None,
) -> PricingPage:
    report = await _portfolio(state, user.tenant_id)
    recs = [r for r in report.recommendations if action is None or r.action == action]
    items = recs[page.offset : page.offset + page.limit]
    audit.data(user, rows=len(items), fields=list(PriceRecommendation.model_fields))
    return PricingPage(
        as_of=report.as_of,
        response_source=report.response_source,
        horizon_months=report.horizon_months,
        expected_gain=report.expected_gain,
        n_under_priced=report.n_under_priced,
        items=items,
        total=len(recs),
        offset=page.offset,
        limit=page.limit,
        notes=report.notes,
    )


@router.get(
    "/v1/pricing/{client_id}",
    response_model=PriceRecommendation,
    summary="One client's recommended price with the reasoning",
    responses={404: {"description": "No priced contract for this client"}},
)
async def client_price(
    state: StateDep,
    user: PricingUser,
    audit: AuditDep,
    client_id: Annotated[str, Path(max_length=120)],
) -> PriceRecommendation:
    report = await _portfolio(state, user.tenant_id)
    found = serving.recommendation_for(report, client_id)
    if found is not None:
        audit.data(user, rows=1, fields=list(PriceRecommendation.model_fields))
        return found
    raise not_found(f"no active client with a priced contract has id {client_id!r}")


@router.post(
    "/v1/pricing/what-if",
    response_model=WhatIfResult,
    summary="What if we change this client's price by X%: churn, margin and expected profit",
)
async def price_what_if(
    state: StateDep, user: PricingUser, audit: AuditDep, body: WhatIfRequest
) -> WhatIfResult:
    result: WhatIfResult = await asyncio.to_thread(
        serving.price_what_if,
        state.engine,
        user.tenant_id,
        state.clock.today(),
        state.data_dir,
        body.client_id,
        body.change_pct,
    )
    audit.data(user, rows=1, fields=list(WhatIfResult.model_fields))
    return result
