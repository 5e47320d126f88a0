"""Tables of the privacy tools (``mspilot privacy``).

- ``erased_rows``: the canonical id of every synced row erased on request (a client and its
  rows), so a later sync refuses to bring any of them back, or a new row pointing at them (the
  loader writes a data-quality issue instead). Only ids and the time are kept: never the
  erased content.
- ``retention_policies``: how many days a tenant keeps chat history and audit events (null =
  forever); the ``retention`` command and a scheduled task enforce them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKeyConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mspilot.db.schema import Base


class ErasedRow(Base):
    """A synced row erased on request: the loader refuses rows with this id or naming it."""

    __tablename__ = "erased_rows"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_erased_rows_tenant"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    row_id: Mapped[str] = mapped_column(String(120), primary_key=True, comment="Canonical id")
    table_name: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(String(120), comment="The erased client")
    erased_at: Mapped[dt.datetime]


class RetentionPolicy(Base):
    """A tenant's retention periods, in days (null = keep forever)."""

    __tablename__ = "retention_policies"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name="fk_retention_policies_tenant"),
    )
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    chat_days: Mapped[int | None] = mapped_column(Integer)
    audit_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime]
