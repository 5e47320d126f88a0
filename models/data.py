"""Read one tenant's canonical tables into pandas frames (the models' only read path).

Every query is scoped to the tenant, skips rows deleted or voided at the source and casts money
to floats. Economics come from ``db.definitions.client_economics`` (never re-derived here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine, Float, String, and_, cast, select, type_coerce

from mspilot.core.clock import add_months, month_start
from mspilot.core.errors import DataError
from mspilot.core.periods import Period
from mspilot.db.definitions import client_economics, live_invoices
from mspilot.db.engine import analyze
from mspilot.db.schema import (
    AnySelect,
    Client,
    Contract,
    Invoice,
    InvoiceLine,
    License,
    Payment,
    Technician,
    Tenant,
    Ticket,
    TimeEntry,
)


def _f(column: Any) -> Any:
    return cast(column, Float).label(column.key)


def _raw(column: Any) -> Any:
    """A date or time column as the driver returns it (ISO text on SQLite, a datetime on
    PostgreSQL), parsed later by pandas in one vectorised call instead of row by row."""
    return type_coerce(column, String()).label(column.key)


def read_frame(conn: Connection, stmt: AnySelect) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _dates(frame: pd.DataFrame, *columns: str) -> None:
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], format="ISO8601")


def month_index(values: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """Months since year 0 (``year * 12 + month - 1``) of datetime-like values."""
    idx = pd.DatetimeIndex(values)
    return np.asarray(idx.year * 12 + idx.month - 1, dtype=np.int64)


def month_of_index(index: int) -> dt.date:
    year, month = divmod(int(index), 12)
    return dt.date(year, month + 1, 1)


def date_month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


@dataclass
class TenantFrames:
    """The canonical rows of one tenant the models need, as typed frames."""

    tenant_id: str
    max_discount_pct: float
    clients: pd.DataFrame
    contracts: pd.DataFrame
    tickets: pd.DataFrame
    invoices: pd.DataFrame
    lines: pd.DataFrame
    payments: pd.DataFrame
    licenses: pd.DataFrame
    time_entries: pd.DataFrame
    technicians: pd.DataFrame
    economics: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def client_ids(self) -> list[str]:
        return list(self.clients.index)


_ANALYZED: set[str] = set()


def ensure_planner_statistics(engine: Engine, *, refresh: bool = False) -> None:
    """Give SQLite's query planner table statistics (``ANALYZE``, ~20 ms) once per database.

    Without them SQLite joins invoice lines by a full scan per invoice and every monthly
    ``client_economics`` query costs ~15x more. PostgreSQL keeps its own statistics."""
    if engine.dialect.name != "sqlite":
        return
    key = str(engine.url)
    if key in _ANALYZED and not refresh:
        return
    with engine.connect() as conn:
        has_stats = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).first()
    if refresh or not has_stats:
        analyze(engine)
    _ANALYZED.add(key)


def tenant_policy(conn: Connection, tenant_id: str) -> float:
    value = conn.execute(select(Tenant.max_discount_pct).where(Tenant.id == tenant_id)).scalar()
    if value is None:
        raise DataError(f"no tenant {tenant_id!r} in the database: load data first")
    return float(value)


def load_frames(
    engine: Engine,
    tenant_id: str,
    *,
    since: dt.date | None = None,
    ticket_since: dt.date | None = None,
    until: dt.date | None = None,
    economics_months: Iterable[dt.date] | None = None,
    with_time_entries: bool = True,
) -> TenantFrames:
    """Load the tenant's rows (events dated in ``[since, until]`` when given; tickets from
    ``ticket_since`` when given, else ``since``)."""
    ensure_planner_statistics(engine)
    with engine.connect() as conn:
        policy = tenant_policy(conn, tenant_id)
        clients = read_frame(
            conn,
            select(
                Client.id,
                Client.external_id,
                Client.name,
                Client.industry,
                Client.seats,
                Client.status,
                _raw(Client.onboarded_on),
                _raw(Client.churned_on),
            ).where(
                Client.tenant_id == tenant_id,
                Client.deleted_at.is_(None),
                Client.status != "prospect",
            ),
        ).set_index("id")
        _dates(clients, "onboarded_on", "churned_on")

        contracts = read_frame(
            conn,
            select(
                Contract.id,
                Contract.external_id,
                Contract.client_id,
                Contract.kind,
                _f(Contract.unit_price),
                _f(Contract.quantity),
                _f(Contract.monthly_value),
                _f(Contract.hourly_rate),
                _f(Contract.included_hours),
                _raw(Contract.starts_on),
                _raw(Contract.ends_on),
                _f(Contract.annual_escalation_pct),
                _f(Contract.discount_pct),
                Contract.status,
            ).where(Contract.tenant_id == tenant_id, Contract.deleted_at.is_(None)),
        )
        _dates(contracts, "starts_on", "ends_on")

        tk = select(
            Ticket.id,
            Ticket.client_id,
            _raw(Ticket.opened_at),
            _raw(Ticket.resolved_at),
            Ticket.priority,
            Ticket.sla_breached,
            Ticket.csat,
        ).where(Ticket.tenant_id == tenant_id, Ticket.deleted_at.is_(None))
        if (ticket_since or since) is not None:
            start = dt.datetime.combine(ticket_since or since, dt.time(), tzinfo=dt.UTC)  # type: ignore[arg-type]
            tk = tk.where(Ticket.opened_at >= start)
        if until is not None:
            tk = tk.where(
                Ticket.opened_at
                < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            )
        tickets = read_frame(conn, tk)
        for col in ("opened_at", "resolved_at"):
            stamps = pd.to_datetime(tickets[col], utc=True, format="ISO8601")
            tickets[col] = stamps.dt.tz_localize(None)

        inv = select(
            Invoice.id,
            Invoice.external_id,
            Invoice.client_id,
            Invoice.number,
            _raw(Invoice.issued_on),
            _raw(Invoice.due_on),
            _raw(Invoice.period_start),
            _raw(Invoice.period_end),
            _f(Invoice.total),
            Invoice.status,
        ).where(live_invoices(tenant_id))
        if since is not None:
            inv = inv.where(Invoice.issued_on >= since)
        if until is not None:
            inv = inv.where(Invoice.issued_on <= until)
        invoices = read_frame(conn, inv)
        _dates(invoices, "issued_on", "due_on", "period_start", "period_end")

        ln = (
            select(
                InvoiceLine.id,
                InvoiceLine.external_id,
                InvoiceLine.invoice_id,
                Invoice.client_id,
                _raw(Invoice.issued_on),
                _raw(Invoice.period_start),
                InvoiceLine.contract_id,
                InvoiceLine.kind,
                InvoiceLine.sku,
                _f(InvoiceLine.quantity),
                _f(InvoiceLine.unit_price),
                _f(InvoiceLine.discount_pct),
                _f(InvoiceLine.amount),
            )
            .join(Invoice, and_(Invoice.id == InvoiceLine.invoice_id))
            .where(live_invoices(tenant_id), InvoiceLine.deleted_at.is_(None))
        )
        if since is not None:
            ln = ln.where(Invoice.issued_on >= since)
        if until is not None:
            ln = ln.where(Invoice.issued_on <= until)
        lines = read_frame(conn, ln)
        _dates(lines, "issued_on", "period_start")

        pay = select(
            Payment.id,
            Payment.client_id,
            Payment.invoice_id,
            _raw(Payment.paid_on),
            _f(Payment.amount),
        ).where(Payment.tenant_id == tenant_id, Payment.deleted_at.is_(None))
        if since is not None:
            pay = pay.where(Payment.paid_on >= since)
        payments = read_frame(conn, pay)
        _dates(payments, "paid_on")

        licenses = read_frame(
            conn,
            select(
                License.id,
                License.external_id,
                License.client_id,
                License.product,
                License.sku,
                License.seats_in_use,
                _f(License.unit_cost),
                _f(License.unit_price),
                _raw(License.starts_on),
                _raw(License.ends_on),
            ).where(License.tenant_id == tenant_id, License.deleted_at.is_(None)),
        )
        _dates(licenses, "starts_on", "ends_on")

        technicians = read_frame(
            conn,
            select(Technician.id, Technician.name, Technician.role, _f(Technician.hourly_cost))
            .where(Technician.tenant_id == tenant_id, Technician.deleted_at.is_(None))
            .order_by(Technician.id),
        )

        if with_time_entries:
            te = select(
                TimeEntry.id,
                TimeEntry.external_id,
                TimeEntry.client_id,
                TimeEntry.ticket_id,
                TimeEntry.technician_id,
                _raw(TimeEntry.work_date),
                _f(TimeEntry.hours),
                TimeEntry.billable,
                TimeEntry.invoice_line_id,
            ).where(TimeEntry.tenant_id == tenant_id, TimeEntry.deleted_at.is_(None))
            if since is not None:
                te = te.where(TimeEntry.work_date >= since)
            if until is not None:
                te = te.where(TimeEntry.work_date <= until)
            time_entries = read_frame(conn, te)
        else:
            time_entries = pd.DataFrame(
                columns=[
                    "id",
                    "external_id",
                    "client_id",
                    "ticket_id",
                    "technician_id",
                    "work_date",
                    "hours",
                    "billable",
                    "invoice_line_id",
                ]
            )
        _dates(time_entries, "work_date")
        time_entries["billable"] = time_entries["billable"].astype(bool)

        economics = (
            monthly_economics(conn, tenant_id, economics_months)
            if economics_months is not None
            else pd.DataFrame()
        )
    tickets["sla_breached"] = tickets["sla_breached"].astype(bool)
    return TenantFrames(
        tenant_id=tenant_id,
        max_discount_pct=policy,
        clients=clients,
        contracts=contracts,
        tickets=tickets,
        invoices=invoices,
        lines=lines,
        payments=payments,
        licenses=licenses,
        time_entries=time_entries,
        technicians=technicians,
        economics=economics,
    )


ECONOMICS_COLUMNS = ("revenue", "hours", "labour_cost", "licence_cost", "margin")


def monthly_economics(conn: Connection, tenant_id: str, months: Iterable[dt.date]) -> pd.DataFrame:
    """Long frame (client_id, month, revenue, hours, labour_cost, licence_cost, margin), one
    ``client_economics`` query per calendar month."""
    parts = []
    for start in sorted({month_start(m) for m in months}):
        frame = read_frame(conn, client_economics(tenant_id, Period(start, add_months(start, 1))))
        frame = frame[["client_id", *ECONOMICS_COLUMNS]].copy()
        for col in ECONOMICS_COLUMNS:
            frame[col] = frame[col].astype(float)
        frame["month"] = date_month_index(start)
        parts.append(frame)
    if not parts:
        return pd.DataFrame(columns=["client_id", "month", *ECONOMICS_COLUMNS])
    return pd.concat(parts, ignore_index=True)


def data_span(engine: Engine, tenant_id: str) -> tuple[dt.date, dt.date] | None:
    """First and last invoice dates of the tenant (None when it has no invoices)."""
    from sqlalchemy import func

    with engine.connect() as conn:
        row = conn.execute(
            select(func.min(Invoice.issued_on), func.max(Invoice.issued_on)).where(
                live_invoices(tenant_id)
            )
        ).one()
    if row[0] is None:
        return None
    first, last = row
    if isinstance(first, str):
        first, last = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return first, last
