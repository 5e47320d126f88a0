"""Repository functions for the audit trail (``audit_events``).

A record travels as an :data:`AuditRow`: a flat tuple of strings, numbers, ``None`` and one
datetime, in :data:`ROW_COLUMNS` order, with the JSON columns already encoded. Such tuples hold
no containers, so the cyclic garbage collector stops tracking them and a backlog of them costs a
busy server no collection time. :func:`record_rows` writes any number of them with one
statement: the rows go to the database as one JSON array and are unpacked there (SQLite
``json_each``, PostgreSQL ``jsonb_array_elements``), so the Python side spends one ``json.dumps``
per batch instead of parameter handling per row and value.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, TextClause, select, text

from mspilot.db.schema import sqlite_datetime
from mspilot.db.schema_api import AuditEvent

#: The columns of an :data:`AuditRow`, in order.
ROW_COLUMNS = (
    "tenant_id",
    "user_id",
    "role",
    "client_id",
    "request_id",
    "at",
    "action",
    "resource",
    "question",
    "tools",
    "rows_out",
    "fields_out",
    "status",
)
#: One audit event as written: see :data:`ROW_COLUMNS` (``at`` is a timezone-aware datetime).
AuditRow = tuple[Any, ...]
_USER, _REQUEST, _AT = 1, 4, 5


@dataclass
class AuditRecord:
    """What one request did: who, in which scope, what was asked, what data left."""

    tenant_id: str
    role: str
    action: str
    resource: str
    status: int
    user_id: str | None = None
    client_id: str | None = None
    request_id: str | None = None
    question: str | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    rows_out: int = 0
    fields_out: Sequence[str] = ()
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def row(self) -> AuditRow:
        """This record as it is written (see :data:`ROW_COLUMNS`)."""
        return (
            self.tenant_id,
            self.user_id,
            self.role,
            self.client_id,
            self.request_id,
            self.at,
            self.action,
            self.resource[:200],
            self.question,
            json.dumps(self.tools, default=str) if self.tools else None,
            self.rows_out,
            json.dumps(list(self.fields_out)) if self.fields_out else None,
            self.status,
        )


def for_caller(row: AuditRow, user_id: str | None, request_id: str | None) -> AuditRow:
    """``row`` again, as written for another request: its caller, request id and time."""
    return (
        *row[:_USER],
        user_id,
        *row[_USER + 1 : _REQUEST],
        request_id,
        dt.datetime.now(dt.UTC),
        *row[_AT + 1 :],
    )


@functools.cache
def _insert_from_json(dialect: str) -> TextClause:
    """``INSERT .. SELECT`` unpacking a JSON array of rows (bound as ``:rows``)."""
    columns = ", ".join(ROW_COLUMNS)
    table = AuditEvent.__tablename__
    if dialect == "postgresql":
        casts = {"at": "timestamptz", "rows_out": "integer", "status": "integer"}
        values = ", ".join(
            f"CAST(e.value ->> {i} AS {casts.get(name, 'text')})"
            for i, name in enumerate(ROW_COLUMNS)
        )
        source = "jsonb_array_elements(CAST(:rows AS jsonb)) AS e"
    else:  # SQLite: json_extract gives text, integers and NULL as they were encoded
        values = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(ROW_COLUMNS)))
        source = "json_each(:rows)"
    return text(f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source}")


def _encode(rows: Sequence[AuditRow], dialect: str) -> str:
    """The rows as one JSON array; times as the column stores them (SQLite: naive UTC text in
    SQLAlchemy's format, so they sort and read back like rows written through the ORM)."""

    at = _iso if dialect == "postgresql" else sqlite_datetime
    return json.dumps([(*r[:_AT], at(r[_AT]), *r[_AT + 1 :]) for r in rows])


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must be timezone-aware")
    return value.isoformat()


def record_rows(engine: Engine, rows: Sequence[AuditRow]) -> None:
    """Write audit rows in one transaction and one statement."""
    if not rows:
        return
    dialect = engine.dialect.name
    with engine.begin() as conn:
        conn.execute(_insert_from_json(dialect), {"rows": _encode(rows, dialect)})


def record_events(engine: Engine, records: Sequence[AuditRecord]) -> None:
    """Write audit records in one transaction."""
    record_rows(engine, [r.row() for r in records])


def recent_events(engine: Engine, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The tenant's latest audit events, newest first, with JSON columns decoded."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditEvent.__table__)
            .where(AuditEvent.tenant_id == tenant_id)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(limit)
        ).mappings()
        out = []
        for row in rows:
            item = dict(row)
            item["tools"] = json.loads(item["tools"]) if item["tools"] else []
            item["fields_out"] = json.loads(item["fields_out"]) if item["fields_out"] else []
            out.append(item)
    return out
