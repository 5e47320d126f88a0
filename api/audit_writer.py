"""The API's audit trail writer: requests append rows, a background thread writes them in
batches (see :class:`AuditWriter`)."""

from __future__ import annotations

import threading
import time
from collections import deque

from sqlalchemy import Engine

from mspilot.core.logging import get_logger
from mspilot.db.audit import ROW_COLUMNS, AuditRecord, AuditRow, record_rows

log = get_logger(__name__)


class AuditWriter:
    """Writes audit rows from a background thread in batches; a request only appends a flat
    tuple to a deque (no cross-thread wake-up per request, nothing for the garbage collector to
    walk). Each batch is one statement (:func:`~mspilot.db.audit.record_rows`), so the writer
    takes the GIL a few times per batch, not per row, and keeps up with the request rate.
    ``flush()`` returns once everything submitted before it is written."""

    def __init__(self, engine: Engine, interval_s: float = 0.25, batch: int = 2000) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.batch = batch
        self._pending: deque[AuditRow] = deque()
        self._submitted = 0
        self._written = 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, record: AuditRecord) -> None:
        self.submit_row(record.row())

    def submit_row(self, row: AuditRow) -> None:
        self._pending.append(row)
        self._submitted += 1

    def _drain(self) -> None:
        while self._pending:
            batch: list[AuditRow] = []
            while self._pending and len(batch) < self.batch:
                batch.append(self._pending.popleft())
            try:
                record_rows(self.engine, batch)
            except Exception:  # one bad row must not cost the batch: write them one by one
                self._write_singly(batch)
            self._written += len(batch)

    def _write_singly(self, batch: list[AuditRow]) -> None:
        """Each row on its own; if the first rows all fail, the database itself is failing
        (down, full): the batch is given up rather than retried a row at a time."""
        failed = written = 0
        for row in batch:
            if failed >= 3 and not written:
                break
            try:
                record_rows(self.engine, [row])
                written += 1
            except Exception:  # the audit must never take the service down
                failed += 1
                if failed == 1:
                    named = dict(zip(ROW_COLUMNS, row, strict=True))
                    log.exception(
                        "audit write failed", resource=named["resource"], status=named["status"]
                    )
        if written < len(batch):
            log.warning("audit rows not written", lost=len(batch) - written, of=len(batch))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            self._drain()
        self._drain()

    def flush(self, timeout_s: float = 10.0) -> None:
        target = self._submitted
        deadline = time.monotonic() + timeout_s
        self._wake.set()
        while self._written < target and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
