"""How an MSP's QuickBooks company carries the facts the canonical model needs.

Invoice-line kinds come from each item's income account (MSPs book revenue by category);
licence costs come from vendor bills / purchases whose item lines are billable to a customer,
with the subscription's service period in the line description.
"""

from __future__ import annotations

#: canonical invoice-line kind -> income account the fake books it to
INCOME_ACCOUNT_BY_KIND = {
    "recurring": "Managed Services Income",
    "labor": "Labor Income",
    "license": "Software Licensing Income",
    "hardware": "Hardware Sales",
    "project": "Project Income",
    "other": "Other Income",
}
#: keywords of an income account name -> kind (first match wins)
KIND_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("licens", "license"),
    ("labor", "labor"),
    ("labour", "labor"),
    ("hardware", "hardware"),
    ("equipment", "hardware"),
    ("project", "project"),
    ("managed", "recurring"),
    ("recurring", "recurring"),
    ("subscription", "recurring"),
)
LICENSE_EXPENSE_ACCOUNT = "Cost of Goods Sold:Software Licenses"
VOID_MARKER = "voided"


def kind_from_account(name: str | None) -> str:
    text = (name or "").lower()
    for keyword, kind in KIND_KEYWORDS:
        if keyword in text:
            return kind
    return "other"
