"""Data faults of the messy world (see :mod:`mspilot.synthetic.messy`): worklogs saved
twice, worklogs posted after their month's invoice, a technician's cost rate changed
mid-month. Not leaks; recorded in the ground truth with ``family="fault"``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mspilot.core.clock import month_end
from mspilot.synthetic import catalog
from mspilot.synthetic.ledger import Ledger, Row
from mspilot.synthetic.panel import BLOCK, TM, money


def duplicates(mess: Ledger) -> None:
    """A worklog saved twice: the copy is billable and linked to nothing."""
    cutoff = mess.window.as_of - dt.timedelta(days=40)
    candidates = [
        e
        for e in mess.t["time_entries"]
        if e["billable"]
        and e["invoice_line_id"]
        and e["work_date"] < cutoff
        and mess.index[e["client_id"]] not in mess.busy
    ]
    if not candidates:
        return
    chosen = mess.rng.choice(len(candidates), min(2 * mess.k, len(candidates)), replace=False)
    for k in sorted(chosen.tolist()):
        e = candidates[k]
        copy = {**e, "external_id": mess.new_id("entry"), "invoice_line_id": None}
        mess.t["time_entries"].append(copy)
        i = mess.index[e["client_id"]]
        m = mess.window.months.index(e["work_date"].replace(day=1))
        resembles = "block_overage_not_billed" if mess.panel.kind[i] == BLOCK else "unbilled_time"
        ev = [copy["external_id"], e["external_id"]]
        mess.note("duplicate_time_entry", i, m, m, ev, resembles, family="fault")


def late_posts(mess: Ledger) -> None:
    """Work done in the last days of a month, posted after its invoice: billed next month."""
    panel = mess.panel
    moves: dict[int, list[tuple[Row, Row, Row, int]]] = {}
    for i in range(panel.n):
        kind = int(panel.kind[i])
        if kind not in (TM, BLOCK):
            continue
        sku = catalog.LABOR_SKU if kind == TM else catalog.OVERAGE_SKU
        for m in mess.billed_months(i):
            src, dst = mess.lines(i, m, "labor", sku), mess.lines(i, m + 1, "labor", sku)
            if not src or not dst or "correction" in dst[0]["description"].lower():
                continue
            last = month_end(mess.window.months[m]).day
            for e in mess.entries_of.get(src[0]["external_id"], []):
                if e["work_date"].day >= last - 2 and (
                    kind == TM or src[0]["quantity"] > e["hours"]
                ):
                    moves.setdefault(i, []).append((e, src[0], dst[0], m))
    for i in mess.pick(sorted(moves), mess.k):
        e, src, dst, m = mess.choice(moves[i])
        kind_is_block = mess.panel.kind[i] == BLOCK
        for row, sign in ((src, -1), (dst, 1)):
            row["quantity"] += sign * e["hours"]
            row["amount"] = money(row["quantity"] * row["unit_price"])
            mess.relabel_hours(row)
            mess.retotal(row["invoice_id"])
        mess.entries_of[src["external_id"]].remove(e)
        e["invoice_line_id"] = dst["external_id"]
        mess.entries_of.setdefault(dst["external_id"], []).append(e)
        resembles = "block_overage_not_billed" if kind_is_block else ""
        ev = [e["external_id"], dst["external_id"]]
        mess.note("late_posted_worklog", i, m, m + 1, ev, resembles, family="fault")


def rate_change(mess: Ledger) -> None:
    """A technician's cost rate raised mid-month: the row shows only the new rate."""
    techs = mess.t["technicians"]
    if not techs:
        return
    tech = techs[int(mess.rng.integers(len(techs)))]
    m = max(0, mess.n_inv - 1 - int(mess.rng.integers(6)))
    day = mess.window.months[m].replace(day=10 + int(mess.rng.integers(10)))
    old = tech["hourly_cost"]
    tech["hourly_cost"] = money(old * Decimal(str(round(float(mess.rng.uniform(1.06, 1.15)), 3))))
    mess.note(
        "technician_rate_change",
        -1,
        m,
        m,
        [tech["external_id"]],
        "",
        f"cost rate {old} -> {tech['hourly_cost']} from {day}",
        family="fault",
    )
