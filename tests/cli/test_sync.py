"""``mspilot sync`` / ``mspilot sources`` as a user runs them: settings from the environment,
a summary (or JSON), clear messages and exit codes on bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mspilot.cli.context import settings
from mspilot.cli.main import app
from mspilot.connectors.csv_source import export_tables


@pytest.fixture
def cli_env(
    sqlite_url: str, sqlite_engine: Any, vendors: Any, dataset: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    for key in [k for k in os.environ if k.startswith("MSPILOT_")]:
        monkeypatch.delenv(key)
    env = vendors.env() | {
        "MSPILOT_DATABASE_URL": sqlite_url,
        "MSPILOT_TODAY": dataset.as_of.isoformat(),
        "MSPILOT_SECRET_KEY": "cli-test-secret-key-0123456789",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings.cache_clear()
    yield CliRunner()
    settings.cache_clear()


def test_sync_json_summary_then_incremental(cli_env: CliRunner, dataset: Any) -> None:
    first = cli_env.invoke(app, ["sync", "--source", "superops", "--tenant", "sample", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    tickets = next(s for s in summary["streams"] if s["stream"] == "tickets")
    assert tickets["inserted"] == len(dataset.tables["tickets"])
    assert summary["totals"]["inserted"] > 0 and summary["requests"] > 0
    qbo = cli_env.invoke(app, ["sync", "--source", "quickbooks", "--tenant", "sample"])
    assert qbo.exit_code == 0, qbo.output
    assert "quickbooks → tenant sample" in qbo.output and "invoices" in qbo.output
    again = cli_env.invoke(app, ["sync", "--source", "superops", "--tenant", "sample", "--json"])
    assert json.loads(again.stdout)["totals"]["inserted"] == 0
    review = cli_env.invoke(app, ["sources", "review", "--tenant", "sample"])
    assert review.exit_code == 0 and "nothing to review" in review.output


def test_bad_input_gives_a_message_and_an_exit_code(cli_env: CliRunner, tmp_path: Path) -> None:
    unknown = cli_env.invoke(app, ["sync", "--source", "hubspot"])
    assert unknown.exit_code == 2 and "unknown source" in unknown.output
    no_path = cli_env.invoke(app, ["sync", "--source", "csv"])
    assert no_path.exit_code == 2 and "--path is required" in no_path.output
    (tmp_path / "clients.csv").write_text("external_id,name,seats,status\nc1,A,many,active\n")
    bad_csv = cli_env.invoke(app, ["sync", "--source", "csv", "--path", str(tmp_path)])
    assert bad_csv.exit_code == 2
    assert "clients.csv: row 2, column seats" in bad_csv.output
    assert "Traceback" not in bad_csv.output


def test_wrong_token_exits_with_advice(cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSPILOT_SUPEROPS__API_TOKEN", "expired")
    settings.cache_clear()
    result = cli_env.invoke(app, ["sync", "--source", "superops"])
    assert result.exit_code == 3
    assert "MSPILOT_SUPEROPS__API_TOKEN" in result.output and "expired" not in result.output


def test_csv_sync_and_templates(cli_env: CliRunner, dataset: Any, tmp_path: Path) -> None:
    export_tables(tmp_path / "data", dataset.tables)
    ok = cli_env.invoke(
        app,
        [
            "sync",
            "--source",
            "csv",
            "--path",
            str(tmp_path / "data"),
            "--tenant",
            "sample",
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["totals"]["inserted"] == sum(
        len(v) for v in dataset.tables.values()
    )
    made = cli_env.invoke(app, ["sources", "csv-template", "--path", str(tmp_path / "t")])
    assert made.exit_code == 0 and "README.md" in made.output


def test_superops_token_can_live_encrypted_in_the_database(
    cli_env: CliRunner, vendors: Any, sqlite_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    token = vendors.superops.token
    monkeypatch.delenv("MSPILOT_SUPEROPS__API_TOKEN")
    settings.cache_clear()
    missing = cli_env.invoke(app, ["sync", "--source", "superops", "--tenant", "sample"])
    assert missing.exit_code == 3 and "MSPILOT_SUPEROPS__API_TOKEN" in missing.output
    stored = cli_env.invoke(
        app,
        ["sources", "set-secret", "--source", "superops", "--tenant", "sample"],
        input=token + "\n",
    )
    assert stored.exit_code == 0, stored.output
    assert token not in stored.output
    with sqlite_engine.connect() as conn:
        blob = conn.execute(text("SELECT ciphertext FROM source_credentials")).scalar_one()
    assert token not in blob
    synced = cli_env.invoke(app, ["sync", "--source", "superops", "--tenant", "sample", "--json"])
    assert synced.exit_code == 0, synced.output
