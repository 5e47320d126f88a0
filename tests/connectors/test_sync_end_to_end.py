"""The real connectors over HTTP against both fakes: full sync equals the dataset, incremental
sync picks up only changes, fault storms are survived (SQLite and PostgreSQL where it matters)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select, text

from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.db.entity_map import list_links
from mspilot.db.schema import DataQualityIssue, Invoice, TimeEntry

TENANT = "sample"


def test_full_sync_through_both_fakes_equals_the_dataset(engine: Engine, syncer: Any) -> None:
    summaries = syncer.both(engine)
    problems = compare_with_dataset(engine, TENANT, syncer.dataset.tables, syncer.vendors.ids)
    assert problems == []
    assert all(s.issues == 0 for s in summaries)
    # one fact, one row: every client carries both external ids, QuickBooks copies of
    # SuperOps invoices are linked to the SuperOps rows, not loaded twice
    links = list_links(engine, TENANT)
    assert sum(link.kind == "client" for link in links) == len(syncer.dataset.tables["clients"])
    assert sum(link.kind == "invoice" for link in links) == len(
        syncer.vendors.data.superops_invoices & syncer.vendors.data.qbo_invoices
    )
    with engine.connect() as conn:
        live = conn.scalar(
            select(func.count()).select_from(Invoice).where(Invoice.deleted_at.is_(None))
        )
        linked = conn.scalar(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.superops_invoice_id.is_not(None), Invoice.qbo_invoice_id.is_not(None))
        )
    assert live == len(syncer.dataset.tables["invoices"])
    assert linked == sum(link.kind == "invoice" for link in links)


def test_second_sync_changes_nothing(sqlite_engine: Engine, syncer: Any) -> None:
    syncer.both(sqlite_engine)
    before = syncer.snapshot(sqlite_engine)
    syncer.clock.advance(5)
    again = [syncer.superops(sqlite_engine), syncer.quickbooks(sqlite_engine)]
    for summary in again:
        totals = summary.totals()
        assert (totals["inserted"], totals["updated"], totals["deleted"]) == (0, 0, 0), summary
    assert syncer.snapshot(sqlite_engine) == before


def test_incremental_sync_picks_up_only_changes(sqlite_engine: Engine, syncer: Any) -> None:
    syncer.both(sqlite_engine)
    so, qb = syncer.vendors.superops, syncer.vendors.quickbooks
    syncer.clock.advance(3600)

    # in SuperOps: two tickets change, one worklog entry is added
    changed = [
        t["ticketId"]
        for t in so.data.tickets
        if (t["status"], t["priority"]) != ("Closed", "Urgent")
    ][:2]
    for ticket_id in changed:
        so.update_ticket(ticket_id, status="Closed", priority="Urgent")
    entry = dict(so.data.worklogs["TICKET"][0])
    entry |= {"itemId": "9000000000000000001", "qty": "1.25", "status": "APPROVED"}
    entry["billDateTime"] = syncer.dataset.as_of.isoformat() + "T10:00:00"
    so.add_worklog(entry)
    # in QuickBooks: an invoice is partly reopened (a refund), a payment is deleted
    open_invoice = next(i for i in qb.entities["Invoice"].values() if i["TotalAmt"] > 0)
    qb.update("Invoice", open_invoice["Id"], Balance=1.0, DueDate="2099-01-01")
    doomed = next(iter(qb.entities["Payment"]))
    qb.delete("Payment", doomed)
    syncer.clock.advance(60)

    so_summary = syncer.superops(sqlite_engine)
    tickets = syncer.stream(so_summary, "tickets")
    assert tickets.mode == "incremental"
    assert tickets.updated == 2 and tickets.inserted == 0
    assert tickets.records < 20  # the changed tickets (+ a lookback overlap), not all 257
    worklogs = syncer.stream(so_summary, "worklog_entries")
    assert worklogs.inserted == 1 and worklogs.updated == 0

    qb_summary = syncer.quickbooks(sqlite_engine)
    assert {s.mode for s in qb_summary.streams if s.stream != "items"} == {"cdc"}
    invoices = syncer.stream(qb_summary, "invoices")
    assert invoices.records == 1 and invoices.updated == 1
    assert syncer.stream(qb_summary, "payments").deleted == 1
    with sqlite_engine.connect() as conn:
        status, balance = conn.execute(
            select(Invoice.status, Invoice.balance).where(
                Invoice.qbo_invoice_id == open_invoice["Id"]
            )
        ).one()
        priorities = conn.execute(
            text("SELECT priority, status FROM tickets WHERE external_id IN (:a, :b)"),
            {"a": changed[0], "b": changed[1]},
        ).all()
        new_entry = conn.scalar(
            select(TimeEntry.hours).where(TimeEntry.external_id == "9000000000000000001")
        )
    assert (status, balance) == ("open", Decimal("1.00"))
    assert priorities == [("p1", "closed"), ("p1", "closed")]
    assert new_entry == Decimal("1.25")


def test_fault_storms_are_survived(sqlite_engine: Engine, syncer: Any) -> None:
    """30 % of requests fail (429 with Retry-After, 5xx, errors inside HTTP 200, repeated
    pages, expired QuickBooks tokens); the result is still exactly the dataset."""
    syncer.vendors.superops.faults.storm(0.3, ("429", "5xx", "error200", "repeat_page"))
    syncer.vendors.quickbooks.faults.storm(
        0.3, ("429", "5xx", "error200", "repeat_page", "expire_token")
    )
    syncer.vendors.superops.faults.push("429", "5xx", "error200", "repeat_page")
    syncer.vendors.quickbooks.faults.push("expire_token", "429", "5xx", "error200", "repeat_page")
    syncer.tenant(sqlite_engine)
    so = syncer.superops(sqlite_engine, retry=_patient(), page_size=40)
    qb = syncer.quickbooks(sqlite_engine, retry=_patient(), page_size=25)
    so_faults = syncer.vendors.superops.faults.injected
    qb_faults = syncer.vendors.quickbooks.faults.injected
    assert set(so_faults) == {"429", "5xx", "error200", "repeat_page"}
    assert set(qb_faults) == {"429", "5xx", "error200", "repeat_page", "expire_token"}
    assert sum(so_faults.values()) + sum(qb_faults.values()) >= 12
    assert syncer.vendors.quickbooks.refreshes >= 2  # expired tokens were refreshed
    assert so.issues == 0 and qb.issues == 0
    assert (
        compare_with_dataset(sqlite_engine, TENANT, syncer.dataset.tables, syncer.vendors.ids) == []
    )
    with sqlite_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DataQualityIssue)) == 0


def test_timeouts_are_retried(sqlite_engine: Engine, syncer: Any) -> None:
    import httpx

    syncer.vendors.superops.faults.hang_s = 0.3
    syncer.vendors.superops.faults.push("timeout", "timeout")
    syncer.tenant(sqlite_engine)
    with httpx.Client(timeout=httpx.Timeout(0.1)) as impatient:
        summary = syncer.superops(sqlite_engine, http=impatient)
    assert syncer.vendors.superops.faults.injected["timeout"] == 2
    assert summary.issues == 0
    assert syncer.stream(summary, "clients").inserted == len(syncer.dataset.tables["clients"])


def _patient() -> Any:
    from mspilot.connectors.http import RetryPolicy

    return RetryPolicy(max_attempts=30, initial_wait_s=0.001, max_wait_s=0.005, jitter_s=0.001)


def test_demo_sync_function_loads_the_dataset(sqlite_engine: Engine, dataset: Any) -> None:
    from mspilot.connectors.demo_sync import sync_demo_through_fakes

    result = sync_demo_through_fakes(sqlite_engine, dataset, verify=True)
    assert result.problems == []
    # ground truth names rows by the generator's ids: the result maps them to database rows
    some_line = dataset.tables["invoice_lines"][0]["external_id"]
    row_id = result.canonical_id("invoice_lines", some_line)
    with sqlite_engine.connect() as conn:
        found = conn.scalar(text("SELECT count(*) FROM invoice_lines WHERE id = :i"), {"i": row_id})
    assert found == 1
    assert result.records >= sum(len(v) for k, v in dataset.tables.items() if k != "invoice_lines")
