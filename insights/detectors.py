"""The detectors: today's signals and the tenant's thresholds in, candidate insights out.

Pure functions (no database): every candidate carries its stable ``key``, the detector's
measure (``metric``, compared with the threshold) and the dollars at stake, which rank the
digest:

- churn risk: 90-day probability × twelve months of the client's revenue (revenue at risk);
- revenue leak: the dollars the reconciliation found unbilled;
- pricing: the optimiser's expected 12-month gain of the recommended raise;
- capacity: forecast hours beyond capacity over the next weeks, priced as overtime.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mspilot.insights.model import DETECTORS, InsightItem, Severity
from mspilot.insights.signals import (
    OVERTIME_PREMIUM,
    CapacitySignal,
    ChurnSignal,
    LeakSignal,
    PricingSignal,
    Signals,
)

#: Urgent items also go out in the daily alert.
URGENT_CHURN = 0.25
URGENT_LEAK_DOLLARS = 5000.0
URGENT_CAPACITY_DAYS = 14

LEAK_LABELS = {
    "unbilled_time": "Unbilled time",
    "license_seats_over_billed": "Licence seats used but not billed",
    "escalation_not_applied": "Price escalation not applied",
    "missing_recurring_invoice": "Recurring invoice missing",
    "block_overage_not_billed": "Block-hours overage not billed",
    "discount_beyond_policy": "Discount beyond policy",
}


@dataclass
class Detection:
    items: list[InsightItem]
    below_threshold: int


def _units(r: PricingSignal) -> str:
    return f" across {r.units:,.0f} {r.unit}s" if r.units > 1 else ""


def _times(risk: float, typical: float) -> str:
    return f"{risk / typical:.1f}×" if typical > 0 else "above"


def _audience(detector: str) -> list[str]:
    return sorted(DETECTORS[detector].audience)


def churn_items(rows: list[ChurnSignal], threshold: float) -> Detection:
    items = []
    below = 0
    typical = float(np.median([r.risk for r in rows])) if rows else 0.0
    for r in rows:
        if r.risk < threshold:
            below += 1
            continue
        at_risk = r.risk * r.monthly_revenue * 12
        urgent = r.risk >= max(URGENT_CHURN, 2 * threshold)
        drivers = "; ".join(d.text for d in r.drivers) or "no single dominant reason"
        items.append(
            InsightItem(
                key=f"churn_risk:{r.client_id}",
                detector="churn_risk",
                title=f"{r.client_name}: {r.risk:.1%} risk of leaving within 90 days",
                body=(
                    f"${at_risk:,.0f} of yearly revenue at risk "
                    f"(${r.monthly_revenue:,.0f}/month); {_times(r.risk, typical)} the typical "
                    f"client's {typical:.1%}. Why: {drivers}."
                ),
                dollars=round(at_risk, 2),
                metric=round(r.risk, 4),
                threshold=threshold,
                severity="critical" if urgent else "warning",
                urgent=urgent,
                client_id=r.client_id,
                client_name=r.client_name,
                drivers=list(r.drivers),
                audience=_audience("churn_risk"),
                data={"risk_90d": round(r.risk, 4), "monthly_revenue": round(r.monthly_revenue, 2)},
            )
        )
    return Detection(items, below)


def leak_items(rows: list[LeakSignal], threshold: float) -> Detection:
    items = []
    below = 0
    for r in rows:
        if r.dollars < threshold:
            below += 1
            continue
        label = LEAK_LABELS.get(r.type, r.type.replace("_", " ").capitalize())
        urgent = r.dollars >= max(URGENT_LEAK_DOLLARS, threshold)
        span = (
            r.period_start.strftime("%b %Y")
            if (r.period_start.year, r.period_start.month)
            == (r.period_end.year, r.period_end.month)
            else f"{r.period_start:%b %Y}–{r.period_end:%b %Y}"
        )
        shown = ", ".join(r.evidence[:6]) + (
            f" and {len(r.evidence) - 6} more" if len(r.evidence) > 6 else ""
        )
        items.append(
            InsightItem(
                key=f"revenue_leak:{r.type}:{r.client_id}:{r.period_start.isoformat()}",
                detector="revenue_leak",
                title=f"{label}: ${r.dollars:,.0f} at {r.client_name} ({span})",
                body=f"{r.detail}. Evidence: {shown}." if r.evidence else f"{r.detail}.",
                dollars=round(r.dollars, 2),
                metric=round(r.dollars, 2),
                threshold=threshold,
                severity="critical" if urgent else "warning",
                urgent=urgent,
                client_id=r.client_id,
                client_name=r.client_name,
                evidence=list(r.evidence),
                audience=_audience("revenue_leak"),
                data={
                    "leak_type": r.type,
                    "period_start": r.period_start.isoformat(),
                    "period_end": r.period_end.isoformat(),
                },
            )
        )
    return Detection(items, below)


def pricing_items(rows: list[PricingSignal], threshold: float) -> Detection:
    items = []
    below = 0
    for r in rows:
        if r.expected_gain < threshold:
            below += 1
            continue
        action = {
            "type": "price_change",
            "client_id": r.client_id,
            "client_name": r.client_name,
            "contract_id": r.contract_id,
            "unit": r.unit,
            "from_price": r.current_price,
            "to_price": r.recommended_price,
            "change_pct": r.change_pct,
            "effective_on": r.effective_on.isoformat(),
        }
        items.append(
            InsightItem(
                key=f"pricing:{r.client_id}:{r.contract_id}",
                detector="pricing",
                title=(
                    f"{r.client_name}: raise ${r.current_price:,.2f} → "
                    f"${r.recommended_price:,.2f}/{r.unit} ({r.change_pct:+.1f}%) "
                    f"from {r.effective_on:%d %b %Y}"
                ),
                body=(
                    f"Expected gain ${r.expected_gain:,.0f} over 12 months{_units(r)}; "
                    f"90-day churn {r.churn_now:.1%} → {r.churn_new:.1%}. "
                    "Approve to record the change."
                ),
                dollars=round(r.expected_gain, 2),
                metric=round(r.expected_gain, 2),
                threshold=threshold,
                severity="info",
                client_id=r.client_id,
                client_name=r.client_name,
                action=action,
                audience=_audience("pricing"),
                data={
                    "recommended_price": r.recommended_price,
                    "change_pct": r.change_pct,
                    "reasoning": r.reasoning,
                },
            )
        )
    return Detection(items, below)


def capacity_items(signal: CapacitySignal, threshold: float, as_of: dt.date) -> Detection:
    short = [
        (w, w.hours - signal.capacity_hours)
        for w in signal.weeks
        if w.hours > signal.capacity_hours
    ]
    hours = sum(gap for _, gap in short)
    if not short:
        return Detection([], 0)
    if hours < threshold:
        return Detection([], 1)
    first = short[0][0].week
    worst_week, worst_gap = max(short, key=lambda s: s[1])
    dollars = hours * signal.loaded_cost * OVERTIME_PREMIUM
    urgent = (first - as_of).days <= URGENT_CAPACITY_DAYS
    severity: Severity = "critical" if urgent else "warning"
    iso = first.isocalendar()
    techs = worst_week.technicians_needed
    need = f"; {techs:.1f} technicians needed that week" if techs else ""
    return Detection(
        [
            InsightItem(
                key=f"capacity:{iso.year}-W{iso.week:02d}",
                detector="capacity",
                title=(
                    f"Capacity crunch from the week of {first:%d %b}: {hours:,.0f} h beyond "
                    f"capacity over {len(short)} week(s)"
                ),
                body=(
                    f"Forecast demand exceeds the team's {signal.capacity_hours:,.0f} h/week; the "
                    f"worst week ({worst_week.week:%d %b}) is {worst_gap:,.0f} h short{need}. "
                    f"Covering it with overtime costs about ${dollars:,.0f}."
                ),
                dollars=round(dollars, 2),
                metric=round(hours, 1),
                threshold=threshold,
                severity=severity,
                urgent=urgent,
                evidence=[f"{w.week.isoformat()}: {w.hours:,.0f} h forecast" for w, _ in short],
                audience=_audience("capacity"),
                data={
                    "capacity_hours_per_week": signal.capacity_hours,
                    "short_weeks": [w.week.isoformat() for w, _ in short],
                    "shortfall_hours": round(hours, 1),
                },
            )
        ],
        0,
    )


def detect(signals: Signals, thresholds: Mapping[str, float]) -> Detection:
    """Every detector over the signals it has; items above their thresholds."""
    found: list[InsightItem] = []
    below = 0
    parts = []
    if signals.churn is not None:
        parts.append(churn_items(signals.churn, thresholds["churn_risk"]))
    if signals.leaks is not None:
        parts.append(leak_items(signals.leaks, thresholds["revenue_leak"]))
    if signals.pricing is not None:
        parts.append(pricing_items(signals.pricing, thresholds["pricing"]))
    if signals.capacity is not None:
        parts.append(capacity_items(signals.capacity, thresholds["capacity"], signals.as_of))
    for part in parts:
        found.extend(part.items)
        below += part.below_threshold
    return Detection(found, below)
