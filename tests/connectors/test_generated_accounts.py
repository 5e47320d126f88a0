"""Accounts generated from the SuperOps schema: the connector never crashes, and every record
an account serves loads, is refused with a reason, or waits for its parent (never lost)."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from mspilot.connectors.fakes.generated import Account, accounting, accounts, sync_account
from mspilot.db.loader import upsert_tenant

_tenants = itertools.count()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(account=accounts())
def test_a_generated_account_loses_no_record(sqlite_engine: Engine, account: Account) -> None:
    tenant = f"gen{next(_tenants)}"
    with sqlite_engine.begin() as conn:
        upsert_tenant(conn, tenant, tenant)
    summary = sync_account(sqlite_engine, tenant, account)
    books = accounting(sqlite_engine, tenant, account)
    assert books.lost == []
    assert summary.status in ("completed", "completed with warnings")
    if account.forbidden - {"getClientCustomFieldList"}:
        assert summary.skipped  # a list the token may not read is a recorded warning
    # a second sync of the same account changes nothing and loses nothing
    again = sync_account(sqlite_engine, tenant, account)
    assert accounting(sqlite_engine, tenant, account).lost == []
    assert again.totals()["inserted"] == 0
