"""Conversation memory per thread: a LangGraph checkpointer.

SQLite (a file in the data directory) by default; PostgreSQL (tables created by
``PostgresSaver.setup()`` in the product database) when the product database is PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy.engine import make_url

CHECKPOINT_FILE = "agent_memory.sqlite"


def libpq_url(database_url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as a libpq connection string."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def sqlite_checkpointer(path: Path) -> BaseCheckpointSaver[Any]:
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def postgres_checkpointer(database_url: str) -> BaseCheckpointSaver[Any]:
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    pool: ConnectionPool[Any] = ConnectionPool(
        libpq_url(database_url),
        min_size=1,
        max_size=4,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
    )
    saver = PostgresSaver(pool)
    saver.setup()
    return saver


def make_checkpointer(database_url: str, data_dir: Path) -> BaseCheckpointSaver[Any]:
    """The checkpointer matching the product database's backend."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return postgres_checkpointer(database_url)
    return sqlite_checkpointer(data_dir / CHECKPOINT_FILE)


def close_checkpointer(saver: BaseCheckpointSaver[Any]) -> None:
    conn = getattr(saver, "conn", None)
    if conn is not None and hasattr(conn, "close"):
        conn.close()
