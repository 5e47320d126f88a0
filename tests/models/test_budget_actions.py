"""Candidate actions for the budget plan: values follow the stated formulas."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from mspilot.models.budget import BudgetLimits, solve_budget
from mspilot.models.budget_actions import (
    ActionCatalog,
    ClientRisk,
    capacity_actions,
    forecast_shortfall,
    leak_actions,
    retention_actions,
    upsell_actions,
)


def test_retention_value_is_risk_times_revenue_times_effectiveness() -> None:
    catalog = ActionCatalog()
    risky = ClientRisk(client_id="c1", client_name="Contoso", churn_90d=0.3, monthly_revenue=5000)
    safe = ClientRisk(client_id="c2", client_name="Fabrikam", churn_90d=0.001, monthly_revenue=9000)
    actions = retention_actions([risky, safe], catalog)
    assert {a.client_id for a in actions} == {"c1"}  # below the risk threshold: no play
    assert len(actions) == len(catalog.plays)
    for play, action in zip(catalog.plays, actions, strict=True):
        assert action.value == pytest.approx(0.3 * 5000 * 12 * play.effectiveness)
        assert action.cost == pytest.approx(
            play.cost_fixed + play.cost_share_of_monthly_revenue * 5000
        )


def test_leak_upsell_and_capacity_actions() -> None:
    catalog = ActionCatalog()
    leak = SimpleNamespace(
        type="unbilled_time",
        client_id="c1",
        client_name="Contoso",
        period_start=dt.date(2026, 8, 1),
        dollars=2000.0,
    )
    (la,) = leak_actions([leak], catalog)
    assert la.value == pytest.approx(1600.0) and la.cost == 0 and la.hours == pytest.approx(2.0)
    rec = SimpleNamespace(
        under_priced=True,
        expected_gain=1000.0,
        client_id="c1",
        client_name="Contoso",
        recommended_price=110.0,
        unit="user",
        change_pct=10.0,
    )
    held = SimpleNamespace(**{**rec.__dict__, "under_priced": False})
    (ua,) = upsell_actions([rec, held], catalog)
    assert ua.value == pytest.approx(900.0)
    overtime, contractor = capacity_actions(60.0, catalog)
    assert overtime.cost / overtime.hours_supplied == pytest.approx(90.0)
    assert overtime.divisible and contractor.max_units == catalog.contractor_max


def test_forecast_shortfall_forces_buying_hours() -> None:
    assert forecast_shortfall([100, 130, 90, 140], 120) == pytest.approx(30.0)
    catalog = ActionCatalog()
    actions = capacity_actions(60.0, catalog)
    plan = solve_budget(actions, BudgetLimits(budget=50_000, hours=0, required_hours=30))
    assert plan.status == "optimal"
    assert plan.hours_supplied == pytest.approx(30.0)
    assert plan.total_cost == pytest.approx(30 * 90.0)
