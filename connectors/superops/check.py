"""``mspilot sources check --source superops`` and the check every SuperOps sync runs first:
the token and subdomain, the permission of every stream (one record of each list), the clock
skew against SuperOps' ``Date``, rate-limit headroom and the account's custom-field layout,
which also decides this tenant's field map (``fieldmap``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

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
from mspilot.connectors.superops.fieldmap import conventions_from, discover, resolve
from mspilot.connectors.superops.streams import STREAMS
from mspilot.core.errors import ConfigurationError
from mspilot.db.field_maps import load_field_maps, save_field_maps

if TYPE_CHECKING:
    from mspilot.connectors.superops.source import SuperOpsSource

SOURCE = "superops"
#: what the SuperOps help center documents (the reference's sources disagree: 100 vs 800)
DOCUMENTED_PER_MINUTE = "100-800"
_LAYOUT = (("client", "getClientCustomFieldList"), ("ticket", "getTicketCustomFieldList"))


def _custom_fields(source: SuperOpsSource, report: CheckReport) -> list[CustomField] | None:
    found: list[CustomField] = []
    for entity, root in _LAYOUT:
        query = f"query {root} {{ {root} {{ id columnName label fieldType }} }}"
        try:
            items: Any = source.client.execute(query, {}, what=root)
        except StreamForbidden:
            report.notes.append(
                f"{root}: forbidden; the field map stays as stored (or the defaults)"
            )
            return None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("columnName"):
                found.append(
                    CustomField(
                        entity,
                        str(item["columnName"]),
                        str(item.get("label") or ""),
                        str(item.get("fieldType") or "TEXT"),
                    )
                )
    return found


def check_superops(source: SuperOpsSource, ctx: SyncContext) -> CheckReport:
    report = CheckReport(SOURCE)
    for cls in STREAMS:
        stream = cls(source)
        for partition in stream.partitions():
            root = stream.root_for(partition)
            try:
                source.client.execute(
                    stream.query_for(partition),
                    stream.variables(partition, {"page": 1, "pageSize": 1}),
                    what=root,
                )
                status, detail = OK, ""
            except StreamForbidden as exc:
                status, detail = FORBIDDEN, str(exc)
            except ConfigurationError as exc:  # token or subdomain refused: nothing else runs
                report.credentials, report.error = str(exc), exc
                return report
            except ConnectorError as exc:
                status, detail = FAILED, str(exc)
            report.streams.append(
                StreamCheck(stream.name, partition, status, stream.required, detail)
            )
    # the machine's clock against SuperOps' (not the product's clock, which may be pinned)
    report.clock_skew_s = skew_from_date_header(source.client.last_date, dt.datetime.now(dt.UTC))
    if report.clock_skew_s is not None and abs(report.clock_skew_s) > SKEW_WARN_S:
        report.notes.append(
            f"our clock is {report.clock_skew_s:+.0f} s off SuperOps': incremental syncs look "
            "back a little, but fix the machine's time (NTP)"
        )
    report.rate_limit = {
        "configured_per_minute": source.client.throttle.per_minute,
        "documented_per_minute": DOCUMENTED_PER_MINUTE,
        **source.client.last_rate_limit,
    }
    fields = _custom_fields(source, report)
    stored = load_field_maps(ctx.engine, ctx.tenant_id, SOURCE)
    discovered = discover(fields) if fields is not None else None
    mapping = resolve(stored, discovered)
    if discovered is not None:
        save_field_maps(ctx.engine, ctx.tenant_id, SOURCE, discovered, now=ctx.now())
    maps_to = {(m.entity, m.column): m.fact for m in mapping.values() if m.column}
    report.custom_fields = [
        CustomField(f.entity, f.column, f.label, f.kind, maps_to.get((f.entity, f.column)))
        for f in fields or []
    ]
    for (entity, fact), m in sorted(mapping.items()):
        if m.column is None:
            report.notes.append(
                f"{entity} {fact}: no custom field holds it; derived where needed "
                f"(`mspilot sources map --set {entity}.{fact}=COLUMN` to name one)"
            )
    if not source.explicit_conventions:
        source.conventions = conventions_from(mapping)
    return report
