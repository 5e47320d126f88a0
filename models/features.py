"""The client genome: a point-in-time correct client-month feature table.

A row describes one client as seen at a snapshot date ``s`` (a month end): every value is
computed from events dated on or before ``s`` only (tickets closed by ``s``, invoices and their
lines by the month they were *issued* in, payments received by ``s``, contracts started by
``s``), so training rows never look ahead and serving sees exactly what training saw.

Revenue, hours and labour cost come from the shared ``db.definitions.client_economics``, one
calendar month at a time, and windows are sums of those months. Licence cost is taken from
the seats billed on each month's licence lines instead of the shared definition's vendor
count, which is today's value (0 once a client has left) and would reveal churn. The set of
clients at a snapshot and the churn label come from ``db.definitions.churn_labels``.

Public interface (kept stable for the pricing optimiser):
- ``build_features(engine, tenant_id, as_of) -> DataFrame``: one row per client active at
  ``as_of``, index = client id, columns = ``FEATURES`` (+ ``industry``).
- ``cached_features(engine, tenant_id, as_of)``: the same, memoised until the tenant's data
  changes (``models.data.data_version``).
- ``FEATURE_SET_VERSION``: hash of the feature definitions, recorded with every model.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from mspilot.core.clock import add_months, month_end, month_start
from mspilot.core.errors import DataError
from mspilot.core.normal import normal_sf
from mspilot.db.definitions import CHURN_HORIZON_DAYS, churn_labels
from mspilot.models.data import (
    DataVersion,
    TenantFrames,
    VersionedCache,
    data_span,
    date_month_index,
    load_frames,
    month_index,
    read_frame,
)


@dataclass(frozen=True)
class Feature:
    name: str
    description: str
    unit: str = ""


FEATURE_SPECS: tuple[Feature, ...] = (
    Feature("tenure_months", "Months since onboarding", "months"),
    Feature("seats", "Users covered", "users"),
    Feature("revenue_3m", "Revenue over the last 3 months", "$"),
    Feature("revenue_trend", "Revenue last 3 months vs the 3 before, relative change", "ratio"),
    Feature("mrr", "Recurring revenue billed in the snapshot month", "$"),
    Feature("margin_3m", "Gross margin over the last 3 months (licence cost as billed)", "$"),
    Feature("margin_pct_3m", "Gross margin % over the last 3 months", "ratio"),
    Feature("margin_pct_prev_3m", "Gross margin % over the 3 months before", "ratio"),
    Feature(
        "service_margin_pct_3m",
        "(Recurring + labour billed - labour cost) / (recurring + labour billed), last 3m",
        "ratio",
    ),
    Feature("effective_rate_3m", "Revenue per hour worked, last 3 months", "$/h"),
    Feature("hours_3m", "Hours worked over the last 3 months", "h"),
    Feature("hours_per_seat_3m", "Hours worked per user, last 3 months", "h"),
    Feature("hours_per_ticket_3m", "Hours worked per ticket opened, last 3 months", "h"),
    Feature("tickets_3m", "Tickets opened over the last 3 months", "tickets"),
    Feature("tickets_prev_3m", "Tickets opened over the 3 months before", "tickets"),
    Feature("ticket_trend", "log((tickets last 3m + 1) / (tickets 3m before + 1))", "log"),
    Feature("tickets_per_seat_3m", "Tickets per user, last 3 months", "tickets"),
    Feature("p1_share_3m", "Share of P1 tickets, last 3 months", "ratio"),
    Feature("sla_breach_rate_3m", "Share of tickets closed with an SLA breach, last 3m", "ratio"),
    Feature("sla_breach_rate_prev_3m", "SLA breach share, the 3 months before", "ratio"),
    Feature("csat_mean_3m", "Mean CSAT of tickets closed in the last 3 months", "1-5"),
    Feature("csat_mean_prev_3m", "Mean CSAT of tickets closed in the 3 months before", "1-5"),
    Feature("csat_trend", "CSAT last 3 months minus the 3 months before", "points"),
    Feature("csat_recent", "CSAT, recent months weighted most (0.85/month), shrunk", "1-5"),
    Feature("sla_breach_recent", "SLA breach share, recent months weighted most, shrunk", "ratio"),
    Feature(
        "resolution_time_recent",
        "log resolution time vs the tenant's 12-month mean for the priority, recency-weighted",
        "log",
    ),
    Feature(
        "sla_breach_6m",
        "SLA breach share of tickets opened in the last 6 months (0.85/month), open tickets "
        "past their SLA counted, shrunk",
        "ratio",
    ),
    Feature("csat_6m", "CSAT of tickets opened in the last 6 months (0.85/month), shrunk", "1-5"),
    Feature(
        "satisfaction_6m",
        "Satisfaction over all tickets opened in the last 6 months: answers, else estimated "
        "from breach and the client's answers",
        "1-5",
    ),
    Feature("days_to_pay_6m", "Mean days from invoice to payment, last 6 months", "days"),
    Feature("late_payments_6m", "Invoices paid late or overdue, last 6 months", "invoices"),
    Feature("days_late_3m", "Mean days paid after the due date, invoices of the last 3m", "days"),
    Feature(
        "late_months_6m",
        "Days paid past terms / 30, invoices of the last 6 months (0.85/month; unpaid ones: "
        "expected)",
        "months",
    ),
    Feature("overdue_ratio", "Overdue balance at the snapshot / monthly revenue", "ratio"),
    Feature("licence_utilisation", "Licence seats in use / licence seats billed", "ratio"),
    Feature("months_to_contract_end", "Months until the active contract ends", "months"),
    Feature("term_month", "Months into the current 12-month term (from onboarding)", "months"),
    Feature("renewal_window_3m", "Months of the next 3 in the last 2 of a 12-month term", "months"),
    Feature(
        "escalation_due_3m",
        "Escalation % due at a renewal in the next 2 months x the horizon months after it",
        "%",
    ),
    Feature("escalation_pct", "Annual escalation clause of the active contract", "%"),
    Feature(
        "months_since_price_change", "Months since a contract term changed the price", "months"
    ),
    Feature(
        "price_change_pct_12m", "Contract price change over the last 12 months (renewals)", "%"
    ),
)
FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURE_SPECS)
CATEGORICAL: tuple[str, ...] = ("industry",)
#: Genome columns that describe the client today but cannot be rebuilt for past snapshots
#: (licence ``seats_in_use`` is the vendor's current count; after a churn it reads 0), so
#: models never learn from them.
CURRENT_STATE_ONLY: tuple[str, ...] = ("licence_utilisation",)
MODEL_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if f not in CURRENT_STATE_ONLY)
DESCRIPTIONS: dict[str, Feature] = {f.name: f for f in FEATURE_SPECS}
#: Panel width before the first snapshot (covers every look-back below).
LOOKBACK_MONTHS = 14
#: Tickets closed in the snapshot month and the 11 before feed the recency-weighted signals;
#: tickets are loaded from 3 months earlier still, for the ones opened before and closed in it.
TICKET_LOOKBACK_MONTHS = 14
#: Invoices (and their lines and payments) issued in the 6 months up to the snapshot.
BILLING_LOOKBACK_MONTHS = 6
#: Price history a feature can see (months); also the cap of months since a price change.
PRICE_LOOKBACK = 13
#: Economics windows look back 6 months (last 3 and the 3 before).
ECONOMICS_LOOKBACK_MONTHS = 5
#: Months with no history beyond this many are capped (tenure, months since price change).
CAP_MONTHS = 60.0


def _feature_set_version() -> str:
    text = repr(FEATURE_SPECS) + repr(CATEGORICAL) + Path(__file__).read_text()
    return hashlib.sha256(text.encode()).hexdigest()[:12]


FEATURE_SET_VERSION = _feature_set_version()


def snapshot_for(as_of: dt.date) -> dt.date:
    """The month end the genome is computed at for ``as_of`` (itself if it is a month end,
    else the previous month end): partial months would bias every monthly window."""
    end = month_end(as_of)
    return as_of if as_of == end else month_start(as_of) - dt.timedelta(days=1)


def month_end_snapshots(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every month end in ``[first, last]``."""
    out = []
    cur = month_end(first)
    while cur <= last:
        out.append(cur)
        cur = month_end(add_months(month_start(cur), 1))
    return out


# ---- panels: clients x months matrices --------------------------------------------------


class _Panel:
    """Monthly aggregates as ``clients x months`` matrices with window sums."""

    def __init__(self, client_ids: Sequence[str], first_month: int, last_month: int) -> None:
        self.index = pd.Index(client_ids)
        self.first = first_month
        self.n_months = last_month - first_month + 1
        self.shape = (len(client_ids), self.n_months)

    def codes(self, client_ids: pd.Series) -> np.ndarray:
        """Row of each client id (-1 if not a panel client), for several ``matrix`` calls."""
        return np.asarray(self.index.get_indexer(client_ids))

    def matrix(
        self,
        client_ids: pd.Series | np.ndarray,
        months: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        """Sums per (client, month); ``client_ids`` are ids, or their ``codes``."""
        ci = client_ids if isinstance(client_ids, np.ndarray) else self.codes(client_ids)
        ti = np.asarray(months, dtype=np.int64) - self.first
        ok = (ci >= 0) & (ti >= 0) & (ti < self.n_months)
        w = None if weights is None else np.asarray(weights, dtype=float)[ok]
        flat = ci[ok] * self.n_months + ti[ok]
        size = self.shape[0] * self.shape[1]
        return np.bincount(flat, weights=w, minlength=size).astype(float).reshape(self.shape)

    def window(self, matrix: np.ndarray, month: int, length: int, lag: int = 0) -> np.ndarray:
        """Sum over the ``length`` months ending ``lag`` months before ``month`` (inclusive)."""
        end = month - lag - self.first  # inclusive column
        start = max(end - length + 1, 0)
        if end < 0:
            return np.zeros(self.shape[0])
        return np.asarray(matrix[:, start : end + 1].sum(axis=1))


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


#: Month-to-month persistence used to weight recent months (service quality drifts slowly).
RECENCY = 0.85
#: Pseudo-observations pulling a client with few responses toward the tenant's average.
SHRINK = 3.0


def _recent(total: np.ndarray, count: np.ndarray, month: int, panel: _Panel) -> np.ndarray:
    """Recency-weighted mean (weights ``RECENCY ** age`` over 12 months), shrunk toward the
    tenant-wide mean of the same window, so a client with two responses is not an outlier."""
    end = month - panel.first
    start = max(end - 11, 0)
    ages = np.arange(end - start, -1, -1)
    w = RECENCY**ages
    s = (total[:, start : end + 1] * w).sum(axis=1)
    n = (count[:, start : end + 1] * w).sum(axis=1)
    return _shrunk(s, n)


def _resolution_recent(
    res_sum: np.ndarray,
    by_priority: dict[str, np.ndarray],
    count: np.ndarray,
    closed_month: np.ndarray,
    log_res: np.ndarray,
    priority: pd.Series,
    month: int,
    panel: _Panel,
) -> np.ndarray:
    """Recency-weighted mean of (log resolution hours - the tenant's trailing-12-month mean
    for the ticket's priority), shrunk toward 0: slow fixes beyond what the priority mix
    explains. Uses only tickets closed by the snapshot."""
    end = month - panel.first
    start = max(end - 11, 0)
    w = RECENCY ** np.arange(end - start, -1, -1)
    window = (closed_month >= month - 11) & (closed_month <= month)
    total = (res_sum[:, start : end + 1] * w).sum(axis=1)
    n = (count[:, start : end + 1] * w).sum(axis=1)
    pr = priority.to_numpy()
    for name, counts in by_priority.items():
        sel = window & (pr == name)
        mu = float(log_res[sel].mean()) if sel.any() else 0.0
        total = total - mu * (counts[:, start : end + 1] * w).sum(axis=1)
    return np.asarray(total / (n + SHRINK))


#: The window of service a client remembers when it decides to stay: tickets opened in the
#: snapshot month and the 5 before, the most recent weighing most.
EXPERIENCE_MONTHS = 6


@dataclass
class _TicketArrays:
    """Per-ticket arrays for the experience features (computed once per genome)."""

    rows: np.ndarray  # panel row of the client (-1: not a panel client)
    opened_m: np.ndarray  # month index of opening
    opened: np.ndarray  # opening time, ns
    resolved: np.ndarray  # resolution time, ns (int64 max while open)
    priority: np.ndarray  # priority labels
    breached: np.ndarray  # the stored breach flag (final once resolved)
    csat: np.ndarray  # survey answer (NaN: none)

    @classmethod
    def of(cls, tickets: pd.DataFrame, panel: _Panel) -> _TicketArrays:
        never = np.iinfo(np.int64).max
        resolved = tickets["resolved_at"]
        return cls(
            rows=panel.codes(tickets["client_id"]),
            opened_m=month_index(tickets["opened_at"]),
            opened=tickets["opened_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64),
            resolved=np.where(
                resolved.notna().to_numpy(),
                resolved.to_numpy(dtype="datetime64[ns]").astype(np.int64),
                never,
            ),
            priority=tickets["priority"].to_numpy(dtype=object),
            breached=tickets["sla_breached"].to_numpy(dtype=bool),
            csat=tickets["csat"].to_numpy(dtype=float, na_value=np.nan),
        )


def _experience(
    t: _TicketArrays, n: int, month: int, cutoff: pd.Timestamp
) -> dict[str, np.ndarray]:
    """What each client experienced in the tickets it opened in the ``EXPERIENCE_MONTHS``
    months up to the snapshot (weights ``RECENCY ** age``), as known at ``cutoff``:

    - ``breach``: SLA breach share. A resolved ticket counts its flag; an open one past its
      priority's SLA (the longest resolution not flagged, among tickets resolved by then) is
      a breach already; an open one within it counts its chance of still breaching, from a
      log-normal fit of the priority's resolution times.
    - ``csat``: mean survey answer of the resolved tickets.

    Both are shrunk with ``SHRINK`` pseudo-tickets at the tenant's mean of the window."""
    cut = cutoff.value
    done = t.resolved < cut
    sel = (t.opened_m <= month) & (t.opened_m > month - EXPERIENCE_MONTHS) & (t.rows >= 0)
    sel &= t.opened < cut
    hours = (np.where(done, t.resolved, cut) - t.opened) / 3.6e12
    log_hours = np.log(np.clip(hours, 1e-3, None))
    breach = np.where(done, t.breached.astype(float), np.nan)
    history = done & (t.opened_m > month - 12)
    for name in np.unique(t.priority[sel & ~done]):
        known = history & (t.priority == name)
        ok = known & ~t.breached
        if not ok.any():
            continue
        sla = float(hours[ok].max())
        logs = log_hours[known]
        mu, sd = float(logs.mean()), max(float(logs.std()), 1e-3)
        still = sel & ~done & (t.priority == name)
        elapsed = np.clip(hours[still], 1e-3, None)
        tail_sla = normal_sf((np.log(sla) - mu) / sd)
        tail_now = normal_sf((np.log(elapsed) - mu) / sd)
        chance = np.where(elapsed > sla, 1.0, tail_sla / np.maximum(tail_now, 1e-12))
        breach[still] = np.clip(chance, 0.0, 1.0)
    use = sel & ~np.isnan(breach)
    w = RECENCY ** (month - t.opened_m[use]).astype(float)
    rows = t.rows[use]
    b_n = np.bincount(rows, weights=w, minlength=n)
    b_s = np.bincount(rows, weights=w * breach[use], minlength=n)
    answered = sel & done & ~np.isnan(t.csat)
    wc = RECENCY ** (month - t.opened_m[answered]).astype(float)
    rc = t.rows[answered]
    c_n = np.bincount(rc, weights=wc, minlength=n)
    c_s = np.bincount(rc, weights=wc * t.csat[answered], minlength=n)
    # every ticket's satisfaction: the answer where there is one, else what the tenant's
    # answers say for its breach status and resolution time (both show how the client is
    # served), plus the client's own shrunk offset over its answers of the last 12 months
    resid = np.zeros(len(hours))
    for name in np.unique(t.priority[history]):
        same = t.priority == name
        resid = np.where(same & done, log_hours - float(log_hours[history & same].mean()), resid)
    past = history & (t.rows >= 0) & ~np.isnan(t.csat)
    design = np.column_stack([np.ones(len(hours)), t.breached.astype(float), resid])
    coef = np.zeros(3)
    if past.sum() > 10:
        coef = np.linalg.lstsq(design[past], t.csat[past], rcond=None)[0]
    else:
        coef[0] = float(np.nanmean(t.csat[past])) if past.any() else 4.0
    wr = RECENCY ** (month - t.opened_m[past]).astype(float)
    miss = t.csat[past] - design[past] @ coef
    offset = np.bincount(t.rows[past], weights=wr * miss, minlength=n) / (
        np.bincount(t.rows[past], weights=wr, minlength=n) + SHRINK
    )
    guess = coef[0] + coef[1] * breach[use] + coef[2] * resid[use] + offset[rows]
    answer = t.csat[use]
    sat = np.where(np.isnan(answer) | ~done[use], guess, answer)
    s_s = np.bincount(rows, weights=w * sat, minlength=n)
    return {
        "breach": _shrunk(b_s, b_n),
        "csat": _shrunk(c_s, c_n),
        "satisfaction": _shrunk(s_s, b_n),
    }


def _shrunk(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``total / count`` pulled toward the tenant-wide ratio by ``SHRINK`` pseudo-counts."""
    prior = total.sum() / count.sum() if count.sum() > 0 else np.nan
    return np.asarray((total + SHRINK * prior) / (count + SHRINK))


def _price_changes(contracts: pd.DataFrame) -> pd.DataFrame:
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


def _price_features(
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


def _term_features(
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


def _payment_features(
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


def _late_estimate(
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


def _contract_terms(
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


def _licence_utilisation(
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
    return _ratio(np.nan_to_num(use), np.nan_to_num(bill))


def _licence_cost_pit(frames: TenantFrames, panel: _Panel) -> np.ndarray:
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


def active_at(engine: Engine, tenant_id: str, snapshots: Sequence[dt.date]) -> pd.DataFrame:
    """(snapshot, client_id, churns) for every client active at each snapshot, from the
    shared definition; ``churns`` is only meaningful where the 90-day window has passed."""
    parts = []
    with engine.connect() as conn:
        for snap in snapshots:
            frame = read_frame(conn, churn_labels(tenant_id, snap))
            frame["snapshot"] = pd.Timestamp(snap)
            parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["snapshot", "client_id", "churns"])
    out = pd.concat(parts, ignore_index=True)
    out["churns"] = out["churns"].astype(bool)
    return out


def compute_genome(
    frames: TenantFrames, population: pd.DataFrame, snapshots: Sequence[dt.date]
) -> pd.DataFrame:
    """Feature rows for ``population`` (snapshot, client_id) from the tenant's frames.

    The frames' economics must cover the months of every window used (``LOOKBACK_MONTHS``
    before the first snapshot up to the last)."""
    clients = frames.clients
    ids = list(clients.index)
    snap_months = [date_month_index(s) for s in snapshots]
    first = min(snap_months) - LOOKBACK_MONTHS
    last = max(snap_months)
    panel = _Panel(ids, first, last)

    tickets = frames.tickets
    # client rows and priorities looked up once for every ticket matrix below
    t_rows = panel.codes(tickets["client_id"])
    priority = tickets["priority"].to_numpy(dtype=object)
    opened = month_index(tickets["opened_at"])
    is_closed = tickets["resolved_at"].notna().to_numpy()
    closed = tickets[is_closed]
    c_rows, c_priority = t_rows[is_closed], priority[is_closed]
    closed_m = month_index(closed["resolved_at"])
    has_csat = closed["csat"].notna().to_numpy()
    with_csat = closed[has_csat]
    t_count = panel.matrix(t_rows, opened)
    t_p1 = panel.matrix(t_rows, opened, priority == "p1")
    c_count = panel.matrix(c_rows, closed_m)
    c_sla = panel.matrix(c_rows, closed_m, closed["sla_breached"].to_numpy())
    csat_m = month_index(with_csat["resolved_at"])
    csat_sum = panel.matrix(c_rows[has_csat], csat_m, with_csat["csat"].to_numpy(float))
    csat_n = panel.matrix(c_rows[has_csat], csat_m)
    hours_open = (closed["resolved_at"] - closed["opened_at"]).dt.total_seconds() / 3600.0
    log_res = np.log(np.clip(hours_open.to_numpy(dtype=float), 0.05, None))
    res_sum = panel.matrix(c_rows, closed_m, log_res)
    res_by_priority = {
        pr: panel.matrix(c_rows, closed_m, (c_priority == pr).astype(float))
        for pr in sorted(set(c_priority))
    }

    econ = frames.economics
    em = econ["month"].to_numpy(dtype=np.int64) if len(econ) else np.zeros(0, dtype=np.int64)
    e = {
        col: panel.matrix(econ["client_id"], em, econ[col].to_numpy(float))
        for col in ("revenue", "hours", "labour_cost")
    }
    # Point-in-time margin: the shared licence cost multiplies today's vendor seat count
    # (0 once a client has left) into every past month, which would tell the model who
    # churned. The seats billed on each month's licence lines are known at the time.
    e["margin"] = e["revenue"] - e["labour_cost"] - _licence_cost_pit(frames, panel)
    rec = frames.lines[frames.lines["kind"] == "recurring"]
    rec_month = month_index(rec["issued_on"])
    mrr = panel.matrix(rec["client_id"], rec_month, rec["amount"].to_numpy(float))
    svc = frames.lines[frames.lines["kind"].isin(("recurring", "labor"))]
    svc_month = month_index(svc["issued_on"])
    service = panel.matrix(svc["client_id"], svc_month, svc["amount"].to_numpy(float))
    price_changes = _price_changes(frames.contracts)

    ticket_arrays = _TicketArrays.of(tickets, panel)
    seats = clients["seats"].to_numpy(dtype=float)
    onboarded = clients["onboarded_on"]
    onboard_m = np.where(
        onboarded.notna().to_numpy(), month_index(onboarded.fillna(pd.Timestamp(0))), np.nan
    )
    rows = []
    for snap, month in zip(snapshots, snap_months, strict=True):
        ts = pd.Timestamp(snap)
        members = population.loc[population["snapshot"] == ts, "client_id"]
        if members.empty:
            continue
        tenure = ((ts - onboarded).dt.days / 30.4375).fillna(CAP_MONTHS).to_numpy(dtype=float)
        tenure = np.clip(tenure, 0.0, None)
        w = panel.window
        rev3, rev_p3 = w(e["revenue"], month, 3), w(e["revenue"], month, 3, 3)
        mar3, mar_p3 = w(e["margin"], month, 3), w(e["margin"], month, 3, 3)
        hrs3 = w(e["hours"], month, 3)
        tk3, tk_p3 = w(t_count, month, 3), w(t_count, month, 3, 3)
        cl3, cl_p3 = w(c_count, month, 3), w(c_count, month, 3, 3)
        cs3 = _ratio(w(csat_sum, month, 3), w(csat_n, month, 3))
        cs_p3 = _ratio(w(csat_sum, month, 3, 3), w(csat_n, month, 3, 3))
        pay = _payment_features(frames.invoices, frames.payments, ids, ts)
        to_end, escalation = _contract_terms(frames.contracts, ids, ts)
        price_pct, since_change = _price_features(price_changes, ids, month, tenure)
        into_term, renewal, escalation_due = _term_features(ids, onboard_m, month, escalation)
        experience = _experience(ticket_arrays, len(ids), month, ts + pd.Timedelta(days=1))
        monthly_rev = rev3 / 3.0
        frame = pd.DataFrame(
            {
                "tenure_months": tenure,
                "seats": seats,
                "revenue_3m": rev3,
                "revenue_trend": np.clip(_ratio(rev3, rev_p3) - 1.0, -1.0, 5.0),
                "mrr": w(mrr, month, 1),
                "margin_3m": mar3,
                "margin_pct_3m": _ratio(mar3, rev3),
                "margin_pct_prev_3m": _ratio(mar_p3, rev_p3),
                "service_margin_pct_3m": np.clip(
                    _ratio(
                        w(service, month, 3) - w(e["labour_cost"], month, 3), w(service, month, 3)
                    ),
                    -3.0,
                    1.0,
                ),
                "effective_rate_3m": _ratio(rev3, hrs3),
                "hours_3m": hrs3,
                "hours_per_seat_3m": _ratio(hrs3, seats),
                "hours_per_ticket_3m": _ratio(hrs3, tk3),
                "tickets_3m": tk3,
                "tickets_prev_3m": tk_p3,
                "ticket_trend": np.log((tk3 + 1.0) / (tk_p3 + 1.0)),
                "tickets_per_seat_3m": _ratio(tk3, seats),
                "p1_share_3m": _ratio(w(t_p1, month, 3), tk3),
                "sla_breach_rate_3m": _ratio(w(c_sla, month, 3), cl3),
                "sla_breach_rate_prev_3m": _ratio(w(c_sla, month, 3, 3), cl_p3),
                "csat_mean_3m": cs3,
                "csat_mean_prev_3m": cs_p3,
                "csat_trend": cs3 - cs_p3,
                "csat_recent": _recent(csat_sum, csat_n, month, panel),
                "sla_breach_recent": _recent(c_sla, c_count, month, panel),
                "resolution_time_recent": _resolution_recent(
                    res_sum,
                    res_by_priority,
                    c_count,
                    closed_m,
                    log_res,
                    closed["priority"],
                    month,
                    panel,
                ),
                "sla_breach_6m": experience["breach"],
                "csat_6m": experience["csat"],
                "satisfaction_6m": experience["satisfaction"],
                "days_to_pay_6m": pay["days"],
                "late_payments_6m": pay["late"],
                "days_late_3m": pay["days_late"],
                "late_months_6m": _late_estimate(frames.invoices, frames.payments, ids, ts),
                "overdue_ratio": np.clip(_ratio(pay["overdue"], monthly_rev), 0.0, 24.0),
                "licence_utilisation": _licence_utilisation(frames.licenses, frames.lines, ids, ts),
                "months_to_contract_end": to_end,
                "term_month": into_term,
                "renewal_window_3m": renewal,
                "escalation_due_3m": escalation_due,
                "escalation_pct": escalation,
                "months_since_price_change": since_change,
                "price_change_pct_12m": price_pct,
                "industry": clients["industry"].to_numpy(),
            },
            index=pd.Index(ids, name="client_id"),
        )
        frame = frame.loc[frame.index.isin(set(members))]
        frame.insert(0, "snapshot", ts)
        rows.append(frame)
    if not rows:
        empty = pd.DataFrame(columns=["snapshot", *FEATURES, *CATEGORICAL])
        return empty.set_index("snapshot", append=True)
    genome = pd.concat(rows)
    genome = genome.reset_index().set_index(["snapshot", "client_id"]).sort_index()
    return genome


def economics_months_for(snapshots: Sequence[dt.date], ahead: int = 0) -> list[dt.date]:
    """Calendar months whose economics the snapshots' windows need (plus ``ahead`` after)."""
    first = add_months(month_start(min(snapshots)), -ECONOMICS_LOOKBACK_MONTHS)
    count = ECONOMICS_LOOKBACK_MONTHS + 1 + _span(snapshots) + ahead
    return [add_months(first, i) for i in range(count)]


def _frames_for(
    engine: Engine, tenant_id: str, snapshots: Sequence[dt.date], with_time_entries: bool = False
) -> TenantFrames:
    first = month_start(min(snapshots))
    return load_frames(
        engine,
        tenant_id,
        since=add_months(first, -BILLING_LOOKBACK_MONTHS),
        ticket_since=add_months(first, -TICKET_LOOKBACK_MONTHS),
        until=max(snapshots),
        economics_months=economics_months_for(snapshots),
        with_time_entries=with_time_entries,
        genome_only=True,
    )


def _span(snapshots: Sequence[dt.date]) -> int:
    return date_month_index(max(snapshots)) - date_month_index(min(snapshots))


def build_features(engine: Engine, tenant_id: str, as_of: dt.date) -> pd.DataFrame:
    """The genome of every client active at ``as_of`` (index = client id).

    Windows end at ``snapshot_for(as_of)`` (the last month end on or before it)."""
    snap = snapshot_for(as_of)
    with engine.connect() as conn:
        population = read_frame(conn, churn_labels(tenant_id, as_of))
    population["snapshot"] = pd.Timestamp(snap)
    frames = _frames_for(engine, tenant_id, [snap])
    genome = compute_genome(frames, population, [snap])
    return genome.droplevel("snapshot")


#: Genomes kept by ``cached_features``, each valid for the data version it was built at.
_FEATURE_CACHE: VersionedCache[pd.DataFrame] = VersionedCache(size=16)


def cached_features(
    engine: Engine, tenant_id: str, as_of: dt.date, version: DataVersion | None = None
) -> pd.DataFrame:
    """``build_features`` memoised per (database, tenant, as_of) and keyed by the tenant's
    ``data_version`` (pass ``version`` when the caller has it): a load or sync that changes
    any row is seen by the next call, never served stale. A hit costs the fingerprint query
    instead of the genome build. The frame is shared between callers: treat it as read-only."""
    return _FEATURE_CACHE.for_tenant(
        engine, tenant_id, as_of, version, lambda: build_features(engine, tenant_id, as_of)
    )


def clear_feature_cache(tenant_id: str | None = None) -> None:
    _FEATURE_CACHE.clear(keep=lambda key: tenant_id is not None and key[1] != tenant_id)  # type: ignore[index]


@dataclass
class TrainingTable:
    """Genome rows for many snapshots with the 90-day churn label where it is known."""

    genome: pd.DataFrame  # index (snapshot, client_id); FEATURES + CATEGORICAL
    labels: pd.Series  # 1.0/0.0 aligned with genome; NaN where the 90 days have not passed
    as_of: dt.date
    economics: pd.DataFrame  # monthly client_economics (client_id, month, revenue, ...)
    feature_set_version: str = FEATURE_SET_VERSION

    @property
    def labelled(self) -> pd.Index:
        return self.labels.index[self.labels.notna()]

    def snapshots(self) -> list[pd.Timestamp]:
        return sorted(self.genome.index.get_level_values("snapshot").unique())


def training_snapshots(engine: Engine, tenant_id: str, as_of: dt.date) -> list[dt.date]:
    span = data_span(engine, tenant_id)
    if span is None:
        raise DataError(f"tenant {tenant_id!r} has no invoices: nothing to learn from")
    first = month_end(add_months(span[0], 3))  # leave a few months of history
    return month_end_snapshots(first, snapshot_for(as_of))


def build_training_table(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    snapshots: Sequence[dt.date] | None = None,
    frames: TenantFrames | None = None,
) -> TrainingTable:
    """Genome at every month end from 3 months after the first invoice to ``as_of``, with
    the label "churns within 90 days" where ``snapshot + 90 days <= as_of``.

    ``frames`` (from ``load_frames``) may be passed when the caller loaded the tenant already;
    their economics must cover the snapshots' windows."""
    snaps = list(snapshots or training_snapshots(engine, tenant_id, as_of))
    if not snaps:
        raise DataError("not enough history to build a training table")
    population = active_at(engine, tenant_id, snaps)
    if frames is None:
        frames = _frames_for(engine, tenant_id, snaps)
    genome = compute_genome(frames, population, snaps)
    lab = population.set_index(["snapshot", "client_id"])["churns"]
    lab = lab.reindex(genome.index)
    complete = genome.index.get_level_values("snapshot") + pd.Timedelta(
        days=CHURN_HORIZON_DAYS
    ) <= pd.Timestamp(as_of)
    labels = lab.astype(float).where(complete)
    return TrainingTable(genome=genome, labels=labels, as_of=as_of, economics=frames.economics)


def materialise(table: TrainingTable, data_dir: Path, tenant_id: str) -> Path:
    """Write the genome under ``data_dir/features/<tenant>/<feature-set version>/``."""
    folder = data_dir / "features" / tenant_id / table.feature_set_version
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"genome_{table.as_of.isoformat()}.pkl"
    pd.to_pickle({"genome": table.genome, "labels": table.labels}, path)
    return path
