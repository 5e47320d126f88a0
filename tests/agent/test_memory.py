"""Conversation memory: the checkpointer follows the product database's backend."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from langchain_core.messages import AIMessage
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from mspilot.agent.graph import build_graph
from mspilot.agent.memory import close_checkpointer, libpq_url, make_checkpointer
from mspilot.agent.turn import new_turn
from support.agent_fakes import make_tools, script


def _two_turns(saver: object) -> list[str]:
    model = script(AIMessage(content="First."), AIMessage(content="Second."))
    graph = build_graph(model, make_tools(), saver, today=dt.date(2026, 10, 31))  # type: ignore[arg-type]
    cfg = {"configurable": {"thread_id": "t:*:1"}}
    graph.invoke(new_turn("one"), cfg)
    out = graph.invoke(new_turn("two"), cfg)
    return [m.text for m in out["messages"]]


def test_sqlite_database_gets_a_sqlite_checkpointer_in_the_data_dir(tmp_path: Path) -> None:
    saver = make_checkpointer(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    assert isinstance(saver, SqliteSaver)
    assert (tmp_path / "agent_memory.sqlite").exists()
    assert _two_turns(saver) == ["one", "First.", "two", "Second."]
    close_checkpointer(saver)


def test_postgres_database_gets_a_postgres_checkpointer(pg_url: str, tmp_path: Path) -> None:
    saver = make_checkpointer(pg_url, tmp_path)
    try:
        assert isinstance(saver, PostgresSaver)
        assert _two_turns(saver) == ["one", "First.", "two", "Second."]
        assert not (tmp_path / "agent_memory.sqlite").exists()
    finally:
        saver.conn.close()  # type: ignore[union-attr]


def test_libpq_url_keeps_credentials_and_options() -> None:
    url = libpq_url("postgresql+psycopg://u:p%40ss@h:5433/db?options=-csearch_path%3Dx")
    assert url.startswith("postgresql://u:p%40ss@h:5433/db") and "search_path" in url
