"""The dimensions metrics are broken down and filtered by (each defined once)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DimensionDef:
    name: str
    description: str
    synonyms: tuple[str, ...] = ()
    #: The fact column it needs (``client_id`` for client attributes, ``event_date`` for time).
    needs: str = ""
    time: bool = False


DIMENSIONS: dict[str, DimensionDef] = {
    dim.name: dim
    for dim in (
        DimensionDef(
            "client",
            "The client (customer) by name",
            ("customer", "account", "company"),
            "client_id",
        ),
        DimensionDef("industry", "The client's industry", ("sector", "vertical"), "client_id"),
        DimensionDef(
            "client_status",
            "The client's status: active, churned or prospect",
            ("client state",),
            "client_id",
        ),
        DimensionDef(
            "technician",
            "The technician (engineer) who did the work / owns the ticket",
            ("tech", "engineer", "agent", "staff"),
            "technician_id",
        ),
        DimensionDef(
            "month",
            "Calendar month, 'YYYY-MM'",
            ("monthly", "per month", "by month"),
            "event_date",
            True,
        ),
        DimensionDef(
            "quarter",
            "Calendar quarter, 'YYYY-Qn'",
            ("quarterly", "per quarter"),
            "event_date",
            True,
        ),
        DimensionDef(
            "year", "Calendar year, 'YYYY'", ("yearly", "annual", "per year"), "event_date", True
        ),
        DimensionDef(
            "priority",
            "Ticket priority p1 (critical) .. p4 (low)",
            ("severity", "urgency"),
            "priority",
        ),
        DimensionDef(
            "category",
            "Ticket category (Network, Email, Hardware...)",
            ("type of issue", "issue type", "topic"),
            "category",
        ),
        DimensionDef("status", "Status of the ticket / invoice / asset", ("state",), "status"),
        DimensionDef(
            "contract_kind",
            "Contract type: per_user, per_device, block_hours, time_and_materials, flat",
            ("contract type", "billing model", "plan"),
            "contract_kind",
        ),
        DimensionDef(
            "line_kind",
            "Invoice line kind: recurring, labor, license, hardware, project, other",
            ("revenue stream", "revenue type", "line type"),
            "line_kind",
        ),
        DimensionDef(
            "product",
            "Licence product (e.g. Microsoft 365 Business Premium)",
            ("licence product", "sku", "software"),
            "product",
        ),
        DimensionDef(
            "asset_kind",
            "Device kind (workstation, server, laptop, network...)",
            ("device type", "asset type"),
            "asset_kind",
        ),
        DimensionDef(
            "billable",
            "Whether the time was billable ('true' / 'false')",
            ("billability",),
            "billable",
        ),
        DimensionDef(
            "ageing_bucket",
            "How far past due an open invoice is today: current (not yet due), 1-30, 31-60, "
            "61-90 or 90+ days; paid invoices are 'closed'",
            ("ageing", "aging", "days past due", "age bucket", "aging bucket", "overdue age"),
            "ageing_bucket",
        ),
        DimensionDef(
            "invoice", "The invoice, by number", ("invoice number", "bill"), "invoice_number"
        ),
        DimensionDef(
            "contract",
            "The contract (agreement) by name",
            ("agreement", "service agreement", "msa"),
            "contract",
        ),
    )
}
