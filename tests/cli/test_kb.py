"""``mspilot kb index/search``: incremental re-index, JSON output, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mspilot.cli import context
from mspilot.cli.main import app
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.tools.knowledge import document_chunks


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("MSPILOT_DATABASE_URL", raising=False)
    context.settings.cache_clear()
    engine = make_engine(f"sqlite:///{tmp_path / 'mspilot.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        upsert_tenant(conn, "acme", "Acme IT")
    Loader(engine, "acme", "demo").load_all(
        {
            "clients": [{"external_id": "c1", "name": "Contoso", "seats": 5, "status": "active"}],
            "tickets": [
                {
                    "external_id": "t1",
                    "client_id": "c1",
                    "opened_at": "2026-07-01T09:00:00+00:00",
                    "priority": "p2",
                    "category": "Email",
                    "status": "resolved",
                    "sla_breached": False,
                    "subject": "Shared mailbox not syncing",
                    "resolution": "Re-created the Outlook profile and cleared the OST cache.",
                }
            ],
        }
    )
    engine.dispose()
    yield tmp_path
    context.settings.cache_clear()


def test_index_then_reindex_changes_nothing(data_dir: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["kb", "index", "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["documents"]["added"] == len(document_chunks())
    assert out["tickets"] == {"acme": {"added": 1, "updated": 0, "unchanged": 0, "deleted": 0}}
    again = json.loads(runner.invoke(app, ["kb", "index", "--json"]).stdout)
    assert again["documents"]["added"] == 0 and again["tickets"]["acme"]["unchanged"] == 1
    found = runner.invoke(
        app, ["kb", "search", "outlook profile", "--tenant", "acme", "--json", "--k", "1"]
    )
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)[0]["source"].startswith("ticket t1")


def test_unknown_tenant_and_role_are_clear_errors(data_dir: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["kb", "index", "--tenant", "nope"])
    assert bad.exit_code == 2 and "unknown tenant 'nope'" in bad.output
    role = runner.invoke(app, ["kb", "search", "x", "--tenant", "acme", "--role", "boss"])
    assert role.exit_code != 0 and "unknown role" in role.output
