"""Derive, don't refuse: values a source did not give, taken from what the tenant has.

A client whose source keeps no churn date (SuperOps accounts without that custom field) is
still a churned client: its churn date is derived from its last contract end, else its last
invoice, else its last activity (ticket or time entry); its onboarding date from its first
contract start, else its first ticket, else its first invoice. Each derived value names the
rule that produced it; the loader records it as a data-quality *warning*, and a later sync
replaces it as soon as the source gives the value.

When the tenant holds no evidence yet (a first sync loads clients before their contracts),
the value the row already has is kept, else the sync's day stands in; the loader derives
these rows again once the sync's other streams have loaded (``Loader.rederive``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from mspilot.db.schema import Client, Contract, Invoice, Ticket, TimeEntry

#: rules that found no evidence in the tenant: derived again at the end of the sync
PROVISIONAL = frozenset({"kept", "sync_day"})


@dataclass(frozen=True)
class Derived:
    column: str
    value: Any
    rule: str
    detail: str

    @property
    def provisional(self) -> bool:
        return self.rule in PROVISIONAL

    def reason(self) -> str:
        return f"{self.column} derived ({self.rule}: {self.detail}); the source gave no value"


def _as_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _per_client(
    conn: Connection,
    tenant_id: str,
    column: Any,
    agg: Any,
    ids: list[str],
    until: dt.date | None,
) -> dict[str, dt.date]:
    model = column.class_
    out: dict[str, dt.date] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        stmt = select(model.client_id, agg(column)).where(
            model.tenant_id == tenant_id,
            model.client_id.in_(chunk),
            model.deleted_at.is_(None),
        )
        if until is not None:  # a contract still running is no evidence of a churn date
            stmt = stmt.where(column <= until)
        rows = conn.execute(stmt.group_by(model.client_id))
        for client_id, value in rows:
            day = _as_date(value)
            if day is not None:
                out[client_id] = day
    return out


#: (rule, column, aggregate) in the order they are tried
_CHURN_RULES = (
    ("last_contract_end", Contract.ends_on, func.max),
    ("last_invoice", Invoice.issued_on, func.max),
    ("last_ticket", Ticket.opened_at, func.max),
    ("last_time_entry", TimeEntry.work_date, func.max),
)
_ONBOARD_RULES = (
    ("first_contract_start", Contract.starts_on, func.min),
    ("first_ticket", Ticket.opened_at, func.min),
    ("first_invoice", Invoice.issued_on, func.min),
)


def _wants(row: Mapping[str, Any]) -> tuple[bool, bool]:
    churn = row.get("status") == "churned" and row.get("churned_on") in (None, "")
    onboard = row.get("onboarded_on") in (None, "")
    return churn, onboard


def clients_needing_derivation(rows: Iterable[Mapping[str, Any]]) -> bool:
    return any(any(_wants(r)) for r in rows)


def derive_client_dates(
    conn: Connection,
    tenant_id: str,
    rows: Mapping[str, Mapping[str, Any]],
    today: dt.date,
) -> dict[str, list[Derived]]:
    """For client rows (by canonical id) missing a churn or onboarding date: the values to
    fill in. Rows that need nothing are absent."""
    wanted = {rid: _wants(r) for rid, r in rows.items() if any(_wants(r))}
    if not wanted:
        return {}
    ids = sorted(wanted)
    evidence = {
        rule: _per_client(
            conn, tenant_id, column, agg, ids, today if rule == "last_contract_end" else None
        )
        for rule, column, agg in _CHURN_RULES + _ONBOARD_RULES
    }
    stored: dict[str, tuple[dt.date | None, dt.date | None]] = {}
    for start in range(0, len(ids), 500):
        res = conn.execute(
            select(Client.id, Client.onboarded_on, Client.churned_on).where(
                Client.tenant_id == tenant_id, Client.id.in_(ids[start : start + 500])
            )
        )
        stored.update({r[0]: (_as_date(r[1]), _as_date(r[2])) for r in res})
    out: dict[str, list[Derived]] = {}
    for row_id, (churn, onboard) in wanted.items():
        derived: list[Derived] = []
        onboarded = _as_date(rows[row_id].get("onboarded_on"))
        before = stored.get(row_id, (None, None))
        if onboard:
            found = _first(evidence, _ONBOARD_RULES, row_id)
            if found is None and before[0] is not None:
                found = Derived("onboarded_on", before[0], "kept", "the value loaded before")
            if found is not None:
                derived.append(Derived("onboarded_on", found.value, found.rule, found.detail))
                onboarded = found.value
        if churn:
            found = _first(evidence, _CHURN_RULES, row_id)
            if found is None and before[1] is not None:
                found = Derived("churned_on", before[1], "kept", "the value loaded before")
            if found is None:
                found = Derived("churned_on", today, "sync_day", "no contract, invoice or activity")
            value = found.value
            if onboarded is not None and value < onboarded:
                value = onboarded  # never before the client was onboarded
            derived.append(Derived("churned_on", value, found.rule, found.detail))
        if derived:
            out[row_id] = derived
    return out


def _first(
    evidence: dict[str, dict[str, dt.date]], rules: tuple[Any, ...], row_id: str
) -> Derived | None:
    for rule, column, _agg in rules:
        day = evidence[rule].get(row_id)
        if day is not None:
            return Derived("", day, rule, f"{column.class_.__tablename__} {day.isoformat()}")
    return None
