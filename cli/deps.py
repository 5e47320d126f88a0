"""What CLI commands depend on, resolved one way (like ``api/deps.py`` for the API): the
configured database and the tenant a command works on.

- :func:`database`: the engine of ``MSPILOT_DATABASE_URL`` (its schema must be at the latest
  revision unless the command creates it);
- :data:`TenantOption` and :func:`tenant_scope`: ``--tenant`` with one default rule for every
  command, :func:`mspilot.db.tenants.resolve_tenant`: the named tenant, else the only one
  loaded; none, an unknown name or several tenants with none named exit non-zero with a
  message that says what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from mspilot.cli.context import settings
from mspilot.core.errors import DataError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from mspilot.core.clock import Clock

TenantOption = Annotated[
    str | None,
    typer.Option("--tenant", help="Tenant id (default: the only one loaded; name it if several)."),
]


def database(*, migrated: bool = True) -> Engine:
    """The configured database; ``migrated``: refuse one whose schema is missing or old."""
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine

    engine = make_engine(settings().resolved_database_url)
    if migrated:
        try:
            current = migrate.is_current(engine)
        except Exception as exc:
            raise DataError(f"cannot open the database ({exc})") from None
        if not current:
            engine.dispose()
            raise DataError("the database schema is missing or old: run `mspilot db upgrade` first")
    return engine


@dataclass(frozen=True)
class TenantScope:
    """A command's database, tenant and product clock."""

    engine: Engine
    tenant_id: str
    clock: Clock


def resolve_tenant_id(engine: Engine, tenant: str | None) -> str:
    """``--tenant`` resolved by the one rule (see the module docstring)."""
    from mspilot.db.tenants import resolve_tenant

    return resolve_tenant(engine, tenant).id


def tenant_scope(tenant: str | None) -> TenantScope:
    from mspilot.core.clock import Clock

    engine = database()
    return TenantScope(engine, resolve_tenant_id(engine, tenant), Clock(settings().today))
