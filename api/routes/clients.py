"""Client list and client profile, redacted by role."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mspilot.api.deps import AuditDep, ClientsUser, PageDep, ProfileUser, StateDep
from mspilot.api.errors import forbidden, not_found
from mspilot.api.queries import client_profile, list_clients
from mspilot.api.roles import CLIENT_USER, redact

router = APIRouter(tags=["clients"])


class ClientRow(BaseModel):
    id: str
    name: str
    industry: str
    seats: int
    status: str
    onboarded_on: dt.date | None = None
    churned_on: dt.date | None = None


class ClientPage(BaseModel):
    items: list[ClientRow]
    total: int
    offset: int
    limit: int


class ClientProfile(ClientRow):
    """A client at a glance. Fields a role may not see are absent."""

    as_of: dt.date
    tickets_90d: int
    open_tickets: int
    p1_tickets_90d: int
    sla_breach_rate_90d: float | None = None
    csat_90d: float | None = None
    assets: int
    managed_assets: int
    invoices: dict[str, int] | None = None
    balance_due: float | None = None
    mrr: float | None = Field(default=None, description="Active contracts' monthly value")
    revenue_12m: float | None = None
    labour_cost_12m: float | None = None
    licence_cost_12m: float | None = None
    margin_12m: float | None = None
    margin_pct_12m: float | None = None
    effective_rate_12m: float | None = None
    unbilled_hours: float | None = None
    contracts: list[dict[str, Any]] | None = None
    technicians: list[dict[str, Any]] | None = None


@router.get(
    "/v1/clients",
    response_model=ClientPage,
    summary="Clients (a client user sees only their own)",
)
async def clients(
    state: StateDep,
    user: ClientsUser,
    page: PageDep,
    audit: AuditDep,
    status: Annotated[str | None, Query(max_length=20, examples=["active"])] = None,
    q: Annotated[str | None, Query(max_length=100, description="Name contains")] = None,
) -> ClientPage:
    scope = user.client_id if user.role == CLIENT_USER else None
    rows, total = await asyncio.to_thread(
        list_clients,
        state.engine,
        user.tenant_id,
        client_id=scope,
        status=status,
        q=q,
        offset=page.offset,
        limit=page.limit,
    )
    audit.data(user, rows=len(rows), fields=list(ClientRow.model_fields))
    return ClientPage(
        items=[ClientRow(**r) for r in rows], total=total, offset=page.offset, limit=page.limit
    )


@router.get(
    "/v1/clients/{client_id}",
    response_model=ClientProfile,
    response_model_exclude_unset=True,
    summary="One client's profile; money and internal analytics only for the roles allowed",
    responses={403: {"description": "Another client's data"}, 404: {"description": "Unknown"}},
)
async def profile(
    state: StateDep,
    user: ProfileUser,
    audit: AuditDep,
    client_id: Annotated[str, Path(max_length=120)],
) -> ClientProfile:
    if user.role == CLIENT_USER and client_id != user.client_id:
        raise forbidden("other_client", "client users may only see their own client")
    today = state.clock.today()
    found = await state.acached(
        ("profile", user.tenant_id, client_id, today),
        30.0,
        lambda: client_profile(state.engine, user.tenant_id, client_id, today),
    )
    if found is None:
        raise not_found(f"no client {client_id!r} in your tenant")
    visible = redact(user.role, found)
    audit.data(user, rows=1, fields=sorted(visible))
    return ClientProfile(**visible)
