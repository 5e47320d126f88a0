"""A tenant's data version (a fingerprint of everything loaded for it, in one query) and the
caches keyed by it, which never serve data older than the database."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, String, cast, func, literal, select, union_all

from mspilot.db.schema import SYNCED_TABLES, Tenant

#: A tenant's data version: one (table, rows, latest synced_at, latest deleted_at, deleted rows)
#: per synced table, then ("tenants", max discount) -- compare with ``==``.
DataVersion = tuple[tuple[Any, ...], ...]


def data_version(engine: Engine, tenant_id: str) -> DataVersion:
    """A fingerprint of everything loaded for ``tenant_id``, in one query: per synced table its
    row count, latest ``synced_at`` and ``deleted_at`` and deleted count, plus the tenant's
    pricing policy. The loader stamps ``synced_at`` on every row it inserts or changes and
    ``deleted_at`` on every row it retires, so any load or sync that changes a row changes the
    fingerprint: a cache keyed by it never serves data older than the database.

    Each figure is its own scalar subquery so both SQLite and PostgreSQL answer it from the
    ``(tenant_id, synced_at)`` / ``(tenant_id, deleted_at)`` indexes: the maxima and the deleted
    count are index seeks, the row count one pass over the narrow deleted-at index (a single
    select of all four aggregates makes both planners scan the tenant's rows instead)."""

    def scalar(model: Any, column: Any, *where: Any) -> Any:
        return select(column).where(model.tenant_id == tenant_id, *where).scalar_subquery()

    parts = [
        select(
            literal(model.__tablename__).label("table_name"),  # type: ignore[attr-defined]
            scalar(model, func.count()).label("rows"),
            cast(scalar(model, func.max(model.synced_at)), String).label("synced"),
            cast(scalar(model, func.max(model.deleted_at)), String).label("deleted"),
            scalar(model, func.count(), model.deleted_at.is_not(None)).label("deleted_rows"),
        )
        for model in SYNCED_TABLES
    ]
    policy = select(
        literal("tenants").label("table_name"),
        func.count().label("rows"),
        cast(func.max(Tenant.max_discount_pct), String).label("synced"),
        literal(None, String()).label("deleted"),
        literal(0).label("deleted_rows"),
    ).where(Tenant.id == tenant_id)
    with engine.connect() as conn:
        rows = conn.execute(union_all(*parts, policy)).all()
    return tuple(tuple(r) for r in rows)


T = TypeVar("T")


class VersionedCache(Generic[T]):
    """Values memoised per key, each valid for the ``data_version`` it was built at: a lookup
    with another version rebuilds (the newest ``size`` keys are kept). Values are shared between
    callers and threads: treat them as read-only."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, tuple[DataVersion, T]] = OrderedDict()
        self._lock = threading.Lock()
        _CACHES.append(self)

    def get(self, key: Hashable, version: DataVersion, build: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == version:
                self._items.move_to_end(key)
                return hit[1]
        value = build()
        with self._lock:
            self._items[key] = (version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def for_tenant(
        self,
        engine: Engine,
        tenant_id: str,
        as_of: dt.date,
        version: DataVersion | None,
        build: Callable[[], T],
    ) -> T:
        """The value for (database, tenant, as_of) at the tenant's current data version (read
        here unless the caller passes it)."""
        if version is None:
            version = data_version(engine, tenant_id)
        return self.get((str(engine.url), tenant_id, as_of), version, build)

    def clear(self, keep: Callable[[Hashable], bool] = lambda _key: False) -> None:
        with self._lock:
            for key in [k for k in self._items if not keep(k)]:
                del self._items[key]


_CACHES: list[VersionedCache[Any]] = []


def clear_versioned_caches() -> None:
    """Empty every ``VersionedCache`` (benchmarks measuring a cold start; tests)."""
    for cache in list(_CACHES):
        cache.clear()
