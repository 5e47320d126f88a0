"""``mspilot demo generate/load/run``: files, ground truth, load summary, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app
from mspilot.synthetic import store, truth


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MSPILOT_DATABASE_URL", raising=False)
    context.settings.cache_clear()
    yield tmp_path
    context.settings.cache_clear()


def test_run_generates_writes_truth_and_loads(data_dir: Path) -> None:
    runner = CliRunner()
    args = ["demo", "run", "--clients", "6", "--tenants", "2", "--years", "1", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out["generate"]["tenants"]) == ["demo", "demo2"]
    for tenant_id, info in out["load"]["tenants"].items():
        assert info["data_quality_issues"] == 0
        rows = out["generate"]["tenants"][tenant_id]["rows"]
        assert {t: r["inserted"] for t, r in info["tables"].items()} == rows
        assert truth.read(data_dir / "ground_truth", tenant_id).tenant_id == tenant_id
    assert store.read_index(data_dir / "demo")["tenants"] == ["demo", "demo2"]

    # regenerating with fewer tenants drops the stale one; loading again changes nothing
    args = ["demo", "generate", "--clients", "6", "--tenants", "1", "--years", "1", "--json"]
    assert runner.invoke(app, args).exit_code == 0
    assert not (data_dir / "demo" / "demo2").exists()
    assert not (data_dir / "ground_truth" / "demo2").exists()
    result = runner.invoke(app, ["demo", "load", "--json"])
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)["tenants"]["demo"]["tables"]
    assert all(r["unchanged"] == r["received"] for r in tables.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "2026-02-30"], "real date"),
        (["--clients", "0"], "clients"),
        (["--tenants", "21"], "tenants"),
    ],
)
def test_bad_arguments_give_a_clear_error(data_dir: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["demo", "generate", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_load_without_a_generated_demo_says_what_to_do(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "load"])
    assert result.exit_code != 0
    assert "mspilot demo generate" in " ".join(result.output.split())
