"""The CLI starts fast because its heavy dependencies load only when a command runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "pandas", "numpy", "pydantic", "langchain_core", "langgraph")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_building_the_command_tree_loads_no_heavy_library() -> None:
    assert _loaded_after("import mspilot.cli.main") == set()


def test_the_probe_sees_a_heavy_import_when_there_is_one() -> None:
    # the same probe notices a command module that imports the database layer eagerly
    assert "sqlalchemy" in _loaded_after("import mspilot.cli.main\nimport mspilot.db.engine")


def test_help_runs_without_a_database() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from mspilot.cli.main import run; run()", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    for command in ("demo", "db", "train", "ask", "serve", "digest"):
        assert command in out.stdout
