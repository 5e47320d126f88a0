"""Dependencies every route uses, as ``Annotated`` aliases (FastAPI template style).

They are ``async`` on purpose: FastAPI runs a plain ``def`` dependency in a worker thread,
and a thread hop per dependency per request costs more than everything else here.

- ``StateDep``: the app's :class:`~mspilot.api.state.AppState`.
- ``CurrentUser``: the caller, from a bearer JWT or an API key (``X-API-Key`` or a bearer
  ``msp_...`` key); 401 with a clear body when missing, malformed, expired or unknown.
- ``allow(capability)``: the caller if their role may use it (403 otherwise), after the
  per-user and per-tenant rate limits (429 with ``Retry-After``).
- ``PageDep``: ``offset`` / ``limit`` bounded by the configured page size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from mspilot.api.errors import ApiError, forbidden, unauthorized
from mspilot.api.roles import allowed, roles_for
from mspilot.api.security import TokenError, hash_api_key, looks_like_api_key
from mspilot.api.state import AppState
from mspilot.db.audit import AuditRecord


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.mspilot
    return state


StateDep = Annotated[AppState, Depends(get_state)]

bearer_scheme = HTTPBearer(auto_error=False, description="JWT from /v1/auth/token, or an API key")
api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="Service API key")


@dataclass(frozen=True)
class Principal:
    """Who is calling: always from the credentials, never from the request body."""

    user_id: str
    tenant_id: str
    role: str
    client_id: str | None
    email: str
    via: Literal["jwt", "api_key"]


def authenticate(state: AppState, credential: str | None, tenant_header: str | None) -> Principal:
    """The principal behind a bearer token or API key (shared by HTTP and WebSocket)."""
    if not credential:
        raise unauthorized(
            "missing_credentials",
            "authentication required: send 'Authorization: Bearer <token>' or 'X-API-Key'",
        )
    via: Literal["jwt", "api_key"]
    if looks_like_api_key(credential):
        user = state.users.user_for_key(hash_api_key(credential))
        if user is None:
            raise unauthorized("invalid_api_key", "the API key is unknown or revoked")
        via = "api_key"
    else:
        try:
            claims = state.tokens.claims(credential)
        except TokenError as exc:
            raise unauthorized(exc.code, exc.message) from None
        user = state.users.user(claims.user_id)
        if user is None:
            raise unauthorized("unknown_user", "the token's user no longer exists")
        if user.tenant_id != claims.tenant_id:
            raise unauthorized("tenant_mismatch", "the token was not issued for this user's tenant")
        via = "jwt"
    if not user.active:
        raise unauthorized("user_disabled", "this user is disabled")
    if tenant_header and tenant_header != user.tenant_id:
        raise forbidden(
            "wrong_tenant",
            f"these credentials belong to tenant {user.tenant_id!r}, not {tenant_header!r}",
        )
    return Principal(user.id, user.tenant_id, user.role, user.client_id, user.email, via)


async def get_principal(
    request: Request,
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    credential = api_key or (bearer.credentials if bearer else None)
    principal = authenticate(state, credential, request.headers.get("x-mspilot-tenant"))
    scope_state = request.scope.setdefault("state", {})
    scope_state["user_id"] = principal.user_id
    scope_state["tenant_id"] = principal.tenant_id
    scope_state["role"] = principal.role
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


async def enforce_rate_limits(state: AppState, user: Principal, chat: bool = False) -> None:
    api = state.settings.api
    checks = [
        (f"user:{user.user_id}", api.user_requests_per_minute, "user"),
        (f"tenant:{user.tenant_id}", api.tenant_requests_per_minute, "tenant"),
    ]
    if chat:
        checks.append((f"chat:{user.user_id}", api.user_chats_per_minute, "chat"))
    for key, limit, scope in checks:
        verdict = await state.limiter.hit(key, limit, scope)
        if not verdict.allowed:
            state.metrics.rate_limited.labels(scope).inc()
            what = {"user": "requests", "tenant": "requests for your organisation", "chat": "chat"}
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit reached: {limit} {what[scope]} per minute; "
                f"retry in {verdict.retry_after} s",
                headers={"Retry-After": str(verdict.retry_after)},
                extra={"retry_after": verdict.retry_after, "scope": scope},
            )


def allow(capability: str) -> Any:
    """A dependency: the caller, if their role may use ``capability`` (and within limits)."""

    async def dependency(state: StateDep, user: CurrentUser) -> Principal:
        if not allowed(user.role, capability):
            raise forbidden(
                "role_forbidden",
                f"role {user.role!r} may not use {capability}; "
                f"allowed roles: {', '.join(roles_for(capability))}",
            )
        await enforce_rate_limits(state, user, chat=capability == "chat")
        return user

    return Depends(dependency)


ChatUser = Annotated[Principal, allow("chat")]
ThreadUser = Annotated[Principal, allow("threads")]
ClientsUser = Annotated[Principal, allow("clients.list")]
ProfileUser = Annotated[Principal, allow("clients.profile")]
ChurnUser = Annotated[Principal, allow("churn")]
MarginsUser = Annotated[Principal, allow("margins")]
LeaksUser = Annotated[Principal, allow("leaks")]
ForecastUser = Annotated[Principal, allow("forecast")]
PricingUser = Annotated[Principal, allow("pricing")]
BudgetUser = Annotated[Principal, allow("budget")]
InsightsReader = Annotated[Principal, allow("insights.read")]
InsightsPublisher = Annotated[Principal, allow("insights.publish")]
UserAdmin = Annotated[Principal, allow("users.manage")]
AuditReader = Annotated[Principal, allow("audit.read")]


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int


async def get_page(
    state: StateDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows to return")] = 50,
) -> Page:
    return Page(offset, min(limit, state.settings.api.max_page_size))


PageDep = Annotated[Page, Depends(get_page)]


def tool_context(state: AppState, user: Principal) -> Any:
    """The agent tools' scope, built from the authenticated user only."""
    return state.tool_context(user.tenant_id, user.role, user.client_id)


#: scope-state key under which the response cache collects a request's audit records
AUDIT_CAPTURE = "audit_capture"


class Auditor:
    """Records what data a request returned (written in the background)."""

    def __init__(self, request: Request, state: AppState) -> None:
        self.request = request
        self.state = state

    def data(
        self,
        user: Principal,
        *,
        rows: int,
        fields: list[str] | tuple[str, ...] = (),
        action: str = "data",
        question: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        status: int = 200,
    ) -> None:
        record = AuditRecord(
            tenant_id=user.tenant_id,
            user_id=user.user_id,
            role=user.role,
            client_id=user.client_id,
            request_id=self.request.scope.get("state", {}).get("request_id"),
            action=action,
            resource=f"{self.request.method} {self.request.url.path}",
            question=question,
            tools=tools or [],
            rows_out=rows,
            fields_out=list(fields),
            status=status,
        )
        self.state.audit.submit(record)
        capture = self.request.scope.get("state", {}).get(AUDIT_CAPTURE)
        if capture is not None:  # the response cache replays it on later hits
            capture.append(record)


async def get_auditor(request: Request, state: StateDep) -> Auditor:
    return Auditor(request, state)


AuditDep = Annotated[Auditor, Depends(get_auditor)]
