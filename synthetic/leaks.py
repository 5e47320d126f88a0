"""Which client-months carry the planted revenue leaks that billing must show.

Escalation and discount leaks are contract properties decided in :mod:`panel` (they change
prices, hence churn); the other four are chosen here among the clients and months where they
can occur, preferring clients that carry no other leak.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from mspilot.core.clock import month_end
from mspilot.synthetic.activity import Entries
from mspilot.synthetic.calendar import BoolArr, Window
from mspilot.synthetic.inventory import License
from mspilot.synthetic.panel import BLOCK, MANAGED_KINDS, Panel, leak_count

UNBILLED_AGE_DAYS = 35


@dataclass
class LeakPlan:
    unbilled: BoolArr  # per time entry: billable work deliberately never invoiced
    missing_invoice: set[tuple[int, int]] = field(default_factory=set)  # (client, month)
    block_overage: set[tuple[int, int]] = field(default_factory=set)  # (client, month)
    licenses: list[int] = field(default_factory=list)  # indices into the licence list


def _pick(eligible: list[int], k: int, used: set[int], rng: np.random.Generator) -> list[int]:
    fresh = [c for c in eligible if c not in used]
    rest = [c for c in eligible if c in used]
    chosen = [int(c) for c in rng.permutation(fresh)[:k]] if fresh else []
    if len(chosen) < k and rest:
        chosen += [int(c) for c in rng.permutation(rest)[: k - len(chosen)]]
    used.update(chosen)
    return sorted(chosen)


def plan_leaks(
    panel: Panel,
    window: Window,
    entries: Entries,
    licenses: list[License],
    rng: np.random.Generator,
) -> LeakPlan:
    k = leak_count(int(panel.active.sum()))
    n_inv = window.n_invoiced
    alive = panel.alive()
    used = {t.client for t in panel.terms if t.escalation_missed or t.discount_leak}
    plan = LeakPlan(unbilled=np.zeros(entries.n, dtype=np.bool_))
    entry_month = window.day_month[entries.day]
    kind = panel.kind

    # a monthly invoice never issued (managed clients: recurring fee and licences lost)
    def full_months(i: int) -> list[int]:
        months = [m for m in range(n_inv) if alive[i, m]]
        return [m for m in months[1:] if m != panel.churn_month[i]]

    eligible = [i for i in range(panel.n) if kind[i] in MANAGED_KINDS and len(full_months(i)) >= 2]
    for i in _pick(eligible, k, used, rng):
        months = full_months(i)
        m = months[int(rng.integers(len(months)))]
        plan.missing_invoice.add((i, m))
        # nothing billable that month, so the missing invoice is the only trace
        entries.billable[(entries.client == i) & (entry_month == m)] = False

    # block hours used above the block with no overage line
    hours = np.zeros((panel.n, window.n_months), dtype=np.int64)
    np.add.at(hours, (entries.client, entry_month), entries.quarters)
    included = np.zeros(panel.n, dtype=np.int64)
    for term in panel.terms:
        if term.included_hours is not None:
            included[term.client] = term.included_hours * 4
    over: dict[int, list[int]] = {}
    for i in np.flatnonzero(kind == BLOCK).tolist():
        months = [m for m in range(n_inv) if alive[i, m] and hours[i, m] >= included[i] + 2]
        if months:
            over[int(i)] = months
    for i in _pick(sorted(over), k, used, rng):
        months = over[i]
        plan.block_overage.add((i, months[int(rng.integers(len(months)))]))

    # billable T&M / out-of-scope time left off an invoice, old enough to be overdue
    cutoff = window.as_of - dt.timedelta(days=UNBILLED_AGE_DAYS + 1)
    old_months = [m for m in range(n_inv) if month_end(window.months[m]) <= cutoff]
    billable_any = entries.billable & (kind[entries.client] != BLOCK) & (entries.ticket >= 0)
    candidates: dict[int, list[int]] = {}
    for i in range(panel.n):
        if kind[i] == BLOCK or panel.prospect[i]:
            continue
        mine = billable_any & (entries.client == i)
        months = sorted({int(m) for m in entry_month[mine] if m in old_months})
        months = [m for m in months if (i, m) not in plan.missing_invoice]
        if months:
            candidates[i] = months
    for i in _pick(sorted(candidates), k, used, rng):
        months = candidates[i]
        m = months[int(rng.integers(len(months)))]
        sel = billable_any & (entries.client == i) & (entry_month == m)
        tickets = np.unique(entries.ticket[sel])
        n_tickets = 1 + int(rng.integers(min(3, len(tickets))))
        chosen = rng.choice(tickets, n_tickets, replace=False)
        plan.unbilled |= sel & np.isin(entries.ticket, chosen)

    # licence seats in use above the seats billed, from some month on (clients still active)
    by_client: dict[int, int] = {}
    for index, lic in enumerate(licenses):
        if lic.client in by_client or panel.churn_month[lic.client] >= 0:
            continue  # the client's main product comes first; clients still active only
        recent = max(lic.start + 1, n_inv - 12, 1)
        if recent <= n_inv - 2 and lic.in_use[recent:].min() >= 2:
            by_client[lic.client] = index
    for i in _pick(sorted(by_client), k, used, rng):
        lic = licenses[by_client[i]]
        first = max(lic.start, 0, int(panel.onboard[i])) + 1
        onset = int(rng.integers(max(first, n_inv - 12), n_inv - 1))
        floor = int(lic.in_use[onset:].min())
        gap = 1 + int(rng.integers(max(1, min(floor - 1, round(0.2 * floor)))))
        from_onset = np.arange(window.n_months) >= onset
        lic.billed = np.where(from_onset & (lic.in_use > 0), lic.in_use - gap, lic.in_use)
        lic.leak_onset = onset
        plan.licenses.append(by_client[i])
    return plan
