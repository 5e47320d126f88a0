"""Read queries behind the client endpoints (tenant- and client-scoped, plain dicts out)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db.definitions import client_economics, unbilled_hours_by_client
from mspilot.db.schema import Asset, Client, Contract, Invoice, Technician, Ticket, TimeEntry


def _num(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def list_clients(
    engine: Engine,
    tenant_id: str,
    *,
    client_id: str | None,
    status: str | None,
    q: str | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    conds = [Client.tenant_id == tenant_id, Client.deleted_at.is_(None)]
    if client_id is not None:
        conds.append(Client.id == client_id)
    if status:
        conds.append(Client.status == status)
    if q:
        conds.append(func.lower(Client.name).contains(q.lower(), autoescape=True))
    where = and_(*conds)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(Client).where(where)).scalar_one()
        rows = conn.execute(
            select(
                Client.id,
                Client.name,
                Client.industry,
                Client.seats,
                Client.status,
                Client.onboarded_on,
                Client.churned_on,
            )
            .where(where)
            .order_by(Client.name, Client.id)
            .offset(offset)
            .limit(limit)
        ).mappings()
        return [dict(r) for r in rows], int(total)


def client_profile(
    engine: Engine, tenant_id: str, client_id: str, today: dt.date
) -> dict[str, Any] | None:
    """Everything one page about a client needs; the caller redacts by role."""
    year = Period(add_months(today, -12) + dt.timedelta(days=1), today)
    quarter_start = today - dt.timedelta(days=90)
    with engine.connect() as conn:
        base = (
            conn.execute(
                select(Client.__table__).where(
                    Client.tenant_id == tenant_id,
                    Client.id == client_id,
                    Client.deleted_at.is_(None),
                )
            )
            .mappings()
            .first()
        )
        if base is None:
            return None
        client = dict(base)
        tickets = (
            conn.execute(
                select(
                    func.count().label("n"),
                    func.sum(case((Ticket.resolved_at.is_(None), 1), else_=0)).label("open"),
                    func.sum(case((Ticket.priority == "p1", 1), else_=0)).label("p1"),
                    func.avg(case((Ticket.sla_breached, 1.0), else_=0.0)).label("breach"),
                    func.avg(Ticket.csat).label("csat"),
                ).where(
                    Ticket.tenant_id == tenant_id,
                    Ticket.client_id == client_id,
                    Ticket.deleted_at.is_(None),
                    or_(
                        Ticket.opened_at >= dt.datetime.combine(quarter_start, dt.time(), dt.UTC),
                        Ticket.resolved_at.is_(None),
                    ),
                )
            )
            .mappings()
            .one()
        )
        assets = conn.execute(
            select(func.count(), func.sum(case((Asset.managed, 1), else_=0))).where(
                Asset.tenant_id == tenant_id,
                Asset.client_id == client_id,
                Asset.deleted_at.is_(None),
            )
        ).one()
        invoices = conn.execute(
            select(func.count(), func.coalesce(func.sum(Invoice.balance), 0)).where(
                Invoice.tenant_id == tenant_id,
                Invoice.client_id == client_id,
                Invoice.deleted_at.is_(None),
                Invoice.status.in_(("open", "overdue")),
            )
        ).one()
        found = conn.execute(client_economics(tenant_id, year, [client_id])).mappings().first()
        econ: dict[str, Any] = dict(found) if found else {}
        unbilled = conn.execute(unbilled_hours_by_client(tenant_id, today, [client_id])).first()
        contracts = conn.execute(
            select(
                Contract.id,
                Contract.name,
                Contract.kind,
                Contract.unit_price,
                Contract.quantity,
                Contract.monthly_value,
                Contract.hourly_rate,
                Contract.starts_on,
                Contract.ends_on,
                Contract.status,
            ).where(
                Contract.tenant_id == tenant_id,
                Contract.client_id == client_id,
                Contract.deleted_at.is_(None),
            )
        ).mappings()
        contract_rows = [{k: _num(v) for k, v in c.items()} for c in contracts]
        techs = conn.execute(
            select(Technician.name, func.sum(TimeEntry.hours).label("hours"))
            .join(
                Technician,
                and_(
                    Technician.tenant_id == TimeEntry.tenant_id,
                    Technician.id == TimeEntry.technician_id,
                ),
            )
            .where(
                TimeEntry.tenant_id == tenant_id,
                TimeEntry.client_id == client_id,
                TimeEntry.deleted_at.is_(None),
                TimeEntry.work_date >= quarter_start,
            )
            .group_by(Technician.name)
            .order_by(func.sum(TimeEntry.hours).desc())
            .limit(5)
        ).all()
    mrr = sum(float(c["monthly_value"] or 0) for c in contract_rows if c["status"] == "active")
    return {
        "id": client["id"],
        "name": client["name"],
        "industry": client["industry"],
        "seats": client["seats"],
        "status": client["status"],
        "onboarded_on": client["onboarded_on"],
        "churned_on": client["churned_on"],
        "tickets_90d": int(tickets["n"] or 0),
        "open_tickets": int(tickets["open"] or 0),
        "p1_tickets_90d": int(tickets["p1"] or 0),
        "sla_breach_rate_90d": _round(tickets["breach"]),
        "csat_90d": _round(tickets["csat"]),
        "assets": int(assets[0] or 0),
        "managed_assets": int(assets[1] or 0),
        "invoices": {"open": int(invoices[0] or 0)},
        "balance_due": float(invoices[1] or 0),
        "mrr": round(mrr, 2),
        "revenue_12m": _num(econ.get("revenue")),
        "labour_cost_12m": _num(econ.get("labour_cost")),
        "licence_cost_12m": _num(econ.get("licence_cost")),
        "margin_12m": _num(econ.get("margin")),
        "margin_pct_12m": _round(econ.get("margin_pct")),
        "effective_rate_12m": _round(econ.get("effective_rate")),
        "unbilled_hours": float(unbilled[1]) if unbilled else 0.0,
        "contracts": contract_rows,
        "technicians": [{"name": n, "hours_90d": float(h or 0)} for n, h in techs],
        "as_of": today,
    }


def _round(value: Any, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)
