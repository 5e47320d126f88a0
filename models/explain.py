"""Churn drivers in words a business owner reads, that never contradict the model.

A driver is one group of genome signals (``GROUPS``: CSAT, SLA, payments, ...) whose
contribution raises *this* client's risk against the typical client (the model's reference:
the training mean of each column). It is told from the group's column that adds the most,
as a level against the typical client ("Satisfaction 3.7/5 over the last 6 months, below the
typical client's 4.3") and, when the last 3 months moved the same risky way, as a change
("CSAT fell from 4.2 to 3.6 in 3 months; ..."). The rules every shown reason obeys:

- its contribution is positive (at least ``MIN_CONTRIBUTION`` log-odds); reasons are ranked by it;
- "above" / "below" and "rose" / "fell" follow the numbers shown and the column's direction
  (whether more of it raises or lowers the risk, read off the sign of its contribution);
- a change is told only when it is material (``MIN_CHANGE``), the values shown differ and it
  moved the risky way; a level is told only when it differs from the typical client's as
  shown (else the reason is dropped).

``ChurnDriver`` is the one typed driver: the churn model returns it, ``models.serving`` serves
it and the API, the chat tools and the digests show it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: The smallest contribution (log-odds against the typical client) told as a reason: below
#: it the signal changes the client's odds by under 10%.
MIN_CONTRIBUTION = 0.1


class ChurnDriver(BaseModel):
    """One reason a client's churn risk is above the typical client's."""

    model_config = ConfigDict(frozen=True)

    group: str = Field(description="The kind of signal: csat, sla, payments, price, ...")
    text: str = Field(description="The reason in plain words")
    contribution: float = Field(
        description="Log-odds this reason adds to the client's risk against the typical client"
    )
    feature: str | None = Field(default=None, description="The genome column it is told from")
    value: float | None = Field(default=None, description="The client's value of that column")
    typical: float | None = Field(default=None, description="The typical client's value")


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


# ---- how each column is told --------------------------------------------------------------

Fmt = Callable[[float, int], str]


def _score(v: float, d: int) -> str:
    return f"{v:.{d}f}/5"


def _plain_score(v: float, d: int) -> str:
    return f"{v:.{d}f}"


def _share(v: float, d: int) -> str:
    return f"{v * 100:.{d}f}%"


def _pct(v: float, d: int) -> str:
    return f"{v:+.{d}f}%"


def _days_from_months(v: float, d: int) -> str:
    return f"{v * 30:.{d}f} days"


def _days(v: float, d: int) -> str:
    return f"{v:.{d}f} days"


def _number(v: float, d: int) -> str:
    return f"{v:,.{d}f}"


def _money(v: float, d: int) -> str:
    return f"${v:,.{d}f}"


def _hours(v: float, d: int) -> str:
    return f"{v:,.{d}f} h"


@dataclass(frozen=True)
class Told:
    """How a column is told: ``{subject} {value} {window}``, plus an optional 3-month change
    (``change``: the column now, the column 3 months before, the subject of the change and
    whether it is on the column's own scale)."""

    subject: str
    fmt: Fmt
    window: str = ""
    decimals: int = 0
    change: tuple[str, str, str] | None = None
    change_fmt: Fmt | None = None
    same_scale: bool = True


#: The smallest 3-month move told as a change, per change pair's "now" column (a smaller one
#: is noise, however it reads).
MIN_CHANGE: dict[str, float] = {
    "csat_mean_3m": 0.2,
    "sla_breach_rate_3m": 0.05,
    "margin_pct_3m": 0.05,
    "tickets_3m": 3.0,
}


_CSAT_CHANGE = ("csat_mean_3m", "csat_mean_prev_3m", "CSAT")
_SLA_CHANGE = ("sla_breach_rate_3m", "sla_breach_rate_prev_3m", "SLA breaches")

TOLD: dict[str, Told] = {
    "satisfaction_6m": Told(
        "Satisfaction", _score, "over the last 6 months", 1, _CSAT_CHANGE, _plain_score
    ),
    "csat_6m": Told("CSAT", _score, "over the last 6 months", 1, _CSAT_CHANGE, _plain_score),
    "csat_recent": Told("Recent CSAT", _score, "", 1, _CSAT_CHANGE, _plain_score),
    "csat_mean_3m": Told("CSAT", _score, "over the last 3 months", 1, _CSAT_CHANGE, _plain_score),
    "csat_mean_prev_3m": Told("CSAT", _score, "3 to 6 months ago", 1),
    "csat_trend": Told("CSAT moved", _plain_score, "points in 3 months", 2),
    "sla_breach_6m": Told(
        "SLA breached on", _share, "of tickets over the last 6 months", 0, _SLA_CHANGE, _share
    ),
    "sla_breach_rate_3m": Told(
        "SLA breached on", _share, "of tickets over the last 3 months", 0, _SLA_CHANGE, _share
    ),
    "sla_breach_recent": Told(
        "SLA breached on", _share, "of recent tickets", 0, _SLA_CHANGE, _share
    ),
    "sla_breach_rate_prev_3m": Told("SLA breached on", _share, "of tickets 3 to 6 months ago"),
    "resolution_time_recent": Told(
        "Resolution time (log vs the usual for the priority)", _plain_score, "recently", 2
    ),
    "late_months_6m": Told("Paid", _days_from_months, "past terms on average over 6 months"),
    "days_late_3m": Told("Paid", _days, "past due on average over the last 3 months"),
    "days_to_pay_6m": Told("Pays in", _days, "on average over the last 6 months"),
    "late_payments_6m": Told("Late payments:", _number, "in the last 6 months"),
    "overdue_ratio": Told("Overdue balance:", _plain_score, "months of revenue", 1),
    "service_margin_pct_3m": Told("Service margin", _share, "over the last 3 months"),
    "margin_pct_3m": Told(
        "Margin",
        _share,
        "over the last 3 months",
        0,
        ("margin_pct_3m", "margin_pct_prev_3m", "Margin"),
        _share,
    ),
    "margin_pct_prev_3m": Told("Margin", _share, "3 to 6 months ago"),
    "margin_3m": Told("Margin", _money, "over the last 3 months"),
    "tickets_3m": Told(
        "Tickets:",
        _number,
        "in the last 3 months",
        0,
        ("tickets_3m", "tickets_prev_3m", "Tickets per quarter"),
        _number,
    ),
    "tickets_prev_3m": Told("Tickets:", _number, "3 to 6 months ago"),
    "ticket_trend": Told("Ticket trend (log, 3 months on the 3 before)", _plain_score, "", 2),
    "tickets_per_seat_3m": Told("Tickets per user:", _plain_score, "in the last 3 months", 1),
    "p1_share_3m": Told("P1 share of tickets", _share, "over the last 3 months"),
    "price_change_pct_12m": Told("Price change", _pct, "over the last 12 months"),
    "months_since_price_change": Told("Months since the last price change:", _number),
    "price_shock": Told("Price change billed in the last 2 months", _pct),
    "price_exposure": Told("Price increases weighing on the next 3 months", _plain_score, "", 1),
    "escalation_due_3m": Told("Escalation due soon", _plain_score, "", 1),
    "term_month": Told("Months into the 12-month term:", _number),
    "renewal_window_3m": Told("Renewal months in the next 3:", _number),
    "months_to_contract_end": Told("Months to the contract's end:", _number),
    "escalation_pct": Told("Escalation clause", _pct),
    "revenue_3m": Told("Revenue", _money, "over the last 3 months"),
    "revenue_trend": Told("Revenue change", _share, "vs the 3 months before"),
    "mrr": Told("Monthly recurring revenue", _money),
    "hours_3m": Told("Work:", _hours, "in the last 3 months"),
    "hours_per_seat_3m": Told("Work per user:", _hours, "in the last 3 months", 1),
    "hours_per_ticket_3m": Told("Work per ticket:", _hours, "in the last 3 months", 1),
    "effective_rate_3m": Told("Effective rate", _money, "per hour over the last 3 months"),
    "licence_utilisation": Told("Licence seats in use", _share),
    "tenure_months": Told("Client for", _number, "months"),
    "seats": Told("Users covered:", _number),
}


def _num(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _distinct(fmt: Fmt, a: float, b: float, decimals: int) -> tuple[str, str] | None:
    """``a`` and ``b`` formatted so they read differently (one more decimal if needed); None
    when they still read the same. Rounding keeps their order, so the words follow it."""
    for d in (decimals, decimals + 1):
        shown = fmt(a, d), fmt(b, d)
        if shown[0] != shown[1]:
            return shown
    return None


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:] if text else text


def _lower(text: str) -> str:
    """The first letter in lower case, unless the first word is an acronym (SLA, CSAT)."""
    return text if text[:2].isupper() else text[:1].lower() + text[1:]


def _level(told: Told, value: float, typical: float | None) -> str | None:
    """``Subject value window, above|below the typical client's typical`` (None: the two read
    the same)."""
    head = told.subject
    if typical is None:
        shown = told.fmt(value, told.decimals)
        return " ".join(p for p in (head, shown, told.window) if p)
    pair = _distinct(told.fmt, value, typical, told.decimals)
    if pair is None:
        return None
    mine, theirs = pair
    side = "above" if value > typical else "below"
    return " ".join(p for p in (head, mine, told.window) if p) + (
        f", {side} the typical client's {theirs}"
    )


def _change(
    told: Told, row: Mapping[str, Any], risk_sign: int, typical: float | None
) -> str | None:
    """The 3-month change of the column's change pair, when it moved the risky way and the
    values shown differ (and, on the column's own scale, ended on the risky side of the typical
    client)."""
    if told.change is None or told.change_fmt is None or risk_sign == 0:
        return None
    now_col, prev_col, subject = told.change
    now, prev = _num(row, now_col), _num(row, prev_col)
    if now is None or prev is None or risk_sign * (now - prev) <= 0:
        return None
    if told.same_scale and typical is not None and risk_sign * (now - typical) <= 0:
        return None
    if abs(now - prev) < MIN_CHANGE.get(now_col, 0.0):
        return None
    pair = told.change_fmt(prev, told.decimals), told.change_fmt(now, told.decimals)
    if pair[0] == pair[1]:
        return None
    verb = "rose" if now > prev else "fell"
    return f"{subject} {verb} from {pair[0]} to {pair[1]} in 3 months"


def _price(row: Mapping[str, Any]) -> str | None:
    """A price increase weighing on the coming months (never a cut: a cut lowers the risk)."""
    due, esc = _num(row, "escalation_due_3m") or 0.0, _num(row, "escalation_pct") or 0.0
    if due > 0 and esc > 0:
        return f"A {esc:.0f}% escalation is due at the renewal within 2 months"
    pct = _num(row, "price_change_pct_12m") or 0.0
    if pct <= 0:
        return None
    shown = f"{pct:.0f}" if pct >= 0.5 else f"{pct:.1f}"
    if shown in ("0", "0.0"):
        return None
    since = _num(row, "months_since_price_change")
    if since is None or since > 12:
        return f"Price rose {shown}% in the last 12 months"
    months = round(since)
    when = "this month" if months <= 0 else "last month" if months == 1 else f"{months} months ago"
    return f"Price rose {shown}% {when}"


def _renewal(row: Mapping[str, Any]) -> str:
    into = _num(row, "term_month")
    if into is None:
        return "The contract renews within 3 months"
    left = min(max(12 - round(into), 1), 3)
    if left == 1:
        return "The 12-month term renews next month"
    return f"The 12-month term renews in {left} months"


def _payments_extra(row: Mapping[str, Any]) -> str:
    late = _num(row, "late_payments_6m") or 0.0
    if late < 1:
        return ""
    return f" ({late:.0f} late payment{'s' if round(late) != 1 else ''})"


def explain(
    group: str,
    feature: str,
    contribution: float,
    value: float | None,
    typical: float | None,
    row: Mapping[str, Any],
) -> ChurnDriver | None:
    """The reason ``group`` raises this client's risk, told from ``feature`` (the group's
    column adding the most), or None when it does not hold up: a contribution below
    ``MIN_CONTRIBUTION``, or nothing to tell that reads differently from the typical client.

    ``value`` is the client's value of ``feature`` (as the model reads it, derived columns
    included), ``typical`` the typical client's (None: no reference, e.g. a tree model), ``row``
    the client's genome."""
    if not contribution >= MIN_CONTRIBUTION:
        return None
    if group == "industry":
        name = row.get("industry") or "its industry"
        return ChurnDriver(
            group=group,
            text=f"Clients in {name} leave more often than the typical client",
            contribution=contribution,
            feature="industry",
        )
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    # Which way the column moves the risk: a positive contribution sits on the risky side of
    # the typical client, so the sign of (value - typical) is the column's direction.
    risk_sign = 0 if typical is None else (1 if value > typical else -1 if value < typical else 0)
    if typical is not None and risk_sign == 0:
        return None
    text: str | None
    if feature in ("price_exposure", "price_shock", "escalation_due_3m") and risk_sign >= 0:
        text = _price(row)
    elif feature in ("renewal_window_3m", "term_month") and risk_sign >= 0 and value > 0:
        text = _renewal(row)
    else:
        told = TOLD.get(feature) or Told(
            feature.replace("_", " ").capitalize() + ":", _plain_score, "", 2
        )
        level = _level(told, value, typical)
        if level is None:
            return None
        if feature == "late_months_6m":
            level += _payments_extra(row)
        change = _change(told, row, risk_sign, typical)
        text = f"{change}; {_lower(level)}" if change else level
    if not text:
        return None
    return ChurnDriver(
        group=group,
        text=_sentence(text),
        contribution=round(float(contribution), 4),
        feature=feature,
        value=round(float(value), 6),
        typical=None if typical is None else round(float(typical), 6),
    )
