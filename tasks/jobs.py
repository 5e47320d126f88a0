"""The work itself: plain functions the engine runs (in a worker or in-process).

Every job is idempotent -- run twice, the database ends the same:

- ``sync``: one tenant's incremental sync of one source (SuperOps, QuickBooks), under a lock
  per (tenant, source); each batch is committed before its bookmark, so a sync killed
  anywhere and run again resumes from its bookmarks (nothing lost, nothing doubled). A sync that
  changed rows asks for a ``rescore`` and a ``reindex`` of the tenant.
- ``rescore``: the tenant's predictions on the new data (churn risks with the champion model),
  recorded with the data version they were computed at; the API drops its prediction and
  response caches of that tenant when it sees a newer one.
- ``train``: retrain every model; the registry's champion/challenger rule decides whether a new
  version serves (a worse backtest stays challenger). One training per tenant at a time.
- ``reindex``: re-embed the tenant's changed ticket resolutions in the knowledge base.
- ``digest``: the tenant's digest for one schedule slot (sent once per slot, whoever runs it).
- ``retention``: the tenant's chat history and audit events older than its retention periods.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from mspilot.connectors.base import Source, Stream, SyncContext
from mspilot.core.clock import Clock
from mspilot.core.errors import UserInputError
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.tasks import store
from mspilot.tasks.settings import TaskSettings

log = get_logger(__name__)

SYNC_SOURCES = ("superops", "quickbooks")
#: Enqueue(job, kwargs, delay_ms) -> message id
Enqueue = Callable[[str, dict[str, Any], int | None], str | None]


class LockBusy(Exception):
    """Another worker holds the lock this job needs (the job is deferred, not failed)."""

    def __init__(self, name: str, holder: str | None) -> None:
        super().__init__(f"{name} is held by {holder or 'another worker'}")
        self.name = name
        self.holder = holder


@dataclass
class JobContext:
    """What a job gets: settings, the database, the clock and a way to enqueue follow-ups."""

    settings: Settings
    tasks: TaskSettings
    engine: Engine
    worker: str
    enqueue: Enqueue
    #: Build a source: (name, tenant_id, http client, clock) -> Source (tests inject fakes)
    source_factory: Callable[..., Source] | None = None
    clock: Clock = field(init=False)

    def __post_init__(self) -> None:
        self.clock = Clock(self.settings.today)

    @contextmanager
    def lock(self, name: str) -> Iterator[Callable[[], None]]:
        """Hold the lease ``name`` while the block runs; yields ``renew()`` for long jobs."""
        ttl = self.tasks.tasks.lock_s
        if not store.acquire_lock(self.engine, name, self.worker, store.utcnow(), ttl):
            raise LockBusy(name, store.lock_holder(self.engine, name))
        last = time.monotonic()

        def renew() -> None:
            nonlocal last
            if time.monotonic() - last > ttl / 4:
                last = time.monotonic()
                if not store.acquire_lock(self.engine, name, self.worker, store.utcnow(), ttl):
                    raise LockBusy(name, store.lock_holder(self.engine, name))

        try:
            yield renew
        finally:
            store.release_lock(self.engine, name, self.worker)


# ---- sync -------------------------------------------------------------------------------------


class StreamPrefix(Source):
    """A source's streams up to and including the last one named (its parents and reference
    streams run first, incrementally), for a webhook that names what changed."""

    name = ""

    def __init__(self, inner: Source, wanted: set[str]) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.wanted = wanted

    def streams(self) -> list[Stream]:
        streams = self.inner.streams()
        names = [s.name for s in streams]
        unknown = self.wanted - set(names)
        if unknown:
            raise UserInputError(
                f"{self.inner.name} has no stream(s) {sorted(unknown)}; streams: {names}"
            )
        last = max(names.index(n) for n in self.wanted)
        return streams[: last + 1]

    def finish(self, ctx: SyncContext) -> dict[str, int]:
        return self.inner.finish(ctx)

    def close(self) -> None:
        self.inner.close()

    @property
    def requests(self) -> int:
        return self.inner.requests


def sync(
    ctx: JobContext,
    tenant_id: str,
    source: str,
    streams: list[str] | None = None,
    full: bool = False,
    trigger: str = "schedule",
) -> dict[str, Any]:
    """Incremental sync of ``source`` for ``tenant_id`` (only ``streams`` and what they need,
    when a webhook named them)."""
    from mspilot.connectors.http import make_http_client
    from mspilot.connectors.runner import run_source
    from mspilot.tasks.sources import build_tenant_source

    if source not in SYNC_SOURCES:
        raise UserInputError(f"unknown source {source!r}; choose one of {', '.join(SYNC_SOURCES)}")
    with ctx.lock(f"sync:{tenant_id}:{source}") as renew:
        timeout = (
            ctx.settings.quickbooks.timeout_s
            if source == "quickbooks"
            else ctx.settings.superops.timeout_s
        )
        with make_http_client(timeout) as http:
            factory = ctx.source_factory or build_tenant_source
            src = factory(source, ctx.settings, ctx.tasks, ctx.engine, tenant_id, http, ctx.clock)
            if streams:
                src = StreamPrefix(src, set(streams))
            try:
                sync_ctx = SyncContext(
                    ctx.engine,
                    tenant_id,
                    now=ctx.clock.now,
                    force_full=full,
                    progress=lambda _stream, _done, _total: renew(),
                )
                summary = run_source(src, sync_ctx)
            finally:
                src.close()
    totals = summary.totals()
    changed = totals["inserted"] + totals["updated"] + totals["deleted"]
    follow: list[str] = []
    if changed:
        for job in ("rescore", "reindex"):
            ctx.enqueue(job, {"tenant_id": tenant_id}, None)
            follow.append(job)
    return {
        "tenant_id": tenant_id,
        "source": source,
        "trigger": trigger,
        "records": summary.records,
        "changed": changed,
        "requests": summary.requests,
        "seconds": summary.seconds,
        "streams": {s.stream: s.records for s in summary.streams},
        "issues": summary.issues,
        "follow_ups": follow,
    }


# ---- rescore ----------------------------------------------------------------------------------


def version_tag(engine: Engine, tenant_id: str) -> str:
    """A short fingerprint of the tenant's data version (``models.data.data_version``)."""
    from mspilot.models.data import data_version

    raw = repr(data_version(engine, tenant_id)).encode()
    return hashlib.blake2b(raw, digest_size=8).hexdigest()


def rescore(ctx: JobContext, tenant_id: str) -> dict[str, Any]:
    """Score the tenant's clients with the champion on the current data (warming this
    process's feature cache) and record the data version the scores belong to: API servers
    drop their prediction and response caches of the tenant when the version moves."""
    from mspilot.models.serving import ModelNotTrained, churn_risks

    tag = version_tag(ctx.engine, tenant_id)
    scored = 0
    note = ""
    try:
        rows = churn_risks(ctx.engine, tenant_id, ctx.clock.today(), ctx.settings.data_dir)
        scored = len(rows)
    except ModelNotTrained as exc:
        note = str(exc)
    return {"tenant_id": tenant_id, "data_version": tag, "scored": scored, "note": note}


# ---- train ------------------------------------------------------------------------------------


def train(ctx: JobContext, tenant_id: str) -> dict[str, Any]:
    """Nightly retraining; the registry keeps the better of champion and challenger."""
    from mspilot.models.training import train_all

    with ctx.lock(f"train:{tenant_id}"):
        report = train_all(
            ctx.engine, tenant_id, Path(ctx.settings.data_dir), ctx.clock, mlflow=False
        )
    ctx.enqueue("rescore", {"tenant_id": tenant_id}, None)
    return {
        "tenant_id": tenant_id,
        "versions": {
            k: {"version": v.version, "status": v.status, "reason": v.reason}
            for k, v in report.versions.items()
        },
        "seconds": round(report.timings.get("total", 0.0), 2),
    }


# ---- knowledge base ---------------------------------------------------------------------------


def reindex(ctx: JobContext, tenant_id: str) -> dict[str, Any]:
    """Re-embed the tenant's new or changed ticket resolutions (one indexer at a time: the
    knowledge base is one store on disk)."""
    from mspilot.tools.knowledge import KnowledgeBase

    with ctx.lock("kb-index"):
        ctx.settings.ensure_data_dir()
        stats = KnowledgeBase(ctx.settings.data_dir).index_tickets(ctx.engine, tenant_id)
    return {"tenant_id": tenant_id, **stats.as_dict()}


# ---- digest -----------------------------------------------------------------------------------


def digest(
    ctx: JobContext, tenant_id: str, kind: str = "weekly", slot: str | None = None
) -> dict[str, Any]:
    """The tenant's digest for ``slot`` (``digest_runs`` makes it go out once)."""
    from mspilot.insights.scheduler import run_digest

    if kind not in ("weekly", "daily", "manual"):
        raise UserInputError(f"unknown digest kind {kind!r}")
    slot = slot or f"manual:{store.utcnow():%Y-%m-%dT%H:%M:%S}"
    outcome = run_digest(
        ctx.engine,
        ctx.settings,
        tenant_id,
        kind=kind,  # type: ignore[arg-type]
        slot=slot,
        holder=ctx.worker[:80],
    )
    if outcome is None:
        return {"tenant_id": tenant_id, "slot": slot, "status": "skipped", "note": "already sent"}
    if outcome.error:
        raise RuntimeError(outcome.error)
    return {
        "tenant_id": tenant_id,
        "slot": slot,
        "items": outcome.items,
        "dollars": round(outcome.dollars, 2),
        "deliveries": outcome.deliveries,
    }


# ---- privacy ----------------------------------------------------------------------------------


def retention(ctx: JobContext, tenant_id: str) -> dict[str, Any]:
    """Delete the tenant's chat threads and audit events older than its stored retention
    periods (``mspilot privacy retention``); nothing when it has none."""
    from mspilot.agent.memory import close_checkpointer, make_checkpointer
    from mspilot.agent.privacy import enforce_retention
    from mspilot.db.privacy import get_retention

    policy = get_retention(ctx.engine, tenant_id)
    s = ctx.settings
    saver = make_checkpointer(s.resolved_database_url, s.data_dir) if policy.chat_days else None
    try:
        run = enforce_retention(ctx.engine, saver, tenant_id, policy, apply=True)
    finally:
        if saver is not None:
            close_checkpointer(saver)
    return asdict(run)


#: job name -> function(ctx, **kwargs)
JOBS: dict[str, Callable[..., dict[str, Any]]] = {
    "sync": sync,
    "rescore": rescore,
    "train": train,
    "reindex": reindex,
    "digest": digest,
    "retention": retention,
}


def job_key(job: str, kwargs: dict[str, Any]) -> str:
    """The identity of a task (what its lock and its last-run row are keyed by)."""
    tenant = kwargs.get("tenant_id") or "*"
    if job == "sync":
        return f"sync:{tenant}:{kwargs.get('source')}"
    if job == "digest":
        return f"digest:{tenant}:{kwargs.get('kind', 'weekly')}"
    return f"{job}:{tenant}"


def pipeline_kwargs(tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The nightly pipeline of one tenant, in order (used by ``jobs run pipeline``)."""
    return [
        ("sync", {"tenant_id": tenant_id, "source": "superops"}),
        ("sync", {"tenant_id": tenant_id, "source": "quickbooks"}),
        ("train", {"tenant_id": tenant_id}),
        ("digest", {"tenant_id": tenant_id, "kind": "weekly"}),
    ]


def now_utc() -> dt.datetime:
    return store.utcnow()
