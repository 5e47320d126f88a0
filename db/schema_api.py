"""Operational tables of the API: users, API keys and the audit trail.

- ``users``: a person (or a service account) of one tenant, with a role; a ``client_user`` is
  bound to one client (composite key, so it can never point into another tenant's clients).
- ``api_keys``: keys for service accounts; only a SHA-256 of the key is stored.
- ``audit_events``: who asked what, which tools ran with which scope, and what data left the
  system (rows and fields returned), one row per request that touched data.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mspilot.db.schema import Base


class User(Base):
    """Someone who signs in to the API (or a service account that uses API keys)."""

    __tablename__ = "users"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_users_tenant"),
        ForeignKeyConstraint(
            ["tenant_id", "client_id"],
            ["clients.tenant_id", "clients.id"],
            name="fk_users_client_id",
        ),
        UniqueConstraint("tenant_id", "email", name="uq_users_tenant_id_email"),
        Index("ix_users_tenant_client", "tenant_id", "client_id"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(
        String(20), comment="owner / finance / service_manager / technician / client_user"
    )
    client_id: Mapped[str | None] = mapped_column(
        String(120), comment="The one client a client_user may see"
    )
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]


class ApiKey(Base):
    """A service account's key; the key itself is shown once and stored only as a hash."""

    __tablename__ = "api_keys"
    __table_args__ = (
        ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_keys_user"),
        UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), comment="First characters, to recognise it")
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]


class AuditEvent(Base):
    """One request that read data: who, what, with which scope, and what left the system."""

    __tablename__ = "audit_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_audit_events_tenant"),
        Index("ix_audit_events_tenant_at", "tenant_id", "at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[str | None] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[str | None] = mapped_column(String(120))
    request_id: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime]
    action: Mapped[str] = mapped_column(String(40), comment="chat / data / auth / thread")
    resource: Mapped[str] = mapped_column(String(200), comment="Endpoint or thread")
    question: Mapped[str | None] = mapped_column(Text)
    tools: Mapped[str | None] = mapped_column(Text, comment="JSON list of {name, args, ok, rows}")
    rows_out: Mapped[int] = mapped_column(Integer, default=0)
    fields_out: Mapped[str | None] = mapped_column(Text, comment="JSON list of columns returned")
    status: Mapped[int] = mapped_column(Integer, comment="HTTP status")
