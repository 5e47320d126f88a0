"""Prediction endpoints serve the registered models faithfully: churn risks are the champion's
own probabilities for the genome as of the product date, ranked; leaks are the saved findings;
the lifespan loads the models and /readyz reports them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mspilot.api.app import create_app
from support.api_world import AS_OF, World, auth, make_agent, make_ctx, settings_for


@pytest.fixture(scope="module")
def trained(world: World) -> Any:
    from mspilot.models.churn import fit_churn
    from mspilot.models.features import build_training_table
    from mspilot.models.registry import Registry

    table = build_training_table(world.engine, world.tenant_id, AS_OF)
    rows = table.labelled
    model = fit_churn(table.genome.loc[rows], table.labels.loc[rows])
    Registry(world.data_dir, world.tenant_id, mlflow=False).register(
        "churn", model, metrics={"auc": 0.5}
    )
    return model


@pytest.fixture(scope="module")
def served(world: World, trained: Any) -> Iterator[TestClient]:
    app = create_app(  # warm: the lifespan loads every tenant's champion models
        settings_for(world), engine=world.engine, agent=make_agent(), context_factory=make_ctx
    )
    with TestClient(app) as tc:
        yield tc


def test_readyz_reports_the_loaded_models(served: TestClient, world: World) -> None:
    models = served.get("/readyz").json()["checks"]["models"]
    assert models["ok"] and models["failed"] == 0
    assert models["tenants"] == 2 and models["loaded"] >= 1  # this tenant's churn champion
    assert world.tenant_id not in served.get("/readyz").text  # unauthenticated: no tenant ids


def test_churn_serves_the_champions_probabilities_ranked(
    served: TestClient, world: World, trained: Any
) -> None:
    from mspilot.models.features import build_features

    body = served.get("/v1/churn?limit=500", headers=auth(world, "finance")).json()
    features = build_features(world.engine, world.tenant_id, AS_OF)
    expected = dict(zip(features.index, trained.predict_proba(features), strict=True))
    got = {i["client_id"]: i["risk_90d"] for i in body["items"]}
    assert got == pytest.approx({str(k): float(v) for k, v in expected.items()}, abs=1e-4)
    risks = [i["risk_90d"] for i in body["items"]]
    assert risks == sorted(risks, reverse=True) and body["total"] == len(expected)
    assert all(d["text"] for i in body["items"] for d in i["drivers"])
    assert body["as_of"] == AS_OF.isoformat()


def test_churn_filters_and_pages(served: TestClient, world: World) -> None:
    h = auth(world, "owner")
    everything = served.get("/v1/churn?limit=500", headers=h).json()["items"]
    threshold = everything[len(everything) // 2]["risk_90d"]
    high = served.get(f"/v1/churn?min_risk={threshold}&limit=500", headers=h).json()
    assert all(i["risk_90d"] >= threshold for i in high["items"])
    assert high["total"] == sum(i["risk_90d"] >= threshold for i in everything)
    page = served.get("/v1/churn?limit=3&offset=3", headers=h).json()["items"]
    assert [i["client_id"] for i in page] == [i["client_id"] for i in everything[3:6]]


def test_leaks_serve_the_saved_findings(served: TestClient, world: World) -> None:
    from mspilot.models.leaks import find_leaks, save_findings
    from mspilot.models.training import load_tenant

    findings = find_leaks(
        world.engine, world.tenant_id, AS_OF, load_tenant(world.engine, world.tenant_id, AS_OF)
    )
    save_findings(findings, world.data_dir, world.tenant_id, AS_OF)
    body = served.get("/v1/leaks?limit=500", headers=auth(world, "owner")).json()
    assert body["total"] == len(findings)
    assert body["total_dollars"] == pytest.approx(sum(f.dollars for f in findings), abs=0.05)
    if findings:
        kind = findings[0].type
        only = served.get(f"/v1/leaks?type={kind}", headers=auth(world, "owner")).json()
        assert {i["type"] for i in only["items"]} == {kind}


def test_forecast_serves_the_registered_forecast(served: TestClient, world: World) -> None:
    import datetime as dt

    import pandas as pd

    from mspilot.models.forecast import DemandForecast
    from mspilot.models.registry import Registry

    weeks = pd.date_range("2026-11-02", periods=4, freq="7D")
    total = pd.DataFrame(
        {
            "week": weeks,
            "tickets": [40.0, 42.5, 39.0, 55.0],
            "tickets_lo": [30.0, 31.0, 29.0, 40.0],
            "tickets_hi": [50.0, 52.0, 49.0, 70.0],
            "hours": [120.0, 130.0, 118.0, 160.0],
            "hours_lo": [100.0, 105.0, 99.0, 130.0],
            "hours_hi": [140.0, 150.0, 139.0, 190.0],
        }
    )
    total["technicians_needed"] = total["hours"] / 30.0
    own = world.clients[0]
    per_client = pd.DataFrame(
        {"week": weeks, "client_id": own, "tickets": 4.0, "hours": 12.0, "method": "prophet"}
    )
    forecast = DemandForecast(
        as_of=AS_OF,
        total=total,
        per_client=per_client,
        capacity_hours=150.0,
        backtest={"mase": 0.8},
    )
    Registry(world.data_dir, world.tenant_id, mlflow=False).register(
        "forecast", forecast, metrics={"mase": 0.8}
    )
    body = served.get("/v1/forecast", headers=auth(world, "technician")).json()
    assert [w["week"] for w in body["weeks"]] == [d.date().isoformat() for d in weeks]
    assert [w["hours"] for w in body["weeks"]] == total["hours"].tolist()
    assert body["weeks"][3]["technicians_needed"] == pytest.approx(160 / 30)
    assert body["capacity_hours"] == 150.0 and body["backtest"] == {"mase": 0.8}
    one = served.get(f"/v1/forecast?client_id={own}", headers=auth(world, "owner")).json()
    assert one["client_id"] == own and {w["tickets"] for w in one["weeks"]} == {4.0}
    missing = served.get("/v1/forecast?client_id=nobody", headers=auth(world, "owner"))
    assert missing.status_code == 409
    assert served.get("/v1/forecast", headers=auth(world, "client_user")).status_code == 403
    assert dt.date.fromisoformat(body["as_of"]) == AS_OF


def test_recommended_budget_is_the_data_built_plan_within_its_limits(
    served: TestClient, world: World
) -> None:
    from mspilot.models.serving import budget_plan

    h = auth(world, "finance")
    small = served.get("/v1/budget/recommended?amount=2000&hours=20", headers=h)
    assert small.status_code == 200, small.text
    plan = small.json()
    assert plan["status"] == "optimal" and plan["n_candidates"] > 0
    assert plan["total_cost"] <= 2000 + 1e-6  # (sums of floats: a plan may sit at a limit)
    assert plan["hours_used"] <= 20 + plan["hours_supplied"] + 1e-6
    direct = budget_plan(
        world.engine, world.tenant_id, AS_OF, world.data_dir, amount=2000, hours=20
    )
    assert plan["net_value"] == pytest.approx(direct.net_value, rel=1e-6)
    assert {a["id"] for a in plan["chosen"]} == {a.id for a in direct.chosen}
    big = served.get("/v1/budget/recommended?amount=50000&hours=400", headers=h).json()
    assert big["net_value"] >= plan["net_value"] - 1e-6  # more money and hours never hurt
    bad = served.get("/v1/budget/recommended?amount=-5", headers=h)
    assert bad.status_code == 422
