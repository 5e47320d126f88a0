"""A sync killed mid-way (SIGKILL, a real process) and run again ends with exactly the same
database as an uninterrupted sync: nothing lost, nothing doubled."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from mspilot.connectors.demo_sync import serve_fakes
from mspilot.connectors.fakes.common import FakeClock
from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.db.engine import make_engine

MSPILOT = str(Path(sys.executable).parent / "mspilot")


def _env(vendors: Any, db_url: str, as_of: dt.date) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSPILOT_")}
    env |= vendors.env() | {
        "MSPILOT_DATABASE_URL": db_url,
        "MSPILOT_TODAY": as_of.isoformat(),
        "MSPILOT_SECRET_KEY": "kill-test-secret-key-0123456789",
        "MSPILOT_SUPEROPS__PAGE_SIZE": "20",
        "MSPILOT_QUICKBOOKS__PAGE_SIZE": "10",
        "MSPILOT_SUPEROPS__REQUESTS_PER_MINUTE": "100000",
        "MSPILOT_QUICKBOOKS__REQUESTS_PER_MINUTE": "100000",
    }
    return env


def _cli(source: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The same command, run in this process (much faster than starting a new one)."""
    from mspilot.cli.context import settings
    from mspilot.cli.main import app

    with monkeypatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("MSPILOT_")]:
            patch.delenv(key)
        for key, value in env.items():
            if key.startswith("MSPILOT_"):
                patch.setenv(key, value)
        settings.cache_clear()
        result = CliRunner().invoke(
            app, ["sync", "--source", source, "--tenant", "sample", "--json"]
        )
        settings.cache_clear()
    assert result.exit_code == 0, result.output


def _sync(source: str, env: dict[str, str], fake: Any = None, kill_at: int | None = None) -> int:
    cmd = [MSPILOT, "sync", "--source", source, "--tenant", "sample", "--json"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if fake is not None and kill_at is not None:

        def on_request(count: int) -> None:
            if count == kill_at:
                os.kill(proc.pid, signal.SIGKILL)

        fake.on_request = on_request
    try:
        _out, err = proc.communicate(timeout=120)
    finally:
        if fake is not None:
            fake.on_request = None
    if kill_at is None:
        assert proc.returncode == 0, err.decode()[-2000:]
    return proc.returncode


@pytest.mark.slow
def test_a_killed_sync_rerun_equals_an_uninterrupted_one(
    tmp_path: Path, dataset: Any, syncer: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL a real ``mspilot sync`` process mid-way, run it again, compare."""
    start = dt.datetime.combine(dataset.as_of, dt.time(23, 59), tzinfo=dt.UTC)
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("killed", "clean")}
    for url in urls.values():
        engine = make_engine(url)
        from mspilot.db import migrate

        migrate.upgrade(engine)
        engine.dispose()

    with serve_fakes(dataset.tables, clock=FakeClock(start)) as vendors:
        env = _env(vendors, urls["killed"], dataset.as_of)
        assert _sync("superops", env, vendors.superops, kill_at=25) == -signal.SIGKILL
        served_before_kill = vendors.superops.requests
        _cli("superops", env, monkeypatch)
        assert _sync("quickbooks", env, vendors.quickbooks, kill_at=6) == -signal.SIGKILL
        _cli("quickbooks", env, monkeypatch)
        ids = vendors.ids
    assert served_before_kill >= 25

    with serve_fakes(dataset.tables, clock=FakeClock(start)) as vendors:
        env = _env(vendors, urls["clean"], dataset.as_of)
        _cli("superops", env, monkeypatch)
        _cli("quickbooks", env, monkeypatch)

    killed: Engine = make_engine(urls["killed"])
    clean: Engine = make_engine(urls["clean"])
    try:
        assert syncer.snapshot(killed) == syncer.snapshot(clean)
        assert compare_with_dataset(killed, "sample", dataset.tables, ids) == []
    finally:
        killed.dispose()
        clean.dispose()


class Crash(Exception):
    """Stands in for the process dying between two batches."""


def test_a_sync_interrupted_between_batches_resumes_to_the_same_database(
    sqlite_engine: Engine, syncer: Any, tmp_path: Path
) -> None:
    """Interrupt both syncs after a few committed batches (in-process), run them again, and
    compare with an uninterrupted sync into another database."""
    from mspilot.connectors.base import SyncContext
    from mspilot.connectors.runner import run_source
    from mspilot.db import migrate

    def crash_after(n: int) -> Any:
        seen = [0]

        def progress(_stream: str, _done: int, _total: int | None) -> None:
            seen[0] += 1
            if seen[0] == n:
                raise Crash

        return progress

    syncer.tenant(sqlite_engine)
    for source, n in (
        (syncer.superops_source(page_size=50), 8),
        (syncer.quickbooks_source(sqlite_engine, page_size=10), 4),
    ):
        with pytest.raises(Crash):
            run_source(
                source,
                SyncContext(sqlite_engine, "sample", now=syncer.clock.now, progress=crash_after(n)),
            )
    syncer.superops(sqlite_engine, page_size=50)
    syncer.quickbooks(sqlite_engine, page_size=10)

    clean = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    migrate.upgrade(clean)
    with serve_fakes(syncer.dataset.tables, clock=syncer.clock) as fresh:
        syncer.vendors, kept = fresh, syncer.vendors
        try:
            syncer.tenant(clean)
            syncer.superops(clean, page_size=50)
            syncer.quickbooks(clean, page_size=10)
        finally:
            syncer.vendors = kept
    try:
        assert syncer.snapshot(sqlite_engine) == syncer.snapshot(clean)
    finally:
        clean.dispose()
