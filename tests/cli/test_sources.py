"""``mspilot sources check | map | rotate-key`` and the local secret key, as a user runs them."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mspilot.cli.context import settings
from mspilot.cli.main import app
from mspilot.cli.sync import EXIT_WARNINGS


@pytest.fixture
def cli(
    sqlite_url: str,
    sqlite_engine: Any,
    vendors: Any,
    dataset: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CliRunner]:
    for key in [k for k in os.environ if k.startswith("MSPILOT_")]:
        monkeypatch.delenv(key)
    env = vendors.env() | {
        "MSPILOT_DATABASE_URL": sqlite_url,
        "MSPILOT_TODAY": dataset.as_of.isoformat(),
        "MSPILOT_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings.cache_clear()
    yield CliRunner()
    settings.cache_clear()


def _run(cli: CliRunner, *args: str, input: str | None = None) -> Any:
    return cli.invoke(app, list(args), input=input)


def test_check_reports_every_stream_and_the_custom_field_layout(cli: CliRunner) -> None:
    result = _run(cli, "sources", "check", "--source", "superops", "--tenant", "sample", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "ok" and report["credentials"] == "ok"
    streams = {(s["stream"], s["partition"]): s["status"] for s in report["streams"]}
    assert streams[("clients", "")] == "ok" and streams[("assets", "unmonitored")] == "ok"
    held = {(f["entity"], f["maps_to"]) for f in report["custom_fields"]}
    assert ("client", "churned_on") in held and ("ticket", "csat") in held
    assert report["rate_limit"]["configured_per_minute"] > 0
    table = _run(cli, "sources", "check", "--source", "quickbooks", "--tenant", "sample")
    assert table.exit_code == 0, table.output
    assert "customers" in table.output and "clock skew" in table.output


def test_check_warns_about_a_forbidden_list_with_its_own_exit_code(
    cli: CliRunner, vendors: Any
) -> None:
    vendors.superops.forbidden.add("getUnMonitoredAssetList")
    result = _run(cli, "sources", "check", "--source", "superops", "--tenant", "sample")
    assert result.exit_code == EXIT_WARNINGS, result.output
    assert "forbidden" in result.output
    synced = _run(cli, "sync", "--source", "superops", "--tenant", "sample")
    assert synced.exit_code == EXIT_WARNINGS, synced.output
    assert "completed with warnings" in synced.output and "skipped assets" in synced.output
    vendors.superops.forbidden.add("getClientList")
    failed = _run(cli, "sync", "--source", "superops", "--tenant", "sample")
    assert failed.exit_code == 3 and "clients" in failed.output


def test_a_manual_field_map_wins_over_discovery(cli: CliRunner) -> None:
    _run(cli, "sources", "check", "--source", "superops", "--tenant", "sample")
    shown = json.loads(_run(cli, "sources", "map", "--tenant", "sample", "--json").stdout)
    churn = next(m for m in shown if m["fact"] == "churned_on")
    assert (churn["column"], churn["origin"]) == ("udf4date", "discovered")
    _run(cli, "sources", "map", "--tenant", "sample", "--set", "client.churned_on=")
    _run(cli, "sources", "check", "--source", "superops", "--tenant", "sample")  # discovers again
    shown = json.loads(_run(cli, "sources", "map", "--tenant", "sample", "--json").stdout)
    churn = next(m for m in shown if m["fact"] == "churned_on")
    assert (churn["column"], churn["origin"]) == (None, "manual")
    bad = _run(cli, "sources", "map", "--tenant", "sample", "--set", "client.colour=udf1text")
    assert bad.exit_code == 2 and "client.churned_on" in bad.output


def test_a_local_key_is_created_private_and_rotation_keeps_secrets_readable(
    cli: CliRunner, vendors: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MSPILOT_SUPEROPS__API_TOKEN")
    settings.cache_clear()
    key_file = tmp_path / "data" / "secret.key"
    stored = _run(
        cli,
        *("sources", "set-secret", "--source", "superops", "--tenant", "sample"),
        input=vendors.superops.token + "\n",
    )
    assert stored.exit_code == 0, stored.output
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_key = key_file.read_text()
    rotated = _run(cli, "sources", "rotate-key")
    assert rotated.exit_code == 0 and "re-encrypted 1 stored secrets" in rotated.output
    assert key_file.read_text() != first_key and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    synced = _run(cli, "sync", "--source", "superops", "--tenant", "sample", "--json")
    assert synced.exit_code == 0, synced.output  # the token decrypts under the new key
