"""Operational tables of the connectors: encrypted credentials and entity resolution.

- ``source_credentials``: secrets a connector must keep between runs (QuickBooks' rotating
  refresh token, access tokens), encrypted with Fernet; never stored or logged in clear.
- ``entity_links``: a QuickBooks entity that is the same fact as a canonical row first seen in
  SuperOps (customer ↔ client, invoice ↔ invoice), so both sources land on one row.
- ``entity_reviews``: pairs too close to call, waiting for a person (``mspilot sources review``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Float, ForeignKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mspilot.db.schema import Base


class SourceCredential(Base):
    """One secret of one source for one tenant, Fernet-encrypted."""

    __tablename__ = "source_credentials"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_source_credentials_tenant"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    origin: Mapped[str | None] = mapped_column(
        String(64), comment="Hash of the configured secret this one descends from"
    )
    expires_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime]


class EntityLink(Base):
    """A QuickBooks entity resolved to a canonical row (client or invoice)."""

    __tablename__ = "entity_links"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_entity_links_tenant"),
        UniqueConstraint("tenant_id", "kind", "target_id", name="uq_entity_links_target"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True, comment="client / invoice")
    qbo_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(120), comment="Canonical row id")
    method: Mapped[str] = mapped_column(
        String(20), comment="manual / email_domain / fuzzy_name / number"
    )
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime]


class EntityReview(Base):
    """A QuickBooks entity whose match is ambiguous: a person decides."""

    __tablename__ = "entity_reviews"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_entity_reviews_tenant"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    qbo_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    qbo_name: Mapped[str]
    candidates: Mapped[str] = mapped_column(Text, comment="JSON list of {id, name, score}")
    reason: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), comment="open / accepted / rejected")
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
