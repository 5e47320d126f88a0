"""The SQL tool's scope rows (PostgreSQL's row-level security reads them; see db.sql_sandbox).

One row per running tool query, written by the application inside the query's own transaction
before it turns read-only and switches to a reader role, and rolled back with it: it is never
committed, and only that transaction (backend ``pid`` + transaction id ``xid``) can see it.
The reader roles have no grant on it; the policies read it through SECURITY DEFINER functions.
Unlike a ``SET LOCAL`` setting, the query cannot change it (``set_config`` is open to all).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mspilot.db.schema import Base


class SqlScope(Base):
    __tablename__ = "sql_scope"
    pid: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    xid: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tenant_id: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str | None] = mapped_column(String(120))
