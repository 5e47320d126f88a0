"""Fixtures for the Slack app tests (helpers in ``slack_support``): a small demo tenant (the API
tests' world) whose users are mapped to Slack users, the fake Slack Web API, the app."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mspilot.api.app import create_app
from mspilot.insights import store
from support.api_world import World, build_world, make_ctx
from support.fakes.slack_api import FakeSlack
from support.slack_app import SLACK_USERS, TEAM, make_agent, slack_settings


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("slack"))
    for uid, role in SLACK_USERS.items():
        store.link_slack_user(
            built.engine,
            TEAM,
            uid,
            built.tenant_id,
            built.users[role].id,
            linked_by="manual",
            now=store.utcnow(),
        )
    store.configure_delivery(
        built.engine,
        built.tenant_id,
        store.utcnow(),
        slack_team_id=TEAM,
        slack_channel="CDIGEST",
    )
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="module")
def client(world: World, slack: FakeSlack) -> Iterator[TestClient]:
    app = create_app(
        slack_settings(world, slack),
        engine=world.engine,
        agent=make_agent(),
        context_factory=make_ctx,
        warm=False,
    )
    with TestClient(app) as tc:
        yield tc
