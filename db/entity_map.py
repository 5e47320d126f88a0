"""Entity resolution storage and the few reads/writes connectors need to keep one fact in
one row when two sources know it (data-model.md, "One fact, one row").

- links: a QuickBooks customer/invoice resolved to a canonical row (often first seen in
  SuperOps); reviews: ambiguous pairs waiting for a person.
- ``patch_rows``: change a few columns of existing rows *through the loader* (the one loading
  path), under the row's own source and external id, so provenance and fingerprints stay
  consistent with what that source itself loads.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, delete, select

from mspilot.db.loader import Loader, TableResult, dialect_insert
from mspilot.db.records import RECORDS, CanonicalId
from mspilot.db.schema import TABLES_BY_NAME, Client, Invoice, InvoiceLine
from mspilot.db.schema_connectors import EntityLink, EntityReview

CLIENT = "client"
INVOICE = "invoice"


# ---- links ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    kind: str
    qbo_id: str
    target_id: str
    method: str
    score: float | None = None


def load_links(engine: Engine, tenant_id: str, kind: str) -> dict[str, str]:
    """QuickBooks id -> canonical row id."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(EntityLink.qbo_id, EntityLink.target_id).where(
                EntityLink.tenant_id == tenant_id, EntityLink.kind == kind
            )
        )
        return {r[0]: r[1] for r in rows}


def list_links(engine: Engine, tenant_id: str) -> list[Link]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                EntityLink.kind,
                EntityLink.qbo_id,
                EntityLink.target_id,
                EntityLink.method,
                EntityLink.score,
            )
            .where(EntityLink.tenant_id == tenant_id)
            .order_by(EntityLink.kind, EntityLink.qbo_id)
        )
        return [Link(*r) for r in rows]


def save_link(engine: Engine, tenant_id: str, link: Link, *, now: dt.datetime) -> None:
    """Record (or replace) a link; a row may be the target of one link per kind."""
    save_links(engine, tenant_id, [link], now=now)


def save_links(engine: Engine, tenant_id: str, links: Iterable[Link], *, now: dt.datetime) -> None:
    """Record (or replace) several links in one transaction; a row may be the target of one
    link per kind, so older links to the same targets are dropped."""
    batch = list({(link.kind, link.qbo_id): link for link in links}.values())
    if not batch:
        return
    with engine.begin() as conn:
        for kind in {link.kind for link in batch}:
            mine = [link for link in batch if link.kind == kind]
            for start in range(0, len(mine), 500):
                chunk = mine[start : start + 500]
                conn.execute(
                    delete(EntityLink).where(
                        EntityLink.tenant_id == tenant_id,
                        EntityLink.kind == kind,
                        (EntityLink.target_id.in_([link.target_id for link in chunk]))
                        | (EntityLink.qbo_id.in_([link.qbo_id for link in chunk])),
                    )
                )
        conn.execute(
            EntityLink.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "tenant_id": tenant_id,
                    "kind": link.kind,
                    "qbo_id": link.qbo_id,
                    "target_id": link.target_id,
                    "method": link.method,
                    "score": link.score,
                    "created_at": now,
                }
                for link in batch
            ],
        )


# ---- reviews ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Review:
    kind: str
    qbo_id: str
    qbo_name: str
    candidates: list[dict[str, Any]]
    reason: str
    status: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def list_reviews(engine: Engine, tenant_id: str, status: str | None = "open") -> list[Review]:
    stmt = select(
        EntityReview.kind,
        EntityReview.qbo_id,
        EntityReview.qbo_name,
        EntityReview.candidates,
        EntityReview.reason,
        EntityReview.status,
    ).where(EntityReview.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(EntityReview.status == status)
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(EntityReview.kind, EntityReview.qbo_id))
        return [Review(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5]) for r in rows]


def review_status(engine: Engine, tenant_id: str, kind: str, qbo_id: str) -> str | None:
    with engine.connect() as conn:
        value: str | None = conn.scalar(
            select(EntityReview.status).where(
                EntityReview.tenant_id == tenant_id,
                EntityReview.kind == kind,
                EntityReview.qbo_id == qbo_id,
            )
        )
        return value


def open_review(
    engine: Engine,
    tenant_id: str,
    *,
    kind: str,
    qbo_id: str,
    qbo_name: str,
    candidates: list[dict[str, Any]],
    reason: str,
    now: dt.datetime,
) -> None:
    """Put a pair on the review list (a decided review keeps its decision)."""
    with engine.begin() as conn:
        table: Table = EntityReview.__table__  # type: ignore[assignment]
        stmt = dialect_insert(conn, table).values(
            tenant_id=tenant_id,
            kind=kind,
            qbo_id=qbo_id,
            qbo_name=qbo_name[:200],
            candidates=json.dumps(candidates, default=str),
            reason=reason[:300],
            status="open",
            created_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "kind", "qbo_id"],
            set_={k: stmt.excluded[k] for k in ("qbo_name", "candidates", "reason")},
            where=EntityReview.status == "open",
        )
        conn.execute(stmt)


def decide_review(
    engine: Engine, tenant_id: str, kind: str, qbo_id: str, status: str, *, now: dt.datetime
) -> bool:
    if status not in ("accepted", "rejected", "open"):
        raise ValueError(f"unknown review status {status!r}")
    with engine.begin() as conn:
        res = conn.execute(
            EntityReview.__table__.update()  # type: ignore[attr-defined]
            .where(
                EntityReview.tenant_id == tenant_id,
                EntityReview.kind == kind,
                EntityReview.qbo_id == qbo_id,
            )
            .values(status=status, decided_at=now)
        )
        return bool(res.rowcount)


# ---- reads used by matching ---------------------------------------------------------------------
@dataclass(frozen=True)
class ClientRow:
    id: str
    source: str
    external_id: str
    name: str
    email_domain: str | None
    qbo_customer_id: str | None


def client_rows(engine: Engine, tenant_id: str, source: str | None = None) -> list[ClientRow]:
    """Live clients of a tenant (optionally of one source)."""
    stmt = select(
        Client.id,
        Client.source,
        Client.external_id,
        Client.name,
        Client.email_domain,
        Client.qbo_customer_id,
    ).where(Client.tenant_id == tenant_id, Client.deleted_at.is_(None))
    if source is not None:
        stmt = stmt.where(Client.source == source)
    with engine.connect() as conn:
        return [ClientRow(*r) for r in conn.execute(stmt.order_by(Client.id))]


def invoice_index(
    engine: Engine, tenant_id: str, source: str, numbers: Iterable[str] | None = None
) -> dict[tuple[str, str], str]:
    """(client_id, number) -> invoice row id, for live invoices of one source."""
    stmt = select(Invoice.client_id, Invoice.number, Invoice.id).where(
        Invoice.tenant_id == tenant_id, Invoice.source == source, Invoice.deleted_at.is_(None)
    )
    wanted = list(numbers) if numbers is not None else None
    out: dict[tuple[str, str], str] = {}
    with engine.connect() as conn:
        if wanted is None:
            for client_id, number, row_id in conn.execute(stmt):
                out[(client_id, number)] = row_id
            return out
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for client_id, number, row_id in conn.execute(stmt.where(Invoice.number.in_(chunk))):
                out[(client_id, number)] = row_id
    return out


def rows_by_id(
    engine: Engine, tenant_id: str, table: str, ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Stored rows (all columns) by canonical id."""
    model = TABLES_BY_NAME[table]
    id_list = list(dict.fromkeys(ids))
    out: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            res = conn.execute(
                select(model.__table__).where(model.tenant_id == tenant_id, model.id.in_(chunk))
            )
            for row in res.mappings():
                out[row["id"]] = dict(row)
    return out


def ids_where(engine: Engine, tenant_id: str, table: str, **equals: Any) -> list[str]:
    """Ids of live rows of ``table`` whose columns equal the given values."""
    model = TABLES_BY_NAME[table]
    stmt = select(model.id).where(model.tenant_id == tenant_id, model.deleted_at.is_(None))
    for column, value in equals.items():
        col = getattr(model, column)
        stmt = stmt.where(col.in_(list(value)) if isinstance(value, list | set) else col == value)
    with engine.connect() as conn:
        return list(conn.scalars(stmt.order_by(model.id)))


def live_source_ids(engine: Engine, tenant_id: str, table: str, source: str) -> set[str]:
    """External ids of live rows a source loaded into ``table``."""
    model = TABLES_BY_NAME[table]
    with engine.connect() as conn:
        return set(
            conn.scalars(
                select(model.external_id).where(
                    model.tenant_id == tenant_id,
                    model.source == source,
                    model.deleted_at.is_(None),
                )
            )
        )


def record_from_row(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """The record a stored row was loaded from (references as :class:`CanonicalId`)."""
    record_type = RECORDS[table]
    data = {name: row[name] for name in record_type.model_fields if name in row}
    for column in record_type.refs:
        if data.get(column) is not None:
            data[column] = CanonicalId(str(data[column]))
    return data


def patch_rows(
    engine: Engine,
    tenant_id: str,
    table: str,
    patches: Mapping[str, Mapping[str, Any]],
    *,
    run_id: str | None = None,
    now: dt.datetime | None = None,
) -> dict[str, TableResult]:
    """Change some columns of existing rows, through the loader, under each row's own source.

    ``patches`` maps canonical row id -> {column: new value}; reference columns take
    canonical ids. Rows that do not exist are ignored. Returns results per source.
    """
    stored = rows_by_id(engine, tenant_id, table, patches)
    by_source: dict[str, list[dict[str, Any]]] = {}
    refs = RECORDS[table].refs
    for row_id, change in patches.items():
        row = stored.get(row_id)
        if row is None:
            continue
        record = record_from_row(table, row)
        for column, value in change.items():
            record[column] = CanonicalId(value) if column in refs and value is not None else value
        by_source.setdefault(row["source"], []).append(record)
    results: dict[str, TableResult] = {}
    for source, records in by_source.items():
        loader = Loader(
            engine,
            tenant_id,
            source,
            run_id=run_id,
            now=(lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC)),
        )
        results[source] = loader.load(table, records)
    return results


def column_by_id(
    engine: Engine, tenant_id: str, table: str, column: str, ids: Iterable[str]
) -> dict[str, Any]:
    """One column of some rows, by canonical id (rows that do not exist are absent)."""
    model = TABLES_BY_NAME[table]
    id_list = list(dict.fromkeys(ids))
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for start in range(0, len(id_list), 500):
            chunk = id_list[start : start + 500]
            res = conn.execute(
                select(model.id, getattr(model, column)).where(
                    model.tenant_id == tenant_id, model.id.in_(chunk)
                )
            )
            out.update({r[0]: r[1] for r in res})
    return out


@dataclass(frozen=True)
class LaborLine:
    line_id: str
    kind: str
    invoice_id: str
    client_id: str
    sku: str | None
    period_start: dt.date | None
    period_end: dt.date | None
    issued_on: dt.date
    unit_price: Any = None


def labor_lines(
    engine: Engine,
    tenant_id: str,
    client_ids: Iterable[str],
    kinds: tuple[str, ...] = ("labor",),
) -> list[LaborLine]:
    """Live lines of some kinds (labour; recurring for prepaid blocks) on live invoices of some
    clients, to place billed time entries."""
    ids = list(dict.fromkeys(client_ids))
    out: list[LaborLine] = []
    with engine.connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = conn.execute(
                select(
                    InvoiceLine.id,
                    InvoiceLine.kind,
                    Invoice.id,
                    Invoice.client_id,
                    InvoiceLine.sku,
                    Invoice.period_start,
                    Invoice.period_end,
                    Invoice.issued_on,
                    InvoiceLine.unit_price,
                )
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .where(
                    InvoiceLine.tenant_id == tenant_id,
                    InvoiceLine.kind.in_(kinds),
                    InvoiceLine.deleted_at.is_(None),
                    Invoice.deleted_at.is_(None),
                    Invoice.client_id.in_(chunk),
                )
                .order_by(Invoice.issued_on, InvoiceLine.id)
            )
            out.extend(LaborLine(*r) for r in rows)
    return out


def latest_line_prices(
    engine: Engine, tenant_id: str, client_ids: Iterable[str], kind: str
) -> dict[tuple[str, str], Any]:
    """(client_id, sku) -> unit price on the client's most recent live invoice line of a kind."""
    return {
        (line.client_id, line.sku): line.unit_price
        for line in labor_lines(engine, tenant_id, client_ids, (kind,))
        if line.sku
    }
