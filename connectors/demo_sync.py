"""Sync a canonical dataset (the demo MSP) through the real connectors, against the fake
SuperOps and QuickBooks servers started in-process on real sockets.

``mspilot demo run`` can call :func:`sync_demo_through_fakes` so the demo exercises the same
path a customer's sync does: HTTP, paging, auth, retries, mapping, entity resolution,
reconciliation and the loader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Engine

from mspilot.connectors.base import ProgressFn, SyncContext
from mspilot.connectors.fakes.common import FakeClock, Faults, ServedApp
from mspilot.connectors.fakes.quickbooks import QuickBooksFake
from mspilot.connectors.fakes.superops import SuperOpsFake
from mspilot.connectors.fakes.vendor_data import IdMap, VendorData, split_dataset
from mspilot.connectors.http import RetryPolicy, Throttle, make_http_client
from mspilot.connectors.quickbooks.source import QuickBooksSource
from mspilot.connectors.runner import SyncSummary, run_source
from mspilot.connectors.superops.source import SuperOpsSource
from mspilot.core.ids import make_id
from mspilot.core.settings import QuickBooksSettings, SuperOpsSettings
from mspilot.db.loader import upsert_tenant

#: encrypts the fake QuickBooks tokens of the demo when no MSPILOT_SECRET_KEY is set
DEMO_SECRET_KEY = "mspilot-demo-only-key-not-a-secret"  # noqa: S105


@dataclass
class FakeVendors:
    """Both fakes, served on 127.0.0.1, and the settings that point connectors at them."""

    data: VendorData
    superops: SuperOpsFake
    quickbooks: QuickBooksFake
    superops_server: ServedApp
    quickbooks_server: ServedApp
    clock: FakeClock

    @property
    def ids(self) -> IdMap:
        return self.data.ids

    def superops_settings(self, **overrides: Any) -> SuperOpsSettings:
        values: dict[str, Any] = {
            "base_url": f"{self.superops_server.url}/msp",
            "api_token": self.superops.token,
            "subdomain": self.superops.subdomain,
        }
        return SuperOpsSettings(**(values | overrides))

    def quickbooks_settings(self, **overrides: Any) -> QuickBooksSettings:
        url = self.quickbooks_server.url
        values: dict[str, Any] = {
            "base_url": url,
            "token_url": f"{url}/oauth2/v1/tokens/bearer",
            "realm_id": self.quickbooks.realm_id,
            "client_id": self.quickbooks.client_id,
            "client_secret": self.quickbooks.client_secret,
            "refresh_token": "rt-initial",
        }
        return QuickBooksSettings(**(values | overrides))

    def env(self) -> dict[str, str]:
        """The same settings as ``MSPILOT_*`` environment variables (for a CLI subprocess)."""
        so, qb = self.superops_settings(), self.quickbooks_settings()
        return {
            "MSPILOT_SUPEROPS__BASE_URL": so.base_url,
            "MSPILOT_SUPEROPS__API_TOKEN": self.superops.token,
            "MSPILOT_SUPEROPS__SUBDOMAIN": self.superops.subdomain,
            "MSPILOT_QUICKBOOKS__BASE_URL": qb.base_url,
            "MSPILOT_QUICKBOOKS__TOKEN_URL": qb.token_url,
            "MSPILOT_QUICKBOOKS__REALM_ID": self.quickbooks.realm_id,
            "MSPILOT_QUICKBOOKS__CLIENT_ID": self.quickbooks.client_id,
            "MSPILOT_QUICKBOOKS__CLIENT_SECRET": self.quickbooks.client_secret,
            "MSPILOT_QUICKBOOKS__REFRESH_TOKEN": "rt-initial",
        }


@contextmanager
def serve_fakes(
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    clock: FakeClock | None = None,
    superops_faults: Faults | None = None,
    quickbooks_faults: Faults | None = None,
) -> Iterator[FakeVendors]:
    """Start both fakes for a canonical dataset; stop them on exit."""
    data = split_dataset(tables)
    clock = clock or FakeClock()
    so = SuperOpsFake(data.superops, clock=clock, faults=superops_faults)
    qb = QuickBooksFake(data.quickbooks, clock=clock, faults=quickbooks_faults)
    so_server = ServedApp(so.app()).start()
    try:
        qb_server = ServedApp(qb.app()).start()
        try:
            yield FakeVendors(data, so, qb, so_server, qb_server, clock)
        finally:
            qb_server.stop()
    finally:
        so_server.stop()


def technician_costs(tables: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Decimal]:
    """Loaded hourly costs by e-mail (SuperOps has no such field; an MSP configures them)."""
    return {
        str(t["email"]).lower(): Decimal(str(t["hourly_cost"]))
        for t in tables.get("technicians", [])
        if t.get("email") and t.get("hourly_cost") is not None
    }


def sync_through(
    engine: Engine,
    tenant_id: str,
    vendors: FakeVendors,
    *,
    http: httpx.Client,
    now: Any,
    hourly_costs: Mapping[str, Decimal] | None = None,
    secret_key: str = DEMO_SECRET_KEY,
    retry: RetryPolicy | None = None,
    unthrottled: bool = True,
    force_full: bool = False,
    progress: ProgressFn | None = None,
    superops_page_size: int | None = None,
    quickbooks_page_size: int | None = None,
) -> list[SyncSummary]:
    """One SuperOps sync then one QuickBooks sync into ``engine``."""
    retry = retry or RetryPolicy(initial_wait_s=0.05, max_wait_s=1.0, jitter_s=0.05)
    so_settings = vendors.superops_settings()
    qb_settings = vendors.quickbooks_settings()
    so = SuperOpsSource(
        so_settings,
        http,
        retry=retry,
        throttle=Throttle(100_000) if unthrottled else None,
        hourly_costs=hourly_costs,
        page_size=superops_page_size,
    )
    qb = QuickBooksSource(
        qb_settings,
        http,
        engine=engine,
        tenant_id=tenant_id,
        secret_key=secret_key,
        now=now,
        retry=retry,
        throttle=Throttle(100_000, max_concurrent=10) if unthrottled else None,
        page_size=quickbooks_page_size,
    )
    summaries = []
    for source in (so, qb):
        ctx = SyncContext(engine, tenant_id, now=now, force_full=force_full, progress=progress)
        summaries.append(run_source(source, ctx))
    return summaries


def dataset_as_of(dataset: Any) -> dt.date:
    as_of = getattr(dataset, "as_of", None) or getattr(
        getattr(dataset, "truth", None), "as_of", None
    )
    if isinstance(as_of, dt.date):
        return as_of
    latest = dt.date(2000, 1, 1)
    for rows in dataset.tables.values():
        for row in rows:
            for value in row.values():
                if isinstance(value, dt.datetime):
                    latest = max(latest, value.date())
                elif isinstance(value, dt.date):
                    latest = max(latest, value)
    return latest


@dataclass
class DemoSyncResult:
    summaries: list[SyncSummary]
    ids: IdMap
    seconds: float
    records: int = 0
    problems: list[str] = field(default_factory=list)

    tenant_id: str = ""

    def canonical_id(self, table: str, external_id: str) -> str | None:
        """The database row id of a dataset row (ground truth names rows by the generator's
        external ids; through the fakes they land under vendor ids). SuperOps wins where a
        fact lives in both (one row per fact)."""
        for vendor in ("superops", "quickbooks"):
            vendor_id = self.ids.get(vendor, table, external_id)
            if vendor_id is not None:
                return make_id(self.tenant_id, vendor, vendor_id)
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "summaries": [s.as_dict() for s in self.summaries],
            "records": self.records,
            "seconds": round(self.seconds, 3),
            "problems": self.problems,
        }


def sync_demo_through_fakes(
    engine: Engine,
    dataset: Any,
    *,
    as_of: dt.date | None = None,
    secret_key: str | None = None,
    progress: ProgressFn | None = None,
    verify: bool = False,
) -> DemoSyncResult:
    """Load ``dataset`` (``.tenant``, ``.tables``) into ``engine`` through the fakes and the
    real connectors. With ``verify`` the loaded rows are compared with the dataset."""
    import time

    tenant = dataset.tenant
    with engine.begin() as conn:
        upsert_tenant(
            conn,
            tenant.id,
            tenant.name,
            currency=getattr(tenant, "currency", "USD"),
            timezone=getattr(tenant, "timezone", "UTC"),
            max_discount_pct=float(getattr(tenant, "max_discount_pct", 10)),
        )
    day = as_of or dataset_as_of(dataset)
    clock = FakeClock(dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.UTC))
    started = time.perf_counter()
    with serve_fakes(dataset.tables, clock=clock) as vendors, make_http_client(30) as http:
        summaries = sync_through(
            engine,
            tenant.id,
            vendors,
            http=http,
            now=clock.now,
            hourly_costs=technician_costs(dataset.tables),
            secret_key=secret_key or DEMO_SECRET_KEY,
            progress=progress,
        )
        ids = vendors.ids
    result = DemoSyncResult(
        summaries,
        ids,
        time.perf_counter() - started,
        sum(s.records for s in summaries),
        tenant_id=tenant.id,
    )
    if verify:
        from mspilot.connectors.fakes.compare import compare_with_dataset

        result.problems = compare_with_dataset(engine, tenant.id, dataset.tables, ids)
    return result
