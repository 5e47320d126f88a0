"""Read one tenant's canonical tables into pandas frames (the models' only read path).

Every query is scoped to the tenant, skips rows deleted or voided at the source and casts money
to floats. Economics come from ``db.definitions.client_economics`` (never re-derived here).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    Float,
    String,
    and_,
    cast,
    func,
    literal,
    select,
    type_coerce,
    union_all,
)

from mspilot.core.clock import add_months, month_start
from mspilot.core.errors import DataError
from mspilot.core.periods import Period
from mspilot.db.definitions import client_economics, live_invoices
from mspilot.db.engine import analyze
from mspilot.db.schema import (
    SYNCED_TABLES,
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
    keys = list(result.keys())
    # Plain tuples, not Row objects: pandas probes every row for a ``dtype`` attribute, and a
    # Row answers a missing attribute by raising (and catching) two exceptions: 2x slower.
    return pd.DataFrame([tuple(row) for row in result.fetchall()], columns=keys)


def read_rows(conn: Connection, stmt: AnySelect) -> pd.DataFrame:
    """``read_frame`` for the large event reads: the driver's tuples go straight into pandas,
    skipping SQLAlchemy's per-row result processing (about half the read time). Only for
    columns that need no conversion: text, integers, floats cast in SQL and dates read raw
    (booleans come back as 0/1 on SQLite; callers cast them)."""
    result = conn.execute(stmt)
    keys = list(result.keys())
    try:
        rows = result.cursor.fetchall()
    finally:
        result.close()
    return pd.DataFrame(rows, columns=keys)


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


#: What the client genome reads of the larger tables (``load_frames(genome_only=True)``).
GENOME_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": ("client_id", "opened_at", "resolved_at", "priority", "sla_breached", "csat"),
    "invoices": ("id", "client_id", "issued_on", "due_on", "total"),
    "lines": ("client_id", "issued_on", "kind", "sku", "quantity", "amount"),
    "payments": ("invoice_id", "paid_on", "amount"),
}
#: The invoice line kinds the genome reads (recurring fee, labour billed, licences).
GENOME_LINE_KINDS: tuple[str, ...] = ("recurring", "labor", "license")


def _all_columns(_table: str, *columns: Any) -> list[Any]:
    return list(columns)


def _genome_columns(table: str, *columns: Any) -> list[Any]:
    return [c for c in columns if c.key in GENOME_COLUMNS[table]]


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
    keep = _genome_columns if genome_only else _all_columns
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
            *keep(
                "tickets",
                Ticket.id,
                Ticket.client_id,
                _raw(Ticket.opened_at),
                _raw(Ticket.resolved_at),
                Ticket.priority,
                Ticket.sla_breached,
                Ticket.csat,
            )
        ).where(Ticket.tenant_id == tenant_id, Ticket.deleted_at.is_(None))
        if (ticket_since or since) is not None:
            start = dt.datetime.combine(ticket_since or since, dt.time(), tzinfo=dt.UTC)  # type: ignore[arg-type]
            tk = tk.where(Ticket.opened_at >= start)
        if until is not None:
            tk = tk.where(
                Ticket.opened_at
                < dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
            )
        tickets = read_rows(conn, tk)
        for col in ("opened_at", "resolved_at"):
            stamps = pd.to_datetime(tickets[col], utc=True, format="ISO8601")
            tickets[col] = stamps.dt.tz_localize(None)

        inv = select(
            *keep(
                "invoices",
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
            )
        ).where(live_invoices(tenant_id))
        if since is not None:
            inv = inv.where(Invoice.issued_on >= since)
        if until is not None:
            inv = inv.where(Invoice.issued_on <= until)
        invoices = read_rows(conn, inv)
        _dates(invoices, *_present(invoices, "issued_on", "due_on", "period_start", "period_end"))

        ln = (
            select(
                *keep(
                    "lines",
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
            )
            .join(Invoice, and_(Invoice.id == InvoiceLine.invoice_id))
            .where(live_invoices(tenant_id), InvoiceLine.deleted_at.is_(None))
        )
        if genome_only:
            ln = ln.where(InvoiceLine.kind.in_(GENOME_LINE_KINDS))
        if since is not None:
            ln = ln.where(Invoice.issued_on >= since)
        if until is not None:
            ln = ln.where(Invoice.issued_on <= until)
        lines = read_rows(conn, ln)
        _dates(lines, *_present(lines, "issued_on", "period_start"))

        pay = select(
            *keep(
                "payments",
                Payment.id,
                Payment.client_id,
                Payment.invoice_id,
                _raw(Payment.paid_on),
                _f(Payment.amount),
            )
        ).where(Payment.tenant_id == tenant_id, Payment.deleted_at.is_(None))
        if since is not None:
            pay = pay.where(Payment.paid_on >= since)
        payments = read_rows(conn, pay)
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


#: A tenant's data version: one (table, rows, latest synced_at, latest deleted_at, deleted rows)
#: per synced table, then ("tenants", max discount) -- compare with ``==``.
DataVersion = tuple[tuple[Any, ...], ...]


def data_version(engine: Engine, tenant_id: str) -> DataVersion:
    """A fingerprint of everything loaded for ``tenant_id``, in one query: per synced table its
    row count, latest ``synced_at`` and ``deleted_at`` and deleted count, plus the tenant's
    pricing policy. The loader stamps ``synced_at`` on every row it inserts or changes and
    ``deleted_at`` on every row it retires, so any load or sync that changes a row changes the
    fingerprint: a cache keyed by it never serves data older than the database.

    Each figure is its own scalar subquery so both SQLite and PostgreSQL answer it from the
    ``(tenant_id, synced_at)`` / ``(tenant_id, deleted_at)`` indexes: the maxima and the deleted
    count are index seeks, the row count one pass over the narrow deleted-at index (a single
    select of all four aggregates makes both planners scan the tenant's rows instead)."""

    def scalar(model: Any, column: Any, *where: Any) -> Any:
        return select(column).where(model.tenant_id == tenant_id, *where).scalar_subquery()

    parts = [
        select(
            literal(model.__tablename__).label("table_name"),  # type: ignore[attr-defined]
            scalar(model, func.count()).label("rows"),
            cast(scalar(model, func.max(model.synced_at)), String).label("synced"),
            cast(scalar(model, func.max(model.deleted_at)), String).label("deleted"),
            scalar(model, func.count(), model.deleted_at.is_not(None)).label("deleted_rows"),
        )
        for model in SYNCED_TABLES
    ]
    policy = select(
        literal("tenants").label("table_name"),
        func.count().label("rows"),
        cast(func.max(Tenant.max_discount_pct), String).label("synced"),
        literal(None, String()).label("deleted"),
        literal(0).label("deleted_rows"),
    ).where(Tenant.id == tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(union_all(*parts, policy)).all()
    return tuple(tuple(r) for r in rows)


T = TypeVar("T")


class VersionedCache(Generic[T]):
    """Values memoised per key, each valid for the ``data_version`` it was built at: a lookup
    with another version rebuilds (the newest ``size`` keys are kept). Values are shared between
    callers and threads: treat them as read-only."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[DataVersion, T]] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.append(self)

    def get(self, key: Hashable, version: DataVersion, build: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == version:
                self._items.move_to_end(key)
                return hit[1]
        value = build()
        with self._lock:
            self._items[key] = (version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def for_tenant(
        self,
        engine: Engine,
        tenant_id: str,
        as_of: dt.date,
        version: DataVersion | None,
        build: Callable[[], T],
    ) -> T:
        """The value for (database, tenant, as_of) at the tenant's current data version (read
        here unless the caller passes it)."""
        if version is None:
            version = data_version(engine, tenant_id)
        return self.get((str(engine.url), tenant_id, as_of), version, build)

    def clear(self, keep: Callable[[Hashable], bool] = lambda _key: False) -> None:
        with self._lock:
            for key in [k for k in self._items if not keep(k)]:
                del self._items[key]


_CACHES: list[VersionedCache[Any]] = []


def clear_versioned_caches() -> None:
    """Empty every ``VersionedCache`` (benchmarks measuring a cold start; tests)."""
    for cache in list(_CACHES):
        cache.clear()


def data_span(engine: Engine, tenant_id: str) -> tuple[dt.date, dt.date] | None:
    """First and last invoice dates of the tenant (None when it has no invoices)."""
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
