"""Vendor webhooks in (``/v1/webhooks/quickbooks``, ``/v1/webhooks/superops/{tenant}``) and the
task engine's place in the server: its metrics in ``/metrics``, the broker in ``/readyz``, and
the follower that drops a tenant's cached predictions once a rescore saw new data.

A webhook answers at once: it is verified, recorded (a replay is refused) and turned into
sync tasks on the broker (without one, worker threads in this process run them).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from mspilot.api.deps import StateDep
from mspilot.api.errors import ApiError
from mspilot.api.state import AppState
from mspilot.core.logging import get_logger
from mspilot.tasks import store
from mspilot.tasks.engine import TaskEngine
from mspilot.tasks.monitor import Monitor, TaskMetrics, VersionFollower
from mspilot.tasks.settings import TaskSettings
from mspilot.tasks.webhooks import (
    Changes,
    WebhookRefused,
    body_digest,
    parse_quickbooks,
    parse_superops,
    verify_intuit,
)

log = get_logger(__name__)
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    409: "replayed",
    413: "too_large",
}


class Accepted(BaseModel):
    accepted: bool
    enqueued: list[dict[str, Any]]
    ignored: list[str]


def _engine(state: AppState) -> TaskEngine:
    engine: TaskEngine | None = getattr(state, "task_engine", None)
    if engine is None:
        raise ApiError(503, "unavailable", "the task engine is not running")
    return engine


def _invalidate(state: AppState, tenant_id: str) -> None:
    """Drop the tenant's cached predictions and every cached response (new data)."""
    for key in [k for k in list(state.results) if len(k) > 1 and k[1] == tenant_id]:
        state.results.pop(key, None)
    state.responses.clear()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState | None = getattr(app.state, "mspilot", None)
    if state is None:
        yield
        return
    engine = TaskEngine(state.settings, TaskSettings(), engine=state.engine)
    metrics = TaskMetrics(engine)
    state.metrics.registry.register(metrics)
    monitor = Monitor(metrics, VersionFollower(state.engine, lambda t: _invalidate(state, t)))
    state.task_engine = engine  # type: ignore[attr-defined]
    state.readiness_checks = {"broker": engine.ping}  # type: ignore[attr-defined]
    monitor.start()
    try:
        yield
    finally:
        monitor.stop()
        state.metrics.registry.unregister(metrics)
        await asyncio.to_thread(engine.close)


router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], lifespan=lifespan)


async def _raw(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise WebhookRefused(413, f"the body exceeds {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _enqueue(
    engine: TaskEngine, source: str, digest: str, changes: Changes, tenants: dict[str, str]
) -> list[dict[str, Any]]:
    """Record the delivery (refusing a replay), then one sync per tenant of the named streams."""
    jobs: list[dict[str, Any]] = [
        {"tenant_id": tenants[acc], "source": source, "streams": sorted(streams)}
        for acc, streams in sorted(changes.streams.items())
        if acc in tenants
    ]
    first_tenant = str(jobs[0]["tenant_id"]) if jobs else None
    if not store.record_webhook(engine.db, source, digest, first_tenant, jobs, store.utcnow()):
        raise WebhookRefused(409, "this delivery was accepted before (a replay)")
    try:
        if engine.embedded and jobs:
            engine.start_local_worker(1)
        for job in jobs:
            job["message_id"] = engine.enqueue("sync", {**job, "trigger": "webhook"})
    except Exception:
        store.forget_webhook(engine.db, source, digest)  # the vendor's retry must get through
        raise
    return jobs


def _refused(exc: WebhookRefused) -> ApiError:
    return ApiError(exc.status, _CODES.get(exc.status, "refused"), exc.detail)


@router.post(
    "/quickbooks",
    response_model=Accepted,
    summary="QuickBooks Online webhook: signed by Intuit, enqueues CDC syncs",
    responses={401: {"description": "Bad or missing intuit-signature"}},
)
async def quickbooks(request: Request, state: StateDep) -> Accepted:
    engine = _engine(state)
    cfg = engine.tasks.webhooks
    if cfg.quickbooks_verifier_token is None:
        raise ApiError(404, "not_found", "QuickBooks webhooks are not configured")
    token = cfg.quickbooks_verifier_token.get_secret_value()
    try:
        raw = await _raw(request, cfg.max_body_bytes)
        verify_intuit(raw, request.headers.get("intuit-signature"), token)
        changes = parse_quickbooks(raw)

        def accept() -> list[dict[str, Any]]:
            tenants = {
                realm: tid
                for realm in changes.streams
                if (tid := store.tenant_for_account(engine.db, "quickbooks", realm))
            }
            return _enqueue(engine, "quickbooks", body_digest(raw), changes, tenants)

        jobs = await asyncio.to_thread(accept)
    except WebhookRefused as exc:
        raise _refused(exc) from None
    return Accepted(accepted=True, enqueued=jobs, ignored=changes.ignored)


@router.post(
    "/superops/{tenant_id}",
    response_model=Accepted,
    summary="SuperOps webhook: the tenant's secret, enqueues an incremental sync",
    responses={401: {"description": "Bad secret or stale timestamp"}},
)
async def superops(tenant_id: str, request: Request, state: StateDep) -> Accepted:
    engine = _engine(state)
    cfg = engine.tasks.webhooks
    secret = request.headers.get("x-mspilot-webhook-secret") or ""
    try:
        raw = await _raw(request, cfg.max_body_bytes)
        known = await asyncio.to_thread(
            store.check_webhook_secret, engine.db, tenant_id[:40], "superops", secret
        )
        if not known:
            raise WebhookRefused(401, "unknown tenant or bad webhook secret")
        changes, _event = parse_superops(raw, tenant_id, store.utcnow(), cfg.replay_window_s)
        jobs = await asyncio.to_thread(
            _enqueue,
            engine,
            "superops",
            body_digest(tenant_id.encode() + b"\n" + raw),
            changes,
            {tenant_id: tenant_id},
        )
    except WebhookRefused as exc:
        raise _refused(exc) from None
    return Accepted(accepted=True, enqueued=jobs, ignored=changes.ignored)
