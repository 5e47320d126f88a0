"""The SuperOps source: settings -> authenticator, GraphQL client, paginator and streams."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import httpx

from mspilot.connectors.base import Source, Stream, SyncContext
from mspilot.connectors.checks import CheckReport
from mspilot.connectors.errors import SourceConfigError
from mspilot.connectors.http import RetryPolicy, Throttle
from mspilot.connectors.superops.client import BearerAuth, GraphQLClient, ListInfoPaginator
from mspilot.connectors.superops.conventions import SuperOpsConventions
from mspilot.connectors.superops.streams import STREAMS
from mspilot.core.settings import SuperOpsSettings


class SuperOpsSource(Source):
    name = "superops"

    def __init__(
        self,
        settings: SuperOpsSettings,
        http: httpx.Client,
        *,
        api_token: str | None = None,
        retry: RetryPolicy | None = None,
        throttle: Throttle | None = None,
        conventions: SuperOpsConventions | None = None,
        hourly_costs: Mapping[str, Decimal] | None = None,
        page_size: int | None = None,
    ) -> None:
        token = api_token or (settings.api_token.get_secret_value() if settings.api_token else None)
        if not token:
            raise SourceConfigError(
                "no SuperOps API token: set MSPILOT_SUPEROPS__API_TOKEN (SuperOps → Settings → "
                "My Profile → API token)"
            )
        if not settings.subdomain:
            raise SourceConfigError(
                "no SuperOps subdomain: set MSPILOT_SUPEROPS__SUBDOMAIN (the 'acme' of "
                "acme.superops.ai)"
            )
        self.retry = retry or RetryPolicy()
        self.client = GraphQLClient(
            http,
            settings.endpoint,
            BearerAuth(token, settings.subdomain),
            throttle=throttle or Throttle(settings.requests_per_minute),
            retry=self.retry,
        )
        self.paginator = ListInfoPaginator(page_size or settings.page_size)
        self.conventions = conventions or SuperOpsConventions()
        #: conventions given in code win over the tenant's field map (tests, the demo)
        self.explicit_conventions = conventions is not None
        self.hourly_costs = {k.lower(): v for k, v in (hourly_costs or {}).items()}
        self.default_hourly_cost = Decimal(str(settings.default_hourly_cost)).quantize(
            Decimal("0.01")
        )

    def streams(self) -> list[Stream]:
        return [cls(self) for cls in STREAMS]

    def check(self, ctx: SyncContext) -> CheckReport:
        from mspilot.connectors.superops.check import check_superops

        return check_superops(self, ctx)

    def finish(self, ctx: SyncContext) -> dict[str, int]:
        from mspilot.connectors.resolution import reconcile

        return reconcile(ctx)

    @property
    def requests(self) -> int:
        return self.client.requests
