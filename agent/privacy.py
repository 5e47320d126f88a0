"""Privacy requests on what the agent keeps outside the canonical tables: conversation
checkpoints (LangGraph, see :mod:`mspilot.agent.memory`) and knowledge-base vectors.

A conversation is one checkpointer thread, ``<tenant>:<client scope>:<thread>``
(:func:`mspilot.agent.service.scoped_thread_id`). It *mentions* a client when the client's
scope is in its id, or when the client's name or id occurs in one of its messages
(case-insensitive). Checkpoints hold the whole thread, so erasing a mention deletes the thread;
retention deletes threads whose last turn is older than the period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import Engine

from mspilot.db.privacy import ClientRef, Retention, expire_audit


@dataclass(frozen=True)
class ChatTurn:
    """One message of a conversation, as exported."""

    thread_id: str
    role: str
    content: str


@dataclass(frozen=True)
class Conversation:
    """A thread's latest state: when it was last written and its messages."""

    thread_id: str
    updated_at: dt.datetime
    turns: tuple[ChatTurn, ...]

    def mentions(self, client: ClientRef) -> bool:
        if self.thread_id.split(":")[1:2] == [client.client_id]:
            return True
        needles = [n.casefold() for n in (client.name, client.client_id) if n]
        return any(n in t.content.casefold() for t in self.turns for n in needles)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return " ".join(str(b.get("text", "")) if isinstance(b, dict) else str(b) for b in content)
    return str(content)


def conversations(saver: BaseCheckpointSaver[Any], tenant_id: str) -> Iterator[Conversation]:
    """The tenant's threads, each from its latest checkpoint."""
    seen: set[str] = set()
    for item in saver.list(None):  # newest first within a thread
        thread_id = str(item.config["configurable"]["thread_id"])
        if thread_id in seen or not thread_id.startswith(f"{tenant_id}:"):
            continue
        seen.add(thread_id)
        stamp = dt.datetime.fromisoformat(item.checkpoint["ts"])
        messages = item.checkpoint.get("channel_values", {}).get("messages", [])
        turns = tuple(
            ChatTurn(thread_id, str(getattr(m, "type", "message")), _text(getattr(m, "content", m)))
            for m in messages
        )
        yield Conversation(thread_id, stamp, turns)


def client_conversations(saver: BaseCheckpointSaver[Any], client: ClientRef) -> list[Conversation]:
    return [c for c in conversations(saver, client.tenant_id) if c.mentions(client)]


def delete_conversations(saver: BaseCheckpointSaver[Any], threads: list[Conversation]) -> int:
    for conversation in threads:
        saver.delete_thread(conversation.thread_id)
    return len(threads)


def expired_conversations(
    saver: BaseCheckpointSaver[Any], tenant_id: str, cutoff: dt.datetime
) -> list[Conversation]:
    """The tenant's threads whose last turn is older than ``cutoff``."""
    return [c for c in conversations(saver, tenant_id) if c.updated_at < cutoff]


def erase_client_vectors(data_dir: Path, client: ClientRef) -> int:
    """Delete the client's passages (ticket resolutions) from the knowledge base; the count.
    Nothing to do (0) when no knowledge base was ever built."""
    path = data_dir / "chroma"
    if not path.exists():
        return 0
    from mspilot.tools.knowledge import KnowledgeBase

    collection = KnowledgeBase(data_dir).collection
    where = {"$and": [{"tenant_id": client.tenant_id}, {"client_id": client.client_id}]}
    ids = collection.get(where=where)["ids"]
    if ids:
        collection.delete(ids=ids)
    return len(ids)


@dataclass(frozen=True)
class RetentionRun:
    """What one enforcement of a tenant's retention periods found (and deleted if applied)."""

    tenant_id: str
    chat_days: int | None
    audit_days: int | None
    applied: bool
    conversations: int
    audit_events: int


def enforce_retention(
    engine: Engine,
    saver: BaseCheckpointSaver[Any] | None,
    tenant_id: str,
    policy: Retention,
    *,
    apply: bool,
    now: dt.datetime | None = None,
) -> RetentionRun:
    """Count (dry run) or delete one tenant's chat threads and audit events older than its
    retention periods; what the CLI and a scheduled task call."""
    now = now or dt.datetime.now(dt.UTC)
    threads: list[Conversation] = []
    if policy.chat_days and saver is not None:
        threads = expired_conversations(saver, tenant_id, now - dt.timedelta(policy.chat_days))
        if apply:
            delete_conversations(saver, threads)
    audit = 0
    if policy.audit_days:
        cutoff = now - dt.timedelta(policy.audit_days)
        audit = expire_audit(engine, tenant_id, cutoff, apply=apply)
    return RetentionRun(tenant_id, policy.chat_days, policy.audit_days, apply, len(threads), audit)
