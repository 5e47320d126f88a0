"""The genome's catalogue: every feature with its description and unit, the model and
categorical subsets, the look-back windows, the snapshot calendar and the feature-set version
recorded with every model. The values are computed in :mod:`mspilot.models.genome`."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from mspilot.core.clock import add_months, month_end, month_start


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    unit: str = ""


FEATURE_SPECS: tuple[Feature, ...] = (
    Feature("tenure_months", "Months since onboarding", "months"),
    Feature("seats", "Users covered", "users"),
    Feature("revenue_3m", "Revenue over the last 3 months", "$"),
    Feature("revenue_trend", "Revenue last 3 months vs the 3 before, relative change", "ratio"),
    Feature("mrr", "Recurring revenue billed in the snapshot month", "$"),
    Feature("margin_3m", "Gross margin over the last 3 months (licence cost as billed)", "$"),
    Feature("margin_pct_3m", "Gross margin % over the last 3 months", "ratio"),
    Feature("margin_pct_prev_3m", "Gross margin % over the 3 months before", "ratio"),
    Feature(
        "service_margin_pct_3m",
        "(Recurring + labour billed - labour cost) / (recurring + labour billed), last 3m",
        "ratio",
    ),
    Feature("effective_rate_3m", "Revenue per hour worked, last 3 months", "$/h"),
    Feature("hours_3m", "Hours worked over the last 3 months", "h"),
    Feature("hours_per_seat_3m", "Hours worked per user, last 3 months", "h"),
    Feature("hours_per_ticket_3m", "Hours worked per ticket opened, last 3 months", "h"),
    Feature("tickets_3m", "Tickets opened over the last 3 months", "tickets"),
    Feature("tickets_prev_3m", "Tickets opened over the 3 months before", "tickets"),
    Feature("ticket_trend", "log((tickets last 3m + 1) / (tickets 3m before + 1))", "log"),
    Feature("tickets_per_seat_3m", "Tickets per user, last 3 months", "tickets"),
    Feature("p1_share_3m", "Share of P1 tickets, last 3 months", "ratio"),
    Feature("sla_breach_rate_3m", "Share of tickets closed with an SLA breach, last 3m", "ratio"),
    Feature("sla_breach_rate_prev_3m", "SLA breach share, the 3 months before", "ratio"),
    Feature("csat_mean_3m", "Mean CSAT of tickets closed in the last 3 months", "1-5"),
    Feature("csat_mean_prev_3m", "Mean CSAT of tickets closed in the 3 months before", "1-5"),
    Feature("csat_trend", "CSAT last 3 months minus the 3 months before", "points"),
    Feature("csat_recent", "CSAT, recent months weighted most (0.85/month), shrunk", "1-5"),
    Feature("sla_breach_recent", "SLA breach share, recent months weighted most, shrunk", "ratio"),
    Feature(
        "resolution_time_recent",
        "log resolution time vs the tenant's 12-month mean for the priority, recency-weighted",
        "log",
    ),
    Feature(
        "sla_breach_6m",
        "SLA breach share of tickets opened in the last 6 months (0.85/month), open tickets "
        "past their SLA counted, shrunk",
        "ratio",
    ),
    Feature("csat_6m", "CSAT of tickets opened in the last 6 months (0.85/month), shrunk", "1-5"),
    Feature(
        "satisfaction_6m",
        "Satisfaction over all tickets opened in the last 6 months: answers, else estimated "
        "from breach and the client's answers",
        "1-5",
    ),
    Feature("days_to_pay_6m", "Mean days from invoice to payment, last 6 months", "days"),
    Feature("late_payments_6m", "Invoices paid late or overdue, last 6 months", "invoices"),
    Feature("days_late_3m", "Mean days paid after the due date, invoices of the last 3m", "days"),
    Feature(
        "late_months_6m",
        "Days paid past terms / 30, invoices of the last 6 months (0.85/month; unpaid ones: "
        "expected)",
        "months",
    ),
    Feature("overdue_ratio", "Overdue balance at the snapshot / monthly revenue", "ratio"),
    Feature("licence_utilisation", "Licence seats in use / licence seats billed", "ratio"),
    Feature("months_to_contract_end", "Months until the active contract ends", "months"),
    Feature("term_month", "Months into the current 12-month term (from onboarding)", "months"),
    Feature("renewal_window_3m", "Months of the next 3 in the last 2 of a 12-month term", "months"),
    Feature(
        "escalation_due_3m",
        "Escalation % due at a renewal in the next 2 months x the horizon months after it",
        "%",
    ),
    Feature("escalation_pct", "Annual escalation clause of the active contract", "%"),
    Feature(
        "months_since_price_change", "Months since a contract term changed the price", "months"
    ),
    Feature(
        "price_change_pct_12m", "Contract price change over the last 12 months (renewals)", "%"
    ),
)
FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURE_SPECS)
CATEGORICAL: tuple[str, ...] = ("industry",)
#: Genome columns that describe the client today but cannot be rebuilt for past snapshots
#: (licence ``seats_in_use`` is the vendor's current count; after a churn it reads 0), so
#: models never learn from them.
CURRENT_STATE_ONLY: tuple[str, ...] = ("licence_utilisation",)
MODEL_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in CURRENT_STATE_ONLY)
DESCRIPTIONS: dict[str, Feature] = {f.name: f for f in FEATURE_SPECS}
#: Panel width before the first snapshot (covers every look-back below).
LOOKBACK_MONTHS = 14
#: Tickets closed in the snapshot month and the 11 before feed the recency-weighted signals;
#: tickets are loaded from 3 months earlier still, for the ones opened before and closed in it.
TICKET_LOOKBACK_MONTHS = 14
#: Invoices (and their lines and payments) issued in the 6 months up to the snapshot.
BILLING_LOOKBACK_MONTHS = 6
#: Price history a feature can see (months); also the cap of months since a price change.
PRICE_LOOKBACK = 13
#: Economics windows look back 6 months (last 3 and the 3 before).
ECONOMICS_LOOKBACK_MONTHS = 5
#: Months with no history beyond this many are capped (tenure, months since price change).
CAP_MONTHS = 60.0


#: The modules whose code defines the genome's values (their text is part of the version).
GENOME_MODULES = ("feature_catalog.py", "genome_panel.py", "genome_billing.py", "genome.py")


def _feature_set_version() -> str:
    here = Path(__file__).parent
    code = "".join((here / name).read_text() for name in GENOME_MODULES)
    text = repr(FEATURE_SPECS) + repr(CATEGORICAL) + code
    return hashlib.sha256(text.encode()).hexdigest()[:12]


FEATURE_SET_VERSION = _feature_set_version()


def snapshot_for(as_of: dt.date) -> dt.date:
    """The month end the genome is computed at for ``as_of`` (itself if it is a month end,
    else the previous month end): partial months would bias every monthly window."""
    end = month_end(as_of)
    return as_of if as_of == end else month_start(as_of) - dt.timedelta(days=1)


def month_end_snapshots(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month end in ``[first, last]``."""
    out = []
    cur = month_end(first)
    while cur <= last:
        out.append(cur)
        cur = month_end(add_months(month_start(cur), 1))
    return out
