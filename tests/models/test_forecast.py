"""Demand forecast: beats seasonal naive, learns the holiday weeks, staffs the hours."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from mspilot.models.forecast import (
    PRODUCTIVE_HOURS_PER_TECH,
    last_complete_week,
    mase_scale,
    seasonal_naive,
)


def test_seasonal_naive_and_scale() -> None:
    history = np.arange(104, dtype=float)
    assert list(seasonal_naive(history, 3)) == [52.0, 53.0, 54.0]
    assert mase_scale(history) == pytest.approx(52.0)


def test_last_complete_week() -> None:
    assert last_complete_week(dt.date(2026, 10, 31)) == pd.Timestamp("2026-10-19")  # a Saturday
    assert last_complete_week(dt.date(2026, 11, 1)) == pd.Timestamp("2026-10-26")  # a Sunday


def test_forecast_beats_seasonal_naive(demo_world) -> None:  # type: ignore[no-untyped-def]
    forecast = demo_world.report.artefacts["forecast"]
    for series in forecast.series_backtests[:2]:
        assert series.mase < 0.9, series
        assert series.mae < series.mae_naive


def test_holiday_weeks_dip(demo_world) -> None:  # type: ignore[no-untyped-def]
    """Thanksgiving week (holiday Thursday, planted at a quarter of normal demand) is
    forecast below the weeks either side of it."""
    total = demo_world.report.artefacts["forecast"].total.set_index("week")
    thanksgiving = pd.Timestamp("2026-11-23")
    assert thanksgiving in total.index
    before = total.loc[thanksgiving - pd.Timedelta(days=7), "tickets"]
    after = total.loc[thanksgiving + pd.Timedelta(days=7), "tickets"]
    assert total.loc[thanksgiving, "tickets"] < min(before, after)


def test_technician_hours_and_per_client(demo_world) -> None:  # type: ignore[no-untyped-def]
    forecast = demo_world.report.artefacts["forecast"]
    total = forecast.total
    assert len(total) == 13
    assert np.allclose(total["technicians_needed"], total["hours"] / PRODUCTIVE_HOURS_PER_TECH)
    assert (total["hours_lo"] <= total["hours"]).all() and (
        total["hours"] <= total["hours_hi"]
    ).all()
    per_client = forecast.per_client
    assert set(per_client["method"]) == {"prophet", "share_of_total"}
    weekly = per_client.groupby("week")["hours"].sum().to_numpy()
    assert weekly == pytest.approx(total["hours"].to_numpy(), rel=0.25)
    one = per_client["client_id"].iloc[0]
    assert len(forecast.for_client(one)) == 13
