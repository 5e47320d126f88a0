"""Small parsers shared by the connectors: vendor times, money strings, service periods."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

_PERIOD = re.compile(
    r"service period:?\s*(\d{4}-\d{2}-\d{2})\s*(?:to|-|–|\.\.)\s*(\d{4}-\d{2}-\d{2})?", re.I
)
_PERIOD_FROM = re.compile(r"service period:?\s*from\s*(\d{4}-\d{2}-\d{2})", re.I)


def parse_time(value: str | None) -> dt.datetime | None:
    """Vendor timestamps as aware UTC datetimes.

    SuperOps sends UTC without a zone (``2022-06-28T05:25:10``, sometimes with milliseconds);
    QuickBooks sends an offset (``2014-09-19T13:16:17-07:00``).
    """
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_date(value: str | None) -> dt.date | None:
    if not value:
        return None
    return dt.date.fromisoformat(value.strip()[:10])


def format_superops_time(value: dt.datetime) -> str:
    """UTC, no zone, seconds precision: what SuperOps sends and accepts."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def money(value: Any) -> Decimal | None:
    """A money/quantity value (SuperOps sends strings, QuickBooks numbers) as a Decimal."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value).replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def service_period(text: str | None) -> tuple[dt.date | None, dt.date | None]:
    """``Service period 2026-03-01 to 2026-03-31`` (or ``from 2026-03-01``) in free text."""
    if not text:
        return None, None
    match = _PERIOD.search(text)
    if match:
        return parse_date(match.group(1)), parse_date(match.group(2))
    match = _PERIOD_FROM.search(text)
    if match:
        return parse_date(match.group(1)), None
    return None, None


def format_service_period(start: dt.date | None, end: dt.date | None) -> str:
    if start is None:
        return ""
    if end is None:
        return f"Service period from {start.isoformat()}"
    return f"Service period {start.isoformat()} to {end.isoformat()}"


def email_domain(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rsplit("@", 1)[1].strip().lower() or None
