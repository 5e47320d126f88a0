"""The API's background audit writer on both databases: batches land whole, and a row the
database refuses costs only itself, never the rest of its batch."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from mspilot.api.audit_writer import AuditWriter
from mspilot.db.audit import AuditRecord, recent_events
from mspilot.db.loader import upsert_tenant


def _record(tenant: str, i: int) -> AuditRecord:
    return AuditRecord(
        tenant_id=tenant, role="owner", action="data", resource=f"GET /v1/churn?i={i}", status=200
    )


def test_submitted_rows_are_written_and_a_refused_row_costs_only_itself(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "T")
    writer = AuditWriter(engine, interval_s=60)  # written on flush only
    try:
        for i in range(5):
            writer.submit(_record("t", i))
        writer.submit(_record("no-such-tenant", 99))  # a foreign-key violation
        for i in range(5, 10):
            writer.submit(_record("t", i))
        writer.flush(timeout_s=120)  # returns once the writer has taken every row
    finally:
        writer.close()
    written = {e["resource"] for e in recent_events(engine, "t", limit=100)}
    assert written == {f"GET /v1/churn?i={i}" for i in range(10)}
    assert recent_events(engine, "no-such-tenant") == []


def test_a_failing_database_is_not_retried_row_by_row(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def down(_engine: Engine, rows: list[object]) -> None:
        calls.append(len(rows))
        raise OSError("database unavailable")

    monkeypatch.setattr("mspilot.api.audit_writer.record_rows", down)
    writer = AuditWriter(engine, interval_s=60)
    try:
        for i in range(100):
            writer.submit(_record("t", i))
        writer.flush(timeout_s=120)  # returns once the writer has taken every row
    finally:
        writer.close()
    assert calls == [100, 1, 1, 1]  # the batch, then three single rows, then it gives up
