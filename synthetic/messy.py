"""The messy world: what real billing data carries besides leaks.

Applied to the generated rows after billing, from its own random stream (the clean world's
streams and rows are untouched up to this point), and recorded in the ground truth:

- legitimate look-alikes the leak rules must not flag (:data:`truth.PlantedNoise`,
  ``family="lookalike"``): a documented special discount above policy, prorated first and
  last months, seats added mid-month (a prorated line) or after the last invoice, goodwill
  (a month waived with a note on the next invoice, or a credit line with a note), prepaid
  blocks of hours drawn down by unlinked time entries, billing corrections issued a month
  later (omitted labour or block overage billed on the next invoice);
- data faults (``family="fault"``): duplicate time entries, worklogs posted late (billed on
  the next month's invoice), a technician's cost rate changed mid-month;
- the held-apart anomaly family no leak rule names (:data:`truth.PlantedAnomaly`): a
  duplicated invoice, time logged to the wrong client, a silent drop in billed seats with
  unchanged usage, an invoice line priced off its contract.

Look-alikes and anomalies go to clients with no planted leak, one thing per client (so the
truth tables stay unambiguous); prorations and mid-month seat lines go wherever they occur,
and the dollars of a contract-level leak on a prorated line are re-measured.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from decimal import Decimal

import numpy as np

from mspilot.core.clock import month_end
from mspilot.synthetic import catalog, faults, oddities
from mspilot.synthetic.billing import month_label
from mspilot.synthetic.ledger import (
    ANOMALY_MONTHS,
    HUNDRED,
    ZERO,
    Ledger,
    Row,
    as_qty,
)
from mspilot.synthetic.panel import MANAGED_KINDS, PER_USER, TM, money
from mspilot.synthetic.truth import PlantedAnomaly, PlantedLeak, PlantedNoise

APPROVERS = ("Dana Whitfield (owner)", "Sam Okafor (service manager)", "Priya Nair (CFO)")
GOODWILL_REASONS = (
    "the email outage",
    "the failed server migration",
    "repeated SLA misses",
    "the onboarding delays",
)
DISCOUNT_REASONS = ("non-profit rate", "multi-site agreement", "three-year commitment")
LICENCE_BASIS = {sku: ("seats", 1.0) for _, sku, _, _ in catalog.MAIN_LICENSES} | {
    sku: (basis, coverage) for _, sku, _, basis, _, coverage in catalog.ADDON_LICENSES
}


def special_discount(mess: Ledger) -> None:
    kinds = mess.panel.kind
    eligible = [
        i
        for i in range(mess.panel.n)
        if kinds[i] in MANAGED_KINDS and len(mess.billed_months(i)) >= 3
    ]
    for i in mess.pick(eligible, max(1, mess.k // 2)):
        term_index = int(mess.panel.term_at[i, mess.last_month(i)])
        term = mess.panel.terms[term_index]
        new = mess.max_discount + Decimal(str(mess.choice([2.5, 5.0, 7.5])))
        new = new.quantize(Decimal("0.01"))
        contract = next(r for r in mess.t["contracts"] if r["external_id"] == term.external_id)
        approver, reason = mess.choice(list(APPROVERS)), mess.choice(list(DISCOUNT_REASONS))
        contract["discount_pct"] = new
        if contract["monthly_value"] is not None:
            gross = contract["unit_price"] * contract["quantity"] * (HUNDRED - new) / HUNDRED
            contract["monthly_value"] = money(gross)
        contract["name"] = (
            f"{contract['name']} (special discount {new}% approved by {approver}: {reason})"
        )
        touched = []
        for m in range(max(term.start, 0), min(term.end + 1, mess.n_inv)):
            for row in mess.lines(i, m, "recurring"):
                row["discount_pct"] = new
                row["amount"] = money(
                    row["quantity"] * row["unit_price"] * (HUNDRED - new) / HUNDRED
                )
                touched.append(m)
                mess.retotal(row["invoice_id"])
        if touched:
            mess.note(
                "special_discount",
                i,
                min(touched),
                max(touched),
                [term.external_id],
                "discount_beyond_policy",
                f"{new}% documented on the contract ({reason}, approved by {approver})",
            )


def prorate(mess: Ledger, row: Row, days: int, dim: int, i: int) -> None:
    def change() -> None:
        row["amount"] = money(row["amount"] * days / dim)
        row["description"] = f"{row['description']} - prorated {days}/{dim} days"

    mess.remeasure(row, change, i)
    mess.retotal(row["invoice_id"])


def prorated_months(mess: Ledger) -> None:
    """Last months billed up to the churn date; some first months from a mid-month start."""
    panel = mess.panel
    for i in range(panel.n):
        churned = panel.churned_on[i]
        c = int(panel.churn_month[i])
        if churned is not None and c < mess.n_inv:
            rows = mess.lines(i, c, "recurring")
            dim = month_end(churned).day
            for row in rows:
                prorate(mess, row, churned.day, dim, i)
            if rows:
                ev = [r["external_id"] for r in rows]
                mess.note("prorated_month", i, c, c, ev, "", f"billed to {churned}")
    starts = [t for t in panel.terms if t.start >= 0 and t.start == int(panel.onboard[t.client])]
    for term in starts:
        i, m = term.client, term.start
        if m >= mess.n_inv or mess.rng.random() >= 0.5 or panel.kind[i] == TM:
            continue
        rows = mess.lines(i, m, "recurring")
        if not rows or int(panel.churn_month[i]) == m:
            continue
        day = 2 + int(mess.rng.integers(24))
        first = mess.window.months[m].replace(day=day)
        dim = month_end(first).day
        contract = next(r for r in mess.t["contracts"] if r["external_id"] == term.external_id)
        contract["starts_on"] = first
        for row in rows:
            prorate(mess, row, dim - day + 1, dim, i)
        ev = [term.external_id, *(r["external_id"] for r in rows)]
        mess.note("prorated_month", i, m, m, ev, "", f"service from {first}")


def mid_month_seats(mess: Ledger) -> None:
    panel = mess.panel
    for i in np.flatnonzero(panel.kind == PER_USER).tolist():
        for m in mess.billed_months(i, 0, mess.n_inv):
            if m + 1 >= panel.n_months or not mess.alive[i, m + 1]:
                continue
            added = int(panel.seats[i, m + 1] - panel.seats[i, m])
            if added <= 0 or int(panel.churn_month[i]) == m or mess.rng.random() >= 0.35:
                continue
            main = mess.main_recurring(i, m)
            if main is None or " - prorated" in main["description"]:
                continue
            day = 5 + int(mess.rng.integers(21))
            dim = month_end(mess.window.months[m]).day
            days = dim - day + 1
            disc = main["discount_pct"] or ZERO
            when = mess.window.months[m].replace(day=day)
            row = mess.add_line(
                main["invoice_id"],
                contract_id=main["contract_id"],
                kind="recurring",
                sku=main["sku"],
                description=f"{added} users added {when:%d %b %Y} - prorated {days}/{dim} days",
                quantity=as_qty(added),
                unit_price=main["unit_price"],
                discount_pct=main["discount_pct"],
                amount=ZERO,
            )

            full = added * row["unit_price"] * (HUNDRED - disc) / HUNDRED
            amount = money(full * days / dim)
            mess.remeasure(row, functools.partial(row.__setitem__, "amount", amount), i)
            mess.retotal(row["invoice_id"])
            mess.note("mid_month_seats", i, m, m, [row["external_id"]], "", f"+{added} users")


def seats_added_after_invoice(mess: Ledger) -> None:
    panel = mess.panel
    eligible = [
        i
        for i in np.flatnonzero(panel.kind == PER_USER).tolist()
        if panel.churn_month[i] < 0 and not panel.prospect[i] and panel.onboard[i] < mess.n_inv
    ]
    clients = {r["external_id"]: r for r in mess.t["clients"]}
    licences = {r["external_id"]: r for r in mess.t["licenses"]}
    for i in mess.pick(eligible, mess.k):
        row = clients[panel.ids[i]]
        added = 1 + int(mess.rng.integers(max(1, round(0.15 * row["seats"]))))
        now = row["seats"] + added
        row["seats"] = now
        ev = []
        for lic in mess.licences:
            basis, coverage = LICENCE_BASIS.get(lic.sku, ("devices", 1.0))
            if lic.client != i or basis != "seats" or lic.in_use[-1] <= 0:
                continue
            licences[lic.external_id]["seats_in_use"] = math.ceil(now * coverage)
            ev.append(lic.external_id)
        last = mess.n_inv - 1
        mess.note(
            "seats_added_after_invoice",
            i,
            last + 1 if last + 1 < mess.window.n_months else last,
            mess.window.n_months - 1,
            ev,
            "license_seats_over_billed",
            f"{added} users added after the last invoice ({now} now)",
        )


def goodwill(mess: Ledger) -> None:
    """A month waived (no invoice; the next invoice carries the note) or credited."""
    panel = mess.panel
    managed = [i for i in range(panel.n) if panel.kind[i] in MANAGED_KINDS]
    waivable: dict[int, list[int]] = {}
    for i in managed:
        months = mess.billed_months(i, int(panel.onboard[i]) + 1, mess.last_month(i))
        ok = [
            m
            for m in months
            if mess.invoice_of(i, m + 1) is not None
            and all(r["kind"] in ("recurring", "license") for r in mess.lines(i, m))
        ]
        if ok:
            waivable[i] = ok
    for i in mess.pick(sorted(waivable), mess.k):
        m = mess.choice(waivable[i])
        inv = mess.inv_at[(i, m)]
        mess.dropped.add(inv)
        nxt = mess.invoice_of(i, m + 1)
        assert nxt is not None
        approver, reason = mess.choice(list(APPROVERS)), mess.choice(list(GOODWILL_REASONS))
        label = month_label(mess.window.months[m])
        row = mess.add_line(
            nxt,
            sku="GOODWILL",
            description=f"Goodwill: {label} service fee waived, approved by {approver} "
            f"after {reason}",
            quantity=Decimal("1.00"),
        )
        term = mess.panel.terms[int(mess.panel.term_at[i, m])]
        mess.note(
            "goodwill_waiver",
            i,
            m,
            m,
            [row["external_id"], term.external_id],
            "missing_recurring_invoice",
            f"no invoice for {label}: waived as goodwill",
        )
    credit = [i for i in managed if len(mess.billed_months(i)) >= 2]
    for i in mess.pick(credit, mess.k):
        months = mess.billed_months(i, mess.n_inv - ANOMALY_MONTHS)
        if not months:
            continue
        m = mess.choice(months)
        main = mess.main_recurring(i, m)
        if main is None:
            continue
        amount = money(main["amount"] * Decimal(str(mess.choice([0.25, 0.5, 1.0]))))
        approver, reason = mess.choice(list(APPROVERS)), mess.choice(list(GOODWILL_REASONS))
        row = mess.add_line(
            main["invoice_id"],
            sku="CREDIT-GOODWILL",
            description=f"Goodwill credit approved by {approver}: {reason} "
            f"({month_label(mess.window.months[m])})",
            unit_price=-amount,
            amount=-amount,
        )
        mess.retotal(main["invoice_id"])
        mess.note("goodwill_credit", i, m, m, [row["external_id"]], "", f"-{amount}")


def prepaid_blocks(mess: Ledger) -> None:
    """A T&M client buys hours ahead; the next months' work draws them down, unlinked."""
    panel = mess.panel
    spans: dict[int, tuple[int, list[int]]] = {}
    for i in np.flatnonzero(panel.kind == TM).tolist():
        months = mess.billed_months(i, 0, mess.last_month(i) + 1)
        for p in months:
            after = [p + 1 + j for j in range(2 + int(mess.rng.integers(2)))]
            if not all(
                q in months
                and mess.lines(i, q, "labor")
                and panel.term_at[i, q] == panel.term_at[i, p]
                for q in after
            ):
                continue
            spans.setdefault(i, (p, after))
    for i in mess.pick(sorted(spans), mess.k):
        p, after = spans[i]
        drawn = [r for q in after for r in mess.lines(i, q, "labor")]
        hours = sum((r["quantity"] for r in drawn), ZERO)
        rate = drawn[0]["unit_price"]
        purchase = mess.add_line(
            mess.inv_at[(i, p)],
            contract_id=drawn[0]["contract_id"],
            kind="labor",
            sku="LAB-PREPAID",
            description=f"Prepaid block of {hours} h at ${rate}/h",
            quantity=hours,
            unit_price=rate,
            amount=money(hours * rate),
        )
        mess.retotal(purchase["invoice_id"])
        entries = []
        for row in drawn:
            for entry in mess.entries_of.pop(row["external_id"], []):
                entry["invoice_line_id"] = None
                entry["notes"] = "Drawn from the prepaid block"
                entries.append(entry["external_id"])
            mess.remove_line(row)
            mess.retotal(row["invoice_id"])
        mess.note(
            "prepaid_block",
            i,
            p,
            after[-1],
            [purchase["external_id"], *entries],
            "unbilled_time",
            f"{hours} h prepaid, drawn down over {len(after)} months",
        )


def corrections(mess: Ledger) -> None:
    """Work left off a month's invoice, billed on the next one as a correction."""
    panel = mess.panel
    cutoff = mess.window.as_of - dt.timedelta(days=40)
    labour: dict[int, list[tuple[Row, int]]] = {}
    overage: dict[int, list[tuple[Row, int]]] = {}
    for i in range(panel.n):
        for m in mess.billed_months(i):
            if mess.invoice_of(i, m + 1) is None or month_end(mess.window.months[m]) > cutoff:
                continue
            for row in mess.lines(i, m, "labor"):
                if (
                    row["sku"] == catalog.LABOR_SKU
                    and len(mess.entries_of.get(row["external_id"], [])) >= 2
                ):
                    labour.setdefault(i, []).append((row, m))
                if row["sku"] == catalog.OVERAGE_SKU:
                    overage.setdefault(i, []).append((row, m))
    for i in mess.pick(sorted(labour), mess.k):
        row, m = mess.choice(labour[i])
        linked = mess.entries_of[row["external_id"]]
        take = linked[: 1 + int(mess.rng.integers(min(2, len(linked) - 1)))]
        hours = sum((e["hours"] for e in take), ZERO)
        for e in take:
            linked.remove(e)
            e["invoice_line_id"] = None
        row["quantity"] -= hours
        row["amount"] = money(row["quantity"] * row["unit_price"])
        mess.relabel_hours(row)
        mess.retotal(row["invoice_id"])
        number = mess.inv[row["invoice_id"]]["number"]
        label = month_label(mess.window.months[m])
        nxt = mess.invoice_of(i, m + 1)
        assert nxt is not None
        fix = mess.add_line(
            nxt,
            contract_id=row["contract_id"],
            kind="labor",
            sku=catalog.LABOR_SKU,
            description=f"Billing correction: {hours} h of {label} labour omitted from {number}",
            quantity=hours,
            unit_price=row["unit_price"],
            amount=money(hours * row["unit_price"]),
        )
        mess.retotal(nxt)
        ev = [fix["external_id"], *(e["external_id"] for e in take)]
        mess.note("billing_correction", i, m, m + 1, ev, "unbilled_time", f"{hours} h")
    for i in mess.pick(sorted(overage), mess.k):
        row, m = mess.choice(overage[i])
        nxt = mess.invoice_of(i, m + 1)
        assert nxt is not None
        old = row["invoice_id"]
        number = mess.inv[old]["number"]
        mess.lines_of[old].remove(row)
        row["invoice_id"] = nxt
        mess.lines_of[nxt].append(row)
        row["description"] = f"Billing correction: {row['description']}, omitted from {number}"
        mess.retotal(old)
        mess.retotal(nxt)
        mess.note(
            "billing_correction",
            i,
            m,
            m + 1,
            [row["external_id"]],
            "block_overage_not_billed",
            f"{row['quantity']} h overage billed a month late",
        )


def make_messy(
    mess: Ledger,
) -> tuple[list[PlantedLeak], list[PlantedNoise], list[PlantedAnomaly]]:
    """Mess the ledger's tables up in place; the leaks (dollars re-measured), look-alikes,
    faults and planted anomalies."""
    special_discount(mess)
    prorated_months(mess)
    mid_month_seats(mess)
    goodwill(mess)
    prepaid_blocks(mess)
    corrections(mess)
    seats_added_after_invoice(mess)
    oddities.off_contract_price(mess)
    oddities.silent_seat_drop(mess)
    oddities.time_to_wrong_client(mess)
    oddities.duplicated_invoice(mess)
    faults.duplicates(mess)
    faults.late_posts(mess)
    faults.rate_change(mess)
    return mess.finish()
