"""The audit trail on both databases: records round-trip, newest first, scoped by tenant."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from mspilot.db.audit import (
    ROW_COLUMNS,
    AuditRecord,
    for_caller,
    recent_events,
    record_events,
    record_rows,
)
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


def test_a_batch_is_written_whole_with_awkward_values(engine: Engine) -> None:
    """Thousands of rows in one statement: quotes, newlines, unicode, NULLs and JSON columns
    arrive unchanged, and the times sort and read back as the ORM writes them."""
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "T")
    t0 = dt.datetime(2026, 11, 2, 8, 30, 0, 250, tzinfo=dt.UTC)
    awkward = 'it\'s "quoted"\nand ünïcødé; DROP TABLE x; --'
    rows = [
        AuditRecord(
            tenant_id="t",
            role="owner",
            action="data",
            resource=f"GET /v1/churn?i={i}",
            status=200 if i % 7 else 403,
            user_id=None if i % 3 == 0 else f"u{i}",
            question=awkward if i % 2 else None,
            tools=[{"name": "sql", "args": {"q": awkward}}] if i % 5 == 0 else [],
            rows_out=i,
            fields_out=["risk_90d", "drivers"] if i % 4 == 0 else (),
            at=t0 + dt.timedelta(seconds=i),
        ).row()
        for i in range(2500)
    ]
    record_rows(engine, rows)
    events = recent_events(engine, "t", limit=3000)
    assert len(events) == 2500
    newest = events[0]
    assert newest["resource"] == "GET /v1/churn?i=2499" and newest["at"] == t0 + dt.timedelta(
        seconds=2499
    )
    by_rows = {e["rows_out"]: e for e in events}
    assert by_rows[5]["question"] == awkward and by_rows[5]["tools"][0]["args"]["q"] == awkward
    assert by_rows[4]["fields_out"] == ["risk_90d", "drivers"] and by_rows[4]["question"] is None
    assert by_rows[3]["user_id"] is None and by_rows[7]["status"] == 403
    assert by_rows[0]["at"] == t0


def test_a_replayed_row_names_its_own_caller_and_time() -> None:
    before = dt.datetime.now(dt.UTC)
    original = AuditRecord(
        tenant_id="t",
        role="finance",
        action="data",
        resource="GET /v1/margins",
        status=200,
        user_id="first",
        request_id="r1",
        rows_out=20,
        fields_out=["margin"],
        at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    ).row()
    again = dict(zip(ROW_COLUMNS, for_caller(original, "second", "r2"), strict=True))
    assert again["user_id"] == "second" and again["request_id"] == "r2"
    assert again["at"] >= before
    unchanged = dict(zip(ROW_COLUMNS, original, strict=True))
    for column in ROW_COLUMNS:
        if column not in ("user_id", "request_id", "at"):
            assert again[column] == unchanged[column], column
    # a row is flat (no containers), so a backlog of them gives the garbage collector no work
    assert not any(isinstance(v, list | dict | set | tuple) for v in original)
