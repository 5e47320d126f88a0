"""Questions the Slack app asks the analyst when someone presses *Explain* on an insight.

The agent (router or language model) reads these, so they live here with the other prompts.
"""

from __future__ import annotations

from typing import Final

EXPLAIN: Final[dict[str, str]] = {
    "churn_risk": (
        "Why might {client} leave us? Show {client}'s profile: tickets, SLA breaches, CSAT, "
        "revenue and margin over the last 12 months."
    ),
    "revenue_leak": "Show {client}'s unbilled hours and invoices for {period}.",
    "pricing": (
        "Show {client}'s profile: contracts, revenue, hours and margin over the last 12 months."
    ),
    "capacity": "Show hours by week over the last 3 months.",
}
