"""QuickBooks specifics: OAuth refresh with rotation persisted encrypted, CDC vs full re-query,
deletes, Faults, paging, configuration errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, select

from mspilot.connectors.demo_sync import DEMO_SECRET_KEY
from mspilot.connectors.errors import SourceAuthError, SourceConfigError
from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.core.errors import ConfigurationError
from mspilot.db.bookmarks import get_bookmark, set_bookmark
from mspilot.db.credentials import CredentialStore, SecretBox
from mspilot.db.schema import Invoice, Payment
from mspilot.db.schema_connectors import SourceCredential

TENANT = "sample"


def _stored_refresh_token(engine: Engine) -> str:
    store = CredentialStore(engine, TENANT, "quickbooks", SecretBox.from_secret(DEMO_SECRET_KEY))
    stored = store.get("refresh_token")
    assert stored is not None
    return stored.value


def test_expired_token_is_refreshed_and_the_rotated_refresh_token_stored_encrypted(
    engine: Engine, syncer: Any
) -> None:
    qb = syncer.vendors.quickbooks
    syncer.tenant(engine)
    syncer.quickbooks(engine)
    assert qb.refreshes == 1
    first_rotation = qb.refresh_token
    assert first_rotation != "rt-initial"  # the fake rotated it; the old one is dead now
    assert _stored_refresh_token(engine) == first_rotation

    # the access token dies mid-life: the next call gets 401, refreshes, and carries on
    qb.faults.push("expire_token")
    syncer.clock.advance(120)
    summary = syncer.quickbooks(engine)
    assert qb.faults.injected["expire_token"] == 1
    assert qb.refreshes == 2
    assert summary.issues == 0
    assert _stored_refresh_token(engine) == qb.refresh_token != first_rotation

    # at rest the tokens are ciphertext only
    with engine.connect() as conn:
        blobs = conn.execute(select(SourceCredential.name, SourceCredential.ciphertext)).all()
    assert {name for name, _ in blobs} == {"refresh_token", "access_token"}
    for _name, blob in blobs:
        assert qb.refresh_token not in blob
        assert all(token not in blob for token in qb.access_tokens)

    # a new process still configured with the first (now dead) token uses the stored one
    syncer.clock.advance(7200)  # the cached access token has expired too
    again = syncer.quickbooks(engine)
    assert again.issues == 0 and qb.refreshes == 3


def test_a_revoked_refresh_token_stops_the_sync_with_advice(
    sqlite_engine: Engine, syncer: Any
) -> None:
    syncer.tenant(sqlite_engine)
    settings = syncer.vendors.quickbooks_settings(refresh_token="rt-revoked")
    with pytest.raises(SourceAuthError, match="reconnect QuickBooks"):
        syncer.quickbooks(sqlite_engine, settings=settings)
    bad_app = syncer.vendors.quickbooks_settings(client_secret="wrong")
    with pytest.raises(SourceAuthError, match="MSPILOT_QUICKBOOKS__CLIENT_SECRET"):
        syncer.quickbooks(sqlite_engine, settings=bad_app)


def test_wrong_realm_and_missing_settings_are_explained(sqlite_engine: Engine, syncer: Any) -> None:
    syncer.tenant(sqlite_engine)
    with pytest.raises(SourceAuthError, match="MSPILOT_QUICKBOOKS__REALM_ID"):
        syncer.quickbooks(sqlite_engine, settings=syncer.vendors.quickbooks_settings(realm_id="1"))
    with pytest.raises(SourceConfigError, match="MSPILOT_QUICKBOOKS__CLIENT_ID"):
        syncer.quickbooks(
            sqlite_engine, settings=syncer.vendors.quickbooks_settings(client_id=None)
        )
    with pytest.raises(ConfigurationError, match="MSPILOT_SECRET_KEY"):
        syncer.quickbooks(sqlite_engine, secret_key=None)


def test_a_bookmark_older_than_30_days_means_a_full_requery_that_finds_deletions(
    sqlite_engine: Engine, syncer: Any
) -> None:
    qb = syncer.vendors.quickbooks
    # a hardware sale billed from QuickBooks only (not in SuperOps)
    template = next(iter(qb.entities["Invoice"].values()))
    qbo_id = qb.next_id("Invoice")
    qb.add("Invoice", {**template, "Id": qbo_id, "DocNumber": "HW-9001", "Balance": 0.0})
    syncer.both(sqlite_engine)
    # that invoice and a payment disappear while we are not looking
    qb.delete("Invoice", qbo_id)
    payment = next(iter(qb.entities["Payment"]))
    qb.delete("Payment", payment)
    syncer.clock.advance(40 * 86400)
    qb.deleted = {k: {} for k in qb.deleted}  # CDC's memory is gone after 30 days anyway
    queries_before = len(qb.queries)
    summary = syncer.quickbooks(sqlite_engine)
    assert {s.mode for s in summary.streams} == {"full"}
    assert any(q.startswith("SELECT * FROM Invoice") for q in qb.queries[queries_before:])
    assert syncer.stream(summary, "invoices").deleted >= 2  # the invoice and its line
    assert syncer.stream(summary, "payments").deleted == 1
    with sqlite_engine.connect() as conn:
        gone = conn.scalar(select(Invoice.deleted_at).where(Invoice.qbo_invoice_id == qbo_id))
        paid = conn.scalar(select(Payment.deleted_at).where(Payment.external_id == payment))
    assert gone is not None and paid is not None


def test_cdc_marks_a_deleted_synced_invoice_and_superops_does_not_resurrect_it(
    sqlite_engine: Engine, syncer: Any
) -> None:
    qb = syncer.vendors.quickbooks
    syncer.both(sqlite_engine)
    both = sorted(syncer.vendors.data.superops_invoices & syncer.vendors.data.qbo_invoices)[0]
    qb.delete("Invoice", syncer.vendors.ids.get("quickbooks", "invoices", both))
    syncer.clock.advance(5)
    summary = syncer.quickbooks(sqlite_engine)
    assert syncer.stream(summary, "invoices").mode == "cdc"
    so_id = syncer.vendors.ids.get("superops", "invoices", both)
    syncer.clock.advance(5)
    syncer.superops(sqlite_engine, force_full=True)
    with sqlite_engine.connect() as conn:
        deleted_at = conn.scalar(select(Invoice.deleted_at).where(Invoice.external_id == so_id))
    assert deleted_at is not None


def test_small_pages_and_faults_inside_http_200(sqlite_engine: Engine, syncer: Any) -> None:
    qb = syncer.vendors.quickbooks
    qb.faults.push("error200", "429", "error200", "5xx")
    syncer.tenant(sqlite_engine)
    syncer.superops(sqlite_engine)
    summary = syncer.quickbooks(sqlite_engine, page_size=7)
    assert summary.issues == 0
    assert sum(qb.faults.injected.values()) == 4
    assert any("MAXRESULTS 7" in q for q in qb.queries)
    assert (
        compare_with_dataset(sqlite_engine, TENANT, syncer.dataset.tables, syncer.vendors.ids) == []
    )


def test_bookmark_is_the_server_time_and_cdc_is_used_within_30_days(
    sqlite_engine: Engine, syncer: Any
) -> None:
    syncer.both(sqlite_engine)
    value = get_bookmark(sqlite_engine, TENANT, "quickbooks", "invoices")
    assert value is not None and '"since":"' in value
    # pretend the last read was 29 days ago: still CDC
    old = (syncer.clock.now() - dt.timedelta(days=28)).isoformat()
    set_bookmark(sqlite_engine, TENANT, "quickbooks", "invoices", f'{{"since":"{old}"}}')
    summary = syncer.quickbooks(sqlite_engine)
    assert syncer.stream(summary, "invoices").mode == "cdc"
