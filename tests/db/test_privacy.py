"""Privacy requests on SQLite and PostgreSQL: the export holds exactly one client's rows, erasure
removes them and nothing else (and a later sync cannot bring them back), retention deletes only
what is older than the period.

The oracle is the generated data itself (external ids and their client), never the code under
test: a client's rows are computed from the generator's tables.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, insert, select

from mspilot.db.loader import Loader
from mspilot.db.privacy import (
    ERASED,
    TOMBSTONE_ACTION,
    ClientRef,
    client_data,
    erase_client,
    expire_audit,
    find_client,
)
from mspilot.db.schema import DataQualityIssue
from mspilot.db.schema_api import AuditEvent
from mspilot.synthetic.generator import SOURCE, TenantDataset
from support.privacy_world import NOW, audit_row, expected_ids, fresh, load_world, table_counts


def _pick(worlds: list[TenantDataset], data: st.DataObject) -> tuple[TenantDataset, str]:
    world = data.draw(st.sampled_from(worlds), label="tenant")
    ext = data.draw(st.sampled_from([r["external_id"] for r in world.tables["clients"]]))
    return world, ext


def _ref(engine: Engine, world: TenantDataset, ext: str) -> ClientRef:
    return find_client(engine, ext, world.tenant.id)


LOOSE = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@LOOSE
@given(data=st.data())
def test_export_holds_exactly_that_clients_rows(engine: Engine, data: st.DataObject) -> None:
    worlds = getattr(engine, "_privacy_worlds", None) or load_world(engine)
    engine._privacy_worlds = worlds  # type: ignore[attr-defined]  (one load per backend)
    world, ext = _pick(worlds, data)
    ref = _ref(engine, world, ext)
    exported = client_data(engine, ref)
    for table, ids in expected_ids(world, ext).items():
        assert {r["id"] for r in exported.tables[table]} == ids, table
        assert all(r["tenant_id"] == world.tenant.id for r in exported.tables[table])
    assert [u["client_id"] for u in exported.tables["users"]] == [ref.client_id]
    assert all("password_hash" not in u for u in exported.tables["users"])
    assert [i["client_id"] for i in exported.tables["insights_sent"]] == [ref.client_id]
    assert [f["key"] for f in exported.tables["insight_feedback"]] == [
        f"churn_risk:{ref.client_id}"
    ]
    assert [a["client_id"] for a in exported.tables["audit_events"]] == [ref.client_id]
    [asked] = exported.tables["audit_mentions"]
    assert asked["question"] == f"Is {ref.name} at risk?" and asked["client_id"] is None


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_erase_removes_the_client_and_nothing_else(engine: Engine, data: st.DataObject) -> None:
    worlds = load_world(engine)
    world, ext = _pick(worlds, data)
    ref = _ref(engine, world, ext)
    held = {t: n for t, n in client_data(engine, ref).counts().items() if t != "audit_mentions"}
    planted = {"users": 1, "insights_sent": 1, "insight_feedback": 1, "audit_events": 1}
    oracle = {t: len(ids) for t, ids in expected_ids(world, ext).items()} | planted
    assert {t: n for t, n in held.items() if n} == {t: n for t, n in oracle.items() if n}
    before = table_counts(engine)

    erasure = erase_client(engine, ref, actor="dpo@msp.example", now=lambda: NOW)

    after = table_counts(engine)
    assert {t: n for t, n in erasure.deleted.items() if n} == {t: n for t, n in held.items() if n}
    assert erasure.detached == 0  # the generator makes no cross-client references
    assert erasure.redacted == 1  # the owner's question naming it: blanked, the event kept
    expected = {t: n - held.get(t, 0) for t, n in before.items()}
    expected["audit_events"] += 1  # the tombstone
    expected["erased_rows"] += sum(len(ids) for ids in expected_ids(world, ext).values())
    assert after == expected
    assert sum(client_data(engine, ref).counts().values()) == 0
    for other in worlds:  # every other client still has all its rows
        for row in other.tables["clients"]:
            if (other.tenant.id, row["external_id"]) == (world.tenant.id, ext):
                continue
            still = client_data(engine, _ref(engine, other, row["external_id"]))
            for table, ids in expected_ids(other, row["external_id"]).items():
                assert {r["id"] for r in still.tables[table]} == ids, table

    with engine.connect() as conn:
        tombstones = conn.execute(
            select(AuditEvent.__table__).where(AuditEvent.action == TOMBSTONE_ACTION)
        ).mappings()
        [tomb] = [t for t in tombstones if t["tenant_id"] == world.tenant.id]
    assert tomb["user_id"] == "dpo@msp.example" and tomb["at"] == NOW
    assert tomb["rows_out"] == sum(held.values())
    assert tomb["question"] is None and tomb["tools"] is None and tomb["client_id"] is None
    client_row = next(r for r in world.tables["clients"] if r["external_id"] == ext)
    text = " ".join(str(v) for v in tomb.values()).casefold()
    for secret in (client_row["name"], client_row["email_domain"]):
        assert str(secret).casefold() not in text


def test_a_later_sync_refuses_an_erased_client_with_a_record(engine: Engine) -> None:
    worlds = load_world(engine)
    world = worlds[0]
    ext = world.tables["clients"][1]["external_id"]
    ref = _ref(engine, world, ext)
    erase_client(engine, ref, actor="cli")
    before = table_counts(engine)

    report = Loader(engine, world.tenant.id, SOURCE).load_all(world.tables)

    refused = {(i.table, i.key) for i in report.issues}
    assert ("clients", ext) in refused
    for table, ids in expected_ids(world, ext).items():  # its children are refused too
        assert report.tables[table].rejected == len(ids), table
    after = table_counts(engine)
    assert after["clients"] == before["clients"]
    assert after["orphan_rows"] == before["orphan_rows"]  # nothing of it waits in the queue
    assert after["data_quality_issues"] == before["data_quality_issues"] + len(report.issues)
    with engine.connect() as conn:
        reasons = set(
            conn.scalars(select(DataQualityIssue.reason).where(DataQualityIssue.record_key == ext))
        )
    assert ERASED in reasons
    assert sum(client_data(engine, ref).counts().values()) == 0

    new_ticket = dict(world.tables["tickets"][0], external_id="brand-new", client_id=ext)
    again = Loader(engine, world.tenant.id, SOURCE).load("tickets", [new_ticket])
    assert (again.rejected, again.inserted) == (1, 0)  # a new row naming it: refused, not queued
    assert table_counts(engine)["orphan_rows"] == before["orphan_rows"]


def test_unknown_or_ambiguous_client_is_a_clear_error(engine: Engine) -> None:
    from mspilot.core.errors import UserInputError

    worlds = load_world(engine)
    ext = worlds[0].tables["clients"][0]["external_id"]
    for wanted in ("no such client", "", ext):  # the external id repeats across tenants
        try:
            find_client(engine, wanted)
        except UserInputError as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{wanted!r} should not resolve to one client")
    assert find_client(engine, ext, worlds[0].tenant.id).tenant_id == worlds[0].tenant.id


@LOOSE
@given(
    ages=st.lists(st.integers(min_value=0, max_value=400), max_size=12), keep=st.integers(1, 365)
)
def test_audit_retention_deletes_only_older_events(
    engine: Engine, ages: list[int], keep: int
) -> None:
    tenant = f"r{next(fresh)}"
    other = f"r{next(fresh)}"
    from mspilot.db.loader import upsert_tenant

    with engine.begin() as conn:
        for t in (tenant, other):
            upsert_tenant(conn, t, t)
        for days in ages:
            for t in (tenant, other):
                conn.execute(
                    insert(AuditEvent).values(**audit_row(t, None, NOW - dt.timedelta(days)))
                )
        tomb = audit_row(tenant, None, NOW - dt.timedelta(1000)) | {"action": TOMBSTONE_ACTION}
        conn.execute(insert(AuditEvent).values(**tomb))
    cutoff = NOW - dt.timedelta(keep)
    older = sum(1 for d in ages if NOW - dt.timedelta(d) < cutoff)

    assert expire_audit(engine, tenant, cutoff, apply=False) == older
    assert expire_audit(engine, tenant, cutoff, apply=True) == older
    with engine.connect() as conn:
        kept = list(
            conn.execute(
                select(AuditEvent.at, AuditEvent.action).where(AuditEvent.tenant_id == tenant)
            )
        )
        others = conn.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == other)
        )
    assert sorted(a for a, action in kept if action != TOMBSTONE_ACTION) == sorted(
        NOW - dt.timedelta(d) for d in ages if NOW - dt.timedelta(d) >= cutoff
    )
    assert [action for _, action in kept].count(TOMBSTONE_ACTION) == 1  # tombstones stay
    assert others == len(ages)  # another tenant's events are untouched
