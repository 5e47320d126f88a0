"""``/v1/churn``: clients ranked by 90-day churn risk, with the reasons (``models.serving``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mspilot.api.deps import (
    AuditDep,
    ChurnUser,
    PageDep,
    StateDep,
)
from mspilot.api.predictions import PREDICTION_TTL_S, champion_version
from mspilot.models import serving
from mspilot.models.serving import ChurnRisk

router = APIRouter(tags=["analytics"])


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
    version = await champion_version(state, user.tenant_id, "churn")
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
