"""One rule for picking a tenant (``db/tenants.py``): the named one (it must exist), else the
only one loaded; nothing loaded, an unknown name or several tenants unnamed is an error."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from mspilot.core.errors import DataError, UserInputError
from mspilot.db.engine import make_engine
from mspilot.db.loader import upsert_tenant
from mspilot.db.tenants import list_tenants, resolve_tenant, tenant_ids


def _tenants(engine: Engine, *ids: str) -> None:
    with engine.begin() as conn:
        for tid in ids:
            upsert_tenant(conn, tid, f"MSP {tid}")


def test_no_tenant_loaded_says_what_to_do(sqlite_engine: Engine) -> None:
    with pytest.raises(DataError, match="no tenant loaded"):
        resolve_tenant(sqlite_engine, None)


def test_the_only_tenant_is_the_default(sqlite_engine: Engine) -> None:
    _tenants(sqlite_engine, "acme")
    assert resolve_tenant(sqlite_engine, None).id == "acme"
    assert resolve_tenant(sqlite_engine, "acme").name == "MSP acme"


def test_several_tenants_must_be_named(sqlite_engine: Engine) -> None:
    _tenants(sqlite_engine, "b", "a")
    assert tenant_ids(sqlite_engine) == ["a", "b"]
    with pytest.raises(UserInputError, match=r"several tenants.*--tenant.*a, b"):
        resolve_tenant(sqlite_engine, None)
    assert resolve_tenant(sqlite_engine, "b").id == "b"
    with pytest.raises(UserInputError, match="unknown tenant 'c'"):
        resolve_tenant(sqlite_engine, "c")


def test_a_database_without_the_schema_is_a_data_error(sqlite_url: str) -> None:
    with pytest.raises(DataError, match="db upgrade"):
        list_tenants(make_engine(sqlite_url))
