"""Budget MILP: plan equals brute force, binding constraints and their worth, infeasibility."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from mspilot.core.errors import UserInputError
from mspilot.models.budget import (
    PLAY_KINDS,
    ActionKind,
    BudgetLimits,
    CandidateAction,
    solve_budget,
)


def _feasible(
    actions: Sequence[CandidateAction], limits: BudgetLimits, units: Sequence[int]
) -> bool:
    spend = sum(a.cost * u for a, u in zip(actions, units, strict=True))
    hours = sum((a.hours - a.hours_supplied) * u for a, u in zip(actions, units, strict=True))
    if spend > limits.budget + 1e-6 or hours > limits.hours - limits.required_hours + 1e-6:
        return False
    per_client: dict[str, float] = defaultdict(float)
    plays: dict[str, float] = defaultdict(float)
    for a, u in zip(actions, units, strict=True):
        if a.must_do and u < 1:
            return False
        if a.client_id is not None:
            per_client[a.client_id] += a.cost * u
            if a.kind in PLAY_KINDS:
                plays[a.client_id] += u
    if limits.per_client_cap is not None and any(
        v > limits.per_client_cap + 1e-6 for v in per_client.values()
    ):
        return False
    return not (limits.one_play_per_client and any(v > 1 for v in plays.values()))


def brute_force(
    actions: Sequence[CandidateAction], limits: BudgetLimits
) -> tuple[float | None, list[tuple[int, ...]]]:
    """Best net value and every assignment reaching it (None if nothing is feasible)."""
    best: float | None = None
    argbest: list[tuple[int, ...]] = []
    for units in itertools.product(*[range(a.max_units + 1) for a in actions]):
        if not _feasible(actions, limits, units):
            continue
        net = sum(a.net_value * u for a, u in zip(actions, units, strict=True))
        if best is None or net > best + 1e-6:
            best, argbest = net, [units]
        elif abs(net - best) <= 1e-6:
            argbest.append(units)
    return best, argbest


@st.composite
def instances(
    draw: st.DrawFn, divisible: bool = False
) -> tuple[list[CandidateAction], BudgetLimits]:
    n = draw(st.integers(1, 9))
    clients = ["c1", "c2", "c3", None]
    kinds = list(ActionKind)
    actions = []
    for i in range(n):
        kind = draw(st.sampled_from(kinds))
        supplies = kind in (ActionKind.OVERTIME, ActionKind.HIRING)
        actions.append(
            CandidateAction(
                id=f"a{i}",
                kind=kind,
                label=f"action {i}",
                client_id=None if supplies else draw(st.sampled_from(clients)),
                cost=draw(st.integers(0, 60)) * 50.0,
                hours=0.0 if supplies else float(draw(st.integers(0, 40))),
                hours_supplied=float(draw(st.integers(0, 60))) if supplies else 0.0,
                value=float(draw(st.integers(0, 9000))),
                max_units=draw(st.integers(1, 2)) if supplies else 1,
                divisible=divisible and supplies and draw(st.booleans()),
                must_do=draw(st.integers(0, 9)) == 0,
            )
        )
    limits = BudgetLimits(
        budget=draw(st.integers(0, 80)) * 50.0,
        hours=float(draw(st.integers(0, 120))),
        required_hours=float(draw(st.sampled_from([0, 0, 10, 50]))),
        per_client_cap=draw(st.sampled_from([None, 500.0, 1500.0])),
        one_play_per_client=draw(st.booleans()),
        time_limit_s=20,
    )
    return actions, limits


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_plan_equals_brute_force(inst: tuple[list[CandidateAction], BudgetLimits]) -> None:
    actions, limits = inst
    best, argbest = brute_force(actions, limits)
    plan = solve_budget(actions, limits, marginal=False)
    if best is None:
        assert plan.status == "infeasible"
        assert plan.infeasibility is not None and plan.infeasibility.reasons
        return
    assert plan.status == "optimal"
    assert plan.net_value == pytest.approx(best, abs=1e-4)
    units = {p.id: round(p.units) for p in plan.chosen}
    chosen = tuple(units.get(a.id, 0) for a in actions)
    assert _feasible(actions, limits, chosen)
    assert chosen in argbest


def _scipy_optimum(actions: Sequence[CandidateAction], limits: BudgetLimits) -> float | None:
    """The same problem solved by HiGHS through scipy: an independent check."""
    rows, ub = [], []
    rows.append([a.cost for a in actions])
    ub.append(limits.budget)
    rows.append([a.hours - a.hours_supplied for a in actions])
    ub.append(limits.hours - limits.required_hours)
    for c in {a.client_id for a in actions if a.client_id}:
        if limits.per_client_cap is not None:
            rows.append([a.cost if a.client_id == c else 0.0 for a in actions])
            ub.append(limits.per_client_cap)
        if limits.one_play_per_client:
            rows.append(
                [1.0 if a.client_id == c and a.kind in PLAY_KINDS else 0.0 for a in actions]
            )
            ub.append(1.0)
    lo = [1.0 if a.must_do else 0.0 for a in actions]
    hi = [float(a.max_units) for a in actions]
    res = milp(
        c=-np.array([a.net_value for a in actions]),
        constraints=LinearConstraint(np.array(rows), -np.inf, np.array(ub)),
        integrality=np.array([0 if a.divisible else 1 for a in actions]),
        bounds=Bounds(lo, hi),
    )
    return None if res.status != 0 else -float(res.fun)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances(divisible=True))
def test_divisible_actions_match_highs(inst: tuple[list[CandidateAction], BudgetLimits]) -> None:
    actions, limits = inst
    expected = _scipy_optimum(actions, limits)
    plan = solve_budget(actions, limits, marginal=False)
    if expected is None:
        assert plan.status == "infeasible"
        return
    assert plan.status == "optimal"
    assert plan.net_value == pytest.approx(expected, abs=1e-3, rel=1e-6)


def _action(i: int, **kw: object) -> CandidateAction:
    base: dict[str, object] = {
        "id": f"a{i}",
        "kind": ActionKind.RETENTION,
        "label": f"play {i}",
        "client_id": f"c{i}",
        "cost": 1000.0,
        "hours": 5.0,
        "value": 3000.0,
    }
    base.update(kw)
    return CandidateAction.model_validate(base)


def test_binding_budget_reports_its_worth() -> None:
    # Ten identical plays worth $2,000 net each, $1,000 each: budget binds at $4,000.
    actions = [_action(i) for i in range(10)]
    plan = solve_budget(actions, BudgetLimits(budget=4000, hours=1000))
    assert plan.status == "optimal"
    assert len(plan.chosen) == 4
    budget = next(c for c in plan.constraints if c.name == "budget")
    hours = next(c for c in plan.constraints if c.name == "hours")
    assert budget.binding and not hours.binding
    assert budget.gain_per_step == pytest.approx(2000.0)  # one more $1,000 buys one more play
    assert "worth $2,000" in budget.sentence
    assert hours.gain_per_step == 0.0


def test_shadow_price_from_fixed_integer_lp_prices_overtime() -> None:
    # Hours bind; overtime (divisible) supplies them at $60/h, so an extra free hour saves $60.
    actions = [_action(i, cost=0.0, hours=10.0, value=2000.0) for i in range(3)]
    actions.append(
        CandidateAction(
            id="ot",
            kind=ActionKind.OVERTIME,
            label="overtime",
            cost=60.0 * 40,
            hours_supplied=40.0,
            value=0.0,
            divisible=True,
        )
    )
    plan = solve_budget(actions, BudgetLimits(budget=100_000, hours=15))
    hours = next(c for c in plan.constraints if c.name == "hours")
    assert hours.binding
    assert hours.shadow_price == pytest.approx(60.0)
    assert hours.gain_per_step == pytest.approx(600.0)
    assert {p.id for p in plan.chosen} >= {"a0", "a1", "a2", "ot"}


def test_one_play_per_client_and_cap() -> None:
    actions = [
        _action(0, client_id="x", value=5000.0),
        _action(1, client_id="x", kind=ActionKind.UPSELL, value=4000.0, cost=0.0),
        _action(2, client_id="x", kind=ActionKind.LEAK_RECOVERY, value=900.0, cost=100.0),
    ]
    plan = solve_budget(actions, BudgetLimits(budget=10_000, hours=100, per_client_cap=1050))
    ids = {p.id for p in plan.chosen}
    # Plays exclude each other; leak recovery is not a play but the $1,050 cap blocks it next
    # to the $1,000 retention play, so the best is the free upsell plus the leak recovery.
    assert ids == {"a1", "a2"}
    assert any(c.name.startswith("play") and c.binding for c in plan.constraints)


def test_infeasible_must_do_over_budget_is_explained() -> None:
    actions = [
        _action(0, label="Save Contoso", cost=6000.0, must_do=True),
        _action(1, label="Save Fabrikam", cost=5000.0, must_do=True),
        _action(2),
    ]
    plan = solve_budget(actions, BudgetLimits(budget=8000, hours=100))
    assert plan.status == "infeasible"
    info = plan.infeasibility
    assert info is not None
    assert info.budget_short_by == pytest.approx(3000.0)
    assert "$11,000" in info.summary and "short by $3,000" in info.summary
    assert "Save Contoso" in info.summary


def test_infeasible_forecast_hours_are_explained() -> None:
    actions = [
        CandidateAction(
            id="ot",
            kind=ActionKind.OVERTIME,
            label="overtime",
            cost=3000.0,
            hours_supplied=50.0,
            value=0.0,
            divisible=True,
        )
    ]
    plan = solve_budget(actions, BudgetLimits(budget=100_000, hours=20, required_hours=100))
    assert plan.status == "infeasible"
    info = plan.infeasibility
    assert info is not None
    assert info.hours_short_by == pytest.approx(30.0)
    assert "forecast" in info.summary and "30 h" in info.summary


def test_conflicting_must_do_plays_are_named() -> None:
    actions = [
        _action(0, client_id="x", client_name="Contoso", must_do=True),
        _action(1, client_id="x", client_name="Contoso", kind=ActionKind.UPSELL, must_do=True),
    ]
    plan = solve_budget(actions, BudgetLimits(budget=10_000, hours=100))
    assert plan.status == "infeasible"
    assert plan.infeasibility is not None
    assert "Contoso" in plan.infeasibility.summary
    assert set(plan.infeasibility.conflicting_items) == {"a0", "a1"}


def test_bad_input_is_a_user_error() -> None:
    with pytest.raises(UserInputError):
        solve_budget([_action(0), _action(0)], BudgetLimits(budget=1, hours=1))
    with pytest.raises(UserInputError):
        solve_budget([_action(0)], BudgetLimits(budget=1, hours=1, must_do=["nope"]))


def test_solving_writes_nothing_to_stdout_or_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    """The solver runs in this process: a banner or log line from it would corrupt
    ``mspilot budget --json`` and the server's JSON logs."""
    actions = [_action(i, cost=100.0 * (i + 1), hours=2.0, value=500.0) for i in range(6)]
    plan = solve_budget(actions, BudgetLimits(budget=1_000, hours=8))
    assert plan.status == "optimal" and plan.chosen
    out, err = capfd.readouterr()
    assert out == "" and err == ""
