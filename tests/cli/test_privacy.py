"""``mspilot privacy`` end to end on SQLite and PostgreSQL: the zip holds that client's rows and
conversations only, erase asks first and removes the conversations mentioning it, retention
deletes only the conversations and audit events older than the periods (stored per tenant)."""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver, empty_checkpoint
from sqlalchemy import insert, select
from typer.testing import CliRunner

from mspilot.agent.memory import close_checkpointer, make_checkpointer
from mspilot.agent.privacy import conversations
from mspilot.cli import context
from mspilot.cli.main import app
from mspilot.db.engine import make_engine
from mspilot.db.privacy import find_client, get_retention
from mspilot.db.schema_api import AuditEvent
from support.privacy_world import audit_row, expected_ids, load_world, table_counts

runner = CliRunner()
TODAY = dt.datetime.now(dt.UTC)


def _chat(saver: BaseCheckpointSaver[Any], thread_id: str, text: str, age_days: int) -> None:
    cp = empty_checkpoint()
    cp["ts"] = (TODAY - dt.timedelta(days=age_days)).isoformat()
    cp["channel_values"] = {"messages": [HumanMessage(text), AIMessage("Here is what I found.")]}
    cp["channel_versions"] = {"messages": "1"}
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    saver.put(config, cp, {"source": "input", "step": 0, "parents": {}}, {"messages": "1"})  # type: ignore[arg-type]


@pytest.fixture
def world(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("MSPILOT_DATABASE_URL", db_url)
    monkeypatch.setenv("MSPILOT_DATA_DIR", str(tmp_path))
    context.settings.cache_clear()
    engine = make_engine(db_url)
    worlds = load_world(engine)
    yield engine, worlds, tmp_path
    engine.dispose()
    context.settings.cache_clear()


def _threads(db_url: str, data_dir: Path, tenant: str) -> set[str]:
    saver = make_checkpointer(db_url, data_dir)
    try:
        return {c.thread_id for c in conversations(saver, tenant)}
    finally:
        close_checkpointer(saver)


def test_export_then_erase_a_client_from_the_cli(world: Any, db_url: str) -> None:
    engine, worlds, data_dir = world
    tenant = worlds[0].tenant.id
    target, other = worlds[0].tables["clients"][0], worlds[0].tables["clients"][1]
    ref = find_client(engine, target["external_id"], tenant)
    saver = make_checkpointer(db_url, data_dir)
    try:
        _chat(saver, f"{tenant}:-:a", f"How profitable is {target['name'].upper()}?", 1)
        _chat(saver, f"{tenant}:{ref.client_id}:b", "show my open tickets", 1)  # its own user
        _chat(saver, f"{tenant}:-:c", f"How profitable is {other['name']}?", 1)
    finally:
        close_checkpointer(saver)

    out = data_dir / "export" / "client.zip"
    args = ["privacy", "export", "--client", target["name"], "--tenant", tenant, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        tickets = json.loads(zf.read("tickets.json"))
        chat = json.loads(zf.read("chat_turns.json"))
        assert zf.read("tickets.csv").decode().count("\n") == len(tickets) + 1
    wanted = expected_ids(worlds[0], target["external_id"])
    assert {t["id"] for t in tickets} == wanted["tickets"]
    assert manifest["counts"]["tickets"] == len(wanted["tickets"])
    assert manifest["client_id"] == ref.client_id and manifest["chat_threads"] == 2
    assert {t["thread_id"] for t in chat} == {f"{tenant}:-:a", f"{tenant}:{ref.client_id}:b"}

    before = table_counts(engine)
    refused = runner.invoke(app, ["privacy", "erase", "--client", ref.client_id], input="n\n")
    assert refused.exit_code != 0
    assert table_counts(engine) == before  # nothing erased without a yes
    bad = runner.invoke(app, ["privacy", "erase", "--client", "no such client", "--yes"])
    assert bad.exit_code != 0 and "no client" in bad.output

    done = runner.invoke(
        app, ["privacy", "erase", "--client", ref.client_id, "--json"], input="y\n"
    )
    assert done.exit_code == 0, done.output
    report = json.loads(done.output[done.output.index("{") :])
    assert report["conversations"] == 2
    assert report["deleted"]["tickets"] == len(wanted["tickets"])
    assert _threads(db_url, data_dir, tenant) == {f"{tenant}:-:c"}
    assert table_counts(engine)["clients"] == before["clients"] - 1


def test_retention_is_stored_and_deletes_only_older_history(world: Any, db_url: str) -> None:
    engine, worlds, data_dir = world
    tenant, other = worlds[0].tenant.id, worlds[1].tenant.id
    saver = make_checkpointer(db_url, data_dir)
    try:
        for t in (tenant, other):
            for age in (2, 29, 31, 400):
                _chat(saver, f"{t}:-:{age}", "how are we doing?", age)
    finally:
        close_checkpointer(saver)
    with engine.begin() as conn:
        for age in (5, 89, 91, 365):
            for t in (tenant, other):
                conn.execute(
                    insert(AuditEvent).values(**audit_row(t, None, TODAY - dt.timedelta(age)))
                )

    args = ["privacy", "retention", "--tenant", tenant, "--chat-days", "30", "--audit-days", "90"]
    dry = runner.invoke(app, [*args, "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.output)["conversations"] == 2
    assert json.loads(dry.output)["audit_events"] == 2
    assert len(_threads(db_url, data_dir, tenant)) == 4  # a dry run deletes nothing
    policy = get_retention(engine, tenant)
    assert (policy.chat_days, policy.audit_days) == (30, 90)

    applied = runner.invoke(app, ["privacy", "retention", "--tenant", tenant, "--apply", "--json"])
    assert applied.exit_code == 0, applied.output  # the stored periods apply
    assert _threads(db_url, data_dir, tenant) == {f"{tenant}:-:2", f"{tenant}:-:29"}
    assert len(_threads(db_url, data_dir, other)) == 4
    with engine.connect() as conn:
        ages = {
            t: sorted(
                (TODAY - a).days
                for a in conn.scalars(select(AuditEvent.at).where(AuditEvent.tenant_id == t))
                if a < TODAY - dt.timedelta(days=1)  # the planted ones (load_world's are NOW)
            )
            for t in (tenant, other)
        }
    assert [a for a in ages[tenant] if a in (5, 89, 91, 365)] == [5, 89]
    assert [a for a in ages[other] if a in (5, 89, 91, 365)] == [5, 89, 91, 365]
    bad = runner.invoke(app, ["privacy", "retention", "--tenant", tenant, "--chat-days", "0"])
    assert bad.exit_code != 0
