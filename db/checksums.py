"""Content checksums of a tenant's synced tables: "same data" made testable and auditable."""

from __future__ import annotations

import hashlib

from sqlalchemy import Engine, select

from mspilot.db.schema import SYNCED_TABLES

#: Bookkeeping columns that legitimately differ between two loads of the same data.
_VOLATILE = {"synced_at"}


def table_checksums(engine: Engine, tenant_id: str) -> dict[str, tuple[int, str]]:
    """``{table: (row_count, sha256 of every row's content ordered by id)}``."""
    out: dict[str, tuple[int, str]] = {}
    with engine.connect() as conn:
        for model in SYNCED_TABLES:
            table = model.__table__  # type: ignore[attr-defined]
            cols = [c for c in table.columns if c.name not in _VOLATILE]
            digest = hashlib.sha256()
            count = 0
            rows = conn.execute(
                select(*cols).where(table.c.tenant_id == tenant_id).order_by(table.c.id)
            )
            for row in rows:
                digest.update(repr(tuple(row)).encode())
                count += 1
            out[table.name] = (count, digest.hexdigest())
    return out
