"""CSV import: a round trip equals the dataset; errors name file, row and column; a later
import that drops rows marks them deleted; unchanged files are skipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from mspilot.connectors.base import SyncContext
from mspilot.connectors.csv_source import CsvSource, export_tables, write_templates
from mspilot.connectors.runner import run_source
from mspilot.core.errors import UserInputError
from mspilot.db.schema import Client, Ticket

TENANT = "sample"


def _run(engine: Engine, folder: Path) -> Any:
    return run_source(CsvSource(folder), SyncContext(engine, TENANT))


def test_csv_round_trip_equals_the_dataset(
    sqlite_engine: Engine, syncer: Any, tmp_path: Path
) -> None:
    export_tables(tmp_path, syncer.dataset.tables)
    syncer.tenant(sqlite_engine)
    summary = _run(sqlite_engine, tmp_path)
    assert summary.issues == 0
    for table, rows in syncer.dataset.tables.items():
        stream = next(s for s in summary.streams if s.stream == table)
        assert stream.inserted == len(rows), table
    # loading again: the files did not change, nothing is read
    again = _run(sqlite_engine, tmp_path)
    assert again.records == 0 and again.totals()["inserted"] == 0


def test_rows_missing_from_a_later_import_are_marked_deleted(
    sqlite_engine: Engine, syncer: Any, tmp_path: Path
) -> None:
    tables = syncer.dataset.tables
    export_tables(tmp_path, tables)
    syncer.tenant(sqlite_engine)
    _run(sqlite_engine, tmp_path)
    export_tables(tmp_path, {"tickets": tables["tickets"][1:]})
    summary = _run(sqlite_engine, tmp_path)
    assert next(s for s in summary.streams if s.stream == "tickets").deleted == 1
    with sqlite_engine.connect() as conn:
        live = conn.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.deleted_at.is_(None))
        )
    assert live == len(tables["tickets"]) - 1


def test_errors_name_the_file_row_and_column(sqlite_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "clients.csv").write_text(
        "external_id,name,industry,seats,status,onboarded_on\n"
        "c1,Contoso,Legal,20,active,2024-01-01\n"
        "c2,Fabrikam,Retail,lots,active,2024-01-01\n"
        "c3,Tailspin,Retail,5,gone,2024-13-01\n"
        "c1,Contoso again,Legal,20,active,2024-01-01\n"
    )
    (tmp_path / "tickets.csv").write_text("external_id,client_id,colour\nt1,c1,blue\n")
    with pytest.raises(UserInputError) as err:
        CsvSource(tmp_path)
    message = str(err.value)
    assert "clients.csv: row 3, column seats" in message
    assert "clients.csv: row 4, column status" in message
    assert "clients.csv: row 4, column onboarded_on" in message
    assert "clients.csv: row 5, column external_id" in message and "repeats row 2" in message
    assert "tickets.csv: row 1: unknown column(s) colour" in message
    assert "tickets.csv: row 1: missing required column(s)" in message
    with sqlite_engine.connect() as conn:  # nothing was loaded
        assert conn.scalar(select(func.count()).select_from(Client)) == 0


def test_unknown_file_names_and_templates(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("a\n1\n")
    with pytest.raises(UserInputError, match=r"customers\.csv: not a table name"):
        CsvSource(tmp_path)
    written = write_templates(tmp_path / "templates")
    assert {p.name for p in written} >= {"clients.csv", "invoice_lines.csv", "README.md"}
    header = (tmp_path / "templates" / "tickets.csv").read_text().splitlines()[0]
    assert header.startswith("external_id,client_id,technician_id,opened_at")
    assert "| seats | yes |" in (tmp_path / "templates" / "README.md").read_text()
