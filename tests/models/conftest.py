"""Fixtures for the predictive models: one generated demo MSP per session (trained once), a
tiny hand-built MSP whose numbers are checkable by hand, and a truncation helper that shows
the data as the sources would have shown it on an earlier day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.core.clock import Clock, add_months
from mspilot.db import migrate
from mspilot.db.engine import make_engine

AS_OF = dt.date(2026, 10, 31)
Tables = dict[str, list[dict[str, Any]]]


@dataclass
class DemoWorld:
    engine: Engine
    url: str
    tenant_id: str
    as_of: dt.date
    data_dir: Path
    tables: Tables
    truth: Any
    report: Any  # models.training.TrainReport
    spec: Any  # synthetic.config.TenantSpec


def load_world(path: Path, tables: Tables, spec: Any) -> Engine:
    """A migrated SQLite file with ``tables`` loaded through the demo's loading path."""
    from mspilot.cli.demo import load_tenant

    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    report = load_tenant(engine, spec, tables)
    assert report.issues == [], report.issues[:3]
    return engine


@pytest.fixture(scope="session")
def world_loader() -> Callable[[Path, Tables, Any], Engine]:
    return load_world


@pytest.fixture(scope="session")
def demo_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    """The demo generator's MSP (seed 7, 120 clients, 3 years), loaded and trained once."""
    from mspilot.models.training import train_all
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    root = tmp_path_factory.mktemp("models_world")
    ds = generate_tenant(DemoConfig(seed=7, as_of=AS_OF, n_clients=120, years=3), 0)
    engine = load_world(root / "world.db", ds.tables, ds.tenant)
    report = train_all(engine, ds.tenant.id, root / "data", Clock(AS_OF), mlflow=False)
    yield DemoWorld(
        engine=engine,
        url=str(engine.url),
        tenant_id=ds.tenant.id,
        as_of=AS_OF,
        data_dir=root / "data",
        tables=ds.tables,
        truth=ds.truth,
        report=report,
        spec=ds.tenant,
    )
    engine.dispose()


# ---- the data as it looked on an earlier day -------------------------------------------------


def _signed_end(start: dt.date) -> dt.date:
    return add_months(start, 12) - dt.timedelta(days=1)


def truncate(tables: Tables, day: dt.date) -> Tables:
    """Every row as the sources would have returned it at the end of ``day``: later events
    gone, later churns and cancellations not yet happened, later resolutions still open.
    (Current-state counts with no history, client seats and licence seats in use, are kept.)"""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    out: Tables = {}
    clients = []
    for row in tables["clients"]:
        if row.get("onboarded_on") and row["onboarded_on"] > day:
            continue
        row = dict(row)
        if row.get("churned_on") and row["churned_on"] > day:
            row["churned_on"], row["status"] = None, "active"
        clients.append(row)
    out["clients"] = clients
    kept_clients = {c["external_id"] for c in clients}
    out["technicians"] = list(tables["technicians"])
    contracts = []
    for row in tables["contracts"]:
        if row["client_id"] not in kept_clients or row["starts_on"] > day:
            continue
        row = dict(row)
        if row["status"] == "cancelled" and row["ends_on"] and row["ends_on"] > day:
            row["ends_on"], row["status"] = _signed_end(row["starts_on"]), "active"
        elif row["status"] == "expired" and row["ends_on"] and row["ends_on"] > day:
            row["status"] = "active"
        contracts.append(row)
    out["contracts"] = contracts
    tickets = []
    for row in tables["tickets"]:
        if row["client_id"] not in kept_clients or row["opened_at"] >= end:
            continue
        row = dict(row)
        if row.get("resolved_at") and row["resolved_at"] >= end:
            row["resolved_at"], row["status"], row["csat"] = None, "open", None
        tickets.append(row)
    out["tickets"] = tickets
    invoices = [
        dict(r)
        for r in tables["invoices"]
        if r["client_id"] in kept_clients and r["issued_on"] <= day
    ]
    out["invoices"] = invoices
    kept_invoices = {r["external_id"] for r in invoices}
    lines = [dict(r) for r in tables["invoice_lines"] if r["invoice_id"] in kept_invoices]
    out["invoice_lines"] = lines
    kept_lines = {r["external_id"] for r in lines}
    entries = []
    kept_tickets = {t["external_id"] for t in tickets}
    for row in tables["time_entries"]:
        if row["client_id"] not in kept_clients or row["work_date"] > day:
            continue
        if row.get("ticket_id") and row["ticket_id"] not in kept_tickets:
            continue
        row = dict(row)
        if row.get("invoice_line_id") and row["invoice_line_id"] not in kept_lines:
            row["invoice_line_id"] = None
        entries.append(row)
    out["time_entries"] = entries
    out["payments"] = [
        dict(r)
        for r in tables["payments"]
        if r["paid_on"] <= day and (r.get("invoice_id") in kept_invoices)
    ]
    licenses = []
    for row in tables["licenses"]:
        if row["client_id"] not in kept_clients:
            continue
        if row.get("starts_on") and row["starts_on"] > day:
            continue
        row = dict(row)
        if row.get("ends_on") and row["ends_on"] > day:
            row["ends_on"] = None
        licenses.append(row)
    out["licenses"] = licenses
    return out


@pytest.fixture
def truncated_world(demo_world: DemoWorld, tmp_path: Path) -> Callable[[dt.date], Engine]:
    def build(day: dt.date) -> Engine:
        return load_world(
            tmp_path / f"cut_{day.isoformat()}.db",
            truncate(demo_world.tables, day),
            demo_world.spec,
        )

    return build


# ---- a tiny MSP with every number checkable by hand ------------------------------------------

D = Decimal
UTC = dt.UTC


def tiny_msp() -> Tables:
    """One client on 10 users at $100 (a 10% increase billed from July 2025), CSAT 5 in
    April-June then 3 in July-September, one discount beyond a 10% policy on a second
    client, and 6 hours of billable work never invoiced."""
    tables: Tables = {
        "clients": [
            {
                "external_id": "c1",
                "name": "Contoso",
                "industry": "Legal",
                "seats": 10,
                "status": "active",
                "onboarded_on": dt.date(2024, 1, 1),
            },
            {
                "external_id": "c2",
                "name": "Fabrikam",
                "industry": "Retail",
                "seats": 5,
                "status": "active",
                "onboarded_on": dt.date(2024, 1, 1),
            },
        ],
        "technicians": [
            {"external_id": "k1", "name": "Ann", "role": "L2", "hourly_cost": D("50.00")}
        ],
        "contracts": [
            {
                "external_id": "k-c1-2024",
                "client_id": "c1",
                "kind": "per_user",
                "unit_price": D("100.00"),
                "quantity": D("10"),
                "monthly_value": D("1000.00"),
                "hourly_rate": D("150.00"),
                "starts_on": dt.date(2024, 7, 1),
                "ends_on": dt.date(2025, 6, 30),
                "annual_escalation_pct": D("10.00"),
                "status": "expired",
            },
            {
                "external_id": "k-c1-2025",
                "client_id": "c1",
                "kind": "per_user",
                "unit_price": D("110.00"),
                "quantity": D("10"),
                "monthly_value": D("1100.00"),
                "hourly_rate": D("150.00"),
                "starts_on": dt.date(2025, 7, 1),
                "ends_on": dt.date(2026, 6, 30),
                "annual_escalation_pct": D("10.00"),
                "status": "active",
            },
            {
                "external_id": "k-c2",
                "client_id": "c2",
                "kind": "flat",
                "unit_price": D("1000.00"),
                "quantity": D("1"),
                "monthly_value": D("750.00"),
                "hourly_rate": D("120.00"),
                "starts_on": dt.date(2025, 1, 1),
                "ends_on": dt.date(2025, 12, 31),
                "discount_pct": D("25.00"),
                "status": "active",
            },
        ],
        "tickets": [],
        "invoices": [],
        "invoice_lines": [],
        "time_entries": [],
        "payments": [],
    }
    for k, month in enumerate(range(1, 10)):
        period = dt.date(2025, month, 1)
        issued = add_months(period, 1)
        price = D("100.00") if month < 7 else D("110.00")
        contract = "k-c1-2024" if month < 7 else "k-c1-2025"
        for client, amount, qty, unit, disc, con in (
            ("c1", price * 10, D("10"), price, None, contract),
            ("c2", D("750.00"), D("1"), D("1000.00"), D("25.00"), "k-c2"),
        ):
            inv = f"i-{client}-{month}"
            tables["invoices"].append(
                {
                    "external_id": inv,
                    "client_id": client,
                    "number": f"INV-{client}-{month}",
                    "issued_on": issued,
                    "due_on": issued + dt.timedelta(days=30),
                    "period_start": period,
                    "period_end": add_months(period, 1) - dt.timedelta(days=1),
                    "total": amount,
                    "balance": D("0.00"),
                    "status": "paid",
                }
            )
            tables["invoice_lines"].append(
                {
                    "external_id": f"l-{client}-{month}",
                    "invoice_id": inv,
                    "contract_id": con,
                    "kind": "recurring",
                    "sku": "MSP-USER" if client == "c1" else "MSP-FLAT",
                    "quantity": qty,
                    "unit_price": unit,
                    "discount_pct": disc,
                    "amount": amount,
                }
            )
            tables["payments"].append(
                {
                    "external_id": f"p-{client}-{month}",
                    "client_id": client,
                    "invoice_id": inv,
                    "paid_on": issued + dt.timedelta(days=20 if client == "c1" else 45),
                    "amount": amount,
                }
            )
        for j in range(2):
            csat = 5 if month in (4, 5, 6) else 3 if month in (7, 8, 9) else 4
            opened = dt.datetime(2025, month, 10 + j, 9, tzinfo=UTC)
            tables["tickets"].append(
                {
                    "external_id": f"t-{k}-{j}",
                    "client_id": "c1",
                    "technician_id": "k1",
                    "opened_at": opened,
                    "resolved_at": opened + dt.timedelta(hours=3),
                    "priority": "p3",
                    "category": "Email",
                    "status": "closed",
                    "sla_breached": month >= 8 and j == 0,
                    "csat": csat,
                    "subject": "Mailbox full",
                }
            )
    # 6 billable hours on c1 in August 2025, never invoiced
    tables["time_entries"] = [
        {
            "external_id": f"te-{h}",
            "client_id": "c1",
            "technician_id": "k1",
            "work_date": dt.date(2025, 8, 5 + h),
            "hours": D("2.00"),
            "billable": True,
        }
        for h in range(3)
    ]
    return tables


@pytest.fixture
def tiny_engine(tmp_path: Path) -> Iterator[Engine]:
    from mspilot.synthetic.config import TenantSpec

    spec = TenantSpec("tiny", "Tiny MSP", "USD", "UTC", Decimal("10.00"))
    engine = load_world(tmp_path / "tiny.db", tiny_msp(), spec)
    yield engine
    engine.dispose()
