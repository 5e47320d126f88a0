"""``mspilot privacy``: export everything held about one client, erase a client, retention."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from mspilot.cli.context import console, emit_json, friendly_errors, print_table, settings

app = typer.Typer(
    help="Privacy: export or erase a client, retention periods.", no_args_is_help=True
)

ClientOpt = Annotated[str, typer.Option("--client", help="Client name, external id or id.")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="Tenant (if names repeat).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _engine() -> Any:
    from mspilot.cli.deps import database

    return database()


def _checkpointer() -> Any:
    from mspilot.agent.memory import make_checkpointer

    s = settings()
    return make_checkpointer(s.resolved_database_url, s.data_dir)


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return out.getvalue()


def write_export(
    path: Path, tables: dict[str, list[dict[str, Any]]], manifest: dict[str, Any]
) -> None:
    """A zip of ``<table>.csv`` and ``<table>.json`` per table plus ``manifest.json``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, rows in tables.items():
            zf.writestr(f"{name}.json", json.dumps(rows, indent=2, default=str))
            zf.writestr(f"{name}.csv", _csv(rows))
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))


@app.command()
@friendly_errors
def export(
    client: ClientOpt,
    out: Annotated[Path, typer.Option("--out", help="The zip file to write.")],
    tenant: TenantOpt = None,
    as_json: AsJson = False,
) -> None:
    """Export everything held about one client: canonical rows, insights, users, audit
    entries and chat turns mentioning it, as CSV + JSON in a zip with a manifest."""
    from mspilot.agent.memory import close_checkpointer
    from mspilot.agent.privacy import client_conversations
    from mspilot.db.privacy import client_data, find_client

    engine = _engine()
    ref = find_client(engine, client, tenant)
    data = client_data(engine, ref)
    saver = _checkpointer()
    try:
        chats = client_conversations(saver, ref)
    finally:
        close_checkpointer(saver)
    tables = dict(data.tables)
    tables["chat_turns"] = [asdict(t) for c in chats for t in c.turns]
    counts = {name: len(rows) for name, rows in tables.items()}
    manifest = {
        "tenant_id": ref.tenant_id,
        "client_id": ref.client_id,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "counts": counts,
        "chat_threads": len(chats),
    }
    write_export(out, tables, manifest)
    if as_json:
        emit_json({**manifest, "out": str(out)})
        return
    rows = list(counts.items())
    print_table(f"Exported {ref.name} ({ref.client_id}) to {out}", ["table", "rows"], rows)


@app.command()
@friendly_errors
def erase(
    client: ClientOpt,
    tenant: TenantOpt = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    actor: Annotated[str, typer.Option("--by", help="Who asked (kept in the audit).")] = "cli",
    as_json: AsJson = False,
) -> None:
    """Erase a client: its rows (one transaction), knowledge-base passages and conversations
    mentioning it; the audit keeps a tombstone and later syncs refuse the client."""
    from mspilot.agent.memory import close_checkpointer
    from mspilot.agent.privacy import (
        client_conversations,
        delete_conversations,
        erase_client_vectors,
    )
    from mspilot.db.privacy import client_data, erase_client, find_client

    engine = _engine()
    ref = find_client(engine, client, tenant)
    if not yes:
        total = sum(client_data(engine, ref).counts().values())
        typer.confirm(
            f"Erase {ref.name} ({ref.client_id}, tenant {ref.tenant_id}): {total} rows, its "
            "knowledge-base passages and conversations? This cannot be undone",
            abort=True,
        )
    saver = _checkpointer()
    try:
        chats = client_conversations(saver, ref)
        erasure = erase_client(engine, ref, actor=actor)
        threads = delete_conversations(saver, chats)
    finally:
        close_checkpointer(saver)
    vectors = erase_client_vectors(settings().data_dir, ref)
    result = {
        "tenant_id": ref.tenant_id,
        "client_id": ref.client_id,
        "deleted": erasure.deleted,
        "detached_references": erasure.detached,
        "conversations": threads,
        "kb_passages": vectors,
    }
    if as_json:
        emit_json(result)
        return
    rows = [(name, n) for name, n in erasure.deleted.items() if n]
    rows += [("conversations", threads), ("kb passages", vectors)]
    print_table(f"Erased {ref.client_id}", ["what", "rows"], rows)


@app.command()
@friendly_errors
def retention(
    tenant: TenantOpt = None,
    chat_days: Annotated[
        int | None, typer.Option("--chat-days", min=1, help="Keep chat history N days.")
    ] = None,
    audit_days: Annotated[
        int | None, typer.Option("--audit-days", min=1, help="Keep audit events N days.")
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Delete (default: dry run).")] = False,
    as_json: AsJson = False,
) -> None:
    """Store a tenant's retention periods (given ones replace the stored ones) and show --
    or with --apply delete -- chat history and audit events older than them."""
    from mspilot.agent.privacy import enforce_retention
    from mspilot.cli.deps import tenant_scope
    from mspilot.db.privacy import Retention, get_retention, set_retention

    scope = tenant_scope(tenant)
    engine, tenant_id = scope.engine, scope.tenant_id
    stored = get_retention(engine, tenant_id)
    policy = Retention(
        chat_days if chat_days is not None else stored.chat_days,
        audit_days if audit_days is not None else stored.audit_days,
    )
    if policy != stored:
        set_retention(engine, tenant_id, policy)
    saver = _checkpointer() if policy.chat_days else None
    try:
        result = enforce_retention(engine, saver, tenant_id, policy, apply=apply)
    finally:
        if saver is not None:
            from mspilot.agent.memory import close_checkpointer

            close_checkpointer(saver)
    if as_json:
        emit_json(asdict(result))
        return
    verb = "deleted" if apply else "would delete (dry run; --apply deletes)"
    console.print(
        f"tenant {tenant_id}: chat {policy.chat_days or 'forever'} days, "
        f"audit {policy.audit_days or 'forever'} days; {verb}: "
        f"{result.conversations} conversations, {result.audit_events} audit events"
    )
