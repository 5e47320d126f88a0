"""Runs a source: its check first, then every stream, every batch committed by the loader and
then its bookmark; at the end, derived values get their final evidence and rows waiting for a
parent are re-tried.

A stream the credentials may not read is skipped with a warning unless the product cannot work
without it (``Stream.required``: clients, invoices), which fails the sync naming the fix. A run
with skipped streams, derived values, refused or waiting rows ends "completed with warnings".
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from mspilot.connectors.base import (
    Batch,
    Skipped,
    Source,
    Stream,
    SyncContext,
    dump_state,
    load_state,
)
from mspilot.connectors.checks import CheckReport
from mspilot.connectors.errors import SourceAuthError, StreamForbidden
from mspilot.core.logging import get_logger
from mspilot.db import orphans
from mspilot.db.bookmarks import get_bookmark, set_bookmark
from mspilot.db.entity_map import patch_rows
from mspilot.db.loader import WARNING, Loader, QualityIssue, TableResult
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
    #: rows refused (data_quality_issues, severity error)
    issues: int = 0
    #: rows loaded with a derived value, streams skipped (severity warning)
    warnings: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: rows of the tenant waiting for a parent, per (table, parent table), after this run
    waiting: list[dict[str, Any]] = field(default_factory=list)
    #: rows that were waiting and loaded in this run
    unblocked: int = 0
    check: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> int:
        return sum(s.records for s in self.streams)

    @property
    def status(self) -> str:
        if self.issues or self.warnings or self.skipped or self.waiting:
            return "completed with warnings"
        return "completed"

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
        data["status"] = self.status
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
    if batch.issues:
        loader.record_issues(batch.issues)
        counts["rejected"] += len(batch.issues)
    return counts


def _preflight(source: Source, ctx: SyncContext) -> tuple[CheckReport | None, set[str]]:
    """The same check ``mspilot sources check`` prints; returns it and the streams to skip."""
    report = source.check(ctx)
    if report is None:
        return None, set()
    if report.error is not None:
        raise report.error
    if report.blocking:
        names = ", ".join(sorted({s.stream for s in report.blocking}))
        raise SourceAuthError(
            f"{source.name}: the credentials may not read {names}, without which mspilot "
            f"cannot work ({report.blocking[0].detail}); run `mspilot sources check --source "
            f"{source.name}` for every stream's permission"
        )
    skip = set()
    for check in report.skipped:
        if check.partition:  # the stream reads its other partitions and records the skip
            continue
        skip.add(check.stream)
        ctx.skipped.append(Skipped(check.stream, "", check.detail))
    return report, skip


def _read_stream(
    loader: Loader, ctx: SyncContext, source: Source, stream: Stream, summary: StreamSummary
) -> None:
    state = (
        {}
        if ctx.force_full
        else load_state(get_bookmark(ctx.engine, ctx.tenant_id, source.name, stream.name))
    )
    try:
        for batch in stream.read(ctx, state):
            summary.add(commit_batch(loader, ctx, batch))
            summary.records += batch.records
            summary.batches += 1
            if batch.state is not None:
                summary.mode = str(batch.state.get("mode", ""))
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
    except StreamForbidden as exc:
        if stream.required:
            raise
        ctx.skipped.append(Skipped(stream.name, "", str(exc)))
        summary.mode = "skipped"


def retry_orphans(ctx: SyncContext) -> int:
    """Load rows whose parent has arrived (in this run or an earlier one), under their own
    source; chains (a time entry waiting on a ticket waiting on a client) unwind in a few
    passes. Returns the rows that loaded whole."""
    loaded = 0
    for _ in range(len(TABLES_BY_NAME)):
        ready = orphans.ready(ctx.engine, ctx.tenant_id)
        if not ready:
            break
        before = sum(w.rows for w in orphans.waiting(ctx.engine, ctx.tenant_id))
        for source, tables in ready.items():
            loader = Loader(ctx.engine, ctx.tenant_id, source, run_id=ctx.run_id, now=ctx.now)
            loader.load_all(tables)
        after = sum(w.rows for w in orphans.waiting(ctx.engine, ctx.tenant_id))
        if after >= before:
            break
        loaded += before - after
    return loaded


def run_source(source: Source, ctx: SyncContext) -> SyncSummary:
    """Sync every stream of ``source`` into ``ctx.engine`` for ``ctx.tenant_id``."""
    started = time.perf_counter()
    loader = Loader(ctx.engine, ctx.tenant_id, source.name, run_id=ctx.run_id, now=ctx.now)
    summary = SyncSummary(source.name, ctx.tenant_id, ctx.run_id)
    requests_before = source.requests
    check, skip = _preflight(source, ctx)
    if check is not None:
        summary.check = check.as_dict()
    for stream in source.streams():
        stream_summary = StreamSummary(stream.name)
        summary.streams.append(stream_summary)
        if stream.name in skip:
            stream_summary.mode = "skipped"
            continue
        _read_stream(loader, ctx, source, stream, stream_summary)
        log.info("stream synced", source=source.name, **asdict(stream_summary))
    summary.reconciled = source.finish(ctx)
    loader.rederive()
    summary.unblocked = retry_orphans(ctx)
    if ctx.skipped:
        loader.record_issues(
            [
                QualityIssue(
                    f"stream:{s.stream}", s.partition or "*", f"skipped: {s.reason}", WARNING
                )
                for s in ctx.skipped
            ]
        )
        for s in ctx.skipped:
            log.warning("stream skipped", source=source.name, **s.as_dict())
    summary.skipped = [s.as_dict() for s in ctx.skipped]
    summary.requests = source.requests - requests_before
    summary.issues = len(loader.report.errors)
    summary.warnings = len({(i.table, i.key) for i in loader.report.warnings})
    summary.waiting = [w.as_dict() for w in orphans.waiting(ctx.engine, ctx.tenant_id)]
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary
