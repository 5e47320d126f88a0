"""Building a tenant's source for a task: the tenant's vendor account on top of the global
settings, and the vendor's shared rate limit.

- A tenant with a ``vendor_accounts`` row whose ``overrides`` are set (a deployment serving
  many MSPs) gets its own endpoints, subdomain / realm and limits; its secrets come from the
  encrypted credential store (``mspilot sources set-secret --tenant T``), never from the
  global ``MSPILOT_SUPEROPS__API_TOKEN`` / ``MSPILOT_QUICKBOOKS__REFRESH_TOKEN`` (another
  tenant's). Without overrides a tenant uses the global settings, as ``mspilot sync`` does.
- With ``MSPILOT_REDIS_URL`` every request of the account first takes a token from the
  account's bucket in Redis (``connectors.ratelimit``): N workers together stay under the
  vendor's limit (SuperOps and QuickBooks: ``requests_per_minute`` of each group).
"""

from __future__ import annotations

import functools
from typing import Any

import httpx
from sqlalchemy import Engine

from mspilot.connectors.base import Source
from mspilot.connectors.http import Throttle
from mspilot.core.clock import Clock
from mspilot.core.settings import QuickBooksSettings, Settings, SuperOpsSettings
from mspilot.tasks import store
from mspilot.tasks.settings import TaskSettings

#: vendor setting names an account may override (never secrets)
OVERRIDABLE = {
    "superops": {"base_url", "region", "subdomain", "requests_per_minute", "page_size"},
    "quickbooks": {
        "base_url",
        "token_url",
        "realm_id",
        "minorversion",
        "page_size",
        "max_concurrent",
        "requests_per_minute",
    },
}


@functools.cache
def _redis(url: str) -> Any:
    from mspilot.connectors.ratelimit import redis_client

    return redis_client(url)


def vendor_settings(
    settings: Settings, engine: Engine, tenant_id: str, source: str
) -> tuple[SuperOpsSettings | QuickBooksSettings, bool]:
    """(the vendor settings this tenant syncs with, whether they are the tenant's own)."""
    base: SuperOpsSettings | QuickBooksSettings = (
        settings.superops if source == "superops" else settings.quickbooks
    )
    account = store.account_of(engine, tenant_id, source)
    if account is None or not account.overrides:
        return base, False
    unknown = set(account.overrides) - OVERRIDABLE[source]
    if unknown:
        raise ValueError(f"vendor account of {tenant_id}/{source} overrides {sorted(unknown)}")
    values = dict(account.overrides)
    if source == "superops":
        values |= {"api_token": None}
        if account.account:
            values.setdefault("subdomain", account.account)
    else:
        values |= {"refresh_token": None}
        if account.account:
            values.setdefault("realm_id", account.account)
    return type(base).model_validate(base.model_dump() | values), True


def account_id(vendor: SuperOpsSettings | QuickBooksSettings) -> str:
    if isinstance(vendor, SuperOpsSettings):
        return vendor.subdomain or "default"
    return vendor.realm_id or "default"


def shared_throttle(
    tasks: TaskSettings, source: str, vendor: SuperOpsSettings | QuickBooksSettings
) -> Throttle:
    """This process's throttle for the account, tied to the account's bucket in Redis."""
    from mspilot.connectors.ratelimit import RedisTokenBucket

    concurrent = vendor.max_concurrent if isinstance(vendor, QuickBooksSettings) else 1
    shared = None
    if tasks.redis_url:
        shared = RedisTokenBucket(
            _redis(tasks.redis_url),
            source,
            account_id(vendor),
            vendor.requests_per_minute,
            burst=tasks.tasks.rate_limit_burst,
        )
    return Throttle(vendor.requests_per_minute, concurrent, shared=shared)


def build_tenant_source(
    name: str,
    settings: Settings,
    tasks: TaskSettings,
    engine: Engine,
    tenant_id: str,
    http: httpx.Client,
    clock: Clock,
) -> Source:
    from mspilot.connectors.factory import credential_store

    vendor, own = vendor_settings(settings, engine, tenant_id, name)
    throttle = shared_throttle(tasks, name, vendor)
    secret_key = settings.secret_key.get_secret_value() if settings.secret_key else None
    if isinstance(vendor, SuperOpsSettings):
        from mspilot.connectors.superops.source import SuperOpsSource

        token = None
        if (own or vendor.api_token is None) and settings.secret_key is not None:
            stored = credential_store(settings, engine, tenant_id, "superops").get("api_token")
            token = stored.value if stored else None
        return SuperOpsSource(vendor, http, api_token=token, throttle=throttle)
    from mspilot.connectors.quickbooks.source import QuickBooksSource

    return QuickBooksSource(
        vendor,
        http,
        engine=engine,
        tenant_id=tenant_id,
        secret_key=secret_key,
        now=clock.now,
        throttle=throttle,
    )
