"""Programmatic rows for loader tests: enough to span many batches."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


def bulk_msp(n_clients: int = 12, tickets_per_client: int = 60) -> dict[str, list[dict[str, Any]]]:
    clients = [
        {
            "external_id": f"c{i}",
            "name": f"Client {i}",
            "industry": "Legal",
            "seats": 10 + i,
            "status": "active",
            "onboarded_on": dt.date(2025, 1, 1),
        }
        for i in range(n_clients)
    ]
    techs = [
        {"external_id": f"k{i}", "name": f"Tech {i}", "role": "L1", "hourly_cost": Decimal("45.00")}
        for i in range(4)
    ]
    tickets, entries = [], []
    base = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)
    for c in range(n_clients):
        for t in range(tickets_per_client):
            ext = f"t{c}-{t}"
            opened = base + dt.timedelta(hours=7 * t + c)
            tickets.append(
                {
                    "external_id": ext,
                    "client_id": f"c{c}",
                    "technician_id": f"k{t % 4}",
                    "opened_at": opened,
                    "resolved_at": opened + dt.timedelta(hours=3),
                    "priority": f"p{1 + t % 4}",
                    "category": "Network",
                    "status": "resolved",
                    "sla_breached": t % 9 == 0,
                    "csat": 1 + (t % 5),
                    "subject": f"Issue {t}",
                }
            )
            entries.append(
                {
                    "external_id": f"e{c}-{t}",
                    "client_id": f"c{c}",
                    "ticket_id": ext,
                    "technician_id": f"k{t % 4}",
                    "work_date": opened.date(),
                    "hours": Decimal("1.25"),
                    "billable": t % 2 == 0,
                }
            )
    return {"clients": clients, "technicians": techs, "tickets": tickets, "time_entries": entries}
