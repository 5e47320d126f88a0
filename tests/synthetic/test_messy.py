"""The messy world: consistent books, the clean world's content unchanged, every look-alike,
fault and planted anomaly recorded in the ground truth with evidence that exists."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from mspilot.synthetic import store, truth
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import TenantDataset, generate_tenant

CONFIG = DemoConfig(seed=11, n_clients=60, years=2, messy=True)
EXCLUSIVE = {
    "special_discount",
    "goodwill_waiver",
    "goodwill_credit",
    "prepaid_block",
    "billing_correction",
    "seats_added_after_invoice",
    "late_posted_worklog",
}


@pytest.fixture(scope="module")
def messy() -> TenantDataset:
    return generate_tenant(CONFIG, 0)


@pytest.fixture(scope="module")
def clean() -> TenantDataset:
    return generate_tenant(DemoConfig(seed=11, n_clients=60, years=2), 0)


def test_clean_content_unchanged(messy: TenantDataset, clean: TenantDataset) -> None:
    """The messy world adds to the clean one from its own random stream: the same clients,
    tickets, assets and contracts (a documented discount and a mid-month start aside)."""
    for table in ("tickets", "assets"):
        assert messy.tables[table] == clean.tables[table], table
    assert [c["external_id"] for c in messy.tables["clients"]] == [
        c["external_id"] for c in clean.tables["clients"]
    ]
    assert len(messy.tables["contracts"]) == len(clean.tables["contracts"])
    assert {leak.type for leak in messy.truth.leaks} == {leak.type for leak in clean.truth.leaks}
    assert [leak.client_id for leak in messy.truth.leaks] == [
        leak.client_id for leak in clean.truth.leaks
    ]
    assert generate_tenant(CONFIG, 0).truth == messy.truth  # deterministic


def test_books_balance(messy: TenantDataset) -> None:
    lines: dict[str, Decimal] = defaultdict(Decimal)
    for row in messy.tables["invoice_lines"]:
        lines[row["invoice_id"]] += row["amount"]
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for row in messy.tables["payments"]:
        assert row["amount"] > 0
        paid[row["invoice_id"]] += row["amount"]
    invoices = {row["external_id"]: row for row in messy.tables["invoices"]}
    assert set(lines) == set(invoices)
    for inv_id, inv in invoices.items():
        assert inv["total"] == lines[inv_id], inv_id
        assert inv["balance"] == inv["total"] - paid[inv_id], inv_id
        assert (inv["status"] == "paid") == (inv["balance"] == 0), inv_id
    line_ids = {row["external_id"] for row in messy.tables["invoice_lines"]}
    for entry in messy.tables["time_entries"]:
        assert entry["invoice_line_id"] in (None, *line_ids)
    assert len({e["external_id"] for e in messy.tables["time_entries"]}) == len(
        messy.tables["time_entries"]
    )


def test_truth_records_every_kind_with_evidence(messy: TenantDataset) -> None:
    ids = {
        row["external_id"]
        for table in (
            "invoices",
            "invoice_lines",
            "time_entries",
            "contracts",
            "licenses",
            "technicians",
        )
        for row in messy.tables[table]
    }
    noise = messy.truth.noise
    assert {n.family for n in noise} == {"lookalike", "fault"}
    assert {"prorated_month", "duplicate_time_entry", "technician_rate_change"} <= {
        n.kind for n in noise
    }
    for item in [*noise, *messy.truth.anomalies]:
        assert item.evidence and set(item.evidence) <= ids, item
    assert {a.kind for a in messy.truth.anomalies} == set(truth.ANOMALY_KINDS)
    assert all(a.dollars > 0 for a in messy.truth.anomalies)
    # one planted thing per client, apart from the leaks, so the truth is unambiguous
    leaky = messy.truth.leaky_clients
    owners = [n.client_id for n in noise if n.kind in EXCLUSIVE]
    owners += [a.client_id for a in messy.truth.anomalies]
    assert not set(owners) & leaky
    assert len(owners) == len(set(owners))


def test_truth_round_trip(messy: TenantDataset, tmp_path: Path) -> None:
    truth.write(messy.truth, tmp_path)
    back = truth.read(tmp_path, messy.truth.tenant_id)
    assert back.noise == messy.truth.noise
    assert back.anomalies == messy.truth.anomalies
    assert store.config_from_json(store.config_to_json(CONFIG)) == CONFIG
