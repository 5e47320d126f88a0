"""``mspilot sources check --source quickbooks`` and the check every QuickBooks sync runs
first: the OAuth refresh, the permission of every entity (``SELECT COUNT(*)``), the clock skew
against QuickBooks' answer ``time``, rate-limit headroom and the custom fields invoices use."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from mspilot.connectors.base import SyncContext
from mspilot.connectors.checks import (
    FAILED,
    FORBIDDEN,
    OK,
    SKEW_WARN_S,
    CheckReport,
    CustomField,
    StreamCheck,
    skew_from_date_header,
)
from mspilot.connectors.errors import ConnectorError, StreamForbidden
from mspilot.connectors.quickbooks.streams import STREAMS
from mspilot.core.errors import ConfigurationError

if TYPE_CHECKING:
    from mspilot.connectors.quickbooks.source import QuickBooksSource

#: Intuit's documented limits per company (realm)
DOCUMENTED = {"documented_per_minute": 500, "documented_concurrent": 10}


def check_quickbooks(source: QuickBooksSource, ctx: SyncContext) -> CheckReport:
    report = CheckReport("quickbooks")
    for cls in STREAMS:
        stream = cls(source)
        try:
            source.client.query(f"SELECT COUNT(*) FROM {stream.entity}")
            status, detail = OK, ""
        except StreamForbidden as exc:
            status, detail = FORBIDDEN, str(exc)
        except ConfigurationError as exc:  # the refresh token or the app was refused
            report.credentials, report.error = str(exc), exc
            return report
        except ConnectorError as exc:
            status, detail = FAILED, str(exc)
        report.streams.append(StreamCheck(stream.name, "", status, stream.required, detail))
    # the machine's clock against QuickBooks' (not the product's clock, which may be pinned)
    report.clock_skew_s = skew_from_date_header(source.client.last_date, dt.datetime.now(dt.UTC))
    if report.clock_skew_s is not None and abs(report.clock_skew_s) > SKEW_WARN_S:
        report.notes.append(
            f"our clock is {report.clock_skew_s:+.0f} s off QuickBooks': fix the machine's "
            "time (NTP); change-data-capture windows are computed from it"
        )
    report.rate_limit = {
        "configured_per_minute": source.client.throttle.per_minute,
        **DOCUMENTED,
    }
    try:
        body = source.client.query("SELECT * FROM Invoice MAXRESULTS 1")
        invoices = (body.get("QueryResponse") or {}).get("Invoice") or []
    except ConnectorError:
        invoices = []
    for invoice in invoices[:1]:
        for cf in invoice.get("CustomField") or []:
            if isinstance(cf, dict):
                report.custom_fields.append(
                    CustomField(
                        "invoice",
                        str(cf.get("DefinitionId") or ""),
                        str(cf.get("Name") or ""),
                        str(cf.get("Type") or ""),
                    )
                )
    return report
