"""The insights feed, live push (SSE), and publishing (the digest job posts here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mspilot.api.deps import AuditDep, InsightsPublisher, InsightsReader, PageDep, StateDep
from mspilot.api.pubsub import Insight, Severity
from mspilot.api.roles import MONEY
from mspilot.core.roles import ROLES

router = APIRouter(tags=["insights"])


class InsightPage(BaseModel):
    items: list[Insight]
    total: int
    offset: int
    limit: int


class NewInsight(BaseModel):
    kind: str = Field(max_length=60, examples=["churn_risk"])
    title: str = Field(max_length=300, examples=["Contoso's churn risk rose to 62%"])
    body: str = Field(default="", max_length=5000)
    severity: Severity = "info"
    client_id: str | None = Field(default=None, max_length=120)
    audience: list[str] = Field(default_factory=lambda: sorted(MONEY))
    data: dict[str, Any] = Field(default_factory=dict)


class Published(BaseModel):
    id: str
    delivered: int


@router.get(
    "/v1/insights", response_model=InsightPage, summary="Insights you may see, newest first"
)
async def feed(
    state: StateDep, user: InsightsReader, page: PageDep, audit: AuditDep
) -> InsightPage:
    items, total = state.hub.feed(
        user.tenant_id, user.role, user.client_id, offset=page.offset, limit=page.limit
    )
    audit.data(user, rows=len(items), fields=["insights"])
    return InsightPage(items=items, total=total, offset=page.offset, limit=page.limit)


@router.post(
    "/v1/insights",
    response_model=Published,
    status_code=201,
    summary="Publish an insight to your tenant's feed and connected clients",
)
async def publish(state: StateDep, user: InsightsPublisher, body: NewInsight) -> Published:
    from mspilot.api.errors import ApiError

    unknown = sorted(set(body.audience) - set(ROLES))
    if unknown:
        raise ApiError(422, "invalid_request", f"unknown roles in audience: {unknown}")
    insight = Insight(tenant_id=user.tenant_id, **body.model_dump())
    delivered = state.hub.publish(insight)
    state.metrics.insights_published.inc()
    return Published(id=insight.id, delivered=delivered)


@router.get(
    "/v1/insights/stream",
    summary="New insights as Server-Sent Events while connected",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(state: StateDep, user: InsightsReader) -> Any:
    async def events() -> AsyncIterator[bytes]:
        async with state.hub.subscribe(user.tenant_id, user.role, user.client_id) as inbox:
            yield b": connected\n\n"
            while True:
                try:
                    insight = await asyncio.wait_for(inbox.get(), 15)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                data = json.dumps(insight.model_dump(mode="json"))
                yield f"event: insight\ndata: {data}\n\n".encode()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
