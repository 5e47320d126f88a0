"""Pydantic shapes of incoming canonical records: the contract every source loads through.

A record names itself by ``external_id`` (its id in the source system) and names the rows it
points at by *their* external ids in the same source (``client_id="c0042"``); the loader turns
both into canonical ids with ``core.ids.make_id``. A source that resolved a reference to an
existing canonical row already (e.g. a QuickBooks invoice of a client first seen in SuperOps)
passes a typed :class:`CanonicalId` (``client_id=CanonicalId("acme.superops.123")``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator


@dataclass(frozen=True)
class CanonicalId:
    """A reference to a row by its canonical id (already resolved), not by an external id of
    the loading source."""

    id: str


Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
Pct = Annotated[Decimal, Field(ge=-100, le=1000, max_digits=5, decimal_places=2)]
#: a referenced row: its external id in the loading source, or its canonical id
Ref = Annotated[str, StringConstraints(min_length=1, max_length=120)] | CanonicalId
#: how a source names a row to delete or patch (the same two ways)
RowName = str | CanonicalId


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    external_id: Annotated[str, Field(min_length=1, max_length=80)]
    deleted_at: AwareDatetime | None = None

    #: Columns that hold references: column -> referenced table.
    refs: ClassVar[dict[str, str]] = {}


class ClientRecord(Record):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    industry: str = "Other"
    seats: Annotated[int, Field(ge=0, le=1_000_000)]
    status: Literal["active", "churned", "prospect"]
    onboarded_on: dt.date | None = None
    churned_on: dt.date | None = None
    email_domain: str | None = None
    superops_account_id: str | None = None
    qbo_customer_id: str | None = None

    @model_validator(mode="after")
    def _churn_consistent(self) -> ClientRecord:
        if self.status == "churned" and self.churned_on is None:
            raise ValueError("churned client needs churned_on")
        if self.churned_on and self.onboarded_on and self.churned_on < self.onboarded_on:
            raise ValueError("churned_on before onboarded_on")
        return self


class TechnicianRecord(Record):
    name: Annotated[str, Field(min_length=1)]
    email: str | None = None
    role: str = "Technician"
    hourly_cost: Annotated[Money, Field(ge=0)]
    active: bool = True


class ContractRecord(Record):
    refs: ClassVar[dict[str, str]] = {"client_id": "clients"}
    client_id: Ref
    name: str | None = None
    kind: Literal["per_user", "per_device", "block_hours", "time_and_materials", "flat"]
    unit_price: Annotated[Money, Field(ge=0)] | None = None
    quantity: Annotated[Money, Field(ge=0)] | None = None
    monthly_value: Annotated[Money, Field(ge=0)] | None = None
    hourly_rate: Annotated[Money, Field(ge=0)] | None = None
    included_hours: Annotated[Money, Field(ge=0)] | None = None
    starts_on: dt.date
    ends_on: dt.date | None = None
    annual_escalation_pct: Pct | None = None
    discount_pct: Pct | None = None
    status: Literal["active", "expired", "cancelled", "draft"] = "active"

    @model_validator(mode="after")
    def _dates(self) -> ContractRecord:
        if self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on before starts_on")
        return self


class TicketRecord(Record):
    refs: ClassVar[dict[str, str]] = {"client_id": "clients", "technician_id": "technicians"}
    client_id: Ref
    technician_id: Ref | None = None
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    priority: Literal["p1", "p2", "p3", "p4"]
    category: str
    status: str
    sla_breached: bool = False
    csat: Annotated[int, Field(ge=1, le=5)] | None = None
    subject: Annotated[str, Field(max_length=300)]
    resolution: str | None = None

    @model_validator(mode="after")
    def _order(self) -> TicketRecord:
        if self.resolved_at and self.resolved_at < self.opened_at:
            raise ValueError("resolved_at before opened_at")
        return self


class InvoiceRecord(Record):
    refs: ClassVar[dict[str, str]] = {"client_id": "clients"}
    client_id: Ref
    number: Annotated[str, Field(min_length=1, max_length=40)]
    issued_on: dt.date
    due_on: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    total: Money
    balance: Money
    status: Literal["draft", "open", "paid", "overdue", "void"]
    superops_invoice_id: str | None = None
    qbo_invoice_id: str | None = None


class InvoiceLineRecord(Record):
    refs: ClassVar[dict[str, str]] = {"invoice_id": "invoices", "contract_id": "contracts"}
    invoice_id: Ref
    contract_id: Ref | None = None
    kind: Literal["recurring", "labor", "license", "hardware", "project", "other"]
    sku: str | None = None
    description: str | None = None
    quantity: Money
    unit_price: Money
    discount_pct: Pct | None = None
    amount: Money


class TimeEntryRecord(Record):
    refs: ClassVar[dict[str, str]] = {
        "client_id": "clients",
        "ticket_id": "tickets",
        "technician_id": "technicians",
        "invoice_line_id": "invoice_lines",
    }
    client_id: Ref
    ticket_id: Ref | None = None
    technician_id: Ref
    work_date: dt.date
    hours: Annotated[Money, Field(gt=0, le=24)]
    billable: bool
    invoice_line_id: Ref | None = None
    notes: str | None = None


class PaymentRecord(Record):
    refs: ClassVar[dict[str, str]] = {"client_id": "clients", "invoice_id": "invoices"}
    client_id: Ref
    invoice_id: Ref | None = None
    paid_on: dt.date
    amount: Money


class AssetRecord(Record):
    refs: ClassVar[dict[str, str]] = {"client_id": "clients"}
    client_id: Ref
    name: str | None = None
    kind: str
    status: str
    managed: bool = True
    last_seen_at: AwareDatetime | None = None


class LicenseRecord(Record):
    refs: ClassVar[dict[str, str]] = {"client_id": "clients"}
    client_id: Ref
    product: str
    sku: str
    seats_in_use: Annotated[int, Field(ge=0)]
    unit_cost: Annotated[Money, Field(ge=0)]
    unit_price: Annotated[Money, Field(ge=0)]
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None

    @model_validator(mode="after")
    def _dates(self) -> LicenseRecord:
        if self.starts_on and self.ends_on and self.ends_on < self.starts_on:
            raise ValueError("ends_on before starts_on")
        return self


RECORDS: dict[str, type[Record]] = {
    "clients": ClientRecord,
    "technicians": TechnicianRecord,
    "contracts": ContractRecord,
    "tickets": TicketRecord,
    "invoices": InvoiceRecord,
    "invoice_lines": InvoiceLineRecord,
    "time_entries": TimeEntryRecord,
    "payments": PaymentRecord,
    "assets": AssetRecord,
    "licenses": LicenseRecord,
}
