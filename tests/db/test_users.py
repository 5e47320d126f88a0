"""Users and API keys on both databases: role rules, tenant-bound clients, key lookup/revoke."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from mspilot.core.errors import UserInputError
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.users import (
    add_api_key,
    create_user,
    get_user_by_email,
    list_users,
    resolve_client,
    revoke_api_key,
    set_active,
    upsert_user,
    user_for_key,
)

CLIENT = {"name": "Contoso", "industry": "Legal", "seats": 5, "status": "active"}


def _tenants(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_tenant(conn, "a", "A")
        upsert_tenant(conn, "b", "B")
    Loader(engine, "a", "x").load_all({"clients": [{"external_id": "c1", **CLIENT}]})
    Loader(engine, "b", "x").load_all({"clients": [{"external_id": "c1", **CLIENT}]})


def test_users_roles_and_client_binding(engine: Engine) -> None:
    _tenants(engine)
    owner = create_user(engine, "a", "Owner@A.test", "owner")
    assert owner.email == "owner@a.test" and owner.client_id is None
    assert resolve_client(engine, "a", "contoso") == "a.x.c1"
    portal = create_user(engine, "a", "p@a.test", "client_user", client_id="a.x.c1")
    assert portal.client_id == "a.x.c1"
    with pytest.raises(UserInputError, match="bound to a client"):
        create_user(engine, "a", "q@a.test", "client_user")
    with pytest.raises(UserInputError, match="only client users"):
        create_user(engine, "a", "r@a.test", "finance", client_id="a.x.c1")
    with pytest.raises(UserInputError, match="unknown role"):
        create_user(engine, "a", "s@a.test", "admin")
    with pytest.raises(UserInputError):  # another tenant's client: refused by the database
        create_user(engine, "a", "t@a.test", "client_user", client_id="b.x.c1")
    with pytest.raises(UserInputError, match="taken"):
        create_user(engine, "a", "owner@a.test", "finance")
    same_email_other_tenant = create_user(engine, "b", "owner@a.test", "owner")
    assert same_email_other_tenant.tenant_id == "b"
    assert [u.email for u in list_users(engine, "a")] == ["owner@a.test", "p@a.test"]
    moved = upsert_user(engine, "a", "owner@a.test", "finance", name="O")
    assert moved.id == owner.id and moved.role == "finance" and moved.name == "O"


def test_api_keys_lookup_and_revoke(engine: Engine) -> None:
    _tenants(engine)
    user = create_user(engine, "a", "svc@a.test", "owner")
    key = add_api_key(engine, user.id, "digest", "msp_abc", "f" * 64)
    found = user_for_key(engine, "f" * 64)
    assert found is not None and found.id == user.id
    assert user_for_key(engine, "0" * 64) is None
    assert revoke_api_key(engine, key.id, user.id)
    assert not revoke_api_key(engine, key.id, user.id)
    assert user_for_key(engine, "f" * 64) is None
    set_active(engine, user.id, False)
    disabled = get_user_by_email(engine, "a", "svc@a.test")
    assert disabled is not None and not disabled.active
