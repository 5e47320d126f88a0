"""The serving caches (``cached_features``, ``cached_pricing_inputs``) are keyed by the tenant's
data version: any load, sync or deletion is seen by the next call, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.db.loader import Loader, upsert_tenant
from mspilot.models.data import clear_versioned_caches, data_version
from mspilot.models.features import build_features, cached_features
from mspilot.models.pricing_data import cached_pricing_inputs
from support import fixtures_small

AS_OF = dt.date(2026, 8, 31)
TENANT = "cache"
C1 = "cache.demo.c1"
Tables = dict[str, list[dict[str, Any]]]


def _ticket(external_id: str, csat: int) -> dict[str, Any]:
    opened = dt.datetime(2026, 8, 10, 9, tzinfo=dt.UTC)
    return {
        "external_id": external_id,
        "client_id": "c1",
        "technician_id": "k1",
        "opened_at": opened,
        "resolved_at": opened + dt.timedelta(hours=4),
        "priority": "p3",
        "category": "Email",
        "status": "closed",
        "sla_breached": False,
        "csat": csat,
        "subject": "Mailbox full",
    }


@pytest.fixture
def loaded(engine: Engine) -> Iterator[tuple[Loader, Tables]]:
    """The small MSP loaded as tenant ``cache``, with empty caches before and after."""
    clear_versioned_caches()
    tables = fixtures_small.small_msp()
    with engine.begin() as conn:
        upsert_tenant(conn, TENANT, "Cache MSP", max_discount_pct=10.0)
    loader = Loader(engine, TENANT, "demo")
    loader.load_all(tables)
    yield loader, tables
    clear_versioned_caches()


def test_a_load_invalidates_the_cached_genome(
    engine: Engine, loaded: tuple[Loader, Tables]
) -> None:
    loader, tables = loaded
    first = cached_features(engine, TENANT, AS_OF)
    tickets = first.loc[C1, "tickets_3m"]

    # nothing changed: the same frame comes back, without a rebuild
    version = data_version(engine, TENANT)
    Loader(engine, TENANT, "demo").load_all(tables)  # every row unchanged: nothing written
    assert data_version(engine, TENANT) == version
    assert cached_features(engine, TENANT, AS_OF) is first

    # a new ticket arrives: seen at once
    loader.load("tickets", [_ticket("t-new", 5)])
    more = cached_features(engine, TENANT, AS_OF)
    assert more.loc[C1, "tickets_3m"] == tickets + 1
    assert more.loc[C1, "csat_mean_3m"] != first.loc[C1, "csat_mean_3m"]

    # a sync changes that ticket's CSAT (an update: no new rows)
    loader.load("tickets", [_ticket("t-new", 1)])
    changed = cached_features(engine, TENANT, AS_OF)
    assert changed.loc[C1, "csat_mean_3m"] < more.loc[C1, "csat_mean_3m"]

    # the source deletes it
    loader.mark_deleted("tickets", ["t-new"])
    fewer = cached_features(engine, TENANT, AS_OF)
    assert fewer.loc[C1, "tickets_3m"] == tickets
    # every answer is what a fresh build from the database says
    assert fewer.equals(build_features(engine, TENANT, AS_OF))


def test_a_contract_change_invalidates_the_cached_pricing_inputs(
    engine: Engine, loaded: tuple[Loader, Tables]
) -> None:
    loader, tables = loaded
    before = cached_pricing_inputs(engine, TENANT, dt.date(2026, 10, 31))
    assert cached_pricing_inputs(engine, TENANT, dt.date(2026, 10, 31)) is before
    contract = dict(tables["contracts"][0], unit_price=Decimal("165.00"))
    loader.load("contracts", [contract])
    after = cached_pricing_inputs(engine, TENANT, dt.date(2026, 10, 31))
    row = after.client_id.index(C1)
    assert before.price[before.client_id.index(C1)] == 150.0
    assert after.price[row] == 165.0
