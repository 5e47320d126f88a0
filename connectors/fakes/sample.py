"""A small, deterministic canonical MSP dataset for the fakes' own tests and for running a fake
stand-alone. It has the generator's shape (``.tenant``, ``.tables`` of ``db.records``-shaped
rows naming each other by external id); the demo uses ``synthetic.generator`` instead.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mspilot.core.clock import add_months, month_end
from mspilot.synthetic.catalog import NAME_PREFIXES
from mspilot.synthetic.generator import TABLES

D2 = Decimal("0.01")
UTC = dt.UTC

#: the first 14 of the generator's client-name prefixes (the sample's names never change)
_PREFIXES = NAME_PREFIXES[:14]
_NOUNS = (
    ("Dental Group", "Dental"),
    ("Law Group", "Legal"),
    ("CPAs", "Accounting"),
    ("Manufacturing", "Manufacturing"),
    ("Realty", "Real Estate"),
    ("Medical Clinic", "Healthcare"),
    ("Logistics", "Logistics"),
)
_CATEGORIES = (
    "Hardware",
    "Software",
    "Network",
    "Email & Collaboration",
    "Security",
    "Printing",
    "Project & Change Request",
)
_KINDS = ("per_user", "per_device", "block_hours", "time_and_materials", "flat")
_SKUS = {
    "per_user": "MSP-PER-USER",
    "per_device": "MSP-PER-DEVICE",
    "block_hours": "MSP-BLOCK",
    "time_and_materials": "MSP-TM",
    "flat": "MSP-FLAT",
}
_LICENSES = (
    ("Microsoft 365 Business Premium", "CFQ7TTC0LCHC", "22.00", "26.40"),
    ("Datto SaaS Protection", "DSP-M365-USER", "2.50", "4.00"),
)
_HARDWARE = (
    ("Dell Latitude 5550 laptop", "HW-LAT5550", "1349.00"),
    ('Dell 24" monitor', "HW-P2425H", "219.00"),
)


@dataclass(frozen=True)
class SampleTenant:
    id: str
    name: str
    currency: str = "USD"
    timezone: str = "America/Chicago"
    max_discount_pct: Decimal = Decimal("10.00")


@dataclass
class SampleDataset:
    tenant: SampleTenant
    as_of: dt.date
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def _d(value: float | str | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(D2)


def sample_dataset(
    n_clients: int = 8,
    months: int = 6,
    *,
    as_of: dt.date = dt.date(2026, 6, 30),
    seed: int = 0,
    tenant_id: str = "sample",
) -> SampleDataset:
    rng = random.Random(seed)
    t: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    first_month = add_months(as_of.replace(day=1), -months + 1)

    techs = []
    for i, (name, role, cost) in enumerate(
        (
            ("Ann Lee", "Service Desk Technician", "48.00"),
            ("Bob Patel", "Systems Engineer", "66.00"),
            ("Cara Nguyen", "Senior Network Engineer", "84.00"),
            ("Dan Smith", "Service Desk Technician", "51.00"),
        )
    ):
        ext = f"k{i + 1:02d}"
        techs.append(ext)
        t["technicians"].append(
            {
                "external_id": ext,
                "name": name,
                "email": name.lower().replace(" ", ".") + "@msp.test",
                "role": role,
                "hourly_cost": _d(cost),
                "active": True,
            }
        )

    inv_no = 1000
    for c in range(n_clients):
        cid = f"c{c + 1:03d}"
        noun, industry = _NOUNS[c % len(_NOUNS)]
        name = f"{_PREFIXES[c % len(_PREFIXES)]} {noun}"
        domain = name.lower().replace(" ", "").replace("&", "") + ".com"
        onboarded = add_months(first_month, -rng.randint(3, 30))
        status = "churned" if c == n_clients - 1 else "active"
        churned_on = add_months(as_of, -1).replace(day=15) if status == "churned" else None
        seats = rng.randint(6, 60)
        t["clients"].append(
            {
                "external_id": cid,
                "name": name,
                "industry": industry,
                "seats": seats,
                "status": status,
                "onboarded_on": onboarded,
                "churned_on": churned_on,
                "email_domain": domain,
            }
        )
        kind = _KINDS[c % len(_KINDS)]
        rate = _d(rng.choice((150, 165, 185)))
        unit_price = {
            "per_user": _d(rng.choice((125, 150, 175))),
            "per_device": _d(rng.choice((55, 65, 75))),
            "block_hours": _d(1800),
            "time_and_materials": rate,
            "flat": _d(rng.choice((2500, 4000))),
        }[kind]
        quantity = {
            "per_user": _d(seats),
            "per_device": _d(seats + 4),
            "block_hours": _d(1),
            "time_and_materials": None,
            "flat": _d(1),
        }[kind]
        discount = _d(5) if c % 3 == 0 else _d(0)
        contract = {
            "external_id": f"{cid}-k1",
            "client_id": cid,
            "name": f"{name} {kind} agreement",
            "kind": kind,
            "unit_price": unit_price,
            "quantity": quantity,
            "monthly_value": _d(unit_price * quantity * (100 - discount) / 100)
            if unit_price and quantity
            else None,
            "hourly_rate": rate,
            "included_hours": _d(12) if kind == "block_hours" else None,
            "starts_on": onboarded,
            "ends_on": churned_on,
            "discount_pct": discount if discount else None,
            "status": "cancelled" if churned_on else "active",
        }
        t["contracts"].append(contract)
        lic: list[dict[str, Any]] = []
        for j, (product, sku, cost, price) in enumerate(_LICENSES[: 1 + c % 2]):
            row: dict[str, Any] = {
                "external_id": f"{cid}-m{j + 1}",
                "client_id": cid,
                "product": product,
                "sku": sku,
                "seats_in_use": seats - j,
                "unit_cost": _d(cost),
                "unit_price": _d(price),
                "starts_on": onboarded,
                "ends_on": churned_on,
            }
            lic.append(row)
            t["licenses"].append(row)
        for a in range(max(2, seats // 6)):
            akind = ("workstation", "laptop", "server", "network")[a % 4]
            t["assets"].append(
                {
                    "external_id": f"{cid}-a{a + 1:02d}",
                    "client_id": cid,
                    "name": f"{cid.upper()}-{akind[:3].upper()}{a + 1:02d}",
                    "kind": akind,
                    "status": "online" if a % 5 else "offline",
                    "managed": a % 7 != 6,
                    "last_seen_at": dt.datetime.combine(as_of, dt.time(8, a % 60), tzinfo=UTC)
                    - dt.timedelta(days=a % 9),
                }
            )

        month = first_month
        n_ticket = 0
        while month <= as_of and (churned_on is None or month <= churned_on):
            billable_hours: list[tuple[str, Decimal]] = []
            for _k in range(rng.randint(4, 7)):
                n_ticket += 1
                tid = f"{cid}-t{n_ticket:03d}"
                opened = dt.datetime.combine(
                    month + dt.timedelta(days=rng.randint(0, 26)),
                    dt.time(rng.randint(8, 17), rng.randint(0, 59)),
                    tzinfo=UTC,
                )
                resolved = opened + dt.timedelta(hours=rng.randint(1, 60))
                is_open = resolved.date() > as_of or rng.random() < 0.05
                tech = rng.choice(techs)
                category = rng.choice(_CATEGORIES)
                t["tickets"].append(
                    {
                        "external_id": tid,
                        "client_id": cid,
                        "technician_id": tech,
                        "opened_at": opened,
                        "resolved_at": None if is_open else resolved,
                        "priority": rng.choice(("p1", "p2", "p3", "p3", "p4")),
                        "category": category,
                        "status": "open" if is_open else rng.choice(("resolved", "closed")),
                        "sla_breached": rng.random() < 0.15,
                        "csat": None if is_open or rng.random() < 0.5 else rng.randint(2, 5),
                        "subject": f"{category} issue #{n_ticket}",
                    }
                )
                for e in range(rng.randint(1, 2)):
                    hours = _d(rng.choice((0.25, 0.5, 1, 1.5, 2)))
                    billable = kind == "time_and_materials" or category.startswith("Project")
                    eid = f"{tid}-e{e + 1}"
                    t["time_entries"].append(
                        {
                            "external_id": eid,
                            "client_id": cid,
                            "ticket_id": tid,
                            "technician_id": tech,
                            "work_date": opened.date(),
                            "hours": hours,
                            "billable": billable,
                            "notes": f"worked on {tid}",
                        }
                    )
                    if billable:
                        billable_hours.append((eid, hours))
            if c % 4 == 1:  # project work outside tickets
                eid = f"{cid}-p{month:%Y%m}"
                hours = _d(3)
                t["time_entries"].append(
                    {
                        "external_id": eid,
                        "client_id": cid,
                        "technician_id": techs[2],
                        "work_date": month + dt.timedelta(days=9),
                        "hours": hours,
                        "billable": True,
                        "notes": "project work",
                    }
                )
                billable_hours.append((eid, hours))

            period_end = month_end(month)
            if period_end < as_of:
                inv_no += 1
                iid = f"{cid}-i{month:%Y%m}"
                issued = period_end + dt.timedelta(days=1)
                lines: list[dict[str, Any]] = []
                if kind != "time_and_materials":
                    lines.append(
                        {
                            "external_id": f"{iid}-l1",
                            "invoice_id": iid,
                            "contract_id": contract["external_id"],
                            "kind": "recurring",
                            "sku": _SKUS[kind],
                            "description": contract["name"],
                            "quantity": quantity,
                            "unit_price": unit_price,
                            "amount": _d(unit_price * quantity),  # type: ignore[operator]
                        }
                    )
                billed = [(e, h) for e, h in billable_hours if rng.random() > 0.1]
                if billed:
                    qty = _d(sum((h for _e, h in billed), Decimal(0)))
                    line_id = f"{iid}-l2"
                    lines.append(
                        {
                            "external_id": line_id,
                            "invoice_id": iid,
                            "kind": "labor",
                            "contract_id": contract["external_id"],
                            "sku": "LABOR",
                            "description": "Support labour",
                            "quantity": qty,
                            "unit_price": rate,
                            "amount": _d(qty * rate),
                        }
                    )
                    billed_ids = {e for e, _h in billed}
                    for entry in t["time_entries"]:
                        if entry["external_id"] in billed_ids:
                            entry["invoice_line_id"] = line_id
                for j, row in enumerate(lic):
                    lines.append(
                        {
                            "external_id": f"{iid}-l{3 + j}",
                            "invoice_id": iid,
                            "kind": "license",
                            "sku": row["sku"],
                            "description": row["product"],
                            "quantity": _d(row["seats_in_use"]),
                            "unit_price": row["unit_price"],
                            "amount": _d(row["seats_in_use"] * row["unit_price"]),
                        }
                    )
                total = _d(sum((x["amount"] for x in lines), Decimal(0)))
                due = issued + dt.timedelta(days=30)
                paid = due < as_of - dt.timedelta(days=20) and rng.random() > 0.1
                if rng.random() < 0.03:
                    status, balance = "void", _d(0)
                elif paid:
                    status, balance = "paid", _d(0)
                else:
                    status, balance = ("overdue" if due < as_of else "open"), total
                t["invoices"].append(
                    {
                        "external_id": iid,
                        "client_id": cid,
                        "number": f"INV-{inv_no}",
                        "issued_on": issued,
                        "due_on": due,
                        "period_start": month,
                        "period_end": period_end,
                        "total": total,
                        "balance": balance,
                        "status": status,
                    }
                )
                t["invoice_lines"].extend(lines)
                if status == "paid":
                    t["payments"].append(
                        {
                            "external_id": f"{iid}-pay",
                            "client_id": cid,
                            "invoice_id": iid,
                            "paid_on": issued + dt.timedelta(days=rng.randint(5, 28)),
                            "amount": total,
                        }
                    )
                if c % 3 == 2 and month.month % 2 == 0:  # hardware sale billed in QuickBooks
                    inv_no += 1
                    hid = f"{cid}-h{month:%Y%m}"
                    product, sku, price = _HARDWARE[month.month % 2]
                    qty = _d(rng.randint(1, 3))
                    amount = _d(qty * Decimal(price))
                    t["invoices"].append(
                        {
                            "external_id": hid,
                            "client_id": cid,
                            "number": f"INV-{inv_no}",
                            "issued_on": month + dt.timedelta(days=14),
                            "due_on": month + dt.timedelta(days=44),
                            "total": amount,
                            "balance": amount if month + dt.timedelta(days=44) >= as_of else _d(0),
                            "status": "open" if month + dt.timedelta(days=44) >= as_of else "paid",
                        }
                    )
                    t["invoice_lines"].append(
                        {
                            "external_id": f"{hid}-l1",
                            "invoice_id": hid,
                            "kind": "hardware",
                            "sku": sku,
                            "description": product,
                            "quantity": qty,
                            "unit_price": _d(price),
                            "amount": amount,
                        }
                    )
                    if t["invoices"][-1]["status"] == "paid":
                        t["payments"].append(
                            {
                                "external_id": f"{hid}-pay",
                                "client_id": cid,
                                "invoice_id": hid,
                                "paid_on": month + dt.timedelta(days=30),
                                "amount": amount,
                            }
                        )
            month = add_months(month, 1)
    return SampleDataset(SampleTenant(tenant_id, "Sample MSP"), as_of, t)
