"""Technicians, tickets and time entries, drawn from the demand and quality models."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from mspilot.synthetic import catalog
from mspilot.synthetic.calendar import BoolArr, IntArr, Window
from mspilot.synthetic.panel import BLOCK, MANAGED_KINDS, TM, Panel, maintenance_hours

DAY = 86_400
UNRESOLVED_STATUSES = ("open", "in_progress", "waiting_on_client")
MAINTENANCE_NOTE = "Monthly patching and maintenance"


@dataclass
class Technicians:
    ids: list[str]
    names: list[str]
    emails: list[str]
    roles: list[str]
    tier: IntArr
    hourly_cost: list[Decimal]
    primary: IntArr  # per client: the technician who owns the account

    @property
    def n(self) -> int:
        return len(self.ids)


def build_technicians(n_clients: int, email_domain: str, rng: np.random.Generator) -> Technicians:
    n = max(4, round(n_clients / 8))
    shares = np.array([role[2] for role in catalog.TECH_ROLES])
    counts = np.maximum(1, np.round(shares * n)).astype(np.int64)
    counts[0] += n - int(counts.sum())
    role_idx = np.repeat(np.arange(len(catalog.TECH_ROLES)), counts)
    names: list[str] = []
    taken: set[str] = set()
    for _ in range(n):
        while True:
            first = catalog.FIRST_NAMES[int(rng.integers(len(catalog.FIRST_NAMES)))]
            last = catalog.LAST_NAMES[int(rng.integers(len(catalog.LAST_NAMES)))]
            name = f"{first} {last}"
            if name not in taken or len(taken) > 800:
                break
        if name in taken:
            name = f"{name} {len(taken)}"
        taken.add(name)
        names.append(name)
    costs: list[Decimal] = []
    for r in role_idx:
        _, _, _, lo, hi = catalog.TECH_ROLES[int(r)]
        costs.append(Decimal(str(round(float(rng.uniform(lo, hi)), 2))).quantize(Decimal("0.01")))
    tier = np.array([catalog.TECH_ROLES[int(r)][1] for r in role_idx], dtype=np.int64)
    owners = np.flatnonzero(tier <= 2)
    return Technicians(
        ids=[f"tech{k + 1:03d}" for k in range(n)],
        names=names,
        emails=[f"{nm.lower().replace(' ', '.')}@{email_domain}" for nm in names],
        roles=[catalog.TECH_ROLES[int(r)][0] for r in role_idx],
        tier=tier,
        hourly_cost=costs,
        primary=np.asarray(owners[rng.integers(0, len(owners), n_clients)], dtype=np.int64),
    )


@dataclass
class Tickets:
    client: IntArr
    day: IntArr
    opened: IntArr  # epoch seconds, UTC
    resolved: IntArr  # epoch seconds, -1 while unresolved
    priority: IntArr
    category: IntArr
    subject: IntArr
    tech: IntArr
    breached: BoolArr
    csat: IntArr  # 0 = no response
    status: list[str]
    billable: BoolArr

    @property
    def n(self) -> int:
        return len(self.client)


@dataclass
class Entries:
    client: IntArr
    ticket: IntArr  # -1: not ticket work (maintenance)
    tech: IntArr
    day: IntArr
    quarters: IntArr  # hours × 4
    billable: BoolArr

    @property
    def n(self) -> int:
        return len(self.client)


def build_tickets(
    panel: Panel,
    window: Window,
    techs: Technicians,
    start: IntArr,
    end: IntArr,
    rng: np.random.Generator,
) -> Tickets:
    """The tickets opened while each client was a customer (``panel.tickets`` holds every
    ticket drawn up to the as-of date; the churn process already saw their experience)."""
    draws = panel.tickets
    keep = (draws.day >= start[draws.client]) & (draws.day <= end[draws.client])
    client = draws.client[keep]
    day = draws.day[keep]
    opened = draws.opened[keep]
    priority = draws.priority[keep]
    category = draws.category[keep]
    subject = draws.subject[keep]
    breached = draws.breached[keep]
    n = len(client)

    sla = np.asarray(catalog.PRIORITY_SLA_HOURS)[priority]
    resolved = opened + np.round(draws.res_hours[keep] * 3600).astype(np.int64)
    as_of_end = (window.first_epoch_day + window.n_days) * DAY - 1
    cap = (window.first_epoch_day + end[client]) * DAY + DAY - 1
    churned = np.array([panel.churned_on[i] is not None for i in range(panel.n)])[client]
    resolved = np.where(churned & (resolved > cap), cap, resolved)
    open_now = resolved > as_of_end
    breached = np.where(open_now, (as_of_end - opened) / 3600 > sla, breached)
    resolved = np.where(open_now, -1, resolved)

    responded = ~open_now & draws.responds[keep]
    score = np.clip(np.round(draws.satisfaction[keep]), 1, 5).astype(np.int64)
    csat = np.where(responded, score, 0)

    seniors = np.flatnonzero(techs.tier == 3)
    anyone = np.flatnonzero(techs.tier <= 2)
    u = rng.random(n)
    tech = np.where(
        (priority <= 1) & (u < 0.5),
        seniors[rng.integers(0, len(seniors), n)],
        np.where(u < 0.8, techs.primary[client], anyone[rng.integers(0, len(anyone), n)]),
    ).astype(np.int64)

    kind = panel.kind[client]
    out_of_scope = np.array([c[0] for c in catalog.CATEGORIES])[category] == (
        catalog.OUT_OF_SCOPE_CATEGORY
    )
    billable = (kind == TM) | (kind == BLOCK) | (np.isin(kind, MANAGED_KINDS) & out_of_scope)

    open_status = rng.choice(len(UNRESOLVED_STATUSES), n, p=[0.4, 0.4, 0.2])
    recent = resolved >= as_of_end - 7 * DAY
    status = [
        UNRESOLVED_STATUSES[s] if o else ("resolved" if r else "closed")
        for o, r, s in zip(open_now.tolist(), recent.tolist(), open_status.tolist(), strict=True)
    ]

    order = np.lexsort((np.arange(n), client, opened))
    return Tickets(
        client=client[order],
        day=day[order],
        opened=opened[order],
        resolved=resolved[order],
        priority=priority[order],
        category=category[order],
        subject=subject[order],
        tech=tech[order],
        breached=breached[order],
        csat=csat[order],
        status=[status[k] for k in order.tolist()],
        billable=billable[order],
    )


def build_entries(
    panel: Panel,
    window: Window,
    techs: Technicians,
    tickets: Tickets,
    start: IntArr,
    end: IntArr,
    rng: np.random.Generator,
) -> Entries:
    n_t = tickets.n
    per = rng.choice([1, 2, 3], n_t, p=[0.6, 0.3, 0.1]).astype(np.int64)
    ticket = np.repeat(np.arange(n_t), per)
    first_of = np.repeat(np.cumsum(per) - per, per)
    seq = np.arange(len(ticket)) - first_of
    n = len(ticket)
    client = tickets.client[ticket]
    open_day = tickets.day[ticket]
    res = tickets.resolved[ticket]
    res_day = np.where(res >= 0, res // DAY - window.first_epoch_day, window.n_days - 1)
    last_day = np.minimum(np.minimum(res_day, end[client]), window.n_days - 1)
    span = np.maximum(0, last_day - open_day)
    day = np.where(seq == 0, open_day, open_day + np.floor(rng.random(n) * (span + 1)))
    day = day.astype(np.int64)
    effort = np.asarray(catalog.PRIORITY_EFFORT)[tickets.priority[ticket]]
    quarters = np.clip(np.round(rng.lognormal(np.log(0.9 * effort), 0.6) * 4), 1, 16)
    same = (seq == 0) | (rng.random(n) < 0.75)
    tech = np.where(same, tickets.tech[ticket], rng.integers(0, techs.n, n)).astype(np.int64)
    billable = tickets.billable[ticket]

    # proactive maintenance of managed clients: one non-billable entry per active month
    alive = panel.alive()
    alive &= np.isin(panel.kind, MANAGED_KINDS)[:, None]
    mi, mm = np.nonzero(alive)
    first = np.array([window.month_first_day(m) for m in range(window.n_months)])[mm]
    last = np.array([window.month_last_day(m) for m in range(window.n_months)])[mm]
    lo = np.maximum(first, start[mi])
    hi = np.minimum(last, end[mi])
    keep = lo <= hi
    mi, mm, lo, hi = mi[keep], mm[keep], lo[keep], hi[keep]
    m_day = (lo + np.floor(rng.random(len(mi)) * (hi - lo + 1))).astype(np.int64)
    m_quarters = np.round(maintenance_hours(panel.devices[mi, mm]) * 4).astype(np.int64)

    all_client = np.concatenate([client, mi]).astype(np.int64)
    all_ticket = np.concatenate([ticket, np.full(len(mi), -1)]).astype(np.int64)
    all_day = np.concatenate([day, m_day]).astype(np.int64)
    order_key = np.concatenate([ticket, n_t + mi]).astype(np.int64)
    all_seq = np.concatenate([seq, np.zeros(len(mi), dtype=np.int64)])
    order = np.lexsort((all_seq, order_key, all_day))
    return Entries(
        client=all_client[order],
        ticket=all_ticket[order],
        tech=np.concatenate([tech, techs.primary[mi]]).astype(np.int64)[order],
        day=all_day[order],
        quarters=np.concatenate([quarters.astype(np.int64), m_quarters])[order],
        billable=np.concatenate([billable, np.zeros(len(mi), dtype=np.bool_)])[order],
    )
