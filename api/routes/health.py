"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from mspilot.api.deps import StateDep
from mspilot.db import migrate

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str
    uptime_s: float


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, Any]


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
async def healthz(state: StateDep) -> Health:
    return Health(status="ok", uptime_s=round(time.time() - state.started_at, 1))


def _database(state: Any) -> dict[str, Any]:
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.is_current(state.engine)
        return {"ok": current, "schema": "current" if current else "migrations pending"}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database reachable and migrated, agent and models loaded",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(state: StateDep) -> JSONResponse:
    db = await asyncio.to_thread(_database, state)
    # counts only: this endpoint is unauthenticated, so it names no tenant
    statuses = [status for kinds in state.models.values() for status in kinds.values()]
    failed = sum(s.startswith("failed") for s in statuses)
    checks = {
        "database": db,
        "agent": {"ok": state.agent is not None, "error": state.agent_error},
        "models": {
            "ok": not failed,
            "tenants": len(state.models),
            "loaded": sum(s.startswith("v") for s in statuses),
            "not_trained": sum(s == "not trained" for s in statuses),
            "failed": failed,
        },
        "rate_limiter": {"ok": True, "backend": state.limiter.backend},
    }
    for name, check in getattr(state, "readiness_checks", {}).items():  # e.g. the task broker
        checks[name] = await asyncio.to_thread(check)
    ready = all(c["ok"] for c in checks.values())
    payload = Readiness(ready=ready, checks=checks)
    return JSONResponse(payload.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(state: StateDep) -> Response:
    return Response(state.metrics.render(), media_type="text/plain; version=0.0.4")
