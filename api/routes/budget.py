"""``/v1/budget``: the quarter's recommended plan and plans over given actions (MILP)."""

from __future__ import annotations

import asyncio
import math
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mspilot.api.deps import (
    AuditDep,
    BudgetUser,
    StateDep,
)
from mspilot.models import serving
from mspilot.models.budget import BudgetLimits, BudgetPlan, CandidateAction

router = APIRouter(tags=["analytics"])

#: Seconds each solve of a recommended plan may take (a plan and two marginal re-solves):
#: a request answers within seconds, with status ``time_limit`` if the solver was cut short.
RECOMMENDED_PLAN_SOLVE_S = 2.0


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
