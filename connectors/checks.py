"""What ``mspilot sources check`` reports about a connection, and what every sync checks first:
credentials, the permission of every stream, the clock skew against the source, rate-limit
headroom and the custom-field layout found."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, replace
from email.utils import parsedate_to_datetime
from typing import Any

OK = "ok"
FORBIDDEN = "forbidden"
FAILED = "error"

#: beyond this, incremental bookmarks (source times) and our clock disagree enough to matter
SKEW_WARN_S = 120.0


@dataclass(frozen=True)
class StreamCheck:
    stream: str
    partition: str
    status: str  # ok | forbidden | error
    required: bool
    detail: str = ""


@dataclass(frozen=True)
class CustomField:
    entity: str  # client | ticket
    column: str  # udf4date
    label: str
    kind: str  # DATE, NUMERIC, ...
    maps_to: str | None = None  # the canonical fact it holds, if any


@dataclass
class CheckReport:
    source: str
    credentials: str = OK  # ok | the error
    streams: list[StreamCheck] = field(default_factory=list)
    clock_skew_s: float | None = None
    rate_limit: dict[str, Any] = field(default_factory=dict)
    custom_fields: list[CustomField] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the error that refused the credentials (a sync raises it as it is)
    error: Exception | None = field(default=None, repr=False, compare=False)

    @property
    def blocking(self) -> list[StreamCheck]:
        """Streams the product cannot work without that cannot be read."""
        return [s for s in self.streams if s.required and s.status != OK]

    @property
    def skipped(self) -> list[StreamCheck]:
        return [s for s in self.streams if not s.required and s.status != OK]

    @property
    def status(self) -> str:
        if self.credentials != OK or self.blocking:
            return "failed"
        if self.skipped or self.notes:
            return "ok with warnings"
        return OK

    def as_dict(self) -> dict[str, Any]:
        data = asdict(replace(self, error=None))
        data.pop("error")
        data["status"] = self.status
        return data


def skew_from_date_header(value: str | None, now: dt.datetime) -> float | None:
    """Seconds the source's clock (HTTP ``Date``) is ahead of ours (None: no header)."""
    if not value:
        return None
    try:
        theirs = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if theirs.tzinfo is None:
        theirs = theirs.replace(tzinfo=dt.UTC)
    return round((theirs - now).total_seconds(), 1)
