"""Compare what the connectors loaded with the canonical dataset the fakes served.

Used by the tests ("a full sync equals the generator's data"), the demo and the bench. Rows
are matched through the fakes' id map; references are compared by the dataset's external
ids. Fields no vendor carries (listed in ``NOT_CARRIED``) are not compared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from mspilot.connectors.fakes.vendor_data import IdMap
from mspilot.core.ids import make_id
from mspilot.db.records import RECORDS
from mspilot.db.schema import TABLES_BY_NAME

#: canonical columns neither SuperOps nor QuickBooks holds (documented connector limits)
NOT_CARRIED: dict[str, frozenset[str]] = {
    "technicians": frozenset({"hourly_cost", "active"}),
}
#: ids the connectors add; compared separately
_IDS = frozenset(
    {
        "external_id",
        "deleted_at",
        "superops_account_id",
        "qbo_customer_id",
        "superops_invoice_id",
        "qbo_invoice_id",
    }
)


def _norm(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, float):
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(microsecond=0)
    return value


def canonical_to_dataset(tenant_id: str, ids: IdMap) -> dict[tuple[str, str], str]:
    """(table, canonical row id) -> dataset external id, for every vendor id the fakes made."""
    out: dict[tuple[str, str], str] = {}
    for (vendor, table), mapping in ids.ids.items():
        for ext, vendor_id in mapping.items():
            out[(table, make_id(tenant_id, vendor, vendor_id))] = ext
    return out


def loaded_rows(
    engine: Engine, tenant_id: str, ids: IdMap
) -> tuple[dict[str, dict[str, dict[str, Any]]], list[str]]:
    """Live rows per table keyed by dataset external id (refs translated); plus rows that
    match nothing in the dataset."""
    back = canonical_to_dataset(tenant_id, ids)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    strays: list[str] = []
    with engine.connect() as conn:
        for table, model in TABLES_BY_NAME.items():
            record = RECORDS[table]
            rows = conn.execute(
                select(model.__table__).where(
                    model.tenant_id == tenant_id, model.deleted_at.is_(None)
                )
            ).mappings()
            for row in rows:
                key = back.get((table, row["id"]))
                if key is None:
                    strays.append(f"{table}:{row['id']}")
                    continue
                data = {}
                for name in record.model_fields:
                    if name in _IDS:
                        continue
                    value = row[name]
                    if name in record.refs and value is not None:
                        value = back.get((record.refs[name], value), f"?{value}")
                    data[name] = _norm(value)
                out.setdefault(table, {})[key] = data
    return out, strays


def compare_with_dataset(
    engine: Engine,
    tenant_id: str,
    tables: Mapping[str, Sequence[Mapping[str, Any]]],
    ids: IdMap,
    *,
    ignore: Mapping[str, frozenset[str]] | None = None,
    max_report: int = 20,
) -> list[str]:
    """Differences between the database and the dataset (empty when they agree)."""
    skip = {
        t: NOT_CARRIED.get(t, frozenset()) | (ignore or {}).get(t, frozenset())
        for t in TABLES_BY_NAME
    }
    loaded, strays = loaded_rows(engine, tenant_id, ids)
    problems = [f"row not in the dataset: {s}" for s in strays[:max_report]]
    for table, rows in tables.items():
        have = loaded.get(table, {})
        want_keys = {r["external_id"] for r in rows}
        missing = sorted(want_keys - set(have))
        extra = sorted(set(have) - want_keys)
        if missing:
            problems.append(f"{table}: {len(missing)} rows missing, e.g. {missing[:5]}")
        if extra:
            problems.append(f"{table}: {len(extra)} unexpected rows, e.g. {extra[:5]}")
        diffs: dict[str, list[str]] = {}
        for row in rows:
            got = have.get(row["external_id"])
            if got is None:
                continue
            for name, value in got.items():
                if name in skip[table]:
                    continue
                expected = _norm(row.get(name))
                if expected != value:
                    diffs.setdefault(name, []).append(
                        f"{row['external_id']}: want {expected!r} got {value!r}"
                    )
        for name, items in sorted(diffs.items()):
            problems.append(f"{table}.{name}: {len(items)} differ, e.g. {items[:3]}")
    return problems
