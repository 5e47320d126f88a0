"""Churn: calibrated probability that a client leaves within 90 days, with its drivers.

- ``ChurnModel``: XGBoost (its linear booster) over the genome columns that drive churn,
  plus a Platt calibration fitted on out-of-time predictions; ``predict_proba``,
  ``predict_with`` (re-score with some columns overridden, e.g. a hypothetical price change)
  and ``drivers`` (per-client reasons from the per-feature contributions, phrased for people
  by ``models.explain``). Every weight has its known sign (a column fitted against it is left
  out), so a price increase can only raise the risk and what-ifs on price move the right way.
- ``train_churn``: a time-based backtest (train on earlier snapshots, test on the last
  labelled months with a 90-day purge gap so no training label overlaps the test window)
  against a logistic-regression baseline, then the final model on every labelled month.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mspilot.db.definitions import CHURN_HORIZON_DAYS
from mspilot.models.explain import ChurnDriver, driver_groups, explain
from mspilot.models.features import (
    CATEGORICAL,
    FEATURE_SET_VERSION,
    FEATURES,
    HORIZON_MONTHS,
    MODEL_FEATURES,
    TrainingTable,
)

#: Features whose effect on churn is constrained to be non-decreasing (domain knowledge:
#: a price rise, worse service or slower payment never makes a client safer) ...
MONOTONE_UP: tuple[str, ...] = (
    "price_change_pct_12m",
    "price_shock",
    "sla_breach_rate_3m",
    "sla_breach_recent",
    "sla_breach_6m",
    "renewal_window_3m",
    "price_exposure",
    "escalation_due_3m",
    "resolution_time_recent",
    "late_payments_6m",
    "days_late_3m",
    "late_months_6m",
    "overdue_ratio",
)
#: ... and to be non-increasing (better service, healthier margins never raise churn).
MONOTONE_DOWN: tuple[str, ...] = (
    "csat_mean_3m",
    "csat_recent",
    "csat_6m",
    "satisfaction_6m",
    "service_margin_pct_3m",
)

#: The genome columns the model reads, one per way churn is driven as a client lives it: how
#: satisfied its users were with the tickets of the last 6 months, the SLA breaches they
#: suffered, how late it pays, the service margin (a client squeezed on price or served at a
#: loss), the renewal calendar of the next 3 months and (``price_exposure``, derived) the
#: increases weighing on them. Each estimates one term of an additive log-odds; other
#: columns (CSAT answers alone, days late, ticket trend, term month, industry ...) added
#: nothing or noise on the development worlds (0.945-0.947 expected AUC / oracle with or
#: without them; the ticket trend cost 0.002). The logistic baseline keeps the whole genome.
CHURN_FEATURES: tuple[str, ...] = (
    "satisfaction_6m",
    "sla_breach_6m",
    "late_months_6m",
    "service_margin_pct_3m",
    "renewal_window_3m",
)
#: Derived inputs (see ``Encoder``) the churn model reads besides ``CHURN_FEATURES``.
CHURN_DERIVED: tuple[str, ...] = ("price_exposure",)

#: XGBoost's linear booster over the standardised features: the churn signals add up on the
#: log-odds scale, and with a few hundred churns to learn from a straight line per signal
#: ranks better than trees' steps. Development worlds (seeds 101/202/303, expected AUC /
#: oracle): linear 0.946/0.948/0.948; stumps (depth 1 x 600 rounds, monotone) over the same
#: columns 0.925/0.942/0.940, over the former 16 columns 0.922/0.937/0.938; depth 2 no better.
#: No L2 penalty: XGBoost's linear ``lambda`` scales with the number of rows, and 6
#: standardised columns on thousands of rows need none.
XGB_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    "booster": "gblinear",
    "updater": "coord_descent",
    "feature_selector": "cyclic",
    "eta": 0.5,
    "lambda": 0.0,
    "alpha": 0.0,
    "nthread": 1,
}
XGB_ROUNDS = 200


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


#: Model inputs derived from genome columns inside the encoder, so overriding the genome
#: columns they come from (``predict_with``) moves them too.
DERIVED: tuple[str, ...] = ("price_shock", "price_exposure")
#: A price change counts as a fresh shock for this many months after it was first billed.
SHOCK_MONTHS = 2.0


@dataclass
class Encoder:
    """Genome frame -> model matrix: numeric features, derived signals and (optionally)
    one-hot industries seen in training.

    ``price_shock`` is the 12-month price change when it was billed in the last
    ``SHOCK_MONTHS`` months, else 0: churn reacts to an increase in the months right after
    it, and almost every client has some increase over a year. ``price_exposure`` counts
    each increase once per month of the next 3 (the label's horizon) it still weighs on: the
    last one for the months left of the 3 after it was billed, and one due at a renewal in
    the next 2 months for the months after it."""

    industries: list[str]
    features: tuple[str, ...] = MODEL_FEATURES
    derived: tuple[str, ...] = DERIVED

    @property
    def columns(self) -> list[str]:
        return [*self.features, *self.derived, *(f"industry={i}" for i in self.industries)]

    @classmethod
    def fit(
        cls,
        genome: pd.DataFrame,
        features: Sequence[str] = MODEL_FEATURES,
        derived: Sequence[str] = DERIVED,
        industry: bool = True,
    ) -> Encoder:
        industries = (
            sorted(str(i) for i in genome["industry"].dropna().unique()) if industry else []
        )
        return cls(industries, tuple(features), tuple(derived))

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.features if c not in features.columns]
        if missing:
            raise ValueError(f"feature frame lacks columns {missing}")
        num = features.loc[:, list(self.features)].to_numpy(dtype=np.float64, na_value=np.nan)
        pct = features["price_change_pct_12m"].to_numpy(dtype=np.float64, na_value=0.0)
        since = features["months_since_price_change"].to_numpy(dtype=np.float64, na_value=99.0)
        shock = np.where(since <= SHOCK_MONTHS, pct, 0.0)
        # a renewal's increase weighs on the 3 months after it: this many of the next 3
        # months (the label's horizon) still react to the last change
        reach = np.clip(HORIZON_MONTHS - since, 0.0, HORIZON_MONTHS)
        due = features["escalation_due_3m"].to_numpy(dtype=np.float64, na_value=0.0)
        exposure = np.clip(pct, 0.0, None) * reach + due
        values = {"price_shock": shock, "price_exposure": exposure}
        derived = np.column_stack([values[d] for d in self.derived]) if self.derived else None
        parts = [num] if derived is None else [num, derived]
        if self.industries and "industry" in features.columns:
            ind = features["industry"].to_numpy()
            parts.append(np.stack([ind == i for i in self.industries], axis=1).astype(np.float64))
        elif self.industries:
            parts.append(np.zeros((len(features), len(self.industries))))
        return np.hstack(parts)


@dataclass
class LinearScore:
    """XGBoost's fitted linear booster, read out so scoring is one dot product:
    ``margin = bias + sum_j weight_j * (x_j - centre_j) / scale_j``, a missing value at its
    column's training mean (it adds nothing). ``terms`` are the per-column contributions
    (what XGBoost's ``pred_contribs`` returns for a linear booster)."""

    centre: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def standardise(self, matrix: np.ndarray) -> np.ndarray:
        z = (matrix - self.centre) / self.scale
        return np.asarray(np.where(np.isnan(z), 0.0, z))

    def terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.standardise(matrix) * self.weights)

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.bias + self.terms(matrix).sum(axis=1))


@dataclass
class ChurnModel:
    """The served churn model (XGBoost linear booster + Platt calibration)."""

    booster: LinearScore  # or an xgboost.Booster of tree versions registered before
    encoder: Encoder
    platt: tuple[float, float] = (1.0, 0.0)
    feature_set_version: str = FEATURE_SET_VERSION
    trained_through: dt.date | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # -- scoring -------------------------------------------------------------------------
    def _raw(self, matrix: np.ndarray) -> np.ndarray:
        if isinstance(self.booster, LinearScore):
            return self.booster.margin(matrix)
        # a tree version registered before the linear booster (still served after a rollback)
        margin = self.booster.inplace_predict(matrix, predict_type="margin")
        return np.asarray(margin, dtype=np.float64)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn within 90 days, one per row."""
        a, b = self.platt
        return _sigmoid(a * self._raw(self.encoder.transform(features)) + b)

    def predict_with(
        self, features: pd.DataFrame, overrides: Mapping[str, float | np.ndarray]
    ) -> np.ndarray:
        """Re-score with some genome columns replaced (a scalar or one value per row)."""
        unknown = set(overrides) - set(FEATURES) - set(CATEGORICAL)
        if unknown:
            raise ValueError(f"unknown feature(s) to override: {sorted(unknown)}")
        changed = features.copy()
        for column, value in overrides.items():
            changed[column] = value
        return self.predict_proba(changed)

    # -- explanations ----------------------------------------------------------------------
    def typical(self) -> dict[str, float]:
        """The typical client's value of each model column (the linear booster's reference:
        the training mean, where a column adds nothing); empty for a tree version."""
        if not isinstance(self.booster, LinearScore):
            return {}
        return dict(zip(self.encoder.columns, self.booster.centre.tolist(), strict=False))

    def _contributions(self, matrix: np.ndarray, index: pd.Index) -> pd.DataFrame:
        if isinstance(self.booster, LinearScore):
            terms = self.booster.terms(matrix)
            contrib = np.column_stack([terms, np.full(len(matrix), self.booster.bias)])
        else:  # a tree version registered before: XGBoost's SHAP values
            import xgboost as xgb

            dm = xgb.DMatrix(matrix, feature_names=self.encoder.columns, missing=np.nan)
            contrib = self.booster.predict(dm, pred_contribs=True)
        cols = [*self.encoder.columns, "bias"]
        frame = pd.DataFrame(contrib, index=index, columns=cols)
        ind_cols = [c for c in cols if c.startswith("industry=")]
        frame["industry"] = frame[ind_cols].sum(axis=1) if ind_cols else 0.0
        return frame.drop(columns=ind_cols)

    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """Contributions per feature in log-odds (weight x standardised value: what the
        feature adds against a client at the training mean), plus ``bias``."""
        return self._contributions(self.encoder.transform(features), features.index)

    def drivers(self, features: pd.DataFrame, top: int = 3) -> dict[Any, list[ChurnDriver]]:
        """Up to ``top`` reasons per client that raise its risk against the typical client,
        largest contribution first, in plain words (``models.explain``: only positive
        contributions, told the way they push, never an unchanged value as a change)."""
        matrix = self.encoder.transform(features)
        contrib = self._contributions(matrix, features.index)
        columns = [c for c in self.encoder.columns if not c.startswith("industry=")]
        values = matrix[:, : len(columns)]
        typical = self.typical()
        groups = driver_groups()
        # per group: its columns present in the model, their contributions and the group's sum
        present = {g: [c for c in members if c in contrib.columns] for g, members in groups.items()}
        present = {g: cols for g, cols in present.items() if cols}
        names = list(present)
        parts = {g: contrib[present[g]].to_numpy() for g in names}
        per_group = np.column_stack([parts[g].sum(axis=1) for g in names])
        position = {c: j for j, c in enumerate(columns)}
        records = features.to_dict("index")
        out: dict[Any, list[ChurnDriver]] = {}
        for i, key in enumerate(features.index):
            shown: list[ChurnDriver] = []
            for j in np.argsort(-per_group[i], kind="stable"):
                if per_group[i, j] <= 0 or len(shown) >= top:
                    break
                group = names[j]
                column = present[group][int(np.argmax(parts[group][i]))]
                k = position.get(column)
                value = None if k is None else float(values[i, k])
                reason = explain(
                    group, column, float(per_group[i, j]), value, typical.get(column), records[key]
                )
                if reason is not None:
                    shown.append(reason)
            out[key] = shown
        return out


# ---- training -------------------------------------------------------------------------


def _fit_booster(
    matrix: np.ndarray, y: np.ndarray, columns: Sequence[str], seed: int
) -> LinearScore:
    """XGBoost's linear booster on the standardised columns. A column whose weight comes out
    against its known direction (``MONOTONE_UP`` / ``MONOTONE_DOWN``: e.g. a price rise
    never makes a client safer) is left out and the rest refitted, so what-ifs move the
    right way."""
    import xgboost as xgb

    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
        centre = np.nan_to_num(np.nanmean(matrix, axis=0))
        spread = np.nan_to_num(np.nanstd(matrix, axis=0))
    scale = np.where(spread > 1e-12, spread, 1.0)
    score = LinearScore(centre, scale, np.zeros(len(columns)), 0.0)
    z = score.standardise(matrix)
    direction = [1 if c in MONOTONE_UP else -1 if c in MONOTONE_DOWN else 0 for c in columns]
    keep = [j for j in range(len(columns)) if spread[j] > 1e-12]
    params = {**XGB_PARAMS, "seed": seed}
    rate = float(np.clip(np.mean(y), 1e-6, 1 - 1e-6)) if len(y) else 0.5
    score.bias = float(np.log(rate / (1 - rate)))
    while keep:
        booster = xgb.train(params, xgb.DMatrix(z[:, keep], label=y), num_boost_round=XGB_ROUNDS)
        # the fitted line, read at the origin and at each unit vector (base score included)
        probe = np.vstack([np.zeros(len(keep)), np.eye(len(keep))])
        at = np.asarray(booster.predict(xgb.DMatrix(probe), output_margin=True), dtype=float)
        weights = at[1:] - at[0]
        wrong = [j for j, w in zip(keep, weights, strict=True) if direction[j] * w < 0]
        if not wrong:
            score.weights[keep] = weights
            score.bias = float(at[0])
            break
        keep = [j for j in keep if j not in wrong]
    return score


def _platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit ``sigmoid(a * raw + b)`` to labels (identity when there is too little signal)."""
    if y.sum() < 3 or (1 - y).sum() < 3:
        return 1.0, 0.0
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=100.0, max_iter=1000)
    lr.fit(raw.reshape(-1, 1), y)
    a = float(lr.coef_[0][0])
    if a <= 0:  # a calibration that flips the ranking is noise, keep the identity
        return 1.0, 0.0
    return a, float(lr.intercept_[0])


def _before(snaps: pd.Index, start: pd.Timestamp) -> np.ndarray:
    """Rows whose 90-day label window closes before ``start`` (purge gap)."""
    return np.asarray(snaps + pd.Timedelta(days=CHURN_HORIZON_DAYS) < start)


def fit_churn(genome: pd.DataFrame, y: pd.Series, seed: int = 0) -> ChurnModel:
    """XGBoost on all rows, calibrated on out-of-time predictions of its own last quarter."""
    encoder = Encoder.fit(genome, CHURN_FEATURES, CHURN_DERIVED, industry=False)
    matrix = encoder.transform(genome)
    target = y.to_numpy(dtype=float)
    snaps = genome.index.get_level_values("snapshot")
    order = sorted(snaps.unique())
    platt = (1.0, 0.0)
    if len(order) >= 8:
        cal_start = order[int(len(order) * 0.75)]
        fit_rows = _before(snaps, cal_start)
        cal_rows = np.asarray(snaps >= cal_start)
        if target[fit_rows].sum() >= 3:
            inner = _fit_booster(matrix[fit_rows], target[fit_rows], encoder.columns, seed)
            raw = inner.margin(matrix[cal_rows])
            platt = _platt(raw, target[cal_rows])
    booster = _fit_booster(matrix, target, encoder.columns, seed)
    return ChurnModel(
        booster=booster,
        encoder=encoder,
        platt=platt,
        trained_through=max(order).date() if order else None,
    )


@dataclass
class LogisticBaseline:
    """Median-imputed, standardised logistic regression over the same genome."""

    pipeline: Any
    encoder: Encoder

    @classmethod
    def fit(cls, genome: pd.DataFrame, y: pd.Series) -> LogisticBaseline:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        encoder = Encoder.fit(genome)
        pipe = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=0.5, max_iter=2000),
        )
        pipe.fit(encoder.transform(genome), y.to_numpy(dtype=int))
        return cls(pipe, encoder)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.predict_proba(self.encoder.transform(features))[:, 1])


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    out = {
        "n": float(len(y)),
        "positives": float(y.sum()),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "mean_p": float(np.mean(p)),
        "base_rate": float(np.mean(y)),
    }
    out["auc"] = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
    return out


@dataclass
class ChurnTraining:
    model: ChurnModel
    metrics: dict[str, float]  # backtest: auc, brier, ... and baseline_*
    predictions: pd.DataFrame  # test-window rows: y, p_model, p_baseline
    train_window: tuple[dt.date, dt.date]
    test_window: tuple[dt.date, dt.date]
    n_train_rows: int


def train_churn(table: TrainingTable, test_months: int = 6, seed: int = 0) -> ChurnTraining:
    """Backtest on the last ``test_months`` labelled snapshots, then fit on all of them."""
    from mspilot.core.errors import DataError

    idx = table.labelled
    genome = table.genome.loc[idx]
    y = table.labels.loc[idx].astype(int)
    snaps = genome.index.get_level_values("snapshot")
    order = sorted(snaps.unique())
    if len(order) < test_months + 6:
        raise DataError(
            f"churn needs at least {test_months + 6} labelled months, found {len(order)}"
        )
    test_start = order[-test_months]
    train_rows = _before(snaps, test_start)
    test_rows = np.asarray(snaps >= test_start)
    if y[train_rows].sum() < 5:
        raise DataError("too few churned clients in the training window to learn churn")
    bt_model = fit_churn(genome[train_rows], y[train_rows], seed)
    baseline = LogisticBaseline.fit(genome[train_rows], y[train_rows])
    test = genome[test_rows]
    p_model = bt_model.predict_proba(test)
    p_base = baseline.predict_proba(test)
    y_test = y[test_rows].to_numpy()
    metrics = classification_metrics(y_test, p_model)
    for key, value in classification_metrics(y_test, p_base).items():
        metrics[f"baseline_{key}"] = value
    predictions = pd.DataFrame(
        {"y": y_test, "p_model": p_model, "p_baseline": p_base}, index=test.index
    )
    final = fit_churn(genome, y, seed)
    train_snaps = snaps[train_rows]
    final.meta = {
        "backtest": metrics,
        "test_window": [order[-test_months].date().isoformat(), order[-1].date().isoformat()],
    }
    return ChurnTraining(
        model=final,
        metrics=metrics,
        predictions=predictions,
        train_window=(train_snaps.min().date(), train_snaps.max().date()),
        test_window=(test_start.date(), order[-1].date()),
        n_train_rows=int(train_rows.sum()),
    )
