"""The shared business definitions (data-model.md), implemented once.

Every later layer (features, metrics semantic layer, tools, digests, evaluations) builds on
these select builders instead of re-deriving revenue or cost. Each builder returns a
SQLAlchemy ``Select`` scoped to one tenant (and optionally some clients); rows deleted or
voided at the source never count.

- Revenue: sum of ``invoice_lines.amount`` of non-void invoices issued in the period.
- Labour cost: sum of ``time_entries.hours × technicians.hourly_cost``.
- Licence cost: ``licenses.seats_in_use × unit_cost`` for every month the licence is active.
- Gross margin = revenue − labour − licence cost; margin % = margin / revenue.
- Effective hourly rate = revenue / hours worked.
- Unbilled billable hours: billable entries with no invoice line, older than 35 days.
- Churn label at a snapshot: the client churns within the next 90 days.
- Capacity: 8 hours per working day (Monday to Friday) per technician.
- Utilisation = hours worked / capacity; billable utilisation = billable hours / capacity.
- Days to pay: a paid invoice's last payment date − its issue date (per payment: that
  payment's date − the invoice's issue date).
- Ageing of an open invoice at a date: current (not yet due), 1–30, 31–60, 61–90 or 90+
  days past its due date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Float,
    Numeric,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from mspilot.core.clock import add_months
from mspilot.core.periods import Period
from mspilot.db.schema import (
    AnySelect,
    Client,
    Invoice,
    InvoiceLine,
    License,
    Payment,
    Technician,
    TimeEntry,
)

UNBILLED_AFTER_DAYS = 35
CHURN_HORIZON_DAYS = 90
CAPACITY_HOURS_PER_DAY = 8
#: (label, first day past due) from the most overdue down; "current" is not yet due.
AGEING_BUCKETS = (("90+", 91), ("61-90", 61), ("31-60", 31), ("1-30", 1), ("current", None))
ZERO = Decimal("0")


def _client_filter(column: Any, client_ids: Collection[str] | None) -> ColumnElement[bool]:
    return column.in_(list(client_ids)) if client_ids is not None else literal(True)


def live_invoices(tenant_id: str) -> ColumnElement[bool]:
    return and_(
        Invoice.tenant_id == tenant_id, Invoice.status != "void", Invoice.deleted_at.is_(None)
    )


def revenue_by_client(
    tenant_id: str, period: Period, client_ids: Collection[str] | None = None
) -> AnySelect:
    """(client_id, revenue) for clients with revenue in the period."""
    return (
        select(Invoice.client_id, func.sum(InvoiceLine.amount).label("revenue"))
        .join(
            InvoiceLine,
            and_(InvoiceLine.invoice_id == Invoice.id, InvoiceLine.deleted_at.is_(None)),
        )
        .where(
            live_invoices(tenant_id),
            Invoice.issued_on >= period.start,
            Invoice.issued_on < period.end,
            _client_filter(Invoice.client_id, client_ids),
        )
        .group_by(Invoice.client_id)
    )


def labour_by_client(
    tenant_id: str, period: Period, client_ids: Collection[str] | None = None
) -> AnySelect:
    """(client_id, hours, billable_hours, labour_cost) of time worked in the period."""
    return (
        select(
            TimeEntry.client_id,
            func.sum(TimeEntry.hours).label("hours"),
            func.sum(case((TimeEntry.billable, TimeEntry.hours), else_=0)).label("billable_hours"),
            func.sum(TimeEntry.hours * Technician.hourly_cost).label("labour_cost"),
        )
        .join(Technician, Technician.id == TimeEntry.technician_id)
        .where(
            TimeEntry.tenant_id == tenant_id,
            TimeEntry.deleted_at.is_(None),
            TimeEntry.work_date >= period.start,
            TimeEntry.work_date < period.end,
            _client_filter(TimeEntry.client_id, client_ids),
        )
        .group_by(TimeEntry.client_id)
    )


def licence_active_months(period: Period) -> ColumnElement[Any]:
    """How many of the period's calendar months each licence row is active in."""
    terms = []
    for start in period.month_starts():
        end = add_months(start, 1)
        active = and_(
            or_(License.starts_on.is_(None), License.starts_on < end),
            or_(License.ends_on.is_(None), License.ends_on >= start),
        )
        terms.append(case((active, 1), else_=0))
    total: ColumnElement[Any] = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def licence_cost_by_client(
    tenant_id: str, period: Period, client_ids: Collection[str] | None = None
) -> AnySelect:
    """(client_id, licence_cost, licence_seats) over the period's months."""
    months = licence_active_months(period)
    return (
        select(
            License.client_id,
            func.sum(License.seats_in_use * License.unit_cost * months).label("licence_cost"),
            func.sum(License.seats_in_use).label("licence_seats"),
        )
        .where(
            License.tenant_id == tenant_id,
            License.deleted_at.is_(None),
            _client_filter(License.client_id, client_ids),
        )
        .group_by(License.client_id)
    )


#: The money columns of ``client_economics`` every per-client view shows, in order.
ECONOMICS_COLUMNS = (
    "revenue",
    "hours",
    "labour_cost",
    "licence_cost",
    "margin",
    "margin_pct",
    "effective_rate",
)


def client_economics(
    tenant_id: str, period: Period, client_ids: Collection[str] | None = None
) -> AnySelect:
    """One row per client: revenue, hours, labour and licence cost, margin, margin %,
    effective hourly rate over the period (zeros where there was no activity)."""
    rev = revenue_by_client(tenant_id, period, client_ids).subquery("rev")
    lab = labour_by_client(tenant_id, period, client_ids).subquery("lab")
    lic = licence_cost_by_client(tenant_id, period, client_ids).subquery("lic")
    revenue = func.coalesce(rev.c.revenue, 0)
    labour = func.coalesce(lab.c.labour_cost, 0)
    licence = func.coalesce(lic.c.licence_cost, 0)
    hours = func.coalesce(lab.c.hours, 0)
    margin = revenue - labour - licence
    return (
        select(
            Client.id.label("client_id"),
            Client.name,
            cast(revenue, Numeric(14, 2)).label("revenue"),
            cast(hours, Numeric(14, 2)).label("hours"),
            cast(func.coalesce(lab.c.billable_hours, 0), Numeric(14, 2)).label("billable_hours"),
            cast(labour, Numeric(14, 2)).label("labour_cost"),
            cast(licence, Numeric(14, 2)).label("licence_cost"),
            cast(margin, Numeric(14, 2)).label("margin"),
            case((revenue > 0, cast(margin, Float) / cast(revenue, Float)), else_=None).label(
                "margin_pct"
            ),
            case((hours > 0, cast(revenue, Float) / cast(hours, Float)), else_=None).label(
                "effective_rate"
            ),
        )
        .outerjoin(rev, rev.c.client_id == Client.id)
        .outerjoin(lab, lab.c.client_id == Client.id)
        .outerjoin(lic, lic.c.client_id == Client.id)
        .where(
            Client.tenant_id == tenant_id,
            Client.deleted_at.is_(None),
            _client_filter(Client.id, client_ids),
        )
        .order_by(Client.name)
    )


def unbilled_time_entries(
    tenant_id: str, as_of: dt.date, client_ids: Collection[str] | None = None
) -> AnySelect:
    """Billable time entries never invoiced and older than 35 days at ``as_of``."""
    cutoff = as_of - dt.timedelta(days=UNBILLED_AFTER_DAYS)
    return select(TimeEntry).where(
        TimeEntry.tenant_id == tenant_id,
        TimeEntry.deleted_at.is_(None),
        TimeEntry.billable.is_(True),
        TimeEntry.invoice_line_id.is_(None),
        TimeEntry.work_date < cutoff,
        _client_filter(TimeEntry.client_id, client_ids),
    )


def unbilled_hours_by_client(
    tenant_id: str, as_of: dt.date, client_ids: Collection[str] | None = None
) -> AnySelect:
    """(client_id, unbilled_hours, entries) at ``as_of``."""
    sub = unbilled_time_entries(tenant_id, as_of, client_ids).subquery()
    return select(
        sub.c.client_id,
        func.sum(sub.c.hours).label("unbilled_hours"),
        func.count().label("entries"),
    ).group_by(sub.c.client_id)


def active_clients(tenant_id: str, on: dt.date) -> AnySelect:
    """Clients onboarded by ``on`` and not churned by then."""
    return select(Client).where(
        Client.tenant_id == tenant_id,
        Client.deleted_at.is_(None),
        Client.status != "prospect",
        or_(Client.onboarded_on.is_(None), Client.onboarded_on <= on),
        or_(Client.churned_on.is_(None), Client.churned_on > on),
    )


def churn_labels(tenant_id: str, snapshot: dt.date) -> AnySelect:
    """(client_id, churns) for clients active at ``snapshot``: churns within 90 days after."""
    horizon = snapshot + dt.timedelta(days=CHURN_HORIZON_DAYS)
    sub = active_clients(tenant_id, snapshot).subquery()
    churned_on = sub.c.churned_on
    churns = and_(churned_on.is_not(None), churned_on <= horizon)
    return select(sub.c.id.label("client_id"), case((churns, True), else_=False).label("churns"))


def revenue_total(conn: Connection, tenant_id: str, period: Period) -> Decimal:
    sub = revenue_by_client(tenant_id, period).subquery()
    value = conn.execute(select(func.coalesce(func.sum(sub.c.revenue), 0))).scalar_one()
    return Decimal(str(value)).quantize(Decimal("0.01"))


def working_days(period: Period) -> int:
    """Monday-to-Friday days in the period."""
    full_weeks, rest = divmod(period.days, 7)
    first = period.start.weekday()
    return full_weeks * 5 + sum(1 for i in range(rest) if (first + i) % 7 < 5)


def capacity_hours(period: Period) -> int:
    """One technician's capacity over the period."""
    return working_days(period) * CAPACITY_HOURS_PER_DAY


def ageing_bucket(due_on: Any, as_of: dt.date) -> ColumnElement[str]:
    """The ageing bucket of an invoice due on ``due_on`` at ``as_of`` (no due date: current)."""
    whens = [
        (due_on <= as_of - dt.timedelta(days=first), label)
        for label, first in AGEING_BUCKETS
        if first is not None
    ]
    return case(*whens, else_="current")


def invoice_paid_on(tenant_id: str) -> AnySelect:
    """(invoice_id, paid_on): the last payment date of each paid, live invoice."""
    return (
        select(Payment.invoice_id.label("invoice_id"), func.max(Payment.paid_on).label("paid_on"))
        .join(Invoice, and_(Invoice.id == Payment.invoice_id, Invoice.tenant_id == tenant_id))
        .where(
            Payment.tenant_id == tenant_id,
            Payment.deleted_at.is_(None),
            live_invoices(tenant_id),
            Invoice.status == "paid",
        )
        .group_by(Payment.invoice_id)
    )
