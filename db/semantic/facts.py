"""The facts: named sets of rows every metric aggregates (the registry)."""

from __future__ import annotations

from mspilot.db.semantic.fact_base import Fact
from mspilot.db.semantic.facts_money import (
    build_economics,
    build_licence_months,
    build_licence_seats,
    build_payments,
    build_revenue_lines,
)
from mspilot.db.semantic.facts_receivables import (
    build_contracts,
    build_invoice_payments,
    build_invoices,
    build_paid_invoices,
)
from mspilot.db.semantic.facts_work import (
    build_active_clients,
    build_assets,
    build_client_events,
    build_technician_time,
    build_tickets,
    build_time_entries,
)

_C = "client_id"
_T = "event_date"
FACTS: dict[str, Fact] = {
    f.name: f
    for f in (
        Fact(
            "invoice_lines",
            frozenset({_C, _T, "status", "line_kind", "contract_kind", "product"}),
            build_revenue_lines,
        ),
        Fact(
            "invoices",
            frozenset({_C, _T, "status", "ageing_bucket", "invoice_number"}),
            build_invoices,
        ),
        Fact("paid_invoices", frozenset({_C, _T, "invoice_number"}), build_paid_invoices),
        Fact("invoice_payments", frozenset({_C, _T, "invoice_number"}), build_invoice_payments),
        Fact("payments", frozenset({_C, _T}), build_payments),
        Fact(
            "time_entries",
            frozenset({_C, _T, "technician_id", "billable", "priority", "category"}),
            build_time_entries,
        ),
        Fact(
            "tickets",
            frozenset({_C, _T, "technician_id", "priority", "category", "status"}),
            build_tickets,
        ),
        Fact(
            "licence_months",
            frozenset({_C, _T, "product"}),
            build_licence_months,
            needs_period=True,
        ),
        Fact("licence_seats", frozenset({_C, _T, "product"}), build_licence_seats, snapshot=True),
        Fact("economics", frozenset({_C, _T}), build_economics, needs_period=True),
        Fact(
            "contracts",
            frozenset({_C, _T, "contract_kind", "contract"}),
            build_contracts,
            snapshot=True,
        ),
        Fact(
            "technician_time",
            frozenset({_T, "technician_id"}),
            build_technician_time,
            needs_period=True,
        ),
        Fact("active_clients", frozenset({_C, _T}), build_active_clients, snapshot=True),
        Fact("churn_events", frozenset({_C, _T}), build_client_events("churned_on")),
        Fact("onboard_events", frozenset({_C, _T}), build_client_events("onboarded_on")),
        Fact("assets", frozenset({_C, "asset_kind", "status"}), build_assets),
    )
}
