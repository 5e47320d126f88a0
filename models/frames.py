"""Read one tenant's canonical tables into typed pandas frames (``load_frames``), one named
reader per table, and its monthly economics (from ``db.definitions.client_economics``, never
re-derived here).

Size (~410 lines): one reader per canonical table, each a column list; splitting the readers
from ``load_frames`` would only scatter the table list the models depend on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, and_, select

from mspilot.core.clock import add_months, month_start
from mspilot.core.errors import DataError
from mspilot.core.periods import Period
from mspilot.db.definitions import client_economics, live_invoices
from mspilot.db.engine import analyze
from mspilot.db.schema import (
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
from mspilot.models.frame_io import (
    as_float,
    date_month_index,
    parse_dates,
    raw,
    read_frame,
    read_rows,
)


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


#: What the client genome reads of the larger tables (``load_frames(genome_only=True)``).
GENOME_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("client_id", "opened_at", "resolved_at", "priority", "sla_breached", "csat"),
    "invoices": ("id", "client_id", "issued_on", "due_on", "total"),
    "lines": ("client_id", "issued_on", "kind", "sku", "quantity", "amount"),
    "payments": ("invoice_id", "paid_on", "amount"),
}
#: The invoice line kinds the genome reads (recurring fee, labour billed, licences).
GENOME_LINE_KINDS: tuple[str, ...] = ("recurring", "labor", "license")


def _present(frame: pd.DataFrame, *columns: str) -> list[str]:
    return [c for c in columns if c in frame.columns]


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


@dataclass(frozen=True)
class _Scope:
    """What ``load_frames`` reads: the tenant, the event window, and which columns."""

    tenant_id: str
    since: dt.date | None
    ticket_since: dt.date | None
    until: dt.date | None
    genome_only: bool

    def keep(self, table: str, *columns: Any) -> list[Any]:
        """``columns``, or those of them the genome reads when ``genome_only``."""
        if not self.genome_only:
            return list(columns)
        return [c for c in columns if c.key in GENOME_COLUMNS[table]]


def load_frames(
    engine: Engine,
    tenant_id: str,
    *,
    since: dt.date | None = None,
    ticket_since: dt.date | None = None,
    until: dt.date | None = None,
    economics_months: Iterable[dt.date] | None = None,
    with_time_entries: bool = True,
    genome_only: bool = False,
) -> TenantFrames:
    """Load the tenant's rows (events dated in ``[since, until]`` when given; tickets from
    ``ticket_since`` when given, else ``since``).

    ``genome_only`` reads only the columns (and invoice line kinds) the client genome uses,
    ``GENOME_COLUMNS``: the serving path's lighter read; the genome is the same either way."""
    scope = _Scope(tenant_id, since, ticket_since, until, genome_only)
    ensure_planner_statistics(engine)
    with engine.connect() as conn:
        policy = tenant_policy(conn, tenant_id)
        clients = _read_clients(conn, tenant_id)
        contracts = _read_contracts(conn, tenant_id)
        tickets = _read_tickets(conn, scope)
        invoices = _read_invoices(conn, scope)
        lines = _read_lines(conn, scope)
        payments = _read_payments(conn, scope)
        licenses = _read_licenses(conn, tenant_id)
        technicians = _read_technicians(conn, tenant_id)
        time_entries = _read_time_entries(conn, scope) if with_time_entries else _no_time_entries()
        parse_dates(time_entries, "work_date")
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


def _read_clients(conn: Connection, tenant_id: str) -> pd.DataFrame:
    clients = read_frame(
        conn,
        select(
            Client.id,
            Client.external_id,
            Client.name,
            Client.industry,
            Client.seats,
            Client.status,
            raw(Client.onboarded_on),
            raw(Client.churned_on),
        ).where(
            Client.tenant_id == tenant_id,
            Client.deleted_at.is_(None),
            Client.status != "prospect",
        ),
    ).set_index("id")
    parse_dates(clients, "onboarded_on", "churned_on")
    return clients


def _read_contracts(conn: Connection, tenant_id: str) -> pd.DataFrame:
    contracts = read_frame(
        conn,
        select(
            Contract.id,
            Contract.external_id,
            Contract.client_id,
            Contract.kind,
            as_float(Contract.unit_price),
            as_float(Contract.quantity),
            as_float(Contract.monthly_value),
            as_float(Contract.hourly_rate),
            as_float(Contract.included_hours),
            raw(Contract.starts_on),
            raw(Contract.ends_on),
            as_float(Contract.annual_escalation_pct),
            as_float(Contract.discount_pct),
            Contract.status,
        ).where(Contract.tenant_id == tenant_id, Contract.deleted_at.is_(None)),
    )
    parse_dates(contracts, "starts_on", "ends_on")
    return contracts


def _read_tickets(conn: Connection, scope: _Scope) -> pd.DataFrame:
    since, until = scope.ticket_since or scope.since, scope.until
    tk = select(
        *scope.keep(
            "tickets",
            Ticket.id,
            Ticket.client_id,
            raw(Ticket.opened_at),
            raw(Ticket.resolved_at),
            Ticket.priority,
            Ticket.sla_breached,
            Ticket.csat,
        )
    ).where(Ticket.tenant_id == scope.tenant_id, Ticket.deleted_at.is_(None))
    if since is not None:
        tk = tk.where(Ticket.opened_at >= dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC))
    if until is not None:
        tk = tk.where(
            Ticket.opened_at
            < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        )
    tickets = read_rows(conn, tk)
    for col in ("opened_at", "resolved_at"):
        stamps = pd.to_datetime(tickets[col], utc=True, format="ISO8601")
        tickets[col] = stamps.dt.tz_localize(None)
    return tickets


def _read_invoices(conn: Connection, scope: _Scope) -> pd.DataFrame:
    inv = select(
        *scope.keep(
            "invoices",
            Invoice.id,
            Invoice.external_id,
            Invoice.client_id,
            Invoice.number,
            raw(Invoice.issued_on),
            raw(Invoice.due_on),
            raw(Invoice.period_start),
            raw(Invoice.period_end),
            as_float(Invoice.total),
            Invoice.status,
        )
    ).where(live_invoices(scope.tenant_id))
    if scope.since is not None:
        inv = inv.where(Invoice.issued_on >= scope.since)
    if scope.until is not None:
        inv = inv.where(Invoice.issued_on <= scope.until)
    invoices = read_rows(conn, inv)
    parse_dates(invoices, *_present(invoices, "issued_on", "due_on", "period_start", "period_end"))
    return invoices


def _read_lines(conn: Connection, scope: _Scope) -> pd.DataFrame:
    ln = (
        select(
            *scope.keep(
                "lines",
                InvoiceLine.id,
                InvoiceLine.external_id,
                InvoiceLine.invoice_id,
                Invoice.client_id,
                raw(Invoice.issued_on),
                raw(Invoice.period_start),
                InvoiceLine.contract_id,
                InvoiceLine.kind,
                InvoiceLine.sku,
                as_float(InvoiceLine.quantity),
                as_float(InvoiceLine.unit_price),
                as_float(InvoiceLine.discount_pct),
                as_float(InvoiceLine.amount),
            )
        )
        .join(Invoice, and_(Invoice.id == InvoiceLine.invoice_id))
        .where(live_invoices(scope.tenant_id), InvoiceLine.deleted_at.is_(None))
    )
    if scope.genome_only:
        ln = ln.where(InvoiceLine.kind.in_(GENOME_LINE_KINDS))
    if scope.since is not None:
        ln = ln.where(Invoice.issued_on >= scope.since)
    if scope.until is not None:
        ln = ln.where(Invoice.issued_on <= scope.until)
    lines = read_rows(conn, ln)
    parse_dates(lines, *_present(lines, "issued_on", "period_start"))
    return lines


def _read_payments(conn: Connection, scope: _Scope) -> pd.DataFrame:
    pay = select(
        *scope.keep(
            "payments",
            Payment.id,
            Payment.client_id,
            Payment.invoice_id,
            raw(Payment.paid_on),
            as_float(Payment.amount),
        )
    ).where(Payment.tenant_id == scope.tenant_id, Payment.deleted_at.is_(None))
    if scope.since is not None:
        pay = pay.where(Payment.paid_on >= scope.since)
    payments = read_rows(conn, pay)
    parse_dates(payments, "paid_on")
    return payments


def _read_licenses(conn: Connection, tenant_id: str) -> pd.DataFrame:
    licenses = read_frame(
        conn,
        select(
            License.id,
            License.external_id,
            License.client_id,
            License.product,
            License.sku,
            License.seats_in_use,
            as_float(License.unit_cost),
            as_float(License.unit_price),
            raw(License.starts_on),
            raw(License.ends_on),
        ).where(License.tenant_id == tenant_id, License.deleted_at.is_(None)),
    )
    parse_dates(licenses, "starts_on", "ends_on")
    return licenses


def _read_technicians(conn: Connection, tenant_id: str) -> pd.DataFrame:
    return read_frame(
        conn,
        select(Technician.id, Technician.name, Technician.role, as_float(Technician.hourly_cost))
        .where(Technician.tenant_id == tenant_id, Technician.deleted_at.is_(None))
        .order_by(Technician.id),
    )


def _read_time_entries(conn: Connection, scope: _Scope) -> pd.DataFrame:
    te = select(
        TimeEntry.id,
        TimeEntry.external_id,
        TimeEntry.client_id,
        TimeEntry.ticket_id,
        TimeEntry.technician_id,
        raw(TimeEntry.work_date),
        as_float(TimeEntry.hours),
        TimeEntry.billable,
        TimeEntry.invoice_line_id,
    ).where(TimeEntry.tenant_id == scope.tenant_id, TimeEntry.deleted_at.is_(None))
    if scope.since is not None:
        te = te.where(TimeEntry.work_date >= scope.since)
    if scope.until is not None:
        te = te.where(TimeEntry.work_date <= scope.until)
    return read_frame(conn, te)


def _no_time_entries() -> pd.DataFrame:
    return pd.DataFrame(
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
