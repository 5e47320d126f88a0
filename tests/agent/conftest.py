"""Shared by the agent tests: a small generated demo MSP with the models its tools read
trained (built once per session: the golden eval and the model-tool loop tests share it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mspilot.agent.golden.env import GoldenEnv


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from mspilot.core.clock import Clock
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.models.training import train_all
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant
    from mspilot.tools.context import ToolContext

    root: Path = tmp_path_factory.mktemp("golden")
    engine = make_engine(f"sqlite:///{root / 'demo.db'}")
    migrate.upgrade(engine)
    config = DemoConfig(n_clients=30, years=2, as_of=dt.date(2026, 10, 31))
    ds = generate_tenant(config, 0)
    with engine.begin() as conn:
        upsert_tenant(conn, ds.tenant.id, ds.tenant.name)
    Loader(engine, ds.tenant.id, "demo").load_all(ds.tables)
    # the models' tools answer from trained models: churn (also pricing and the budget's
    # retention plays), leak findings and the forecast; profitability and anomalies are unused
    train_all(engine, ds.tenant.id, root, Clock(config.as_of), mlflow=False,
              kinds=["churn", "leaks", "forecast"])  # fmt: skip
    ctx = ToolContext(engine=engine, tenant_id=ds.tenant.id, today=config.as_of, data_dir=root)
    yield ctx, GoldenEnv.load(engine, ds.tenant.id, config.as_of, data_dir=root)
    engine.dispose()
