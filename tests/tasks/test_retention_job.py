"""The nightly ``retention`` task enforces a tenant's stored retention periods (SQLite and
PostgreSQL): audit events and conversations older than them go, younger ones and other
tenants' stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine, insert, select

from mspilot.db.loader import create_tenant
from mspilot.db.privacy import Retention, set_retention
from mspilot.db.schema_api import AuditEvent
from mspilot.tasks import jobs
from mspilot.tasks.engine import TaskEngine
from mspilot.tasks.schedule import due
from support.privacy_world import audit_row

from .conftest import settings_for, task_settings


def test_the_nightly_task_deletes_only_what_is_older(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    for tenant in ("keep", "other"):
        create_tenant(engine, tenant)
    set_retention(engine, "keep", Retention(chat_days=None, audit_days=30))
    with engine.begin() as conn:
        for tenant in ("keep", "other"):
            for age in (1, 29, 31, 300):
                row = audit_row(tenant, None, now - dt.timedelta(days=age))
                conn.execute(insert(AuditEvent).values(**row))
    settings = settings_for(db_url, tmp_path)
    ctx = jobs.JobContext(settings, task_settings(), engine, "w1", lambda *_: None)

    result = jobs.JOBS["retention"](ctx, tenant_id="keep")

    assert result["audit_events"] == 2 and result["applied"] is True
    with engine.connect() as conn:
        left = {
            t: sorted(
                (now - a).days
                for a in conn.scalars(select(AuditEvent.at).where(AuditEvent.tenant_id == t))
            )
            for t in ("keep", "other")
        }
    assert left == {"keep": [1, 29], "other": [1, 29, 31, 300]}
    assert jobs.JOBS["retention"](ctx, tenant_id="other")["audit_events"] == 0  # no policy

    night = dt.datetime(2026, 11, 3, 2, 30, tzinfo=dt.UTC)  # UTC tenants: training hour
    slots = {d.slot for d in due(TaskEngine(settings, task_settings(), engine=engine), night)}
    assert {"retention:keep@2026-11-03", "retention:other@2026-11-03"} <= slots
