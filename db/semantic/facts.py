"""The facts: named sets of rows every metric aggregates (the registry)."""

from __future__ import annotations

from mspilot.db.semantic.fact_base import Fact
from mspilot.db.semantic.facts_money import (
    _economics,
    _licence_months,
    _licence_seats,
    _payments,
    _revenue_lines,
)
from mspilot.db.semantic.facts_receivables import (
    _contracts,
    _invoice_payments,
    _invoices,
    _paid_invoices,
)
from mspilot.db.semantic.facts_work import (
    _active_clients,
    _assets,
    _client_events,
    _technician_time,
    _tickets,
    _time_entries,
)

_C = "client_id"
_T = "event_date"
FACTS: dict[str, Fact] = {
    f.name: f
    for f in (
        Fact(
            "invoice_lines",
            frozenset({_C, _T, "status", "line_kind", "contract_kind", "product"}),
            _revenue_lines,
        ),
        Fact(
            "invoices", frozenset({_C, _T, "status", "ageing_bucket", "invoice_number"}), _invoices
        ),
        Fact("paid_invoices", frozenset({_C, _T, "invoice_number"}), _paid_invoices),
        Fact("invoice_payments", frozenset({_C, _T, "invoice_number"}), _invoice_payments),
        Fact("payments", frozenset({_C, _T}), _payments),
        Fact(
            "time_entries",
            frozenset({_C, _T, "technician_id", "billable", "priority", "category"}),
            _time_entries,
        ),
        Fact(
            "tickets",
            frozenset({_C, _T, "technician_id", "priority", "category", "status"}),
            _tickets,
        ),
        Fact("licence_months", frozenset({_C, _T, "product"}), _licence_months, needs_period=True),
        Fact("licence_seats", frozenset({_C, _T, "product"}), _licence_seats, snapshot=True),
        Fact("economics", frozenset({_C, _T}), _economics, needs_period=True),
        Fact(
            "contracts", frozenset({_C, _T, "contract_kind", "contract"}), _contracts, snapshot=True
        ),
        Fact(
            "technician_time", frozenset({_T, "technician_id"}), _technician_time, needs_period=True
        ),
        Fact("active_clients", frozenset({_C, _T}), _active_clients, snapshot=True),
        Fact("churn_events", frozenset({_C, _T}), _client_events("churned_on")),
        Fact("onboard_events", frozenset({_C, _T}), _client_events("onboarded_on")),
        Fact("assets", frozenset({_C, "asset_kind", "status"}), _assets),
    )
}
