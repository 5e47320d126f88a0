"""Shared fixtures: a migrated database on SQLite (a temp file) and on PostgreSQL.

``db_url`` / ``engine`` run a test on both backends. PostgreSQL tests get a private schema
(dropped afterwards), so tests never see each other's rows. Set ``MSPILOT_TEST_PG_URL`` to
point at another server; if the server is unreachable the PostgreSQL half fails loudly
unless ``MSPILOT_TEST_SKIP_PG=1``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import Engine, create_engine, text

from mspilot.core import telemetry
from mspilot.db import migrate
from mspilot.db.engine import make_engine

#: the worlds several folders test against (the API's, the connectors' fakes, the demo MSP)
pytest_plugins = [
    "support.fixtures.api",
    "support.fixtures.connectors",
    "support.fixtures.models",
]

PG_URL = os.environ.get("MSPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mspilot.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if os.environ.get("MSPILOT_TEST_SKIP_PG") == "1":
        pytest.skip("MSPILOT_TEST_SKIP_PG=1")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty database URL on each backend."""
    url: str = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty database engine on each backend (SQLite and PostgreSQL)."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated, empty SQLite engine (for tests that need only one backend)."""
    eng = make_engine(sqlite_url)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """Tracing on for one test, every finished span kept in memory (``telemetry.reset()``
    after: the rest of the suite runs with tracing off)."""
    spans = InMemorySpanExporter()
    telemetry.reset()
    telemetry.configure(spans)
    try:
        yield spans
    finally:
        telemetry.reset()
