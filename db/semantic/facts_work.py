"""Fact builders over work and clients: time entries, tickets, client events, assets."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Numeric, and_, case, cast, literal, null, or_, select

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db import definitions as d
from mspilot.db.schema import (
    AnySelect,
    Asset,
    Client,
    Technician,
    Ticket,
    TimeEntry,
)
from mspilot.db.semantic.fact_base import (
    Build,
    FactBuilder,
    client_scope,
    day_literal,
    live_rows,
    snapshot_buckets,
    union_arms,
)
from mspilot.db.semantic_sql import (
    hours_between,
    utc_date,
)


def build_time_entries(b: Build) -> AnySelect:
    cutoff = b.as_of - dt.timedelta(days=d.UNBILLED_AFTER_DAYS)
    unbilled = and_(
        TimeEntry.billable.is_(True),
        TimeEntry.invoice_line_id.is_(None),
        TimeEntry.work_date < cutoff,
    )
    with_ticket = bool({"priority", "category"} & b.needs)
    with_cost = "labour_cost" in b.needs
    stmt = select(
        TimeEntry.client_id.label("client_id"),
        TimeEntry.technician_id.label("technician_id"),
        TimeEntry.work_date.label("event_date"),
        TimeEntry.billable.label("billable"),
        (Ticket.priority if with_ticket else null()).label("priority"),
        (Ticket.category if with_ticket else null()).label("category"),
        TimeEntry.hours.label("hours"),
        case((TimeEntry.billable, TimeEntry.hours), else_=0).label("billable_hours"),
        (TimeEntry.hours * Technician.hourly_cost if with_cost else null()).label("labour_cost"),
        case((unbilled, TimeEntry.hours), else_=0).label("unbilled_hours"),
    ).where(live_rows(TimeEntry, b, on=TimeEntry.work_date))
    if with_cost:
        stmt = stmt.join(
            Technician,
            and_(Technician.id == TimeEntry.technician_id, Technician.tenant_id == b.tenant_id),
        )
    if with_ticket:
        stmt = stmt.outerjoin(
            Ticket, and_(Ticket.id == TimeEntry.ticket_id, Ticket.tenant_id == b.tenant_id)
        )
    return stmt


def build_tickets(b: Build) -> AnySelect:
    return select(
        Ticket.client_id.label("client_id"),
        Ticket.technician_id.label("technician_id"),
        (utc_date(Ticket.opened_at) if "event_date" in b.needs else null()).label("event_date"),
        Ticket.priority.label("priority"),
        Ticket.category.label("category"),
        Ticket.status.label("status"),
        case((Ticket.priority == "p1", 1.0), else_=0.0).label("is_p1"),
        case((Ticket.sla_breached, 1.0), else_=0.0).label("breached"),
        Ticket.csat.label("csat"),
        (
            hours_between(Ticket.opened_at, Ticket.resolved_at)
            if "avg_resolution_hours" in b.needs
            else null()
        ).label("resolution_hours"),
    ).where(live_rows(Ticket, b, on=Ticket.opened_at, utc=True))


def build_active_clients(b: Build) -> AnySelect:
    arms = []
    for start, snap in snapshot_buckets(b):
        sub = d.active_clients(b.tenant_id, snap).subquery()
        arms.append(
            select(sub.c.id.label("client_id"), day_literal(start).label("event_date")).where(
                client_scope(sub.c.id, b)
            )
        )
    return union_arms(arms)


def build_client_events(column: str) -> FactBuilder:
    def build(b: Build) -> AnySelect:
        col = getattr(Client, column)
        return select(Client.id.label("client_id"), col.label("event_date")).where(
            live_rows(Client, b, on=col), col.is_not(None)
        )

    return build


def build_assets(b: Build) -> AnySelect:
    return select(
        Asset.client_id.label("client_id"),
        Asset.kind.label("asset_kind"),
        Asset.status.label("status"),
        case((Asset.managed, 1), else_=0).label("managed"),
    ).where(live_rows(Asset, b))


def build_technician_time(b: Build) -> AnySelect:
    """Per technician and month (or the whole period): hours worked and capacity (the
    utilisation definitions). Capacity counts working days up to today only, for every
    active technician and any other who logged time in the window."""
    assert b.period is not None
    windows = (
        [Period(s, min(add_months(s, 1), b.period.end)) for s in b.period.month_starts()]
        if b.grain
        else [b.period]
    )
    z = cast(literal(0), Numeric(14, 2))
    arms: list[AnySelect] = [
        select(
            TimeEntry.technician_id.label("technician_id"),
            TimeEntry.work_date.label("event_date"),
            cast(TimeEntry.hours, Numeric(14, 2)).label("hours"),
            cast(case((TimeEntry.billable, TimeEntry.hours), else_=0), Numeric(14, 2)).label(
                "billable_hours"
            ),
            z.label("capacity"),
        ).where(live_rows(TimeEntry, b, on=TimeEntry.work_date))
    ]
    for window in windows:
        start = max(window.start, b.period.start)
        end = min(window.end, b.as_of + dt.timedelta(days=1))
        if end <= start:
            continue
        worked = select(TimeEntry.technician_id).where(
            TimeEntry.tenant_id == b.tenant_id,
            TimeEntry.deleted_at.is_(None),
            TimeEntry.work_date >= start,
            TimeEntry.work_date < end,
        )
        hours = d.capacity_hours(Period(start, end))
        arms.append(
            select(
                Technician.id.label("technician_id"),
                day_literal(start).label("event_date"),
                z,
                z,
                cast(literal(hours), Numeric(14, 2)),
            ).where(
                Technician.tenant_id == b.tenant_id,
                Technician.deleted_at.is_(None),
                or_(Technician.active.is_(True), Technician.id.in_(worked)),
            )
        )
    return union_arms(arms)
