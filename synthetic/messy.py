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

import dataclasses
import datetime as dt
import functools
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from mspilot.core.clock import month_end
from mspilot.synthetic import catalog
from mspilot.synthetic.billing import month_label
from mspilot.synthetic.calendar import Window
from mspilot.synthetic.inventory import License
from mspilot.synthetic.panel import BLOCK, MANAGED_KINDS, PER_USER, TM, Panel, money
from mspilot.synthetic.truth import (
    AnomalyKind,
    NoiseKind,
    PlantedAnomaly,
    PlantedLeak,
    PlantedNoise,
)

Row = dict[str, Any]
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")
LOOKALIKE_RATE = 0.03  # share of clients per look-alike kind
ANOMALY_RATE = 0.02  # share of clients per anomaly kind
ANOMALY_MONTHS = 12  # anomalies are planted in the last invoiced months
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


def _q(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


class _Mess:
    def __init__(
        self,
        tables: dict[str, list[Row]],
        panel: Panel,
        window: Window,
        licenses: list[License],
        leaks: list[PlantedLeak],
        max_discount: Decimal,
        rng: np.random.Generator,
    ) -> None:
        self.t, self.panel, self.window, self.rng = tables, panel, window, rng
        self.licences, self.max_discount = licenses, max_discount
        self.leaks = list(leaks)
        self.noise: list[PlantedNoise] = []
        self.anomalies: list[PlantedAnomaly] = []
        self.n_inv = window.n_invoiced
        self.index = {ext: i for i, ext in enumerate(panel.ids)}
        self.terms = {term.external_id: term for term in panel.terms}
        self.inv: dict[str, Row] = {r["external_id"]: r for r in tables["invoices"]}
        self.inv_at: dict[tuple[int, int], str] = {}
        month_of = {d: k for k, d in enumerate(window.months)}
        for r in tables["invoices"]:
            self.inv_at[(self.index[r["client_id"]], month_of[r["period_start"]])] = r[
                "external_id"
            ]
        self.lines_of: dict[str, list[Row]] = {k: [] for k in self.inv}
        for r in tables["invoice_lines"]:
            self.lines_of[r["invoice_id"]].append(r)
        self.pays_of: dict[str, list[Row]] = {}
        for r in tables["payments"]:
            self.pays_of.setdefault(r["invoice_id"], []).append(r)
        self.entries_of: dict[str, list[Row]] = {}
        for r in tables["time_entries"]:
            if r["invoice_line_id"]:
                self.entries_of.setdefault(r["invoice_line_id"], []).append(r)
        self.dropped: set[str] = set()
        self.busy = {self.index[leak.client_id] for leak in leaks}
        self.seq = {"line": 0, "invoice": 0, "entry": 0}
        self.alive = panel.alive()
        n_active = int(panel.active.sum())
        self.k = max(1, round(LOOKALIKE_RATE * n_active))
        self.k_anomaly = max(1, round(ANOMALY_RATE * n_active))

    # ---- helpers ---------------------------------------------------------------------------
    def new_id(self, kind: str) -> str:
        self.seq[kind] += 1
        return {"line": "ilx", "invoice": "ix", "entry": "tex"}[kind] + f"{self.seq[kind]:06d}"

    def pick(self, eligible: list[int], k: int) -> list[int]:
        fresh = [i for i in eligible if i not in self.busy]
        chosen = sorted(int(i) for i in self.rng.permutation(fresh)[:k]) if fresh else []
        self.busy.update(chosen)
        return chosen

    def invoice_of(self, i: int, m: int) -> str | None:
        inv = self.inv_at.get((i, m))
        return inv if inv is not None and inv not in self.dropped else None

    def lines(self, i: int, m: int, kind: str | None = None, sku: str | None = None) -> list[Row]:
        inv = self.invoice_of(i, m)
        rows = self.lines_of.get(inv, []) if inv else []
        return [
            r
            for r in rows
            if (kind is None or r["kind"] == kind) and (sku is None or r["sku"] == sku)
        ]

    def main_recurring(self, i: int, m: int) -> Row | None:
        rec = self.lines(i, m, "recurring")
        return rec[0] if rec else None

    def add_line(self, inv_id: str, **values: Any) -> Row:
        row: Row = {
            "external_id": self.new_id("line"),
            "invoice_id": inv_id,
            "contract_id": None,
            "kind": "other",
            "sku": None,
            "description": "",
            "quantity": Decimal("1.00"),
            "unit_price": ZERO,
            "discount_pct": None,
            "amount": ZERO,
        }
        row.update(values)
        self.lines_of[inv_id].append(row)
        self.t["invoice_lines"].append(row)
        return row

    def remove_line(self, row: Row) -> None:
        self.lines_of[row["invoice_id"]].remove(row)
        self.t["invoice_lines"].remove(row)

    def retotal(self, inv_id: str) -> None:
        """The invoice's total from its lines; its payments follow a fully paid invoice."""
        inv = self.inv[inv_id]
        rows = self.lines_of[inv_id]
        if not rows:
            self.dropped.add(inv_id)
            return
        total = sum((r["amount"] for r in rows), ZERO)
        delta = total - inv["total"]
        if delta == 0:
            return
        pays = self.pays_of.get(inv_id, [])
        if pays and inv["balance"] == 0 and pays[-1]["amount"] + delta > 0:
            pays[-1]["amount"] += delta
        paid = sum((p["amount"] for p in pays), ZERO)
        while pays and paid > total:
            extra = paid - total
            if pays[-1]["amount"] > extra:
                pays[-1]["amount"] -= extra
                paid = total
            else:
                paid -= pays[-1]["amount"]
                self.t["payments"].remove(pays.pop())
        inv["total"], inv["balance"] = total, total - paid
        inv["status"] = (
            "paid"
            if inv["balance"] == 0
            else ("overdue" if inv["due_on"] < self.window.as_of else "open")
        )

    def shortfall(self, row: Row) -> tuple[str, Decimal] | None:
        """The contract-level leak a recurring line shows, and its dollars on the line."""
        term = self.terms.get(row["contract_id"] or "")
        if term is None or row["kind"] != "recurring":
            return None
        disc, qty = row["discount_pct"] or ZERO, row["quantity"]
        share = row["amount"] / money(qty * row["unit_price"] * (HUNDRED - disc) / HUNDRED)
        if term.escalation_missed:
            full = money(qty * term.expected_unit_price * (HUNDRED - disc) / HUNDRED * share)
            return "escalation_not_applied", full - row["amount"]
        if term.discount_leak:
            fair = money(qty * row["unit_price"] * (HUNDRED - self.max_discount) / HUNDRED * share)
            return "discount_beyond_policy", fair - row["amount"]
        return None

    def remeasure(self, row: Row, change: Callable[[], None], i: int) -> None:
        """Apply ``change`` to a line and move its client's contract-level leak dollars."""
        before = self.shortfall(row) if row in self.t["invoice_lines"] else None
        change()
        after = self.shortfall(row) if row in self.t["invoice_lines"] else None
        kind = (before or after or ("", ZERO))[0]
        delta = (after[1] if after else ZERO) - (before[1] if before else ZERO)
        if not kind or delta == 0:
            return
        for k, leak in enumerate(self.leaks):
            if leak.type == kind and leak.client_id == self.panel.ids[i]:
                self.leaks[k] = dataclasses.replace(leak, dollars=leak.dollars + delta)
                break

    def note(
        self,
        kind: NoiseKind,
        i: int,
        first: int,
        last: int,
        evidence: list[str],
        resembles: str = "",
        detail: str = "",
        family: str = "lookalike",
    ) -> None:
        self.noise.append(
            PlantedNoise(
                kind=kind,
                family="fault" if family == "fault" else "lookalike",
                client_id=self.panel.ids[i] if i >= 0 else "",
                period_start=self.window.months[first],
                period_end=month_end(self.window.months[last]),
                evidence=tuple(evidence),
                resembles=resembles,
                detail=detail,
            )
        )

    def anomaly(
        self, kind: AnomalyKind, i: int, first: int, last: int, dollars: Decimal, ev: list[str]
    ) -> None:
        self.anomalies.append(
            PlantedAnomaly(
                anomaly_id=f"A{len(self.anomalies) + 1:04d}",
                kind=kind,
                client_id=self.panel.ids[i],
                period_start=self.window.months[first],
                period_end=month_end(self.window.months[last]),
                dollars=dollars,
                evidence=tuple(ev),
            )
        )

    def billed_months(self, i: int, lo: int = 0, hi: int | None = None) -> list[int]:
        hi = self.n_inv if hi is None else hi
        return [m for m in range(max(lo, 0), hi) if self.invoice_of(i, m) is not None]

    def choice(self, items: list[Any]) -> Any:
        return items[int(self.rng.integers(len(items)))]

    def relabel_hours(self, row: Row) -> None:
        head, _, tail = row["description"].partition(": ")
        if tail and " h " in tail and head.startswith(("Labour", "Out-of-scope")):
            row["description"] = f"{head}: {row['quantity']} h {tail.split(' h ', 1)[1]}"

    # ---- look-alikes -----------------------------------------------------------------------
    def last_month(self, i: int) -> int:
        churn = int(self.panel.churn_month[i])
        return min(churn if churn >= 0 else self.n_inv - 1, self.n_inv - 1)

    def special_discount(self) -> None:
        kinds = self.panel.kind
        eligible = [
            i
            for i in range(self.panel.n)
            if kinds[i] in MANAGED_KINDS and len(self.billed_months(i)) >= 3
        ]
        for i in self.pick(eligible, max(1, self.k // 2)):
            term_index = int(self.panel.term_at[i, self.last_month(i)])
            term = self.panel.terms[term_index]
            new = self.max_discount + Decimal(str(self.choice([2.5, 5.0, 7.5])))
            new = new.quantize(Decimal("0.01"))
            contract = next(r for r in self.t["contracts"] if r["external_id"] == term.external_id)
            approver, reason = self.choice(list(APPROVERS)), self.choice(list(DISCOUNT_REASONS))
            contract["discount_pct"] = new
            if contract["monthly_value"] is not None:
                gross = contract["unit_price"] * contract["quantity"] * (HUNDRED - new) / HUNDRED
                contract["monthly_value"] = money(gross)
            contract["name"] = (
                f"{contract['name']} (special discount {new}% approved by {approver}: {reason})"
            )
            touched = []
            for m in range(max(term.start, 0), min(term.end + 1, self.n_inv)):
                for row in self.lines(i, m, "recurring"):
                    row["discount_pct"] = new
                    row["amount"] = money(
                        row["quantity"] * row["unit_price"] * (HUNDRED - new) / HUNDRED
                    )
                    touched.append(m)
                    self.retotal(row["invoice_id"])
            if touched:
                self.note(
                    "special_discount",
                    i,
                    min(touched),
                    max(touched),
                    [term.external_id],
                    "discount_beyond_policy",
                    f"{new}% documented on the contract ({reason}, approved by {approver})",
                )

    def prorate(self, row: Row, days: int, dim: int, i: int) -> None:
        def change() -> None:
            row["amount"] = money(row["amount"] * days / dim)
            row["description"] = f"{row['description']} - prorated {days}/{dim} days"

        self.remeasure(row, change, i)
        self.retotal(row["invoice_id"])

    def prorated_months(self) -> None:
        """Last months billed up to the churn date; some first months from a mid-month start."""
        panel = self.panel
        for i in range(panel.n):
            churned = panel.churned_on[i]
            c = int(panel.churn_month[i])
            if churned is not None and c < self.n_inv:
                rows = self.lines(i, c, "recurring")
                dim = month_end(churned).day
                for row in rows:
                    self.prorate(row, churned.day, dim, i)
                if rows:
                    ev = [r["external_id"] for r in rows]
                    self.note("prorated_month", i, c, c, ev, "", f"billed to {churned}")
        starts = [
            t for t in panel.terms if t.start >= 0 and t.start == int(panel.onboard[t.client])
        ]
        for term in starts:
            i, m = term.client, term.start
            if m >= self.n_inv or self.rng.random() >= 0.5 or panel.kind[i] == TM:
                continue
            rows = self.lines(i, m, "recurring")
            if not rows or int(panel.churn_month[i]) == m:
                continue
            day = 2 + int(self.rng.integers(24))
            first = self.window.months[m].replace(day=day)
            dim = month_end(first).day
            contract = next(r for r in self.t["contracts"] if r["external_id"] == term.external_id)
            contract["starts_on"] = first
            for row in rows:
                self.prorate(row, dim - day + 1, dim, i)
            ev = [term.external_id, *(r["external_id"] for r in rows)]
            self.note("prorated_month", i, m, m, ev, "", f"service from {first}")

    def mid_month_seats(self) -> None:
        panel = self.panel
        for i in np.flatnonzero(panel.kind == PER_USER).tolist():
            for m in self.billed_months(i, 0, self.n_inv):
                if m + 1 >= panel.n_months or not self.alive[i, m + 1]:
                    continue
                added = int(panel.seats[i, m + 1] - panel.seats[i, m])
                if added <= 0 or int(panel.churn_month[i]) == m or self.rng.random() >= 0.35:
                    continue
                main = self.main_recurring(i, m)
                if main is None or " - prorated" in main["description"]:
                    continue
                day = 5 + int(self.rng.integers(21))
                dim = month_end(self.window.months[m]).day
                days = dim - day + 1
                disc = main["discount_pct"] or ZERO
                when = self.window.months[m].replace(day=day)
                row = self.add_line(
                    main["invoice_id"],
                    contract_id=main["contract_id"],
                    kind="recurring",
                    sku=main["sku"],
                    description=f"{added} users added {when:%d %b %Y} - prorated {days}/{dim} days",
                    quantity=_q(added),
                    unit_price=main["unit_price"],
                    discount_pct=main["discount_pct"],
                    amount=ZERO,
                )

                full = added * row["unit_price"] * (HUNDRED - disc) / HUNDRED
                amount = money(full * days / dim)
                self.remeasure(row, functools.partial(row.__setitem__, "amount", amount), i)
                self.retotal(row["invoice_id"])
                self.note("mid_month_seats", i, m, m, [row["external_id"]], "", f"+{added} users")

    def seats_added_after_invoice(self) -> None:
        panel = self.panel
        eligible = [
            i
            for i in np.flatnonzero(panel.kind == PER_USER).tolist()
            if panel.churn_month[i] < 0 and not panel.prospect[i] and panel.onboard[i] < self.n_inv
        ]
        clients = {r["external_id"]: r for r in self.t["clients"]}
        licences = {r["external_id"]: r for r in self.t["licenses"]}
        for i in self.pick(eligible, self.k):
            row = clients[panel.ids[i]]
            added = 1 + int(self.rng.integers(max(1, round(0.15 * row["seats"]))))
            now = row["seats"] + added
            row["seats"] = now
            ev = []
            for lic in self.licences:
                basis, coverage = LICENCE_BASIS.get(lic.sku, ("devices", 1.0))
                if lic.client != i or basis != "seats" or lic.in_use[-1] <= 0:
                    continue
                licences[lic.external_id]["seats_in_use"] = math.ceil(now * coverage)
                ev.append(lic.external_id)
            last = self.n_inv - 1
            self.note(
                "seats_added_after_invoice",
                i,
                last + 1 if last + 1 < self.window.n_months else last,
                self.window.n_months - 1,
                ev,
                "license_seats_over_billed",
                f"{added} users added after the last invoice ({now} now)",
            )

    def goodwill(self) -> None:
        """A month waived (no invoice; the next invoice carries the note) or credited."""
        panel = self.panel
        managed = [i for i in range(panel.n) if panel.kind[i] in MANAGED_KINDS]
        waivable: dict[int, list[int]] = {}
        for i in managed:
            months = self.billed_months(i, int(panel.onboard[i]) + 1, self.last_month(i))
            ok = [
                m
                for m in months
                if self.invoice_of(i, m + 1) is not None
                and all(r["kind"] in ("recurring", "license") for r in self.lines(i, m))
            ]
            if ok:
                waivable[i] = ok
        for i in self.pick(sorted(waivable), self.k):
            m = self.choice(waivable[i])
            inv = self.inv_at[(i, m)]
            self.dropped.add(inv)
            nxt = self.invoice_of(i, m + 1)
            assert nxt is not None
            approver, reason = self.choice(list(APPROVERS)), self.choice(list(GOODWILL_REASONS))
            label = month_label(self.window.months[m])
            row = self.add_line(
                nxt,
                sku="GOODWILL",
                description=f"Goodwill: {label} service fee waived, approved by {approver} "
                f"after {reason}",
                quantity=Decimal("1.00"),
            )
            term = self.panel.terms[int(self.panel.term_at[i, m])]
            self.note(
                "goodwill_waiver",
                i,
                m,
                m,
                [row["external_id"], term.external_id],
                "missing_recurring_invoice",
                f"no invoice for {label}: waived as goodwill",
            )
        credit = [i for i in managed if len(self.billed_months(i)) >= 2]
        for i in self.pick(credit, self.k):
            months = self.billed_months(i, self.n_inv - ANOMALY_MONTHS)
            if not months:
                continue
            m = self.choice(months)
            main = self.main_recurring(i, m)
            if main is None:
                continue
            amount = money(main["amount"] * Decimal(str(self.choice([0.25, 0.5, 1.0]))))
            approver, reason = self.choice(list(APPROVERS)), self.choice(list(GOODWILL_REASONS))
            row = self.add_line(
                main["invoice_id"],
                sku="CREDIT-GOODWILL",
                description=f"Goodwill credit approved by {approver}: {reason} "
                f"({month_label(self.window.months[m])})",
                unit_price=-amount,
                amount=-amount,
            )
            self.retotal(main["invoice_id"])
            self.note("goodwill_credit", i, m, m, [row["external_id"]], "", f"-{amount}")

    def prepaid_blocks(self) -> None:
        """A T&M client buys hours ahead; the next months' work draws them down, unlinked."""
        panel = self.panel
        spans: dict[int, tuple[int, list[int]]] = {}
        for i in np.flatnonzero(panel.kind == TM).tolist():
            months = self.billed_months(i, 0, self.last_month(i) + 1)
            for p in months:
                after = [p + 1 + j for j in range(2 + int(self.rng.integers(2)))]
                if not all(
                    q in months
                    and self.lines(i, q, "labor")
                    and panel.term_at[i, q] == panel.term_at[i, p]
                    for q in after
                ):
                    continue
                spans.setdefault(i, (p, after))
        for i in self.pick(sorted(spans), self.k):
            p, after = spans[i]
            drawn = [r for q in after for r in self.lines(i, q, "labor")]
            hours = sum((r["quantity"] for r in drawn), ZERO)
            rate = drawn[0]["unit_price"]
            purchase = self.add_line(
                self.inv_at[(i, p)],
                contract_id=drawn[0]["contract_id"],
                kind="labor",
                sku="LAB-PREPAID",
                description=f"Prepaid block of {hours} h at ${rate}/h",
                quantity=hours,
                unit_price=rate,
                amount=money(hours * rate),
            )
            self.retotal(purchase["invoice_id"])
            entries = []
            for row in drawn:
                for entry in self.entries_of.pop(row["external_id"], []):
                    entry["invoice_line_id"] = None
                    entry["notes"] = "Drawn from the prepaid block"
                    entries.append(entry["external_id"])
                self.remove_line(row)
                self.retotal(row["invoice_id"])
            self.note(
                "prepaid_block",
                i,
                p,
                after[-1],
                [purchase["external_id"], *entries],
                "unbilled_time",
                f"{hours} h prepaid, drawn down over {len(after)} months",
            )

    def corrections(self) -> None:
        """Work left off a month's invoice, billed on the next one as a correction."""
        panel = self.panel
        cutoff = self.window.as_of - dt.timedelta(days=40)
        labour: dict[int, list[tuple[Row, int]]] = {}
        overage: dict[int, list[tuple[Row, int]]] = {}
        for i in range(panel.n):
            for m in self.billed_months(i):
                if self.invoice_of(i, m + 1) is None or month_end(self.window.months[m]) > cutoff:
                    continue
                for row in self.lines(i, m, "labor"):
                    if (
                        row["sku"] == catalog.LABOR_SKU
                        and len(self.entries_of.get(row["external_id"], [])) >= 2
                    ):
                        labour.setdefault(i, []).append((row, m))
                    if row["sku"] == catalog.OVERAGE_SKU:
                        overage.setdefault(i, []).append((row, m))
        for i in self.pick(sorted(labour), self.k):
            row, m = self.choice(labour[i])
            linked = self.entries_of[row["external_id"]]
            take = linked[: 1 + int(self.rng.integers(min(2, len(linked) - 1)))]
            hours = sum((e["hours"] for e in take), ZERO)
            for e in take:
                linked.remove(e)
                e["invoice_line_id"] = None
            row["quantity"] -= hours
            row["amount"] = money(row["quantity"] * row["unit_price"])
            self.relabel_hours(row)
            self.retotal(row["invoice_id"])
            number = self.inv[row["invoice_id"]]["number"]
            label = month_label(self.window.months[m])
            nxt = self.invoice_of(i, m + 1)
            assert nxt is not None
            fix = self.add_line(
                nxt,
                contract_id=row["contract_id"],
                kind="labor",
                sku=catalog.LABOR_SKU,
                description=f"Billing correction: {hours} h of {label} labour omitted "
                f"from {number}",
                quantity=hours,
                unit_price=row["unit_price"],
                amount=money(hours * row["unit_price"]),
            )
            self.retotal(nxt)
            ev = [fix["external_id"], *(e["external_id"] for e in take)]
            self.note("billing_correction", i, m, m + 1, ev, "unbilled_time", f"{hours} h")
        for i in self.pick(sorted(overage), self.k):
            row, m = self.choice(overage[i])
            nxt = self.invoice_of(i, m + 1)
            assert nxt is not None
            old = row["invoice_id"]
            number = self.inv[old]["number"]
            self.lines_of[old].remove(row)
            row["invoice_id"] = nxt
            self.lines_of[nxt].append(row)
            row["description"] = f"Billing correction: {row['description']}, omitted from {number}"
            self.retotal(old)
            self.retotal(nxt)
            self.note(
                "billing_correction",
                i,
                m,
                m + 1,
                [row["external_id"]],
                "block_overage_not_billed",
                f"{row['quantity']} h overage billed a month late",
            )

    # ---- data faults -----------------------------------------------------------------------
    def duplicates(self) -> None:
        """A worklog saved twice: the copy is billable and linked to nothing."""
        cutoff = self.window.as_of - dt.timedelta(days=40)
        candidates = [
            e
            for e in self.t["time_entries"]
            if e["billable"]
            and e["invoice_line_id"]
            and e["work_date"] < cutoff
            and self.index[e["client_id"]] not in self.busy
        ]
        if not candidates:
            return
        chosen = self.rng.choice(len(candidates), min(2 * self.k, len(candidates)), replace=False)
        for k in sorted(chosen.tolist()):
            e = candidates[k]
            copy = {**e, "external_id": self.new_id("entry"), "invoice_line_id": None}
            self.t["time_entries"].append(copy)
            i = self.index[e["client_id"]]
            m = self.window.months.index(e["work_date"].replace(day=1))
            resembles = (
                "block_overage_not_billed" if self.panel.kind[i] == BLOCK else "unbilled_time"
            )
            ev = [copy["external_id"], e["external_id"]]
            self.note("duplicate_time_entry", i, m, m, ev, resembles, family="fault")

    def late_posts(self) -> None:
        """Work done in the last days of a month, posted after its invoice: billed next month."""
        panel = self.panel
        moves: dict[int, list[tuple[Row, Row, Row, int]]] = {}
        for i in range(panel.n):
            kind = int(panel.kind[i])
            if kind not in (TM, BLOCK):
                continue
            sku = catalog.LABOR_SKU if kind == TM else catalog.OVERAGE_SKU
            for m in self.billed_months(i):
                src, dst = self.lines(i, m, "labor", sku), self.lines(i, m + 1, "labor", sku)
                if not src or not dst or "correction" in dst[0]["description"].lower():
                    continue
                last = month_end(self.window.months[m]).day
                for e in self.entries_of.get(src[0]["external_id"], []):
                    if e["work_date"].day >= last - 2 and (
                        kind == TM or src[0]["quantity"] > e["hours"]
                    ):
                        moves.setdefault(i, []).append((e, src[0], dst[0], m))
        for i in self.pick(sorted(moves), self.k):
            e, src, dst, m = self.choice(moves[i])
            kind_is_block = self.panel.kind[i] == BLOCK
            for row, sign in ((src, -1), (dst, 1)):
                row["quantity"] += sign * e["hours"]
                row["amount"] = money(row["quantity"] * row["unit_price"])
                self.relabel_hours(row)
                self.retotal(row["invoice_id"])
            self.entries_of[src["external_id"]].remove(e)
            e["invoice_line_id"] = dst["external_id"]
            self.entries_of.setdefault(dst["external_id"], []).append(e)
            resembles = "block_overage_not_billed" if kind_is_block else ""
            ev = [e["external_id"], dst["external_id"]]
            self.note("late_posted_worklog", i, m, m + 1, ev, resembles, family="fault")

    def rate_change(self) -> None:
        """A technician's cost rate raised mid-month: the row shows only the new rate."""
        techs = self.t["technicians"]
        if not techs:
            return
        tech = techs[int(self.rng.integers(len(techs)))]
        m = max(0, self.n_inv - 1 - int(self.rng.integers(6)))
        day = self.window.months[m].replace(day=10 + int(self.rng.integers(10)))
        old = tech["hourly_cost"]
        tech["hourly_cost"] = money(
            old * Decimal(str(round(float(self.rng.uniform(1.06, 1.15)), 3)))
        )
        self.note(
            "technician_rate_change",
            -1,
            m,
            m,
            [tech["external_id"]],
            "",
            f"cost rate {old} -> {tech['hourly_cost']} from {day}",
            family="fault",
        )

    # ---- the result ------------------------------------------------------------------------
    def finish(self) -> tuple[list[PlantedLeak], list[PlantedNoise], list[PlantedAnomaly]]:
        t = self.t
        t["invoices"] = [r for r in t["invoices"] if r["external_id"] not in self.dropped]
        t["invoice_lines"] = [r for r in t["invoice_lines"] if r["invoice_id"] not in self.dropped]
        t["payments"] = [r for r in t["payments"] if r["invoice_id"] not in self.dropped]
        lines = {r["external_id"] for r in t["invoice_lines"]}
        dangling = [e for e in t["time_entries"] if e["invoice_line_id"] not in (None, *lines)]
        assert not dangling, f"time entries linked to removed lines: {dangling[:2]}"
        return self.leaks, self.noise, self.anomalies


def make_messy(
    tables: dict[str, list[Row]],
    panel: Panel,
    window: Window,
    licenses: list[License],
    leaks: list[PlantedLeak],
    max_discount: Decimal,
    rng: np.random.Generator,
) -> tuple[list[PlantedLeak], list[PlantedNoise], list[PlantedAnomaly]]:
    """Mess ``tables`` up in place; the leaks (dollars re-measured), look-alikes, faults and
    planted anomalies."""
    from mspilot.synthetic import oddities

    mess = _Mess(tables, panel, window, licenses, leaks, max_discount, rng)
    mess.special_discount()
    mess.prorated_months()
    mess.mid_month_seats()
    mess.goodwill()
    mess.prepaid_blocks()
    mess.corrections()
    mess.seats_added_after_invoice()
    oddities.off_contract_price(mess)
    oddities.silent_seat_drop(mess)
    oddities.time_to_wrong_client(mess)
    oddities.duplicated_invoice(mess)
    mess.duplicates()
    mess.late_posts()
    mess.rate_change()
    return mess.finish()
