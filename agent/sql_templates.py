"""The fixed read-only SQL behind the router's long-tail list questions ("contracts ending
this quarter", "oldest open tickets"). Their only literals are dates, numbers and names taken
from the database, never the user's text; the SQL tool runs them in the caller's scope."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from mspilot.core.periods import Period

SQL_INTENTS: Final = (
    "clients_in_industry",
    "contracts_expiring",
    "clients_onboarded",
    "stale_devices",
    "oldest_open_tickets",
    "largest_invoices",
    "technician_list",
)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_for(
    intent: str,
    question: str,
    *,
    today: dt.date,
    client: str | None = None,
    industries: Sequence[str] = (),
    period: Period | None = None,
    days: int | None = None,
    top_n: int | None = None,
) -> str | None:
    """The read-only SQL for one of :data:`SQL_INTENTS`, or ``None`` when a slot it needs is
    missing. Literals are dates, numbers and names read from the database, never user text."""
    low = question.lower()
    client_clause = f" AND c.name = {_sql_str(client)}" if client else ""
    if intent == "clients_in_industry":
        if not industries:
            return None
        return (
            "SELECT c.name, c.status, c.seats, c.onboarded_on FROM clients c "
            f"WHERE c.industry = {_sql_str(industries[0])} AND c.status = 'active' "
            "AND c.deleted_at IS NULL ORDER BY c.name"
        )
    if intent == "contracts_expiring":
        window = period or Period(today, today + dt.timedelta(days=days or 90))
        return (
            "SELECT c.name AS client, k.name AS contract, k.kind, k.ends_on, k.monthly_value "
            "FROM contracts k JOIN clients c ON c.id = k.client_id "
            f"WHERE k.ends_on >= '{window.start.isoformat()}' "
            f"AND k.ends_on < '{window.end.isoformat()}' "
            "AND k.status = 'active' AND k.deleted_at IS NULL"
            + client_clause
            + " ORDER BY k.ends_on"
        )
    if intent == "clients_onboarded":
        if client:
            return (
                "SELECT c.name, c.onboarded_on, c.status, c.industry FROM clients c "
                f"WHERE c.deleted_at IS NULL{client_clause}"
            )
        window = period or Period(dt.date(today.year, 1, 1), today + dt.timedelta(days=1))
        return (
            "SELECT c.name, c.industry, c.onboarded_on FROM clients c "
            f"WHERE c.onboarded_on >= '{window.start.isoformat()}' "
            f"AND c.onboarded_on < '{window.end.isoformat()}' AND c.deleted_at IS NULL "
            "ORDER BY c.onboarded_on"
        )
    if intent == "stale_devices":
        cutoff = today - dt.timedelta(days=days or 30)
        return (
            "SELECT c.name AS client, a.name AS device, a.kind, a.last_seen_at "
            "FROM assets a JOIN clients c ON c.id = a.client_id "
            f"WHERE a.managed = TRUE AND a.last_seen_at < '{cutoff.isoformat()}' "
            "AND a.deleted_at IS NULL" + client_clause + " ORDER BY a.last_seen_at"
        )
    if intent == "oldest_open_tickets":
        limit = top_n or 10
        return (
            "SELECT t.subject, c.name AS client, t.priority, t.opened_at "
            "FROM tickets t JOIN clients c ON c.id = t.client_id "
            "WHERE t.resolved_at IS NULL AND t.deleted_at IS NULL"
            + client_clause
            + f" ORDER BY t.opened_at LIMIT {limit}"
        )
    if intent == "largest_invoices":
        if "overdue" in low or "past due" in low:
            return (
                "SELECT i.number, c.name AS client, i.due_on, i.balance "
                "FROM invoices i JOIN clients c ON c.id = i.client_id "
                f"WHERE i.balance > 0 AND i.due_on < '{today.isoformat()}' "
                "AND i.status <> 'void' AND i.deleted_at IS NULL"
                + client_clause
                + " ORDER BY i.due_on"
            )
        period_sql = ""
        if period:
            period_sql = (
                f" AND i.issued_on >= '{period.start.isoformat()}'"
                f" AND i.issued_on < '{period.end.isoformat()}'"
            )
        return (
            "SELECT i.number, c.name AS client, i.issued_on, i.total "
            "FROM invoices i JOIN clients c ON c.id = i.client_id "
            "WHERE i.status <> 'void' AND i.deleted_at IS NULL"
            + period_sql
            + client_clause
            + f" ORDER BY i.total DESC LIMIT {top_n or 5}"
        )
    if intent == "technician_list":
        return (
            "SELECT t.name, t.role FROM technicians t "
            "WHERE t.active = TRUE AND t.deleted_at IS NULL ORDER BY t.name"
        )
    return None
