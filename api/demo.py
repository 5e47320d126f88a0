"""Demo users and tokens for the demo portal page and the demo command."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, select

from mspilot.api.security import hash_password, issue_token
from mspilot.core.errors import DataError
from mspilot.db.schema import Client
from mspilot.db.tenants import list_tenants, resolve_tenant
from mspilot.db.users import UserRow, get_user_by_email, upsert_user

DEMO_PASSWORD = "mspilot-demo"  # noqa: S105  (a documented demo credential, demo tenants only)


@dataclass(frozen=True)
class DemoUsers:
    tenant_id: str
    tenant_name: str
    owner: UserRow
    client_user: UserRow
    client_name: str


def ensure_demo_users(engine: Engine, tenant_id: str | None = None) -> DemoUsers:
    """An owner and a client user (bound to the tenant's first active client by name) of the
    named tenant, else of the first one: the demo portal is one page showing one tenant, also
    in a database holding several (the demo MSP with ``--tenants N``)."""
    if tenant_id is None:
        known = list_tenants(engine)
        if not known:
            raise DataError("no tenant loaded yet: run `mspilot demo run` (or load data) first")
        tenant = known[0]
    else:
        tenant = resolve_tenant(engine, tenant_id)
    tenant_id, tenant_name = tenant.id, tenant.name
    with engine.connect() as conn:
        client = conn.execute(
            select(Client.id, Client.name)
            .where(
                Client.tenant_id == tenant_id,
                Client.status == "active",
                Client.deleted_at.is_(None),
            )
            .order_by(Client.name)
        ).first()
    if client is None:
        raise DataError(f"tenant {tenant_id!r} has no active client for the demo client user")
    owner_email = f"owner@{tenant_id}.demo"
    client_email = f"client@{tenant_id}.demo"
    existing = get_user_by_email(engine, tenant_id, owner_email)
    pw = None if existing and existing.password_hash else hash_password(DEMO_PASSWORD)
    owner = upsert_user(
        engine, tenant_id, owner_email, "owner", name="Demo owner", password_hash=pw
    )
    existing = get_user_by_email(engine, tenant_id, client_email)
    pw = None if existing and existing.password_hash else hash_password(DEMO_PASSWORD)
    client_user = upsert_user(
        engine,
        tenant_id,
        client_email,
        "client_user",
        name=f"Demo user at {client[1]}",
        client_id=str(client[0]),
        password_hash=pw,
    )
    return DemoUsers(tenant_id, tenant_name, owner, client_user, str(client[1]))


def token_for(key: str, user: UserRow, hours: float = 12.0) -> str:
    token, _ = issue_token(
        key,
        user_id=user.id,
        tenant_id=user.tenant_id,
        role=user.role,
        client_id=user.client_id,
        ttl=dt.timedelta(hours=hours),
    )
    return token
