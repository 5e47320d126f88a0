"""What the console's overview and models pages show, read from the data layer and registry.

- sources: per source, the rows held (live and deleted), when rows last synced, when each
  stream's bookmark last moved and how many rows the loader refused (data-quality issues);
- models: per kind, the champion and the challengers with their registered backtest metrics;
- insights: the top items of the tenant's latest digest finished in the last seven days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from mspilot.db.schema import SYNCED_TABLES, DataQualityIssue, SyncBookmark
from mspilot.db.schema_insights import DigestRun
from mspilot.insights.model import Digest, InsightItem
from mspilot.models.registry import KINDS, ModelVersion, Registry


@dataclass
class SourceFreshness:
    source: str
    rows: int = 0
    deleted: int = 0
    last_synced: dt.datetime | None = None
    bookmark_moved: dt.datetime | None = None
    streams: int = 0
    refused: int = 0
    tables: dict[str, int] = field(default_factory=dict)


def _later(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else max(a, b)


def source_freshness(engine: Engine, tenant_id: str) -> list[SourceFreshness]:
    out: dict[str, SourceFreshness] = {}
    with engine.connect() as conn:
        for model in SYNCED_TABLES:
            table = model.__table__  # type: ignore[attr-defined]
            stmt = (
                select(
                    table.c.source,
                    func.count(),
                    func.count(table.c.deleted_at),
                    func.max(table.c.synced_at),
                )
                .where(table.c.tenant_id == tenant_id)
                .group_by(table.c.source)
            )
            for source, rows, deleted, last in conn.execute(stmt):
                entry = out.setdefault(source, SourceFreshness(source))
                entry.rows += int(rows) - int(deleted)
                entry.deleted += int(deleted)
                entry.tables[table.name] = int(rows) - int(deleted)
                entry.last_synced = _later(entry.last_synced, last)
        marks = select(SyncBookmark.source, func.count(), func.max(SyncBookmark.updated_at)).where(
            SyncBookmark.tenant_id == tenant_id
        )
        for source, streams, moved in conn.execute(marks.group_by(SyncBookmark.source)):
            entry = out.setdefault(source, SourceFreshness(source))
            entry.streams, entry.bookmark_moved = int(streams), moved
        issues = (
            select(DataQualityIssue.source, func.count())
            .where(DataQualityIssue.tenant_id == tenant_id)
            .group_by(DataQualityIssue.source)
        )
        for source, refused in conn.execute(issues):
            out.setdefault(source, SourceFreshness(source)).refused = int(refused)
    return [out[s] for s in sorted(out)]


@dataclass
class ModelSlot:
    kind: str
    primary_metric: str
    champion: ModelVersion | None
    challengers: list[ModelVersion]
    retired: list[ModelVersion]


def model_slots(registry: Registry) -> list[ModelSlot]:
    slots = []
    for kind, (metric, _higher) in KINDS.items():
        versions = registry.versions(kind)
        slots.append(
            ModelSlot(
                kind=kind,
                primary_metric=metric,
                champion=registry.champion(kind),
                challengers=[v for v in versions if v.status == "challenger"][::-1],
                retired=[v for v in versions if v.status == "retired"][::-1],
            )
        )
    return slots


def top_insights(
    engine: Engine, tenant_id: str, role: str, now: dt.datetime, top: int = 5
) -> list[InsightItem]:
    """This week's top items for ``role`` (an item with an audience is shown only to it)."""
    with engine.connect() as conn:
        payload = conn.scalar(
            select(DigestRun.payload)
            .where(
                DigestRun.tenant_id == tenant_id,
                DigestRun.status == "done",
                DigestRun.finished_at >= now - dt.timedelta(days=7),
            )
            .order_by(DigestRun.finished_at.desc(), DigestRun.id.desc())
            .limit(1)
        )
    if not payload:
        return []
    items = [
        i for i in Digest.model_validate_json(payload).items if not i.audience or role in i.audience
    ]
    return sorted(items, key=lambda i: i.dollars, reverse=True)[:top]
