"""``mspilot sync``: pull SuperOps / QuickBooks / CSV data into the canonical tables.

Exit codes: 0 completed; ``EXIT_WARNINGS`` (10) completed with warnings (a stream skipped,
values derived, rows refused or waiting for a parent: the summary says which); otherwise the
error's own code (3: credentials or configuration, 6: the source could not be read)."""

from __future__ import annotations

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
from mspilot.core.ids import is_slug

app = typer.Typer(no_args_is_help=True)
#: "completed with warnings": distinct from success and from every error's exit code
EXIT_WARNINGS = 10

TENANT = typer.Option("default", "--tenant", help="The MSP (tenant id) to sync into.")
AS_JSON = typer.Option(False, "--json", help="Print JSON.")
CSV_PATH = typer.Option(None, "--path", help="CSV folder or file (--source csv).")


def engine() -> Any:
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine

    s = settings()
    engine = make_engine(s.resolved_database_url)
    if not migrate.is_current(engine):
        raise DataError("the database schema is missing or old: run `mspilot db upgrade` first")
    return engine


def check_tenant(tenant: str) -> None:
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
    from mspilot.connectors.factory import build_source
    from mspilot.connectors.http import make_http_client
    from mspilot.connectors.runner import run_source
    from mspilot.core.logging import configure_logging
    from mspilot.db.loader import create_tenant

    check_tenant(tenant)
    s = settings()
    configure_logging(s.log_format, "WARNING")
    db = engine()
    create_tenant(db, tenant)
    clock = Clock(s.today)
    timeout = s.quickbooks.timeout_s if source == "quickbooks" else s.superops.timeout_s
    with make_http_client(timeout) as http, progress_bar(enabled=not as_json) as progress:
        src = build_source(
            source, s, http=http, engine=db, tenant_id=tenant, path=path, now=clock.now
        )
        tasks: dict[str, Any] = {}

        def on_progress(stream: str, done: int, total: int | None) -> None:
            if stream not in tasks:
                tasks[stream] = progress.add_task(f"{source}:{stream}", total=total)
            progress.update(tasks[stream], advance=done, total=total)

        ctx = SyncContext(db, tenant, now=clock.now, force_full=full, progress=on_progress)
        summary = run_source(src, ctx)
    if as_json:
        emit_json(summary.as_dict())
    else:
        _print_summary(source, tenant, summary)
    if summary.status != "completed":
        raise typer.Exit(EXIT_WARNINGS)


def _print_summary(source: str, tenant: str, summary: Any) -> None:
    print_table(
        f"{source} → tenant {tenant}: {summary.status} ({summary.seconds:.1f} s, "
        f"{summary.requests} requests)",
        ["stream", "mode", "records", "inserted", "updated", "deleted", "rejected"],
        [
            [s_.stream, s_.mode, s_.records, s_.inserted, s_.updated, s_.deleted, s_.rejected]
            for s_ in summary.streams
        ],
    )
    if summary.reconciled:
        console.print("reconciled: " + ", ".join(f"{k} {v}" for k, v in summary.reconciled.items()))
    for skipped in summary.skipped:
        part = f" ({skipped['partition']})" if skipped["partition"] else ""
        console.print(f"[yellow]skipped {skipped['stream']}{part}[/]: {skipped['reason']}")
    if summary.warnings:
        console.print(
            f"[yellow]{summary.warnings} rows loaded with derived values[/] (data_quality_issues, "
            f"severity warning, run {summary.run_id}: each names its rule)"
        )
    if summary.issues:
        console.print(
            f"[yellow]{summary.issues} rows refused[/] (data_quality_issues, severity error, "
            f"run {summary.run_id})"
        )
    if summary.unblocked:
        console.print(f"{summary.unblocked} rows that waited for a parent loaded")
    for w in summary.waiting:
        console.print(
            f"[yellow]{w['rows']} {w['table']} rows wait[/] for {w['waits_for']} rows that have "
            "not arrived (orphan_rows; they load when their parent does)"
        )
