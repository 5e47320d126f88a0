"""``mspilot kb``: the knowledge base (shipped documents + ticket resolutions in Chroma)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from mspilot.cli.context import emit_json, friendly_errors, print_table, settings

app = typer.Typer(help="Knowledge base: index and search.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant's tickets (default: all).")
]


def _engine() -> Any:
    from mspilot.core.errors import DataError
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine

    engine = make_engine(settings().resolved_database_url)
    if not migrate.current_revisions(engine):
        raise DataError("the database has no schema yet: run `mspilot db upgrade` first")
    return engine


def _tenants(engine: Any, tenant: str | None) -> list[str]:
    from sqlalchemy import select

    from mspilot.core.errors import UserInputError
    from mspilot.db.schema import Tenant

    with engine.connect() as conn:
        known = list(conn.execute(select(Tenant.id).order_by(Tenant.id)).scalars())
    if tenant is None:
        return known
    if tenant not in known:
        raise UserInputError(f"unknown tenant {tenant!r}; tenants: {', '.join(known) or 'none'}")
    return [tenant]


@app.command()
@friendly_errors
def index(
    tenant: TenantOpt = None,
    documents_only: Annotated[
        bool, typer.Option("--documents-only", help="Skip ticket resolutions.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Index the shipped documents and ticket resolutions; only changed passages are
    re-embedded."""
    from mspilot.tools.knowledge import KnowledgeBase

    s = settings()
    s.ensure_data_dir()
    kb = KnowledgeBase(s.data_dir)
    started = time.perf_counter()
    engine = None if documents_only else _engine()
    tenants = [] if engine is None else _tenants(engine, tenant)  # fail fast on a bad tenant
    report: dict[str, Any] = {"documents": kb.index_documents().as_dict(), "tickets": {}}
    if engine is not None:
        for tenant_id in tenants:
            report["tickets"][tenant_id] = kb.index_tickets(engine, tenant_id).as_dict()
    report["seconds"] = round(time.perf_counter() - started, 2)
    report["path"] = str(kb.path)
    if as_json:
        emit_json(report)
        return
    rows = [["documents", *report["documents"].values()]]
    rows += [[f"tickets {t}", *v.values()] for t, v in report["tickets"].items()]
    print_table(
        f"Knowledge base ({report['seconds']} s)",
        ["passages", "added", "updated", "unchanged", "deleted"],
        rows,
    )


@app.command()
@friendly_errors
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant whose tickets to search.")],
    role: Annotated[str, typer.Option("--role", help="Caller's role.")] = "owner",
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Passages.")] = 4,
    as_json: AsJson = False,
) -> None:
    """Search the knowledge base as a given tenant and role."""
    from mspilot.db.semantic_access import check_role
    from mspilot.tools.knowledge import KnowledgeBase

    check_role(role)
    kb = KnowledgeBase(settings().data_dir)
    passages = kb.search(query, tenant_id=tenant, role=role, k=k)
    if as_json:
        emit_json([p.__dict__ for p in passages])
        return
    print_table(
        "Passages",
        ["score", "source", "text"],
        [[f"{p.score:.3f}", p.source, p.text[:120].replace("\n", " ")] for p in passages],
    )
