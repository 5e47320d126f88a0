"""Entity resolution (stored link, e-mail domain, fuzzy name, review list) and the one-row-per-
fact reconciliation, whichever source is synced first."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.connectors.resolution import normalize_name, resolve_customer
from mspilot.db.entity_map import ClientRow, list_reviews
from mspilot.db.schema import Client, Invoice


def _client(i: str, name: str, domain: str | None = None) -> ClientRow:
    return ClientRow(f"t.superops.{i}", "superops", i, name, domain, None)


POOL = [
    _client("1", "Riverside Dental Group", "riversidedental.com"),
    _client("2", "Summit Law Group", "summitlaw.com"),
    _client("3", "Harbor Realty North", None),
    _client("4", "Harbor Realty South", None),
    _client("5", "Acme Manufacturing", "acme.com"),
    _client("6", "Acme Logistics", "acme.com"),
]


def test_email_domain_wins_and_generic_domains_never_count() -> None:
    d = resolve_customer("Totally Different Name", "summitlaw.com", POOL)
    assert (d.outcome, d.target, d.method) == ("match", "t.superops.2", "email_domain")
    d = resolve_customer("Summit Law Group", "gmail.com", POOL)
    assert (d.outcome, d.method) == ("match", "fuzzy_name")


def test_fuzzy_names_ignore_legal_suffixes_and_punctuation() -> None:
    assert normalize_name("Riverside Dental Group, LLC") == normalize_name("riverside dental group")
    d = resolve_customer("Riverside Dental Group, LLC", None, POOL)
    assert (d.outcome, d.target) == ("match", "t.superops.1")


def test_close_calls_go_to_review_instead_of_being_guessed() -> None:
    # a shared domain narrows to two clients whose names are equally far: ambiguous
    d = resolve_customer("Acme", "acme.com", POOL)
    assert d.outcome in ("ambiguous", "none")
    d = resolve_customer("Harbor Realty", None, POOL)
    assert d.outcome == "ambiguous"
    assert {c["id"] for c in d.candidates} >= {"t.superops.3", "t.superops.4"}
    assert resolve_customer("Zebra Veterinary", None, POOL).outcome == "none"


def test_quickbooks_first_then_superops_still_ends_in_one_row_per_fact(
    sqlite_engine: Engine, syncer: Any
) -> None:
    syncer.tenant(sqlite_engine)
    first = syncer.quickbooks(sqlite_engine)  # nothing to match yet: QuickBooks-only rows
    assert first.reconciled["clients_merged"] == 0
    with sqlite_engine.connect() as conn:
        qbo_only = conn.scalar(
            select(func.count()).select_from(Client).where(Client.source == "quickbooks")
        )
    assert qbo_only == len(syncer.dataset.tables["clients"])
    second = syncer.superops(sqlite_engine)  # reconciliation folds them into the SuperOps rows
    assert second.reconciled["clients_merged"] == len(syncer.dataset.tables["clients"])
    assert second.reconciled["invoices_merged"] == len(
        syncer.vendors.data.superops_invoices & syncer.vendors.data.qbo_invoices
    )
    syncer.clock.advance(5)
    syncer.quickbooks(sqlite_engine)
    assert (
        compare_with_dataset(sqlite_engine, "sample", syncer.dataset.tables, syncer.vendors.ids)
        == []
    )
    with sqlite_engine.connect() as conn:
        dupes = conn.scalar(
            select(func.count())
            .select_from(Invoice)
            .where(Invoice.deleted_at.is_(None))
            .group_by(Invoice.client_id, Invoice.number)
            .having(func.count() > 1)
        )
    assert dupes is None


def test_ambiguous_customer_is_reviewed_then_accepted_from_the_cli(
    sqlite_url: str, sqlite_engine: Engine, syncer: Any, monkeypatch: Any
) -> None:
    qb = syncer.vendors.quickbooks
    # a second SuperOps client whose name differs only by a legal suffix, and a QuickBooks
    # customer without e-mail carrying that name: two equally good candidates
    so_clients = syncer.vendors.superops.data.clients
    twin = dict(so_clients[0])
    twin["accountId"], twin["name"] = "7000000000000000042", so_clients[0]["name"] + ", Inc."
    twin["emailDomains"] = ["east.example"]
    syncer.vendors.superops.data.clients.append(twin)
    customer = qb.entities["Customer"]["1"]
    customer.pop("PrimaryEmailAddr", None)
    customer["DisplayName"] = so_clients[0]["name"]
    syncer.both(sqlite_engine)
    reviews = list_reviews(sqlite_engine, "sample")
    assert [r.qbo_id for r in reviews] == ["1"]
    assert len(reviews[0].candidates) >= 2

    from mspilot.cli.context import settings
    from mspilot.cli.main import app

    monkeypatch.setenv("MSPILOT_DATABASE_URL", sqlite_url)
    settings.cache_clear()
    runner = CliRunner()
    listed = runner.invoke(app, ["sources", "review", "--tenant", "sample", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["open"][0]["qbo_id"] == "1"
    target = so_clients[0]["accountId"]
    accepted = runner.invoke(
        app, ["sources", "review", "--tenant", "sample", "--accept", f"1={target}", "--json"]
    )
    assert accepted.exit_code == 0, accepted.output
    result = json.loads(accepted.stdout)
    assert result["open"] == [] and result["reconciled"]["clients_merged"] == 1
    with sqlite_engine.connect() as conn:
        qbo_id = conn.scalar(select(Client.qbo_customer_id).where(Client.external_id == target))
        live_qbo = conn.scalar(
            select(func.count())
            .select_from(Client)
            .where(Client.source == "quickbooks", Client.deleted_at.is_(None))
        )
    assert qbo_id == "1" and live_qbo == 0
    bad = runner.invoke(app, ["sources", "review", "--tenant", "sample", "--accept", "nonsense"])
    assert bad.exit_code == 2 and "QBO_CUSTOMER_ID=CLIENT" in bad.output
    settings.cache_clear()
