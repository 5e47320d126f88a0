"""Build a configured source by name (the CLI's and the API's composition root helper)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from mspilot.connectors.base import Source
from mspilot.core.errors import UserInputError
from mspilot.core.settings import Settings
from mspilot.db.loader import upsert_tenant
from mspilot.db.schema import Tenant

SOURCES = ("superops", "quickbooks", "csv")


def build_source(
    name: str,
    settings: Settings,
    *,
    http: httpx.Client,
    engine: Engine,
    tenant_id: str,
    path: Path | None = None,
    now: Callable[[], dt.datetime] | None = None,
) -> Source:
    if name == "superops":
        from mspilot.connectors.superops.source import SuperOpsSource

        return SuperOpsSource(settings.superops, http)
    if name == "quickbooks":
        from mspilot.connectors.quickbooks.source import QuickBooksSource

        return QuickBooksSource(
            settings.quickbooks,
            http,
            engine=engine,
            tenant_id=tenant_id,
            secret_key=settings.secret_key.get_secret_value() if settings.secret_key else None,
            now=now,
        )
    if name == "csv":
        from mspilot.connectors.csv_source import CsvSource

        if path is None:
            raise UserInputError("--path is required for --source csv (a folder of <table>.csv)")
        return CsvSource(path)
    raise UserInputError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")


def ensure_tenant(engine: Engine, tenant_id: str, name: str | None = None) -> bool:
    """Create the tenant row if it does not exist yet; True when created."""
    with engine.begin() as conn:
        if conn.scalar(select(Tenant.id).where(Tenant.id == tenant_id)) is not None:
            return False
        upsert_tenant(conn, tenant_id, name or tenant_id)
        return True
