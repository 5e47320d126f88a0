"""The metrics semantic layer: an MSP's metrics × dimensions, compiled to SQL.

In the spirit of WrenAI's MDL: every metric is defined once, on the shared definitions
(``db.definitions``), over a *fact* (a set of rows such as invoice lines, time entries,
tickets); every dimension is defined once (client, technician, priority, month...). A
``MetricRequest`` (metric, dimensions, filters, period, top-N) compiles to one SQLAlchemy
statement that runs on SQLite and PostgreSQL. The tenant (and, for a client-portal user, the
client) is part of the compiled query itself, never a later filter. Small models only name a
metric and dimensions: they never invent joins.

Periods are half-open ``[start, end)``. Flow metrics (revenue, hours, tickets...) count what
happened in the period (all time without one). Snapshot metrics (MRR, active clients, licence
seats) are measured at the end of the period (or today) and, with a time dimension, at the end
of each month/quarter/year. Balances are today's. Cost-based metrics (licence cost, margin,
margin %, effective rate) need a bounded period and default to the last 12 whole months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Float,
    Numeric,
    Select,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from mspilot.core.clock import Clock, add_months
from mspilot.core.errors import UserInputError
from mspilot.core.periods import Period, parse_period
from mspilot.db import definitions as d
from mspilot.db.schema import (
    Asset,
    Client,
    Contract,
    Invoice,
    InvoiceLine,
    License,
    Payment,
    Technician,
    Ticket,
    TimeEntry,
)
from mspilot.db.semantic_access import (
    ALL_ROLES,
    STAFF_WITH_MONEY,
    AccessDenied,
    check_role,
)
from mspilot.db.semantic_sql import (
    hours_between,
    month_label,
    quarter_label,
    utc_date,
    year_label,
)

if TYPE_CHECKING:
    AnySelect = Select[*tuple[Any, ...]]

Unit = Literal["money", "hours", "count", "ratio", "score", "rate", "seats"]
TIME_DIMENSIONS = ("month", "quarter", "year")
DEFAULT_COST_MONTHS = 12
MAX_BUCKETS = 60


class SemanticError(UserInputError):
    """A metric request that cannot be answered as asked (the message lists what can)."""


# ---- dimensions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DimensionDef:
    name: str
    description: str
    synonyms: tuple[str, ...] = ()
    #: The fact column it needs (``client_id`` for client attributes, ``event_date`` for time).
    needs: str = ""
    time: bool = False


DIMENSIONS: dict[str, DimensionDef] = {
    dim.name: dim
    for dim in (
        DimensionDef(
            "client",
            "The client (customer) by name",
            ("customer", "account", "company"),
            "client_id",
        ),
        DimensionDef("industry", "The client's industry", ("sector", "vertical"), "client_id"),
        DimensionDef(
            "client_status",
            "The client's status: active, churned or prospect",
            ("client state",),
            "client_id",
        ),
        DimensionDef(
            "technician",
            "The technician (engineer) who did the work / owns the ticket",
            ("tech", "engineer", "agent", "staff"),
            "technician_id",
        ),
        DimensionDef(
            "month",
            "Calendar month, 'YYYY-MM'",
            ("monthly", "per month", "by month"),
            "event_date",
            True,
        ),
        DimensionDef(
            "quarter",
            "Calendar quarter, 'YYYY-Qn'",
            ("quarterly", "per quarter"),
            "event_date",
            True,
        ),
        DimensionDef(
            "year", "Calendar year, 'YYYY'", ("yearly", "annual", "per year"), "event_date", True
        ),
        DimensionDef(
            "priority",
            "Ticket priority p1 (critical) .. p4 (low)",
            ("severity", "urgency"),
            "priority",
        ),
        DimensionDef(
            "category",
            "Ticket category (Network, Email, Hardware...)",
            ("type of issue", "issue type", "topic"),
            "category",
        ),
        DimensionDef("status", "Status of the ticket / invoice / asset", ("state",), "status"),
        DimensionDef(
            "contract_kind",
            "Contract type: per_user, per_device, block_hours, time_and_materials, flat",
            ("contract type", "billing model", "plan"),
            "contract_kind",
        ),
        DimensionDef(
            "line_kind",
            "Invoice line kind: recurring, labor, license, hardware, project, other",
            ("revenue stream", "revenue type", "line type"),
            "line_kind",
        ),
        DimensionDef(
            "product",
            "Licence product (e.g. Microsoft 365 Business Premium)",
            ("licence product", "sku", "software"),
            "product",
        ),
        DimensionDef(
            "asset_kind",
            "Device kind (workstation, server, laptop, network...)",
            ("device type", "asset type"),
            "asset_kind",
        ),
        DimensionDef(
            "billable",
            "Whether the time was billable ('true' / 'false')",
            ("billability",),
            "billable",
        ),
    )
}


# ---- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Build:
    tenant_id: str
    client_id: str | None
    period: Period | None
    as_of: dt.date
    grain: str | None  # requested time dimension, if any
    #: Columns the request reads (dimension inputs and the metric's name): builders skip the
    #: joins nobody asked for.
    needs: frozenset[str] = frozenset()


FactBuilder = Callable[[_Build], "AnySelect"]


@dataclass(frozen=True)
class Fact:
    name: str
    columns: frozenset[str]  # dimension inputs it offers
    build: FactBuilder
    needs_period: bool = False  # cost-based: default to the last 12 whole months
    snapshot: bool = False  # measured at the period's end (per time bucket with a time dim)

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(n for n, dim in DIMENSIONS.items() if dim.needs in self.columns)


def _scoped(col: Any, b: _Build) -> ColumnElement[bool]:
    return col == b.client_id if b.client_id is not None else true()


def _in(col: Any, period: Period | None) -> ColumnElement[bool]:
    if period is None:
        return true()
    return and_(col >= period.start, col < period.end)


def _in_utc(col: Any, period: Period | None) -> ColumnElement[bool]:
    if period is None:
        return true()
    start = dt.datetime.combine(period.start, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(period.end, dt.time(), tzinfo=dt.UTC)
    return and_(col >= start, col < end)


def _live(model: Any, b: _Build, *, on: Any = None, utc: bool = False) -> ColumnElement[bool]:
    """The model's live rows of this tenant (and client), within the period on ``on``."""
    in_period = (_in_utc if utc else _in)(on, b.period) if on is not None else true()
    return and_(
        model.tenant_id == b.tenant_id,
        model.deleted_at.is_(None),
        in_period,
        _scoped(model.id if model is Client else model.client_id, b),
    )


def _union(arms: list[AnySelect]) -> AnySelect:
    return arms[0] if len(arms) == 1 else select(union_all(*arms).subquery())


def _money(value: Any) -> ColumnElement[Any]:
    return cast(value, Numeric(14, 2))


def _zero() -> ColumnElement[Any]:
    return cast(literal(0), Numeric(14, 2))


def _day(value: dt.date) -> ColumnElement[Any]:
    return literal(value, Date)


def _buckets(b: _Build) -> list[tuple[dt.date, dt.date]]:
    """(bucket start, snapshot day) for snapshot facts: one per time bucket, or just one."""
    snap_end = b.as_of
    if b.period is not None:
        snap_end = min(snap_end, b.period.end - dt.timedelta(days=1))
    if b.grain is None or b.period is None:
        start = b.period.start if b.period else snap_end
        return [(start, snap_end)]
    step = {"month": 1, "quarter": 3, "year": 12}[b.grain]
    first = b.period.start.replace(day=1)
    if b.grain == "quarter":
        first = first.replace(month=3 * ((first.month - 1) // 3) + 1)
    elif b.grain == "year":
        first = first.replace(month=1)
    out: list[tuple[dt.date, dt.date]] = []
    cur = first
    while cur < b.period.end and cur <= snap_end:
        out.append((cur, min(add_months(cur, step) - dt.timedelta(days=1), snap_end)))
        cur = add_months(cur, step)
        if len(out) > MAX_BUCKETS:
            raise SemanticError(f"too many {b.grain}s in the period (at most {MAX_BUCKETS})")
    return out or [(first, snap_end)]


def _revenue_lines(b: _Build) -> AnySelect:
    with_contract = "contract_kind" in b.needs
    stmt = (
        select(
            Invoice.client_id.label("client_id"),
            Invoice.issued_on.label("event_date"),
            Invoice.status.label("status"),
            InvoiceLine.kind.label("line_kind"),
            (Contract.kind if with_contract else null()).label("contract_kind"),
            InvoiceLine.amount.label("amount"),
        )
        .join(
            InvoiceLine,
            and_(
                InvoiceLine.invoice_id == Invoice.id,
                InvoiceLine.tenant_id == b.tenant_id,
                InvoiceLine.deleted_at.is_(None),
            ),
        )
        .where(
            d.live_invoices(b.tenant_id),
            _in(Invoice.issued_on, b.period),
            _scoped(Invoice.client_id, b),
        )
    )
    if with_contract:
        stmt = stmt.outerjoin(
            Contract,
            and_(Contract.id == InvoiceLine.contract_id, Contract.tenant_id == b.tenant_id),
        )
    return stmt


def _invoices(b: _Build) -> AnySelect:
    open_ = and_(Invoice.balance > 0, Invoice.status.in_(("open", "overdue")))
    overdue = and_(
        open_,
        or_(
            Invoice.status == "overdue", and_(Invoice.due_on.is_not(None), Invoice.due_on < b.as_of)
        ),
    )
    return select(
        Invoice.id.label("invoice_id"),
        Invoice.client_id.label("client_id"),
        Invoice.issued_on.label("event_date"),
        Invoice.status.label("status"),
        Invoice.total.label("total"),
        case((open_, Invoice.balance), else_=0).label("open_balance"),
        case((overdue, Invoice.balance), else_=0).label("overdue_balance"),
        case((overdue, 1), else_=0).label("is_overdue"),
    ).where(
        d.live_invoices(b.tenant_id),
        _in(Invoice.issued_on, b.period),
        _scoped(Invoice.client_id, b),
    )


def _payments(b: _Build) -> AnySelect:
    return select(
        Payment.client_id.label("client_id"),
        Payment.paid_on.label("event_date"),
        Payment.amount.label("amount"),
    ).where(_live(Payment, b, on=Payment.paid_on))


def _time_entries(b: _Build) -> AnySelect:
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
    ).where(_live(TimeEntry, b, on=TimeEntry.work_date))
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


def _tickets(b: _Build) -> AnySelect:
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
    ).where(_live(Ticket, b, on=Ticket.opened_at, utc=True))


def _licence_months(b: _Build) -> AnySelect:
    """One row per licence and month of the period: that month's cost and resale value."""
    assert b.period is not None
    months = list(b.period.month_starts()) if b.grain else [b.period.start]
    arms = []
    for start in months:
        window = Period(start, add_months(start, 1)) if b.grain else b.period
        n = d.licence_active_months(window)
        arms.append(
            select(
                License.client_id.label("client_id"),
                _day(start).label("event_date"),
                License.product.label("product"),
                _money(License.seats_in_use * License.unit_cost * n).label("licence_cost"),
                _money(License.seats_in_use * License.unit_price * n).label("licence_resale"),
            ).where(_live(License, b))
        )
    return _union(arms)


def _licence_seats(b: _Build) -> AnySelect:
    arms = []
    for start, snap in _buckets(b):
        arms.append(
            select(
                License.client_id.label("client_id"),
                _day(start).label("event_date"),
                License.product.label("product"),
                License.seats_in_use.label("seats"),
            ).where(
                _live(License, b),
                or_(License.starts_on.is_(None), License.starts_on <= snap),
                or_(License.ends_on.is_(None), License.ends_on >= snap),
            )
        )
    return _union(arms)


def _economics(b: _Build) -> AnySelect:
    """Revenue, hours, labour and licence cost rows side by side (the margin definitions)."""
    rev = _revenue_lines(b).subquery()
    lab = _time_entries(replace(b, needs=b.needs | {"labour_cost"})).subquery()
    lic = _licence_months(b).subquery()
    z = _zero()
    return select(
        union_all(
            select(
                rev.c.client_id,
                rev.c.event_date,
                _money(rev.c.amount).label("revenue"),
                z.label("hours"),
                z.label("labour_cost"),
                z.label("licence_cost"),
            ),
            select(
                lab.c.client_id,
                lab.c.event_date,
                z,
                _money(lab.c.hours),
                _money(lab.c.labour_cost),
                z,
            ),
            select(lic.c.client_id, lic.c.event_date, z, z, z, lic.c.licence_cost),
        ).subquery()
    )


def _contracts(b: _Build) -> AnySelect:
    arms = []
    for start, snap in _buckets(b):
        arms.append(
            select(
                Contract.id.label("contract_id"),
                Contract.client_id.label("client_id"),
                _day(start).label("event_date"),
                Contract.kind.label("contract_kind"),
                func.coalesce(Contract.monthly_value, 0).label("monthly_value"),
            ).where(
                _live(Contract, b),
                Contract.status.not_in(("draft", "cancelled")),
                Contract.starts_on <= snap,
                or_(Contract.ends_on.is_(None), Contract.ends_on >= snap),
            )
        )
    return _union(arms)


def _active_clients(b: _Build) -> AnySelect:
    arms = []
    for start, snap in _buckets(b):
        sub = d.active_clients(b.tenant_id, snap).subquery()
        arms.append(
            select(sub.c.id.label("client_id"), _day(start).label("event_date")).where(
                _scoped(sub.c.id, b)
            )
        )
    return _union(arms)


def _client_events(column: str) -> FactBuilder:
    def build(b: _Build) -> AnySelect:
        col = getattr(Client, column)
        return select(Client.id.label("client_id"), col.label("event_date")).where(
            _live(Client, b, on=col), col.is_not(None)
        )

    return build


def _assets(b: _Build) -> AnySelect:
    return select(
        Asset.client_id.label("client_id"),
        Asset.kind.label("asset_kind"),
        Asset.status.label("status"),
        case((Asset.managed, 1), else_=0).label("managed"),
    ).where(_live(Asset, b))


_C = "client_id"
_T = "event_date"
FACTS: dict[str, Fact] = {
    f.name: f
    for f in (
        Fact(
            "invoice_lines",
            frozenset({_C, _T, "status", "line_kind", "contract_kind"}),
            _revenue_lines,
        ),
        Fact("invoices", frozenset({_C, _T, "status"}), _invoices),
        Fact("payments", frozenset({_C, _T}), _payments),
        Fact(
            "time_entries",
            frozenset({_C, _T, "technician_id", "billable", "priority", "category"}),
            _time_entries,
        ),
        Fact(
            "tickets",
            frozenset({_C, _T, "technician_id", "priority", "category", "status"}),
            _tickets,
        ),
        Fact("licence_months", frozenset({_C, _T, "product"}), _licence_months, needs_period=True),
        Fact("licence_seats", frozenset({_C, _T, "product"}), _licence_seats, snapshot=True),
        Fact("economics", frozenset({_C, _T}), _economics, needs_period=True),
        Fact("contracts", frozenset({_C, _T, "contract_kind"}), _contracts, snapshot=True),
        Fact("active_clients", frozenset({_C, _T}), _active_clients, snapshot=True),
        Fact("churn_events", frozenset({_C, _T}), _client_events("churned_on")),
        Fact("onboard_events", frozenset({_C, _T}), _client_events("onboarded_on")),
        Fact("assets", frozenset({_C, "asset_kind", "status"}), _assets),
    )
}


# ---- metrics ---------------------------------------------------------------------------------

Agg = Callable[[Subquery, list[ColumnElement[Any]]], ColumnElement[Any]]


@dataclass(frozen=True)
class MetricDef:
    name: str
    description: str
    fact: str
    unit: Unit
    agg: Agg = field(repr=False)
    synonyms: tuple[str, ...] = ()
    audience: frozenset[str] = STAFF_WITH_MONEY
    #: Broken down by a dimension, leave out groups whose value is zero (e.g. paid-up clients).
    nonzero: bool = False

    @property
    def dimensions(self) -> tuple[str, ...]:
        return FACTS[self.fact].dimensions


def _sum(column: str) -> Agg:
    return lambda f, _p: func.coalesce(func.sum(f.c[column]), 0)


def _avg(column: str) -> Agg:
    return lambda f, _p: func.avg(cast(f.c[column], Float))


def _count_distinct(column: str) -> Agg:
    return lambda f, _p: func.count(func.distinct(f.c[column]))


def _ratio(num: str, den: str) -> Agg:
    def agg(f: Subquery, _p: list[ColumnElement[Any]]) -> ColumnElement[Any]:
        n, m = func.sum(cast(f.c[num], Float)), func.sum(cast(f.c[den], Float))
        return case((m > 0, n / m), else_=null())

    return agg


def _margin(f: Subquery, _p: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    return func.coalesce(
        func.sum(f.c.revenue) - func.sum(f.c.labour_cost) - func.sum(f.c.licence_cost), 0
    )


def _margin_pct(f: Subquery, _p: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    revenue = func.sum(cast(f.c.revenue, Float))
    margin = cast(_margin(f, _p), Float)
    return case((revenue > 0, margin / revenue), else_=null())


def _share(f: Subquery, partition: list[ColumnElement[Any]]) -> ColumnElement[Any]:
    total = func.sum(func.count()).over(partition_by=partition or None)
    return cast(func.count(), Float) / cast(total, Float)


_OPS = ALL_ROLES - {"client_user"}  # operational: every internal role
_CLIENT_VISIBLE = ALL_ROLES  # tickets, assets, invoices: client users see their own
_CLIENT_BILLING = STAFF_WITH_MONEY | {"client_user"}

METRICS: dict[str, MetricDef] = {
    m.name: m
    for m in (
        MetricDef(
            "revenue",
            "Revenue: invoice line amounts of non-void invoices issued in the period",
            "invoice_lines",
            "money",
            _sum("amount"),
            ("sales", "income", "billings", "turnover", "invoiced revenue", "earned"),
        ),
        MetricDef(
            "invoices",
            "Number of (non-void) invoices issued",
            "invoices",
            "count",
            _count_distinct("invoice_id"),
            ("invoice count", "number of invoices", "bills"),
            _CLIENT_BILLING,
        ),
        MetricDef(
            "invoiced_amount",
            "Total of (non-void) invoices issued",
            "invoices",
            "money",
            _sum("total"),
            ("invoice total", "amount invoiced", "amount billed"),
            _CLIENT_BILLING,
        ),
        MetricDef(
            "balance_due",
            "Open balance still owed on open or overdue invoices (today)",
            "invoices",
            "money",
            _sum("open_balance"),
            (
                "outstanding",
                "receivables",
                "accounts receivable",
                "owed",
                "unpaid",
                "open balance",
                "a/r",
            ),
            _CLIENT_BILLING,
            nonzero=True,
        ),
        MetricDef(
            "overdue_balance",
            "Balance of invoices past their due date (today)",
            "invoices",
            "money",
            _sum("overdue_balance"),
            ("overdue", "past due", "late payments", "overdue invoices amount"),
            _CLIENT_BILLING,
            nonzero=True,
        ),
        MetricDef(
            "overdue_invoices",
            "Number of invoices past due with a balance (today)",
            "invoices",
            "count",
            _sum("is_overdue"),
            ("late invoices", "number of overdue invoices"),
            _CLIENT_BILLING,
            nonzero=True,
        ),
        MetricDef(
            "payments_received",
            "Payments received (by payment date)",
            "payments",
            "money",
            _sum("amount"),
            ("cash collected", "collections", "payments"),
            _CLIENT_BILLING,
        ),
        MetricDef(
            "hours",
            "Hours worked (all time entries)",
            "time_entries",
            "hours",
            _sum("hours"),
            ("time spent", "hours worked", "time logged", "effort", "workload", "labor hours"),
            _OPS,
        ),
        MetricDef(
            "billable_hours",
            "Billable hours worked",
            "time_entries",
            "hours",
            _sum("billable_hours"),
            ("billable time", "chargeable hours"),
            _OPS,
        ),
        MetricDef(
            "billable_share",
            "Share of hours worked that were billable (0..1)",
            "time_entries",
            "ratio",
            _ratio("billable_hours", "hours"),
            ("billable percentage", "billable ratio", "utilisation", "utilization"),
            _OPS,
        ),
        MetricDef(
            "labour_cost",
            "Labour cost: hours × the technician's loaded hourly cost",
            "time_entries",
            "money",
            _sum("labour_cost"),
            ("labor cost", "staff cost", "technician cost", "cost of labour"),
        ),
        MetricDef(
            "unbilled_hours",
            "Billable hours never invoiced, older than 35 days (today)",
            "time_entries",
            "hours",
            _sum("unbilled_hours"),
            (
                "unbilled time",
                "uninvoiced hours",
                "unbilled work",
                "hours not billed",
                "revenue leakage hours",
            ),
            _OPS,
            nonzero=True,
        ),
        MetricDef(
            "tickets",
            "Number of tickets opened",
            "tickets",
            "count",
            lambda f, _p: func.count(),
            (
                "ticket count",
                "number of tickets",
                "requests",
                "incidents",
                "cases",
                "ticket volume",
            ),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "p1_share",
            "Share of tickets opened that were priority P1 (0..1)",
            "tickets",
            "ratio",
            _avg("is_p1"),
            ("p1 share", "share of p1", "percentage of p1", "critical ticket share", "p1 rate"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "ticket_share",
            "Share of tickets (0..1) of each value of the last dimension "
            "within the other dimensions (e.g. by priority)",
            "tickets",
            "ratio",
            _share,
            ("share of tickets", "ticket mix", "proportion of tickets", "distribution"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "csat",
            "Average customer satisfaction score (1..5) of rated tickets",
            "tickets",
            "score",
            _avg("csat"),
            ("customer satisfaction", "satisfaction", "survey score", "happiness"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "sla_breach_rate",
            "Share of tickets that breached their SLA (0..1)",
            "tickets",
            "ratio",
            _avg("breached"),
            ("sla breaches", "sla misses", "breach rate", "sla compliance"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "avg_resolution_hours",
            "Average hours from opening to resolution of resolved tickets",
            "tickets",
            "hours",
            _avg("resolution_hours"),
            ("resolution time", "time to resolve", "mttr", "turnaround"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "licence_cost",
            "Licence cost: seats in use × vendor unit cost per month",
            "licence_months",
            "money",
            _sum("licence_cost"),
            ("license cost", "licensing cost", "software cost", "vendor cost"),
        ),
        MetricDef(
            "licence_resale",
            "Licence resale value: seats in use × resale price per month",
            "licence_months",
            "money",
            _sum("licence_resale"),
            ("license revenue", "licence revenue", "license resale"),
        ),
        MetricDef(
            "licence_seats",
            "Licence seats in use (at the period's end / today)",
            "licence_seats",
            "seats",
            _sum("seats"),
            ("license seats", "licenses", "seat count", "licences in use"),
            _OPS,
        ),
        MetricDef(
            "margin",
            "Gross margin: revenue − labour cost − licence cost",
            "economics",
            "money",
            _margin,
            ("gross margin", "profit", "profitability", "gross profit"),
        ),
        MetricDef(
            "margin_pct",
            "Gross margin as a share of revenue (0..1)",
            "economics",
            "ratio",
            _margin_pct,
            ("margin percentage", "margin %", "profit margin", "margin rate"),
        ),
        MetricDef(
            "effective_rate",
            "Effective hourly rate: revenue / hours worked",
            "economics",
            "rate",
            _ratio("revenue", "hours"),
            ("effective hourly rate", "revenue per hour", "realised rate", "ehr"),
        ),
        MetricDef(
            "mrr",
            "Monthly recurring revenue: monthly value of contracts in force "
            "(at the period's end / today)",
            "contracts",
            "money",
            _sum("monthly_value"),
            ("monthly recurring revenue", "recurring revenue", "contract value", "arr"),
        ),
        MetricDef(
            "active_contracts",
            "Contracts in force (at the period's end / today)",
            "contracts",
            "count",
            _count_distinct("contract_id"),
            ("contracts", "number of contracts"),
        ),
        MetricDef(
            "active_clients",
            "Clients onboarded and not churned (at the period's end / today)",
            "active_clients",
            "count",
            _count_distinct("client_id"),
            ("clients", "customers", "client count", "number of clients"),
            _OPS,
        ),
        MetricDef(
            "churned_clients",
            "Clients who churned (left) in the period",
            "churn_events",
            "count",
            _count_distinct("client_id"),
            (
                "churn",
                "lost clients",
                "clients lost",
                "cancellations",
                "attrition",
                "clients who left",
            ),
        ),
        MetricDef(
            "new_clients",
            "Clients onboarded in the period",
            "onboard_events",
            "count",
            _count_distinct("client_id"),
            ("new customers", "clients won", "onboarded", "acquisitions"),
        ),
        MetricDef(
            "managed_devices",
            "Managed devices (assets under management)",
            "assets",
            "count",
            _sum("managed"),
            ("managed assets", "devices", "endpoints", "managed endpoints"),
            _CLIENT_VISIBLE,
        ),
        MetricDef(
            "assets",
            "All known assets (managed or not)",
            "assets",
            "count",
            lambda f, _p: func.count(),
            ("asset count", "inventory", "hardware"),
            _CLIENT_VISIBLE,
        ),
    )
}


def _norm(text: str) -> str:
    return " ".join(str(text).strip().lower().replace("_", " ").replace("-", " ").split())


def _alias_map(defs: dict[str, Any]) -> dict[str, str]:
    """Normalised name or synonym -> canonical name (synonyms shared by two are dropped)."""
    seen: dict[str, set[str]] = {}
    for name, item in defs.items():
        for alias in (name, *item.synonyms):
            seen.setdefault(_norm(alias), set()).add(name)
    return {alias: next(iter(names)) for alias, names in seen.items() if len(names) == 1}


_METRIC_ALIASES = _alias_map(METRICS)
_DIMENSION_ALIASES = _alias_map(DIMENSIONS)


def canonical_metric(name: str) -> str:
    """The metric ``name`` means (its own name, any spelling, or a synonym), else ``name``."""
    return _METRIC_ALIASES.get(_norm(name), name)


def canonical_dimension(name: str) -> str:
    return _DIMENSION_ALIASES.get(_norm(name), name)


def metrics_for_role(role: str) -> list[str]:
    check_role(role)
    return [name for name, m in METRICS.items() if role in m.audience]


# ---- requests and results --------------------------------------------------------------------


class MetricRequest(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    metric: str
    dimensions: list[str] = Field(default_factory=list)
    filters: dict[str, list[str]] = Field(default_factory=dict)
    period: Period | None = None
    top_n: int | None = Field(default=None, ge=1, le=1000)
    order: Literal["desc", "asc"] = "desc"
    as_of: dt.date | None = None

    @field_validator("metric", mode="before")
    @classmethod
    def _metric(cls, value: Any) -> Any:
        return canonical_metric(value) if isinstance(value, str) else value

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dimensions(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [canonical_dimension(v) if isinstance(v, str) else v for v in value]
        return value

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: Any, info: ValidationInfo) -> Period | None:
        """Codes, labels and ranges; relative words ("last month") only with a ``today`` in
        the validation context (``MetricRequest.model_validate(data, context={"today": d})``)."""
        today = (info.context or {}).get("today")
        return parse_period(value, today)

    @field_validator("filters", mode="before")
    @classmethod
    def _filters(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {
                canonical_dimension(k): v if isinstance(v, list) else [v] for k, v in value.items()
            }
        return value


class MetricResult(BaseModel):
    metric: str
    columns: list[str]
    rows: list[list[Any]]
    period_label: str | None
    sql: str
    row_count: int
    unit: str = ""
    as_of: dt.date | None = None


# ---- compilation -----------------------------------------------------------------------------


def _unknown(kind: str, value: str, valid: Sequence[str]) -> SemanticError:
    return SemanticError(f"unknown {kind} {value!r}; valid {kind}s: {', '.join(valid)}")


def _validate(request: MetricRequest, role: str | None) -> tuple[MetricDef, Fact]:
    if request.metric not in METRICS:
        raise _unknown("metric", request.metric, list(METRICS))
    metric = METRICS[request.metric]
    if role is not None and role not in metric.audience:
        allowed = metrics_for_role(role)
        raise AccessDenied(
            f"the {role} role may not see {metric.name!r}; "
            f"metrics available to this role: {', '.join(allowed) or 'none'}"
        )
    fact = FACTS[metric.fact]
    valid = fact.dimensions
    for name in [*request.dimensions, *request.filters]:
        if name not in DIMENSIONS:
            raise _unknown("dimension", name, list(DIMENSIONS))
        if name not in valid:
            raise SemanticError(
                f"metric {metric.name!r} cannot be broken down or filtered by {name!r}; "
                f"its dimensions are: {', '.join(valid) or 'none'}"
            )
    if len(set(request.dimensions)) != len(request.dimensions):
        raise SemanticError("a dimension is listed twice")
    times = [x for x in request.dimensions if x in TIME_DIMENSIONS]
    if len(times) > 1:
        raise SemanticError("use one time dimension (month, quarter or year) at a time")
    return metric, fact


def _truthy(values: list[str]) -> list[bool]:
    out = []
    for v in values:
        low = str(v).strip().lower()
        if low in ("true", "yes", "1", "billable", "y"):
            out.append(True)
        elif low in ("false", "no", "0", "non-billable", "n"):
            out.append(False)
        else:
            raise SemanticError(f"billable filter takes true/false, not {v!r}")
    return out


@dataclass
class _Compiled:
    stmt: AnySelect
    columns: list[str]
    period: Period | None
    as_of: dt.date
    metric: MetricDef


def compile_metric(
    tenant_id: str,
    request: MetricRequest,
    *,
    client_id: str | None = None,
    today: dt.date | None = None,
    role: str | None = None,
    partition_dims: int | None = None,
) -> _Compiled:
    """Validate ``request`` and build its statement (tenant- and client-scoped).

    ``partition_dims``: for share metrics, how many leading dimensions the shares are taken
    within (default: all but the last)."""
    metric, fact = _validate(request, role)
    if role == "client_user" and client_id is None:
        raise AccessDenied("a client user needs a client_id")
    today = request.as_of or today or Clock().today()
    period = request.period
    if fact.needs_period and period is None:
        period = Period.months_before(today, DEFAULT_COST_MONTHS)
    if "event_date" not in fact.columns:
        period = None  # current state only (e.g. assets): a period does not apply
    as_of = today
    grain = next((x for x in request.dimensions if x in TIME_DIMENSIONS), None)
    if fact.snapshot and grain is None and any(x in TIME_DIMENSIONS for x in request.filters):
        grain = next(x for x in request.filters if x in TIME_DIMENSIONS)
    if fact.snapshot and grain is not None and period is None:
        period = Period.months_before(add_months(today, 1), DEFAULT_COST_MONTHS)
    needs = {DIMENSIONS[x].needs for x in [*request.dimensions, *request.filters]}
    b = _Build(tenant_id, client_id, period, as_of, grain, frozenset({*needs, metric.name}))
    f = fact.build(b).subquery("f")

    clients_joined = False
    techs_joined = False
    src: Any = f

    def client_col(attr: str) -> ColumnElement[Any]:
        nonlocal src, clients_joined
        if not clients_joined:
            src = src.outerjoin(
                Client, and_(Client.id == f.c.client_id, Client.tenant_id == tenant_id)
            )
            clients_joined = True
        col: ColumnElement[Any] = getattr(Client, attr)
        return col

    def dim_expr(name: str) -> ColumnElement[Any]:
        nonlocal src, techs_joined
        if name == "client":
            return client_col("name")
        if name == "industry":
            return client_col("industry")
        if name == "client_status":
            return client_col("status")
        if name == "technician":
            if not techs_joined:
                src = src.outerjoin(
                    Technician,
                    and_(Technician.id == f.c.technician_id, Technician.tenant_id == tenant_id),
                )
                techs_joined = True
            tech_name: ColumnElement[Any] = Technician.__table__.c.name
            return tech_name
        if name == "month":
            return month_label(f.c.event_date)
        if name == "quarter":
            return quarter_label(f.c.event_date)
        if name == "year":
            return year_label(f.c.event_date)
        return f.c[DIMENSIONS[name].needs]

    dims = [dim_expr(x).label(x) for x in request.dimensions]
    conditions: list[ColumnElement[bool]] = []
    for name, values in request.filters.items():
        if not values:
            continue
        if name == "billable":
            conditions.append(f.c.billable.in_(_truthy(values)))
            continue
        expr = dim_expr(name)
        lowered = [str(v).strip().lower() for v in values]
        cond: ColumnElement[bool] = func.lower(expr).in_(lowered)
        if name == "client":
            cond = or_(cond, f.c.client_id.in_([str(v) for v in values]))
        elif name == "technician":
            cond = or_(cond, f.c.technician_id.in_([str(v) for v in values]))
        conditions.append(cond)

    keep = len(dims) - 1 if partition_dims is None else partition_dims
    partition = dims[: max(keep, 0)]
    value = metric.agg(f, [c.element for c in partition]).label(metric.name)
    stmt = select(*dims, value).select_from(src)
    if conditions:
        stmt = stmt.where(and_(*conditions))
    if dims:
        stmt = stmt.group_by(*[c.element for c in dims])
        if metric.nonzero:
            stmt = stmt.having(value.element != 0)
    time_cols = [c for c in dims if c.name in TIME_DIMENSIONS]
    by_value = value.desc() if request.order == "desc" else value.asc()
    nulls_last = case((value.is_(None), 1), else_=0)
    if time_cols and request.top_n is None:
        stmt = stmt.order_by(*time_cols, nulls_last, by_value)
    elif dims:
        stmt = stmt.order_by(nulls_last, by_value, *dims)
    if request.top_n is not None:
        stmt = stmt.limit(request.top_n)
    return _Compiled(stmt, [*request.dimensions, metric.name], period, as_of, metric)


def _clean(value: Any, unit: str) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float):
        digits = 4 if unit == "ratio" else 2
        return round(float(value), digits)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def render_sql(stmt: AnySelect, dialect: Any) -> str:
    try:
        return str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # some literal types cannot be rendered inline; show placeholders
        return str(stmt.compile(dialect=dialect))


#: Filters on these dimensions of a share metric select the share's numerator, not the
#: tickets counted: "share of P1 tickets" is P1 tickets / all tickets.
SHARE_FILTER_DIMS = ("priority", "category", "status")


def _share_filters(request: MetricRequest) -> tuple[MetricRequest, dict[str, set[str]]]:
    metric = METRICS.get(request.metric)
    if metric is None or metric.agg is not _share:
        return request, {}
    moved = {
        k: {str(x).strip().lower() for x in v}
        for k, v in request.filters.items()
        if k in SHARE_FILTER_DIMS and k not in request.dimensions and v
    }
    if not moved:
        return request, {}
    rewritten = request.model_copy(
        update={
            "filters": {k: v for k, v in request.filters.items() if k not in moved},
            "dimensions": [*request.dimensions, *moved],
            "top_n": None,
        }
    )
    return rewritten, moved


def _collapse_shares(
    rows: list[list[Any]],
    columns: list[str],
    moved: dict[str, set[str]],
    original: MetricRequest,
) -> tuple[list[list[Any]], list[str]]:
    """Keep the share of the filtered values, summed per requested dimension group."""
    index = {c: i for i, c in enumerate(columns)}
    keep = original.dimensions
    totals: dict[tuple[Any, ...], float] = {}
    for row in rows:
        key = tuple(row[index[d]] for d in keep)
        totals.setdefault(key, 0.0)
        if all(str(row[index[d]]).lower() in wanted for d, wanted in moved.items()):
            totals[key] += float(row[-1] or 0.0)
    out = [[*key, round(value, 4)] for key, value in totals.items()]
    if not keep and not out:
        out = [[0.0]]
    times = [i for i, d in enumerate(keep) if d in TIME_DIMENSIONS]
    if times and original.top_n is None:
        out.sort(key=lambda r: tuple(str(r[i]) for i in times))
    else:
        out.sort(key=lambda r: r[-1], reverse=original.order == "desc")
    if original.top_n is not None:
        out = out[: original.top_n]
    return out, [*keep, columns[-1]]


def run_metric(
    engine_or_conn: Engine | Connection,
    tenant_id: str,
    request: MetricRequest,
    *,
    client_id: str | None = None,
    today: dt.date | None = None,
    role: str | None = None,
) -> MetricResult:
    """Answer ``request`` for ``tenant_id`` (and only ``client_id``'s rows when given).

    ``role`` (when given) is checked against each metric's audience; ``today`` is the product
    clock's date (balances, unbilled hours and snapshots are measured at it).
    """
    original = request
    request, moved = _share_filters(request)
    compiled = compile_metric(
        tenant_id,
        request,
        client_id=client_id,
        today=today,
        role=role,
        partition_dims=len(request.dimensions) - len(moved) if moved else None,
    )
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.connect() as conn:
            raw = conn.execute(compiled.stmt).all()
        dialect = engine_or_conn.dialect
    else:
        raw = engine_or_conn.execute(compiled.stmt).all()
        dialect = engine_or_conn.dialect
    unit = compiled.metric.unit
    rows = [[_clean(v, unit) for v in row] for row in raw]
    columns = compiled.columns
    if moved:
        rows, columns = _collapse_shares(rows, columns, moved, original)
    period = compiled.period
    fact = FACTS[compiled.metric.fact]
    if period is not None:
        label = period.label()
    elif fact.snapshot or "event_date" not in fact.columns:
        label = f"as of {compiled.as_of.isoformat()}"
    else:
        label = "all time"
    return MetricResult(
        metric=compiled.metric.name,
        columns=columns,
        rows=rows,
        period_label=label,
        sql=render_sql(compiled.stmt, dialect),
        row_count=len(rows),
        unit=unit,
        as_of=compiled.as_of,
    )


def describe_metrics(role: str | None = None) -> list[dict[str, Any]]:
    """Catalogue of metrics (for a role) with their units and dimensions."""
    names = metrics_for_role(role) if role else list(METRICS)
    return [
        {
            "metric": n,
            "description": METRICS[n].description,
            "unit": METRICS[n].unit,
            "dimensions": list(METRICS[n].dimensions),
        }
        for n in names
    ]


__all__ = [
    "DIMENSIONS",
    "FACTS",
    "METRICS",
    "DimensionDef",
    "MetricDef",
    "MetricRequest",
    "MetricResult",
    "SemanticError",
    "compile_metric",
    "describe_metrics",
    "metrics_for_role",
    "parse_period",
    "run_metric",
]
