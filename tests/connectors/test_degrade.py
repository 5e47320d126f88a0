"""Accounts unlike our fake: a missing optional attribute is derived (a warning), a refused
parent's children wait and land when it arrives, a list the token may not read is skipped."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from mspilot.connectors.errors import SourceAuthError
from mspilot.core.ids import make_id
from mspilot.db.schema import Client, Contract, DataQualityIssue, Ticket
from mspilot.db.schema_connectors import OrphanRow

CHURN_FIELD = "udf4date"


def _issues(engine: Engine, severity: str) -> list[tuple[str, str, str]]:
    dq = DataQualityIssue
    with engine.connect() as conn:
        rows = conn.execute(
            select(dq.table_name, dq.record_key, dq.reason).where(dq.severity == severity)
        )
        return [tuple(r) for r in rows]


def _client_with_contract_end(syncer: Any) -> dict[str, Any]:
    """A client with a contract that ended before the as-of day."""
    so = syncer.vendors.superops.data
    as_of = syncer.dataset.as_of.isoformat()
    ended = {c["client"]["accountId"] for c in so.contracts if (c.get("endDate") or "9") < as_of}
    return next(c for c in so.clients if c["accountId"] in ended)


def test_a_churned_client_without_a_churn_date_field_is_derived_not_refused(
    syncer: Any, sqlite_engine: Engine
) -> None:
    so = syncer.vendors.superops.data
    # an account that keeps no churn-date custom field at all
    so.client_custom_fields[:] = [f for f in so.client_custom_fields if "hurn" not in f["label"]]
    for client in so.clients:
        (client.get("customFields") or {}).pop(CHURN_FIELD, None)
    target = _client_with_contract_end(syncer)
    target["stage"] = "Inactive"
    syncer.tenant(sqlite_engine)
    summary = syncer.superops(sqlite_engine)

    row_id = make_id("sample", "superops", target["accountId"])
    with sqlite_engine.connect() as conn:
        status, churned_on = conn.execute(
            select(Client.status, Client.churned_on).where(Client.id == row_id)
        ).one()
        last_end = conn.scalar(
            select(func.max(Contract.ends_on)).where(
                Contract.client_id == row_id, Contract.ends_on <= syncer.dataset.as_of
            )
        )
        tickets = conn.scalar(select(func.count()).where(Ticket.client_id == row_id))
    assert status == "churned"
    assert churned_on == last_end  # the first rule: the last contract end
    assert summary.issues == 0 and summary.warnings >= 1
    assert summary.status == "completed with warnings"
    warned = {key: reason for _t, key, reason in _issues(sqlite_engine, "warning")}
    assert "last_contract_end" in warned[target["accountId"]]
    expected_tickets = sum(
        1 for t in so.tickets if (t.get("client") or {}).get("accountId") == target["accountId"]
    )
    assert tickets == expected_tickets  # the client's history is all there

    # the account starts keeping the field: the next sync takes the source's value
    so.client_custom_fields.append(
        {"id": "cf-9", "columnName": "udf9date", "label": "Churn date", "fieldType": "DATE"}
    )
    given = last_end - dt.timedelta(days=1)
    target["customFields"] = dict(target.get("customFields") or {}, udf9date=given.isoformat())
    again = syncer.superops(sqlite_engine)
    assert again.warnings == 0 and again.issues == 0
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(Client.churned_on).where(Client.id == row_id)) == given


def test_a_refused_parent_keeps_its_children_waiting_until_it_arrives(
    syncer: Any, sqlite_engine: Engine
) -> None:
    so = syncer.vendors.superops.data
    target = _client_with_contract_end(syncer)
    account = target["accountId"]
    name = target["name"]
    target["name"] = " "  # refused by the canonical record (a name is required)

    def children() -> int:
        def mine(record: dict[str, Any]) -> bool:
            return (record.get("client") or {}).get("accountId") == account

        project_work = [w["workItem"] for w in so.worklogs.get("PROJECT", [])]
        listed = so.tickets + so.contracts + so.invoices + so.assets + so.unmonitored_assets
        return sum(mine(r) for r in listed + project_work)

    syncer.tenant(sqlite_engine)
    first = syncer.superops(sqlite_engine)
    # the client itself is refused, with its reason; nothing else is
    assert [(t, k) for t, k, _r in _issues(sqlite_engine, "error")] == [("clients", account)]
    assert first.issues == 1
    waiting = {(w["table"], w["waits_for"]): w["rows"] for w in first.waiting}
    with sqlite_engine.connect() as conn:
        parents = set(conn.scalars(select(OrphanRow.waits_for_id).distinct()))
        queued = conn.scalar(
            select(func.count()).where(
                OrphanRow.waits_for_id == make_id("sample", "superops", account)
            )
        )
    assert parents >= {make_id("sample", "superops", account)}
    assert queued == children() > 0  # every child of the client waits, none is dropped
    assert waiting[("tickets", "clients")] > 0

    target["name"] = name  # fixed at the source: the next sync loads it and its children
    second = syncer.superops(sqlite_engine)
    assert second.unblocked >= children()
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(OrphanRow)) == 0
        assert conn.scalar(
            select(func.count()).where(Ticket.client_id == make_id("sample", "superops", account))
        ) == sum(1 for t in so.tickets if (t.get("client") or {}).get("accountId") == account)


def test_a_forbidden_optional_partition_is_skipped_with_a_warning(
    syncer: Any, sqlite_engine: Engine
) -> None:
    syncer.vendors.superops.forbidden.add("getUnMonitoredAssetList")
    syncer.tenant(sqlite_engine)
    summary = syncer.superops(sqlite_engine)
    assert summary.status == "completed with warnings"
    assert [(s["stream"], s["partition"]) for s in summary.skipped] == [("assets", "unmonitored")]
    assert ("stream:assets", "unmonitored") in {
        (t, k) for t, k, _ in _issues(sqlite_engine, "warning")
    }
    assert syncer.stream(summary, "assets").inserted == len(syncer.vendors.superops.data.assets)
    assert syncer.stream(summary, "tickets").inserted > 0


def test_a_forbidden_optional_stream_is_skipped_and_its_dependants_wait(
    syncer: Any, sqlite_engine: Engine
) -> None:
    syncer.vendors.superops.forbidden.add("getTechnicianList")
    syncer.tenant(sqlite_engine)
    summary = syncer.superops(sqlite_engine)
    assert syncer.stream(summary, "technicians").mode == "skipped"
    assert summary.issues == 0
    # tickets load without their technician; time entries (a technician is required) wait
    assert syncer.stream(summary, "tickets").inserted == len(syncer.vendors.superops.data.tickets)
    waiting = {(w["table"], w["waits_for"]) for w in summary.waiting}
    assert ("time_entries", "technicians") in waiting


@pytest.mark.parametrize("query", ["getClientList", "getInvoiceList"])
def test_a_stream_the_product_needs_fails_the_sync_naming_the_fix(
    syncer: Any, sqlite_engine: Engine, query: str
) -> None:
    syncer.vendors.superops.forbidden.add(query)
    syncer.tenant(sqlite_engine)
    with pytest.raises(SourceAuthError, match="sources check"):
        syncer.superops(sqlite_engine)
