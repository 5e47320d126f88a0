"""Fixtures for the API tests (helpers in ``api_support``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from api_support import World, auth, build_world, make_app


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    built = build_world(tmp_path_factory.mktemp("api"))
    yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(make_app(world, demo_portal=True)) as tc:
        yield tc


@pytest.fixture(scope="session")
def headers(world: World) -> dict[str, dict[str, str]]:
    return {who: auth(world, who) for who in world.users}
