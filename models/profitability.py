"""Profitability: exact per-client margins (descriptive) and next-quarter margin (predictive).

- ``client_margin_frame``: revenue, hours, labour and licence cost, margin, margin % and effective
  hourly rate per client over a period, straight from ``db.definitions.client_economics``.
- ``train_profitability``: an XGBoost regressor of the change in gross margin from the last
  quarter (3 months up to a snapshot) to the next one; its prediction is last quarter's
  margin plus the predicted change. The baseline is "next quarter = last quarter".
  Clients that churn within the next quarter are left out (their margin is the churn model's
  business). Backtest: the last labelled snapshots, with a 3-month purge gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from mspilot.core.errors import DataError
from mspilot.core.periods import Period
from mspilot.db.definitions import client_economics
from mspilot.models.churn import Encoder
from mspilot.models.data import date_month_index, read_frame
from mspilot.models.features import FEATURE_SET_VERSION, TrainingTable

PARAMS: dict[str, Any] = {
    "objective": "reg:squarederror",
    "max_depth": 3,
    "eta": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 5.0,
    "lambda": 5.0,
    "nthread": 1,
    "tree_method": "hist",
}
ROUNDS = 250
MONEY = ("revenue", "hours", "billable_hours", "labour_cost", "licence_cost", "margin")


def client_margin_frame(engine: Engine, tenant_id: str, period: Period) -> pd.DataFrame:
    """Per-client economics over ``period`` (index = client id), from the shared definition."""
    with engine.connect() as conn:
        frame = read_frame(conn, client_economics(tenant_id, period))
    for col in MONEY:
        frame[col] = frame[col].astype(float)
    for col in ("margin_pct", "effective_rate"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame.set_index("client_id")


def next_quarter_margin(genome: pd.DataFrame, economics: pd.DataFrame) -> pd.Series:
    """Sum of margin over the 3 calendar months after each row's snapshot month."""
    margin = economics.set_index(["client_id", "month"])["margin"]
    snaps = genome.index.get_level_values("snapshot")
    clients = genome.index.get_level_values("client_id")
    months = np.asarray([date_month_index(s.date()) for s in snaps])
    total = np.zeros(len(genome))
    for k in (1, 2, 3):
        keys = pd.MultiIndex.from_arrays([clients, months + k])
        total += margin.reindex(keys).fillna(0.0).to_numpy()
    return pd.Series(total, index=genome.index, name="next_quarter_margin")


@dataclass
class ProfitModel:
    booster: Any
    encoder: Encoder
    feature_set_version: str = FEATURE_SET_VERSION
    meta: dict[str, Any] = field(default_factory=dict)

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """Predicted gross margin over the next quarter, one per row."""
        delta = self.booster.inplace_predict(self.encoder.transform(features))
        return np.asarray(features["margin_3m"].to_numpy(dtype=float) + delta)


def _fit(genome: pd.DataFrame, delta: pd.Series, seed: int) -> ProfitModel:
    import xgboost as xgb

    encoder = Encoder.fit(genome)
    dm = xgb.DMatrix(
        encoder.transform(genome),
        label=delta.to_numpy(),
        feature_names=encoder.columns,
        missing=np.nan,
    )
    booster = xgb.train({**PARAMS, "seed": seed}, dm, num_boost_round=ROUNDS)
    return ProfitModel(booster, encoder)


@dataclass
class ProfitTraining:
    model: ProfitModel
    metrics: dict[str, float]
    predictions: pd.DataFrame
    test_window: tuple[dt.date, dt.date]


def train_profitability(
    table: TrainingTable, economics: pd.DataFrame, test_months: int = 6, seed: int = 0
) -> ProfitTraining:
    last_month = date_month_index(table.as_of)
    snaps = table.genome.index.get_level_values("snapshot")
    known = np.asarray([date_month_index(s.date()) + 3 <= last_month for s in snaps])
    stays = (table.labels.fillna(0.0) < 0.5).to_numpy()
    genome = table.genome[known & stays]
    target = next_quarter_margin(genome, economics)
    delta = target - genome["margin_3m"]
    order = sorted(genome.index.get_level_values("snapshot").unique())
    if len(order) < test_months + 6:
        raise DataError(f"profitability needs {test_months + 6} complete quarters of history")
    test_start = order[-test_months]
    s = genome.index.get_level_values("snapshot")
    train_rows = np.asarray(s <= test_start - pd.DateOffset(months=3))
    test_rows = np.asarray(s >= test_start)
    bt = _fit(genome[train_rows], delta[train_rows], seed)
    test = genome[test_rows]
    pred = bt.predict(test)
    actual = target[test_rows].to_numpy()
    base = test["margin_3m"].to_numpy(dtype=float)
    mae = float(np.mean(np.abs(pred - actual)))
    mae_base = float(np.mean(np.abs(base - actual)))
    metrics = {
        "mae": mae,
        "baseline_mae": mae_base,
        "skill": 1.0 - mae / mae_base if mae_base > 0 else float("nan"),
        "n": float(test_rows.sum()),
        "mean_abs_margin": float(np.mean(np.abs(actual))),
    }
    predictions = pd.DataFrame(
        {"actual": actual, "predicted": pred, "baseline": base}, index=test.index
    )
    final = _fit(genome, delta, seed)
    final.meta = {"backtest": metrics}
    return ProfitTraining(final, metrics, predictions, (test_start.date(), order[-1].date()))
