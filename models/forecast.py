"""Demand forecast: weekly tickets and hours (total and per client) with Prophet, against a
seasonal-naive baseline (same week last year), turned into technician-hours per week.

- Weeks start on Monday; only complete weeks up to the as-of date are used.
- Holidays: every US federal holiday marks the week it falls in (Prophet holiday regressors
  on weekly data), so "Thanksgiving week" and "Christmas week" dips are learnt, not guessed.
- Backtest: the last ``horizon`` weeks are held out; MASE is scaled by the in-sample
  seasonal-naive error (lag 52), so a model at 1.0 is no better than last year's value.
- Per client: Prophet for the clients carrying most of the work (``per_client_limit``); the
  small tail gets its share of the total forecast (top-down), since a handful of tickets a
  week is noise Prophet cannot beat.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SEASON = 52
#: Productive hours one technician delivers in a week (40 h at 75% utilisation).
PRODUCTIVE_HOURS_PER_TECH = 30.0


def week_start(values: pd.Series) -> pd.Series:
    days = pd.to_datetime(values).dt.normalize()
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def last_complete_week(as_of: dt.date) -> pd.Timestamp:
    """Monday of the last week that ends (Sunday) on or before ``as_of``."""
    ts = pd.Timestamp(as_of)
    monday = ts - pd.Timedelta(days=ts.weekday())
    return monday if ts.weekday() == 6 else monday - pd.Timedelta(days=7)


def weekly_series(
    dates: pd.Series,
    weights: pd.Series | None,
    first: pd.Timestamp,
    last: pd.Timestamp,
    keys: pd.Series | None = None,
) -> pd.DataFrame:
    """A (week x key) frame of sums over complete weeks ``first..last`` (zeros filled)."""
    weeks = pd.date_range(first, last, freq="7D")
    frame = pd.DataFrame(
        {
            "week": week_start(dates).to_numpy(),
            "w": 1.0 if weights is None else weights.to_numpy(dtype=float),
            "key": "total" if keys is None else keys.to_numpy(),
        }
    )
    frame = frame[(frame["week"] >= first) & (frame["week"] <= last)]
    table = frame.pivot_table(index="week", columns="key", values="w", aggfunc="sum")
    return table.reindex(weeks).fillna(0.0)


def holiday_weeks(first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    """Prophet holiday frame: each US federal holiday -> the Monday of its week."""
    import holidays

    years = range(first.year - 1, last.year + 2)
    rows = []
    for day, name in sorted(holidays.country_holidays("US", years=years).items()):
        ts = pd.Timestamp(day)
        rows.append(
            {"holiday": str(name).split(" (")[0], "ds": ts - pd.Timedelta(days=ts.weekday())}
        )
    return pd.DataFrame(rows).drop_duplicates(["holiday", "ds"])


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """Same week last year (falls back to the last value when history is shorter)."""
    if len(history) >= SEASON:
        base = history[-SEASON:]
        return np.asarray([base[i % SEASON] for i in range(horizon)], dtype=float)
    return np.full(horizon, history[-1] if len(history) else 0.0)


def mase_scale(history: np.ndarray) -> float:
    if len(history) > SEASON:
        return float(np.mean(np.abs(history[SEASON:] - history[:-SEASON])))
    return float(np.mean(np.abs(np.diff(history)))) if len(history) > 1 else float("nan")


def _quiet() -> None:
    for name in ("cmdstanpy", "prophet", "prophet.plot", "prophet.models"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            # cmdstanpy installs a chatty INFO handler unless its logger has one already
            logger.addHandler(logging.NullHandler())
        logger.setLevel(logging.ERROR)
        logger.propagate = False
    logging.getLogger("prophet.plot").disabled = True


def fit_prophet(
    weeks: pd.DatetimeIndex,
    y: np.ndarray,
    holidays_frame: pd.DataFrame | None,
    uncertainty: int = 0,
) -> Any:
    _quiet()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from prophet import Prophet

        _quiet()
        model = Prophet(
            yearly_seasonality=6 if len(y) >= 2 * SEASON else 3,
            weekly_seasonality=False,
            daily_seasonality=False,
            holidays=holidays_frame,
            seasonality_mode="additive",
            changepoint_prior_scale=0.05,
            holidays_prior_scale=5.0,
            uncertainty_samples=uncertainty,
        )
        model.fit(pd.DataFrame({"ds": weeks, "y": y}))
    return model


def prophet_forecast(model: Any, horizon: int, start: pd.Timestamp) -> pd.DataFrame:
    future = pd.DataFrame({"ds": pd.date_range(start, periods=horizon, freq="7D")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.predict(future)
    cols = ["ds", "yhat"] + [c for c in ("yhat_lower", "yhat_upper") if c in out.columns]
    frame = out[cols].copy()
    for c in cols[1:]:
        frame[c] = frame[c].clip(lower=0.0)
    return frame


@dataclass
class SeriesBacktest:
    name: str
    mae: float
    mae_naive: float
    mase: float
    mase_naive: float
    scale: float = float("nan")
    holdout: pd.DataFrame = field(default_factory=pd.DataFrame)  # week, actual, model, naive

    @property
    def relative(self) -> float:
        return self.mae / self.mae_naive if self.mae_naive > 0 else float("nan")


def backtest_series(
    name: str,
    weeks: pd.DatetimeIndex,
    y: np.ndarray,
    horizon: int,
    holidays_frame: pd.DataFrame | None,
) -> SeriesBacktest:
    train_y, test_y = y[:-horizon], y[-horizon:]
    model = fit_prophet(weeks[:-horizon], train_y, holidays_frame)
    pred = prophet_forecast(model, horizon, weeks[-horizon])["yhat"].to_numpy()
    naive = seasonal_naive(train_y, horizon)
    scale = mase_scale(train_y)
    mae = float(np.mean(np.abs(pred - test_y)))
    mae_naive = float(np.mean(np.abs(naive - test_y)))
    holdout = pd.DataFrame(
        {"week": weeks[-horizon:], "actual": test_y, "model": pred, "naive": naive}
    )
    return SeriesBacktest(
        name,
        mae,
        mae_naive,
        mae / scale if scale > 0 else float("nan"),
        mae_naive / scale if scale > 0 else float("nan"),
        scale,
        holdout,
    )


@dataclass
class DemandForecast:
    """The served forecast: future weeks, total and per client, and the backtest."""

    as_of: dt.date
    total: pd.DataFrame  # week, tickets(+lo/hi), hours(+lo/hi), technicians_needed
    per_client: pd.DataFrame  # week, client_id, tickets, hours, method
    capacity_hours: float
    backtest: dict[str, float] = field(default_factory=dict)
    series_backtests: list[SeriesBacktest] = field(default_factory=list)

    def for_client(self, client_id: str) -> pd.DataFrame:
        return self.per_client[self.per_client["client_id"] == client_id]


def train_forecast(
    tickets: pd.DataFrame,
    time_entries: pd.DataFrame,
    active_clients: list[str],
    as_of: dt.date,
    *,
    technicians: int,
    horizon: int = 13,
    per_client_limit: int = 15,
    backtest_clients: int = 5,
    on_step: Callable[[str], None] | None = None,
) -> DemandForecast:
    """Backtest then fit on all complete weeks; forecast ``horizon`` weeks ahead."""
    last = last_complete_week(as_of)
    first_ts = min(
        week_start(tickets["opened_at"]).min(), week_start(time_entries["work_date"]).min()
    )
    first = pd.Timestamp(first_ts) + pd.Timedelta(days=7)  # first week may be partial
    hol = holiday_weeks(first, last + pd.Timedelta(days=7 * horizon))
    t_total = weekly_series(tickets["opened_at"], None, first, last)["total"]
    h_total = weekly_series(time_entries["work_date"], time_entries["hours"], first, last)["total"]
    weeks = pd.DatetimeIndex(t_total.index)

    # per-client weekly series (active clients only)
    t_client = weekly_series(tickets["opened_at"], None, first, last, tickets["client_id"])
    h_client = weekly_series(
        time_entries["work_date"], time_entries["hours"], first, last, time_entries["client_id"]
    )
    active = [c for c in active_clients if c in h_client.columns or c in t_client.columns]
    t_client = t_client.reindex(columns=active, fill_value=0.0)
    h_client = h_client.reindex(columns=active, fill_value=0.0)
    recent = h_client.iloc[-26:].sum().sort_values(ascending=False)
    modelled = list(recent.index[:per_client_limit])

    results: list[SeriesBacktest] = []
    step = on_step or (lambda _s: None)
    step("forecast backtest: totals")
    results.append(backtest_series("tickets", weeks, t_total.to_numpy(), horizon, hol))
    results.append(backtest_series("hours", weeks, h_total.to_numpy(), horizon, hol))
    for cid in modelled[:backtest_clients]:
        step("forecast backtest: clients")
        results.append(
            backtest_series(f"hours:{cid}", weeks, h_client[cid].to_numpy(), horizon, None)
        )

    step("forecast: totals")
    start = last + pd.Timedelta(days=7)
    t_model = fit_prophet(weeks, t_total.to_numpy(), hol, uncertainty=200)
    h_model = fit_prophet(weeks, h_total.to_numpy(), hol, uncertainty=200)
    tf = prophet_forecast(t_model, horizon, start)
    hf = prophet_forecast(h_model, horizon, start)
    total = pd.DataFrame(
        {
            "week": tf["ds"],
            "tickets": tf["yhat"],
            "tickets_lo": tf.get("yhat_lower", tf["yhat"]),
            "tickets_hi": tf.get("yhat_upper", tf["yhat"]),
            "hours": hf["yhat"],
            "hours_lo": hf.get("yhat_lower", hf["yhat"]),
            "hours_hi": hf.get("yhat_upper", hf["yhat"]),
        }
    )
    total["technicians_needed"] = total["hours"] / PRODUCTIVE_HOURS_PER_TECH

    parts = []
    share_t = t_client.iloc[-26:].sum() / max(float(t_client.iloc[-26:].to_numpy().sum()), 1.0)
    share_h = h_client.iloc[-26:].sum() / max(float(h_client.iloc[-26:].to_numpy().sum()), 1.0)
    for cid in active:
        if cid in modelled:
            step("forecast: clients")
            ct = prophet_forecast(
                fit_prophet(weeks, t_client[cid].to_numpy(), None), horizon, start
            )
            ch = prophet_forecast(
                fit_prophet(weeks, h_client[cid].to_numpy(), None), horizon, start
            )
            tickets_c, hours_c, method = ct["yhat"].to_numpy(), ch["yhat"].to_numpy(), "prophet"
        else:
            tickets_c = total["tickets"].to_numpy() * float(share_t.get(cid, 0.0))
            hours_c = total["hours"].to_numpy() * float(share_h.get(cid, 0.0))
            method = "share_of_total"
        parts.append(
            pd.DataFrame(
                {
                    "week": total["week"],
                    "client_id": cid,
                    "tickets": tickets_c,
                    "hours": hours_c,
                    "method": method,
                }
            )
        )
    per_client = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    summary = _summarise(results)
    return DemandForecast(
        as_of=as_of,
        total=total,
        per_client=per_client,
        capacity_hours=technicians * PRODUCTIVE_HOURS_PER_TECH,
        backtest=summary,
        series_backtests=results,
    )


def _summarise(results: list[SeriesBacktest]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in results[:2]:
        out[f"{r.name}_mase"] = r.mase
        out[f"{r.name}_mase_naive"] = r.mase_naive
        out[f"{r.name}_relative_mae"] = r.relative
    clients = [r for r in results[2:] if not np.isnan(r.mase)]
    if clients:
        out["client_hours_mase"] = float(np.mean([r.mase for r in clients]))
        out["client_hours_mase_naive"] = float(np.mean([r.mase_naive for r in clients]))
    out["mase"] = float(np.mean([r.mase for r in results[:2]]))
    out["mase_naive"] = float(np.mean([r.mase_naive for r in results[:2]]))
    return out
