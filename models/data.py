"""Read one tenant's canonical tables into pandas frames (the models' only read path).

Every query is scoped to the tenant, skips rows deleted or voided at the source and casts money
to floats. Economics come from ``db.definitions.client_economics`` (never re-derived here).

The parts live in ``frames`` (``load_frames``, one reader per table, monthly economics),
``frame_io`` (fast result-to-frame reads, month indices) and ``data_version`` (the tenant's
data fingerprint and the caches keyed by it); this module re-exports them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, func, select

from mspilot.db.definitions import live_invoices
from mspilot.db.schema import Invoice
from mspilot.models.data_version import (
    DataVersion,
    VersionedCache,
    clear_versioned_caches,
    data_version,
)
from mspilot.models.frame_io import (
    date_month_index,
    month_index,
    month_of_index,
    read_frame,
    read_rows,
)
from mspilot.models.frames import (
    ECONOMICS_COLUMNS,
    GENOME_COLUMNS,
    TenantFrames,
    load_frames,
    monthly_economics,
)

__all__ = [
    "ECONOMICS_COLUMNS",
    "GENOME_COLUMNS",
    "DataVersion",
    "TenantFrames",
    "VersionedCache",
    "clear_versioned_caches",
    "data_span",
    "data_version",
    "date_month_index",
    "load_frames",
    "month_index",
    "month_of_index",
    "monthly_economics",
    "read_frame",
    "read_rows",
]


def data_span(engine: Engine, tenant_id: str) -> tuple[dt.date, dt.date] | None:
    """First and last invoice dates of the tenant (None when it has no invoices)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(func.min(Invoice.issued_on), func.max(Invoice.issued_on)).where(
                live_invoices(tenant_id)
            )
        ).one()
    if row[0] is None:
        return None
    first, last = row
    if isinstance(first, str):
        first, last = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
    return first, last
