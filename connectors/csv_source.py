"""CSV import for MSPs on other PSAs: one CSV per canonical table.

Layout: a folder holding ``<table>.csv`` files (``clients.csv``, ``tickets.csv``, ...; any
subset), or one such file. The header names the columns of the table's record
(``db.records``; see :func:`csv_columns` / ``mspilot sources csv-template``). Rows name other
rows by *their* ``external_id`` in the same import (or ``=<canonical id>`` for rows of another
source). Values: ISO dates (``2026-03-31``), ISO times with a zone
(``2026-03-31T09:30:00+00:00``), decimals with a dot, booleans ``true``/``false``; an empty cell
is "no value".

Every file is checked before anything is loaded; errors name the file, the row (the header is
row 1) and the column. Each file is a full snapshot of its table: rows of an earlier import
that are missing now are marked deleted. A file whose content has not changed is skipped.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mspilot.connectors.base import Batch, Source, Stream, SyncContext, VendorRecord
from mspilot.core.errors import UserInputError
from mspilot.db.entity_map import live_source_ids
from mspilot.db.records import RECORDS, CanonicalId
from mspilot.db.schema import TABLES_BY_NAME

BATCH_ROWS = 1000
MAX_ERRORS = 30


def csv_columns(table: str) -> list[tuple[str, bool, str]]:
    """(column, required, type) of a table's CSV, in header order."""
    out = []
    for name, info in RECORDS[table].model_fields.items():
        if name == "deleted_at":
            continue
        annotation = str(info.annotation).replace("typing.", "").replace("datetime.", "")
        out.append((name, info.is_required(), annotation))
    return out


def describe_csv_format() -> str:
    """Markdown describing every table's CSV (what ``csv-template`` writes as README)."""
    parts = [__doc__ or "", ""]
    for table in TABLES_BY_NAME:
        parts.append(f"## {table}.csv\n")
        parts.append("| column | required | type |\n|---|---|---|")
        for name, required, kind in csv_columns(table):
            ref = RECORDS[table].refs.get(name)
            note = f" (external id of a {ref} row)" if ref else ""
            parts.append(f"| {name} | {'yes' if required else 'no'} | {kind}{note} |")
        parts.append("")
    return "\n".join(parts)


def write_templates(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES_BY_NAME:
        path = folder / f"{table}.csv"
        with path.open("w", newline="") as fh:
            csv.writer(fh).writerow([c for c, _r, _t in csv_columns(table)])
        written.append(path)
    readme = folder / "README.md"
    readme.write_text(describe_csv_format())
    written.append(readme)
    return written


class CsvRow(VendorRecord):
    """A CSV row as read (strings); the table's record validates it."""


class CsvStream(Stream):
    primary_key = ("external_id",)
    schema = CsvRow

    def __init__(self, table: str, path: Path, rows: list[dict[str, Any]], digest: str) -> None:
        self.name = table  # type: ignore[misc]
        self.tables = (table,)  # type: ignore[misc]
        self.path = path
        self.rows = rows
        self.digest = digest

    def read(self, ctx: SyncContext, state: dict[str, Any]) -> Iterator[Batch]:
        if state.get("sha256") == self.digest and not ctx.force_full:
            yield Batch(state=state)
            return
        table = self.tables[0]
        for start in range(0, len(self.rows), BATCH_ROWS):
            chunk = self.rows[start : start + BATCH_ROWS]
            yield Batch(rows={table: chunk}, records=len(chunk), total=len(self.rows))
        seen = {str(r["external_id"]) for r in self.rows}
        gone = live_source_ids(ctx.engine, ctx.tenant_id, table, "csv") - seen
        yield Batch(
            deletes={table: list(sorted(gone))} if gone else {},
            state={"mode": "full", "sha256": self.digest, "file": self.path.name},
        )


def _read_file(table: str, path: Path, errors: list[str]) -> list[dict[str, Any]]:
    record = RECORDS[table]
    columns = {c for c, _r, _t in csv_columns(table)}
    required = {c for c, r, _t in csv_columns(table) if r}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        errors.append(f"{path.name}: cannot read the file ({exc})")
        return []
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        errors.append(f"{path.name}: the file is empty (the first row must be the header)")
        return []
    unknown = [h for h in header if h not in columns]
    missing = sorted(required - set(header))
    if unknown:
        errors.append(
            f"{path.name}: row 1: unknown column(s) {', '.join(unknown)} "
            f"(expected some of: {', '.join(c for c, _r, _t in csv_columns(table))})"
        )
    if missing:
        errors.append(f"{path.name}: row 1: missing required column(s) {', '.join(missing)}")
    if unknown or missing:
        return []
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        data = {
            (k or "").strip(): (v.strip() if isinstance(v, str) else v)
            for k, v in raw.items()
            if k is not None
        }
        data = {k: (None if v in ("", None) else v) for k, v in data.items()}
        for column in record.refs:  # "=<canonical id>": a row of another source
            value = data.get(column)
            if isinstance(value, str) and value.startswith("=") and len(value) > 1:
                data[column] = CanonicalId(value[1:])
        try:
            record.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors():
                column = ".".join(str(p) for p in err["loc"]) or "row"
                value = data.get(str(err["loc"][0])) if err["loc"] else None
                shown = f" (value {value!r})" if value is not None else ""
                errors.append(f"{path.name}: row {number}, column {column}: {err['msg']}{shown}")
            continue
        key = str(data.get("external_id"))
        if key in seen:
            errors.append(
                f"{path.name}: row {number}, column external_id: {key!r} repeats row {seen[key]}"
            )
            continue
        seen[key] = number
        rows.append(data)
    return rows


class CsvSource(Source):
    name = "csv"

    def __init__(self, path: Path) -> None:
        path = Path(path)
        if path.is_dir():
            files = {p.stem: p for p in sorted(path.glob("*.csv"))}
        elif path.is_file():
            files = {path.stem: path}
        else:
            raise UserInputError(f"no such file or folder: {path}")
        unknown = sorted(set(files) - set(TABLES_BY_NAME))
        if unknown:
            raise UserInputError(
                f"{', '.join(u + '.csv' for u in unknown)}: not a table name; CSV files must be "
                f"named after a table ({', '.join(TABLES_BY_NAME)})"
            )
        if not files:
            raise UserInputError(f"{path}: no <table>.csv files found")
        errors: list[str] = []
        self._streams: list[Stream] = []
        for table in TABLES_BY_NAME:
            file = files.get(table)
            if file is None:
                continue
            rows = _read_file(table, file, errors)
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
            self._streams.append(CsvStream(table, file, rows, digest))
        if errors:
            shown = errors[:MAX_ERRORS]
            more = f"\n... and {len(errors) - MAX_ERRORS} more" if len(errors) > MAX_ERRORS else ""
            raise UserInputError(
                f"the CSV import was not loaded ({len(errors)} problem(s)):\n"
                + "\n".join(shown)
                + more
            )

    def streams(self) -> list[Stream]:
        return list(self._streams)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def export_tables(folder: Path, tables: dict[str, list[dict[str, Any]]]) -> list[Path]:
    """Write canonical rows as ``<table>.csv`` files in the import format."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table, rows in tables.items():
        columns = [c for c, _r, _t in csv_columns(table)]
        path = folder / f"{table}.csv"
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
        written.append(path)
    return written
