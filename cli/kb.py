"""``mspilot kb``: the knowledge base (shipped documents + ticket resolutions in Chroma)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mspilot.cli.context import emit_json, friendly_errors, print_table, settings
from mspilot.cli.deps import TenantOption, database, resolve_tenant_id

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Knowledge base: index and search.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
TenantOpt = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant's tickets (default: all).")
]
SearchTenant = TenantOption


def _tenants(engine: Engine, tenant: str | None) -> list[str]:
    """The named tenant (checked), else every tenant (``kb index`` indexes them all)."""
    from mspilot.db.tenants import tenant_ids

    return [resolve_tenant_id(engine, tenant)] if tenant is not None else tenant_ids(engine)


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
    engine = None if documents_only else database()
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
    tenant: SearchTenant = None,
    role: Annotated[str, typer.Option("--role", help="Caller's role.")] = "owner",
    k: Annotated[int, typer.Option("--k", min=1, max=20, help="Passages.")] = 4,
    as_json: AsJson = False,
) -> None:
    """Search the knowledge base as a given tenant and role."""
    from mspilot.db.semantic_access import check_role
    from mspilot.tools.knowledge import KnowledgeBase

    check_role(role)
    tenant = resolve_tenant_id(database(), tenant)
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
