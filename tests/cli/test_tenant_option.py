"""``--tenant`` follows one rule in every command (``cli/deps.py``): the named tenant, else the
only one loaded; several tenants unnamed, an unknown name, no tenant or no schema exit
non-zero with a message that says what to do, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import upsert_tenant

runner = CliRunner()

#: commands that work on one tenant, without ``--tenant``
COMMANDS = [
    ["price"],
    ["evaluate"],
    ["models", "list"],
    ["users", "list"],
    ["digest", "preview"],
    ["digest", "history"],
    ["kb", "search", "printer"],
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MSPILOT_DATABASE_URL", url)
    context.settings.cache_clear()
    yield url
    context.settings.cache_clear()


def _database(url: str, *tenants: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        for tid in tenants:
            upsert_tenant(conn, tid, f"MSP {tid}")
    engine.dispose()


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_several_tenants_must_be_named(env: str, command: list[str]) -> None:
    _database(env, "acme", "zenith")
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    assert "several tenants" in result.output and "--tenant" in result.output
    unknown = runner.invoke(app, [*command, "--tenant", "nope"])
    assert unknown.exit_code == 2 and "unknown tenant 'nope'" in unknown.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_no_tenant_or_no_schema_says_what_to_run(env: str, command: list[str]) -> None:
    bare = runner.invoke(app, command)
    assert bare.exit_code == 4 and "mspilot db upgrade" in bare.output, bare.output
    _database(env)
    empty = runner.invoke(app, command)
    assert empty.exit_code == 4 and "no tenant loaded" in empty.output, empty.output
