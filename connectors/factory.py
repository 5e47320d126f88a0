"""Build a configured source by name (the CLI's and the API's composition root helper)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import Engine

from mspilot.connectors.base import Source
from mspilot.core.errors import UserInputError
from mspilot.core.settings import Settings
from mspilot.db.credentials import CredentialStore, SecretBox, fingerprint, local_secret_key

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

        token = None
        if settings.superops.api_token is None:
            stored = credential_store(settings, engine, tenant_id, "superops").get("api_token")
            token = stored.value if stored else None
        return SuperOpsSource(settings.superops, http, api_token=token)
    if name == "quickbooks":
        from mspilot.connectors.quickbooks.source import QuickBooksSource

        return QuickBooksSource(
            settings.quickbooks,
            http,
            engine=engine,
            tenant_id=tenant_id,
            secret_key=secret_key(settings),
            now=now,
        )
    if name == "csv":
        from mspilot.connectors.csv_source import CsvSource

        if path is None:
            raise UserInputError("--path is required for --source csv (a folder of <table>.csv)")
        return CsvSource(path)
    raise UserInputError(f"unknown source {name!r}; choose one of {', '.join(SOURCES)}")


def credential_store(
    settings: Settings, engine: Engine, tenant_id: str, source: str
) -> CredentialStore:
    """The encrypted credential store of one source of one tenant."""
    return CredentialStore(engine, tenant_id, source, SecretBox.from_secret(secret_key(settings)))


def secret_key(settings: Settings) -> str:
    """``MSPILOT_SECRET_KEY``, else the data directory's own key (created on first use)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    return local_secret_key(settings.data_dir)


def store_secret(
    settings: Settings, engine: Engine, tenant_id: str, source: str, value: str
) -> str:
    """Keep a source's secret encrypted in the database instead of the environment: the
    SuperOps API token, or a new QuickBooks refresh token after reconnecting."""
    if not value.strip():
        raise UserInputError("the secret is empty")
    if source == "superops":
        name, origin = "api_token", None
    elif source == "quickbooks":
        configured = settings.quickbooks.refresh_token
        name = "refresh_token"
        origin = fingerprint(configured.get_secret_value()) if configured else None
    else:
        raise UserInputError(f"{source!r} keeps no secrets; choose superops or quickbooks")
    credential_store(settings, engine, tenant_id, source).put(name, value.strip(), origin=origin)
    return name
