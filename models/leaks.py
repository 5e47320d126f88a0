"""Revenue leaks: one reconciliation rule per leak type, each finding priced and evidenced.

Every rule compares what the contracts, time sheets and vendor counts say should have been
billed with what the invoices billed, and reports (client, period, dollars, evidence rows):

- ``unbilled_time``: billable time never invoiced and older than 35 days (the shared
  ``db.definitions.unbilled_time_entries``), per client and month, priced at the contract's
  hourly rate.
- ``license_seats_over_billed``: a licence whose vendor seat count exceeds the seats on its
  latest invoice line; the shortfall is priced at the resale price for every month since the
  billed count dropped below the level in use.
- ``escalation_not_applied``: a renewal whose price did not rise by its escalation clause over
  the previous term; priced as the shortfall on every line that term billed.
- ``missing_recurring_invoice``: a month inside a recurring contract with no invoice at all;
  priced as the neighbouring month's recurring and licence lines.
- ``block_overage_not_billed``: a month where block-hours work exceeded the included hours
  and no overage line was billed; priced at the contract's hourly rate.
- ``discount_beyond_policy``: a contract whose discount exceeds the tenant's maximum
  (``tenants.max_discount_pct``); priced as the discount above policy on every line billed.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Float, cast, select

from mspilot.db.definitions import unbilled_time_entries
from mspilot.models import leak_evidence as evidence
from mspilot.models.data import TenantFrames, month_index, month_of_index, read_frame

LEAK_TYPES: tuple[str, ...] = (
    "unbilled_time",
    "license_seats_over_billed",
    "escalation_not_applied",
    "missing_recurring_invoice",
    "block_overage_not_billed",
    "discount_beyond_policy",
)
CENT = Decimal("0.01")


def _money(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class LeakFinding:
    type: str
    client_id: str
    client_external_id: str
    client_name: str
    period_start: dt.date
    period_end: dt.date
    dollars: float
    evidence: list[str] = field(default_factory=list)  # external ids of the rows
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["period_start"] = self.period_start.isoformat()
        out["period_end"] = self.period_end.isoformat()
        return out


def _month_end(index: int) -> dt.date:
    return month_of_index(index + 1) - dt.timedelta(days=1)


class _Context:
    def __init__(
        self,
        frames: TenantFrames,
        as_of: dt.date,
        notes: pd.DataFrame | None = None,
        contract_names: dict[str, str] | None = None,
    ) -> None:
        self.frames = frames
        self.as_of = as_of
        #: invoices for month m are issued on the 1st of m+1: the last month billed by as_of
        self.last_billed = as_of.year * 12 + as_of.month - 2
        self.clients = frames.clients
        lines = frames.lines.copy()
        lines["month"] = month_index(lines["period_start"].fillna(lines["issued_on"]))
        self.lines = lines
        inv = frames.invoices.copy()
        inv["month"] = month_index(inv["period_start"].fillna(inv["issued_on"]))
        self.invoices = inv
        self.first_billed = int(inv["month"].min()) if not inv.empty else self.last_billed
        con = frames.contracts.copy()
        con["start_m"] = month_index(con["starts_on"])
        con["end_m"] = np.where(
            con["ends_on"].isna(),
            10**7,
            month_index(con["ends_on"].fillna(pd.Timestamp("2200-01-01"))),
        )
        self.contracts = con.sort_values(["client_id", "starts_on"])
        self.contract_ext = dict(zip(con["id"], con["external_id"], strict=True))
        self.terms_by_client = {k: g for k, g in self.contracts.groupby("client_id")}
        billed = lines[lines["month"] <= self.last_billed]
        self.lines_by_contract = {k: g for k, g in billed.groupby("contract_id")}
        self.invoice_months = inv.groupby("client_id")["month"].agg(set).to_dict()
        self.notes = notes if notes is not None else pd.DataFrame(columns=["id", "description"])
        self.contract_names = contract_names or {}

    def finding(
        self,
        kind: str,
        client_id: str,
        first: int,
        last: int,
        dollars: Decimal | float,
        evidence: list[str],
        detail: str,
    ) -> LeakFinding:
        row = self.clients.loc[client_id] if client_id in self.clients.index else None
        return LeakFinding(
            type=kind,
            client_id=client_id,
            client_external_id=str(row["external_id"]) if row is not None else client_id,
            client_name=str(row["name"]) if row is not None else client_id,
            period_start=month_of_index(first),
            period_end=_month_end(last),
            dollars=float(_money(dollars)),
            evidence=list(dict.fromkeys(evidence)),
            detail=detail,
        )

    def contract_at(self, client_id: str, month: int) -> pd.Series | None:
        terms = self.terms_by_client.get(client_id)
        if terms is None:
            return None
        live = terms[(terms["start_m"] <= month) & (terms["end_m"] >= month)]
        if live.empty:
            return None
        return live.iloc[-1]

    def term_lines(self, contract_id: str) -> pd.DataFrame:
        return self.lines_by_contract.get(contract_id, self.lines.iloc[0:0])


# ---- rules ---------------------------------------------------------------------------------


def unbilled_time(ctx: _Context, engine: Engine, tenant_id: str) -> list[LeakFinding]:
    sub = unbilled_time_entries(tenant_id, ctx.as_of).subquery()
    with engine.connect() as conn:
        rows = read_frame(
            conn,
            select(
                sub.c.id,
                sub.c.external_id,
                sub.c.client_id,
                sub.c.work_date,
                cast(sub.c.hours, Float),
            ),
        )
    if rows.empty:
        return []
    rows.columns = ["id", "external_id", "client_id", "work_date", "hours"]
    rows["work_date"] = pd.to_datetime(rows["work_date"])
    rows = rows[~rows["id"].astype(str).isin(_explained_time(ctx, rows))]
    rows["month"] = month_index(rows["work_date"])
    out = []
    for (client_id, month), grp in rows.groupby(["client_id", "month"]):
        term = ctx.contract_at(str(client_id), int(month))
        rate = float(term["hourly_rate"]) if term is not None and term["hourly_rate"] else 0.0
        hours = float(grp["hours"].sum())
        out.append(
            ctx.finding(
                "unbilled_time",
                str(client_id),
                int(month),
                int(month),
                _money(hours) * _money(rate),
                sorted(grp["external_id"].astype(str)),
                f"{hours:g} h of billable work never invoiced, at ${rate:,.2f}/h",
            )
        )
    return out


def _explained_time(ctx: _Context, rows: pd.DataFrame) -> set[str]:
    """Unbilled entries the books account for: a duplicate of a billed worklog, hours billed
    on a later invoice as a correction naming their month, hours drawn from a prepaid block
    bought on or before their month."""
    out = evidence.duplicate_entries(ctx.frames.time_entries) & set(rows["id"].astype(str))
    fixes = evidence.noted_months(ctx.notes, ctx.lines, evidence.CORRECTION)
    fixes = fixes[(fixes["kind"] == "labor") & (fixes["billed"] >= fixes["month"])]
    prepaid = ctx.lines.merge(ctx.notes, on="id")
    prepaid = prepaid[
        (prepaid["kind"] == "labor")
        & prepaid["description"].fillna("").str.contains(evidence.PREPAID)
    ]
    rest = rows[~rows["id"].astype(str).isin(out)].sort_values(["work_date", "external_id"])
    for client_id, grp in rest.groupby("client_id"):
        mine = fixes[fixes["client_id"] == client_id]
        out |= evidence.consume(
            grp, zip(mine["month"], mine["quantity"], strict=True), from_month=False
        )
        bought = prepaid[prepaid["client_id"] == client_id]
        left = grp[~grp["id"].astype(str).isin(out)]
        out |= evidence.consume(
            left, zip(bought["month"], bought["quantity"], strict=True), from_month=True
        )
    return out


def license_seats_over_billed(ctx: _Context) -> list[LeakFinding]:
    lic = ctx.frames.licenses
    lines = ctx.lines[(ctx.lines["kind"] == "license") & (ctx.lines["month"] <= ctx.last_billed)]
    billed_by = {
        key: grp.groupby("month")["quantity"].sum().sort_index()
        for key, grp in lines.groupby(["client_id", "sku"])
    }
    line_ids = {key: grp for key, grp in lines.groupby(["client_id", "sku"])}
    counts = ctx.lines[
        ctx.lines["kind"].isin(("recurring", "license")) & (ctx.lines["month"] <= ctx.last_billed)
    ]
    per_client = {
        c: g.pivot_table(index="month", columns="sku", values="quantity", aggfunc="sum")
        for c, g in counts.groupby("client_id")
    }
    out = []
    for row in lic[lic["seats_in_use"] > 0].itertuples(index=False):
        key = (row.client_id, row.sku)
        billed = billed_by.get(key)
        if billed is None or billed.index[-1] != ctx.last_billed:
            continue
        in_use = float(row.seats_in_use)
        gap = in_use - float(billed.iloc[-1]) - _seats_added_since(ctx, row.client_id, billed)
        if gap < 1:
            continue
        # the client's other counts (users/devices billed, other licences) as a reference
        others = per_client[row.client_id].drop(columns=[row.sku], errors="ignore")
        onset = _onset(billed, gap, others)
        months = [m for m in billed.index if m >= onset]
        dollars = _money(gap) * _money(row.unit_price) * len(months)
        mine = line_ids[key]
        shown = mine.loc[mine["month"] >= onset, "external_id"].astype(str)
        evidence = [str(row.external_id), *sorted(shown)]
        out.append(
            ctx.finding(
                "license_seats_over_billed",
                str(row.client_id),
                int(onset),
                int(months[-1]),
                dollars,
                evidence,
                f"{row.product}: {in_use:.0f} seats in use, {billed.iloc[-1]:.0f} billed "
                f"since {month_of_index(int(onset)):%b %Y}",
            )
        )
    return out


def _seats_added_since(ctx: _Context, client_id: str, billed: pd.Series) -> float:
    """Licence seats the client's users added since its last invoice account for: its user
    count now over the users that invoice billed (per-user contracts), at the licence's
    seats-per-user ratio on that invoice. Those seats are billed on the next invoice."""
    rec = ctx.lines[
        (ctx.lines["client_id"] == client_id)
        & (ctx.lines["kind"] == "recurring")
        & (ctx.lines["month"] == ctx.last_billed)
    ]
    term = ctx.contract_at(client_id, ctx.last_billed)
    if rec.empty or term is None or term["kind"] != "per_user":
        return 0.0
    users = float(rec["quantity"].sum())
    now = float(ctx.clients.loc[client_id, "seats"]) if client_id in ctx.clients.index else users
    if users <= 0 or now <= users:
        return 0.0
    return float(np.ceil((now - users) * float(billed.iloc[-1]) / users))


def _onset(billed: pd.Series, gap: float, others: pd.DataFrame | None) -> int:
    """First month of the current under-billing run: the month whose drop in billed seats
    is largest beyond what the client's other counts explain (users or devices billed, its
    other licences; their median month-on-month growth), the latest such month on ties.
    Falls back to the whole history when no month dropped by at least half today's gap."""
    months = list(billed.index)
    values = billed.to_numpy(dtype=float)
    growth = np.ones(len(months))
    if others is not None and not others.empty:
        ref = others.reindex(months).to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = ref[1:] / ref[:-1]
        ratio[~np.isfinite(ratio) | (ref[:-1] <= 0)] = np.nan
        usable = ~np.all(np.isnan(ratio), axis=1)
        med = np.ones(len(months) - 1)
        if usable.any():
            med[usable] = np.nanmedian(ratio[usable], axis=1)
        growth[1:] = med
    best, best_k = 0.5 * gap - 1e-9, 0
    for k in range(len(months) - 1, 0, -1):
        excess = values[k - 1] * growth[k] - values[k]
        if excess > best:
            best, best_k = excess, k
    return int(months[best_k])


def escalation_not_applied(ctx: _Context) -> list[LeakFinding]:
    out = []
    for client_id, terms in ctx.contracts.groupby("client_id"):
        terms = terms.sort_values("starts_on")
        prev = None
        for _, term in terms.iterrows():
            if prev is not None and _missed_escalation(prev, term):
                out.append(_escalation_finding(ctx, str(client_id), prev, term))
            prev = term
    return out


def _missed_escalation(prev: pd.Series, term: pd.Series) -> bool:
    esc = term["annual_escalation_pct"]
    if esc is None or np.isnan(esc) or esc <= 0 or not prev["unit_price"]:
        return False
    if term["kind"] != prev["kind"]:
        return False
    expected = _money(_money(prev["unit_price"]) * (1 + Decimal(str(esc)) / 100))
    return _money(term["unit_price"]) < expected


def _escalation_finding(
    ctx: _Context, client_id: str, prev: pd.Series, term: pd.Series
) -> LeakFinding:
    factor = 1 + Decimal(str(term["annual_escalation_pct"])) / 100
    exp_price = _money(_money(prev["unit_price"]) * factor)
    exp_rate = _money(_money(prev["hourly_rate"] or 0) * factor)
    lines = ctx.term_lines(str(term["id"]))
    dollars = Decimal(0)
    used = []
    for _, ln in lines.iterrows():
        qty = _money(ln["quantity"])
        disc = Decimal(str(ln["discount_pct"])) if not np.isnan(ln["discount_pct"]) else Decimal(0)
        if ln["kind"] == "recurring":
            # scaled from the amount billed, so a prorated line counts its share of the month
            price = _money(ln["unit_price"])
            billed = _money(qty * price * (100 - disc) / 100)
            share = _money(ln["amount"]) / billed if billed > 0 else Decimal(1)
            full = _money(qty * exp_price * (100 - disc) / 100 * share)
            dollars += full - _money(ln["amount"])
            used.append(str(ln["external_id"]))
        elif ln["kind"] == "labor" and term["kind"] in ("block_hours", "time_and_materials"):
            dollars += _money(qty * (exp_rate - _money(ln["unit_price"])))
            used.append(str(ln["external_id"]))
    first = int(max(term["start_m"], lines["month"].min() if not lines.empty else term["start_m"]))
    last = int(lines["month"].max()) if not lines.empty else first
    evidence = [ctx.contract_ext[prev["id"]], ctx.contract_ext[term["id"]], *sorted(used)]
    return ctx.finding(
        "escalation_not_applied",
        client_id,
        first,
        last,
        dollars,
        evidence,
        f"renewal kept {_money(term['unit_price'])}; the {term['annual_escalation_pct']:g}% "
        f"clause implies {exp_price}",
    )


def missing_recurring_invoice(ctx: _Context) -> list[LeakFinding]:
    rec = ctx.lines[ctx.lines["kind"] == "recurring"]
    lic = ctx.lines[ctx.lines["kind"] == "license"]
    out = []
    rec_q = rec.groupby(["client_id", "month"])["quantity"].sum()
    lic_amount = lic.groupby(["client_id", "month"])["amount"].sum()
    # a month a note on the client's invoices waives (goodwill, no charge) was not forgotten
    noted = evidence.noted_months(ctx.notes, ctx.lines, evidence.WAIVER)
    waived = set(zip(noted["client_id"], noted["month"], strict=True))
    for client_id, client in ctx.clients.iterrows():
        terms = ctx.terms_by_client.get(client_id)
        if terms is None:
            continue
        terms = terms[terms["kind"] != "time_and_materials"]
        if terms.empty or pd.isna(client["onboarded_on"]):
            continue
        first = int(month_index(pd.Series([client["onboarded_on"]]))[0])
        # history starts with the tenant's first invoiced month (older months were not loaded)
        first = max(first, ctx.first_billed - 1)
        last = ctx.last_billed
        if not pd.isna(client["churned_on"]):
            last = min(last, int(month_index(pd.Series([client["churned_on"]]))[0]))
        billed = ctx.invoice_months.get(client_id, set())
        for m in range(first + 1, last + 1):
            if m in billed or (client_id, m) in waived:
                continue
            live = terms[(terms["start_m"] <= m) & (terms["end_m"] >= m)]
            if live.empty:
                continue
            term = live.iloc[-1]
            before = [b for b in billed if b < m]
            ref = max(before) if before else min((b for b in billed if b > m), default=None)
            dollars = Decimal(0)
            if ref is not None:
                qty = _money(rec_q.get((client_id, ref), term["quantity"] or 1))
                disc = Decimal(str(term["discount_pct"] or 0))
                dollars += _money(qty * _money(term["unit_price"]) * (100 - disc) / 100)
                dollars += _money(lic_amount.get((client_id, ref), 0.0))
            out.append(
                ctx.finding(
                    "missing_recurring_invoice",
                    str(client_id),
                    m,
                    m,
                    dollars,
                    [ctx.contract_ext[term["id"]]],
                    f"no invoice for {month_of_index(m):%B %Y} under an active contract",
                )
            )
    return out


def block_overage_not_billed(ctx: _Context) -> list[LeakFinding]:
    te = ctx.frames.time_entries
    blocks = set(ctx.contracts.loc[ctx.contracts["kind"] == "block_hours", "client_id"])
    if te.empty or not blocks:
        return []
    te = te[te["client_id"].isin(blocks)]
    # a worklog saved twice counts once; an entry counts in the month its invoice billed it
    # (work posted after its month's invoice, overage billed a month late as a correction)
    te = te[~te["id"].astype(str).isin(evidence.duplicate_entries(te))]
    fixes = evidence.noted_months(ctx.notes, ctx.lines, evidence.CORRECTION)
    fixes = fixes[fixes["kind"] == "labor"]
    regular = ctx.lines[~ctx.lines["id"].isin(set(fixes["id"]))]
    te = te.assign(month=evidence.billing_month(te, regular))
    hours = te.groupby(["client_id", "month"])["hours"].sum()
    entry_ids = {k: g["external_id"].astype(str) for k, g in te.groupby(["client_id", "month"])}
    labour = ctx.lines[ctx.lines["kind"] == "labor"]
    overage_hours = labour.groupby(["client_id", "month"])["quantity"].sum().to_dict()
    # a correction bills the month it names, not the month of its invoice
    for fix in fixes.itertuples(index=False):
        for key, sign in (((fix.client_id, fix.month), 1), ((fix.client_id, fix.billed), -1)):
            overage_hours[key] = overage_hours.get(key, 0.0) + sign * fix.quantity
    out = []
    for (client_id, month), used in hours.items():
        m = int(month)
        if m > ctx.last_billed or m not in ctx.invoice_months.get(client_id, set()):
            continue
        term = ctx.contract_at(str(client_id), m)
        if term is None or term["kind"] != "block_hours" or not term["included_hours"]:
            continue
        over = float(used) - float(term["included_hours"])
        if over <= 0:
            continue
        missing = over - float(overage_hours.get((client_id, m), 0.0))
        if missing <= 0.001:
            continue
        rate = _money(term["hourly_rate"] or 0)
        out.append(
            ctx.finding(
                "block_overage_not_billed",
                str(client_id),
                m,
                m,
                _money(missing) * rate,
                [ctx.contract_ext[term["id"]], *sorted(entry_ids[(client_id, month)])],
                f"{used:g} h worked against {term['included_hours']:g} h included; "
                f"{missing:g} h overage not billed at ${rate}/h",
            )
        )
    return out


def discount_beyond_policy(ctx: _Context) -> list[LeakFinding]:
    policy = Decimal(str(ctx.frames.max_discount_pct))
    con = ctx.contracts
    out = []
    for _, term in con[con["discount_pct"].fillna(0) > float(policy)].iterrows():
        if evidence.documented_discount(ctx.contract_names.get(str(term["id"]), "")):
            continue  # a special discount approved on the contract itself
        lines = ctx.term_lines(str(term["id"]))
        rec = lines[lines["kind"] == "recurring"]
        dollars = Decimal(0)
        for _, ln in rec.iterrows():
            # on the amount billed, so a prorated line counts its share of the month
            disc = Decimal(str(ln["discount_pct"])) if not np.isnan(ln["discount_pct"]) else policy
            if disc >= 100:
                continue
            fair = _money(_money(ln["amount"]) * (100 - policy) / (100 - disc))
            dollars += fair - _money(ln["amount"])
        first = int(max(term["start_m"], rec["month"].min() if not rec.empty else term["start_m"]))
        last = int(rec["month"].max()) if not rec.empty else first
        out.append(
            ctx.finding(
                "discount_beyond_policy",
                str(term["client_id"]),
                first,
                last,
                dollars,
                [ctx.contract_ext[term["id"]], *sorted(rec["external_id"].astype(str))],
                f"discount {term['discount_pct']:g}% above the {policy}% policy",
            )
        )
    return out


def find_leaks(
    engine: Engine, tenant_id: str, as_of: dt.date, frames: TenantFrames
) -> list[LeakFinding]:
    """Every rule's findings as of ``as_of``, largest dollars first."""
    ctx = _Context(
        frames,
        as_of,
        evidence.line_notes(engine, tenant_id),
        evidence.contract_names(engine, tenant_id),
    )
    findings = [
        *unbilled_time(ctx, engine, tenant_id),
        *license_seats_over_billed(ctx),
        *escalation_not_applied(ctx),
        *missing_recurring_invoice(ctx),
        *block_overage_not_billed(ctx),
        *discount_beyond_policy(ctx),
    ]
    return sorted(findings, key=lambda f: (-f.dollars, f.type, f.client_external_id))


def save_findings(
    findings: list[LeakFinding], data_dir: Path, tenant_id: str, as_of: dt.date
) -> Path:
    folder = data_dir / "leaks" / tenant_id
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "findings.json"
    payload = {"as_of": as_of.isoformat(), "findings": [f.as_dict() for f in findings]}
    path.write_text(json.dumps(payload, indent=1))
    return path


def load_findings(data_dir: Path, tenant_id: str) -> list[LeakFinding]:
    path = data_dir / "leaks" / tenant_id / "findings.json"
    if not path.exists():
        from mspilot.core.errors import DataError

        raise DataError(f"no leak findings for tenant {tenant_id}: run `mspilot train`")
    out = []
    for item in json.loads(path.read_text())["findings"]:
        item["period_start"] = dt.date.fromisoformat(item["period_start"])
        item["period_end"] = dt.date.fromisoformat(item["period_end"])
        out.append(LeakFinding(**item))
    return out
