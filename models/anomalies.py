"""Invoice and usage anomalies no leak rule names: per-client robust baselines over
client-months, ranked by the dollars at stake.

Each client-month gets billing-integrity signals, each compared with the client's own usual
value (its median over the loaded history, a robust z-score whose scale is floored by the
spread across all clients, so a client whose ratio never moved still has a scale):

- ``invoices``: invoices issued for the month (a month billed twice);
- ``price_vs_contract``: recurring lines' unit price over their contract's (a line priced off
  its contract);
- ``units_vs_usage``: recurring units billed (users, devices) over the licence seats billed
  the same month, against the client's usual ratio (fewer users billed, same usage);
- ``foreign_ticket_hours``: hours logged to the client on tickets another client opened (time
  logged to the wrong client);
- context signals shown in explanations but not ranked on: revenue vs the client's trailing
  median, labour billed vs billable hours worked, hours per user, the largest line discount.

A flag is a client-month whose ranked signals sit at least ``Z_FLAG`` robust deviations from
the client's usual value; flags are ordered by the dollars those deviations put at stake and
explained by the signals that made them unusual. An Isolation Forest over the same signals is
kept as the comparison (``forest_rank``): on the planted anomaly family it ranks a small share
of their dollars in its top flags, because most client-months that isolate easily are
legitimately unusual (hardware and project invoices, first and last months, prepaid blocks).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mspilot.models.data import TenantFrames, month_index, month_of_index

SIGNALS: dict[str, str] = {
    "invoices": "invoices issued for the month",
    "price_vs_contract": "recurring unit price / contract unit price",
    "units_vs_usage": "units billed / licence seats billed",
    "foreign_ticket_hours": "hours logged on other clients' tickets",
    "revenue_vs_trailing": "revenue vs the client's trailing 6-month median",
    "labour_billed_ratio": "labour hours billed / billable hours worked",
    "hours_per_seat": "hours worked per user",
    "max_discount_pct": "largest line discount (%)",
}
#: the signals flags are ranked on, with the floor of their robust scale
RANKED: dict[str, float] = {
    "invoices": 0.25,
    "price_vs_contract": 0.02,
    "units_vs_usage": 0.04,
    "foreign_ticket_hours": 0.25,
}
Z_FLAG = 3.0


def _grid(frame: pd.DataFrame, value: str, ids: pd.Index, cols: pd.Index) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(0.0, index=ids, columns=cols)
    table = frame.pivot_table(index="client_id", columns="month", values=value, aggfunc="sum")
    return table.reindex(index=ids, columns=cols).fillna(0.0)


def _safe_div(num: pd.DataFrame, den: pd.DataFrame, default: float = 1.0) -> pd.DataFrame:
    return (num / den.where(den > 0)).fillna(default).clip(0.0, 10.0)


def _main_licence(lic: pd.DataFrame, ids: pd.Index, cols: pd.Index) -> pd.DataFrame:
    """Seats billed per month of each client's main licence (the one billed in the most
    months, then the most seats): the usage its units billed are compared with."""
    if lic.empty:
        return pd.DataFrame(0.0, index=ids, columns=cols)
    per = lic.groupby(["client_id", "sku", "month"])["quantity"].sum().reset_index()
    rank = per.groupby(["client_id", "sku"])["quantity"].agg(["count", "sum"]).reset_index()
    rank = rank.sort_values(["client_id", "count", "sum"], ascending=[True, False, False])
    main = rank.drop_duplicates("client_id")[["client_id", "sku"]]
    return _grid(per.merge(main, on=["client_id", "sku"]), "quantity", ids, cols)


def client_month_signals(frames: TenantFrames, months: list[int]) -> pd.DataFrame:
    """One row per (client, month) active in ``months``: the ``SIGNALS`` columns, each
    ranked signal's usual value (``<name>_usual``) and the dollars its deviation puts at
    stake (``<name>_usd``)."""
    clients = frames.clients
    ids = pd.Index(clients.index)
    lines = frames.lines.assign(
        month=month_index(frames.lines["period_start"].fillna(frames.lines["issued_on"]))
    )
    hist = pd.Index(
        range(int(lines["month"].min()) if not lines.empty else min(months), max(months) + 1)
    )
    rec = lines[lines["kind"] == "recurring"]
    con = frames.contracts.set_index("id")
    rec = rec.assign(contract_price=rec["contract_id"].map(con["unit_price"]))
    priced = rec[rec["contract_price"].notna() & (rec["contract_price"] > 0)]
    disc = (1 - priced["discount_pct"].fillna(0.0) / 100).clip(lower=0.0)
    priced = priced.assign(
        at_line=priced["quantity"] * priced["unit_price"],
        at_contract=priced["quantity"] * priced["contract_price"],
        short=(priced["contract_price"] - priced["unit_price"]) * priced["quantity"] * disc,
    )
    at_line = _grid(priced, "at_line", ids, hist)
    at_contract = _grid(priced, "at_contract", ids, hist)
    price_short = _grid(priced, "short", ids, hist)
    units = _grid(rec, "quantity", ids, hist)
    rec_amount = _grid(rec, "amount", ids, hist)
    revenue = _grid(lines, "amount", ids, hist)
    inv = frames.invoices.assign(
        month=month_index(frames.invoices["period_start"].fillna(frames.invoices["issued_on"])),
        one=1.0,
    )
    n_inv = _grid(inv, "one", ids, hist)
    lab = lines[lines["kind"] == "labor"]
    labour_billed = _grid(lab, "quantity", ids, hist)
    rate = (_grid(lab, "amount", ids, hist).sum(axis=1) / labour_billed.sum(axis=1)).fillna(0.0)
    rate = rate.where(rate > 0, frames.contracts.groupby("client_id")["hourly_rate"].max())
    te = frames.time_entries.assign(month=month_index(frames.time_entries["work_date"]))
    hours = _grid(te, "hours", ids, hist)
    billable = _grid(te[te["billable"]], "hours", ids, hist)
    owner = frames.tickets.set_index("id")["client_id"] if "id" in frames.tickets else pd.Series()
    te_owner = te["ticket_id"].map(owner)
    foreign = te[te_owner.notna() & (te_owner != te["client_id"])]
    foreign_h = _grid(foreign, "hours", ids, hist)
    disc_max = lines.assign(d=lines["discount_pct"].fillna(0.0))
    max_disc = (
        disc_max.pivot_table(index="client_id", columns="month", values="d", aggfunc="max")
        .reindex(index=ids, columns=hist)
        .fillna(0.0)
        if not disc_max.empty
        else pd.DataFrame(0.0, index=ids, columns=hist)
    )

    lic = _main_licence(lines[lines["kind"] == "license"], ids, hist)
    ratio_units = _safe_div(units, lic, np.nan).where(lic > 0)
    usual_units = ratio_units.median(axis=1, skipna=True)
    trailing = revenue.T.rolling(6, min_periods=3).median().shift(1).T
    seats = clients["seats"].astype(float).clip(lower=1.0)
    signals = {
        "invoices": n_inv,
        "price_vs_contract": _safe_div(at_line, at_contract),
        "units_vs_usage": ratio_units.fillna(1.0),
        "foreign_ticket_hours": foreign_h,
        "revenue_vs_trailing": _safe_div(revenue, trailing),
        "labour_billed_ratio": _safe_div(labour_billed, billable),
        "hours_per_seat": hours.div(seats, axis=0),
        "max_discount_pct": max_disc,
    }
    usual = {
        "invoices": pd.DataFrame(1.0, index=ids, columns=hist),
        "price_vs_contract": pd.DataFrame(1.0, index=ids, columns=hist),
        "units_vs_usage": pd.DataFrame(
            np.repeat(usual_units.fillna(1.0).to_numpy()[:, None], len(hist), axis=1),
            index=ids,
            columns=hist,
        ),
        "foreign_ticket_hours": pd.DataFrame(0.0, index=ids, columns=hist),
    }
    per_unit = (rec_amount / units.where(units > 0)).fillna(0.0)
    usd = {
        "invoices": (revenue / n_inv.where(n_inv > 0)).fillna(0.0) * (n_inv - 1).clip(lower=0),
        "price_vs_contract": price_short.abs(),
        "units_vs_usage": ((usual["units_vs_usage"] * lic - units).abs() * per_unit).where(
            lic > 0, 0.0
        ),
        "foreign_ticket_hours": foreign_h.mul(rate.reindex(ids).fillna(0.0), axis=0),
    }

    onboarded = month_index(clients["onboarded_on"].fillna(pd.Timestamp("1900-01-01")))
    churn_m = np.where(
        clients["churned_on"].isna(),
        10**9,
        month_index(clients["churned_on"].fillna(pd.Timestamp("2200-01-01"))),
    )
    rows = []
    for m in months:
        active = (onboarded < m) & (churn_m > m)
        data = {name: grid[m] for name, grid in signals.items()}
        data |= {f"{name}_usual": usual[name][m] for name in RANKED}
        data |= {f"{name}_usd": usd[name][m] for name in RANKED}
        sub = pd.DataFrame(data, index=ids)[active]
        sub["month"] = m
        rows.append(sub)
    out = pd.concat(rows)
    out.index.name = "client_id"
    return out.reset_index().set_index(["client_id", "month"])


@dataclass
class Anomaly:
    client_id: str
    month: dt.date
    score: float  # the dollars the unusual signals put at stake
    explanation: str
    signals: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # the signals that made it unusual


@dataclass
class AnomalyModel:
    scale: dict[str, float]
    forest: Any = None
    columns: list[str] = field(default_factory=lambda: list(SIGNALS))
    meta: dict[str, Any] = field(default_factory=dict)

    def z(self, signals: pd.DataFrame) -> pd.DataFrame:
        """Robust deviation of each ranked signal from the client's usual value."""
        return pd.DataFrame(
            {
                name: (signals[name] - signals[f"{name}_usual"]) / self.scale[name]
                for name in RANKED
            },
            index=signals.index,
        )

    def score(self, signals: pd.DataFrame) -> np.ndarray:
        """Dollars at stake in the signals at least ``Z_FLAG`` deviations from usual."""
        unusual = self.z(signals).abs() >= Z_FLAG
        usd = pd.DataFrame({n: signals[f"{n}_usd"] for n in RANKED}, index=signals.index)
        return np.asarray(usd.where(unusual, 0.0).sum(axis=1), dtype=float)

    def explain(self, row: pd.Series, z: pd.Series) -> tuple[str, list[str]]:
        reasons = [
            n for n in sorted(RANKED, key=lambda n: -float(row[f"{n}_usd"])) if abs(z[n]) >= Z_FLAG
        ]
        parts = []
        for name in reasons:
            direction = "unusually high" if z[name] > 0 else "unusually low"
            parts.append(
                f"{SIGNALS[name]} {direction} ({row[name]:.2f} vs usual "
                f"{row[f'{name}_usual']:.2f}; ${row[f'{name}_usd']:,.0f} at stake)"
            )
        return "; ".join(parts), reasons

    def detect(self, signals: pd.DataFrame, limit: int = 20) -> list[Anomaly]:
        scores = self.score(signals)
        z = self.z(signals)
        order = np.argsort(-scores, kind="stable")
        out = []
        for i in order[:limit]:
            if scores[i] <= 0:
                break
            row = signals.iloc[i]
            client_id, month = signals.index[i]
            text, reasons = self.explain(row, z.iloc[i])
            out.append(
                Anomaly(
                    client_id=str(client_id),
                    month=month_of_index(int(month)),
                    score=float(scores[i]),
                    explanation=text,
                    signals={c: float(row[c]) for c in self.columns},
                    reasons=reasons,
                )
            )
        return out

    def forest_rank(self, signals: pd.DataFrame, limit: int) -> list[tuple[str, dt.date]]:
        """The Isolation Forest's most isolated client-months (the comparison)."""
        if self.forest is None:
            return []
        scores = -self.forest.score_samples(signals[self.columns].to_numpy(float))
        order = np.argsort(-scores, kind="stable")[:limit]
        return [(str(signals.index[i][0]), month_of_index(int(signals.index[i][1]))) for i in order]


def train_anomalies(
    signals: pd.DataFrame, contamination: float = 0.02, seed: int = 0
) -> AnomalyModel:
    """The robust scales (the spread of each ranked signal across all client-months, floored)
    and the comparison forest."""
    from sklearn.ensemble import IsolationForest

    scale = {}
    for name, floor in RANKED.items():
        dev = signals[name] - signals[f"{name}_usual"]
        scale[name] = max(float((dev - dev.median()).abs().median() * 1.4826), floor)
    forest = IsolationForest(
        n_estimators=200, contamination=contamination, random_state=seed, n_jobs=1
    )
    forest.fit(signals[list(SIGNALS)].to_numpy(float))
    return AnomalyModel(scale=scale, forest=forest)
