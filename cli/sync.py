"""``mspilot sync`` and ``mspilot sources``: pull SuperOps / QuickBooks / CSV data into the
canonical tables, and review ambiguous client matches."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from mspilot.cli.context import (
    console,
    emit_json,
    friendly_errors,
    print_table,
    progress_bar,
    settings,
)
from mspilot.core.clock import Clock
from mspilot.core.errors import DataError, UserInputError
from mspilot.core.ids import is_slug, make_id

app = typer.Typer(no_args_is_help=True)
sources_app = typer.Typer(
    help="Connected sources: review client matches, CSV templates.", no_args_is_help=True
)
app.add_typer(sources_app, name="sources")

TENANT = typer.Option("default", "--tenant", help="The MSP (tenant id) to sync into.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")
CSV_PATH = typer.Option(None, "--path", help="CSV folder or file (--source csv).")
ACCEPT = typer.Option(
    [], "--accept", help="QBO_CUSTOMER_ID=CLIENT: link a QuickBooks customer to a client."
)
REJECT = typer.Option([], "--reject", help="QBO_CUSTOMER_ID: keep this customer a separate client.")
TEMPLATE_PATH = typer.Option(..., "--path", help="Folder to write the templates into.")


def _engine() -> Any:
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine

    s = settings()
    engine = make_engine(s.resolved_database_url)
    if not migrate.is_current(engine):
        raise DataError("the database schema is missing or old: run `mspilot db upgrade` first")
    return engine


def _check_tenant(tenant: str) -> None:
    if not is_slug(tenant):
        raise UserInputError(f"--tenant {tenant!r}: use lowercase letters, digits, '-' or '_'")


@app.command("sync")
@friendly_errors
def sync(
    source: str = typer.Option(..., "--source", help="superops | quickbooks | csv"),
    path: Path | None = CSV_PATH,
    tenant: str = TENANT,
    full: bool = typer.Option(False, "--full", help="Ignore bookmarks: read everything."),
    as_json: bool = AS_JSON,
) -> None:
    """Sync one source into the canonical tables (incremental after the first run)."""
    from mspilot.connectors.base import SyncContext
    from mspilot.connectors.factory import build_source, ensure_tenant
    from mspilot.connectors.http import make_http_client
    from mspilot.connectors.runner import run_source
    from mspilot.core.logging import configure_logging

    _check_tenant(tenant)
    s = settings()
    configure_logging(s.log_format, "WARNING")
    engine = _engine()
    ensure_tenant(engine, tenant)
    clock = Clock(s.today)
    timeout = s.quickbooks.timeout_s if source == "quickbooks" else s.superops.timeout_s
    with make_http_client(timeout) as http, progress_bar(enabled=not as_json) as progress:
        src = build_source(
            source, s, http=http, engine=engine, tenant_id=tenant, path=path, now=clock.now
        )
        tasks: dict[str, Any] = {}

        def on_progress(stream: str, done: int, total: int | None) -> None:
            if stream not in tasks:
                tasks[stream] = progress.add_task(f"{source}:{stream}", total=total)
            progress.update(tasks[stream], advance=done, total=total)

        ctx = SyncContext(engine, tenant, now=clock.now, force_full=full, progress=on_progress)
        summary = run_source(src, ctx)
    if as_json:
        emit_json(summary.as_dict())
        return
    print_table(
        f"{source} → tenant {tenant} ({summary.seconds:.1f} s, {summary.requests} requests)",
        ["stream", "mode", "records", "inserted", "updated", "deleted", "rejected"],
        [
            [s_.stream, s_.mode, s_.records, s_.inserted, s_.updated, s_.deleted, s_.rejected]
            for s_ in summary.streams
        ],
    )
    if summary.reconciled:
        console.print("reconciled: " + ", ".join(f"{k} {v}" for k, v in summary.reconciled.items()))
    if summary.issues:
        console.print(
            f"[yellow]{summary.issues} rows refused[/] (see the data_quality_issues table, "
            f"run {summary.run_id})"
        )


@sources_app.command("review")
@friendly_errors
def review(
    tenant: str = TENANT,
    accept: list[str] = ACCEPT,
    reject: list[str] = REJECT,
    as_json: bool = AS_JSON,
) -> None:
    """QuickBooks customers that could not be matched to a SuperOps client with confidence."""
    from mspilot.connectors.base import SyncContext
    from mspilot.connectors.resolution import reconcile
    from mspilot.db.entity_map import (
        CLIENT,
        Link,
        client_rows,
        decide_review,
        list_reviews,
        save_link,
    )

    _check_tenant(tenant)
    engine = _engine()
    now = dt.datetime.now(dt.UTC)
    known = {c.id for c in client_rows(engine, tenant)}
    for item in accept:
        qbo_id, sep, client = item.partition("=")
        if not sep or not qbo_id or not client:
            raise UserInputError(f"--accept {item!r}: write QBO_CUSTOMER_ID=CLIENT")
        target = client if client in known else make_id(tenant, "superops", client)
        if target not in known:
            raise UserInputError(f"--accept {item!r}: no client {client!r} in tenant {tenant}")
        save_link(engine, tenant, Link(CLIENT, qbo_id, target, "manual"), now=now)
        decide_review(engine, tenant, CLIENT, qbo_id, "accepted", now=now)
    for qbo_id in reject:
        if not decide_review(engine, tenant, CLIENT, qbo_id, "rejected", now=now):
            raise UserInputError(f"--reject {qbo_id!r}: no such customer on the review list")
    merged: dict[str, int] = {}
    if accept or reject:
        merged = reconcile(SyncContext(engine, tenant))
    items = [r.as_dict() for r in list_reviews(engine, tenant)]
    if as_json:
        emit_json({"open": items, "reconciled": merged})
        return
    if not items:
        console.print("nothing to review: every QuickBooks customer is matched or decided")
        return
    print_table(
        f"Client matches to review (tenant {tenant})",
        ["qbo customer", "name", "reason", "candidates"],
        [
            [
                r["qbo_id"],
                r["qbo_name"],
                r["reason"],
                "; ".join(f"{c['name']} ({c['score']})" for c in r["candidates"]),
            ]
            for r in items
        ],
    )
    console.print("decide with --accept QBO_ID=CLIENT or --reject QBO_ID")


@sources_app.command("csv-template")
@friendly_errors
def csv_template(
    path: Path = TEMPLATE_PATH,
) -> None:
    """Write an empty <table>.csv per canonical table and a README describing the columns."""
    from mspilot.connectors.csv_source import write_templates

    for written in write_templates(path):
        typer.echo(str(written))


@sources_app.command("set-secret")
@friendly_errors
def set_secret(
    source: str = typer.Option(
        ..., "--source", help="superops (API token) | quickbooks (refresh token)"
    ),
    tenant: str = TENANT,
) -> None:
    """Store a source's secret encrypted in the database (read from a hidden prompt or stdin),
    so it need not live in the environment. Needs MSPILOT_SECRET_KEY."""
    from mspilot.connectors.factory import ensure_tenant, store_secret

    _check_tenant(tenant)
    engine = _engine()
    ensure_tenant(engine, tenant)
    value = typer.prompt(f"{source} secret", hide_input=True)
    name = store_secret(settings(), engine, tenant, source, value)
    typer.echo(f"stored the {source} {name.replace('_', ' ')} (encrypted) for tenant {tenant}")
