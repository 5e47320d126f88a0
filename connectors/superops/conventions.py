"""How an MSP's SuperOps account carries the facts the canonical model needs.

SuperOps has no fields for some canonical columns; MSPs keep them in client / ticket custom
fields and service-item categories. These defaults name those places; an MSP with other
custom-field columns overrides them (``SuperOpsConventions(...)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: canonical invoice-line kind <-> SuperOps service-item category name
CATEGORY_BY_KIND = {
    "recurring": "Managed Services",
    "labor": "Labor",
    "license": "Licensing",
    "hardware": "Hardware",
    "project": "Projects",
    "other": "Other",
}
KIND_BY_CATEGORY = {v.lower(): k for k, v in CATEGORY_BY_KIND.items()}

#: canonical priority <-> SuperOps priority names (plus common synonyms read back)
PRIORITY_NAMES = {"p1": "Urgent", "p2": "High", "p3": "Medium", "p4": "Low"}
PRIORITY_BY_NAME = {
    "urgent": "p1",
    "critical": "p1",
    "very high": "p1",
    "high": "p2",
    "medium": "p3",
    "normal": "p3",
    "low": "p4",
    "very low": "p4",
}

STAGE_BY_STATUS = {"active": "Active", "churned": "Churned", "prospect": "Prospect"}
STATUS_BY_STAGE = {
    "active": "active",
    "churned": "churned",
    "inactive": "churned",
    "former": "churned",
    "prospect": "prospect",
    "lead": "prospect",
    "onboarding": "active",
}

#: canonical invoice status <-> SuperOps InvoiceStatus
INVOICE_STATUS = {
    "draft": "DRAFT",
    "open": "APPROVED",
    "paid": "PAID",
    "overdue": "OVERDUE",
    "void": "VOID",
}
INVOICE_STATUS_BACK = {v: k for k, v in INVOICE_STATUS.items()}

#: the annual price escalation written in a contract's description ("Annual escalation: 3%")
ESCALATION = re.compile(r"escalat\w*\D{0,20}?(\d{1,3}(?:\.\d+)?)\s*%", re.I)


def escalation_text(pct: object) -> str:
    return f"Annual escalation: {pct}%"


#: contract basis as read from BillableContract.provisionRule (JSON)
BASIS_KEY = "basis"


def display_status(value: str) -> str:
    """``in_progress`` -> ``In Progress`` (how SuperOps shows ticket statuses)."""
    return value.replace("_", " ").title()


def canonical_status(value: str | None) -> str:
    return (value or "unknown").strip().lower().replace(" ", "_")


@dataclass(frozen=True)
class SuperOpsConventions:
    """Custom-field columns (``udf<n><type>``) holding canonical facts."""

    client_fields: dict[str, str] = field(
        default_factory=lambda: {
            "industry": "udf1select",
            "seats": "udf2numeric",
            "onboarded_on": "udf3date",
            "churned_on": "udf4date",
        }
    )
    ticket_fields: dict[str, str] = field(
        default_factory=lambda: {"csat": "udf5numeric", "resolution": "udf6text"}
    )
