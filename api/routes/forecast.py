"""``/v1/forecast``: weekly tickets and hours ahead and the technicians needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from mspilot.api.deps import (
    AuditDep,
    ForecastUser,
    StateDep,
)
from mspilot.api.predictions import PREDICTION_TTL_S, champion_version
from mspilot.models import serving
from mspilot.models.serving import Forecast, ForecastWeek

router = APIRouter(tags=["analytics"])


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
    version = await champion_version(state, user.tenant_id, "forecast")
    result: Forecast = await state.acached(
        ("forecast", user.tenant_id, version, client_id),
        PREDICTION_TTL_S,
        lambda: serving.demand_forecast(
            state.data_dir, user.tenant_id, client_id=client_id, version=version
        ),
    )
    audit.data(user, rows=len(result.weeks), fields=list(ForecastWeek.model_fields))
    return result
