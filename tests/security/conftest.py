"""One seeded two-tenant database per backend for the attack suite (module-scoped: seeding
and migrating once, thousands of queries against it), and the refusal counts it reports.

Tenant ``t`` and tenant ``u`` each load the small MSP (clients c1, c2 …); every table the SQL
tool must never read (users, api keys, audit, credentials, tenants) gets rows whose text
carries ``SECRET``. ``Oracle.forbidden_values(role, client)`` lists every id and marker a
caller in that scope must never see, computed with plain admin queries.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, insert, inspect, text

from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.schema_api import ApiKey, AuditEvent, User
from mspilot.db.schema_connectors import SourceCredential
from mspilot.db.semantic_access import sql_tables
from support import fixtures_small

PG_URL = os.environ.get("MSPILOT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TENANT = "t"
OTHER = "u"
CLIENT = "t.demo.c1"  # the client user's client (Contoso)
SECRET = "SECRET"

#: outcomes of every generated query, per (backend, guard on/off): the closing note's numbers
COUNTS: Counter[tuple[str, str, str]] = Counter()


def _seed(engine: Engine) -> None:
    now = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    with engine.begin() as conn:
        upsert_tenant(conn, TENANT, "Test MSP SECRET-tenant-name")
        upsert_tenant(conn, OTHER, "Other MSP SECRET-tenant-name")
    mine = fixtures_small.small_msp()
    assert Loader(engine, TENANT, "demo").load_all(mine).issues == []
    other = fixtures_small.small_msp()
    other["clients"][0]["name"] = "Umbrella Corp"
    assert Loader(engine, OTHER, "demo").load_all(other).issues == []
    with engine.begin() as conn:
        for tenant in (TENANT, OTHER):
            user = f"SECRET-user-{tenant}"
            conn.execute(
                insert(User).values(
                    id=user,
                    tenant_id=tenant,
                    email=f"{user}@example.com",
                    name=user,
                    role="owner",
                    password_hash=f"SECRET-hash-{tenant}",
                    active=True,
                    created_at=now,
                )
            )
            conn.execute(
                insert(ApiKey).values(
                    id=f"SECRET-key-{tenant}",
                    user_id=user,
                    name="SECRET-key",
                    prefix="SECRET",
                    key_hash=f"SECRET-keyhash-{tenant}",
                    created_at=now,
                )
            )
            conn.execute(
                insert(AuditEvent).values(
                    tenant_id=tenant,
                    user_id=user,
                    role="owner",
                    at=now,
                    action="chat",
                    resource="SECRET-resource",
                    question="SECRET-question",
                    rows_out=0,
                    status=200,
                )
            )
            conn.execute(
                insert(SourceCredential).values(
                    tenant_id=tenant,
                    source="superops",
                    name="SECRET-cred",
                    ciphertext="SECRET-ciphertext",
                    updated_at=now,
                )
            )


def fingerprint(engine: Engine) -> str:
    """A digest of every row of every table (to prove nothing was written)."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in sorted(inspect(engine).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{table}"')).all()
            digest.update(table.encode())
            for row in sorted(repr(tuple(r)) for r in rows):
                digest.update(row.encode())
    return digest.hexdigest()


@dataclass
class Oracle:
    """What a caller of each scope may see, from plain admin queries (no SQL tool)."""

    engine: Engine
    backend: str
    all_ids: set[str] = field(default_factory=set)
    visible: dict[tuple[str, str | None], set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with self.engine.connect() as conn:
            for table in ("clients", *sql_tables("owner") - {"clients"}):
                ids = conn.execute(text(f"SELECT id FROM {table}")).scalars().all()
                self.all_ids |= {str(i) for i in ids}
            for table in ("users", "api_keys"):
                self.all_ids |= {
                    str(i) for i in conn.execute(text(f"SELECT id FROM {table}")).scalars()
                }

    def visible_ids(self, role: str, client_id: str | None) -> set[str]:
        key = (role, client_id)
        if key not in self.visible:
            seen: set[str] = set()
            with self.engine.connect() as conn:
                for table in sql_tables(role):
                    where = "tenant_id = :t AND deleted_at IS NULL"
                    if client_id is not None:
                        if table == "clients":
                            where += " AND id = :c"
                        elif table == "invoice_lines":
                            where += (
                                " AND invoice_id IN (SELECT id FROM invoices WHERE client_id = :c)"
                            )
                        elif table == "technicians":
                            where += " AND 1 = 0"
                        else:
                            where += " AND client_id = :c"
                    rows = conn.execute(
                        text(f"SELECT id FROM {table} WHERE {where}"),
                        {"t": TENANT, "c": client_id},
                    )
                    seen |= {str(i) for i in rows.scalars()}
            self.visible[key] = seen
        return self.visible[key]

    def leaks(self, role: str, client_id: str | None, rows: list[list[Any]]) -> list[str]:
        """Values in ``rows`` the scope must never see: another tenant's ids, another client's
        ids (client users), secret rows. (Ids of the tenant's tables outside the role's set
        do show as foreign keys in allowed rows; reading those tables is checked apart.)"""
        forbidden = self.all_ids - self.visible_ids("owner", client_id)
        found = []
        for row in rows:
            for value in row:
                if value is None:
                    continue
                cell = value if isinstance(value, str) else json.dumps(value, default=str)
                if (
                    SECRET in cell
                    or cell in forbidden
                    or cell == OTHER
                    or any(f in cell for f in forbidden if len(f) > 6)
                ):
                    found.append(cell)
        return found


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    path = tmp_path_factory.mktemp("attack") / "two_tenants.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    _seed(engine)
    yield Oracle(engine, "sqlite")
    engine.dispose()


@pytest.fixture(scope="module")
def pg_world() -> Iterator[Oracle]:
    if os.environ.get("MSPILOT_TEST_SKIP_PG") == "1":
        pytest.skip("MSPILOT_TEST_SKIP_PG=1")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    engine = make_engine(f"{PG_URL}{sep}options=-csearch_path%3D{schema}")
    try:
        migrate.upgrade(engine)
        _seed(engine)
        yield Oracle(engine, "postgresql")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def attack_counts() -> Counter[tuple[str, str, str]]:
    return COUNTS


@pytest.fixture(scope="session", name="fingerprint")
def fingerprint_fixture() -> Any:
    return fingerprint


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not COUNTS:
        return
    terminalreporter.section("SQL attack suite: generated queries by outcome")
    keys = sorted({(b, g) for b, g, _ in COUNTS})
    for backend, guard in keys:
        outcomes = {o: n for (b, g, o), n in COUNTS.items() if (b, g) == (backend, guard)}
        total = sum(outcomes.values())
        parts = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()))
        terminalreporter.write_line(f"{backend:10s} guard {guard:3s}: {total} queries ({parts})")
    report = os.environ.get("MSPILOT_ATTACK_REPORT")
    if report:
        Path(report).write_text(
            json.dumps([[b, g, o, n] for (b, g, o), n in sorted(COUNTS.items())], indent=1)
        )
