"""The connector framework (in the spirit of the Singer SDK / Airbyte CDK).

- A :class:`Source` declares :class:`Stream` s. A stream has a name, a primary key, an
  optional cursor field and a pydantic schema of the vendor's record shape; it reads pages
  (through a paginator and an authenticator owned by the source) and maps them to canonical
  records (``db.records``), yielding :class:`Batch` es.
- The runner (``connectors.runner``) commits each batch through ``db.loader.Loader`` and only
  then stores the batch's bookmark, so a run killed at any point re-reads at most one batch.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Engine

#: progress(stream, records_done_in_this_batch, total_hint)
ProgressFn = Callable[[str, int, int | None], None]


class VendorRecord(BaseModel):
    """Base of vendor-shaped records: names exactly as on the wire, unknown fields kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


@dataclass
class Batch:
    """What one page (or a final step) of a stream asks the runner to commit."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: table -> canonical id -> {column: value}: columns of rows another source owns
    patches: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: table -> external ids (or ``=canonical ids``) deleted or voided at the source
    deletes: dict[str, list[str]] = field(default_factory=dict)
    #: the stream's bookmark once this batch is committed (None: leave it as it is)
    state: dict[str, Any] | None = None
    records: int = 0
    total: int | None = None

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)


@dataclass
class SyncContext:
    """What a run hands every stream: where to write, for whom, and what time it is."""

    engine: Engine
    tenant_id: str
    now: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))
    force_full: bool = False
    progress: ProgressFn | None = None
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    #: per-run scratch shared by a source's streams (reference data read earlier in the run)
    cache: dict[str, Any] = field(default_factory=dict)


class Stream(ABC):
    name: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    cursor_field: ClassVar[str | None] = None
    schema: ClassVar[type[VendorRecord]]
    #: canonical tables this stream writes (empty for reference streams)
    tables: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def read(self, ctx: SyncContext, state: dict[str, Any]) -> Iterator[Batch]:
        """Yield batches; ``state`` is the stored bookmark ({} on the first run)."""

    def parse(self, raw: dict[str, Any]) -> VendorRecord:
        """Validate one vendor record against the stream's schema."""
        return self.schema.model_validate(raw)


class Source(ABC):
    name: ClassVar[str]

    @abstractmethod
    def streams(self) -> list[Stream]:
        """Streams in the order they must run (parents before children)."""

    def finish(self, ctx: SyncContext) -> dict[str, int]:
        """After every stream: cross-source reconciliation; returns counts to report."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the source holds (it does not own the shared HTTP client)."""

    @property
    def requests(self) -> int:
        return 0


def dump_state(state: dict[str, Any]) -> str:
    return json.dumps(state, separators=(",", ":"), sort_keys=True)


def load_state(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
