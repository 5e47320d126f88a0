"""The orphan queue: rows whose parent is not in the tenant (yet) wait here instead of being
refused with it, and are re-tried whenever a sync ends (``retry``), in this run or a later one.

A row waits when a reference it carries names a row that does not exist: a ticket of a client
that was refused or is not synced yet, a QuickBooks payment of an invoice that has not arrived.
A required reference keeps the row out of its table until the parent arrives; an optional one
(a ticket's technician, a line's contract) lets the row load without it, and the full record
is loaded again when the parent arrives. Either way the row is listed here, with what it
waits on, until it lands whole; ``waiting`` counts them for the sync summary.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select

from mspilot.db.records import CanonicalId
from mspilot.db.schema import TABLES_BY_NAME
from mspilot.db.schema_connectors import OrphanRow

_ORPHANS: Table = OrphanRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Orphan:
    """One row that waits for a parent."""

    table: str
    row_id: str
    source: str
    record: Mapping[str, Any]
    waits_for_table: str
    waits_for_id: str
    reason: str


def _json_value(value: Any) -> Any:
    if isinstance(value, CanonicalId):
        return {"canonical_id": value.id}
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot keep {type(value).__name__} in the orphan queue")


def dump_record(record: Mapping[str, Any]) -> str:
    return json.dumps(dict(record), default=_json_value, sort_keys=True)


def load_record(text: str) -> dict[str, Any]:
    """A queued record as the source gave it (typed canonical references restored)."""
    data: dict[str, Any] = json.loads(text)
    return {
        k: CanonicalId(v["canonical_id"]) if isinstance(v, dict) and "canonical_id" in v else v
        for k, v in data.items()
    }


def enqueue(
    conn: Connection, tenant_id: str, orphans: Iterable[Orphan], *, run_id: str, now: dt.datetime
) -> int:
    """Put rows on the queue (a row already waiting gets its newest record and reason)."""
    batch = {(o.table, o.row_id): o for o in orphans}
    if not batch:
        return 0
    for (table, _row_id), _o in batch.items():
        if table not in TABLES_BY_NAME:
            raise ValueError(f"unknown table {table!r}")
    keys = list(batch)
    first_seen: dict[tuple[str, str], dt.datetime] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for table in {t for t, _ in chunk}:
            ids = [r for t, r in chunk if t == table]
            rows = conn.execute(
                select(OrphanRow.row_id, OrphanRow.first_seen_at).where(
                    OrphanRow.tenant_id == tenant_id,
                    OrphanRow.table_name == table,
                    OrphanRow.row_id.in_(ids),
                )
            )
            first_seen.update({(table, r[0]): r[1] for r in rows})
            conn.execute(
                delete(OrphanRow).where(
                    OrphanRow.tenant_id == tenant_id,
                    OrphanRow.table_name == table,
                    OrphanRow.row_id.in_(ids),
                )
            )
    conn.execute(
        _ORPHANS.insert(),
        [
            {
                "tenant_id": tenant_id,
                "table_name": o.table,
                "row_id": o.row_id[:120],
                "source": o.source,
                "record": dump_record(o.record),
                "waits_for_table": o.waits_for_table,
                "waits_for_id": o.waits_for_id[:120],
                "reason": o.reason,
                "run_id": run_id,
                "first_seen_at": first_seen.get(key, now),
                "last_tried_at": now,
            }
            for key, o in batch.items()
        ],
    )
    return len(batch)


def resolve(conn: Connection, tenant_id: str, table: str, row_ids: Iterable[str]) -> None:
    """These rows loaded whole: they wait no more."""
    ids = list(row_ids)
    for start in range(0, len(ids), 500):
        conn.execute(
            delete(OrphanRow).where(
                OrphanRow.tenant_id == tenant_id,
                OrphanRow.table_name == table,
                OrphanRow.row_id.in_(ids[start : start + 500]),
            )
        )


def has_orphans(engine: Engine, tenant_id: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.scalar(select(OrphanRow.row_id).where(OrphanRow.tenant_id == tenant_id).limit(1))
            is not None
        )


@dataclass(frozen=True)
class Waiting:
    """How many rows of a table wait on rows of another table."""

    table: str
    waits_for: str
    rows: int

    def as_dict(self) -> dict[str, Any]:
        return {"table": self.table, "waits_for": self.waits_for, "rows": self.rows}


def waiting(engine: Engine, tenant_id: str) -> list[Waiting]:
    """Rows waiting, per (table, parent table)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(OrphanRow.table_name, OrphanRow.waits_for_table, func.count())
            .where(OrphanRow.tenant_id == tenant_id)
            .group_by(OrphanRow.table_name, OrphanRow.waits_for_table)
            .order_by(OrphanRow.table_name, OrphanRow.waits_for_table)
        )
        return [Waiting(r[0], r[1], int(r[2])) for r in rows]


def ready(engine: Engine, tenant_id: str) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Waiting records whose parent now exists: source -> table -> records."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with engine.connect() as conn:
        parents = conn.execute(
            select(OrphanRow.waits_for_table).where(OrphanRow.tenant_id == tenant_id).distinct()
        ).scalars()
        for parent in list(parents):
            model = TABLES_BY_NAME[parent]
            rows = conn.execute(
                select(OrphanRow.source, OrphanRow.table_name, OrphanRow.record)
                .join(
                    model,
                    (model.tenant_id == OrphanRow.tenant_id) & (model.id == OrphanRow.waits_for_id),
                )
                .where(OrphanRow.tenant_id == tenant_id, OrphanRow.waits_for_table == parent)
                .order_by(OrphanRow.row_id)
            )
            for source, table, record in rows:
                out.setdefault(source, {}).setdefault(table, []).append(load_record(record))
    return out
