"""Fixtures for the task engine: a small generated MSP served by both vendor fakes, settings
pointing the connectors at them, and a private queue name per test on the real brokers."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mspilot.connectors.demo_sync import DEMO_SECRET_KEY, FakeVendors, serve_fakes
from mspilot.connectors.fakes.common import FakeClock
from mspilot.connectors.fakes.sample import SampleDataset, SampleTenant
from mspilot.core.settings import Settings
from mspilot.tasks.settings import TaskSettings, TasksGroup

TENANT = "acme"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture
def dataset() -> SampleDataset:
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    generated = generate_tenant(DemoConfig(n_clients=5, years=1), 0)
    return SampleDataset(
        SampleTenant(TENANT, generated.tenant.name), generated.truth.as_of, generated.tables
    )


@pytest.fixture
def vendors(dataset: SampleDataset) -> Iterator[FakeVendors]:
    clock = FakeClock(dt.datetime.combine(dataset.as_of, dt.time(23, 59, 30), tzinfo=dt.UTC))
    with serve_fakes(dataset.tables, clock=clock) as fakes:
        yield fakes


def settings_for(
    url: str, data_dir: Path, vendors: FakeVendors | None = None, today: dt.date | None = None
) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "data_dir": data_dir,
        "secret_key": DEMO_SECRET_KEY,
        "today": today,
    }
    if vendors is not None:
        values["superops"] = vendors.superops_settings(requests_per_minute=100_000, page_size=20)
        values["quickbooks"] = vendors.quickbooks_settings(
            requests_per_minute=100_000, page_size=10
        )
    return Settings(**values)


def task_settings(broker_url: str | None = None, **tasks: Any) -> TaskSettings:
    """A private queue per test, quick retries."""
    group = {
        "queue": f"mspilot-test-{uuid.uuid4().hex[:10]}",
        "min_backoff_ms": 50,
        "max_backoff_ms": 200,
        "max_retries": 2,
        "redis_heartbeat_timeout_ms": 3000,
    } | tasks
    return TaskSettings(broker_url=broker_url, redis_url=None, tasks=TasksGroup(**group))
