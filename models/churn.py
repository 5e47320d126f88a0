"""Churn: calibrated probability that a client leaves within 90 days, with its drivers.

- ``ChurnModel``: XGBoost over the client genome plus a Platt calibration fitted on
  out-of-time predictions; ``predict_proba``, ``predict_with`` (re-score with some columns
  overridden, e.g. a hypothetical price change) and ``drivers`` (per-client top reasons from
  XGBoost contributions, phrased for people). Price increases can only raise the risk
  (monotone constraint), so what-ifs on price move the right way.
- ``train_churn``: a time-based backtest (train on earlier snapshots, test on the last
  labelled months with a 90-day purge gap so no training label overlaps the test window)
  against a logistic-regression baseline, then the final model on every labelled month.
- ``load_champion(data_dir, tenant_id, kind="churn")``: the registered champion, cached.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mspilot.db.definitions import CHURN_HORIZON_DAYS
from mspilot.models.explain import driver_groups, phrase_driver
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

#: The genome columns XGBoost reads: the signals that drive churn, each measured the way a
#: client lives it (service of the last 6 months, payment habit, the renewal calendar,
#: recent and due price increases, margin pressure, ticket volume). With a few hundred
#: churns to learn from, the rest of the genome mostly adds noise: on development worlds
#: XGBoost over all of it ranked worse (expected AUC / oracle 0.925 vs 0.932; adding
#: tenure and seats alone cost 0.005). The logistic baseline keeps the whole genome.
CHURN_FEATURES: tuple[str, ...] = (
    "sla_breach_6m",
    "csat_6m",
    "satisfaction_6m",
    "resolution_time_recent",
    "late_months_6m",
    "days_late_3m",
    "renewal_window_3m",
    "term_month",
    "escalation_due_3m",
    "price_change_pct_12m",
    "months_since_price_change",
    "service_margin_pct_3m",
    "margin_pct_3m",
    "ticket_trend",
)

XGB_PARAMS: dict[str, Any] = {
    "objective": "binary:logistic",
    "eval_metric": "logloss",
    # stumps: the churn signals add up on the log-odds scale, and deeper trees fit noise
    # (development worlds: depth 1 x 600 rounds 0.932 vs depth 2 x 200 rounds 0.930)
    "max_depth": 1,
    "eta": 0.03,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 10.0,
    "lambda": 5.0,
    "nthread": 1,
    "tree_method": "hist",
}
XGB_ROUNDS = 600


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
    """Genome frame -> model matrix: numeric features, derived signals and one-hot
    industries seen in training.

    ``price_shock`` is the 12-month price change when it was billed in the last
    ``SHOCK_MONTHS`` months, else 0: churn reacts to an increase in the months right after
    it, and almost every client has some increase over a year."""

    industries: list[str]
    features: tuple[str, ...] = MODEL_FEATURES

    @property
    def columns(self) -> list[str]:
        return [*self.features, *DERIVED, *(f"industry={i}" for i in self.industries)]

    @classmethod
    def fit(cls, genome: pd.DataFrame, features: Sequence[str] = MODEL_FEATURES) -> Encoder:
        return cls(sorted(str(i) for i in genome["industry"].dropna().unique()), tuple(features))

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
        derived = np.column_stack([shock, exposure])
        if "industry" in features.columns:
            ind = features["industry"].to_numpy()
            onehot = np.stack([ind == i for i in self.industries], axis=1).astype(np.float64)
        else:
            onehot = np.zeros((len(features), len(self.industries)))
        parts = [num, derived, onehot] if self.industries else [num, derived]
        return np.hstack(parts)


@dataclass
class Driver:
    """One reason a client's risk is what it is."""

    group: str
    contribution: float  # log-odds the group adds to this client's risk
    text: str

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, "contribution": round(self.contribution, 4), "text": self.text}


@dataclass
class ChurnModel:
    """The served churn model (XGBoost + Platt calibration)."""

    booster: Any  # xgboost.Booster
    encoder: Encoder
    platt: tuple[float, float] = (1.0, 0.0)
    feature_set_version: str = FEATURE_SET_VERSION
    trained_through: dt.date | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # -- scoring -------------------------------------------------------------------------
    def _raw(self, matrix: np.ndarray) -> np.ndarray:
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
    def contributions(self, features: pd.DataFrame) -> pd.DataFrame:
        """XGBoost (SHAP) contributions per feature in log-odds, plus ``bias``."""
        import xgboost as xgb

        matrix = self.encoder.transform(features)
        dm = xgb.DMatrix(matrix, feature_names=self.encoder.columns, missing=np.nan)
        contrib = self.booster.predict(dm, pred_contribs=True)
        cols = [*self.encoder.columns, "bias"]
        frame = pd.DataFrame(contrib, index=features.index, columns=cols)
        ind_cols = [c for c in cols if c.startswith("industry=")]
        frame["industry"] = frame[ind_cols].sum(axis=1) if ind_cols else 0.0
        return frame.drop(columns=ind_cols)

    def drivers(self, features: pd.DataFrame, top: int = 3) -> dict[Any, list[Driver]]:
        """The ``top`` groups of signals pushing each client's risk up, in plain words."""
        contrib = self.contributions(features)
        groups = driver_groups()
        names = list(groups)
        # one column per group: the sum of its features' contributions
        per_group = np.column_stack(
            [
                contrib[[f for f in groups[g] if f in contrib.columns]].to_numpy().sum(axis=1)
                for g in names
            ]
        )
        out: dict[Any, list[Driver]] = {}
        records = features.to_dict("index")
        for i, key in enumerate(features.index):
            order = np.argsort(-per_group[i], kind="stable")[:top]
            row = pd.Series(records[key])
            out[key] = [
                Driver(names[j], float(per_group[i, j]), phrase_driver(names[j], row))
                for j in order
                if per_group[i, j] > 0
            ]
        return out


# ---- training -------------------------------------------------------------------------


def _fit_booster(matrix: np.ndarray, y: np.ndarray, columns: Sequence[str], seed: int) -> Any:
    import xgboost as xgb

    constraints = tuple(1 if c in MONOTONE_UP else -1 if c in MONOTONE_DOWN else 0 for c in columns)
    params = {**XGB_PARAMS, "seed": seed, "monotone_constraints": str(constraints)}
    dm = xgb.DMatrix(matrix, label=y, feature_names=list(columns), missing=np.nan)
    return xgb.train(params, dm, num_boost_round=XGB_ROUNDS)


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
    encoder = Encoder.fit(genome, CHURN_FEATURES)
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
            raw = np.asarray(inner.inplace_predict(matrix[cal_rows], predict_type="margin"))
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


# ---- serving ------------------------------------------------------------------------------


def load_champion(data_dir: Path, tenant_id: str, kind: str = "churn") -> Any:
    """The registered champion of ``kind`` for the tenant (cached while unchanged)."""
    from mspilot.models.registry import Registry

    return Registry(data_dir, tenant_id).load(kind)
