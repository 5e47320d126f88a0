"""Fixtures for the connector tests: the sample MSP served by both fakes on real sockets, a
pinned clock shared by fakes and connectors, and sync helpers with tiny retry waits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from mspilot.connectors.base import SyncContext
from mspilot.connectors.demo_sync import (
    DEMO_SECRET_KEY,
    FakeVendors,
    serve_fakes,
    technician_costs,
)
from mspilot.connectors.fakes.common import FakeClock
from mspilot.connectors.fakes.sample import SampleDataset, SampleTenant, sample_dataset
from mspilot.connectors.http import RetryPolicy, Throttle, make_http_client
from mspilot.connectors.quickbooks.source import QuickBooksSource
from mspilot.connectors.runner import SyncSummary, run_source
from mspilot.connectors.superops.source import SuperOpsSource
from mspilot.db.loader import upsert_tenant
from mspilot.db.schema import TABLES_BY_NAME

TENANT = "sample"


def fast_retry(attempts: int = 12) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, initial_wait_s=0.001, max_wait_s=0.01, jitter_s=0.001)


@pytest.fixture
def dataset() -> SampleDataset:
    """The demo generator's MSP (small), under the tenant id the tests use; the hand-written
    sample (``fakes/sample.py``) stands in if the generator is unavailable."""
    try:
        from mspilot.synthetic.config import DemoConfig
        from mspilot.synthetic.generator import generate_tenant
    except ImportError:  # pragma: no cover - the generator is part of the package
        return sample_dataset(tenant_id=TENANT)
    generated = generate_tenant(DemoConfig(n_clients=5, years=1), 0)
    return SampleDataset(
        SampleTenant(TENANT, generated.tenant.name), generated.truth.as_of, generated.tables
    )


@pytest.fixture
def clock(dataset: SampleDataset) -> FakeClock:
    # after every time in the data, on the as-of day (the connectors' "today")
    return FakeClock(dt.datetime.combine(dataset.as_of, dt.time(23, 59, 30), tzinfo=dt.UTC))


@pytest.fixture
def vendors(dataset: SampleDataset, clock: FakeClock) -> Iterator[FakeVendors]:
    with serve_fakes(dataset.tables, clock=clock) as fakes:
        yield fakes


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with make_http_client(5.0) as client:
        yield client


@dataclass
class Syncer:
    """Runs the real connectors against the fakes."""

    vendors: FakeVendors
    clock: FakeClock
    http: httpx.Client
    dataset: SampleDataset

    def tenant(self, engine: Engine) -> None:
        with engine.begin() as conn:
            upsert_tenant(conn, TENANT, "Sample MSP")

    def superops_source(self, **kw: Any) -> SuperOpsSource:
        settings = kw.pop("settings", None) or self.vendors.superops_settings()
        return SuperOpsSource(
            settings,
            kw.pop("http", self.http),
            retry=kw.pop("retry", fast_retry()),
            throttle=kw.pop("throttle", Throttle(100_000)),
            hourly_costs=technician_costs(self.dataset.tables),
            **kw,
        )

    def quickbooks_source(self, engine: Engine, **kw: Any) -> QuickBooksSource:
        settings = kw.pop("settings", None) or self.vendors.quickbooks_settings()
        return QuickBooksSource(
            settings,
            kw.pop("http", self.http),
            engine=engine,
            tenant_id=TENANT,
            secret_key=kw.pop("secret_key", DEMO_SECRET_KEY),
            now=self.clock.now,
            retry=kw.pop("retry", fast_retry()),
            throttle=kw.pop("throttle", Throttle(100_000, max_concurrent=10)),
            **kw,
        )

    def run(self, source: Any, engine: Engine, *, force_full: bool = False) -> SyncSummary:
        return run_source(
            source, SyncContext(engine, TENANT, now=self.clock.now, force_full=force_full)
        )

    def superops(self, engine: Engine, **kw: Any) -> SyncSummary:
        force_full = kw.pop("force_full", False)
        return self.run(self.superops_source(**kw), engine, force_full=force_full)

    def quickbooks(self, engine: Engine, **kw: Any) -> SyncSummary:
        force_full = kw.pop("force_full", False)
        return self.run(self.quickbooks_source(engine, **kw), engine, force_full=force_full)

    @staticmethod
    def snapshot(engine: Engine, tenant: str = TENANT) -> dict[str, list[tuple[Any, ...]]]:
        """Every synced row of a tenant (all columns but synced_at), for exact comparisons."""
        out: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for name, model in TABLES_BY_NAME.items():
                cols = [c for c in model.__table__.columns if c.name != "synced_at"]
                rows = conn.execute(
                    select(*cols).where(model.tenant_id == tenant).order_by(model.id)
                )
                out[name] = [tuple(r) for r in rows]
        return out

    @staticmethod
    def stream(summary: SyncSummary, name: str) -> Any:
        return next(s for s in summary.streams if s.stream == name)

    def both(self, engine: Engine) -> list[SyncSummary]:
        self.tenant(engine)
        return [self.superops(engine), self.quickbooks(engine)]


@pytest.fixture
def syncer(
    vendors: FakeVendors, clock: FakeClock, http: httpx.Client, dataset: SampleDataset
) -> Syncer:
    return Syncer(vendors, clock, http, dataset)
