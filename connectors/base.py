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

from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import Engine

from mspilot.connectors.checks import CheckReport
from mspilot.db.loader import QualityIssue
from mspilot.db.records import RowName

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
    #: table -> rows (external ids, or canonical ids) deleted or voided at the source
    deletes: dict[str, list[RowName]] = field(default_factory=dict)
    #: vendor records that could not be read or mapped (refused, each with its reason)
    issues: list[QualityIssue] = field(default_factory=list)
    #: the stream's bookmark once this batch is committed (None: leave it as it is)
    state: dict[str, Any] | None = None
    records: int = 0
    total: int | None = None

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(row)

    def merge(self, other: Batch) -> None:
        for table, rows in other.rows.items():
            self.rows.setdefault(table, []).extend(rows)
        for table, patches in other.patches.items():
            self.patches.setdefault(table, {}).update(patches)
        for table, ids in other.deletes.items():
            self.deletes.setdefault(table, []).extend(ids)
        self.issues.extend(other.issues)


@dataclass(frozen=True)
class Skipped:
    """A stream (or one partition of it) the credentials may not read: skipped, recorded."""

    stream: str
    partition: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"stream": self.stream, "partition": self.partition, "reason": self.reason}


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
    #: streams/partitions skipped in this run (forbidden to the credentials)
    skipped: list[Skipped] = field(default_factory=list)


class Stream(ABC):
    name: ClassVar[str]
    primary_key: ClassVar[tuple[str, ...]]
    cursor_field: ClassVar[str | None] = None
    schema: ClassVar[type[VendorRecord]]
    #: canonical tables this stream writes (empty for reference streams)
    tables: ClassVar[tuple[str, ...]] = ()
    #: the product cannot work without it (clients, invoices): unreadable, the sync fails
    required: ClassVar[bool] = False

    @abstractmethod
    def read(self, ctx: SyncContext, state: dict[str, Any]) -> Iterator[Batch]:
        """Yield batches; ``state`` is the stored bookmark ({} on the first run)."""

    def parse(self, raw: dict[str, Any]) -> VendorRecord:
        """Validate one vendor record against the stream's schema."""
        return self.schema.model_validate(raw)

    def key_of(self, raw: Any) -> str:
        key = raw.get(self.primary_key[0]) if isinstance(raw, dict) else None
        return str(key) if key not in (None, "") else "?"

    def parse_page(self, items: list[Any]) -> tuple[list[Any], list[QualityIssue]]:
        """Parse a page; a record that does not fit the schema is refused with its reason
        (never a crash of the whole sync)."""
        records: list[Any] = []
        issues: list[QualityIssue] = []
        for item in items:
            try:
                records.append(self.parse(item))
            except ValidationError as exc:
                reason = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}"
                    for e in exc.errors()[:5]
                )
                issues.append(QualityIssue(self.name, self.key_of(item), f"unreadable: {reason}"))
        return records, issues

    def map_safely(self, records: list[Any], mapper: Callable[[list[Any]], Batch]) -> Batch:
        """Map a page; if the page fails, map its records one by one and refuse (with the
        error) only those that fail."""
        try:
            return mapper(records)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError):
            pass
        merged = Batch()
        for record in records:
            try:
                one = mapper([record])
            except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as exc:
                key = str(getattr(record, self.primary_key[0], "?"))
                merged.issues.append(
                    QualityIssue(self.name, key, f"cannot map: {type(exc).__name__}: {exc}"[:500])
                )
                continue
            merged.merge(one)
        return merged


class Source(ABC):
    name: ClassVar[str]

    @abstractmethod
    def streams(self) -> list[Stream]:
        """Streams in the order they must run (parents before children)."""

    def check(self, ctx: SyncContext) -> CheckReport | None:
        """Credentials, each stream's permission, clock skew, rate-limit headroom, custom
        fields (``connectors.checks``); None for sources with nothing to check (CSV)."""
        return None

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
