"""The one loading path every source uses (connectors, CSV import, the demo generator).

Per batch, in one transaction:
1. fill values the source did not give but the tenant's rows imply (``db.derive``: a churned
   client's churn date), each recorded as a data-quality *warning* naming its rule;
2. validate each incoming row against its pydantic record (``db.records``);
3. turn external ids into canonical ids and check every reference exists in this tenant; a row
   whose parent is missing waits in the orphan queue (``db.orphans``) instead of being refused;
4. compare content fingerprints with what is stored, skip unchanged rows;
5. upsert new and changed rows keyed by ``id = make_id(tenant, source, external_id)``;
6. write refused rows (table, key, reason; severity ``error``) and warnings to
   ``data_quality_issues``.

So a re-run, a retried page or a load killed half-way and started again never duplicates or
half-writes: each batch commits whole or not at all, and upserts land on the same rows.

Size (~430 lines): the five steps above share one batch and transaction; the pieces that stand
alone (records, entity map, ids) live in their own modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Date, Engine, Numeric, Table, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from mspilot.core.ids import make_id
from mspilot.db import orphans
from mspilot.db.derive import clients_needing_derivation, derive_client_dates
from mspilot.db.records import RECORDS, CanonicalId, Record, RowName
from mspilot.db.schema import (
    TABLES_BY_NAME,
    DataQualityIssue,
    Tenant,
    UTCDateTime,
    sqlite_datetime,
)

ProgressCallback = Callable[[str, int], None]

#: Columns the loader owns; never part of a record or of the content fingerprint.
_SYSTEM_COLUMNS = ("id", "tenant_id", "source", "row_hash", "synced_at")
#: The primary/parent key of every synced table: never rewritten by an upsert.
_KEY_COLUMNS = frozenset({"id", "tenant_id"})
#: PostgreSQL: a table is re-analyzed once the rows this load inserted into it exceed this
#: multiple of the row count its statistics last saw (so a load into an empty table analyzes
#: it after its first batch, then at 2x, 4x, ... its size: a logarithmic number of ANALYZEs).
ANALYZE_GROWTH = 1.0


@dataclass
class TableResult:
    table: str
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0

    def as_dict(self) -> dict[str, int | str]:
        return dict(self.__dict__)


ERROR = "error"  # the row was refused
WARNING = "warning"  # the row loaded with a derived or default value; a stream was skipped


@dataclass(frozen=True)
class QualityIssue:
    table: str
    key: str
    reason: str
    severity: str = ERROR


@dataclass
class _PlannerStats:
    """What PostgreSQL's statistics know of one table, as far as this loader can tell."""

    analyzed_rows: float  # ``pg_class.reltuples`` at the last ANALYZE (-1: never analyzed)
    inserted_since: int = 0  # rows this loader inserted since then


@dataclass
class LoadReport:
    run_id: str
    tables: dict[str, TableResult] = field(default_factory=dict)
    issues: list[QualityIssue] = field(default_factory=list)
    #: rows put on the orphan queue by this load (table -> count)
    waiting: dict[str, int] = field(default_factory=dict)
    #: rows whose derived values found no evidence yet: table -> row id -> columns
    provisional: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def rows_written(self) -> int:
        return sum(t.inserted + t.updated for t in self.tables.values())

    @property
    def errors(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[QualityIssue]:
        return [i for i in self.issues if i.severity == WARNING]


def _batches(rows: Iterable[Mapping[str, Any]], size: int) -> Iterator[list[Mapping[str, Any]]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


_ZERO = dt.timedelta(0)


def _canonical_decimal(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _canonical_datetime(value: dt.datetime) -> str:
    # an aware time already at offset 0 (pydantic's UTC, ``dt.UTC``) reads the same as its
    # conversion to ``dt.UTC``; converting costs more than the rest of the fingerprint
    if value.utcoffset() == _ZERO:
        return value.isoformat()
    return value.astimezone(dt.UTC).isoformat()


#: The values whose spelling is not unique, by exact type (the validated records hold these).
_CANONICAL: dict[type, Callable[[Any], str]] = {
    Decimal: _canonical_decimal,
    dt.datetime: _canonical_datetime,
}


def _canonical(value: Any) -> Any:
    """One spelling per value: the same content reached by two paths hashes the same
    (``Decimal('12.5')`` vs ``Decimal('12.50')``, UTC vs ``+00:00`` time-zone objects)."""
    spell = _CANONICAL.get(type(value))
    if spell is not None:
        return spell(value)
    if isinstance(value, Decimal):
        return _canonical_decimal(value)
    if isinstance(value, dt.datetime):
        return _canonical_datetime(value)
    return value


#: Types whose repr is already their one spelling (by exact type: the fast path).
_PLAIN = frozenset({str, int, float, bool, type(None), dt.date})


def _fingerprint(values: Sequence[Any]) -> str:
    text = repr([v if type(v) in _PLAIN else _canonical(v) for v in values])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _sqlite_adapters(table: Table) -> list[Callable[[Any], Any] | None]:
    """Per column: how a Python value is stored on SQLite (None: as it is)."""
    adapters: list[Callable[[Any], Any] | None] = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, UTCDateTime):
            adapters.append(sqlite_datetime)
        elif isinstance(kind, Numeric):
            adapters.append(float)
        elif isinstance(kind, Date):
            adapters.append(dt.date.isoformat)
        else:
            adapters.append(None)
    return adapters


def _validation_reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "row"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def upsert_tenant(
    conn: Connection,
    tenant_id: str,
    name: str,
    *,
    currency: str = "USD",
    timezone: str = "UTC",
    max_discount_pct: float = 10.0,
) -> None:
    table: Table = Tenant.__table__  # type: ignore[assignment]
    values = {
        "id": tenant_id,
        "name": name,
        "currency": currency,
        "timezone": timezone,
        "max_discount_pct": max_discount_pct,
        "created_at": dt.datetime.now(dt.UTC),
    }
    stmt = dialect_insert(conn, table).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={k: stmt.excluded[k] for k in ("name", "currency", "timezone", "max_discount_pct")},
    )
    conn.execute(stmt)


def create_tenant(engine: Engine, tenant_id: str, name: str | None = None) -> bool:
    """Create the tenant row if it does not exist yet (an existing one is left as it is);
    True when created. (Belongs with the tenant layer, ``db/tenants.py``, once it exists.)"""
    with engine.begin() as conn:
        if conn.scalar(select(Tenant.id).where(Tenant.id == tenant_id)) is not None:
            return False
        upsert_tenant(conn, tenant_id, name or tenant_id)
        return True


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def dialect_insert(conn: Connection, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support on this connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"loader supports sqlite and postgresql, not {conn.dialect.name}")


class Loader:
    """Loads canonical records of one tenant from one source."""

    def __init__(
        self,
        engine: Engine,
        tenant_id: str,
        source: str,
        *,
        batch_size: int = 2000,
        run_id: str | None = None,
        on_progress: ProgressCallback | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.source = source
        self.batch_size = batch_size
        self.on_progress = on_progress
        self.now = now
        self.report = LoadReport(run_id=run_id or uuid.uuid4().hex[:12])
        self._known: dict[str, set[str]] = {}
        self._stats: dict[str, _PlannerStats] = {}
        self._orphans_possible: bool | None = None  # does the tenant have waiting rows?
        self._id_prefix = make_id(tenant_id, source, "")

    # -- public ------------------------------------------------------------------------------
    def canonical_id(self, name: RowName) -> str:
        """A row's canonical id from its external id in this source (or its canonical id)."""
        if isinstance(name, CanonicalId):
            return name.id
        return make_id(self.tenant_id, self.source, name)

    def load(self, table: str, rows: Iterable[Mapping[str, Any]]) -> TableResult:
        """Validate and upsert ``rows`` into ``table``, one transaction per batch."""
        if table not in RECORDS:
            raise ValueError(f"unknown table {table!r}; expected one of {sorted(RECORDS)}")
        result = self.report.tables.setdefault(table, TableResult(table))
        for chunk in _batches(rows, self.batch_size):
            self._load_batch(table, chunk, result)
            if self.on_progress:
                self.on_progress(table, len(chunk))
        return result

    def load_all(self, tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> LoadReport:
        """Load several tables, parents before children."""
        for name in TABLES_BY_NAME:
            if name in tables:
                self.load(name, tables[name])
        unknown = set(tables) - set(TABLES_BY_NAME)
        if unknown:
            raise ValueError(f"unknown tables: {sorted(unknown)}")
        return self.report

    def mark_deleted(
        self, table: str, external_ids: Iterable[RowName], when: dt.datetime | None = None
    ) -> int:
        """Mark rows deleted or voided at the source; they stay in history."""
        model = TABLES_BY_NAME[table]
        ids = [self.canonical_id(e) for e in external_ids]
        stamp = when or self.now()
        count = 0
        with self.engine.begin() as conn:
            for start in range(0, len(ids), self.batch_size):
                chunk = ids[start : start + self.batch_size]
                res = conn.execute(
                    update(model)
                    .where(model.tenant_id == self.tenant_id, model.id.in_(chunk))
                    .where(model.deleted_at.is_(None))
                    .values(deleted_at=stamp)
                )
                count += res.rowcount or 0
        self.report.tables.setdefault(table, TableResult(table)).deleted += count
        return count

    def record_issues(self, issues: Sequence[QualityIssue]) -> None:
        """Record issues found outside a load (a vendor record that does not parse, a stream
        the source would not let us read)."""
        if not issues:
            return
        with self.engine.begin() as conn:
            self._write_issues(conn, list(issues), self.now())
        self.report.issues.extend(issues)

    def rederive(self) -> int:
        """Derive again the values that found no evidence when their rows loaded (a first sync
        loads clients before their contracts); returns the rows that changed."""
        changed = 0
        for table, wanted in list(self.report.provisional.items()):
            self.report.provisional[table] = {}
            if not wanted:
                continue
            model = TABLES_BY_NAME[table]
            fields = [f for f in RECORDS[table].model_fields if f not in RECORDS[table].refs]
            with self.engine.connect() as conn:
                stored = conn.execute(
                    select(model.__table__).where(
                        model.tenant_id == self.tenant_id,
                        model.source == self.source,
                        model.id.in_(list(wanted)),
                    )
                ).mappings()
                records = []
                for row in stored:
                    record = {k: row[k] for k in fields if k in row}
                    for column in wanted[row["id"]]:
                        record[column] = None
                    records.append(record)
            result = self.report.tables.setdefault(table, TableResult(table))
            before = result.updated
            self.load(table, records)
            changed += result.updated - before
        return changed

    # -- internals ---------------------------------------------------------------------------
    def _load_batch(self, table: str, chunk: list[Mapping[str, Any]], result: TableResult) -> None:
        record_type = RECORDS[table]
        model = TABLES_BY_NAME[table]
        sa_table: Table = model.__table__
        issues: list[QualityIssue] = []
        rows: dict[str, dict[str, Any]] = {}
        raws: dict[str, Mapping[str, Any]] = {}
        result.received += len(chunk)
        if table == "clients" and clients_needing_derivation(chunk):
            chunk = self._derive_clients(chunk, issues)
        if table == "time_entries":
            chunk = self._client_from_ticket(chunk)
        for raw in chunk:
            try:
                record = record_type.model_validate(raw)
            except ValidationError as exc:
                key = str(raw.get("external_id", "?")) if isinstance(raw, Mapping) else "?"
                issues.append(QualityIssue(table, key, _validation_reason(exc)))
                continue
            row = self._to_row(record)
            rows[row["id"]] = row  # a row repeated inside a batch: last one wins
            raws[row["id"]] = raw

        now = self.now()
        inserted_before = result.inserted
        if self._orphans_possible is None:
            self._orphans_possible = orphans.has_orphans(self.engine, self.tenant_id)
        with self.engine.begin() as conn:
            waiting = self._check_references(conn, table, record_type, rows, raws, issues, now)
            existing = self._existing_hashes(conn, model, list(rows))
            fresh, changed = [], []
            for row_id, row in rows.items():
                old = existing.get(row_id)
                if old is None:
                    fresh.append(row)
                elif old != row["row_hash"]:
                    changed.append(row)
                else:
                    result.unchanged += 1
                    continue
                row["synced_at"] = now
            result.inserted += len(fresh)
            result.updated += len(changed)
            if fresh:
                self._upsert(conn, sa_table, fresh, absent=True)
            if changed:
                self._upsert(conn, sa_table, changed)
            if self._orphans_possible:
                orphans.resolve(conn, self.tenant_id, table, [r for r in rows if r not in waiting])
            if issues:
                self._write_issues(conn, issues, now)
        result.rejected += sum(1 for i in issues if i.severity == ERROR)
        self.report.issues.extend(issues)
        self._known.setdefault(table, set()).update(rows)
        if self.engine.dialect.name == "postgresql":
            self._keep_statistics_current(sa_table.name, result.inserted - inserted_before)

    def _keep_statistics_current(self, table: str, inserted: int) -> None:
        """ANALYZE ``table`` (PostgreSQL) once this load has grown it past its statistics.

        A table PostgreSQL has not analyzed since it was small (autovacuum is off, or has not
        come round during a bulk load) has no statistics saying ``tenant_id = $1`` matches every
        row and ``id = $2`` one. Measured on a 2,000-client demo load, the planner then looked
        up :meth:`_existing_hashes` and the foreign-key check of every inserted child row
        (``SELECT 1 FROM clients WHERE tenant_id = $1 AND id = $2``, planned once per session)
        through ``ix_<table>_tenant_deleted``: a walk over all the tenant's rows per lookup, so
        the load grew quadratically with the tenant. With statistics it looks rows up by key.
        """
        stats = self._stats.get(table)
        if stats is None:
            stats = self._stats[table] = _PlannerStats(self._reltuples(table))
        stats.inserted_since += inserted
        # reltuples < 0: never analyzed, whatever this batch did
        if (
            stats.analyzed_rows >= 0
            and stats.inserted_since <= ANALYZE_GROWTH * stats.analyzed_rows
        ):
            return
        with self.engine.begin() as conn:
            conn.execute(text(f'ANALYZE "{table}"'))
        # at least the rows known to be there: a role that does not own the table gets a
        # warning instead of statistics, and must not then ANALYZE after every batch
        known = max(stats.analyzed_rows, 0.0) + stats.inserted_since
        stats.analyzed_rows = max(self._reltuples(table), known)
        stats.inserted_since = 0

    def _reltuples(self, table: str) -> float:
        """PostgreSQL's row estimate of ``table`` (-1: never analyzed nor vacuumed)."""
        with self.engine.connect() as conn:
            value = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
            ).scalar()
        return float(value) if value is not None else -1.0

    def _upsert(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], *, absent: bool = False
    ) -> None:
        """``INSERT .. ON CONFLICT (id) DO UPDATE`` as one driver-level executemany.

        The statement is the same on SQLite and PostgreSQL; values are adapted once here
        instead of through per-value SQLAlchemy type processors (the hot path).

        ``absent``: this transaction has just looked the rows up and found none of them. On
        SQLite they are then inserted with a plain ``INSERT``: its upsert costs 2.6x a plain
        insert per row (measured on 30,000 tickets), and a writer cannot slip a row in between
        (SQLite serialises writers; one that wrote after our read makes our write fail, loudly,
        never silently). PostgreSQL (read committed) keeps the upsert.
        """
        columns = [c.name for c in table.columns]
        sqlite_dialect = conn.dialect.name == "sqlite"
        mark = "?" if sqlite_dialect else "%s"
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join([mark] * len(columns))})"
        )
        if not (absent and sqlite_dialect):
            # The key columns are never SET: the id embeds the tenant, so they cannot change,
            # and naming them would make SQLite check every child table's references to each
            # updated row (a full scan of e.g. time_entries per updated ticket where no index
            # covers them).
            updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _KEY_COLUMNS)
            sql += f" ON CONFLICT (id) DO UPDATE SET {updates}"
        blank = dict.fromkeys(columns)
        pick = itemgetter(*columns)
        if sqlite_dialect:  # psycopg adapts Decimal, date and aware datetimes natively
            adapters = [(c, f) for c, f in zip(columns, _sqlite_adapters(table), strict=True) if f]
            params = []
            for row in rows:
                values = {**blank, **row}
                for c, f in adapters:
                    v = values[c]
                    if v is not None:
                        values[c] = f(v)
                params.append(pick(values))
        else:
            params = [pick({**blank, **row}) for row in rows]
        conn.exec_driver_sql(sql, params)

    def _to_row(self, record: Record) -> dict[str, Any]:
        data = dict(record.__dict__)  # validated values; cheaper than model_dump()
        prefix = self._id_prefix  # canonical_id, inlined: three calls per row otherwise
        for column in record.refs:
            ref = data.get(column)
            if ref is not None:
                data[column] = ref.id if ref.__class__ is CanonicalId else prefix + ref
        data["row_hash"] = _fingerprint(tuple(data.values()))
        data["id"] = prefix + data["external_id"]
        data["tenant_id"] = self.tenant_id
        data["source"] = self.source
        return data

    def _check_references(
        self,
        conn: Connection,
        table: str,
        record_type: type[Record],
        rows: dict[str, dict[str, Any]],
        raws: Mapping[str, Mapping[str, Any]],
        issues: list[QualityIssue],
        now: dt.datetime,
    ) -> set[str]:
        """Rows naming a parent that does not exist wait in the orphan queue: without a
        required parent they stay out of the table; without an optional one they load without
        the reference. Returns the ids of rows that wait. A row naming another tenant's row is
        refused: that parent can never arrive."""
        required = {n for n, f in record_type.model_fields.items() if f.is_required()}
        queued: dict[str, orphans.Orphan] = {}
        for column, target in record_type.refs.items():
            wanted = {r[column] for r in rows.values() if r.get(column) is not None}
            known = self._known.setdefault(target, set())
            missing = wanted - known
            if missing:
                found = self._existing_ids(conn, TABLES_BY_NAME[target], missing)
                known.update(found)
                missing -= found
            if not missing:
                continue
            for row_id in [i for i, r in rows.items() if r.get(column) in missing]:
                parent = rows[row_id][column]
                reason = f"{column}: no {target} row {parent!r} in tenant {self.tenant_id}"
                if not parent.startswith(self.tenant_id + "."):
                    issues.append(QualityIssue(table, rows.pop(row_id)["external_id"], reason))
                    queued.pop(row_id, None)
                    continue
                reason += " (yet)"
                orphan = orphans.Orphan(
                    table, row_id, self.source, raws[row_id], target, parent, reason
                )
                queued.setdefault(row_id, orphan)
                if column in required:
                    rows.pop(row_id)
                else:  # load it without the reference meanwhile
                    row = dict(rows[row_id], **{column: None})
                    row["row_hash"] = _fingerprint(
                        tuple(v for k, v in row.items() if k not in _SYSTEM_COLUMNS)
                    )
                    rows[row_id] = row
        if queued:
            orphans.enqueue(
                conn, self.tenant_id, queued.values(), run_id=self.report.run_id, now=now
            )
            self._orphans_possible = True
            self.report.waiting[table] = self.report.waiting.get(table, 0) + len(queued)
        return set(queued)

    def _client_from_ticket(self, chunk: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """A time entry logged on a ticket may name only the ticket: its client is the
        ticket's. Entries whose ticket has not arrived wait for it in the orphan queue."""
        wanted = [
            r
            for r in chunk
            if isinstance(r, Mapping) and r.get("client_id") is None and r.get("ticket_id")
        ]
        if not wanted:
            return chunk
        tickets = {self.canonical_id(r["ticket_id"]) for r in wanted}
        model = TABLES_BY_NAME["tickets"]
        with self.engine.connect() as conn:
            found: dict[str, str] = {}
            id_list = sorted(tickets)
            for start in range(0, len(id_list), 5000):
                res = conn.execute(
                    select(model.id, model.client_id).where(
                        model.tenant_id == self.tenant_id,
                        model.id.in_(id_list[start : start + 5000]),
                    )
                )
                found.update({r[0]: r[1] for r in res})
        out: list[Mapping[str, Any]] = []
        waiting: list[orphans.Orphan] = []
        for raw in chunk:
            if not any(raw is w for w in wanted):
                out.append(raw)
                continue
            ticket = self.canonical_id(raw["ticket_id"])
            client = found.get(ticket)
            if client is not None:
                out.append({**raw, "client_id": CanonicalId(client)})
                continue
            row_id = self.canonical_id(str(raw.get("external_id")))
            reason = f"ticket_id: no tickets row {ticket!r} in tenant {self.tenant_id} (yet)"
            waiting.append(
                orphans.Orphan("time_entries", row_id, self.source, raw, "tickets", ticket, reason)
            )
        if waiting:
            with self.engine.begin() as conn:
                orphans.enqueue(
                    conn, self.tenant_id, waiting, run_id=self.report.run_id, now=self.now()
                )
            self._orphans_possible = True
            self.report.waiting["time_entries"] = self.report.waiting.get("time_entries", 0) + len(
                waiting
            )
        return out

    def _derive_clients(
        self, chunk: list[Mapping[str, Any]], issues: list[QualityIssue]
    ) -> list[Mapping[str, Any]]:
        """Fill churn/onboarding dates the source did not give (``db.derive``)."""
        by_id = {
            self.canonical_id(str(r["external_id"])): r
            for r in chunk
            if isinstance(r, Mapping) and r.get("external_id")
        }
        with self.engine.connect() as conn:
            derived = derive_client_dates(conn, self.tenant_id, by_id, self.now().date())
        if not derived:
            return chunk
        filled = {row_id: dict(by_id[row_id]) for row_id in derived}
        provisional = self.report.provisional.setdefault("clients", {})
        for row_id, values in derived.items():
            for d in values:
                filled[row_id][d.column] = d.value
                issues.append(
                    QualityIssue("clients", str(by_id[row_id]["external_id"]), d.reason(), WARNING)
                )
            late = tuple(d.column for d in values if d.provisional)
            if late:
                provisional[row_id] = late
        swap = {id(by_id[row_id]): filled[row_id] for row_id in filled}
        return [swap.get(id(r), r) for r in chunk]

    def _write_issues(self, conn: Connection, issues: list[QualityIssue], now: dt.datetime) -> None:
        warned = {(i.table, i.key[:120]) for i in issues if i.severity == WARNING}
        if warned:  # a row derived again in the same run keeps one warning: the last
            dq = DataQualityIssue
            for table in {t for t, _ in warned}:
                conn.execute(
                    delete(dq).where(
                        dq.tenant_id == self.tenant_id,
                        dq.run_id == self.report.run_id,
                        dq.severity == WARNING,
                        dq.table_name == table,
                        dq.record_key.in_([k for t, k in warned if t == table]),
                    )
                )
        conn.execute(
            _table(DataQualityIssue).insert(),
            [
                {
                    "tenant_id": self.tenant_id,
                    "run_id": self.report.run_id,
                    "source": self.source,
                    "table_name": i.table,
                    "record_key": i.key[:120],
                    "reason": i.reason,
                    "severity": i.severity,
                    "created_at": now,
                }
                for i in issues
            ],
        )

    def _existing_ids(self, conn: Connection, model: Any, ids: set[str]) -> set[str]:
        found: set[str] = set()
        id_list = list(ids)
        for start in range(0, len(id_list), 5000):
            chunk = id_list[start : start + 5000]
            found.update(
                conn.scalars(
                    select(model.id).where(model.tenant_id == self.tenant_id, model.id.in_(chunk))
                )
            )
        return found

    def _existing_hashes(self, conn: Connection, model: Any, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        rows = conn.execute(
            select(model.id, model.row_hash).where(
                model.tenant_id == self.tenant_id, model.id.in_(ids)
            )
        )
        return {r[0]: r[1] for r in rows}
