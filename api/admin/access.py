"""Who is signed in to the console, what they may open, CSRF, and the audit of their actions.

Every page names the roles that may open it (``PAGES``); a signed-in user of any other role gets
403 (and the refusal is audited), a visitor without a session is sent to the sign-in page. The
role is read from the user row on every request (``UserCache``), never from the session, so a
changed role or a disabled user takes effect at once. Every POST carries the session's CSRF
token in a form field, compared in constant time before anything else happens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from mspilot.api.admin.sessions import COOKIE, AdminSession, SessionStore
from mspilot.api.deps import StateDep
from mspilot.api.roles import FINANCE, OWNER
from mspilot.api.state import AppState
from mspilot.db.audit import AuditRecord
from mspilot.db.users import UserRow

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

#: page → roles that may open it (owner everything; finance the money settings)
PAGES: Final[dict[str, frozenset[str]]] = {
    "overview": frozenset({OWNER, FINANCE}),
    "models": frozenset({OWNER}),
}


class Redirect(Exception):
    """Not signed in: go to the sign-in page."""

    def __init__(self, to: str) -> None:
        super().__init__(to)
        self.to = to


class Refused(Exception):
    """Signed in, but this page is not for this role, or the CSRF token is wrong."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Admin:
    """The signed-in console user (role as the database says now)."""

    user_id: str
    tenant_id: str
    role: str
    email: str
    session: AdminSession

    @property
    def id(self) -> str:
        return self.user_id


def store(request: Request) -> SessionStore:
    """The app's console sessions (created with the first request that needs them)."""
    found: SessionStore | None = getattr(request.app.state, "admin_sessions", None)
    if found is None:
        found = SessionStore()
        request.app.state.admin_sessions = found
    return found


def current_session(request: Request) -> AdminSession | None:
    return store(request).get(request.cookies.get(COOKIE))


def set_cookie(request: Request, response: Response, session: AdminSession) -> None:
    response.set_cookie(
        COOKIE,
        session.sid,
        max_age=store(request).ttl_s,
        path="/admin",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def audit(
    state: AppState,
    request: Request,
    who: Admin | UserRow,
    action: str,
    status: int,
    detail: dict[str, object] | None = None,
) -> None:
    """One audit row for what ``who`` did in the console (``detail`` lands in ``tools``)."""
    state.audit.submit(
        AuditRecord(
            tenant_id=who.tenant_id,
            user_id=who.id,
            role=who.role,
            action=action,
            resource=f"{request.method} {request.url.path}",
            status=status,
            request_id=request.scope.get("state", {}).get("request_id"),
            tools=[{"admin": action, **(detail or {})}],
        )
    )


def signed_in(request: Request, state: AppState) -> Admin:
    session = current_session(request)
    user = state.users.user(session.user_id) if session and session.user_id else None
    if session is None or user is None or not user.active:
        raise Redirect("/admin/login")
    return Admin(user.id, user.tenant_id, user.role, user.email, session)


async def check_csrf(request: Request, session: AdminSession) -> None:
    form = await request.form()
    sent = form.get("csrf")
    # bytes: compare_digest refuses non-ASCII text (a 500 where a 403 is due)
    if not isinstance(sent, str) or not secrets.compare_digest(
        sent.encode(), session.csrf.encode()
    ):
        raise Refused(403, "The form has expired or did not come from this console; reload it.")


def page(name: str) -> object:
    """A dependency: the signed-in user if their role may open ``name`` (POSTs: and the CSRF
    token matches)."""
    roles = PAGES[name]

    async def dependency(request: Request, state: StateDep) -> Admin:
        admin = signed_in(request, state)
        if admin.role not in roles:
            audit(state, request, admin, "admin.refused", 403, {"page": name})
            raise Refused(403, f"The {name} page is not available to the {admin.role} role.")
        if request.method == "POST":
            await check_csrf(request, admin.session)
        return admin

    return Depends(dependency)


OverviewUser = Annotated[Admin, page("overview")]
ModelsUser = Annotated[Admin, page("models")]
