"""Helpers for the insights and Slack tests.

- ``planted_signals``: model outputs with known structure (risks, leak dollars, pricing gains,
  a capacity crunch) over given clients, so each test knows what a digest must contain.
- ``real_model_world``: a generated demo tenant with a *real* registered churn model (the
  product's ``fit_churn`` on the tenant's genome, labels planted on one feature so the model
  has something to learn), saved leak findings and a registered demand forecast with a planted
  crunch: the digest then goes through the product's own model-reading code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from mspilot.insights.signals import (
    CapacitySignal,
    CapacityWeek,
    ChurnSignal,
    LeakSignal,
    PricingSignal,
    Signals,
)
from mspilot.models.explain import ChurnDriver

AS_OF = dt.date(2026, 10, 31)


def planted_signals(
    clients: Sequence[tuple[str, str]],
    *,
    risks: Sequence[float] = (0.55, 0.20, 0.12, 0.04, 0.02),
    leak_dollars: Sequence[float] = (6400.0, 900.0, 120.0),
    pricing_gains: Sequence[float] = (2500.0, 300.0),
    crunch_hours: float = 40.0,
    as_of: dt.date = AS_OF,
) -> Signals:
    """Signals over ``clients`` ((id, name), …): client i gets ``risks[i]``, leak i is at client
    i, pricing i at client i; a crunch of ``crunch_hours`` over weeks 1–2 ahead (0 = none)."""
    churn = [
        ChurnSignal(
            cid,
            name,
            risks[i] if i < len(risks) else 0.01,
            3000.0 + 100 * i,
            [
                ChurnDriver(group="sla", text=f"driver {i}a", contribution=0.6),
                ChurnDriver(group="csat", text=f"driver {i}b", contribution=0.3),
            ],
        )
        for i, (cid, name) in enumerate(clients)
    ]
    leaks = [
        LeakSignal(
            type="unbilled_time",
            client_id=clients[i][0],
            client_external_id=f"ext-{i}",
            client_name=clients[i][1],
            period_start=dt.date(2026, 8, 1),
            period_end=dt.date(2026, 8, 31),
            dollars=dollars,
            evidence=[f"te-{i}-{j}" for j in range(3)],
            detail=f"{dollars / 150:g} h billable time never invoiced",
        )
        for i, dollars in enumerate(leak_dollars)
    ]
    pricing = [
        PricingSignal(
            clients[i][0],
            clients[i][1],
            f"k{i}",
            "user",
            20.0,
            100.0,
            105.0,
            5.0,
            dt.date(2027, 1, 1),
            gain,
            0.02,
            0.03,
            ["reason one", "reason two"],
        )
        for i, gain in enumerate(pricing_gains)
    ]
    capacity = 300.0
    weeks = []
    for w in range(8):
        hours = capacity + crunch_hours / 2 if crunch_hours and w in (1, 2) else capacity - 20
        weeks.append(CapacityWeek(as_of + dt.timedelta(days=2 + 7 * w), hours, None, None))
    return Signals(
        as_of=as_of,
        churn=churn,
        leaks=leaks,
        pricing=pricing,
        capacity=CapacitySignal(capacity_hours=capacity, loaded_cost=60.0, weeks=weeks),
    )


def tenant_with_clients(
    engine: Engine, tenant_id: str = "acme", n: int = 6
) -> list[tuple[str, str]]:
    """A tenant row and ``n`` (id, name) pairs (planted signals need no client rows)."""
    from mspilot.db.loader import upsert_tenant

    with engine.begin() as conn:
        upsert_tenant(conn, tenant_id, "Acme IT")
    return [(f"{tenant_id}.c{i}", f"Client {chr(65 + i)}") for i in range(n)]


@dataclass
class ModelWorld:
    engine: Engine
    url: str
    data_dir: Path
    tenant_id: str
    risky: list[str]  # clients whose planted label the churn model learned


def real_model_world(root: Path, n_clients: int = 30) -> ModelWorld:
    """A demo tenant with registered churn and forecast models and saved leak findings."""
    import numpy as np

    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.db.schema import Client
    from mspilot.models.churn import CHURN_FEATURES, MONOTONE_UP, fit_churn
    from mspilot.models.features import build_features
    from mspilot.models.forecast import DemandForecast
    from mspilot.models.leaks import LeakFinding, save_findings
    from mspilot.models.registry import Registry
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    url = f"sqlite:///{root / 'world.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    ds = generate_tenant(DemoConfig(seed=3, n_clients=n_clients, years=2, as_of=AS_OF), 0)
    tid = ds.tenant.id
    with engine.begin() as conn:
        upsert_tenant(conn, tid, ds.tenant.name)
    Loader(engine, tid, "demo").load_all(ds.tables)

    # churn: the product's model class fitted on this tenant's genome; the label is planted on
    # the third of clients with the most SLA breaches, a driver the model reads and may only
    # raise risk with (eight noisy copies give XGBoost rows to split)
    genome = build_features(engine, tid, AS_OF)
    column = "sla_breach_6m"
    assert column in CHURN_FEATURES and column in MONOTONE_UP and genome[column].nunique() > 3
    cut = genome[column].quantile(2 / 3)
    risky = sorted(str(c) for c in genome.index[genome[column] > cut])
    frames, labels = [], []
    rng = np.random.default_rng(0)
    for k in range(8):
        copy = genome.copy()
        numeric = copy.select_dtypes("number").columns
        copy[numeric] = copy[numeric] * (1 + rng.normal(0, 0.01, size=(len(copy), len(numeric))))
        copy.index = pd.MultiIndex.from_product(
            [[pd.Timestamp(AS_OF) - pd.DateOffset(months=k)], copy.index],
            names=["snapshot", "client_id"],
        )
        frames.append(copy)
        labels.append(pd.Series((genome[column] > cut).astype(float).to_numpy(), index=copy.index))
    model = fit_churn(pd.concat(frames), pd.concat(labels))
    registry = Registry(root, tid, mlflow=False)
    registry.register("churn", model, metrics={"auc": 0.9, "brier": 0.1})

    # leaks: findings as `mspilot train` saves them
    with engine.connect() as conn:
        clients = conn.execute(
            select(Client.id, Client.external_id, Client.name)
            .where(Client.tenant_id == tid)
            .order_by(Client.id)
        ).all()
    findings = [
        LeakFinding(
            "unbilled_time",
            str(c[0]),
            str(c[1]),
            str(c[2]),
            dt.date(2026, 8, 1),
            dt.date(2026, 8, 31),
            d,
            [f"te-{i}"],
            f"{d / 150:g} h never invoiced",
        )
        for i, (c, d) in enumerate(zip(clients[:3], (5200.0, 780.0, 90.0), strict=True))
    ]
    save_findings(findings, root, tid, AS_OF)

    # forecast: 13 weeks ahead; weeks 3-4 beyond capacity
    weeks = pd.date_range(pd.Timestamp(AS_OF) + pd.Timedelta(days=2), periods=13, freq="7D")
    hours = np.full(13, 250.0)
    hours[3:5] = 330.0
    total = pd.DataFrame({"week": weeks, "tickets": 100.0, "hours": hours})
    total["technicians_needed"] = total["hours"] / 30.0
    forecast = DemandForecast(AS_OF, total, pd.DataFrame(), capacity_hours=300.0)
    registry.register("forecast", forecast, metrics={"mase": 0.8})
    return ModelWorld(engine, url, root, tid, risky)
