"""The models' tools on a trained generated MSP: each returns what ``models.serving`` returns
for the caller's tenant, the planted structure shows through (riskier clients ranked first,
planted leaks found, a raise never lowers churn), and an untrained tenant gets a refusal that
names ``mspilot train``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.messages import ToolMessage
from sqlalchemy import Engine

from mspilot.models import serving
from mspilot.tools.context import ToolContext

AS_OF = dt.date(2026, 10, 31)


@dataclass
class Trained:
    engine: Engine
    tenant_id: str
    data_dir: Path
    truth: Any

    def ctx(self, role: str = "owner", client_id: str | None = None) -> ToolContext:
        return ToolContext(
            engine=self.engine,
            tenant_id=self.tenant_id,
            today=AS_OF,
            data_dir=self.data_dir,
            role=role,
            client_id=client_id,
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """A generated MSP (60 clients, 3 years: enough churn for the model to learn from), with
    the models the tools read trained once: churn, leak findings, forecast."""
    from mspilot.cli.demo import load_demo_tenant
    from mspilot.core.clock import Clock
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.models.training import train_all
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    root = tmp_path_factory.mktemp("model_tools")
    engine = make_engine(f"sqlite:///{root / 'world.db'}")
    migrate.upgrade(engine)
    ds = generate_tenant(DemoConfig(n_clients=60, years=3, as_of=AS_OF), 0)
    assert load_demo_tenant(engine, ds.tenant, ds.tables).issues == []
    train_all(engine, ds.tenant.id, root / "data", Clock(AS_OF), mlflow=False,
              kinds=["churn", "leaks", "forecast"])  # fmt: skip
    yield Trained(engine, ds.tenant.id, root / "data", ds.truth)
    engine.dispose()


def rows_of(message: ToolMessage) -> list[dict[str, Any]]:
    assert message.status != "error", message.content
    art = message.artifact
    return [dict(zip(art["columns"], r, strict=True)) for r in art["rows"]]


def test_churn_tool_ranks_as_the_model_and_recovers_planted_risk(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    rows = rows_of(call(trained.ctx(), "churn_risk", top=5))
    risks = serving.churn_risks(trained.engine, trained.tenant_id, AS_OF, trained.data_dir)
    assert [(r["client"], r["risk_90d"]) for r in rows] == [
        (r.client_name, r.risk_90d) for r in risks
    ]
    assert [r["risk_90d"] for r in rows] == sorted((r["risk_90d"] for r in rows), reverse=True)
    assert any(r["drivers"] for r in rows[:5])  # reasons in words for the riskiest
    # planted: the generator's true 90-day churn probability is higher, on average, for the
    # quarter of clients the tool ranks riskiest than for the rest
    truth = {
        m.client_id: m.p_churn_90d
        for m in trained.truth.months
        if (m.month.year, m.month.month) == (AS_OF.year, AS_OF.month)
    }
    frame = pd.DataFrame(
        [(r.client_id.rsplit(".", 1)[-1], r.risk_90d) for r in risks], columns=["ext", "risk"]
    )
    frame["p_true"] = frame["ext"].map(truth)
    frame = frame.dropna()
    k = max(len(frame) // 4, 3)
    assert frame.head(k)["p_true"].mean() > frame.iloc[k:]["p_true"].mean()
    assert frame["risk"].corr(frame["p_true"], method="spearman") > 0


def test_churn_tool_for_one_client_with_a_misspelt_name(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    risks = serving.churn_risks(trained.engine, trained.tenant_id, AS_OF, trained.data_dir)
    target = risks[len(risks) // 2]
    rows = rows_of(call(trained.ctx(), "churn_risk", client=target.client_name.lower() + "x"))
    assert [(r["client"], r["risk_90d"]) for r in rows] == [(target.client_name, target.risk_90d)]


def test_margins_tool_is_the_profitability_of_the_period(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    from mspilot.core.periods import Period

    message = call(trained.ctx(), "client_margins", period="2026-Q3", top=5)
    rows = rows_of(message)
    expected = serving.client_margins(trained.engine, trained.tenant_id, Period.quarter(2026, 3))
    active = {r.client_name: r for r in expected if r.revenue or r.hours or r.labour_cost}
    assert {r["client"] for r in rows} == set(active)
    for r in rows:
        m = active[r["client"]]
        assert r["margin"] == pytest.approx(m.margin, abs=0.01)
        assert r["margin"] == pytest.approx(
            r["revenue"] - r["labour_cost"] - r["licence_cost"], abs=0.05
        )
    assert [r["margin"] for r in rows] == sorted(r["margin"] for r in rows)  # worst first
    totals = message.artifact["meta"]["totals"]
    assert totals["margin"] == pytest.approx(sum(m.margin for m in active.values()), abs=0.05)


def test_leaks_tool_finds_the_planted_leaks(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    message = call(trained.ctx(), "revenue_leaks", top=3)
    rows = rows_of(message)
    saved = serving.revenue_leaks(trained.data_dir, trained.tenant_id)
    meta = message.artifact["meta"]
    assert meta["total_dollars"] == pytest.approx(sum(x.dollars for x in saved), abs=0.01)
    assert meta["by_type"] == serving.leaks_by_type(saved)
    assert [r["dollars"] for r in rows] == sorted((r["dollars"] for r in rows), reverse=True)
    planted = {(leak.type, leak.client_id) for leak in trained.truth.leaks}
    found = {(x.type, x.client_id.rsplit(".", 1)[-1]) for x in saved}
    assert planted and len(planted & found) >= 0.8 * len(planted)
    one_type = rows[0]["type"]
    only = rows_of(call(trained.ctx(), "revenue_leaks", type=one_type))
    assert only and {r["type"] for r in only} == {one_type}


def test_forecast_tool_sums_the_forecast_weeks_and_technicians_may_use_it(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    message = call(trained.ctx("technician"), "demand_forecast", period="next month")
    rows = rows_of(message)
    forecast = serving.demand_forecast(trained.data_dir, trained.tenant_id)
    weeks = [w for w in forecast.weeks if dt.date(2026, 11, 1) <= w.week < dt.date(2026, 12, 1)]
    assert [r["week"] for r in rows] == [w.week.isoformat() for w in weeks] and weeks
    meta = message.artifact["meta"]
    assert meta["tickets_total"] == pytest.approx(sum(w.tickets for w in weeks), abs=0.1)
    assert meta["hours_total"] == pytest.approx(sum(w.hours for w in weeks), abs=0.1)


def test_price_tools_match_the_pricing_service_and_a_raise_never_lowers_churn(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    report = serving.price_portfolio(trained.engine, trained.tenant_id, AS_OF, trained.data_dir)
    rec = report.recommendations[0]
    (row,) = rows_of(call(trained.ctx("finance"), "price_recommendation", client=rec.client_name))
    assert row["client"] == rec.client_name
    assert row["recommended_price"] == pytest.approx(rec.recommended_price, abs=0.01)
    assert row["expected_gain"] == pytest.approx(rec.expected_gain, abs=0.01)
    ranked = rows_of(call(trained.ctx(), "price_recommendation"))
    assert [r["client"] for r in ranked] == [r.client_name for r in report.recommendations]

    raised = rows_of(call(trained.ctx(), "price_what_if", client=rec.client_name, change_pct=20))
    expected = serving.price_what_if(
        trained.engine, trained.tenant_id, AS_OF, trained.data_dir, rec.client_id, 20.0
    )
    (w,) = raised
    assert w["new_price"] == pytest.approx(expected.new_price, abs=0.01)
    assert w["expected_profit_change"] == pytest.approx(expected.expected_profit_change, abs=0.01)
    assert w["churn_90d_new"] >= w["churn_90d_now"]  # the planted price response: never safer
    assert w["new_price"] > w["current_price"]


def test_budget_tool_is_the_plan_and_more_money_is_never_worth_less(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    small = call(trained.ctx(), "budget_plan", amount=0, hours=100).artifact["meta"]
    big = call(trained.ctx(), "budget_plan", amount=20_000, hours=100)
    plan = serving.budget_plan(
        trained.engine, trained.tenant_id, AS_OF, trained.data_dir, amount=20_000, hours=100
    )
    meta = big.artifact["meta"]
    assert meta["status"] == plan.status == "optimal"
    assert meta["expected_value"] == pytest.approx(plan.expected_value, abs=0.01)
    assert len(rows_of(big)) == len(plan.chosen)
    assert meta["hours_used"] <= 100 + sum(a.hours_supplied for a in plan.chosen) + 0.05  # 0.1 h
    assert meta["net_value"] >= small["net_value"] - 0.01


def test_an_untrained_tenant_is_refused_naming_the_training_command(
    make_ctx: Callable[..., ToolContext], call: Callable[..., ToolMessage]
) -> None:
    ctx = make_ctx("owner")  # the hand-made MSP: no model was ever trained for it
    for name, args in (
        ("churn_risk", {}),
        ("revenue_leaks", {}),
        ("demand_forecast", {}),
        ("price_recommendation", {}),
        ("price_what_if", {"client": "Contoso", "change_pct": 5}),
        ("budget_plan", {"amount": 1000}),
    ):
        message = call(ctx, name, **args)
        assert message.status == "error", name
        assert str(message.content).startswith("Refused:") and "mspilot train" in str(
            message.content
        ), (name, message.content)
    # margins need no model: they are computed from the data
    assert call(ctx, "client_margins", period="2026").status != "error"


def test_client_profile_carries_the_churn_risk_for_money_roles_only(
    trained: Trained, call: Callable[..., ToolMessage]
) -> None:
    risks = serving.churn_risks(trained.engine, trained.tenant_id, AS_OF, trained.data_dir)
    target = risks[0]

    def churn_rows(role: str) -> dict[str, Any]:
        message = call(trained.ctx(role), "client_profile", client=target.client_name)
        return {r["item"]: r["value"] for r in rows_of(message) if "churn" in r["section"]}

    owner = churn_rows("owner")
    assert owner["risk_90d"] == target.risk_90d
    assert owner["drivers"] == ("; ".join(d.text for d in target.drivers) or None)
    assert churn_rows("technician") == {}
