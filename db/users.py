"""Repository functions for API users and API keys (tables in ``db.schema_api``).

Passwords and keys arrive here already hashed: this module never sees a secret in clear.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mspilot.core.errors import UserInputError
from mspilot.core.roles import ROLES
from mspilot.db.schema import Client, Tenant
from mspilot.db.schema_api import ApiKey, User


@dataclass(frozen=True)
class UserRow:
    id: str
    tenant_id: str
    email: str
    name: str | None
    role: str
    client_id: str | None
    active: bool
    password_hash: str | None = None


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _row(user: User) -> UserRow:
    return UserRow(
        id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        name=user.name,
        role=user.role,
        client_id=user.client_id,
        active=user.active,
        password_hash=user.password_hash,
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def resolve_client(engine: Engine, tenant_id: str, client: str) -> str:
    """A client's canonical id from its id, external id or exact name (case-insensitive)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Client.id, Client.external_id, Client.name).where(Client.tenant_id == tenant_id)
        ).all()
    for cid, ext, name in rows:
        if client in (cid, ext) or client.casefold() == name.casefold():
            return str(cid)
    raise UserInputError(f"tenant {tenant_id!r} has no client {client!r} (id, external id or name)")


def create_user(
    engine: Engine,
    tenant_id: str,
    email: str,
    role: str,
    *,
    name: str | None = None,
    client_id: str | None = None,
    password_hash: str | None = None,
    user_id: str | None = None,
) -> UserRow:
    """Add a user; a ``client_user`` must name its client, and only a client user may."""
    email = email.strip().lower()
    if role not in ROLES:
        raise UserInputError(f"unknown role {role!r}; roles are: {', '.join(ROLES)}")
    if role == "client_user" and not client_id:
        raise UserInputError("a client_user must be bound to a client (--client)")
    if role != "client_user" and client_id:
        raise UserInputError(f"only client users are bound to a client, not {role!r}")
    if "@" not in email:
        raise UserInputError(f"{email!r} is not an email address")
    user = User(
        id=user_id or uuid.uuid4().hex,
        tenant_id=tenant_id,
        email=email,
        name=name,
        role=role,
        client_id=client_id,
        password_hash=password_hash,
        active=True,
        created_at=_now(),
    )
    try:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            if session.get(Tenant, tenant_id) is None:
                raise UserInputError(f"no tenant {tenant_id!r}; load data for it first")
            session.add(user)
    except IntegrityError as exc:
        raise UserInputError(
            f"cannot create {email!r} in tenant {tenant_id!r}: the email is taken or the "
            "client does not belong to this tenant"
        ) from exc
    return _row(user)


def upsert_user(
    engine: Engine,
    tenant_id: str,
    email: str,
    role: str,
    *,
    name: str | None = None,
    client_id: str | None = None,
    password_hash: str | None = None,
) -> UserRow:
    """The user with this email in this tenant, created if missing (role and client updated)."""
    existing = get_user_by_email(engine, tenant_id, email)
    if existing is None:
        return create_user(
            engine,
            tenant_id,
            email,
            role,
            name=name,
            client_id=client_id,
            password_hash=password_hash,
        )
    values: dict[str, object] = {"role": role, "client_id": client_id, "active": True}
    if name is not None:
        values["name"] = name
    if password_hash is not None:
        values["password_hash"] = password_hash
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == existing.id).values(values))
    found = get_user(engine, existing.id)
    assert found is not None
    return found


def get_user(engine: Engine, user_id: str) -> UserRow | None:
    with Session(engine) as session:
        user = session.get(User, user_id)
        return _row(user) if user else None


def get_user_by_email(engine: Engine, tenant_id: str, email: str) -> UserRow | None:
    with Session(engine) as session:
        user = session.scalars(
            select(User).where(User.tenant_id == tenant_id, User.email == email.strip().lower())
        ).first()
        return _row(user) if user else None


def list_users(engine: Engine, tenant_id: str) -> list[UserRow]:
    with Session(engine) as session:
        users = session.scalars(
            select(User).where(User.tenant_id == tenant_id).order_by(User.email)
        ).all()
        return [_row(u) for u in users]


def set_active(engine: Engine, user_id: str, active: bool) -> None:
    with engine.begin() as conn:
        conn.execute(update(User).where(User.id == user_id).values(active=active))


# ---- API keys --------------------------------------------------------------------------------


def add_api_key(engine: Engine, user_id: str, name: str, prefix: str, key_hash: str) -> ApiKeyRow:
    row = ApiKeyRow(
        id=uuid.uuid4().hex,
        user_id=user_id,
        name=name,
        prefix=prefix,
        created_at=_now(),
        last_used_at=None,
        revoked_at=None,
    )
    with engine.begin() as conn:
        if conn.execute(select(User.id).where(User.id == user_id)).first() is None:
            raise UserInputError(f"no user {user_id!r}")
        conn.execute(
            ApiKey.__table__.insert().values(  # type: ignore[attr-defined]
                {**row.__dict__, "key_hash": key_hash}
            )
        )
    return row


def user_for_key(engine: Engine, key_hash: str) -> UserRow | None:
    """The active user owning an unrevoked key with this hash (its last use is recorded)."""
    with Session(engine) as session, session.begin():
        found = session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
        ).first()
        if found is None:
            return None
        key, user = found
        key.last_used_at = _now()
        return _row(user)


def list_api_keys(engine: Engine, user_id: str) -> list[ApiKeyRow]:
    with Session(engine) as session:
        keys = session.scalars(
            select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.created_at)
        ).all()
        return [
            ApiKeyRow(
                id=k.id,
                user_id=k.user_id,
                name=k.name,
                prefix=k.prefix,
                created_at=k.created_at,
                last_used_at=k.last_used_at,
                revoked_at=k.revoked_at,
            )
            for k in keys
        ]


def revoke_api_key(engine: Engine, key_id: str, user_id: str) -> bool:
    with engine.begin() as conn:
        result = conn.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
    return bool(result.rowcount)
