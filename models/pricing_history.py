"""Price sensitivity learned from the tenant's own price changes.

Every price increase in the data is a small experiment: did the client leave in the months
after it? A discrete-time hazard model over client-months answers how much churn a +1% change
adds, per industry (shrunk toward the tenant-wide answer when an industry has little history):

    logit P(churn in month m) = a + r · renewal_m + (β + δ_industry) · x_m

- ``x_m``: the % increase of the client's billed recurring price applied in the
  ``REACTION_MONTHS`` months before ``m`` (0 if none);
- ``renewal_m``: a contract term of the client ends in month ``m`` or ``m + 1`` (renewal is a
  churn moment of its own, with or without an increase);
- ``δ_industry`` has a ridge penalty, so an industry moves away from ``β`` only as far as its own
  increases and churns justify.

The tree-based churn model ranks risk well but answers price changes in steps or not at all
(increases are small and rare in any one month); this model gives the optimiser the slope, the
churn model gives the base risk. Fitted by penalised Newton–Raphson (a few dozen parameters).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Engine, select

from mspilot.core.clock import add_months
from mspilot.core.errors import DataError
from mspilot.db.schema import Client, Contract
from mspilot.models.pricing_data import client_price_changes

REACTION_MONTHS = 3
#: Client-month keys: client row x _KEY + month index (months stay far below it).
_KEY = 1 << 20
INDUSTRY_RIDGE = 25.0


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@dataclass
class PricePanel:
    """Client-months at risk: outcome, price exposure, renewal flag, industry."""

    churned: np.ndarray
    exposure: np.ndarray  # % increase applied in the reaction window
    renewal: np.ndarray
    segment: np.ndarray  # industry index per row
    segments: list[str]
    client_index: np.ndarray
    clients: list[str]


@dataclass
class PriceHistoryFit:
    """The fitted hazard model: log-odds of monthly churn per % of recent increase."""

    beta: float
    beta_se: float
    by_segment: dict[str, float]
    intercept: float
    renewal: float
    n_rows: int
    n_churns: int
    n_exposed_rows: int
    n_exposed_churns: int
    segments: list[str] = field(default_factory=list)

    @property
    def base_90d(self) -> float:
        """The tenant's base 90-day churn outside renewal months."""
        monthly = 1.0 / (1.0 + math.exp(-self.intercept))
        return 1.0 - (1.0 - monthly) ** 3

    def slope_for(self, segment: str | None) -> float:
        """Log-odds per pp of increase for a client of ``segment`` (never below zero)."""
        value = self.by_segment.get(segment or "", self.beta)
        return max(value, 0.0)

    def describe(self) -> str:
        return (
            f"{self.n_exposed_rows:,} client-months after price increases "
            f"({self.n_exposed_churns} churned) vs {self.n_rows - self.n_exposed_rows:,} "
            f"without: +1% adds {self.beta:+.3f} log-odds of monthly churn "
            f"(±{self.beta_se:.3f})"
        )


def build_price_panel(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    changes: dict[str, list[tuple[dt.date, float]]] | None = None,
) -> PricePanel:
    """Every client-month at risk up to ``as_of`` with its recent price increase (``changes``:
    each client's price changes, if already loaded)."""
    with engine.connect() as conn:
        clients = conn.execute(
            select(Client.id, Client.industry, Client.onboarded_on, Client.churned_on).where(
                Client.tenant_id == tenant_id,
                Client.deleted_at.is_(None),
                Client.status != "prospect",
            )
        ).all()
        terms = conn.execute(
            select(Contract.client_id, Contract.starts_on, Contract.ends_on).where(
                Contract.tenant_id == tenant_id,
                Contract.deleted_at.is_(None),
                Contract.ends_on.is_not(None),
            )
        ).all()
    if not clients:
        raise DataError(f"tenant {tenant_id!r} has no clients")
    if changes is None:
        changes = client_price_changes(engine, tenant_id, as_of)
    renewals: dict[str, set[int]] = defaultdict(set)
    for client_id, starts_on, ends_on in terms:
        # The month the term was *scheduled* to end (a cancelled term's ends_on is the day the
        # client left, which would make every churn look like a renewal).
        scheduled = add_months(starts_on, 12) - dt.timedelta(days=1)
        if ends_on is not None and ends_on > scheduled:
            scheduled = ends_on
        renewals[client_id].add(_month(scheduled))
    segments = sorted({c.industry or "Other" for c in clients})
    seg_index = {s: i for i, s in enumerate(segments)}
    last = _month(as_of) - 1  # the last whole month
    ids = [c.id for c in clients]
    n = len(clients)
    first = np.array([_month(c.onboarded_on) + 1 if c.onboarded_on else last - 36 for c in clients])
    churn_m = np.array([_month(c.churned_on) if c.churned_on else -1 for c in clients])
    stop = np.where(churn_m >= 0, np.minimum(last, churn_m), last)
    lo = np.maximum(first, last - 60)
    counts = np.where(stop >= first, np.maximum(stop - lo + 1, 0), 0)
    # one row per client-month at risk: client ci, months lo[ci]..stop[ci]
    client_idx = np.repeat(np.arange(n, dtype=np.int64), counts)
    offsets = np.cumsum(counts) - counts
    month = lo[client_idx] + (np.arange(int(counts.sum())) - offsets[client_idx])
    key = client_idx * _KEY + month
    # renewals: a term of the client ends in month m or m + 1
    row_of = {cid: i for i, cid in enumerate(ids)}
    renewal_keys = np.unique(
        np.array(
            [
                row_of[cid] * _KEY + m
                for cid, months in renewals.items()
                if cid in row_of
                for m in months
            ],
            dtype=np.int64,
        )
    )
    renewal = (np.isin(key, renewal_keys) | np.isin(key + 1, renewal_keys)).astype(float)
    # exposure: the increases applied in the REACTION_MONTHS months before m
    inc = [
        (row_of[cid] * _KEY + _month(day), pct)
        for cid, found in changes.items()
        if cid in row_of
        for day, pct in found
        if pct > 0
    ]
    exposure = np.zeros(len(key))
    if inc:
        inc_key, inc_pos = np.unique(
            np.array([k for k, _ in inc], dtype=np.int64), return_inverse=True
        )
        inc_sum = np.bincount(inc_pos, weights=np.array([p for _, p in inc]))
        for lag in range(1, REACTION_MONTHS + 1):
            pos = np.searchsorted(inc_key, key - lag)
            hit = pos < len(inc_key)
            hit[hit] = inc_key[pos[hit]] == (key - lag)[hit]
            exposure[hit] += inc_sum[pos[hit]]
    segment = np.array([seg_index[c.industry or "Other"] for c in clients], dtype=np.int64)
    return PricePanel(
        churned=(month == churn_m[client_idx]).astype(float),
        exposure=exposure,
        renewal=renewal,
        segment=segment[client_idx],
        segments=segments,
        client_index=client_idx,
        clients=ids,
    )


def fit_price_history(panel: PricePanel, ridge: float = INDUSTRY_RIDGE) -> PriceHistoryFit:
    """Penalised logistic regression of monthly churn on recent increases (see module doc)."""
    n = len(panel.churned)
    if n == 0 or panel.churned.sum() == 0:
        raise DataError("no churn in the history: price sensitivity cannot be learned")
    k = len(panel.segments)
    # Client-months share few covariate patterns: fit on (pattern, months, churns) counts.
    keys = np.column_stack([panel.renewal, panel.exposure, panel.segment.astype(float)])
    patterns, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    trials = np.bincount(inverse, minlength=len(patterns)).astype(float)
    events = np.bincount(inverse, weights=panel.churned, minlength=len(patterns))
    x = patterns[:, 1]
    design = np.zeros((len(patterns), 3 + k))
    design[:, 0] = 1.0
    design[:, 1] = patterns[:, 0]
    design[:, 2] = x
    design[np.arange(len(patterns)), 3 + patterns[:, 2].astype(np.int64)] = x
    penalty = np.full(3 + k, 1e-6)
    # The penalty is on the scale of the data: ridge × (typical squared exposure).
    exposed_x = panel.exposure[panel.exposure > 0]
    scale = float(np.mean(exposed_x**2)) if exposed_x.size else 1.0
    penalty[3:] = ridge * scale
    y_all = panel.churned
    coef = np.zeros(3 + k)
    coef[0] = math.log(max(y_all.mean(), 1e-6) / max(1 - y_all.mean(), 1e-6))

    def objective(c: np.ndarray) -> float:
        z = design @ c
        loglik = float(np.sum(events * z - trials * np.logaddexp(0.0, z)))
        return loglik - 0.5 * float(np.sum(penalty * c * c))

    current = objective(coef)
    hess = np.eye(3 + k)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ coef, -35, 35)))
        w = trials * p * (1 - p)
        grad = design.T @ (events - trials * p) - penalty * coef
        hess = (design * w[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        size = 1.0
        while size > 1e-6:  # damped Newton: halve the step until the objective improves
            trial = coef + size * step
            value = objective(trial)
            if value >= current - 1e-12:
                break
            size /= 2
        coef, current = trial, value
        if float(np.max(np.abs(size * step))) < 1e-8:
            break
    cov = np.linalg.inv(hess)
    exposed = panel.exposure > 0
    y = panel.churned
    return PriceHistoryFit(
        beta=float(coef[2]),
        beta_se=float(math.sqrt(max(cov[2, 2], 0.0))),
        by_segment={s: float(coef[2] + coef[3 + i]) for i, s in enumerate(panel.segments)},
        intercept=float(coef[0]),
        renewal=float(coef[1]),
        n_rows=n,
        n_churns=int(y.sum()),
        n_exposed_rows=int(exposed.sum()),
        n_exposed_churns=int(y[exposed].sum()),
        segments=panel.segments,
    )


def learn_price_sensitivity(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    changes: dict[str, list[tuple[dt.date, float]]] | None = None,
) -> PriceHistoryFit:
    return fit_price_history(build_price_panel(engine, tenant_id, as_of, changes))


def reaction_window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The months whose churn a change made at ``as_of`` moves."""
    return add_months(as_of, 1), add_months(as_of, REACTION_MONTHS)
