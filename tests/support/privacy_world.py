"""A small world for the privacy tests: two generated tenants (fresh ids each call, so one
database can hold several), each client with a client user, a sent insight, feedback naming it
and audit events of its own; and the oracle of a client's rows from the generated data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
from typing import Any

from sqlalchemy import Engine, func, insert, select

from mspilot.cli.demo import load_demo_tenant
from mspilot.core.ids import make_id
from mspilot.db.schema import Base
from mspilot.db.schema_api import AuditEvent, User
from mspilot.db.schema_insights import InsightFeedback, InsightSent
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import SOURCE, TenantDataset, generate_tenant

NOW = dt.datetime(2026, 11, 30, 12, tzinfo=dt.UTC)
OWNED = ("contracts", "tickets", "invoices", "time_entries", "payments", "assets", "licenses")
fresh = itertools.count()


@functools.cache
def _generated(index: int) -> TenantDataset:
    return generate_tenant(DemoConfig(seed=3, n_clients=4, years=1, n_tenants=2), index)


def load_world(engine: Engine) -> list[TenantDataset]:
    """Two tenants with fresh ids (so one database can hold several worlds), each client with
    a client user, a sent insight, feedback naming it and audit events of its own."""
    worlds = []
    for index in range(2):
        data = _generated(index)
        spec = dataclasses.replace(data.tenant, id=f"w{next(fresh)}")
        world = dataclasses.replace(data, tenant=spec)
        report = load_demo_tenant(engine, spec, world.tables)
        assert report.issues == []
        with engine.begin() as conn:
            for row in world.tables["clients"]:
                cid = make_id(spec.id, SOURCE, row["external_id"])
                conn.execute(insert(User).values(**_user(spec.id, cid)))
                conn.execute(insert(InsightSent).values(**_insight(spec.id, cid)))
                conn.execute(
                    insert(InsightFeedback).values(
                        tenant_id=spec.id,
                        key=f"churn_risk:{cid}",
                        detector="churn_risk",
                        verdict="wrong",
                        via="cli",
                        created_at=NOW,
                    )
                )
                conn.execute(insert(AuditEvent).values(**audit_row(spec.id, cid, NOW)))
            conn.execute(insert(AuditEvent).values(**audit_row(spec.id, None, NOW)))
            for row in world.tables["clients"]:  # the owner asking about each client by name
                asked = audit_row(spec.id, None, NOW) | {"question": f"Is {row['name']} at risk?"}
                conn.execute(insert(AuditEvent).values(**asked))
        worlds.append(world)
    return worlds


def _user(tenant_id: str, client_id: str) -> dict[str, Any]:
    return {
        "id": f"u-{client_id}"[:40],
        "tenant_id": tenant_id,
        "email": f"{client_id}@example.com",
        "role": "client_user",
        "client_id": client_id,
        "created_at": NOW,
    }


def _insight(tenant_id: str, client_id: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "key": f"churn_risk:{client_id}",
        "detector": "churn_risk",
        "client_id": client_id,
        "title": "churn risk",
        "metric": 0.5,
        "dollars": 100.0,
        "first_sent_at": NOW,
        "last_sent_at": NOW,
    }


def audit_row(tenant_id: str, client_id: str | None, at: dt.datetime) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "role": "client_user" if client_id else "owner",
        "client_id": client_id,
        "at": at,
        "action": "chat",
        "resource": "/v1/chat",
        "question": "how are we doing?",
        "rows_out": 1,
        "status": 200,
    }


def expected_ids(world: TenantDataset, external_id: str) -> dict[str, set[str]]:
    """The canonical ids of the client's synced rows, from the generated data."""
    t = world.tenant.id

    def canonical(e: str) -> str:
        return make_id(t, SOURCE, e)

    out = {"clients": {canonical(external_id)}}
    for table in OWNED:
        rows = world.tables[table]
        out[table] = {canonical(r["external_id"]) for r in rows if r["client_id"] == external_id}
    invoices = {r["external_id"] for r in world.tables["invoices"] if r["client_id"] == external_id}
    lines = world.tables["invoice_lines"]
    out["invoice_lines"] = {
        canonical(r["external_id"]) for r in lines if r["invoice_id"] in invoices
    }
    return out


def table_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }
