"""The books of one generated tenant as the messy world edits them (see
:mod:`mspilot.synthetic.messy`): invoices, lines, payments and linked time entries indexed
by client and month, edits that keep every invoice's total, balance and payments consistent,
and the ground-truth records of what was planted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np

from mspilot.core.clock import month_end
from mspilot.synthetic.calendar import Window
from mspilot.synthetic.inventory import License
from mspilot.synthetic.panel import Panel, money
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


def as_qty(value: Decimal | float | int) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


class Ledger:
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

    def last_month(self, i: int) -> int:
        churn = int(self.panel.churn_month[i])
        return min(churn if churn >= 0 else self.n_inv - 1, self.n_inv - 1)

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
