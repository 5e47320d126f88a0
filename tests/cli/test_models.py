"""``mspilot train / evaluate / models`` end to end on the session's demo MSP."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app
from mspilot.synthetic import truth as truth_files

runner = CliRunner()


@pytest.fixture
def cli_env(demo_world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    data = tmp_path / "var"
    shutil.copytree(demo_world.data_dir, data)
    truth_files.write(demo_world.truth, data / "ground_truth")
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(data))
    monkeypatch.setenv("MSPILOT_DATABASE_URL", demo_world.url)
    monkeypatch.setenv("MSPILOT_TODAY", demo_world.as_of.isoformat())
    context.settings.cache_clear()
    yield data
    context.settings.cache_clear()


def test_evaluate_json(cli_env: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    rows = {(r["model"], r["metric"]): r for r in payload["rows"]}
    auc = rows[("churn (XGBoost)", "AUC, last test window")]
    assert auc["oracle"] is not None and 0.5 < auc["oracle"] <= 1.0
    assert auc["baseline"] is not None
    leak_rows = [r for (m, _), r in rows.items() if m.startswith("leaks:")]
    assert len(leak_rows) == 6 and all(r["passed"] for r in leak_rows)
    tickets = rows[("forecast: weekly tickets", "MASE (holdout)")]
    assert tickets["passed"] and tickets["value"] < tickets["baseline"]


def test_train_then_list_and_rollback(cli_env: Path) -> None:
    result = runner.invoke(app, ["train", "--model", "churn", "--no-mlflow", "--json"])
    assert result.exit_code == 0, result.output
    trained = json.loads(result.output)
    assert trained["versions"]["churn"]["version"] == 2
    listed = json.loads(runner.invoke(app, ["models", "list", "--kind", "churn", "--json"]).output)
    assert [v["version"] for v in listed] == [1, 2]
    champion = [v for v in listed if v["status"] == "champion"]
    assert len(champion) == 1
    back = runner.invoke(app, ["models", "rollback", "churn", "--json"])
    if champion[0]["version"] == 2:
        assert back.exit_code == 0 and json.loads(back.output)["version"] == 1
    else:  # v2 stayed challenger: nothing to roll back to
        assert back.exit_code == 2
    promoted = runner.invoke(app, ["models", "promote", "churn", "2", "--json"])
    assert json.loads(promoted.output)["status"] == "champion"


def test_bad_input_is_a_message_not_a_traceback(cli_env: Path) -> None:
    result = runner.invoke(app, ["train", "--model", "nonsense"])
    assert result.exit_code == 2
    assert "unknown model" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["models", "promote", "churn", "99"])
    assert result.exit_code == 2 and "no churn model version 99" in result.output
    result = runner.invoke(app, ["evaluate", "--tenant", "nobody"])
    assert result.exit_code == 2 and "unknown tenant" in result.output


def test_drift_command(cli_env: Path) -> None:
    result = runner.invoke(app, ["models", "drift", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["features"]
    assert rows and all(r["psi"] >= 0 for r in rows)
    assert rows == sorted(rows, key=lambda r: -r["psi"])
