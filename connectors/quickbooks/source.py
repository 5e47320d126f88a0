"""The QuickBooks Online source: settings -> OAuth2 refresh (credentials encrypted in the
database), query/CDC client and streams."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
from sqlalchemy import Engine

from mspilot.connectors.base import Source, Stream, SyncContext
from mspilot.connectors.checks import CheckReport
from mspilot.connectors.errors import SourceConfigError
from mspilot.connectors.http import RetryPolicy, Throttle
from mspilot.connectors.quickbooks.client import OAuth2Refresh, QuickBooksClient
from mspilot.connectors.quickbooks.streams import STREAMS
from mspilot.core.settings import QuickBooksSettings
from mspilot.db.credentials import CredentialStore, SecretBox


class QuickBooksSource(Source):
    name = "quickbooks"

    def __init__(
        self,
        settings: QuickBooksSettings,
        http: httpx.Client,
        *,
        engine: Engine,
        tenant_id: str,
        secret_key: str | None,
        now: Callable[[], dt.datetime] | None = None,
        retry: RetryPolicy | None = None,
        throttle: Throttle | None = None,
        page_size: int | None = None,
    ) -> None:
        missing = [
            name
            for name, value in (
                ("REALM_ID", settings.realm_id),
                ("CLIENT_ID", settings.client_id),
                ("CLIENT_SECRET", settings.client_secret),
            )
            if not value
        ]
        if missing:
            raise SourceConfigError(
                "QuickBooks is not configured: set "
                + ", ".join(f"MSPILOT_QUICKBOOKS__{m}" for m in missing)
            )
        assert settings.realm_id and settings.client_id and settings.client_secret
        self.retry = retry or RetryPolicy()
        store = CredentialStore(engine, tenant_id, self.name, SecretBox.from_secret(secret_key))
        self.auth = OAuth2Refresh(
            http,
            settings.token_url,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            settings.refresh_token.get_secret_value() if settings.refresh_token else None,
            store,
            now=now or (lambda: dt.datetime.now(dt.UTC)),
            retry=self.retry,
        )
        self.client = QuickBooksClient(
            http,
            settings.base_url,
            settings.realm_id,
            self.auth,
            throttle=throttle
            or Throttle(settings.requests_per_minute, max_concurrent=settings.max_concurrent),
            retry=self.retry,
            minorversion=settings.minorversion,
            page_size=page_size or settings.page_size,
        )

    def streams(self) -> list[Stream]:
        return [cls(self) for cls in STREAMS]

    def check(self, ctx: SyncContext) -> CheckReport:
        from mspilot.connectors.quickbooks.check import check_quickbooks

        return check_quickbooks(self, ctx)

    def finish(self, ctx: SyncContext) -> dict[str, int]:
        from mspilot.connectors.resolution import reconcile

        return reconcile(ctx)

    @property
    def requests(self) -> int:
        return self.client.requests
