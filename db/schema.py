"""The canonical MSP data model (``shared/specs/data-model.md``) as a typed SQLAlchemy 2.0 ORM.

Conventions
- Every row carries ``tenant_id``; ``id`` is ``make_id(tenant_id, source, external_id)``.
- References to other rows are composite foreign keys ``(tenant_id, x_id)`` so the database
  itself refuses a row that points into another tenant.
- ``row_hash`` is the loader's fingerprint of the row's content (unchanged rows are skipped).
- ``deleted_at`` marks a record deleted or voided at its source; history is never dropped.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeAlias

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    Select,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: A SELECT of any columns (SQLAlchemy 2.1 types selects by their column tuple).
AnySelect: TypeAlias = "Select[*tuple[Any, ...]]"

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def sqlite_datetime(value: dt.datetime) -> str:
    """The text a :class:`UTCDateTime` column holds on SQLite (SQLAlchemy's format: naive UTC
    with microseconds), for writers that bypass SQLAlchemy's type processing (bulk paths)."""
    offset = value.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
    if offset:  # already at UTC (dt.UTC, pydantic's UTC): no conversion needed
        value = value.astimezone(dt.UTC)
    # "YYYY-MM-DD HH:MM:SS.ffffff" and the "+00:00" cut off
    return value.isoformat(sep=" ", timespec="microseconds")[:26]


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stamp: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC)


Money = Numeric(12, 2)
Qty = Numeric(12, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), Decimal: Money, str: String(200)}  # noqa: RUF012


class Tenant(Base):
    """An MSP organisation; owns every other row."""

    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str]
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    max_discount_pct: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal("10.00"), comment="Pricing policy: largest allowed discount"
    )
    created_at: Mapped[dt.datetime | None]


class SourceRow:
    """Columns every synced row has."""

    id: Mapped[str] = mapped_column(String(120), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))  # indexed by uq_<table>_tenant_id_id
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(80))
    row_hash: Mapped[str] = mapped_column(String(32))
    deleted_at: Mapped[dt.datetime | None]
    synced_at: Mapped[dt.datetime | None]


def _tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant")


def _ref(table: str, column: str, target: str) -> ForeignKeyConstraint:
    """A composite (tenant_id, column) reference: rows cannot point into another tenant."""
    return ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{target}.tenant_id", f"{target}.id"],
        name=f"fk_{table}_{column}",
    )


def _tenant_key(table: str) -> UniqueConstraint:
    return UniqueConstraint("tenant_id", "id", name=f"uq_{table}_tenant_id_id")


def _version_indexes(table: str) -> tuple[Index, Index]:
    """``(tenant_id, synced_at)`` and ``(tenant_id, deleted_at)``: ``models.data.data_version``
    reads each table's latest ``synced_at``/``deleted_at`` and its deleted rows from these
    instead of scanning the tenant's rows (and counts the tenant's rows on the narrow one)."""
    return (
        Index(f"ix_{table}_tenant_synced", "tenant_id", "synced_at"),
        Index(f"ix_{table}_tenant_deleted", "tenant_id", "deleted_at"),
    )


class Client(SourceRow, Base):
    __tablename__ = "clients"
    __table_args__ = (_tenant_fk("clients"), _tenant_key("clients"), *_version_indexes("clients"))
    name: Mapped[str]
    industry: Mapped[str] = mapped_column(String(60))
    seats: Mapped[int] = mapped_column(Integer, comment="Users covered")
    status: Mapped[str] = mapped_column(String(20), comment="active / churned / prospect")
    onboarded_on: Mapped[dt.date | None] = mapped_column(Date)
    churned_on: Mapped[dt.date | None] = mapped_column(Date)
    email_domain: Mapped[str | None] = mapped_column(String(120))
    superops_account_id: Mapped[str | None] = mapped_column(String(80))
    qbo_customer_id: Mapped[str | None] = mapped_column(String(80))


class Contract(SourceRow, Base):
    __tablename__ = "contracts"
    __table_args__ = (
        _tenant_fk("contracts"),
        _tenant_key("contracts"),
        _ref("contracts", "client_id", "clients"),
        Index("ix_contracts_tenant_client", "tenant_id", "client_id"),
        *_version_indexes("contracts"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str | None]
    kind: Mapped[str] = mapped_column(
        String(30), comment="per_user, per_device, block_hours, time_and_materials, flat"
    )
    unit_price: Mapped[Decimal | None]
    quantity: Mapped[Decimal | None] = mapped_column(Qty, comment="Units billed")
    monthly_value: Mapped[Decimal | None]
    hourly_rate: Mapped[Decimal | None] = mapped_column(Money, comment="T&M and overage rate")
    included_hours: Mapped[Decimal | None] = mapped_column(Qty)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)
    annual_escalation_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    discount_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    status: Mapped[str] = mapped_column(String(20), comment="active / expired / cancelled / draft")


class Technician(SourceRow, Base):
    __tablename__ = "technicians"
    __table_args__ = (
        _tenant_fk("technicians"),
        _tenant_key("technicians"),
        *_version_indexes("technicians"),
    )
    name: Mapped[str]
    email: Mapped[str | None]
    role: Mapped[str] = mapped_column(String(60))
    hourly_cost: Mapped[Decimal] = mapped_column(Money, comment="Loaded hourly cost")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Ticket(SourceRow, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        _tenant_fk("tickets"),
        _tenant_key("tickets"),
        _ref("tickets", "client_id", "clients"),
        _ref("tickets", "technician_id", "technicians"),
        Index("ix_tickets_tenant_client_opened", "tenant_id", "client_id", "opened_at"),
        Index("ix_tickets_tenant_technician", "tenant_id", "technician_id"),
        *_version_indexes("tickets"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    technician_id: Mapped[str | None] = mapped_column(String(120))
    opened_at: Mapped[dt.datetime]
    resolved_at: Mapped[dt.datetime | None]
    priority: Mapped[str] = mapped_column(String(4), comment="p1..p4")
    category: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    sla_breached: Mapped[bool] = mapped_column(Boolean)
    csat: Mapped[int | None] = mapped_column(Integer, comment="1..5")
    subject: Mapped[str] = mapped_column(String(300))
    resolution: Mapped[str | None] = mapped_column(Text)


class Invoice(SourceRow, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        _tenant_fk("invoices"),
        _tenant_key("invoices"),
        _ref("invoices", "client_id", "clients"),
        Index("ix_invoices_tenant_client_issued", "tenant_id", "client_id", "issued_on"),
        *_version_indexes("invoices"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    number: Mapped[str] = mapped_column(String(40))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date | None] = mapped_column(Date)
    period_start: Mapped[dt.date | None] = mapped_column(Date)
    period_end: Mapped[dt.date | None] = mapped_column(Date)
    total: Mapped[Decimal]
    balance: Mapped[Decimal]
    status: Mapped[str] = mapped_column(String(20), comment="draft, open, paid, overdue, void")
    superops_invoice_id: Mapped[str | None] = mapped_column(String(80))
    qbo_invoice_id: Mapped[str | None] = mapped_column(String(80))


class InvoiceLine(SourceRow, Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        _tenant_fk("invoice_lines"),
        _tenant_key("invoice_lines"),
        _ref("invoice_lines", "invoice_id", "invoices"),
        _ref("invoice_lines", "contract_id", "contracts"),
        Index("ix_invoice_lines_tenant_invoice", "tenant_id", "invoice_id"),
        Index("ix_invoice_lines_tenant_contract", "tenant_id", "contract_id"),
        *_version_indexes("invoice_lines"),
    )
    invoice_id: Mapped[str] = mapped_column(String(120))
    contract_id: Mapped[str | None] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(
        String(20), comment="recurring, labor, license, hardware, project, other"
    )
    sku: Mapped[str | None] = mapped_column(String(80))
    description: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Qty)
    unit_price: Mapped[Decimal]
    discount_pct: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount: Mapped[Decimal]


class TimeEntry(SourceRow, Base):
    __tablename__ = "time_entries"
    __table_args__ = (
        _tenant_fk("time_entries"),
        _tenant_key("time_entries"),
        _ref("time_entries", "client_id", "clients"),
        _ref("time_entries", "ticket_id", "tickets"),
        _ref("time_entries", "technician_id", "technicians"),
        _ref("time_entries", "invoice_line_id", "invoice_lines"),
        Index("ix_time_entries_tenant_client_date", "tenant_id", "client_id", "work_date"),
        Index("ix_time_entries_tenant_ticket", "tenant_id", "ticket_id"),
        Index("ix_time_entries_tenant_technician", "tenant_id", "technician_id"),
        Index("ix_time_entries_tenant_invoice_line", "tenant_id", "invoice_line_id"),
        *_version_indexes("time_entries"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    ticket_id: Mapped[str | None] = mapped_column(String(120))
    technician_id: Mapped[str] = mapped_column(String(120))
    work_date: Mapped[dt.date] = mapped_column(Date)
    hours: Mapped[Decimal] = mapped_column(Qty)
    billable: Mapped[bool] = mapped_column(Boolean)
    invoice_line_id: Mapped[str | None] = mapped_column(String(120))
    notes: Mapped[str | None] = mapped_column(Text)


class Payment(SourceRow, Base):
    __tablename__ = "payments"
    __table_args__ = (
        _tenant_fk("payments"),
        _tenant_key("payments"),
        _ref("payments", "client_id", "clients"),
        _ref("payments", "invoice_id", "invoices"),
        Index("ix_payments_tenant_invoice", "tenant_id", "invoice_id"),
        Index("ix_payments_tenant_client", "tenant_id", "client_id"),
        *_version_indexes("payments"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    invoice_id: Mapped[str | None] = mapped_column(String(120))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal]


class Asset(SourceRow, Base):
    __tablename__ = "assets"
    __table_args__ = (
        _tenant_fk("assets"),
        _tenant_key("assets"),
        _ref("assets", "client_id", "clients"),
        Index("ix_assets_tenant_client", "tenant_id", "client_id"),
        *_version_indexes("assets"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str | None]
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    managed: Mapped[bool] = mapped_column(Boolean)
    last_seen_at: Mapped[dt.datetime | None]


class License(SourceRow, Base):
    __tablename__ = "licenses"
    __table_args__ = (
        _tenant_fk("licenses"),
        _tenant_key("licenses"),
        _ref("licenses", "client_id", "clients"),
        Index("ix_licenses_tenant_client", "tenant_id", "client_id"),
        *_version_indexes("licenses"),
    )
    client_id: Mapped[str] = mapped_column(String(120))
    product: Mapped[str] = mapped_column(String(120))
    sku: Mapped[str] = mapped_column(String(80))
    seats_in_use: Mapped[int] = mapped_column(Integer, comment="Vendor's count")
    unit_cost: Mapped[Decimal] = mapped_column(Money, comment="Vendor cost per seat per month")
    unit_price: Mapped[Decimal] = mapped_column(Money, comment="Resale price per seat per month")
    starts_on: Mapped[dt.date | None] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date)


# ---- operational tables (not synced from a source) -------------------------------------------


class SyncBookmark(Base):
    """Incremental state per (tenant, source, stream); advanced only after its batch commits."""

    __tablename__ = "sync_bookmarks"
    __table_args__ = (_tenant_fk("sync_bookmarks"),)
    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)
    stream: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime]


class DataQualityIssue(Base):
    """What a load could not take as given, with why: never silently dropped.

    ``severity``: ``error`` = the row was refused; ``warning`` = it was loaded with a derived
    or default value (the reason names the rule), or a stream/partition was skipped.
    """

    __tablename__ = "data_quality_issues"
    __table_args__ = (_tenant_fk("data_quality_issues"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    run_id: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(20))
    table_name: Mapped[str] = mapped_column(String(40))
    record_key: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(
        String(10), default="error", server_default="error", comment="error / warning"
    )
    created_at: Mapped[dt.datetime]


#: Synced tables in load order (parents before children).
SYNCED_TABLES: tuple[type[SourceRow], ...] = (
    Client,
    Technician,
    Contract,
    Ticket,
    Invoice,
    InvoiceLine,
    TimeEntry,
    Payment,
    Asset,
    License,
)
TABLES_BY_NAME: dict[str, Any] = {m.__tablename__: m for m in SYNCED_TABLES}  # type: ignore[attr-defined]

from mspilot.db import schema_api as _schema_api  # noqa: E402, F401  (API users, keys, audit)
from mspilot.db import schema_connectors as _schema_connectors  # noqa: E402, F401  (connector tables)
from mspilot.db import schema_insights as _schema_insights  # noqa: E402, F401  (insights, Slack)
from mspilot.db import schema_sandbox as _schema_sandbox  # noqa: E402, F401  (SQL tool scope)
from mspilot.db import schema_tasks as _schema_tasks  # noqa: E402, F401  (task engine, webhooks)
