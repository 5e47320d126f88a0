"""Monthly invoices with recurring, labour, licence, hardware and project lines; payments;
the links from time entries to the lines that billed them; and the dollars of every planted
leak, measured on the lines as generated."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from mspilot.synthetic import catalog
from mspilot.synthetic.activity import Entries
from mspilot.synthetic.calendar import Window
from mspilot.synthetic.inventory import License
from mspilot.synthetic.leaks import LeakPlan
from mspilot.synthetic.panel import BLOCK, KINDS, PER_DEVICE, PER_USER, TM, Panel, Term, money
from mspilot.synthetic.truth import LeakType, PlantedLeak

MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def hours_of(quarters: int) -> Decimal:
    return (Decimal(quarters) / 4).quantize(Decimal("0.01"))


@dataclass
class _Leak:
    type: LeakType
    client: int
    first: int
    last: int
    ref: int
    dollars: Decimal = ZERO
    evidence: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class Billing:
    invoices: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    entry_line: list[str | None]
    leaks: list[PlantedLeak]


def month_label(day: dt.date) -> str:
    return f"{MONTH_ABBR[day.month - 1]} {day.year}"


class _Biller:
    def __init__(
        self,
        panel: Panel,
        window: Window,
        entries: Entries,
        licenses: list[License],
        plan: LeakPlan,
        max_discount: Decimal,
        rng: np.random.Generator,
    ) -> None:
        self.panel, self.window, self.entries = panel, window, entries
        self.plan, self.max_discount, self.rng = plan, max_discount, rng
        self.licenses: dict[int, list[License]] = {}
        for lic in licenses:
            self.licenses.setdefault(lic.client, []).append(lic)
        self.invoices: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.payments: list[dict[str, Any]] = []
        self.entry_line: list[str | None] = [None] * entries.n
        self.leaks: dict[tuple[str, int, int], _Leak] = {}
        months = window.n_months
        key = entries.client * months + window.day_month[entries.day]
        order = np.argsort(key, kind="stable")
        sorted_keys = key[order]
        bounds = np.flatnonzero(np.diff(sorted_keys)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(order)]])
        self.groups: dict[int, list[int]] = {
            int(sorted_keys[s]): order[s:e].tolist()
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
            if e > s
        }
        n = panel.n
        # plain lists: per-element access in the billing loop is much cheaper than numpy's
        self.u_hw = rng.random((n, months)).tolist()
        self.u_prj = rng.random((n, months)).tolist()
        self.hw_item = rng.integers(0, len(catalog.HARDWARE), (n, months)).tolist()
        self.hw_qty = rng.random((n, months)).tolist()
        self.prj_item = rng.integers(0, len(catalog.PROJECTS), (n, months)).tolist()
        self.prj_amt = rng.random((n, months)).tolist()
        self.delay_noise = rng.normal(-0.06, 0.35, (n, months)).tolist()
        self.u_split = rng.random((n, months)).tolist()
        self.split_share = rng.uniform(0.4, 0.7, (n, months)).tolist()
        self.u_unpaid = rng.random((n, months)).tolist()
        self.quarters: list[int] = entries.quarters.tolist()
        self.billable: list[bool] = entries.billable.tolist()
        self.unbilled: list[bool] = plan.unbilled.tolist()
        self.expected_delay: list[list[float]] = panel.expected_delay.tolist()
        self.month_first = [window.month_date(m) for m in range(months + 1)]
        self.touched: list[_Leak] = []
        self.line_seq = 0
        self.invoice_seq = 0
        self.payment_seq = 0

    # -- leaks ---------------------------------------------------------------------------------
    def leak(self, kind: LeakType, client: int, month: int, ref: int) -> _Leak:
        key = (kind, client, ref)
        if key not in self.leaks:
            self.leaks[key] = _Leak(kind, client, month, month, ref)
        found = self.leaks[key]
        self.touched.append(found)
        found.first, found.last = min(found.first, month), max(found.last, month)
        return found

    # -- lines ---------------------------------------------------------------------------------
    def line(
        self,
        out: list[dict[str, Any]],
        kind: str,
        sku: str,
        description: str,
        quantity: Decimal,
        unit_price: Decimal,
        amount: Decimal,
        contract: Term | None = None,
        discount: Decimal | None = None,
    ) -> dict[str, Any]:
        row = {
            "external_id": "",
            "invoice_id": "",
            "contract_id": contract.external_id if contract else None,
            "kind": kind,
            "sku": sku,
            "description": description,
            "quantity": quantity,
            "unit_price": unit_price,
            "discount_pct": discount,
            "amount": amount,
        }
        out.append(row)
        return row

    def month_lines(
        self, i: int, m: int, emit: bool
    ) -> tuple[list[dict[str, Any]], list[tuple[int, int]]]:
        """The lines of client ``i``'s invoice for month ``m`` and (entry, line position)
        links; leak shortfalls are recorded only when ``emit`` (the invoice exists)."""
        panel = self.panel
        self.touched = []
        term_index = int(panel.term_at[i, m])
        term = panel.terms[term_index]
        kind = int(panel.kind[i])
        label = month_label(self.window.months[m])
        lines: list[dict[str, Any]] = []
        links: list[tuple[int, int]] = []
        group = self.groups.get(i * self.window.n_months + m, [])

        has_recurring = kind != TM
        if has_recurring:
            qty = {PER_USER: panel.seats[i, m], PER_DEVICE: panel.devices[i, m]}.get(kind, 1)
            quantity = Decimal(int(qty)).quantize(Decimal("0.01"))
            amount = money(quantity * term.unit_price * (HUNDRED - term.discount_pct) / HUNDRED)
            self.line(
                lines,
                "recurring",
                catalog.CONTRACT_SKUS[KINDS[kind]],
                f"{catalog.CONTRACT_LABELS[KINDS[kind]]} ({label})",
                quantity,
                term.unit_price,
                amount,
                term,
                term.discount_pct,
            )
            if emit and term.escalation_missed:
                full = money(
                    quantity * term.expected_unit_price * (HUNDRED - term.discount_pct) / HUNDRED
                )
                found = self.leak("escalation_not_applied", i, m, term_index)
                found.dollars += full - amount
                found.evidence.append("line:0")
            if emit and term.discount_leak:
                fair = money(quantity * term.unit_price * (HUNDRED - self.max_discount) / HUNDRED)
                found = self.leak("discount_beyond_policy", i, m, term_index)
                found.dollars += fair - amount
                found.evidence.append("line:0")

        if kind == BLOCK:
            assert has_recurring and term.included_hours is not None
            total = sum(self.quarters[e] for e in group)
            over = total - term.included_hours * 4
            leaked = (i, m) in self.plan.block_overage
            overage: int | None = None
            if over > 0 and not leaked:
                hours = hours_of(over)
                overage = len(lines)
                self.line(
                    lines,
                    "labor",
                    catalog.OVERAGE_SKU,
                    f"Block hours overage: {hours} h above {term.included_hours} h ({label})",
                    hours,
                    term.hourly_rate,
                    money(hours * term.hourly_rate),
                    term,
                )
                if emit and term.escalation_missed:
                    found = self.leak("escalation_not_applied", i, m, term_index)
                    found.dollars += money(hours * (term.expected_hourly_rate - term.hourly_rate))
                    found.evidence.append(f"line:{overage}")
            elif over > 0 and emit:
                found = self.leak("block_overage_not_billed", i, m, m)
                found.dollars += money(hours_of(over) * term.hourly_rate)
                found.evidence += [term.external_id]
                found.detail = f"{hours_of(over)} h above {term.included_hours} h included"
            running = 0
            for e in group:
                running += self.quarters[e]
                beyond = running > term.included_hours * 4
                links.append((e, overage if overage is not None and beyond else 0))
                if leaked and emit and beyond:
                    self.leak("block_overage_not_billed", i, m, m).evidence.append(f"entry:{e}")
        else:
            billable = [e for e in group if self.billable[e] and not self.unbilled[e]]
            unbilled = [e for e in group if self.unbilled[e]]
            if billable:
                hours = hours_of(sum(self.quarters[e] for e in billable))
                what = "Labour, time and materials" if kind == TM else "Out-of-scope labour"
                labour = len(lines)
                self.line(
                    lines,
                    "labor",
                    catalog.LABOR_SKU,
                    f"{what}: {hours} h ({label})",
                    hours,
                    term.hourly_rate,
                    money(hours * term.hourly_rate),
                    term,
                )
                links += [(e, labour) for e in billable]
                if emit and term.escalation_missed and kind == TM:
                    found = self.leak("escalation_not_applied", i, m, term_index)
                    found.dollars += money(hours * (term.expected_hourly_rate - term.hourly_rate))
                    found.evidence.append(f"line:{labour}")
            if unbilled and emit:
                found = self.leak("unbilled_time", i, m, m)
                hours = hours_of(sum(self.quarters[e] for e in unbilled))
                found.dollars += money(hours * term.hourly_rate)
                found.evidence += [f"entry:{e}" for e in unbilled]
                found.detail = f"{hours} h at {term.hourly_rate}/h"

        for lic in self.licenses.get(i, []):
            in_use, billed = int(lic.in_use[m]), int(lic.billed[m])
            if in_use <= 0:
                continue
            quantity = Decimal(billed).quantize(Decimal("0.01"))
            self.line(
                lines,
                "license",
                lic.sku,
                f"{lic.product} ({label})",
                quantity,
                lic.unit_price,
                money(quantity * lic.unit_price),
            )
            if billed < in_use and emit:
                found = self.leak("license_seats_over_billed", i, m, int(lic.external_id[1:]))
                if lic.external_id not in found.evidence:
                    found.evidence.insert(0, lic.external_id)
                found.dollars += money((in_use - billed) * lic.unit_price)
                found.evidence.append(f"line:{len(lines) - 1}")
                found.detail = f"{lic.product}: {in_use} in use, {billed} billed"

        if emit:
            if self.u_hw[i][m] < 0.04:
                name, sku, price, max_qty = catalog.HARDWARE[int(self.hw_item[i][m])]
                qty = Decimal(1 + int(self.hw_qty[i][m] * max_qty)).quantize(Decimal("0.01"))
                self.line(lines, "hardware", sku, name, qty, price, money(qty * price))
            if self.u_prj[i][m] < 0.01:
                name, sku, lo, hi = catalog.PROJECTS[int(self.prj_item[i][m])]
                fee = money(round((lo + self.prj_amt[i][m] * (hi - lo)) / 50) * 50)
                self.line(lines, "project", sku, name, Decimal("1.00"), fee, fee)
        return lines, links

    # -- invoices ------------------------------------------------------------------------------
    def run(self) -> Billing:
        panel, window = self.panel, self.window
        alive = panel.alive()
        for m in range(window.n_invoiced):
            issued = self.month_first[m + 1]
            for i in np.flatnonzero(alive[:, m]).tolist():
                if (i, m) in self.plan.missing_invoice:
                    lines, _ = self.month_lines(i, m, emit=False)
                    found = self.leak("missing_recurring_invoice", i, m, m)
                    found.dollars += sum((r["amount"] for r in lines), ZERO)
                    term = panel.terms[int(panel.term_at[i, m])]
                    found.evidence.append(term.external_id)
                    found.detail = f"no invoice for {month_label(window.months[m])}"
                    continue
                self.invoice(i, m, issued)
        # a contract-level leak stays visible in ``contracts`` even if it billed nothing
        for index, term in enumerate(panel.terms):
            first = max(term.start, 0)
            if term.escalation_missed and first < window.n_invoiced:
                self.leak("escalation_not_applied", term.client, first, index)
            if term.discount_leak and first < window.n_invoiced:
                self.leak("discount_beyond_policy", term.client, first, index)
        return Billing(self.invoices, self.lines, self.payments, self.entry_line, self._leaks())

    def invoice(self, i: int, m: int, issued: dt.date) -> None:
        panel, window = self.panel, self.window
        lines, links = self.month_lines(i, m, emit=True)
        self.invoice_seq += 1
        invoice_id = f"i{self.invoice_seq:06d}"
        for row in lines:
            self.line_seq += 1
            row["external_id"] = f"il{self.line_seq:07d}"
            row["invoice_id"] = invoice_id
        for e, pos in links:
            self.entry_line[e] = lines[pos]["external_id"]
        # evidence placeholders become external ids now that lines have them
        for found in self.touched:
            found.evidence = [
                lines[int(x[5:])]["external_id"] if x.startswith("line:") else x
                for x in found.evidence
            ]
        self.lines.extend(lines)
        total = sum((row["amount"] for row in lines), ZERO)
        due = issued + dt.timedelta(days=int(panel.net_days[i]))

        expected = self.expected_delay[i][m]
        delay = max(1, round(expected * math.exp(self.delay_noise[i][m])))
        churned = panel.churned_on[i]
        unpaid = (
            churned is not None
            and issued >= churned - dt.timedelta(days=20)
            and self.u_unpaid[i][m] < 0.35
        )
        paid = ZERO
        schedule: list[tuple[dt.date, Decimal]] = []
        if not unpaid:
            if self.u_split[i][m] < 0.06:
                first = money(total * Decimal(str(round(float(self.split_share[i][m]), 3))))
                early = issued + dt.timedelta(days=max(1, round(delay * 0.55)))
                schedule = [(early, first), (issued + dt.timedelta(days=delay), total - first)]
            else:
                schedule = [(issued + dt.timedelta(days=delay), total)]
        for paid_on, amount in schedule:
            if paid_on > window.as_of or amount <= 0:
                continue
            self.payment_seq += 1
            paid += amount
            self.payments.append(
                {
                    "external_id": f"p{self.payment_seq:06d}",
                    "client_id": panel.ids[i],
                    "invoice_id": invoice_id,
                    "paid_on": paid_on,
                    "amount": amount,
                }
            )
        balance = total - paid
        status = "paid" if balance == 0 else ("overdue" if due < window.as_of else "open")
        self.invoices.append(
            {
                "external_id": invoice_id,
                "client_id": panel.ids[i],
                "number": f"INV-{1000 + self.invoice_seq:06d}",
                "issued_on": issued,
                "due_on": due,
                "period_start": window.months[m],
                "period_end": self.month_first[m + 1] - dt.timedelta(days=1),
                "total": total,
                "balance": balance,
                "status": status,
            }
        )

    def _leaks(self) -> list[PlantedLeak]:
        panel, window = self.panel, self.window
        out: list[PlantedLeak] = []
        ordered = sorted(self.leaks.values(), key=lambda lk: (lk.first, lk.client, lk.type))
        for found in ordered:
            contract_level = found.type in ("escalation_not_applied", "discount_beyond_policy")
            if found.dollars <= 0 and not contract_level:
                continue
            evidence = list(found.evidence)
            if contract_level:
                evidence = self._term_evidence(found)
            evidence = [self._entry_id(x) if x.startswith("entry:") else x for x in evidence]
            out.append(
                PlantedLeak(
                    leak_id=f"L{len(out) + 1:04d}",
                    type=found.type,
                    client_id=panel.ids[found.client],
                    period_start=window.months[found.first],
                    period_end=window.month_date(found.last + 1) - dt.timedelta(days=1),
                    dollars=found.dollars,
                    evidence=tuple(dict.fromkeys(evidence)),
                    detail=found.detail or self._term_detail(found),
                )
            )
        return out

    def _entry_id(self, marker: str) -> str:
        return f"te{int(marker[6:]) + 1:07d}"

    def _term(self, found: _Leak) -> tuple[int, Term]:
        return found.ref, self.panel.terms[found.ref]

    def _term_evidence(self, found: _Leak) -> list[str]:
        index, term = self._term(found)
        ids = [term.external_id]
        if found.type == "escalation_not_applied" and index > 0:
            ids.insert(0, self.panel.terms[index - 1].external_id)
        return ids + list(found.evidence)

    def _term_detail(self, found: _Leak) -> str:
        _, term = self._term(found)
        if found.type == "escalation_not_applied":
            return (
                f"renewal kept {term.unit_price}; clause {term.escalation_pct}% "
                f"implies {term.expected_unit_price}"
            )
        return f"discount {term.discount_pct}% above policy {self.max_discount}%"


def build_billing(
    panel: Panel,
    window: Window,
    entries: Entries,
    licenses: list[License],
    plan: LeakPlan,
    max_discount: Decimal,
    rng: np.random.Generator,
) -> Billing:
    return _Biller(panel, window, entries, licenses, plan, max_discount, rng).run()
