"""The admin console over HTTP: sign-in (session rotated, rate-limited), CSRF on every form,
roles refused on every admin route, promote and roll back with a confirmation, the audit."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mspilot.api import ratelimit
from mspilot.db.audit import recent_events
from mspilot.db.schema import SYNCED_TABLES
from mspilot.models.registry import Registry
from support.admin_console import (
    INSIGHT_TITLE,
    PASSWORD,
    Console,
    build_console,
    console_app,
    csrf_of,
)
from support.api_world import World

COOKIE = "mspilot_admin"
PUBLIC = {"/admin/login", "/admin/logout"}


@pytest.fixture(scope="module")
def console(world: World, tmp_path_factory: pytest.TempPathFactory) -> Console:
    return build_console(world, tmp_path_factory.mktemp("console"))


@pytest.fixture(scope="module")
def app(console: Console) -> Any:
    return console_app(console)


@pytest.fixture()
def tc(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def sign_in(tc: TestClient, console: Console, role: str, password: str = PASSWORD) -> Any:
    form = tc.get("/admin/login")
    assert form.status_code == 200
    return tc.post(
        "/admin/login",
        data={
            "tenant": console.world.tenant_id,
            "email": console.users[role].email,
            "password": password,
            "csrf": csrf_of(form.text),
        },
        follow_redirects=False,
    )


def admin_routes(app: Any) -> list[tuple[str, str]]:
    """Every (method, path) of the console but sign-in and sign-out, path parameters filled."""
    out = []
    for route in iter_route_contexts(app.routes):  # FastAPI includes routers lazily
        path = getattr(route, "path", "")
        if not path.startswith("/admin") or path in PUBLIC:
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            out.append((method, path.replace("{kind}", "churn")))
    return out


def call(tc: TestClient, method: str, path: str, csrf: str) -> Any:
    if method == "GET":
        return tc.get(path, params={"version": 1}, follow_redirects=False)
    return tc.post(path, data={"csrf": csrf, "version": "1"}, follow_redirects=False)


def audit_rows(app: Any, console: Console) -> list[dict[str, Any]]:
    app.state.mspilot.audit.flush()
    return recent_events(console.world.engine, console.world.tenant_id, 1000)


def redirected_with(tc: TestClient, sid: str) -> bool:
    """Whether ``/admin`` with only session ``sid`` sends the browser to sign in."""
    tc.cookies.clear()
    response = tc.get("/admin", headers={"cookie": f"{COOKIE}={sid}"}, follow_redirects=False)
    return response.status_code == 303 and response.headers["location"] == "/admin/login"


def champion(console: Console) -> int:
    champ = Registry(console.data_dir, console.world.tenant_id, mlflow=False).champion("churn")
    assert champ is not None
    return champ.version


def test_routes_are_enumerated(app: Any) -> None:
    routes = admin_routes(app)
    assert ("GET", "/admin") in routes
    assert ("POST", "/admin/models/churn/promote") in routes
    assert len(routes) >= 6


def test_sign_in_rotates_the_session_and_shows_the_overview(
    tc: TestClient, app: Any, console: Console
) -> None:
    tc.get("/admin/login")
    before = tc.cookies.get(COOKIE)
    assert before
    signed = sign_in(tc, console, "owner")
    assert signed.status_code == 303 and signed.headers["location"] == "/admin"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    after = tc.cookies.get(COOKIE)
    assert after and after != before  # no session fixation

    page = tc.get("/admin")
    assert page.status_code == 200
    assert INSIGHT_TITLE in page.text
    assert "v1" in page.text and "auc 0.81" in page.text
    with console.world.engine.connect() as conn:
        held = sum(
            int(
                conn.scalar(
                    select(func.count()).where(
                        m.__table__.c.tenant_id == console.world.tenant_id,  # type: ignore[attr-defined]
                        m.__table__.c.source == "demo",  # type: ignore[attr-defined]
                        m.__table__.c.deleted_at.is_(None),  # type: ignore[attr-defined]
                    )
                )
                or 0
            )
            for m in SYNCED_TABLES
        )
    assert held > 0
    assert f"{held:,}" in page.text

    assert redirected_with(tc, before)  # the pre-sign-in id is dead
    events = [e for e in audit_rows(app, console) if e["action"] == "admin.sign_in"]
    assert any(e["user_id"] == console.users["owner"].id and e["status"] == 200 for e in events)


def test_secure_cookie_over_https(app: Any, console: Console) -> None:
    with TestClient(app, base_url="https://testserver") as secure:
        assert "Secure" in sign_in(secure, console, "owner").headers["set-cookie"]


def test_wrong_password_is_refused_and_audited(tc: TestClient, app: Any, console: Console) -> None:
    refused = sign_in(tc, console, "finance", password="not the password")
    assert refused.status_code == 401
    assert "Wrong organisation" in refused.text
    assert tc.get("/admin", follow_redirects=False).status_code == 303
    rows = audit_rows(app, console)
    assert any(
        e["action"] == "admin.sign_in"
        and e["status"] == 401
        and e["user_id"] == console.users["finance"].id
        for e in rows
    )


def test_csrf_is_refused_without_and_with_a_wrong_token(tc: TestClient, console: Console) -> None:
    form = tc.get("/admin/login")
    no_token = {"tenant": console.world.tenant_id, "email": console.users["owner"].email}
    assert tc.post("/admin/login", data={**no_token, "password": PASSWORD}).status_code == 403
    assert sign_in(tc, console, "owner").status_code == 303
    before = champion(console)
    for data in ({"version": "2"}, {"version": "2", "csrf": csrf_of(form.text)}):
        refused = tc.post("/admin/models/churn/promote", data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert "did not come from this console" in refused.text
    assert champion(console) == before
    assert tc.post("/admin/logout", data={"csrf": "x"}).status_code == 403
    assert tc.get("/admin").status_code == 200  # still signed in


@pytest.mark.parametrize("role", ["technician", "client_user", "service_manager"])
def test_other_roles_are_refused_on_every_admin_route(
    tc: TestClient, app: Any, console: Console, role: str
) -> None:
    assert sign_in(tc, console, role).status_code == 303
    csrf = csrf_of(tc.get("/admin/login").text)  # a valid token: the role is what is refused
    before = champion(console)
    for method, path in admin_routes(app):
        response = call(tc, method, path, csrf)
        assert response.status_code == 403, (role, method, path)
    assert champion(console) == before
    refused = [
        e
        for e in audit_rows(app, console)
        if e["action"] == "admin.refused" and e["user_id"] == console.users[role].id
    ]
    assert len(refused) >= len(admin_routes(app))


def test_finance_sees_the_overview_not_the_models(tc: TestClient, console: Console) -> None:
    assert sign_in(tc, console, "finance").status_code == 303
    assert tc.get("/admin").status_code == 200
    assert tc.get("/admin/models").status_code == 403


def test_visitors_are_sent_to_sign_in(tc: TestClient, app: Any) -> None:
    for method, path in admin_routes(app):
        response = call(tc, method, path, "x")
        assert response.status_code == 303, (method, path)
        assert response.headers["location"] == "/admin/login"


def test_promote_and_roll_back_after_confirmation_are_audited(
    tc: TestClient, app: Any, console: Console
) -> None:
    assert sign_in(tc, console, "owner").status_code == 303
    models = tc.get("/admin/models")
    assert "challenger" in models.text and "auc 0.74" in models.text
    start = champion(console)
    other = 2 if start == 1 else 1
    confirm = tc.get("/admin/models/churn/promote", params={"version": other})
    assert confirm.status_code == 200 and f"Promote churn v{other}?" in confirm.text
    assert champion(console) == start  # the confirmation page changes nothing
    done = tc.post(
        "/admin/models/churn/promote", data={"version": str(other), "csrf": csrf_of(confirm.text)}
    )
    assert done.status_code == 200
    assert f"churn v{other} is now the champion" in done.text
    assert champion(console) == other
    confirm = tc.get("/admin/models/churn/rollback")
    back = tc.post("/admin/models/churn/rollback", data={"csrf": csrf_of(confirm.text)})
    assert back.status_code == 200 and champion(console) == start
    missing = tc.post(
        "/admin/models/churn/promote", data={"version": "99", "csrf": csrf_of(confirm.text)}
    )
    assert missing.status_code == 409 and "no churn model version 99" in missing.text
    rows = [
        (e["action"], e["status"])
        for e in audit_rows(app, console)
        if e["user_id"] == console.users["owner"].id and e["action"].startswith("admin.models")
    ]
    assert ("admin.models.promote", 200) in rows
    assert ("admin.models.rollback", 200) in rows
    assert ("admin.models.promote", 409) in rows


def test_sign_out_ends_the_session(tc: TestClient, console: Console) -> None:
    assert sign_in(tc, console, "owner").status_code == 303
    page = tc.get("/admin")
    signed_in_as = tc.cookies.get(COOKIE)
    out = tc.post("/admin/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert signed_in_as and redirected_with(tc, signed_in_as)


def test_sign_in_is_rate_limited(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    # the limiter counts in fixed one-minute windows: hold its clock inside one window, or the
    # eleven attempts can straddle a minute boundary and the counter starts again
    window_start = int(time.time()) // ratelimit.WINDOW_S * ratelimit.WINDOW_S
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: window_start + 1.0))
    with TestClient(console_app(console)) as fresh:
        statuses = [
            sign_in(fresh, console, "owner", password=f"guess {i}").status_code for i in range(11)
        ]
        assert statuses[:10] == [401] * 10
        assert statuses[10] == 429
        assert re.search(r"try again in \d+ s", sign_in(fresh, console, "owner").text)
