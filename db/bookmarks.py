"""Incremental sync state: one small bookmark per (tenant, source, stream).

A connector writes a stream's bookmark only after the batch it covers has been committed by
the loader, so a run killed in between re-reads that batch (upserts make that harmless) and
never skips one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, delete, select

from mspilot.db.loader import dialect_insert
from mspilot.db.schema import SyncBookmark


def get_bookmark(engine: Engine, tenant_id: str, source: str, stream: str) -> str | None:
    with engine.connect() as conn:
        value: str | None = conn.scalar(
            select(SyncBookmark.value).where(
                SyncBookmark.tenant_id == tenant_id,
                SyncBookmark.source == source,
                SyncBookmark.stream == stream,
            )
        )
    return value


def get_bookmarks(engine: Engine, tenant_id: str, source: str) -> dict[str, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(SyncBookmark.stream, SyncBookmark.value).where(
                SyncBookmark.tenant_id == tenant_id, SyncBookmark.source == source
            )
        )
        return {r[0]: r[1] for r in rows}


def set_bookmark(
    engine: Engine,
    tenant_id: str,
    source: str,
    stream: str,
    value: str | None,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Insert or replace the bookmark (its own transaction)."""
    if value is not None and len(value) > 200:
        raise ValueError(f"bookmark of {source}/{stream} too long ({len(value)} > 200 chars)")
    stamp = now or dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        stmt = dialect_insert(conn, SyncBookmark.__table__).values(  # type: ignore[arg-type]
            tenant_id=tenant_id, source=source, stream=stream, value=value, updated_at=stamp
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "source", "stream"],
            set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
        )
        conn.execute(stmt)


def clear_bookmarks(
    engine: Engine, tenant_id: str, source: str, streams: list[str] | None = None
) -> int:
    """Forget bookmarks (all of a source, or some streams): their next sync reads everything."""
    stmt = delete(SyncBookmark).where(
        SyncBookmark.tenant_id == tenant_id, SyncBookmark.source == source
    )
    if streams is not None:
        stmt = stmt.where(SyncBookmark.stream.in_(streams))
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount or 0
