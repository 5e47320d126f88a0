"""Authentication: missing, malformed, expired and other-tenant credentials; login; API keys."""

from __future__ import annotations

import datetime as dt

import jwt
import pytest
from fastapi.testclient import TestClient

from mspilot.api.security import hash_password, issue_token
from mspilot.db.users import create_user
from support.api_world import World, auth, token


def _err(resp: object) -> dict[str, object]:
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) >= {"detail", "code", "request_id"}
    assert body["request_id"] == resp.headers["x-request-id"]  # type: ignore[attr-defined]
    return body  # type: ignore[no-any-return]


def test_no_token_is_401_with_a_clear_body(client: TestClient) -> None:
    resp = client.get("/v1/clients")
    assert resp.status_code == 401
    body = _err(resp)
    assert body["code"] == "missing_credentials"
    assert "Authorization" in str(body["detail"])
    assert resp.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("bad", ["garbage", "a.b.c", "Bearer"])
def test_bad_token_is_401(client: TestClient, bad: str) -> None:
    resp = client.get("/v1/clients", headers={"Authorization": f"Bearer {bad}"})
    assert resp.status_code == 401
    assert _err(resp)["code"] == "invalid_token"


def test_token_signed_with_another_key_is_401(client: TestClient, world: World) -> None:
    user = world.users["owner"]
    forged, _ = issue_token(
        "not-the-server-key-not-the-server-key",
        user_id=user.id,
        tenant_id=user.tenant_id,
        role="owner",
        client_id=None,
        ttl=dt.timedelta(hours=1),
    )
    resp = client.get("/v1/clients", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status_code == 401
    assert _err(resp)["code"] == "invalid_token"


def test_alg_none_token_is_rejected(client: TestClient, world: World) -> None:
    user = world.users["owner"]
    unsigned = jwt.encode(
        {"sub": user.id, "tid": user.tenant_id, "role": "owner", "iss": "mspilot", "exp": 2**31},
        key=None,
        algorithm="none",
    )
    resp = client.get("/v1/clients", headers={"Authorization": f"Bearer {unsigned}"})
    assert resp.status_code == 401


def test_expired_token_is_401_token_expired(client: TestClient, world: World) -> None:
    expired = token(world, "owner", ttl=dt.timedelta(seconds=-5))
    resp = client.get("/v1/clients", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401
    body = _err(resp)
    assert body["code"] == "token_expired"
    assert "expired" in str(body["detail"])


def test_token_claiming_another_tenant_is_401(client: TestClient, world: World) -> None:
    user = world.users["owner"]
    other, _ = issue_token(
        "test-secret-test-secret-test-secret",
        user_id=user.id,
        tenant_id=world.other_tenant,
        role="owner",
        client_id=None,
        ttl=dt.timedelta(hours=1),
    )
    resp = client.get("/v1/clients", headers={"Authorization": f"Bearer {other}"})
    assert resp.status_code == 401
    assert _err(resp)["code"] == "tenant_mismatch"


def test_wrong_tenant_header_is_403(client: TestClient, world: World) -> None:
    headers = {**auth(world, "owner"), "X-Mspilot-Tenant": world.other_tenant}
    resp = client.get("/v1/clients", headers=headers)
    assert resp.status_code == 403
    body = _err(resp)
    assert body["code"] == "wrong_tenant"
    assert world.other_tenant in str(body["detail"])


def test_other_tenants_client_is_not_found(client: TestClient, world: World) -> None:
    resp = client.get(f"/v1/clients/{world.other_client}", headers=auth(world, "owner"))
    assert resp.status_code == 404
    other = client.get("/v1/clients", headers=auth(world, "other_owner")).json()
    assert [c["id"] for c in other["items"]] == [world.other_client]


def test_login_issues_a_working_token_and_rejects_wrong_password(
    client: TestClient, world: World
) -> None:
    create_user(
        world.engine,
        world.tenant_id,
        "login@demo.test",
        "finance",
        password_hash=hash_password("correct horse"),
    )
    bad = client.post(
        "/v1/auth/token",
        json={"tenant_id": world.tenant_id, "email": "login@demo.test", "password": "nope"},
    )
    assert bad.status_code == 401
    assert _err(bad)["code"] == "invalid_credentials"
    wrong_tenant = client.post(
        "/v1/auth/token",
        json={"tenant_id": "other", "email": "login@demo.test", "password": "correct horse"},
    )
    assert wrong_tenant.status_code == 401
    ok = client.post(
        "/v1/auth/token",
        json={
            "tenant_id": world.tenant_id,
            "email": "LOGIN@demo.test",
            "password": "correct horse",
        },
    )
    assert ok.status_code == 200
    me = client.get(
        "/v1/auth/me", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
    ).json()
    assert me["role"] == "finance" and me["tenant_id"] == world.tenant_id and me["via"] == "jwt"


def test_api_key_lifecycle(client: TestClient, world: World) -> None:
    created = client.post("/v1/api-keys", json={"name": "digest job"}, headers=auth(world, "owner"))
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("msp_") and created.json()["prefix"] == key[:10]
    me = client.get("/v1/auth/me", headers={"X-API-Key": key}).json()
    assert me["via"] == "api_key" and me["role"] == "owner"
    listed = client.get("/v1/api-keys", headers=auth(world, "owner")).json()
    assert created.json()["id"] in {k["id"] for k in listed}
    assert all("key" not in k and "key_hash" not in k for k in listed)
    gone = client.delete(f"/v1/api-keys/{created.json()['id']}", headers=auth(world, "owner"))
    assert gone.status_code == 204
    resp = client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert resp.status_code == 401 and _err(resp)["code"] == "invalid_api_key"


def test_unknown_api_key_is_401(client: TestClient) -> None:
    resp = client.get("/v1/auth/me", headers={"X-API-Key": "msp_not-a-real-key"})
    assert resp.status_code == 401
    assert _err(resp)["code"] == "invalid_api_key"


def test_non_owner_cannot_manage_users_or_keys(client: TestClient, world: World) -> None:
    for path in ("/v1/users", "/v1/api-keys", "/v1/audit"):
        resp = client.get(path, headers=auth(world, "finance"))
        assert resp.status_code == 403
        assert _err(resp)["code"] == "role_forbidden"


def test_owner_adds_a_client_user_bound_to_a_client_of_their_tenant(
    client: TestClient, world: World
) -> None:
    ok = client.post(
        "/v1/users",
        json={"email": "portal@acme.test", "role": "client_user", "client": world.clients[2]},
        headers=auth(world, "owner"),
    )
    assert ok.status_code == 201 and ok.json()["client_id"] == world.clients[2]
    cross = client.post(
        "/v1/users",
        json={"email": "x@acme.test", "role": "client_user", "client": world.other_client},
        headers=auth(world, "owner"),
    )
    assert cross.status_code == 400
    assert "no client" in cross.json()["detail"]
