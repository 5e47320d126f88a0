"""Leases: one holder at a time for a named piece of work, on SQLite and PostgreSQL.

The digest scheduler (``schema_insights.SchedulerLease``) and the task engine's locks
(``schema_tasks.TaskLock``) keep their leases in tables of the same shape (``name`` primary key,
``holder``, ``expires_at``, ``acquired_at``); this is the one algorithm over either.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, delete, insert, or_, update
from sqlalchemy.exc import IntegrityError


def acquire(
    engine: Engine, table: Any, name: str, holder: str, now: dt.datetime, ttl_s: float
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl_s``.

    Atomic on SQLite and PostgreSQL: the conditional UPDATE succeeds only for the current
    holder or once the lease has expired; the first INSERT creates it (the primary key refuses
    a second). Exactly one caller holds an unexpired lease at any time."""
    expires = now + dt.timedelta(seconds=ttl_s)
    with engine.begin() as conn:
        taken = conn.execute(
            update(table)
            .where(table.name == name, or_(table.holder == holder, table.expires_at < now))
            .values(holder=holder, expires_at=expires)
        )
        if taken.rowcount == 1:
            return True
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(table).values(name=name, holder=holder, expires_at=expires, acquired_at=now)
            )
        return True
    except IntegrityError:
        return False


def release(engine: Engine, table: Any, name: str, holder: str) -> None:
    """Give the lease up (only its holder can)."""
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.name == name, table.holder == holder))
