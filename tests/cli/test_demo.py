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
    args = ["demo", "run", "--clients", "6", "--tenants", "2", "--years", "1", "--no-train"]
    result = runner.invoke(app, [*args, "--json"])
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


def test_run_is_the_main_job_trains_indexes_and_pins_the_clock(data_dir: Path) -> None:
    """``demo run`` (what ``make demo`` calls) ends with trained models, an indexed knowledge
    base, this week's digest and the product clock pinned to the data's as-of date."""
    # 50 clients: a 2-year world needs a handful of churns in its training window
    args = ["demo", "run", "--clients", "50", "--years", "2", "--as-of", "2026-06-30"]
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert (data_dir / "today").read_text().strip() == "2026-06-30"
    context.settings.cache_clear()
    assert context.settings().today is not None
    assert context.settings().today.isoformat() == "2026-06-30"
    trained = out["train"]["demo"]
    assert "churn" in trained["versions"]
    assert out["knowledge"]["documents"]["added"] > 0
    assert out["knowledge"]["demo"]["added"] > 0  # ticket resolutions
    assert out["digest"]["items"], "the demo's digest has something to say"


def test_run_rejects_an_unknown_load_path(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "run", "--via", "ftp"])
    assert result.exit_code == 2
    assert "--via" in result.output
