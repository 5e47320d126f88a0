"""How a client's churn risk answers a price change: the response models the pricing optimiser uses.

Every response model is bound to the rows of one ``PricingInputs`` (same order) and answers
``churn_90d(change)``: the probability that each client churns within 90 days if its price moves
by ``change`` (a fraction, +0.10 = 10% more) from today's price, on top of whatever changes it
already had in the last 12 months.

- ``LogitShiftResponse``: ``logit p = logit p0 + slope × 100 × change`` with a per-client slope
  (log-odds per percentage point). Used with a known slope in tests, and as the smooth form the
  other responses are reduced to.
- ``ChurnModelResponse``: asks the registered churn model (``predict_with`` with the feature
  ``price_change_pct_12m`` overridden), then reduces its answer to a per-client base risk and a
  non-negative slope fitted on a grid of changes (tree models answer in steps; the optimiser
  needs a curve that does not reward an arbitrary step), partially pooled toward the portfolio's
  slope so one noisy client does not get an extreme price.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

PRICE_FEATURE = "price_change_pct_12m"
_EPS = 1e-6


@runtime_checkable
class PriceResponse(Protocol):
    """Churn within 90 days per client for a price change (fraction) per client."""

    source: str

    def churn_90d(self, change: np.ndarray) -> np.ndarray: ...


class ChurnModel(Protocol):
    """What the pricing optimiser needs of the registered churn model."""

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray: ...

    def predict_with(self, features: pd.DataFrame, overrides: Mapping[str, Any]) -> np.ndarray: ...


def logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def expit(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


class LogitShiftResponse:
    """``logit p(change) = logit p0 + slope_pp × (100 × change)`` per client.

    ``monthly=True`` shifts the monthly hazard instead (``p0`` is still the 90-day risk; it is
    turned into a monthly hazard, shifted, and compounded back over three months), matching a
    hazard model fitted on client-months. ``increases_only=True`` gives cuts no effect on churn
    (when the history holds no evidence that a cheaper price keeps clients)."""

    def __init__(
        self,
        base_90d: np.ndarray,
        slope_pp: np.ndarray,
        source: str = "logit",
        *,
        monthly: bool = False,
        increases_only: bool = False,
        spread: float = 0.0,
        slope_sd: np.ndarray | None = None,
    ) -> None:
        self.base = np.asarray(base_90d, dtype=float)
        # Uncertain slopes: the answer is averaged over the posterior of each client's slope,
        # slope ~ N(slope_pp, slope_sd²) (never below 0), times a spread between clients of
        # one segment, exp(spread · ξ) with ξ ~ N(0, 1) (Gauss–Hermite over both), so a raise
        # is judged by its expected churn, not its churn at the point estimate.
        self.slope = np.broadcast_to(np.asarray(slope_pp, dtype=float), self.base.shape).copy()
        sd = np.zeros_like(self.slope) if slope_sd is None else np.asarray(slope_sd, dtype=float)
        self.slope_sd = np.broadcast_to(sd, self.base.shape).copy()
        post_x, post_w = np.polynomial.hermite_e.hermegauss(7 if np.any(self.slope_sd > 0) else 1)
        spread_x, spread_w = np.polynomial.hermite_e.hermegauss(7 if spread > 0 else 1)
        self._draws = [
            (px, sx, float(pw * sw))
            for px, pw in zip(post_x, post_w / post_w.sum(), strict=True)
            for sx, sw in zip(spread_x, spread_w / spread_w.sum(), strict=True)
        ]
        self.spread = spread
        self.source = source
        self.monthly = monthly
        self.increases_only = increases_only
        if monthly:
            hazard = 1.0 - np.power(1.0 - np.clip(self.base, 0, 1 - 1e-12), 1.0 / 3.0)
            self._base_logit = logit(hazard)
        else:
            self._base_logit = logit(self.base)

    def churn_90d(self, change: np.ndarray) -> np.ndarray:
        x = np.asarray(change, dtype=float)
        if self.increases_only:
            x = np.clip(x, 0.0, None)
        out = np.zeros(np.broadcast(self._base_logit, x).shape)
        base, slope, sd = self._base_logit, self.slope, self.slope_sd
        for post, between, weight in self._draws:
            drawn = np.clip(slope + post * sd, 0.0, None) * np.exp(self.spread * between)
            shifted = expit(base + drawn * 100.0 * x)
            out = out + weight * (1.0 - np.power(1.0 - shifted, 3.0) if self.monthly else shifted)
        return out


def combine_changes(prior_pct: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Price change % over 12 months after a new ``change`` on top of ``prior_pct`` (in %)."""
    return np.asarray(((1 + prior_pct / 100.0) * (1 + change) - 1) * 100.0)


def fit_slopes(
    changes: np.ndarray, probs: np.ndarray, pool_weight: float = 1.0
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-row (base logit, slope per pp) by least squares of logit p on the change (pp) grid.

    Slopes are clipped at zero (a higher price never makes a client *more* loyal) and shrunk
    toward the portfolio median slope by empirical Bayes: a row whose answers lie on a line
    keeps its slope; one whose answers are step-shaped or noisy leans toward the pool
    (``pool_weight`` scales the shrinkage; 0 = none)."""
    x = 100.0 * np.asarray(changes, dtype=float)  # pp, shape (G,)
    z = logit(np.asarray(probs, dtype=float))  # (n, G)
    xc = x - x.mean()
    denom = float((xc**2).sum()) or 1.0
    slope = (z - z.mean(axis=1, keepdims=True)) @ xc / denom
    resid = z - (z.mean(axis=1, keepdims=True) + np.outer(slope, xc))
    dof = max(len(x) - 2, 1)
    var_own = (resid**2).sum(axis=1) / dof / denom  # variance of each row's slope estimate
    pooled = float(np.median(np.clip(slope, 0, None))) if len(slope) else 0.0
    # Empirical Bayes: rows whose answers are far from a line lean toward the pooled slope.
    tau2 = max(float(np.var(slope)) - float(np.mean(var_own)), 1e-12)
    w_own = tau2 / (tau2 + pool_weight * var_own)
    slope = np.clip(w_own * slope + (1 - w_own) * pooled, 0.0, None)
    at_zero = np.argmin(np.abs(x))
    base = z[:, at_zero] if np.isclose(x[at_zero], 0.0) else z.mean(axis=1) - slope * x.mean()
    return np.asarray(base), np.asarray(slope), pooled


class ChurnModelResponse:
    """The churn model's answer to a price change, reduced to a per-client logit slope.

    The base risk is the model's score of each client as it is today. The slope comes from
    re-scoring each client as if a renewal had just changed its price by each change on
    ``grid`` (``price_change_pct_12m`` = its earlier changes compounded with the new one, plus
    any ``change_overrides`` such as ``months_since_price_change = 0``), fitted as a line in
    log-odds and pooled (``fit_slopes``)."""

    def __init__(
        self,
        model: ChurnModel,
        features: pd.DataFrame,
        prior_change_pct: np.ndarray,
        *,
        grid: np.ndarray | None = None,
        change_overrides: Mapping[str, Any] | None = None,
        pool_weight: float = 1.0,
        source: str = "churn model",
    ) -> None:
        self.source = source
        self.grid = np.linspace(0.0, 0.20, 9) if grid is None else np.asarray(grid, dtype=float)
        prior = np.asarray(prior_change_pct, dtype=float)
        extra = dict(change_overrides or {})
        probs = np.column_stack(
            [
                np.asarray(
                    model.predict_with(
                        features,
                        overrides={
                            **extra,
                            PRICE_FEATURE: combine_changes(prior, np.full(len(prior), g)),
                        },
                    ),
                    dtype=float,
                )
                for g in self.grid
            ]
        )
        _base_logit, slope, self.pooled_slope = fit_slopes(self.grid, probs, pool_weight)
        base = np.asarray(model.predict_proba(features), dtype=float)
        self.raw = probs
        self.inner = LogitShiftResponse(base, slope, source)

    @property
    def slope(self) -> np.ndarray:
        return self.inner.slope

    @property
    def base(self) -> np.ndarray:
        return self.inner.base

    def churn_90d(self, change: np.ndarray) -> np.ndarray:
        return self.inner.churn_90d(change)
