"""Invoice and usage anomalies no rule names: an Isolation Forest over client-months.

Each client-month is described by how its billing relates to its work and to its own past
(revenue per user, revenue vs the client's trailing median, labour billed vs billable time,
licence seats billed vs in use, recurring billing vs contract value, discounts, hours per
user). The forest scores how isolated a month is; the explanation names the signals that sit
furthest from the client's usual values (robust z-scores), in words.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mspilot.models.data import TenantFrames, month_index, month_of_index

SIGNALS: dict[str, str] = {
    "revenue_per_seat": "revenue per user",
    "revenue_vs_trailing": "revenue vs the client's trailing 6-month median",
    "labour_billed_ratio": "labour hours billed / billable hours worked",
    "licence_billed_ratio": "licence seats billed / seats in use",
    "recurring_vs_contract": "recurring billing / contract monthly value",
    "max_discount_pct": "largest line discount (%)",
    "hours_per_seat": "hours worked per user",
    "invoices": "invoices issued",
}


def _pivot(frame: pd.DataFrame, value: str | None, key: str = "client_id") -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame()
    v = value or "_one"
    if value is None:
        frame = frame.assign(_one=1.0)
    return frame.pivot_table(index=key, columns="month", values=v, aggfunc="sum")


def client_month_signals(frames: TenantFrames, months: list[int]) -> pd.DataFrame:
    """One row per (client, month) active in ``months`` with the ``SIGNALS`` columns."""
    clients = frames.clients
    ids = pd.Index(clients.index)
    cols = pd.Index(months)

    def grid(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.reindex(index=ids, columns=cols).fillna(0.0)

    lines = frames.lines.assign(month=month_index(frames.lines["issued_on"]))
    revenue = grid(_pivot(lines, "amount"))
    rec = lines[lines["kind"] == "recurring"]
    recurring = grid(_pivot(rec, "amount"))
    lab = lines[lines["kind"] == "labor"]
    labour_billed = grid(_pivot(lab, "quantity"))
    lic = lines[lines["kind"] == "license"]
    lic_billed = grid(_pivot(lic, "quantity"))
    disc = lines.assign(d=lines["discount_pct"].fillna(0.0))
    max_disc = disc.pivot_table(index="client_id", columns="month", values="d", aggfunc="max")
    max_disc = grid(max_disc) if not disc.empty else grid(pd.DataFrame())
    inv = frames.invoices.assign(month=month_index(frames.invoices["issued_on"]))
    n_inv = grid(_pivot(inv, None))
    te = frames.time_entries.assign(month=month_index(frames.time_entries["work_date"]))
    hours = grid(_pivot(te, "hours"))
    billable = grid(_pivot(te[te["billable"]], "hours"))

    # trailing 6-month median revenue (months before), per client
    all_rev = _pivot(lines, "amount").reindex(index=ids).fillna(0.0)
    all_rev = all_rev.reindex(columns=range(min(months) - 6, max(months) + 1), fill_value=0.0)
    trailing = all_rev.T.rolling(6, min_periods=3).median().shift(1).T.reindex(columns=cols)

    seats = clients["seats"].astype(float).clip(lower=1.0)
    contract_value = _contract_value(frames, months)
    lic_live = frames.licenses.groupby("client_id")["seats_in_use"].sum().reindex(ids).fillna(0.0)

    onboarded = month_index(clients["onboarded_on"].fillna(pd.Timestamp("1900-01-01")))
    churned = clients["churned_on"]
    churn_m = np.where(
        churned.isna(), 10**9, month_index(churned.fillna(pd.Timestamp("2200-01-01")))
    )
    rows = []
    for m in months:
        active = (onboarded < m) & (churn_m > m)
        sub = pd.DataFrame(
            {
                "revenue_per_seat": revenue[m] / seats,
                "revenue_vs_trailing": _safe_div(revenue[m], trailing[m]),
                "labour_billed_ratio": _safe_div(labour_billed[m], billable[m]),
                "licence_billed_ratio": _safe_div(lic_billed[m], lic_live),
                "recurring_vs_contract": _safe_div(recurring[m], contract_value[m]),
                "max_discount_pct": max_disc[m],
                "hours_per_seat": hours[m] / seats,
                "invoices": n_inv[m],
            },
            index=ids,
        )[active]
        sub["month"] = m
        rows.append(sub)
    out = pd.concat(rows)
    out.index.name = "client_id"
    return out.reset_index().set_index(["client_id", "month"])


def _safe_div(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).fillna(1.0).clip(0.0, 10.0)


def _contract_value(frames: TenantFrames, months: list[int]) -> pd.DataFrame:
    con = frames.contracts
    ids = pd.Index(frames.clients.index)
    out = pd.DataFrame(0.0, index=ids, columns=pd.Index(months))
    if con.empty:
        return out
    starts = month_index(con["starts_on"])
    ends = np.where(
        con["ends_on"].isna(), 10**9, month_index(con["ends_on"].fillna(pd.Timestamp("2200-01-01")))
    )
    value = con["monthly_value"].fillna(0.0).to_numpy()
    for m in months:
        live = (starts <= m) & (ends >= m)
        out[m] = (
            pd.Series(value[live], index=con["client_id"].to_numpy()[live])
            .groupby(level=0)
            .sum()
            .reindex(ids)
            .fillna(0.0)
        )
    return out


@dataclass
class Anomaly:
    client_id: str
    month: dt.date
    score: float
    explanation: str
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class AnomalyModel:
    forest: Any
    columns: list[str]
    center: dict[str, float]
    spread: dict[str, float]
    threshold: float
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, signals: pd.DataFrame) -> np.ndarray:
        """Higher = more anomalous (negated ``score_samples``)."""
        return np.asarray(-self.forest.score_samples(signals[self.columns].to_numpy(float)))

    def explain(self, row: pd.Series, top: int = 2) -> str:
        z = {
            c: (float(row[c]) - self.center[c]) / self.spread[c]
            for c in self.columns
            if self.spread[c] > 0
        }
        worst = sorted(z.items(), key=lambda kv: -abs(kv[1]))[:top]
        parts = []
        for name, score in worst:
            direction = "unusually high" if score > 0 else "unusually low"
            parts.append(
                f"{SIGNALS[name]} {direction} ({row[name]:.2f} vs typical {self.center[name]:.2f})"
            )
        return "; ".join(parts)

    def detect(self, signals: pd.DataFrame, limit: int = 20) -> list[Anomaly]:
        scores = self.score(signals)
        order = np.argsort(-scores)
        out = []
        for i in order[:limit]:
            if scores[i] < self.threshold:
                break
            row = signals.iloc[i]
            client_id, month = signals.index[i]
            out.append(
                Anomaly(
                    client_id=str(client_id),
                    month=month_of_index(int(month)),
                    score=float(scores[i]),
                    explanation=self.explain(row),
                    signals={c: float(row[c]) for c in self.columns},
                )
            )
        return out


def train_anomalies(
    signals: pd.DataFrame, contamination: float = 0.02, seed: int = 0
) -> AnomalyModel:
    from sklearn.ensemble import IsolationForest

    columns = list(SIGNALS)
    x = signals[columns].to_numpy(float)
    forest = IsolationForest(
        n_estimators=200, contamination=contamination, random_state=seed, n_jobs=1
    )
    forest.fit(x)
    center = {c: float(signals[c].median()) for c in columns}
    spread = {
        c: float((signals[c] - center[c]).abs().median() * 1.4826) or float(signals[c].std() or 0.0)
        for c in columns
    }
    scores = -forest.score_samples(x)
    threshold = float(np.quantile(scores, 1 - contamination))
    return AnomalyModel(forest, columns, center, spread, threshold)
