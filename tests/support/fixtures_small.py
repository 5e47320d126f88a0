"""A tiny hand-made MSP (two clients) with every number easy to check by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

D = Decimal
UTC = dt.UTC


def small_msp() -> dict[str, list[dict[str, Any]]]:
    return {
        "clients": [
            {
                "external_id": "c1",
                "name": "Contoso",
                "industry": "Legal",
                "seats": 20,
                "status": "active",
                "onboarded_on": dt.date(2024, 1, 1),
            },
            {
                "external_id": "c2",
                "name": "Fabrikam",
                "industry": "Retail",
                "seats": 8,
                "status": "churned",
                "onboarded_on": dt.date(2024, 1, 1),
                "churned_on": dt.date(2026, 9, 15),
            },
        ],
        "technicians": [
            {"external_id": "k1", "name": "Ann", "role": "L2", "hourly_cost": D("50.00")},
            {"external_id": "k2", "name": "Bob", "role": "L1", "hourly_cost": D("40.00")},
        ],
        "contracts": [
            {
                "external_id": "k-c1",
                "client_id": "c1",
                "kind": "per_user",
                "unit_price": D("150.00"),
                "quantity": D("20"),
                "monthly_value": D("3000.00"),
                "starts_on": dt.date(2026, 1, 1),
                "ends_on": dt.date(2026, 12, 31),
                "annual_escalation_pct": D("5.00"),
            },
        ],
        "tickets": [
            {
                "external_id": "t1",
                "client_id": "c1",
                "technician_id": "k1",
                "opened_at": dt.datetime(2026, 7, 3, 9, tzinfo=UTC),
                "resolved_at": dt.datetime(2026, 7, 3, 12, tzinfo=UTC),
                "priority": "p1",
                "category": "Network",
                "status": "resolved",
                "sla_breached": True,
                "csat": 2,
                "subject": "Internet down",
            },
        ],
        "invoices": [
            {
                "external_id": "i1",
                "client_id": "c1",
                "number": "INV-1",
                "issued_on": dt.date(2026, 7, 1),
                "due_on": dt.date(2026, 7, 31),
                "total": D("3100.00"),
                "balance": D("0.00"),
                "status": "paid",
            },
            {
                "external_id": "i2",
                "client_id": "c2",
                "number": "INV-2",
                "issued_on": dt.date(2026, 7, 1),
                "total": D("999.00"),
                "balance": D("999.00"),
                "status": "void",
            },
        ],
        "invoice_lines": [
            {
                "external_id": "l1",
                "invoice_id": "i1",
                "contract_id": "k-c1",
                "kind": "recurring",
                "quantity": D("20"),
                "unit_price": D("150.00"),
                "amount": D("3000.00"),
            },
            {
                "external_id": "l2",
                "invoice_id": "i1",
                "kind": "labor",
                "quantity": D("1"),
                "unit_price": D("100.00"),
                "amount": D("100.00"),
            },
            {
                "external_id": "l3",
                "invoice_id": "i2",
                "kind": "recurring",
                "quantity": D("1"),
                "unit_price": D("999.00"),
                "amount": D("999.00"),
            },
        ],
        "time_entries": [
            {
                "external_id": "e1",
                "client_id": "c1",
                "ticket_id": "t1",
                "technician_id": "k1",
                "work_date": dt.date(2026, 7, 3),
                "hours": D("2.00"),
                "billable": True,
                "invoice_line_id": "l2",
            },
            {
                "external_id": "e2",
                "client_id": "c1",
                "technician_id": "k2",
                "work_date": dt.date(2026, 7, 10),
                "hours": D("3.00"),
                "billable": True,
            },
            {
                "external_id": "e3",
                "client_id": "c2",
                "technician_id": "k2",
                "work_date": dt.date(2026, 7, 11),
                "hours": D("1.50"),
                "billable": False,
            },
        ],
        "payments": [
            {
                "external_id": "p1",
                "client_id": "c1",
                "invoice_id": "i1",
                "paid_on": dt.date(2026, 7, 20),
                "amount": D("3100.00"),
            },
        ],
        "assets": [
            {
                "external_id": "a1",
                "client_id": "c1",
                "kind": "workstation",
                "status": "online",
                "managed": True,
                "last_seen_at": dt.datetime(2026, 7, 30, tzinfo=UTC),
            },
        ],
        "licenses": [
            {
                "external_id": "m1",
                "client_id": "c1",
                "product": "Microsoft 365 Business Premium",
                "sku": "M365-BP",
                "seats_in_use": 20,
                "unit_cost": D("18.00"),
                "unit_price": D("22.00"),
                "starts_on": dt.date(2026, 1, 1),
            },
        ],
    }
