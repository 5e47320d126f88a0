"""The tenants in the database and the one rule for picking one: the tenant a caller names
(it must exist), else the only one loaded; none loaded, an unknown name or several tenants
with none named is a clear error (never a silent guess). The CLI (``cli/deps.py``), the API,
the demo portal and the insights scheduler all list and resolve tenants here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from mspilot.core.errors import DataError, UserInputError
from mspilot.db.schema import Tenant


@dataclass(frozen=True)
class TenantInfo:
    id: str
    name: str
    timezone: str


def list_tenants(engine: Engine) -> list[TenantInfo]:
    """Every tenant, by id; a database without the schema is a :class:`DataError`."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Tenant.id, Tenant.name, Tenant.timezone).order_by(Tenant.id)
            ).all()
    except SQLAlchemyError as exc:  # no schema yet
        raise DataError("no database yet: run `mspilot db upgrade` and load data") from exc
    return [TenantInfo(str(i), str(n), str(tz or "UTC")) for i, n, tz in rows]


def tenant_ids(engine: Engine) -> list[str]:
    return [t.id for t in list_tenants(engine)]


def resolve_tenant(engine: Engine, tenant: str | None) -> TenantInfo:
    """The named tenant, else the only one loaded (see the module docstring)."""
    known = list_tenants(engine)
    if not known:
        raise DataError("no tenant loaded yet: run `mspilot demo run` or a connector sync first")
    if tenant is not None:
        for info in known:
            if info.id == tenant:
                return info
        raise UserInputError(f"unknown tenant {tenant!r}; tenants: {_names(known)}")
    if len(known) > 1:
        raise UserInputError(
            f"several tenants are loaded: name one with --tenant ({_names(known)})"
        )
    return known[0]


def _names(known: list[TenantInfo]) -> str:
    ids = [t.id for t in known]
    return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
