"""The audit trail on both databases: records round-trip, newest first, scoped by tenant."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from mspilot.db.audit import AuditRecord, recent_events, record_events
from mspilot.db.loader import upsert_tenant


def test_audit_records_round_trip_per_tenant(engine: Engine) -> None:
    with engine.begin() as conn:
        upsert_tenant(conn, "a", "A")
        upsert_tenant(conn, "b", "B")
    t0 = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)
    record_events(
        engine,
        [
            AuditRecord(
                tenant_id="a",
                role="client_user",
                client_id="a.x.c1",
                action="chat",
                resource="thread t1",
                status=200,
                question="how many tickets?",
                tools=[{"name": "query_metrics", "args": {"metric": "tickets"}, "rows": 1}],
                rows_out=1,
                fields_out=["tickets"],
                at=t0,
            ),
            AuditRecord(
                tenant_id="a",
                role="owner",
                action="data",
                resource="GET /v1/margins",
                status=200,
                rows_out=20,
                fields_out=["margin"],
                at=t0 + dt.timedelta(minutes=1),
            ),
            AuditRecord(tenant_id="b", role="owner", action="auth", resource="login", status=200),
        ],
    )
    events = recent_events(engine, "a")
    assert [e["resource"] for e in events] == ["GET /v1/margins", "thread t1"]
    chat = events[1]
    assert chat["tools"][0]["name"] == "query_metrics" and chat["fields_out"] == ["tickets"]
    assert chat["at"] == t0 and chat["client_id"] == "a.x.c1"
    assert [e["action"] for e in recent_events(engine, "b")] == ["auth"]
    record_events(engine, [])  # nothing to write is fine
