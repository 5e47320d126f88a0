"""Turn genome signals into sentences a business owner reads ("CSAT fell from 4.6 to 3.1 in
3 months"). Related features are grouped so one reason is told once."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd

GROUPS: dict[str, tuple[str, ...]] = {
    "csat": (
        "csat_mean_3m",
        "csat_mean_prev_3m",
        "csat_trend",
        "csat_recent",
        "csat_6m",
        "satisfaction_6m",
    ),
    "sla": (
        "sla_breach_rate_3m",
        "sla_breach_rate_prev_3m",
        "sla_breach_recent",
        "sla_breach_6m",
        "resolution_time_recent",
    ),
    "tickets": ("tickets_3m", "tickets_prev_3m", "ticket_trend", "tickets_per_seat_3m"),
    "p1": ("p1_share_3m",),
    "payments": (
        "days_to_pay_6m",
        "late_payments_6m",
        "days_late_3m",
        "late_months_6m",
        "overdue_ratio",
    ),
    "price": (
        "price_change_pct_12m",
        "months_since_price_change",
        "price_shock",
        "price_exposure",
        "escalation_due_3m",
    ),
    "renewal": ("term_month", "renewal_window_3m"),
    "contract_end": ("months_to_contract_end", "escalation_pct"),
    "margin": ("margin_pct_3m", "margin_pct_prev_3m", "margin_3m", "service_margin_pct_3m"),
    "revenue": ("revenue_3m", "revenue_trend", "mrr"),
    "workload": ("hours_3m", "hours_per_seat_3m", "hours_per_ticket_3m", "effective_rate_3m"),
    "licences": ("licence_utilisation",),
    "tenure": ("tenure_months",),
    "size": ("seats",),
    "industry": ("industry",),
}


def driver_groups() -> dict[str, tuple[str, ...]]:
    return GROUPS


def _num(row: pd.Series, name: str) -> float | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def _csat(row: pd.Series) -> str:
    now, prev = _num(row, "csat_mean_3m"), _num(row, "csat_mean_prev_3m")
    if now is None:
        six = _num(row, "csat_6m")
        if six is not None:
            return f"No CSAT responses in the last 3 months; {six:.1f} over 6 months"
        return "No CSAT responses in the last 3 months"
    if prev is None:
        return f"CSAT averaged {now:.1f} over the last 3 months"
    verb = "fell" if now < prev else "rose" if now > prev else "held"
    if verb == "held":
        return f"CSAT held at {now:.1f} over 6 months"
    return f"CSAT {verb} from {prev:.1f} to {now:.1f} in 3 months"


def _sla(row: pd.Series) -> str:
    now, prev = _num(row, "sla_breach_rate_3m"), _num(row, "sla_breach_rate_prev_3m")
    if now is None:
        six = _num(row, "sla_breach_6m")
        if six is not None:
            return f"SLA breached on about {_pct(six)} of tickets opened in the last 6 months"
        return "No closed tickets in the last 3 months"
    text = f"SLA breached on {_pct(now)} of tickets in the last 3 months"
    return f"{text} (was {_pct(prev)})" if prev is not None else text


def _tickets(row: pd.Series) -> str:
    now, prev = _num(row, "tickets_3m") or 0.0, _num(row, "tickets_prev_3m") or 0.0
    if now > prev:
        return f"Tickets rose from {prev:.0f} to {now:.0f} per quarter"
    if now < prev:
        return f"Tickets fell from {prev:.0f} to {now:.0f} per quarter"
    return f"{now:.0f} tickets per quarter, unchanged"


def _p1(row: pd.Series) -> str:
    share = _num(row, "p1_share_3m")
    return "No tickets in 3 months" if share is None else f"{_pct(share)} of tickets were P1"


def _payments(row: pd.Series) -> str:
    late, days = _num(row, "late_payments_6m") or 0.0, _num(row, "days_to_pay_6m")
    overdue = _num(row, "overdue_ratio") or 0.0
    past_terms = (_num(row, "late_months_6m") or 0.0) * 30.0
    parts = []
    if late:
        parts.append(f"{late:.0f} late payment{'s' if late != 1 else ''} in 6 months")
    if past_terms >= 1.0:
        parts.append(f"{past_terms:.0f} days past terms on recent invoices")
    if days is not None:
        parts.append(f"pays in {days:.0f} days on average")
    if overdue >= 0.5:
        parts.append(f"{overdue:.1f} months of revenue overdue")
    text = "; ".join(parts) or "Pays on time"
    return text[0].upper() + text[1:]


def _price(row: pd.Series) -> str:
    pct, since = _num(row, "price_change_pct_12m") or 0.0, _num(row, "months_since_price_change")
    due, esc = _num(row, "escalation_due_3m") or 0.0, _num(row, "escalation_pct") or 0.0
    if due > 0 and esc > 0:
        return f"A {esc:.0f}% escalation is due at the renewal within 2 months"
    if abs(pct) >= 0.5:
        verb = "rose" if pct > 0 else "fell"
        return f"Price {verb} {abs(pct):.0f}% in the last 12 months"
    if since is not None:
        return f"No price change for {since:.0f} months"
    return "No price change in 12 months"


def _renewal(row: pd.Series) -> str:
    into = _num(row, "term_month")
    if into is None:
        return "Renewal date unknown"
    left = 12 - round(into)
    if left == 1:
        return "The 12-month term renews next month"
    return f"The 12-month term renews in {left} months"


def _contract_end(row: pd.Series) -> str:
    months = _num(row, "months_to_contract_end")
    if months is None:
        return "No fixed contract end date"
    if months < 1:
        return "Contract ends within a month"
    return f"Contract ends in {months:.0f} months"


def _margin(row: pd.Series) -> str:
    now, prev = _num(row, "margin_pct_3m"), _num(row, "margin_pct_prev_3m")
    if now is None:
        return "No revenue in the last 3 months"
    if prev is not None and abs(now - prev) >= 0.02:
        verb = "fell" if now < prev else "rose"
        return f"Margin {verb} from {_pct(prev)} to {_pct(now)}"
    return f"Margin is {_pct(now)}"


def _revenue(row: pd.Series) -> str:
    rev, trend = _num(row, "revenue_3m") or 0.0, _num(row, "revenue_trend")
    if trend is not None and abs(trend) >= 0.05:
        verb = "up" if trend > 0 else "down"
        return f"Revenue {verb} {_pct(abs(trend))} vs the previous 3 months (${rev:,.0f})"
    return f"Revenue ${rev:,.0f} over the last 3 months"


def _workload(row: pd.Series) -> str:
    hours, rate = _num(row, "hours_3m") or 0.0, _num(row, "effective_rate_3m")
    per_seat = _num(row, "hours_per_seat_3m")
    text = f"{hours:.0f} hours of work in 3 months"
    if per_seat is not None:
        text += f" ({per_seat:.1f} per user)"
    if rate is not None:
        text += f", effective rate ${rate:,.0f}/h"
    return text


def _licences(row: pd.Series) -> str:
    util = _num(row, "licence_utilisation")
    if util is None:
        return "No licences billed"
    return f"Uses {_pct(util)} of the licence seats billed"


def _tenure(row: pd.Series) -> str:
    months = _num(row, "tenure_months") or 0.0
    if months < 24:
        return f"Client for {months:.0f} months"
    return f"Client for {months / 12:.1f} years"


def _size(row: pd.Series) -> str:
    return f"{_num(row, 'seats') or 0:.0f} users covered"


def _industry(row: pd.Series) -> str:
    return f"Industry: {row.get('industry', 'unknown')}"


PHRASES: dict[str, Callable[[pd.Series], str]] = {
    "csat": _csat,
    "sla": _sla,
    "tickets": _tickets,
    "p1": _p1,
    "payments": _payments,
    "price": _price,
    "renewal": _renewal,
    "contract_end": _contract_end,
    "margin": _margin,
    "revenue": _revenue,
    "workload": _workload,
    "licences": _licences,
    "tenure": _tenure,
    "size": _size,
    "industry": _industry,
}


def phrase_driver(group: str, row: pd.Series | dict[str, Any]) -> str:
    series = row if isinstance(row, pd.Series) else pd.Series(row)
    return PHRASES[group](series)
