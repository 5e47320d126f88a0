"""One contract every connector must keep (schema conformance, pagination terminates,
bookmarks only move forward, a re-sync changes nothing), run over every connector."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.connectors.base import SyncContext
from mspilot.connectors.csv_source import CsvSource, export_tables
from mspilot.connectors.quickbooks.streams import STREAMS as QBO_STREAMS
from mspilot.connectors.runner import SyncSummary, run_source
from mspilot.connectors.superops.streams import STREAMS as SO_STREAMS
from mspilot.db.bookmarks import get_bookmarks
from mspilot.db.records import RECORDS

CONNECTORS = ("superops", "quickbooks", "csv")


@dataclass
class Harness:
    name: str
    syncer: Any
    folder: Path

    def run(
        self, engine: Engine, *, force_full: bool = False, page_size: int | None = None
    ) -> SyncSummary:
        if self.name == "superops":
            return self.syncer.superops(engine, force_full=force_full, page_size=page_size)
        if self.name == "quickbooks":
            return self.syncer.quickbooks(engine, force_full=force_full, page_size=page_size)
        ctx = SyncContext(engine, "sample", now=self.syncer.clock.now, force_full=force_full)
        return run_source(CsvSource(self.folder), ctx)

    def requests(self) -> int:
        v = self.syncer.vendors
        return {"superops": v.superops.requests, "quickbooks": v.quickbooks.requests}.get(
            self.name, 0
        )

    def served(self) -> Iterator[tuple[type[Any], dict[str, Any]]]:
        """Every record the source serves, with the schema its stream declares."""
        v = self.syncer.vendors
        if self.name == "superops":
            schemas = {s.name: s.schema for s in SO_STREAMS}
            d = v.superops.data
            groups = {
                "service_items": d.service_items,
                "client_sites": d.sites,
                "technicians": d.technicians,
                "clients": d.clients,
                "client_contracts": d.contracts,
                "tickets": d.tickets,
                "invoices": d.invoices,
                "assets": d.assets + d.unmonitored_assets,
                "worklog_entries": [e for es in d.worklogs.values() for e in es],
            }
            for stream, records in groups.items():
                for record in records:
                    yield schemas[stream], record
        elif self.name == "quickbooks":
            for stream in QBO_STREAMS:
                for record in v.quickbooks.entities[stream.entity].values():
                    yield stream.schema, record
        else:
            for table, rows in self.syncer.dataset.tables.items():
                for row in rows:
                    yield RECORDS[table], row

    def mutate(self) -> None:
        """A change at the source, stamped with the source's clock."""
        v = self.syncer.vendors
        self.syncer.clock.advance(3600)
        if self.name == "superops":
            ticket = v.superops.data.tickets[0]
            v.superops.update_ticket(ticket["ticketId"], subject=ticket["subject"] + " (edited)")
        elif self.name == "quickbooks":
            invoice = next(iter(v.quickbooks.entities["Invoice"].values()))
            v.quickbooks.update("Invoice", invoice["Id"], DueDate="2030-01-01")
        else:
            tables = self.syncer.dataset.tables
            tables["tickets"][0]["subject"] += " (edited)"
            export_tables(self.folder, {"tickets": tables["tickets"]})
        self.syncer.clock.advance(60)


@pytest.fixture(params=CONNECTORS)
def harness(request: pytest.FixtureRequest, syncer: Any, tmp_path: Path) -> Harness:
    export_tables(tmp_path, syncer.dataset.tables)
    return Harness(request.param, syncer, tmp_path)


def _times(state: Any) -> dict[str, dt.datetime]:
    """Every time-valued leaf of a bookmark, by its path."""
    out: dict[str, dt.datetime] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, str):
            try:
                when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return
            out[path] = when if when.tzinfo else when.replace(tzinfo=dt.UTC)

    walk(state, "")
    return out


def test_schema_conformance(harness: Harness, sqlite_engine: Engine) -> None:
    served = list(harness.served())
    assert served
    for schema, record in served:
        schema.model_validate(record)
    harness.syncer.tenant(sqlite_engine)
    summary = harness.run(sqlite_engine)
    assert summary.issues == 0
    assert sum(s.rejected for s in summary.streams) == 0
    assert summary.totals()["inserted"] > 0


def test_pagination_terminates(harness: Harness, sqlite_engine: Engine) -> None:
    v = harness.syncer.vendors
    v.superops.faults.push("repeat_page", "repeat_page")
    v.quickbooks.faults.push("repeat_page", "repeat_page")
    harness.syncer.tenant(sqlite_engine)
    page = 9
    summary = harness.run(sqlite_engine, page_size=page)
    records = summary.records
    if harness.name == "csv":
        assert all(s.batches <= 3 for s in summary.streams)
    else:
        # every page is read once (+ the repeats, the terminating page per stream/partition,
        # and QuickBooks' token refresh and CDC-less full reads)
        bound = records // page + 2 * (len(summary.streams) + 2) + 4
        assert 0 < summary.requests <= bound, (summary.requests, bound)


def test_bookmarks_only_move_forward(harness: Harness, sqlite_engine: Engine) -> None:
    harness.syncer.tenant(sqlite_engine)
    history: list[dict[str, dict[str, dt.datetime]]] = []
    for step in range(3):
        if step:
            harness.mutate()
        harness.run(sqlite_engine)
        marks = get_bookmarks(sqlite_engine, "sample", harness.name)
        assert marks, "a sync must leave bookmarks"
        history.append({s: _times(json.loads(v or "{}")) for s, v in marks.items()})
    for before, after in itertools.pairwise(history):
        for stream, times in before.items():
            for path, when in times.items():
                assert after[stream][path] >= when, (stream, path)


def test_resync_is_idempotent(harness: Harness, sqlite_engine: Engine) -> None:
    harness.syncer.tenant(sqlite_engine)
    harness.run(sqlite_engine)
    before = harness.syncer.snapshot(sqlite_engine)
    harness.syncer.clock.advance(5)
    again = harness.run(sqlite_engine, force_full=True)
    totals = again.totals()
    assert (totals["inserted"], totals["updated"], totals["deleted"]) == (0, 0, 0)
    assert harness.syncer.snapshot(sqlite_engine) == before
