"""Price sensitivity learned from the tenant's own price changes.

Every price increase in the data is a small experiment: did the client leave in the months
after it? A discrete-time hazard model over client-months answers how much churn a +1% change
adds, per segment (shrunk toward the tenant-wide answer when a segment has little history):

    logit P(churn in month m) = a + r · renewal_m + (β + δ_industry + δ_kind + δ_size) · x_m

- ``x_m``: the % increase of the client's billed recurring price applied in the
  ``REACTION_MONTHS`` months before ``m`` (0 if none);
- ``renewal_m``: a contract term of the client ends in month ``m`` or ``m + 1`` (renewal is a
  churn moment of its own, with or without an increase);
- each ``δ`` (the client's industry, its contract kind, its size band) has a ridge penalty (a
  normal prior centred on 0), so a segment moves away from ``β`` only as far as its own
  increases and churns justify: partial pooling.

Fitted by penalised Newton–Raphson (a few dozen parameters); the inverse Hessian at the optimum
is the Laplace approximation of the posterior, so every client's slope comes with its
uncertainty (``PriceHistoryFit.slope``): the optimiser maximises expected profit over it, and
the segments where it is widest are where a small price experiment teaches the most. The churn
model gives the base risk, this model the slope.
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
#: Ridge on each segment's offset from the tenant-wide slope, in units of the data's typical
#: squared exposure: a segment moves away from the tenant's slope only as far as its own
#: increases and churns justify (partial pooling).
SEGMENT_RIDGE = 25.0
INDUSTRY_RIDGE = SEGMENT_RIDGE
#: The segments a client's price sensitivity is pooled over.
FACTORS: tuple[str, ...] = ("industry", "kind", "size")


def size_band(seats: int | None) -> str:
    """A client's size segment by users covered."""
    n = int(seats or 0)
    return "1-9 users" if n < 10 else "10-29 users" if n < 30 else "30+ users"


def _month(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@dataclass
class PricePanel:
    """Client-months at risk: outcome, price exposure, renewal flag and each client's segments
    (industry, contract kind, size band)."""

    churned: np.ndarray
    exposure: np.ndarray  # % increase applied in the reaction window
    renewal: np.ndarray
    client_index: np.ndarray
    clients: list[str]
    #: per factor: the level index of each client, and the levels' names
    client_levels: dict[str, np.ndarray] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)

    def segments_of(self, client: int) -> dict[str, str]:
        return {f: self.levels[f][int(self.client_levels[f][client])] for f in self.levels}


@dataclass
class PriceHistoryFit:
    """The fitted hazard model: log-odds of monthly churn per % of recent increase, with its
    Laplace posterior (mean and covariance of the tenant-wide slope and each segment's
    offset)."""

    beta: float
    beta_se: float
    intercept: float
    renewal: float
    n_rows: int
    n_churns: int
    n_exposed_rows: int
    n_exposed_churns: int
    levels: dict[str, list[str]] = field(default_factory=dict)
    #: posterior mean of [beta, offsets of every level of every factor in ``levels`` order]
    slope_coef: np.ndarray = field(default_factory=lambda: np.zeros(1))
    slope_cov: np.ndarray = field(default_factory=lambda: np.zeros((1, 1)))
    #: each client's segments (every client of the history, churned ones too)
    client_segments: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def base_90d(self) -> float:
        """The tenant's base 90-day churn outside renewal months."""
        monthly = 1.0 / (1.0 + math.exp(-self.intercept))
        return 1.0 - (1.0 - monthly) ** 3

    def _row(self, segments: dict[str, str]) -> np.ndarray:
        a = np.zeros(len(self.slope_coef))
        a[0] = 1.0
        pos = 1
        for factor, names in self.levels.items():
            level = segments.get(factor)
            if level in names:
                a[pos + names.index(level)] = 1.0
            pos += len(names)
        return a

    def slope(self, segments: dict[str, str]) -> tuple[float, float]:
        """Posterior mean and sd of the slope (log-odds of monthly churn per pp of increase)
        for a client of these segments (an unknown level adds nothing)."""
        a = self._row(segments)
        mean = float(a @ self.slope_coef)
        return mean, float(math.sqrt(max(float(a @ self.slope_cov @ a), 0.0)))

    def slope_for_client(self, client_id: str, fallback: dict[str, str]) -> tuple[float, float]:
        return self.slope(self.client_segments.get(client_id, fallback))

    @property
    def by_segment(self) -> dict[str, tuple[float, float]]:
        """Posterior (mean, sd) of the slope of each level of each factor alone."""
        return {
            f"{factor}={level}": self.slope({factor: level})
            for factor, names in self.levels.items()
            for level in names
        }

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
            select(
                Client.id, Client.industry, Client.seats, Client.onboarded_on, Client.churned_on
            ).where(
                Client.tenant_id == tenant_id,
                Client.deleted_at.is_(None),
                Client.status != "prospect",
            )
        ).all()
        terms = conn.execute(
            select(Contract.client_id, Contract.kind, Contract.starts_on, Contract.ends_on)
            .where(Contract.tenant_id == tenant_id, Contract.deleted_at.is_(None))
            .order_by(Contract.starts_on)
        ).all()
    if not clients:
        raise DataError(f"tenant {tenant_id!r} has no clients")
    if changes is None:
        changes = client_price_changes(engine, tenant_id, as_of)
    renewals: dict[str, set[int]] = defaultdict(set)
    kind_of: dict[str, str] = {}
    for client_id, kind, starts_on, ends_on in terms:
        kind_of[client_id] = kind  # the latest term's kind
        if ends_on is None:
            continue
        # The month the term was *scheduled* to end (a cancelled term's ends_on is the day the
        # client left, which would make every churn look like a renewal).
        scheduled = add_months(starts_on, 12) - dt.timedelta(days=1)
        if ends_on is not None and ends_on > scheduled:
            scheduled = ends_on
        renewals[client_id].add(_month(scheduled))
    per_client = {
        "industry": [c.industry or "Other" for c in clients],
        "kind": [kind_of.get(c.id, "none") for c in clients],
        "size": [size_band(c.seats) for c in clients],
    }
    levels = {f: sorted(set(values)) for f, values in per_client.items()}
    client_levels = {
        f: np.array([levels[f].index(v) for v in values], dtype=np.int64)
        for f, values in per_client.items()
    }
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
    return PricePanel(
        churned=(month == churn_m[client_idx]).astype(float),
        exposure=exposure,
        renewal=renewal,
        client_index=client_idx,
        clients=ids,
        client_levels=client_levels,
        levels=levels,
    )


def fit_price_history(panel: PricePanel, ridge: float = SEGMENT_RIDGE) -> PriceHistoryFit:
    """Penalised logistic regression of monthly churn on recent increases (see module doc),
    with each segment's offset to the slope ridge-penalised (partial pooling) and the Laplace
    approximation of the posterior (the inverse Hessian at the optimum)."""
    n = len(panel.churned)
    if n == 0 or panel.churned.sum() == 0:
        raise DataError("no churn in the history: price sensitivity cannot be learned")
    factors = [f for f in FACTORS if f in panel.levels]
    sizes = [len(panel.levels[f]) for f in factors]
    k = int(sum(sizes))
    # Client-months share few covariate patterns: fit on (pattern, months, churns) counts.
    row_levels = [panel.client_levels[f][panel.client_index].astype(float) for f in factors]
    keys = np.column_stack([panel.renewal, panel.exposure, *row_levels])
    patterns, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    trials = np.bincount(inverse, minlength=len(patterns)).astype(float)
    events = np.bincount(inverse, weights=panel.churned, minlength=len(patterns))
    x = patterns[:, 1]
    design = np.zeros((len(patterns), 3 + k))
    design[:, 0] = 1.0
    design[:, 1] = patterns[:, 0]
    design[:, 2] = x
    offset = 3
    for j, width in enumerate(sizes):
        design[np.arange(len(patterns)), offset + patterns[:, 2 + j].astype(np.int64)] = x
        offset += width
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
        intercept=float(coef[0]),
        renewal=float(coef[1]),
        n_rows=n,
        n_churns=int(y.sum()),
        n_exposed_rows=int(exposed.sum()),
        n_exposed_churns=int(y[exposed].sum()),
        levels={f: list(panel.levels[f]) for f in factors},
        slope_coef=np.asarray(coef[2:], dtype=float),
        slope_cov=np.asarray(cov[2:, 2:], dtype=float),
        client_segments={cid: panel.segments_of(i) for i, cid in enumerate(panel.clients)},
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
