"""Repository functions for the audit trail (``audit_events``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, insert, select

from mspilot.db.schema_api import AuditEvent


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

    def values(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "user_id": self.user_id,
            "role": self.role,
            "client_id": self.client_id,
            "request_id": self.request_id,
            "at": self.at,
            "action": self.action,
            "resource": self.resource[:200],
            "question": self.question,
            "tools": json.dumps(self.tools, default=str) if self.tools else None,
            "rows_out": self.rows_out,
            "fields_out": json.dumps(list(self.fields_out)) if self.fields_out else None,
            "status": self.status,
        }


def record_events(engine: Engine, records: Sequence[AuditRecord]) -> None:
    """Write audit records in one transaction."""
    if not records:
        return
    with engine.begin() as conn:
        conn.execute(insert(AuditEvent), [r.values() for r in records])


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
