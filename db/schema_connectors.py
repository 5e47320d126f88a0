"""Operational tables of the connectors: encrypted credentials and entity resolution.

- ``source_credentials``: secrets a connector must keep between runs (QuickBooks' rotating
  refresh token, access tokens), encrypted with Fernet; never stored or logged in clear.
- ``entity_links``: a QuickBooks entity that is the same fact as a canonical row first seen in
  SuperOps (customer ↔ client, invoice ↔ invoice), so both sources land on one row.
- ``entity_reviews``: pairs too close to call, waiting for a person (``mspilot sources review``).
- ``orphan_rows``: rows waiting for a parent that has not arrived (never dropped with it).
- ``source_field_maps``: per tenant, which source field holds which canonical fact.
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


class OrphanRow(Base):
    """A row whose parent is not (yet) in the tenant: it waits here, re-tried whenever a sync
    ends, instead of being refused with its parent (``db.orphans``)."""

    __tablename__ = "orphan_rows"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_orphan_rows_tenant"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(120), primary_key=True, comment="Canonical id")
    source: Mapped[str] = mapped_column(String(20))
    record: Mapped[str] = mapped_column(Text, comment="The record as the source gave it (JSON)")
    waits_for_table: Mapped[str] = mapped_column(String(40))
    waits_for_id: Mapped[str] = mapped_column(String(120), comment="Canonical id of the parent")
    reason: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str] = mapped_column(String(40))
    first_seen_at: Mapped[dt.datetime]
    last_tried_at: Mapped[dt.datetime]


class SourceFieldMap(Base):
    """Where a tenant's account keeps a canonical fact (a SuperOps custom-field column), as
    discovered from the account, defaulted, or set by a person (``mspilot sources map``)."""

    __tablename__ = "source_field_maps"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_source_field_maps_tenant"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    entity: Mapped[str] = mapped_column(String(20), primary_key=True, comment="client / ticket")
    field: Mapped[str] = mapped_column(String(40), primary_key=True, comment="Canonical fact")
    column_name: Mapped[str | None] = mapped_column(
        String(80), comment="The source's field (None: the account keeps no such field)"
    )
    label: Mapped[str | None] = mapped_column(String(200))
    origin: Mapped[str] = mapped_column(String(20), comment="discovered / default / manual")
    updated_at: Mapped[dt.datetime]
