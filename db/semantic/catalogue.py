"""The metric catalogue: every metric, its synonyms and audience; name lookups."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    func,
)

from mspilot.db.semantic.dimensions import DIMENSIONS
from mspilot.db.semantic.measures import (
    MetricDef,
    _avg,
    _count_distinct,
    _margin,
    _margin_pct,
    _ratio,
    _share,
    _sum,
)
from mspilot.db.semantic_access import (
    ALL_ROLES,
    STAFF_WITH_MONEY,
    check_role,
)

_OPS = ALL_ROLES - {"client_user"}  # operational: every internal role
_CLIENT_VISIBLE = ALL_ROLES  # tickets, assets, invoices: client users see their own
_CLIENT_BILLING = STAFF_WITH_MONEY | {"client_user"}

METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef(
            "revenue",
            "Revenue: invoice line amounts of non-void invoices issued in the period",
            "invoice_lines",
            "money",
            _sum("amount"),
            ("sales", "income", "billings", "turnover", "invoiced revenue", "earned"),
        ),
        MetricDef(
            "invoices",
            "Number of (non-void) invoices issued",
            "invoices",
            "count",
            _count_distinct("invoice_id"),
            ("invoice count", "number of invoices", "bills"),
            _CLIENT_BILLING,
        ),
        MetricDef(
            "invoiced_amount",
            "Total of (non-void) invoices issued",
            "invoices",
            "money",
            _sum("total"),
            ("invoice total", "amount invoiced", "amount billed"),
            _CLIENT_BILLING,
        ),
        MetricDef(
            "balance_due",
            "Open balance still owed on open or overdue invoices (today)",
            "invoices",
            "money",
            _sum("open_balance"),
            (
                "outstanding",
                "receivables",
                "accounts receivable",
                "owed",
                "unpaid",
                "open balance",
                "a/r",
            ),
            _CLIENT_BILLING,
            nonzero=True,
        ),
        MetricDef(
            "overdue_balance",
            "Balance of invoices past their due date (today)",
            "invoices",
            "money",
            _sum("overdue_balance"),
            ("overdue", "past due", "late payments", "overdue invoices amount"),
            _CLIENT_BILLING,
            nonzero=True,
        ),
        MetricDef(
            "overdue_invoices",
            "Number of invoices past due with a balance (today)",
            "invoices",
            "count",
            _sum("is_overdue"),
            ("late invoices", "number of overdue invoices"),
            _CLIENT_BILLING,
            nonzero=True,
        ),
        MetricDef(
            "payments_received",
            "Payments received (by payment date)",
            "payments",
            "money",
            _sum("amount"),
            ("cash collected", "collections", "payments"),
            _CLIENT_BILLING,
        ),
        MetricDef(
            "hours",
            "Hours worked (all time entries)",
            "time_entries",
            "hours",
            _sum("hours"),
            ("time spent", "hours worked", "time logged", "effort", "workload", "labor hours"),
            _OPS,
        ),
        MetricDef(
            "billable_hours",
            "Billable hours worked",
            "time_entries",
            "hours",
            _sum("billable_hours"),
            ("billable time", "chargeable hours"),
            _OPS,
        ),
        MetricDef(
            "billable_share",
            "Share of hours worked that were billable (0..1)",
            "time_entries",
            "ratio",
            _ratio("billable_hours", "hours"),
            ("billable percentage", "billable ratio", "utilisation", "utilization"),
            _OPS,
        ),
        MetricDef(
            "labour_cost",
            "Labour cost: hours × the technician's loaded hourly cost",
            "time_entries",
            "money",
            _sum("labour_cost"),
            ("labor cost", "staff cost", "technician cost", "cost of labour"),
        ),
        MetricDef(
            "unbilled_hours",
            "Billable hours never invoiced, older than 35 days (today)",
            "time_entries",
            "hours",
            _sum("unbilled_hours"),
            (
                "unbilled time",
                "uninvoiced hours",
                "unbilled work",
                "hours not billed",
                "revenue leakage hours",
            ),
            _OPS,
            nonzero=True,
        ),
        MetricDef(
            "tickets",
            "Number of tickets opened",
            "tickets",
            "count",
            lambda f, _p: func.count(),
            (
                "ticket count",
                "number of tickets",
                "requests",
                "incidents",
                "cases",
                "ticket volume",
            ),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "p1_share",
            "Share of tickets opened that were priority P1 (0..1)",
            "tickets",
            "ratio",
            _avg("is_p1"),
            ("p1 share", "share of p1", "percentage of p1", "critical ticket share", "p1 rate"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "ticket_share",
            "Share of tickets (0..1) of each value of the last dimension "
            "within the other dimensions (e.g. by priority)",
            "tickets",
            "ratio",
            _share,
            ("share of tickets", "ticket mix", "proportion of tickets", "distribution"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "csat",
            "Average customer satisfaction score (1..5) of rated tickets",
            "tickets",
            "score",
            _avg("csat"),
            ("customer satisfaction", "satisfaction", "survey score", "happiness"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "sla_breach_rate",
            "Share of tickets that breached their SLA (0..1)",
            "tickets",
            "ratio",
            _avg("breached"),
            ("sla breaches", "sla misses", "breach rate", "sla compliance"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "avg_resolution_hours",
            "Average hours from opening to resolution of resolved tickets",
            "tickets",
            "hours",
            _avg("resolution_hours"),
            ("resolution time", "time to resolve", "mttr", "turnaround"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "licence_cost",
            "Licence cost: seats in use × vendor unit cost per month",
            "licence_months",
            "money",
            _sum("licence_cost"),
            ("license cost", "licensing cost", "software cost", "vendor cost"),
        ),
        MetricDef(
            "licence_resale",
            "Licence resale value: seats in use × resale price per month",
            "licence_months",
            "money",
            _sum("licence_resale"),
            ("license revenue", "licence revenue", "license resale"),
        ),
        MetricDef(
            "licence_seats",
            "Licence seats in use (at the period's end / today)",
            "licence_seats",
            "seats",
            _sum("seats"),
            ("license seats", "licenses", "seat count", "licences in use"),
            _OPS,
        ),
        MetricDef(
            "margin",
            "Gross margin: revenue − labour cost − licence cost",
            "economics",
            "money",
            _margin,
            ("gross margin", "profit", "profitability", "gross profit"),
        ),
        MetricDef(
            "margin_pct",
            "Gross margin as a share of revenue (0..1)",
            "economics",
            "ratio",
            _margin_pct,
            ("margin percentage", "margin %", "profit margin", "margin rate"),
        ),
        MetricDef(
            "effective_rate",
            "Effective hourly rate: revenue / hours worked",
            "economics",
            "rate",
            _ratio("revenue", "hours"),
            ("effective hourly rate", "revenue per hour", "realised rate", "ehr"),
        ),
        MetricDef(
            "mrr",
            "Monthly recurring revenue: monthly value of contracts in force "
            "(at the period's end / today)",
            "contracts",
            "money",
            _sum("monthly_value"),
            ("monthly recurring revenue", "recurring revenue", "contract value", "arr"),
        ),
        MetricDef(
            "active_contracts",
            "Contracts in force (at the period's end / today)",
            "contracts",
            "count",
            _count_distinct("contract_id"),
            ("contracts", "number of contracts"),
        ),
        MetricDef(
            "active_clients",
            "Clients onboarded and not churned (at the period's end / today)",
            "active_clients",
            "count",
            _count_distinct("client_id"),
            ("clients", "customers", "client count", "number of clients"),
            _OPS,
        ),
        MetricDef(
            "churned_clients",
            "Clients who churned (left) in the period",
            "churn_events",
            "count",
            _count_distinct("client_id"),
            (
                "churn",
                "lost clients",
                "clients lost",
                "cancellations",
                "attrition",
                "clients who left",
            ),
        ),
        MetricDef(
            "new_clients",
            "Clients onboarded in the period",
            "onboard_events",
            "count",
            _count_distinct("client_id"),
            ("new customers", "clients won", "onboarded", "acquisitions"),
        ),
        MetricDef(
            "managed_devices",
            "Managed devices (assets under management)",
            "assets",
            "count",
            _sum("managed"),
            ("managed assets", "devices", "endpoints", "managed endpoints"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "assets",
            "All known assets (managed or not)",
            "assets",
            "count",
            lambda f, _p: func.count(),
            ("asset count", "inventory", "hardware"),
            _CLIENT_VISIBLE,
        ),
    )
}


def _norm(text: str) -> str:
    return " ".join(str(text).strip().lower().replace("_", " ").replace("-", " ").split())


def _alias_map(defs: dict[str, Any]) -> dict[str, str]:
    """Normalised name or synonym -> canonical name (synonyms shared by two are dropped)."""
    seen: dict[str, set[str]] = {}
    for name, item in defs.items():
        for alias in (name, *item.synonyms):
            seen.setdefault(_norm(alias), set()).add(name)
    return {alias: next(iter(names)) for alias, names in seen.items() if len(names) == 1}


_METRIC_ALIASES = _alias_map(METRICS)
_DIMENSION_ALIASES = _alias_map(DIMENSIONS)


def canonical_metric(name: str) -> str:
    """The metric ``name`` means (its own name, any spelling, or a synonym), else ``name``."""
    return _METRIC_ALIASES.get(_norm(name), name)


def canonical_dimension(name: str) -> str:
    return _DIMENSION_ALIASES.get(_norm(name), name)


def metrics_for_role(role: str) -> list[str]:
    check_role(role)
    return [name for name, m in METRICS.items() if role in m.audience]


def describe_metrics(role: str | None = None) -> list[dict[str, Any]]:
    """Catalogue of metrics (for a role) with their units and dimensions."""
    names = metrics_for_role(role) if role else list(METRICS)
    return [
        {
            "metric": n,
            "description": METRICS[n].description,
            "unit": METRICS[n].unit,
            "dimensions": list(METRICS[n].dimensions),
        }
        for n in names
    ]
