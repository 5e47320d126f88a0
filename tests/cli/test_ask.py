"""``mspilot ask`` / ``eval`` on a small demo database, and clear errors for bad input."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine
    from mspilot.db.loader import Loader, upsert_tenant
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    root: Path = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{root / 'demo.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    ds = generate_tenant(DemoConfig(n_clients=12, years=1, as_of=dt.date(2026, 10, 31)), 0)
    with engine.begin() as conn:
        upsert_tenant(conn, ds.tenant.id, ds.tenant.name)
    Loader(engine, ds.tenant.id, "demo").load_all(ds.tables)
    engine.dispose()
    return {
        "MSPILOT_DATA_DIR": str(root),
        "MSPILOT_DATABASE_URL": url,
        "MSPILOT_TODAY": "2026-10-31",
    }


def run(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    context.settings.cache_clear()
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_ask_json_has_answer_tool_calls_and_artifacts(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(
        demo_env, monkeypatch, "ask", "How many tickets did we get last month?", "--json"
    )
    assert code == 0, out
    payload = json.loads(out)
    assert payload["mode"] == "router" and payload["tool_calls"][0]["name"] == "query_metrics"
    value = payload["artifacts"][0]["rows"][0][-1]
    assert f"{value:,}" in payload["answer"]
    assert payload["citations"][0]["period"] == "September 2026"


def test_ask_streams_text(demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = run(demo_env, monkeypatch, "ask", "What is our MRR?")
    assert code == 0 and "MRR" in out and "Source: query_metrics" in out


def test_bad_input_is_a_clear_message(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(demo_env, monkeypatch, "ask", "   ")
    assert code == 2 and "needs a question" in out and "Traceback" not in out
    code, out = run(demo_env, monkeypatch, "ask", "hi", "--provider", "gpt-9")
    assert code == 2 and "--provider must be one of" in out
    code, out = run(demo_env, monkeypatch, "ask", "hi", "--provider", "openai-compatible")
    assert code == 3 and "BASE_URL" in out


def test_eval_json_reports_accuracy_and_latency(
    demo_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out = run(demo_env, monkeypatch, "eval", "--only", "tickets", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["provider"] == "none" and report["scored"] >= 3
    assert report["accuracy"] >= 0.9 and report["p50_ms"] > 0
