"""Per-tenant maps of where a source keeps a canonical fact (``source_field_maps``): e.g. the
SuperOps client custom field holding the churn date. ``connectors.superops.fieldmap`` decides
them; this module stores them. A person's choice (origin ``manual``) is never overwritten by
discovery."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, select

from mspilot.db.schema_connectors import SourceFieldMap


@dataclass(frozen=True)
class FieldMapping:
    entity: str  # client | ticket
    fact: str  # churned_on, seats, ...
    column: str | None  # the source's field; None: the account keeps no such field
    label: str | None
    origin: str  # manual | discovered | default


def load_field_maps(engine: Engine, tenant_id: str, source: str) -> list[FieldMapping]:
    m = SourceFieldMap
    with engine.connect() as conn:
        rows = conn.execute(
            select(m.entity, m.field, m.column_name, m.label, m.origin)
            .where(m.tenant_id == tenant_id, m.source == source)
            .order_by(m.entity, m.field)
        )
        return [FieldMapping(*r) for r in rows]


def save_field_maps(
    engine: Engine,
    tenant_id: str,
    source: str,
    maps: Iterable[FieldMapping],
    *,
    now: dt.datetime,
) -> int:
    """Store maps; a discovered or default map never replaces a manual one. Returns rows
    written."""
    m = SourceFieldMap
    wanted = {(x.entity, x.fact): x for x in maps}
    if not wanted:
        return 0
    written = 0
    with engine.begin() as conn:
        manual = {
            (r[0], r[1])
            for r in conn.execute(
                select(m.entity, m.field).where(
                    m.tenant_id == tenant_id, m.source == source, m.origin == "manual"
                )
            )
        }
        for (entity, fact), x in wanted.items():
            if (entity, fact) in manual and x.origin != "manual":
                continue
            conn.execute(
                delete(m).where(
                    m.tenant_id == tenant_id,
                    m.source == source,
                    m.entity == entity,
                    m.field == fact,
                )
            )
            conn.execute(
                SourceFieldMap.__table__.insert().values(  # type: ignore[attr-defined]
                    tenant_id=tenant_id,
                    source=source,
                    entity=entity,
                    field=fact,
                    column_name=x.column,
                    label=x.label,
                    origin=x.origin,
                    updated_at=now,
                )
            )
            written += 1
    return written


def clear_manual(engine: Engine, tenant_id: str, source: str, entity: str, fact: str) -> bool:
    """Forget a person's choice (discovery decides again at the next sync)."""
    m = SourceFieldMap
    with engine.begin() as conn:
        res = conn.execute(
            delete(m).where(
                m.tenant_id == tenant_id,
                m.source == source,
                m.entity == entity,
                m.field == fact,
                m.origin == "manual",
            )
        )
        return bool(res.rowcount)
