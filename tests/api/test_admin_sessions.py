"""Console sessions: ids rotate at sign-in, a flood of anonymous visits cannot evict signed-in
people nor grow the store without bound, and no generated CSRF token is ever accepted."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspilot.api.admin.sessions import SessionStore
from mspilot.models.registry import Registry
from support.admin_console import PASSWORD, Console, build_console, console_app, csrf_of
from support.api_world import World


def test_sign_in_rotates_and_drops_the_anonymous_session() -> None:
    store = SessionStore()
    anonymous = store.new()
    signed = store.sign_in(anonymous, "u1")
    assert signed.sid != anonymous.sid and signed.csrf != anonymous.csrf
    assert store.get(anonymous.sid) is None
    assert store.get(signed.sid) == signed


def test_a_flood_of_anonymous_sessions_evicts_only_anonymous_ones() -> None:
    store = SessionStore(max_sessions=50)
    people = [store.new(f"user{i}") for i in range(10)]
    for _ in range(500):
        store.new()
    assert len(store) <= 50
    assert all(store.get(p.sid) == p for p in people)


@pytest.fixture(scope="module")
def signed_in(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    console = build_console(world, tmp_path_factory.mktemp("csrf"))
    with TestClient(console_app(console)) as tc:
        form = tc.get("/admin/login")
        tc.post(
            "/admin/login",
            data={
                "tenant": world.tenant_id,
                "email": console.users["owner"].email,
                "password": PASSWORD,
                "csrf": csrf_of(form.text),
            },
        )
        yield tc, console, csrf_of(tc.get("/admin/models").text)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(token=st.text(max_size=80))
def test_no_generated_csrf_token_is_accepted(signed_in: Any, token: str) -> None:
    tc, console, real = signed_in
    assert isinstance(console, Console)
    if token == real:
        return
    response = tc.post(
        "/admin/models/churn/promote",
        data={"csrf": token, "version": "2"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    champ = Registry(console.data_dir, console.world.tenant_id, mlflow=False).champion("churn")
    assert champ is not None and champ.version == 1
