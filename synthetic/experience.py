"""The service each client actually experiences: every ticket it would open until the as-of
date if it never left, drawn before the churn process so that churn can react to it.

A client leaves because of what happened to it (the SLA breaches it suffered, how satisfied
its users were with the tickets they opened), not because of an expected value it never
sees. So the tickets are drawn first (``draw_tickets``), their realised experience is summed
per client and month (``monthly_experience``) and feeds the churn hazard
(:mod:`mspilot.synthetic.panel`); :func:`mspilot.synthetic.activity.build_tickets` then keeps
the tickets opened while the client was a customer and writes them out. A ticket opened
before a client churns is the same whichever way the churn goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mspilot.synthetic import catalog
from mspilot.synthetic.calendar import BoolArr, FloatArr, IntArr, Window
from mspilot.synthetic.truth import DEMAND, QUALITY


@dataclass
class TicketDraws:
    """Every ticket a client would open from onboarding to the as-of date (sorted by client,
    then in drawing order)."""

    client: IntArr
    day: IntArr
    opened: IntArr  # epoch seconds, UTC
    priority: IntArr
    category: IntArr
    subject: IntArr
    res_hours: FloatArr  # the resolution time the ticket takes
    breached: BoolArr  # resolution time beyond the priority's SLA target
    satisfaction: FloatArr  # the user's satisfaction (continuous; a CSAT answer rounds it)
    responds: BoolArr  # the user answers the survey once the ticket is resolved

    @property
    def n(self) -> int:
        return len(self.client)


DAY = 86_400


def draw_tickets(
    window: Window,
    quality: FloatArr,
    seats: IntArr,
    base_rate: FloatArr,
    trend: FloatArr,
    start: IntArr,
    rng: np.random.Generator,
) -> TicketDraws:
    """The tickets of every client from its first day ``start`` (-1: none) to the as-of date,
    with their resolution time, SLA breach and the user's satisfaction; ``quality`` and
    ``seats`` have one column per month of the window."""
    # λ[i, d]: expected tickets of client i on day d (the demand model), from its first day
    dm = window.day_month
    days = np.arange(window.n_days)
    season = (
        DEMAND.annual(window.day_of_year)
        * np.asarray(DEMAND.weekday_weights)[window.weekday]
        * np.where(window.is_holiday, DEMAND.holiday_multiplier, 1.0)
    )
    lam = (
        base_rate[:, None]
        * seats[:, dm]
        / DEMAND.days_per_month
        * np.exp(trend[:, None] * (days / 365.25)[None, :] + DEMAND.quality_coef * quality[:, dm])
        * season[None, :]
    )
    alive = (start[:, None] >= 0) & (days[None, :] >= start[:, None])
    counts = rng.poisson(np.where(alive, lam, 0.0))
    ci, di = np.nonzero(counts)
    reps = counts[ci, di]
    client = np.repeat(ci, reps).astype(np.int64)
    day = np.repeat(di, reps).astype(np.int64)
    n = len(client)

    after_hours = rng.random(n) < 0.12
    business = np.clip(rng.normal(11.5, 2.6, n), 7.0, 18.5) * 3600
    night = (rng.uniform(18.5, 31.0, n) % 24) * 3600
    local = np.where(after_hours, night, business).astype(np.int64)
    day_start = (window.first_epoch_day + day) * DAY
    opened = np.clip(day_start + local - window.utc_offset_s[day], day_start, day_start + DAY - 1)

    priority = rng.choice(4, n, p=np.asarray(catalog.PRIORITY_SHARE)).astype(np.int64)
    cat_w = np.array([c[1] for c in catalog.CATEGORIES])
    category = rng.choice(len(cat_w), n, p=cat_w / cat_w.sum()).astype(np.int64)
    subject = rng.integers(0, 5, n).astype(np.int64)
    q = quality[client, window.day_month[day]]
    sla = np.asarray(catalog.PRIORITY_SLA_HOURS)[priority]
    res_hours = np.exp(
        np.log(sla / QUALITY.sla_ratio)
        - QUALITY.resolution_quality * q
        + QUALITY.resolution_sigma * rng.standard_normal(n)
    )
    breached = res_hours > sla
    responds = rng.random(n) < QUALITY.csat_response_rate
    satisfaction = (
        QUALITY.csat_base
        + QUALITY.csat_quality * q
        - QUALITY.csat_breach * breached
        + QUALITY.csat_noise * rng.standard_normal(n)
    )
    return TicketDraws(
        client=client,
        day=day,
        opened=np.asarray(opened, dtype=np.int64),
        priority=priority,
        category=category,
        subject=subject,
        res_hours=np.asarray(res_hours, dtype=np.float64),
        breached=np.asarray(breached, dtype=np.bool_),
        satisfaction=np.asarray(satisfaction, dtype=np.float64),
        responds=np.asarray(responds, dtype=np.bool_),
    )


def monthly_experience(
    draws: TicketDraws, window: Window, n_clients: int
) -> tuple[FloatArr, FloatArr, FloatArr]:
    """Per client and month of the window (by the month a ticket was opened): tickets,
    SLA breaches and the sum of the users' satisfaction (scores clipped to the 1-5 scale)."""
    month = window.day_month[draws.day]
    flat = draws.client * window.n_months + month
    size = n_clients * window.n_months
    shape = (n_clients, window.n_months)

    def total(weights: FloatArr | None) -> FloatArr:
        out = np.bincount(flat, weights=weights, minlength=size).astype(np.float64)
        return np.asarray(out.reshape(shape), dtype=np.float64)

    return (
        total(None),
        total(draws.breached.astype(np.float64)),
        total(np.clip(draws.satisfaction, 1.0, 5.0)),
    )
