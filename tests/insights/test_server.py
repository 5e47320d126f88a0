"""Insights inside the running API: the lifespan's worker runs the scheduler (a slot due now is
built by the server itself) and publishes finished digests, from any process, to the
``/v1/insights`` feed and the live push, each user seeing only what their role may."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mspilot.api.app import create_app
from mspilot.core.settings import InsightsSettings
from mspilot.db.schema import Client, Tenant
from mspilot.insights import store
from mspilot.insights.scheduler import run_digest
from support.api_world import World, auth, build_world, make_agent, make_ctx, settings_for
from support.insights_world import planted_signals


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("server"))
    yield built
    built.engine.dispose()


def _wait(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_server_schedules_and_feeds_digests(world: World) -> None:
    with world.engine.connect() as conn:
        tz = conn.scalar(select(Tenant.timezone).where(Tenant.id == world.tenant_id))
        clients = conn.execute(
            select(Client.id, Client.name).where(Client.tenant_id == world.tenant_id).limit(6)
        ).all()
    local = dt.datetime.now(ZoneInfo(tz or "UTC"))
    # the tenant's weekly slot is this hour today: due now
    store.configure_delivery(
        world.engine, world.tenant_id, store.utcnow(), weekday=local.weekday(), hour=local.hour
    )
    settings = settings_for(world).model_copy(
        update={"insights": InsightsSettings(poll_s=0.2, grace_hours=2)}
    )
    app = create_app(
        settings, engine=world.engine, agent=make_agent(), context_factory=make_ctx, warm=False
    )
    with TestClient(app) as tc:
        # 1. the server's own scheduler runs the due slot once (no model here: an empty digest)
        slot = f"weekly:{local:%Y-%m-%d}T{local.hour:02d}:00"

        def finished() -> list[store.RunRow]:
            runs = store.runs(world.engine, world.tenant_id)
            return [r for r in runs if r.slot == slot and r.status == "done"]

        _wait(finished)
        (run,) = finished()
        worker = app.state.insights_worker
        assert run.holder == worker.scheduler.holder
        assert worker.scheduler.leader

        # 2. a digest finished elsewhere (another worker, cron) reaches the feed and the stream
        owner, tech = auth(world, "owner"), auth(world, "technician")
        with tc.stream("GET", "/v1/insights/stream", headers=owner) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith(": connected")
            outcome = run_digest(
                world.engine,
                settings,
                world.tenant_id,
                kind="weekly",
                slot="cron:1",
                holder="cron",
                signals=planted_signals([(str(i), str(n)) for i, n in clients]),
            )
            assert outcome is not None and outcome.items == 7
            pushed = []
            for line in lines:
                if line.startswith("data: "):
                    pushed.append(json.loads(line[6:]))
                if len(pushed) == 7:
                    break
        assert {p["kind"] for p in pushed} == {"churn_risk", "revenue_leak", "pricing", "capacity"}
        feed = tc.get("/v1/insights", headers=owner).json()
        assert feed["total"] == 7
        assert feed["items"][0]["data"]["dollars"] == max(p["data"]["dollars"] for p in pushed)
        # a technician is not in any money insight's audience
        assert tc.get("/v1/insights", headers=tech).json()["total"] == 0
