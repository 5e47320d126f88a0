"""Typed endpoints over the models: churn risk, margins, revenue leaks, demand forecast,
price recommendations and what-ifs (thin handlers over ``models.serving``, which the agent's
tools call too).

Predictions are computed once per data snapshot (tenant, product date, model version) and
kept in memory, so a request is a lookup and a page slice; the models themselves were loaded
by the lifespan. A model that was never trained answers 409 ``data_unavailable`` naming the
command that trains it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mspilot.api.deps import (
    AuditDep,
    BudgetUser,
    ChurnUser,
    ForecastUser,
    LeaksUser,
    MarginsUser,
    PageDep,
    PricingUser,
    StateDep,
)
from mspilot.api.errors import ApiError, not_found
from mspilot.api.state import AppState
from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.models import serving
from mspilot.models.budget import BudgetLimits, BudgetPlan, CandidateAction
from mspilot.models.pricing import PriceRecommendation, WhatIfResult
from mspilot.models.serving import ChurnRisk, ClientMargin, Forecast, ForecastWeek, Leak

router = APIRouter(tags=["analytics"])
#: Seconds each solve of a recommended plan may take (a plan and two marginal re-solves):
#: a request answers within seconds, with status ``time_limit`` if the solver was cut short.
RECOMMENDED_PLAN_SOLVE_S = 2.0
PREDICTION_TTL_S = 600.0


async def _version(state: AppState, tenant_id: str, kind: str) -> int:
    """The champion's version (the registry file is re-read every few seconds at most)."""
    version: int = await state.acached(
        ("champion", tenant_id, kind),
        5.0,
        lambda: serving.champion_version(state.data_dir, tenant_id, kind),
    )
    return version


# ---- churn -----------------------------------------------------------------------------------


class ChurnPage(BaseModel):
    as_of: dt.date
    model_version: int
    items: list[ChurnRisk]
    total: int
    offset: int
    limit: int


@router.get(
    "/v1/churn",
    response_model=ChurnPage,
    summary="Clients ranked by 90-day churn risk, with the reasons in plain words",
    responses={409: {"description": "No churn model trained yet"}},
)
async def churn(
    state: StateDep,
    user: ChurnUser,
    page: PageDep,
    audit: AuditDep,
    min_risk: Annotated[float, Query(ge=0, le=1, description="Only risks at least this")] = 0.0,
) -> ChurnPage:
    version = await _version(state, user.tenant_id, "churn")
    rows: list[ChurnRisk] = await state.acached(
        ("churn", user.tenant_id, state.clock.today(), version),
        PREDICTION_TTL_S,
        lambda: serving.churn_risks(
            state.engine, user.tenant_id, state.clock.today(), state.data_dir, version=version
        ),
    )
    rows = [r for r in rows if r.risk_90d >= min_risk]
    items = rows[page.offset : page.offset + page.limit]
    audit.data(user, rows=len(items), fields=list(ChurnRisk.model_fields))
    return ChurnPage(
        as_of=state.clock.today(),
        model_version=version,
        items=items,
        total=len(rows),
        offset=page.offset,
        limit=page.limit,
    )


# ---- margins ---------------------------------------------------------------------------------

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


# ---- leaks -----------------------------------------------------------------------------------


class LeakPage(BaseModel):
    items: list[Leak]
    total: int
    total_dollars: float
    by_type: dict[str, float]
    offset: int
    limit: int


@router.get(
    "/v1/leaks",
    response_model=LeakPage,
    summary="Revenue leaks found by reconciliation (largest first)",
    responses={409: {"description": "No findings yet (run `mspilot train`)"}},
)
async def leaks(
    state: StateDep,
    user: LeaksUser,
    page: PageDep,
    audit: AuditDep,
    type: Annotated[str | None, Query(max_length=60, description="Only this leak type")] = None,
) -> LeakPage:
    rows: list[Leak] = await state.acached(
        ("leaks", user.tenant_id),
        60.0,
        lambda: serving.revenue_leaks(state.data_dir, user.tenant_id),
    )
    if type:
        rows = [r for r in rows if r.type == type]
    items = rows[page.offset : page.offset + page.limit]
    audit.data(user, rows=len(items), fields=list(Leak.model_fields))
    return LeakPage(
        items=items,
        total=len(rows),
        total_dollars=round(sum(r.dollars for r in rows), 2),
        by_type=serving.leaks_by_type(rows),
        offset=page.offset,
        limit=page.limit,
    )


# ---- forecast --------------------------------------------------------------------------------


@router.get(
    "/v1/forecast",
    response_model=Forecast,
    summary="Weekly tickets and hours ahead (total or one client) and technicians needed",
    responses={409: {"description": "No forecast model trained yet"}},
)
async def forecast(
    state: StateDep,
    user: ForecastUser,
    audit: AuditDep,
    client_id: Annotated[str | None, Query(max_length=120)] = None,
) -> Forecast:
    version = await _version(state, user.tenant_id, "forecast")
    result: Forecast = await state.acached(
        ("forecast", user.tenant_id, version, client_id),
        PREDICTION_TTL_S,
        lambda: serving.demand_forecast(
            state.data_dir, user.tenant_id, client_id=client_id, version=version
        ),
    )
    audit.data(user, rows=len(result.weeks), fields=list(ForecastWeek.model_fields))
    return result


# ---- pricing ---------------------------------------------------------------------------------


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


# ---- budget ----------------------------------------------------------------------------------


class BudgetRequest(BaseModel):
    actions: list[CandidateAction] = Field(
        min_length=1, max_length=300, description="What could be done this quarter"
    )
    limits: BudgetLimits


@router.get(
    "/v1/budget/recommended",
    response_model=BudgetPlan,
    summary="The quarter's plan over every action the models suggest (retention plays, leak "
    "recovery, upsells, bought hours) for a budget and hours",
    responses={409: {"description": "No churn model trained yet"}},
)
async def recommended_budget(
    state: StateDep,
    user: BudgetUser,
    audit: AuditDep,
    amount: Annotated[
        float | None,
        Query(ge=0, le=1e9, description="Money for the quarter (default 10,000)"),
    ] = None,
    hours: Annotated[
        float | None,
        Query(ge=0, le=1e6, description="Technician hours free (default a tenth of capacity)"),
    ] = None,
) -> BudgetPlan:
    plan: BudgetPlan = await asyncio.to_thread(
        serving.budget_plan,
        state.engine,
        user.tenant_id,
        state.clock.today(),
        state.data_dir,
        amount=amount,
        hours=hours,
        time_limit_s=RECOMMENDED_PLAN_SOLVE_S,
    )
    audit.data(user, rows=len(plan.chosen), fields=list(BudgetPlan.model_fields))
    return plan


@router.post(
    "/v1/budget/plan",
    response_model=BudgetPlan,
    summary="Spend a quarter's budget and hours on the actions worth most (MILP), with the "
    "binding constraints and what one more step of budget or hours is worth",
)
async def budget_plan(
    state: StateDep, user: BudgetUser, audit: AuditDep, body: BudgetRequest
) -> BudgetPlan:
    from mspilot.core.errors import UserInputError
    from mspilot.models.budget import solve_budget

    limits = body.limits.model_copy(update={"time_limit_s": min(body.limits.time_limit_s, 10.0)})
    values = [abs(x) for a in body.actions for x in (a.cost, a.hours, a.value, a.hours_supplied)]
    if any(not math.isfinite(v) or v > 1e12 for v in [*values, limits.budget, limits.hours]):
        raise UserInputError("amounts must be finite and below 10^12")
    plan: BudgetPlan = await asyncio.to_thread(solve_budget, body.actions, limits)
    audit.data(user, rows=len(plan.chosen), fields=list(BudgetPlan.model_fields))
    return plan
