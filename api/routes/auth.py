"""Sign-in, the caller's identity, users, API keys and the audit trail."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from mspilot.api.deps import (
    AuditDep,
    AuditReader,
    CurrentUser,
    StateDep,
    UserAdmin,
)
from mspilot.api.errors import ApiError, not_found, unauthorized
from mspilot.api.security import hash_password, issue_token, new_api_key, verify_password
from mspilot.core.roles import ROLES
from mspilot.db.audit import AuditRecord, recent_events
from mspilot.db.users import (
    UserRow,
    add_api_key,
    create_user,
    get_user,
    get_user_by_email,
    list_api_keys,
    list_users,
    resolve_client,
    revoke_api_key,
)

router = APIRouter(tags=["auth"])


class LoginRequest(BaseModel):
    tenant_id: str = Field(max_length=40, examples=["demo"])
    email: str = Field(max_length=200, examples=["owner@demo.example"])
    password: str = Field(max_length=200, examples=["change-me"])


class UserOut(BaseModel):
    id: str
    tenant_id: str
    email: str
    name: str | None = None
    role: str
    client_id: str | None = None
    active: bool = True

    @classmethod
    def of(cls, row: UserRow) -> UserOut:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            email=row.email,
            name=row.name,
            role=row.role,
            client_id=row.client_id,
            active=row.active,
        )


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_at: dt.datetime
    user: UserOut


class Me(BaseModel):
    user_id: str
    tenant_id: str
    email: str
    role: str
    client_id: str | None
    via: str


class NewUser(BaseModel):
    email: str = Field(max_length=200, examples=["tech@demo.example"])
    role: str = Field(examples=["technician"], description=f"One of {', '.join(ROLES)}")
    name: str | None = Field(default=None, max_length=200)
    client: str | None = Field(
        default=None, max_length=200, description="client_user only: client id, external id or name"
    )
    password: str | None = Field(default=None, min_length=8, max_length=200)


class NewApiKey(BaseModel):
    name: str = Field(max_length=100, examples=["digest job"])
    user_id: str | None = Field(
        default=None, max_length=40, description="Service account (default: yourself)"
    )


class ApiKeyOut(BaseModel):
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None


class CreatedApiKey(ApiKeyOut):
    key: str = Field(description="Shown once; store it now")


@router.post(
    "/v1/auth/token",
    response_model=TokenOut,
    summary="Sign in with email and password; returns a bearer token",
    responses={401: {"description": "Wrong tenant, email or password"}},
)
async def login(
    request: Request, state: StateDep, body: Annotated[LoginRequest, Body()]
) -> TokenOut:
    verdict = await state.limiter.hit(f"login:{body.tenant_id}:{body.email.lower()}", 10, "login")
    if not verdict.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many sign-in attempts; retry in {verdict.retry_after} s",
            headers={"Retry-After": str(verdict.retry_after)},
            extra={"retry_after": verdict.retry_after, "scope": "login"},
        )
    user = await asyncio.to_thread(get_user_by_email, state.engine, body.tenant_id, body.email)
    ok = (
        user is not None
        and user.active
        and await asyncio.to_thread(verify_password, body.password, user.password_hash)
    )
    if not ok or user is None:
        raise unauthorized("invalid_credentials", "wrong tenant, email or password")
    token, expires = issue_token(
        state.signing_key,
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        client_id=user.client_id,
        ttl=dt.timedelta(minutes=state.settings.api.jwt_ttl_minutes),
    )
    state.audit.submit(
        AuditRecord(
            tenant_id=user.tenant_id,
            user_id=user.id,
            role=user.role,
            client_id=user.client_id,
            request_id=request.scope.get("state", {}).get("request_id"),
            action="auth",
            resource="POST /v1/auth/token",
            status=200,
        )
    )
    return TokenOut(access_token=token, expires_at=expires, user=UserOut.of(user))


@router.get("/v1/auth/me", response_model=Me, summary="Who the credentials belong to")
async def me(user: CurrentUser) -> Me:
    return Me(
        user_id=user.user_id,
        tenant_id=user.tenant_id,
        email=user.email,
        role=user.role,
        client_id=user.client_id,
        via=user.via,
    )


@router.get("/v1/users", response_model=list[UserOut], summary="Users of your tenant (owner)")
async def users(state: StateDep, user: UserAdmin) -> list[UserOut]:
    rows = await asyncio.to_thread(list_users, state.engine, user.tenant_id)
    return [UserOut.of(r) for r in rows]


@router.post(
    "/v1/users", response_model=UserOut, status_code=201, summary="Add a user to your tenant"
)
async def add_user(state: StateDep, user: UserAdmin, body: NewUser) -> UserOut:
    def create() -> UserRow:
        client_id = (
            resolve_client(state.engine, user.tenant_id, body.client) if body.client else None
        )
        return create_user(
            state.engine,
            user.tenant_id,
            body.email,
            body.role,
            name=body.name,
            client_id=client_id,
            password_hash=hash_password(body.password) if body.password else None,
        )

    return UserOut.of(await asyncio.to_thread(create))


@router.get("/v1/api-keys", response_model=list[ApiKeyOut], summary="API keys of your tenant")
async def api_keys(state: StateDep, user: UserAdmin) -> list[ApiKeyOut]:
    def collect() -> list[ApiKeyOut]:
        out = []
        for u in list_users(state.engine, user.tenant_id):
            out += [ApiKeyOut(**k.__dict__) for k in list_api_keys(state.engine, u.id)]
        return out

    return await asyncio.to_thread(collect)


def _own_user(state: Any, tenant_id: str, user_id: str) -> UserRow:
    row = get_user(state.engine, user_id)
    if row is None or row.tenant_id != tenant_id:
        raise not_found(f"no user {user_id!r} in your tenant")
    return row


@router.post(
    "/v1/api-keys",
    response_model=CreatedApiKey,
    status_code=201,
    summary="Create an API key for a service account (the key is shown once)",
)
async def create_api_key(state: StateDep, user: UserAdmin, body: NewApiKey) -> CreatedApiKey:
    def create() -> CreatedApiKey:
        owner = _own_user(state, user.tenant_id, body.user_id or user.user_id)
        key, prefix, digest = new_api_key()
        row = add_api_key(state.engine, owner.id, body.name, prefix, digest)
        return CreatedApiKey(**row.__dict__, key=key)

    return await asyncio.to_thread(create)


@router.delete("/v1/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
async def delete_api_key(
    state: StateDep,
    user: UserAdmin,
    key_id: Annotated[str, Path(max_length=40)],
) -> None:
    def revoke() -> bool:
        return any(
            revoke_api_key(state.engine, key_id, u.id)
            for u in list_users(state.engine, user.tenant_id)
        )

    if not await asyncio.to_thread(revoke):
        raise not_found(f"no active API key {key_id!r} in your tenant")
    state.users.clear()


class AuditEventOut(BaseModel):
    id: int
    at: dt.datetime
    user_id: str | None
    role: str
    client_id: str | None
    request_id: str | None
    action: str
    resource: str
    question: str | None
    tools: list[dict[str, Any]]
    rows_out: int
    fields_out: list[str]
    status: int


@router.get(
    "/v1/audit",
    response_model=list[AuditEventOut],
    summary="The audit trail: who asked what, which tools ran, what data left (owner)",
)
async def audit_trail(
    state: StateDep,
    user: AuditReader,
    auditor: AuditDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEventOut]:
    await asyncio.to_thread(state.audit.flush)
    rows = await asyncio.to_thread(recent_events, state.engine, user.tenant_id, limit)
    auditor.data(user, rows=len(rows), fields=["audit_events"])
    return [AuditEventOut(**{k: v for k, v in r.items() if k != "tenant_id"}) for r in rows]
