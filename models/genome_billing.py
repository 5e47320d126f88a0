"""Genome features from the money side, point in time: contract terms and prices, renewals
and escalations, payments and lateness, licence use and cost."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mspilot.core.normal import normal_sf
from mspilot.models.data import TenantFrames, date_month_index, month_index
from mspilot.models.feature_catalog import BILLING_LOOKBACK_MONTHS, PRICE_LOOKBACK
from mspilot.models.genome_panel import RECENCY, MonthPanel, ratio


def price_changes(contracts: pd.DataFrame) -> pd.DataFrame:
    """Each contract term's price change over the previous term of the same client and kind
    (a renewal, signed when the term starts): client_id, start month, pct, value."""
    con = contracts[contracts["status"] != "draft"].copy()
    if con.empty:
        return pd.DataFrame(columns=["client_id", "chain", "start_m", "pct", "value"])
    con["price"] = con["unit_price"].fillna(con["hourly_rate"])
    con = con.sort_values(["client_id", "kind", "starts_on"])
    prev = con.groupby(["client_id", "kind"])["price"].shift()
    con["pct"] = np.where(prev > 0, (con["price"] / prev - 1.0) * 100.0, np.nan)
    con["value"] = con["monthly_value"].fillna(con["price"] * con["quantity"].fillna(1.0))
    con["start_m"] = month_index(con["starts_on"])
    con = con.rename(columns={"kind": "chain"})
    return con.loc[con["pct"].notna(), ["client_id", "chain", "start_m", "pct", "value"]]


def price_features(
    changes: pd.DataFrame, client_ids: Sequence[str], month: int, tenure: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(contract price change % over the last 12 months, compounded over renewals and
    weighted by contract value across a client's contracts; months since the last change,
    capped at ``PRICE_LOOKBACK``) per client."""
    n = len(client_ids)
    pct = np.zeros(n)
    since = np.minimum(tenure, float(PRICE_LOOKBACK))
    if changes.empty:
        return pct, since
    window = changes[(changes["start_m"] <= month) & (changes["start_m"] > month - 12)]
    if not window.empty:
        chains = window.assign(factor=1.0 + window["pct"] / 100.0).groupby(["client_id", "chain"])
        chain = pd.DataFrame(
            {
                "pct": (chains["factor"].prod() - 1.0) * 100.0,
                "w": chains["value"].last().clip(lower=1e-9),
            }
        )
        chain["wp"] = chain["pct"] * chain["w"]
        agg = chain.groupby(level="client_id")[["wp", "w"]].sum()
        by_client = (agg["wp"] / agg["w"]).reindex(pd.Index(client_ids))
        pct = by_client.fillna(0.0).to_numpy(dtype=float)
    recent = changes[
        (changes["start_m"] <= month)
        & (changes["start_m"] > month - PRICE_LOOKBACK)
        & (changes["pct"].abs() > 0.5)
    ]
    last = recent.groupby("client_id")["start_m"].max().reindex(pd.Index(client_ids))
    months = month - last.to_numpy(dtype=float)
    since = np.where(np.isnan(months), since, np.minimum(months, since))
    return pct, since


#: A 12-month term's last months, when a client decides whether to renew.
TERM_MONTHS = 12
RENEWAL_WINDOW = 2
#: Months ahead the churn label covers (a 90-day horizon from a month end).
HORIZON_MONTHS = 3


def term_features(
    client_ids: Sequence[str],
    onboard_m: np.ndarray,
    month: int,
    escalation: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(months into the current 12-month term counted from onboarding; how many of the next
    ``HORIZON_MONTHS`` months fall in a term's last ``RENEWAL_WINDOW``; the escalation % due
    at a renewal next month or the one after, counted once per horizon month after it: a
    renewal's increase weighs on the three months that follow it)."""
    known = ~np.isnan(onboard_m)
    into = np.where(known, np.mod(month - np.nan_to_num(onboard_m), TERM_MONTHS), np.nan)
    window = np.zeros(len(client_ids))
    for k in range(1, HORIZON_MONTHS + 1):
        tenure = month + k - np.nan_to_num(onboard_m)
        window += (
            known & (tenure > 0) & (np.mod(tenure, TERM_MONTHS) >= TERM_MONTHS - RENEWAL_WINDOW)
        )
    due = np.zeros(len(client_ids))
    for j in range(month + 1, month + HORIZON_MONTHS):
        tenure = j - np.nan_to_num(onboard_m)
        renews = known & (tenure > 0) & (np.mod(tenure, TERM_MONTHS) == 0)
        due += (HORIZON_MONTHS - (j - month)) * np.where(renews, escalation, 0.0)
    return into, window, due


def payment_features(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    client_ids: Sequence[str],
    snapshot: pd.Timestamp,
) -> dict[str, np.ndarray]:
    """Payment behaviour known at ``snapshot`` over the invoices issued in the 6 months up
    to it: mean days to pay, late invoices, overdue balance; mean days late over the last 3."""
    index = pd.Index(client_ids)
    n = len(client_ids)
    empty = {
        "days": np.full(n, np.nan),
        "late": np.zeros(n),
        "days_late": np.full(n, np.nan),
        "overdue": np.zeros(n),
    }
    start = snapshot - pd.DateOffset(months=BILLING_LOOKBACK_MONTHS)
    inv = invoices[(invoices["issued_on"] <= snapshot) & (invoices["issued_on"] > start)]
    if inv.empty:
        return empty
    paid = payments[payments["paid_on"] <= snapshot]
    got = paid.groupby("invoice_id").agg(paid_amount=("amount", "sum"), paid_on=("paid_on", "max"))
    inv = inv.join(got, on="id")
    inv["paid_amount"] = inv["paid_amount"].fillna(0.0)
    settled = inv["paid_amount"] >= inv["total"] - 0.01
    due = inv["due_on"].fillna(inv["issued_on"] + pd.Timedelta(days=30))
    recent3 = inv["issued_on"] > snapshot - pd.DateOffset(months=3)
    is_late = (settled & (inv["paid_on"] > due)) | (~settled & (due < snapshot))
    # days past due: settled invoices by their payment, open ones by the snapshot
    end = inv["paid_on"].where(settled, snapshot)
    days_late = ((end - due).dt.days).clip(lower=0).astype(float)
    frame = pd.DataFrame(
        {
            "client_id": inv["client_id"],
            "days": np.where(settled, (inv["paid_on"] - inv["issued_on"]).dt.days, np.nan),
            "late": is_late.astype(float),
            "days_late": np.where(recent3 & (settled | (due < snapshot)), days_late, np.nan),
            "overdue": np.where(~settled & (due < snapshot), inv["total"] - inv["paid_amount"], 0),
        }
    )
    per = frame.groupby("client_id").agg(
        late=("late", "sum"), overdue=("overdue", "sum"), days_late=("days_late", "mean")
    )
    d = frame.groupby("client_id")["days"].mean()
    return {
        "days": d.reindex(index).to_numpy(dtype=float),
        "late": per["late"].reindex(index).fillna(0.0).to_numpy(dtype=float),
        "days_late": per["days_late"].reindex(index).to_numpy(dtype=float),
        "overdue": per["overdue"].reindex(index).fillna(0.0).to_numpy(dtype=float),
    }


def late_estimate(
    invoices: pd.DataFrame,
    payments: pd.DataFrame,
    client_ids: Sequence[str],
    snapshot: pd.Timestamp,
) -> np.ndarray:
    """Mean days paid past the payment terms / 30 over the invoices issued in the last
    ``BILLING_LOOKBACK_MONTHS`` months (weights ``RECENCY ** age in months``): settled ones
    at their (last) payment; an unsettled one, whose delay is only known to exceed its age,
    at the expected delay given that, from a log-normal around the client's median delay of
    the window (the tenant's where it has none)."""
    n = len(client_ids)
    start = snapshot - pd.DateOffset(months=BILLING_LOOKBACK_MONTHS)
    inv = invoices[(invoices["issued_on"] <= snapshot) & (invoices["issued_on"] > start)]
    if inv.empty:
        return np.full(n, np.nan)
    paid = payments[payments["paid_on"] <= snapshot]
    got = paid.groupby("invoice_id").agg(paid_amount=("amount", "sum"), paid_on=("paid_on", "max"))
    inv = inv.join(got, on="id")
    settled = (inv["paid_amount"].fillna(0.0) >= inv["total"] - 0.01).to_numpy()
    delay = (inv["paid_on"] - inv["issued_on"]).dt.days.to_numpy(dtype=float)
    age = (snapshot - inv["issued_on"]).dt.days.to_numpy(dtype=float)
    terms = (inv["due_on"] - inv["issued_on"]).dt.days.fillna(30.0).to_numpy(dtype=float)
    log_d = np.where(settled, np.log(np.clip(delay, 1.0, None)), np.nan)
    client = inv["client_id"]
    centre = pd.Series(log_d).groupby(client.to_numpy()).median()
    tenant = float(np.nanmedian(log_d)) if settled.any() else math.log(30.0)
    mu = centre.reindex(client.to_numpy()).fillna(tenant).to_numpy(dtype=float)
    spread = np.nanstd(log_d - mu) if settled.sum() > 2 else 0.35
    sd = max(float(spread), 0.05)
    z = (np.log(np.clip(age, 1.0, None)) - mu) / sd
    # E[X | X > age] for log-normal X: exp(mu + sd^2/2) * P(Z > z - sd) / P(Z > z)
    tail = normal_sf(z - sd) / np.maximum(normal_sf(z), 1e-12)
    expected = np.exp(mu + sd * sd / 2.0) * tail
    expected = np.where(normal_sf(z) < 1e-9, age, np.maximum(expected, age))
    est = np.where(settled, delay, expected)
    w = RECENCY ** (age / 30.4375).astype(int)
    keys = client.to_numpy()
    past_terms = pd.Series(w * (est - terms)).groupby(keys).sum() / pd.Series(w).groupby(keys).sum()
    late = past_terms.clip(lower=0.0) / 30.0
    return np.asarray(late.reindex(pd.Index(client_ids)).to_numpy(dtype=float))


def contract_terms(
    contracts: pd.DataFrame, client_ids: Sequence[str], snapshot: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """(months from ``snapshot`` to the latest end among contracts running at it, their
    largest escalation clause in %). The end is NaN when a running contract has no end date.
    Renewals signed later are not visible yet, and a cancelled contract's ``ends_on`` (the
    cancellation date, known only once it happens) is replaced by the end of the term as
    signed (whole years from its start)."""
    index = pd.Index(client_ids)
    contracts = contracts.assign(ends_on=_signed_end(contracts))
    live = contracts[
        (contracts["starts_on"] <= snapshot)
        & (contracts["ends_on"].isna() | (contracts["ends_on"] >= snapshot))
        & (contracts["status"] != "draft")
    ]
    if live.empty:
        return np.full(len(client_ids), np.nan), np.zeros(len(client_ids))
    open_ended = live[live["ends_on"].isna()].groupby("client_id").size()
    ends = live.groupby("client_id")["ends_on"].max()
    months = (ends - snapshot).dt.days / 30.4375
    months[months.index.isin(open_ended.index)] = np.nan
    esc = live.groupby("client_id")["annual_escalation_pct"].max()
    return (
        months.reindex(index).to_numpy(dtype=float),
        esc.reindex(index).fillna(0.0).to_numpy(dtype=float),
    )


def _signed_end(contracts: pd.DataFrame) -> pd.Series:
    ends = contracts["ends_on"].copy()
    cancelled = (contracts["status"] == "cancelled") & ends.notna()
    if cancelled.any():
        start = contracts.loc[cancelled, "starts_on"]
        days = (ends[cancelled] - start).dt.days
        years = np.maximum(1, np.ceil((days + 1) / 365.25)).astype(int)
        signed = [
            s + pd.DateOffset(years=int(y)) - pd.Timedelta(days=1)
            for s, y in zip(start, years, strict=True)
        ]
        ends.loc[cancelled] = signed
    return ends


def licence_utilisation(
    licenses: pd.DataFrame,
    lines: pd.DataFrame,
    client_ids: Sequence[str],
    snapshot: pd.Timestamp,
) -> np.ndarray:
    live = licenses[
        (licenses["starts_on"].isna() | (licenses["starts_on"] <= snapshot))
        & (licenses["ends_on"].isna() | (licenses["ends_on"] >= snapshot))
    ]
    in_use = live.groupby("client_id")["seats_in_use"].sum()
    month = date_month_index(snapshot.date())
    lic = lines[lines["kind"] == "license"]
    lic = lic[month_index(lic["issued_on"]) == month]
    billed = lic.groupby("client_id")["quantity"].sum()
    index = pd.Index(client_ids)
    use = in_use.reindex(index).to_numpy(dtype=float)
    bill = billed.reindex(index).to_numpy(dtype=float)
    return ratio(np.nan_to_num(use), np.nan_to_num(bill))


def licence_cost_pit(frames: TenantFrames, panel: MonthPanel) -> np.ndarray:
    """Monthly licence cost from the seats billed that month x the vendor unit cost."""
    lic = frames.lines[frames.lines["kind"] == "license"]
    costs = frames.licenses.groupby(["client_id", "sku"])["unit_cost"].mean()
    if lic.empty or costs.empty:
        return np.zeros(panel.shape)
    keys = pd.MultiIndex.from_arrays([lic["client_id"], lic["sku"]])
    unit = costs.reindex(keys).to_numpy(dtype=float)
    unit = np.where(np.isnan(unit), 0.0, unit)
    month = month_index(lic["issued_on"])
    return panel.matrix(lic["client_id"], month, lic["quantity"].to_numpy(float) * unit)
