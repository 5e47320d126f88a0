"""``mspilot price`` / ``mspilot budget``: readable tables, JSON, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app

runner = CliRunner()


@pytest.fixture
def empty_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MSPILOT_DATABASE_URL", f"sqlite:///{tmp_path / 'none.db'}")
    context.settings.cache_clear()
    yield tmp_path
    context.settings.cache_clear()


def test_price_without_data_is_a_clear_error(empty_env: Path) -> None:
    result = runner.invoke(app, ["price"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "mspilot" in result.output  # tells what to run


def test_budget_needs_amount_and_hours(empty_env: Path) -> None:
    result = runner.invoke(app, ["budget", "--amount", "1000"])
    assert result.exit_code != 0
    assert "--hours" in result.output


def test_whatif_needs_client(empty_env: Path) -> None:
    result = runner.invoke(app, ["price", "--whatif", "10"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_price_and_budget_on_a_demo_tenant(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from mspilot.core.clock import Clock
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.models.training import train_all
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    as_of = dt.date(2026, 10, 31)
    ds = generate_tenant(DemoConfig(seed=5, n_clients=60, as_of=as_of), 0)
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        upsert_tenant(conn, ds.tenant.id, ds.tenant.name)
    Loader(engine, ds.tenant.id, "demo").load_all(ds.tables)
    train_all(engine, ds.tenant.id, tmp_path, Clock(as_of), kinds=["churn"], mlflow=False)
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MSPILOT_DATABASE_URL", url)
    monkeypatch.setenv("MSPILOT_TODAY", as_of.isoformat())
    context.settings.cache_clear()
    try:
        table = runner.invoke(app, ["price", "--top", "5"])
        assert table.exit_code == 0, table.output
        assert "under-priced" in table.output
        out = runner.invoke(app, ["price", "--json"])
        report = json.loads(out.output)
        assert report["recommendations"]
        name = report["recommendations"][0]["client_name"]
        whatif = runner.invoke(app, ["price", "--client", name, "--whatif", "10", "--json"])
        assert whatif.exit_code == 0, whatif.output
        assert "churn_90d_delta" in json.loads(whatif.output)
        plan = runner.invoke(app, ["budget", "--amount", "5000", "--hours", "40", "--json"])
        assert plan.exit_code == 0, plan.output
        body = json.loads(plan.output)
        assert body["status"] == "optimal" and body["constraints"]
        bad = runner.invoke(app, ["budget", "--amount", "0", "--hours", "0", "--must-do", "nope"])
        assert bad.exit_code != 0 and "unknown action" in bad.output
    finally:
        context.settings.cache_clear()
