"""Support for the console tests: users with passwords, a model registry with a champion and a
challenger, a digest finished this week, and the app on its own data directory."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mspilot.api.security import hash_password
from mspilot.db.users import UserRow, create_user
from mspilot.insights.model import Digest, InsightItem
from mspilot.insights.store import claim_run, finish_run
from mspilot.models.registry import Registry
from support.api_world import World, make_agent, make_ctx, settings_for

PASSWORD = "correct horse battery"
CONSOLE_ROLES = ("owner", "finance", "service_manager", "technician", "client_user")
INSIGHT_TITLE = "Harbor Dental is likely to leave"


@dataclass
class Console:
    world: World
    data_dir: Path
    users: dict[str, UserRow]


def build_console(world: World, data_dir: Path) -> Console:
    users = {}
    tag = uuid.uuid4().hex[:8]  # several consoles may share the session's world
    for role in CONSOLE_ROLES:
        users[role] = create_user(
            world.engine,
            world.tenant_id,
            f"console-{tag}-{role}@demo.test",
            role,
            client_id=world.clients[0] if role == "client_user" else None,
            password_hash=hash_password(PASSWORD),
        )
    registry = Registry(data_dir, world.tenant_id, mlflow=False)
    registry.register("churn", {"weights": [1]}, metrics={"auc": 0.81, "brier": 0.12})
    registry.register("churn", {"weights": [2]}, metrics={"auc": 0.74, "brier": 0.15})
    now = dt.datetime.now(dt.UTC)
    run = claim_run(world.engine, world.tenant_id, f"manual:{now.isoformat()}", "manual", "t", now)
    assert run is not None
    item = InsightItem(
        key="churn_risk:c1",
        detector="churn_risk",
        title=INSIGHT_TITLE,
        dollars=48_000,
        metric=0.8,
        threshold=0.5,
        audience=["owner", "finance"],
    )
    digest = Digest(
        tenant_id=world.tenant_id,
        tenant_name="Demo",
        kind="manual",
        as_of=now.date(),
        generated_at=now,
        items=[item],
        total_dollars=48_000,
        thresholds={},
    )
    finish_run(world.engine, run, digest, {}, now)
    return Console(world, data_dir, users)


def console_app(console: Console) -> Any:
    from mspilot.api.app import create_app

    settings = settings_for(console.world)
    settings.data_dir = console.data_dir
    return create_app(
        settings,
        engine=console.world.engine,
        agent=make_agent(),
        context_factory=make_ctx,
        warm=False,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)
