"""The held-apart anomaly family of the messy world (see :mod:`mspilot.synthetic.messy`):
billing errors none of the six leak rules names, planted in the last invoiced months."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from mspilot.synthetic.panel import MANAGED_KINDS, PER_USER, TM, money

if TYPE_CHECKING:
    from mspilot.synthetic.ledger import Ledger

HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def _recent(mess: Ledger, i: int) -> list[int]:
    return mess.billed_months(i, mess.n_inv - 12)


def off_contract_price(mess: Ledger) -> None:
    """One or two months' recurring line priced below the contract (a typo, an old price)."""
    panel = mess.panel
    eligible = [i for i in range(panel.n) if panel.kind[i] in MANAGED_KINDS and _recent(mess, i)]
    for i in mess.pick(eligible, mess.k_anomaly):
        months = _recent(mess, i)
        start = months[int(mess.rng.integers(len(months)))]
        span = [m for m in (start, start + 1) if m in months][: 1 + int(mess.rng.integers(2))]
        factor = Decimal(str(round(float(mess.rng.uniform(0.6, 0.85)), 2)))
        lost, ev = ZERO, []
        for m in span:
            row = mess.main_recurring(i, m)
            if row is None:
                continue
            disc = row["discount_pct"] or ZERO
            before = row["amount"]
            row["unit_price"] = money(row["unit_price"] * factor)
            row["amount"] = money(row["quantity"] * row["unit_price"] * (HUNDRED - disc) / HUNDRED)
            lost += before - row["amount"]
            ev.append(row["external_id"])
            mess.retotal(row["invoice_id"])
        if ev:
            mess.anomaly("off_contract_price", i, span[0], span[-1], lost, ev)


def silent_seat_drop(mess: Ledger) -> None:
    """Fewer users billed from some month on, while the licences and the work stay the same."""
    panel = mess.panel
    eligible = [
        i
        for i in np.flatnonzero(panel.kind == PER_USER).tolist()
        if panel.churn_month[i] < 0 and len(_recent(mess, i)) >= 6 and panel.seats[i, -1] >= 5
    ]
    for i in mess.pick(eligible, mess.k_anomaly):
        onset = mess.n_inv - 3 - int(mess.rng.integers(4))
        months = [m for m in _recent(mess, i) if m >= onset]
        lost, ev = ZERO, []
        for m in months:
            row = mess.main_recurring(i, m)
            if row is None:
                continue
            drop = max(1, round(float(mess.rng.uniform(0.15, 0.3)) * float(row["quantity"])))
            drop = min(drop, int(row["quantity"]) - 1)
            disc = row["discount_pct"] or ZERO
            before = row["amount"]
            row["quantity"] -= drop
            row["amount"] = money(row["quantity"] * row["unit_price"] * (HUNDRED - disc) / HUNDRED)
            lost += before - row["amount"]
            ev.append(row["external_id"])
            mess.retotal(row["invoice_id"])
        if ev:
            mess.anomaly("silent_seat_drop", i, months[0], months[-1], lost, ev)


def time_to_wrong_client(mess: Ledger) -> None:
    """A technician logs a month's work on another client's tickets to a T&M client, whose
    invoice bills it."""
    panel = mess.panel
    targets = [i for i in np.flatnonzero(panel.kind == TM).tolist() if _recent(mess, i)]
    by_client: dict[str, list[dict[str, Any]]] = {}
    for e in mess.t["time_entries"]:
        if e["ticket_id"] is not None:
            by_client.setdefault(e["client_id"], []).append(e)
    for b in mess.pick(targets, mess.k_anomaly):
        months = [m for m in _recent(mess, b) if mess.lines(b, m, "labor", "LAB-HOURLY")]
        if not months:
            continue
        m = months[int(mess.rng.integers(len(months)))]
        first = mess.window.months[m]
        sources = [
            a
            for a in range(panel.n)
            if a not in mess.busy
            and sum(
                float(e["hours"])
                for e in by_client.get(panel.ids[a], [])
                if e["work_date"].replace(day=1) == first
            )
            >= 4
        ]
        if not sources:
            continue
        a = sources[int(mess.rng.integers(len(sources)))]
        mess.busy.add(a)
        theirs = [e for e in by_client[panel.ids[a]] if e["work_date"].replace(day=1) == first]
        tickets = sorted({str(e["ticket_id"]) for e in theirs})
        chosen = set(tickets[: 1 + int(mess.rng.integers(min(3, len(tickets))))])
        moved = [e for e in theirs if e["ticket_id"] in chosen]
        target = mess.lines(b, m, "labor", "LAB-HOURLY")[0]
        hours = ZERO
        for e in moved:
            h = e["hours"]
            assert isinstance(h, Decimal)
            line_id = e["invoice_line_id"]
            if line_id:
                old = next(r for r in mess.t["invoice_lines"] if r["external_id"] == line_id)
                mess.entries_of[str(line_id)].remove(e)
                if old["kind"] == "labor":
                    old["quantity"] -= h
                    old["amount"] = money(old["quantity"] * old["unit_price"])
                    mess.relabel_hours(old)
                    if old["quantity"] <= 0:
                        mess.remove_line(old)
                    mess.retotal(old["invoice_id"])
            e["client_id"] = panel.ids[b]
            e["billable"] = True
            e["invoice_line_id"] = target["external_id"]
            mess.entries_of.setdefault(target["external_id"], []).append(e)
            hours += h
        target["quantity"] += hours
        target["amount"] = money(target["quantity"] * target["unit_price"])
        mess.relabel_hours(target)
        mess.retotal(target["invoice_id"])
        dollars = money(hours * target["unit_price"])
        ev = [target["external_id"], *(str(e["external_id"]) for e in moved)]
        mess.anomaly("time_to_wrong_client", b, m, m, dollars, ev)


def duplicated_invoice(mess: Ledger) -> None:
    """A month's invoice issued twice under a new number (the copy is unpaid)."""
    panel = mess.panel
    eligible = [i for i in range(panel.n) if _recent(mess, i)]
    for i in mess.pick(eligible, mess.k_anomaly):
        months = _recent(mess, i)
        m = months[int(mess.rng.integers(len(months)))]
        src_id = mess.invoice_of(i, m)
        assert src_id is not None
        src = mess.inv[src_id]
        inv_id = mess.new_id("invoice")
        copy = {
            **src,
            "external_id": inv_id,
            "number": f"INV-X{inv_id[2:]}",
            "balance": src["total"],
            "status": "overdue" if src["due_on"] < mess.window.as_of else "open",
        }
        mess.t["invoices"].append(copy)
        mess.inv[inv_id] = copy
        mess.lines_of[inv_id] = []
        for row in list(mess.lines_of[src_id]):
            mess.add_line(
                inv_id, **{k: v for k, v in row.items() if k not in ("external_id", "invoice_id")}
            )
        mess.anomaly("duplicated_invoice", i, m, m, src["total"], [inv_id, src_id])
