"""Who may call what, and which fields they get back.

One table maps each *capability* (a group of endpoints) to the roles allowed to use it; field
rules strip money from technicians and internal analytics from client users. The agent's tools
get the same role and client through ``ToolContext`` (``db.semantic_access`` holds the table and
column rules they apply), so chat and the typed endpoints agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mspilot.core.roles import (
    CLIENT_USER,
    COMMERCIAL,
    EVERYONE,
    FINANCE,
    MONEY,
    OWNER,
    ROLES,
    SERVICE_MANAGER,
    STAFF,
    TECHNICIAN,
)

__all__ = [
    "CAPABILITIES",
    "CLIENT_USER",
    "COMMERCIAL",
    "EVERYONE",
    "FINANCE",
    "MONEY",
    "OWNER",
    "ROLES",
    "SERVICE_MANAGER",
    "STAFF",
    "TECHNICIAN",
]

#: capability → roles allowed
CAPABILITIES: Final[dict[str, frozenset[str]]] = {
    "chat": EVERYONE,
    "threads": EVERYONE,
    "clients.list": EVERYONE,  # a client user sees only their own client
    "clients.profile": EVERYONE,  # a client user: only their own client; fields redacted
    "churn": MONEY,
    "margins": MONEY,
    "leaks": MONEY,
    "anomalies": MONEY,
    "forecast": STAFF,
    "pricing": COMMERCIAL,
    "budget": COMMERCIAL,
    "insights.read": EVERYONE,  # filtered by each insight's audience
    "insights.publish": frozenset({OWNER}),
    "users.manage": frozenset({OWNER}),
    "audit.read": frozenset({OWNER}),
}

#: fields (of client profiles and list rows) that carry money: hidden from technicians and
#: client users (a client user sees their own invoices, which are theirs, but not our margins)
MONEY_FIELDS: Final = frozenset(
    {
        "mrr",
        "revenue_12m",
        "labour_cost_12m",
        "licence_cost_12m",
        "margin_12m",
        "margin_pct_12m",
        "effective_rate_12m",
        "unbilled_hours",
        "contracts",
        "hourly_rate",
        "unit_price",
        "monthly_value",
        "balance_due",
        "invoices",
    }
)
#: internal analytics: never for client users
INTERNAL_FIELDS: Final = frozenset(
    {
        "churn_risk",
        "churn_drivers",
        "technicians",
        "margin_12m",
        "margin_pct_12m",
        "labour_cost_12m",
        "licence_cost_12m",
        "effective_rate_12m",
        "unbilled_hours",
        "contracts",
        "mrr",
        "revenue_12m",
    }
)
#: what a client user may see of money: their own invoices and balance
CLIENT_VISIBLE_MONEY: Final = frozenset({"invoices", "balance_due"})


def allowed(role: str, capability: str) -> bool:
    return role in CAPABILITIES.get(capability, frozenset())


def roles_for(capability: str) -> list[str]:
    return [r for r in ROLES if r in CAPABILITIES[capability]]


def hidden_fields(role: str) -> frozenset[str]:
    if role == TECHNICIAN:
        return MONEY_FIELDS
    if role == CLIENT_USER:
        return (MONEY_FIELDS - CLIENT_VISIBLE_MONEY) | INTERNAL_FIELDS
    return frozenset()


def redact(role: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` without the fields ``role`` may not see (absent, not nulled)."""
    hidden = hidden_fields(role)
    return {k: v for k, v in record.items() if k not in hidden}
