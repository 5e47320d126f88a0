"""``/v1/leaks``: revenue leaks found by reconciliation, largest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from mspilot.api.deps import (
    AuditDep,
    LeaksUser,
    PageDep,
    StateDep,
)
from mspilot.models import serving
from mspilot.models.serving import Leak

router = APIRouter(tags=["analytics"])


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
