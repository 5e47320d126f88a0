"""Runs a source: every stream, every batch committed by the loader, then its bookmark."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mspilot.connectors.base import Batch, Source, SyncContext, dump_state, load_state
from mspilot.core.logging import get_logger
from mspilot.db.bookmarks import get_bookmark, set_bookmark
from mspilot.db.entity_map import patch_rows
from mspilot.db.loader import Loader, TableResult
from mspilot.db.schema import TABLES_BY_NAME

log = get_logger("mspilot.connectors.runner")
_COUNTS = ("inserted", "updated", "unchanged", "rejected", "deleted")


@dataclass
class StreamSummary:
    stream: str
    records: int = 0
    batches: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    mode: str = ""

    def add(self, result: TableResult | dict[str, int]) -> None:
        values = result if isinstance(result, dict) else result.as_dict()
        for key in _COUNTS:
            setattr(self, key, getattr(self, key) + int(values.get(key, 0)))


@dataclass
class SyncSummary:
    source: str
    tenant_id: str
    run_id: str
    streams: list[StreamSummary] = field(default_factory=list)
    reconciled: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    seconds: float = 0.0
    issues: int = 0

    @property
    def records(self) -> int:
        return sum(s.records for s in self.streams)

    def totals(self) -> dict[str, int]:
        out = dict.fromkeys(_COUNTS, 0)
        for s in self.streams:
            for key in _COUNTS:
                out[key] += getattr(s, key)
        return out

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["records"] = self.records
        data["totals"] = self.totals()
        return data


def _snapshot(loader: Loader) -> dict[str, dict[str, int]]:
    return {name: {k: getattr(r, k) for k in _COUNTS} for name, r in loader.report.tables.items()}


def _diff(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> dict[str, int]:
    out = dict.fromkeys(_COUNTS, 0)
    for table, counts in after.items():
        old = before.get(table, {})
        for key in _COUNTS:
            out[key] += counts[key] - old.get(key, 0)
    return out


def commit_batch(loader: Loader, ctx: SyncContext, batch: Batch) -> dict[str, int]:
    """Load a batch's rows (parents first), apply patches and deletions; returns counts."""
    before = _snapshot(loader)
    unknown = set(batch.rows) - set(TABLES_BY_NAME)
    if unknown:
        raise ValueError(f"batch names unknown tables {sorted(unknown)}")
    for table in TABLES_BY_NAME:
        rows = batch.rows.get(table)
        if rows:
            loader.load(table, rows)
    counts = _diff(before, _snapshot(loader))
    for table in TABLES_BY_NAME:
        patches = batch.patches.get(table)
        if patches:
            for result in patch_rows(
                ctx.engine, ctx.tenant_id, table, patches, run_id=ctx.run_id, now=ctx.now()
            ).values():
                for key in _COUNTS:
                    counts[key] += getattr(result, key)
    for table in reversed(TABLES_BY_NAME):
        ids = batch.deletes.get(table)
        if ids:
            counts["deleted"] += loader.mark_deleted(table, ids, when=ctx.now())
    return counts


def run_source(source: Source, ctx: SyncContext) -> SyncSummary:
    """Sync every stream of ``source`` into ``ctx.engine`` for ``ctx.tenant_id``."""
    started = time.perf_counter()
    loader = Loader(ctx.engine, ctx.tenant_id, source.name, run_id=ctx.run_id, now=ctx.now)
    summary = SyncSummary(source.name, ctx.tenant_id, ctx.run_id)
    requests_before = source.requests
    for stream in source.streams():
        state = (
            {}
            if ctx.force_full
            else load_state(get_bookmark(ctx.engine, ctx.tenant_id, source.name, stream.name))
        )
        stream_summary = StreamSummary(stream.name)
        summary.streams.append(stream_summary)
        for batch in stream.read(ctx, state):
            stream_summary.add(commit_batch(loader, ctx, batch))
            stream_summary.records += batch.records
            stream_summary.batches += 1
            if batch.state is not None:
                stream_summary.mode = str(batch.state.get("mode", ""))
                set_bookmark(
                    ctx.engine,
                    ctx.tenant_id,
                    source.name,
                    stream.name,
                    dump_state(batch.state),
                    now=ctx.now(),
                )
            if ctx.progress:
                ctx.progress(stream.name, batch.records, batch.total)
        log.info("stream synced", source=source.name, **asdict(stream_summary))
    summary.reconciled = source.finish(ctx)
    summary.requests = source.requests - requests_before
    summary.issues = len(loader.report.issues)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
