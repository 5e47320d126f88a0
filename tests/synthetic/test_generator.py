"""The demo generator: deterministic, valid rows, and the planted structure is really there."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mspilot.core.clock import add_months
from mspilot.core.errors import UserInputError
from mspilot.db.records import RECORDS
from mspilot.synthetic import store, truth
from mspilot.synthetic.config import DemoConfig
from mspilot.synthetic.generator import TABLES, TenantDataset, generate, generate_tenant
from mspilot.synthetic.truth import LEAK_TYPES

Tables = dict[str, list[dict[str, Any]]]
SMALL = DemoConfig(seed=11, n_clients=20, years=1)


@pytest.fixture(scope="module")
def default() -> TenantDataset:
    return generate_tenant(DemoConfig(), 0)


@pytest.fixture(scope="module")
def small() -> TenantDataset:
    return generate_tenant(SMALL, 0)


# ---- simple leak detectors: what an analyst would check in the tables ------------------------


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    out: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        out[row[key]].append(row)
    return out


def unbilled_time(t: Tables, as_of: dt.date) -> set[str]:
    return {
        e["client_id"]
        for e in t["time_entries"]
        if e["billable"] and e["invoice_line_id"] is None and (as_of - e["work_date"]).days > 35
    }


def license_over_billed(t: Tables) -> set[str]:
    invoices = {i["external_id"]: i for i in t["invoices"]}
    latest: dict[tuple[str, str], tuple[dt.date, Decimal]] = {}
    for line in t["invoice_lines"]:
        if line["kind"] != "license":
            continue
        inv = invoices[line["invoice_id"]]
        key = (inv["client_id"], line["sku"])
        if key not in latest or latest[key][0] < inv["issued_on"]:
            latest[key] = (inv["issued_on"], line["quantity"])
    return {
        lic["client_id"]
        for lic in t["licenses"]
        if (lic["client_id"], lic["sku"]) in latest
        and lic["seats_in_use"] > latest[(lic["client_id"], lic["sku"])][1]
    }


def escalation_not_applied(t: Tables) -> set[str]:
    flagged = set()
    for client, contracts in _by(t["contracts"], "client_id").items():
        contracts.sort(key=lambda c: c["starts_on"])
        for prev, nxt in itertools.pairwise(contracts):
            pct = prev["annual_escalation_pct"]
            renewal = nxt["starts_on"] == prev["ends_on"] + dt.timedelta(days=1)
            if renewal and pct:
                due = (prev["unit_price"] * (1 + pct / 100)).quantize(Decimal("0.01"))
                if nxt["unit_price"] < due:
                    flagged.add(client)
    return flagged


def missing_recurring_invoice(t: Tables, as_of: dt.date) -> set[str]:
    flagged = set()
    churned = {c["external_id"]: c["churned_on"] for c in t["clients"]}
    last_billable = add_months(as_of.replace(day=1), -1)
    for client, invoices in _by(t["invoices"], "client_id").items():
        months = {i["period_start"] for i in invoices}
        end = last_billable
        if churned[client] is not None:
            end = min(end, churned[client].replace(day=1))
        month = min(months)
        while month <= end:
            if month not in months:
                flagged.add(client)
            month = add_months(month, 1)
    return flagged


def block_overage_not_billed(t: Tables) -> set[str]:
    contracts = {c["external_id"]: c for c in t["contracts"] if c["kind"] == "block_hours"}
    hours: dict[tuple[str, dt.date], Decimal] = defaultdict(Decimal)
    for e in t["time_entries"]:
        hours[(e["client_id"], e["work_date"].replace(day=1))] += e["hours"]
    lines = _by(t["invoice_lines"], "invoice_id")
    flagged = set()
    for inv in t["invoices"]:
        mine = lines[inv["external_id"]]
        block = [ln for ln in mine if ln["kind"] == "recurring" and ln["contract_id"] in contracts]
        if not block:
            continue
        contract = contracts[block[0]["contract_id"]]
        used = hours[(inv["client_id"], inv["period_start"])]
        overage = [ln for ln in mine if ln["kind"] == "labor"]
        if used > contract["included_hours"] and not overage:
            flagged.add(inv["client_id"])
    return flagged


def discount_beyond_policy(t: Tables, max_discount: Decimal) -> set[str]:
    client_of = {i["external_id"]: i["client_id"] for i in t["invoices"]}
    return {
        client_of[ln["invoice_id"]]
        for ln in t["invoice_lines"]
        if ln["discount_pct"] is not None and ln["discount_pct"] > max_discount
    }


def detect(ds: TenantDataset, leak_type: str) -> set[str]:
    t, as_of = ds.tables, ds.truth.as_of
    return {
        "unbilled_time": lambda: unbilled_time(t, as_of),
        "license_seats_over_billed": lambda: license_over_billed(t),
        "escalation_not_applied": lambda: escalation_not_applied(t),
        "missing_recurring_invoice": lambda: missing_recurring_invoice(t, as_of),
        "block_overage_not_billed": lambda: block_overage_not_billed(t),
        "discount_beyond_policy": lambda: discount_beyond_policy(t, ds.tenant.max_discount_pct),
    }[leak_type]()


# ---- tests -------------------------------------------------------------------------------------


def test_same_config_gives_identical_rows_and_other_seeds_differ() -> None:
    first = generate_tenant(SMALL, 0)
    again = generate_tenant(SMALL, 0)
    other = generate_tenant(DemoConfig(seed=12, n_clients=20, years=1), 0)
    assert store.dataset_checksum(first.tables) == store.dataset_checksum(again.tables)
    assert first.truth.leaks == again.truth.leaks
    assert first.truth.months == again.truth.months
    assert store.dataset_checksum(first.tables) != store.dataset_checksum(other.tables)


def test_tenants_are_generated_one_by_one_and_differ() -> None:
    config = DemoConfig(seed=5, n_clients=8, n_tenants=3, years=1)
    datasets = list(generate(config))
    assert [d.tenant.id for d in datasets] == ["demo", "demo2", "demo3"]
    assert len({store.dataset_checksum(d.tables) for d in datasets}) == 3
    assert store.dataset_checksum(generate_tenant(config, 1).tables) == store.dataset_checksum(
        datasets[1].tables
    )


@pytest.mark.parametrize(
    "config",
    [
        DemoConfig(n_clients=0),
        DemoConfig(n_tenants=21),
        DemoConfig(years=0),
    ],
)
def test_bad_configs_are_refused(config: DemoConfig) -> None:
    with pytest.raises(UserInputError):
        config.validate()


def test_rows_validate_as_records_with_unique_external_ids(default: TenantDataset) -> None:
    assert list(default.tables) == list(TABLES)
    for table, rows in default.tables.items():
        assert rows, table
        model = RECORDS[table]
        for row in rows:
            model.model_validate(row)
        assert len({r["external_id"] for r in rows}) == len(rows), table


def test_references_point_at_rows_of_this_tenant(default: TenantDataset) -> None:
    ids = {t: {r["external_id"] for r in rows} for t, rows in default.tables.items()}
    for table, rows in default.tables.items():
        for column, target in RECORDS[table].refs.items():
            values = {r[column] for r in rows if r.get(column) is not None}
            assert values <= ids[target], (table, column)


def test_realistic_shape(default: TenantDataset) -> None:
    t = default.tables
    seats = np.array([c["seats"] for c in t["clients"]])
    assert 10 <= np.median(seats) <= 22
    kinds = {c["kind"] for c in t["contracts"]}
    assert kinds == {"per_user", "per_device", "block_hours", "time_and_materials", "flat"}
    per_user = [c["unit_price"] for c in t["contracts"] if c["kind"] == "per_user"]
    assert Decimal(100) <= np.median(per_user) <= Decimal(250)
    costs = [tech["hourly_cost"] for tech in t["technicians"]]
    assert min(costs) >= 45 and max(costs) <= 95
    csat = [x["csat"] for x in t["tickets"] if x["csat"] is not None]
    assert 0.3 < len(csat) / len(t["tickets"]) < 0.5
    statuses = {i["status"] for i in t["invoices"]}
    assert {"paid", "open", "overdue"} <= statuses
    # invoice totals are the sum of their lines, balances what payments left open
    lines = _by(t["invoice_lines"], "invoice_id")
    paid: dict[str, Decimal] = defaultdict(Decimal)
    for p in t["payments"]:
        paid[p["invoice_id"]] += p["amount"]
    for inv in t["invoices"]:
        assert inv["total"] == sum(ln["amount"] for ln in lines[inv["external_id"]])
        assert inv["balance"] == inv["total"] - paid[inv["external_id"]]
    # price history: renewals carry the escalation clause
    renewals = 0
    for contracts in _by(t["contracts"], "client_id").values():
        contracts.sort(key=lambda c: c["starts_on"])
        for prev, nxt in itertools.pairwise(contracts):
            if prev["annual_escalation_pct"] and nxt["unit_price"] > prev["unit_price"]:
                renewals += 1
    assert renewals > 50
    # annual churn of the default demo lies in a realistic band
    months = default.truth.months
    annual = sum(m.churned for m in months) / (len(months) / 12)
    assert 0.05 < annual < 0.25


def test_tickets_have_weekly_seasonality_and_holidays(default: TenantDataset) -> None:
    by_day: dict[dt.date, int] = defaultdict(int)
    for ticket in default.tables["tickets"]:
        by_day[ticket["opened_at"].date()] += 1
    holidays = {d for d, _ in default.truth.holidays}
    weekday = [n for d, n in by_day.items() if d.weekday() < 5 and d not in holidays]
    weekend = [n for d, n in by_day.items() if d.weekday() >= 5]
    on_holidays = [by_day.get(d, 0) for d in holidays if d.weekday() < 5]
    assert np.mean(weekday) > 3 * np.mean(weekend)
    assert np.mean(on_holidays) < 0.6 * np.mean(weekday)


def test_churned_clients_have_no_activity_after_churned_on(default: TenantDataset) -> None:
    t = default.tables
    churned = {c["external_id"]: c["churned_on"] for c in t["clients"] if c["status"] == "churned"}
    assert churned
    for ticket in t["tickets"]:
        day = churned.get(ticket["client_id"])
        if day:
            assert ticket["opened_at"].date() <= day
            assert ticket["resolved_at"] is None or ticket["resolved_at"].date() <= day
    for entry in t["time_entries"]:
        day = churned.get(entry["client_id"])
        assert day is None or entry["work_date"] <= day
    for asset in t["assets"]:
        day = churned.get(asset["client_id"])
        assert day is None or asset["last_seen_at"].date() <= day
    for inv in t["invoices"]:
        day = churned.get(inv["client_id"])
        assert day is None or inv["period_start"] <= day
    for lic in t["licenses"]:
        if lic["client_id"] in churned:
            assert lic["seats_in_use"] == 0 and lic["ends_on"] == churned[lic["client_id"]]
    for contract in t["contracts"]:
        day = churned.get(contract["client_id"])
        assert day is None or contract["ends_on"] <= day


def test_churned_clients_show_their_drivers_in_the_tables(default: TenantDataset) -> None:
    t, as_of = default.tables, default.truth.as_of
    clients = {c["external_id"]: c for c in t["clients"]}

    def window_end(client_id: str) -> dt.date:
        return clients[client_id]["churned_on"] or as_of

    csat: dict[bool, list[int]] = {True: [], False: []}
    breach: dict[bool, list[bool]] = {True: [], False: []}
    for ticket in t["tickets"]:
        client = clients[ticket["client_id"]]
        end = window_end(ticket["client_id"])
        if 0 <= (end - ticket["opened_at"].date()).days < 90:
            gone = client["status"] == "churned"
            breach[gone].append(ticket["sla_breached"])
            if ticket["csat"] is not None:
                csat[gone].append(ticket["csat"])
    assert np.mean(csat[True]) < np.mean(csat[False])
    assert np.mean(breach[True]) > np.mean(breach[False])
    # and the truth agrees: churn months carry higher hazards than months survived
    months = default.truth.months
    churn_h = np.mean([m.hazard for m in months if m.churned])
    other_h = np.mean([m.hazard for m in months if not m.churned])
    assert churn_h > 1.3 * other_h


def test_late_payers_pay_late(default: TenantDataset) -> None:
    t = default.tables
    invoices = {i["external_id"]: i for i in t["invoices"]}
    chronic = {c.client_id for c in default.truth.clients if c.chronic_late_payer}
    delays: dict[bool, list[int]] = {True: [], False: []}
    for p in t["payments"]:
        inv = invoices[p["invoice_id"]]
        delays[inv["client_id"] in chronic].append((p["paid_on"] - inv["issued_on"]).days)
    assert np.median(delays[True]) > 35 > np.median(delays[False]) > 10


@pytest.mark.parametrize("leak_type", LEAK_TYPES)
def test_each_planted_leak_is_visible_and_clean_clients_are_not_flagged(
    default: TenantDataset, small: TenantDataset, leak_type: str
) -> None:
    for ds in (default, small):
        planted = {leak.client_id for leak in ds.truth.leaks if leak.type == leak_type}
        assert planted, f"no {leak_type} planted"
        flagged = detect(ds, leak_type)
        assert flagged == planted
        clean = {c["external_id"] for c in ds.tables["clients"]} - ds.truth.leaky_clients
        assert not flagged & clean
    # a few % of clients each, and every leak has dollars and evidence that exist
    n = len(default.tables["clients"])
    leaks = default.truth.leaks_of(leak_type)  # type: ignore[arg-type]
    assert len({leak.client_id for leak in leaks}) <= 0.08 * n
    ids = {r["external_id"] for rows in default.tables.values() for r in rows}
    for leak in leaks:
        assert leak.evidence and set(leak.evidence) <= ids
        assert leak.dollars > 0 or leak.type == "escalation_not_applied"


def test_unbilled_leak_evidence_is_exactly_the_unbilled_entries(default: TenantDataset) -> None:
    as_of = default.truth.as_of
    unbilled = {
        e["external_id"]
        for e in default.tables["time_entries"]
        if e["billable"] and e["invoice_line_id"] is None and (as_of - e["work_date"]).days > 35
    }
    planted = {x for leak in default.truth.leaks_of("unbilled_time") for x in leak.evidence}
    assert unbilled == planted


def test_store_round_trips_rows_exactly(small: TenantDataset, tmp_path: Path) -> None:
    manifest = store.write_tenant(tmp_path, small.tenant, small.tables, SMALL)
    assert store.read_tables(tmp_path, small.tenant.id) == small.tables
    assert manifest["checksum"] == store.dataset_checksum(small.tables)
    assert {k: v["rows"] for k, v in manifest["tables"].items()} == small.row_counts


def test_ground_truth_round_trips(small: TenantDataset, tmp_path: Path) -> None:
    truth.write(small.truth, tmp_path)
    back = truth.read(tmp_path, small.tenant.id)
    assert back.leaks == small.truth.leaks
    assert back.clients == small.truth.clients
    assert back.months == small.truth.months
    assert back.churn_model == small.truth.churn_model
    assert back.demand_model == small.truth.demand_model
    assert back.holidays == small.truth.holidays


def test_hazard_function_matches_the_truth(small: TenantDataset) -> None:
    elasticity = {c.client_id: c.elasticity for c in small.truth.clients}
    for month in small.truth.months:
        h = truth.hazard_at_price(month.logit_ex_price, elasticity[month.client_id], month.x_price)
        assert h == pytest.approx(month.hazard, rel=1e-4, abs=1e-7)
