"""The console's pages: sign-in and sign-out, the overview, the models (promote, roll back).

Forms post back with the session's CSRF token; a state-changing action first shows a
confirmation page (a GET that changes nothing), and only its POST acts. Every POST that acts is
written to the audit trail, with the outcome.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mspilot.api.admin.access import (
    PAGES,
    Admin,
    ModelsUser,
    OverviewUser,
    Refused,
    audit,
    check_csrf,
    current_session,
    set_cookie,
    store,
    templates,
)
from mspilot.api.admin.overview import model_slots, source_freshness, top_insights
from mspilot.api.deps import StateDep
from mspilot.api.security import hash_password, verify_password
from mspilot.core.errors import UserInputError
from mspilot.db.users import get_user_by_email
from mspilot.models.registry import KINDS, Registry

router = APIRouter(prefix="/admin", include_in_schema=False)
#: sign-in attempts per minute, per account and per remote address
LOGIN_PER_ACCOUNT = 10
LOGIN_PER_ADDRESS = 30
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))
Kind = Annotated[str, Path(pattern="^[a-z_]{1,20}$")]


def _render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> Response:
    session = current_session(request) or store(request).new()
    response = _render(request, "login.html", csrf=session.csrf, error=None)
    set_cookie(request, response, session)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    state: StateDep,
    tenant: Annotated[str, Form(max_length=40)],
    email: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=200)],
) -> Response:
    session = current_session(request)
    if session is None:  # no form was served to this browser: serve one
        return RedirectResponse("/admin/login", status_code=303)
    await check_csrf(request, session)
    address = request.client.host if request.client else "unknown"
    for key, limit in (
        (f"admin-login:{tenant}:{email.strip().lower()}", LOGIN_PER_ACCOUNT),
        (f"admin-login-addr:{address}", LOGIN_PER_ADDRESS),
    ):
        verdict = await state.limiter.hit(key, limit, "login")
        if not verdict.allowed:
            response = _render(
                request,
                "login.html",
                429,
                csrf=session.csrf,
                error=f"Too many sign-in attempts; try again in {verdict.retry_after} s.",
            )
            response.headers["Retry-After"] = str(verdict.retry_after)
            return response
    user = await asyncio.to_thread(get_user_by_email, state.engine, tenant, email)
    # an unknown account costs the same hash as a known one (no account discovery by timing)
    stored = user.password_hash if user is not None else _DECOY_HASH
    ok = await asyncio.to_thread(verify_password, password, stored)
    ok = ok and user is not None and user.active
    if user is None or not ok:
        if user is not None:  # a known account: its owner should see the failed attempt
            audit(state, request, user, "admin.sign_in", 401)
        return _render(
            request,
            "login.html",
            401,
            csrf=session.csrf,
            error="Wrong organisation, e-mail or password.",
        )
    fresh = store(request).sign_in(session, user.id)  # new id: no session fixation
    audit(state, request, user, "admin.sign_in", 200)
    target = "/admin" if user.role in PAGES["overview"] else "/admin/models"
    response = RedirectResponse(target, status_code=303)
    set_cookie(request, response, fresh)
    return response


@router.post("/logout")
async def logout(request: Request, state: StateDep) -> Response:
    session = current_session(request)
    if session is not None:
        await check_csrf(request, session)
        user = state.users.user(session.user_id) if session.user_id else None
        if user is not None:
            audit(state, request, user, "admin.sign_out", 200)
        store(request).drop(session)
    response = RedirectResponse("/admin/login", status_code=303)
    response.delete_cookie("mspilot_admin", path="/admin")
    return response


@router.get("", response_class=HTMLResponse)
async def overview(request: Request, state: StateDep, admin: OverviewUser) -> Response:
    now = dt.datetime.now(dt.UTC)
    registry = Registry(state.data_dir, admin.tenant_id, mlflow=False)
    sources, slots, insights = await asyncio.gather(
        asyncio.to_thread(source_freshness, state.engine, admin.tenant_id),
        asyncio.to_thread(model_slots, registry),
        asyncio.to_thread(top_insights, state.engine, admin.tenant_id, admin.role, now),
    )
    return _render(
        request,
        "overview.html",
        admin=admin,
        nav="overview",
        sources=sources,
        slots=slots,
        insights=insights,
        pages=PAGES,
    )


@router.get("/models", response_class=HTMLResponse)
async def models(
    request: Request,
    state: StateDep,
    admin: ModelsUser,
    changed: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    registry = Registry(state.data_dir, admin.tenant_id, mlflow=False)
    slots = await asyncio.to_thread(model_slots, registry)
    done = next((s for s in slots if s.kind == changed and s.champion), None)
    return _render(
        request, "models.html", admin=admin, nav="models", slots=slots, done=done, pages=PAGES
    )


def _known(kind: str) -> str:
    if kind not in KINDS:
        raise Refused(404, f"There is no {kind!r} model.")
    return kind


def _confirm(
    request: Request, admin: Admin, kind: str, verb: str, body: str, fields: dict[str, str]
) -> Response:
    """The confirmation page of a model change: a form that posts back to the same path."""
    version = f" v{fields['version']}" if "version" in fields else ""
    return _render(
        request,
        "confirm.html",
        admin=admin,
        nav="models",
        pages=PAGES,
        title=f"{verb} {_known(kind)}{version}?",
        body=body,
        action=request.url.path,
        fields=fields,
        button=verb,
    )


@router.get("/models/{kind}/promote", response_class=HTMLResponse)
async def confirm_promote(
    request: Request,
    admin: ModelsUser,
    kind: Kind,
    version: Annotated[int, Query(ge=1)],
) -> Response:
    body = (
        f"v{version} will serve every {kind} prediction from now on, without a metric check. "
        "You can roll back afterwards."
    )
    return _confirm(request, admin, kind, "Promote", body, {"version": str(version)})


@router.get("/models/{kind}/rollback", response_class=HTMLResponse)
async def confirm_rollback(request: Request, admin: ModelsUser, kind: Kind) -> Response:
    body = f"The previous {kind} champion will serve predictions again; the current one retires."
    return _confirm(request, admin, kind, "Roll back", body, {})


async def _change(
    request: Request, state: StateDep, admin: Admin, kind: str, version: int | None
) -> Response:
    """Promote ``version`` (or roll back when None), audit it, and show the models page."""
    registry = Registry(state.data_dir, admin.tenant_id)
    action = "admin.models.promote" if version is not None else "admin.models.rollback"
    try:
        if version is not None:
            champ = await asyncio.to_thread(registry.promote, _known(kind), version)
        else:
            champ = await asyncio.to_thread(registry.rollback, _known(kind))
    except UserInputError as exc:
        audit(
            state,
            request,
            admin,
            action,
            409,
            {"kind": kind, "version": version, "error": str(exc)},
        )
        raise Refused(409, str(exc)) from None
    state.models.setdefault(admin.tenant_id, {})[kind] = f"v{champ.version}"
    audit(state, request, admin, action, 200, {"kind": kind, "version": champ.version})
    return RedirectResponse(f"/admin/models?changed={kind}", status_code=303)


@router.post("/models/{kind}/promote")
async def promote(
    request: Request,
    state: StateDep,
    admin: ModelsUser,
    kind: Kind,
    version: Annotated[int, Form(ge=1)],
) -> Response:
    return await _change(request, state, admin, kind, version)


@router.post("/models/{kind}/rollback")
async def rollback(request: Request, state: StateDep, admin: ModelsUser, kind: Kind) -> Response:
    return await _change(request, state, admin, kind, None)
