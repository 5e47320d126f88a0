"""``mspilot db``: schema migrations and table statistics."""

from __future__ import annotations

import typer

from mspilot.cli.context import emit_json, friendly_errors, print_table, settings
from mspilot.cli.deps import database

app = typer.Typer(help="Database schema and statistics.", no_args_is_help=True)


@app.command()
@friendly_errors
def upgrade(revision: str = typer.Option("heads", help="Target revision.")) -> None:
    """Create or migrate the database schema to the latest revision."""
    from mspilot.db import migrate

    settings().ensure_data_dir()
    engine = database(migrated=False)
    migrate.upgrade(engine, revision)
    revs = ", ".join(sorted(migrate.current_revisions(engine)))
    typer.echo(f"database at revision {revs} ({engine.url!r})")


@app.command()
@friendly_errors
def stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Rows per table per tenant."""
    from sqlalchemy import func, select

    from mspilot.db.schema import SYNCED_TABLES

    engine = database()
    counts: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for model in SYNCED_TABLES:
            rows = conn.execute(select(model.tenant_id, func.count()).group_by(model.tenant_id))
            for tenant_id, n in rows:
                counts.setdefault(tenant_id, {})[model.__tablename__] = n  # type: ignore[attr-defined]
    if as_json:
        emit_json(counts)
        return
    tables = [m.__tablename__ for m in SYNCED_TABLES]  # type: ignore[attr-defined]
    tenants = sorted(counts)
    print_table(
        "Rows per table per tenant",
        ["table", *tenants],
        [[t, *[counts[tn].get(t, 0) for tn in tenants]] for t in tables],
    )
