"""Genome maths over ``clients x months`` panels: window sums, ratios, recency-weighted and
shrunk means, and the service each client experienced (tickets, SLA, satisfaction)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mspilot.core.normal import normal_sf
from mspilot.models.data import month_index


class MonthPanel:
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


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


#: Month-to-month persistence used to weight recent months (service quality drifts slowly).
RECENCY = 0.85
#: Pseudo-observations pulling a client with few responses toward the tenant's average.
SHRINK = 3.0


def recent_mean(total: np.ndarray, count: np.ndarray, month: int, panel: MonthPanel) -> np.ndarray:
    """Recency-weighted mean (weights ``RECENCY ** age`` over 12 months), shrunk toward the
    tenant-wide mean of the same window, so a client with two responses is not an outlier."""
    end = month - panel.first
    start = max(end - 11, 0)
    ages = np.arange(end - start, -1, -1)
    w = RECENCY**ages
    s = (total[:, start : end + 1] * w).sum(axis=1)
    n = (count[:, start : end + 1] * w).sum(axis=1)
    return _shrunk(s, n)


def resolution_recent(
    res_sum: np.ndarray,
    by_priority: dict[str, np.ndarray],
    count: np.ndarray,
    closed_month: np.ndarray,
    log_res: np.ndarray,
    priority: pd.Series,
    month: int,
    panel: MonthPanel,
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
class TicketArrays:
    """Per-ticket arrays for the experience features (computed once per genome)."""

    rows: np.ndarray  # panel row of the client (-1: not a panel client)
    opened_m: np.ndarray  # month index of opening
    opened: np.ndarray  # opening time, ns
    resolved: np.ndarray  # resolution time, ns (int64 max while open)
    priority: np.ndarray  # priority labels
    breached: np.ndarray  # the stored breach flag (final once resolved)
    csat: np.ndarray  # survey answer (NaN: none)

    @classmethod
    def of(cls, tickets: pd.DataFrame, panel: MonthPanel) -> TicketArrays:
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


def experience(t: TicketArrays, n: int, month: int, cutoff: pd.Timestamp) -> dict[str, np.ndarray]:
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
