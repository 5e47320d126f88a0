"""Generated datasets on disk: ``<root>/<tenant_id>/<table>.jsonl.gz`` plus manifests.

Values round-trip exactly: each table's manifest records which columns hold decimals, dates
and timestamps, and reading turns them back into ``Decimal``, ``date`` and aware ``datetime``
(so rows loaded from disk fingerprint the same as rows straight from the generator). Files
are written with a fixed gzip mtime, so the same dataset gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from mspilot.core.errors import DataError
from mspilot.synthetic.config import DemoConfig, TenantSpec

FORMAT = 1
MANIFEST = "manifest.json"
Row = dict[str, Any]
RowCallback = Callable[[str, int], None]


def _column_type(value: Any) -> str:
    if isinstance(value, Decimal):
        return "decimal"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return "plain"


def infer_columns(rows: list[Row]) -> dict[str, str]:
    """Column -> ``decimal``/``date``/``datetime``/``plain`` from the first non-null values."""
    types: dict[str, str] = {}
    pending: set[str] = set()
    for row in rows:
        for key, value in row.items():
            if key not in types:
                types[key] = "plain"
                pending.add(key)
            if key in pending and value is not None:
                types[key] = _column_type(value)
                pending.discard(key)
        if not pending:
            break
    return types


def _encode(value: Any) -> Any:
    """orjson writes dates and aware datetimes (ISO 8601) itself; decimals become strings."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def encode_line(row: Mapping[str, Any]) -> bytes:
    return orjson.dumps(row, default=_encode) + b"\n"


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "decimal": Decimal,
    "date": dt.date.fromisoformat,
    "datetime": lambda s: dt.datetime.fromisoformat(s).astimezone(dt.UTC),
}


def decode_row(data: dict[str, Any], columns: Mapping[str, str]) -> Row:
    for key, kind in columns.items():
        value = data.get(key)
        if value is not None and kind != "plain":
            data[key] = _DECODERS[kind](value)
    return data


def dataset_checksum(tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> str:
    """sha256 over every row of every table, in order (the same text the files hold)."""
    digest = hashlib.sha256()
    for name, rows in tables.items():
        digest.update(f"#{name}\n".encode())
        for row in rows:
            digest.update(encode_line(row))
    return digest.hexdigest()


def tenant_to_json(spec: TenantSpec) -> dict[str, str]:
    return {
        "id": spec.id,
        "name": spec.name,
        "currency": spec.currency,
        "timezone": spec.timezone,
        "max_discount_pct": str(spec.max_discount_pct),
    }


def tenant_from_json(data: Mapping[str, str]) -> TenantSpec:
    return TenantSpec(
        id=data["id"],
        name=data["name"],
        currency=data["currency"],
        timezone=data["timezone"],
        max_discount_pct=Decimal(data["max_discount_pct"]),
    )


def config_to_json(config: DemoConfig) -> dict[str, Any]:
    return {
        "seed": config.seed,
        "as_of": config.as_of.isoformat(),
        "n_clients": config.n_clients,
        "n_tenants": config.n_tenants,
        "years": config.years,
        "messy": config.messy,
    }


def config_from_json(data: Mapping[str, Any]) -> DemoConfig:
    return DemoConfig(
        seed=int(data["seed"]),
        as_of=dt.date.fromisoformat(data["as_of"]),
        n_clients=int(data["n_clients"]),
        n_tenants=int(data["n_tenants"]),
        years=int(data["years"]),
        messy=bool(data.get("messy", False)),
    )


def write_tenant(
    root: Path,
    spec: TenantSpec,
    tables: Mapping[str, list[Row]],
    config: DemoConfig,
    on_rows: RowCallback | None = None,
) -> dict[str, Any]:
    """Write one tenant's tables under ``root/<tenant_id>/``; returns its manifest."""
    out = root / spec.id
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    digest = hashlib.sha256()
    manifest_tables: dict[str, Any] = {}
    for name, rows in tables.items():
        digest.update(f"#{name}\n".encode())
        path = out / f"{name}.jsonl.gz"
        with (
            path.open("wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=3, mtime=0) as fh,
        ):
            for start in range(0, len(rows), 5000):
                chunk = rows[start : start + 5000]
                text = b"".join(encode_line(r) for r in chunk)
                fh.write(text)
                digest.update(text)
                if on_rows:
                    on_rows(name, len(chunk))
        manifest_tables[name] = {"rows": len(rows), "columns": infer_columns(rows)}
    manifest = {
        "format": FORMAT,
        "tenant": tenant_to_json(spec),
        "config": config_to_json(config),
        "tables": manifest_tables,
        "checksum": digest.hexdigest(),
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def write_index(root: Path, config: DemoConfig, tenant_ids: list[str]) -> None:
    """The root manifest: which tenants the last ``generate`` wrote, in order."""
    root.mkdir(parents=True, exist_ok=True)
    index = {"format": FORMAT, "config": config_to_json(config), "tenants": tenant_ids}
    (root / MANIFEST).write_text(json.dumps(index, indent=2) + "\n")


def read_index(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not path.exists():
        raise DataError(f"no demo dataset under {root}: run `mspilot demo generate` first")
    data: dict[str, Any] = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise DataError(f"{path} has format {data.get('format')}, expected {FORMAT}: regenerate")
    return data


def read_manifest(root: Path, tenant_id: str) -> dict[str, Any]:
    path = root / tenant_id / MANIFEST
    if not path.exists():
        raise DataError(f"demo tenant {tenant_id!r} missing under {root}: regenerate")
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def iter_rows(root: Path, tenant_id: str, table: str, columns: Mapping[str, str]) -> Iterator[Row]:
    """Stream one table's rows back with their Python types."""
    path = root / tenant_id / f"{table}.jsonl.gz"
    with gzip.open(path, "rb") as fh:
        for line in fh:
            yield decode_row(orjson.loads(line), columns)


def read_tables(root: Path, tenant_id: str) -> dict[str, list[Row]]:
    """All tables of one tenant, in memory (tests, small datasets)."""
    manifest = read_manifest(root, tenant_id)
    return {
        name: list(iter_rows(root, tenant_id, name, meta["columns"]))
        for name, meta in manifest["tables"].items()
    }


def remove_tenant(root: Path, tenant_id: str) -> None:
    target = root / tenant_id
    if target.is_dir() and (target / MANIFEST).exists():
        shutil.rmtree(target)
