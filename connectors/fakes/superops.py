"""A fake SuperOps.ai MSP GraphQL server (external-apis.md section 1), faithful where the
connector could go wrong:

- one ``POST /msp`` route; ``Authorization: Bearer`` (else HTTP 401) and
  ``CustomerSubDomain`` (else HTTP 400 with an empty body);
- queries parsed, validated and executed by graphql-core against an SDL built from the
  SuperOps reference, with ``scalar JSON`` association fields (sub-selections on them fail);
- ``listInfo`` paging: page from 1, pageSize capped at 100, ``hasMore`` null on the last page,
  ``totalCount``; conditions (string, number, date and boolean operators, ``joinOperator``
  groups, dotted attributes), ``sort``; no default order (records come in hash order);
- quirks seen on real tenants: ``getTicketList`` without ``ticketId`` selected returns no
  tickets; ``getAssetList`` selecting only ``listInfo`` fails;
- switchable faults (``Faults``): HTTP 429, 5xx, hangs, ``rate_limit_exceeded`` inside HTTP
  200, a page that repeats the previous one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    build_schema,
    graphql_sync,
)

from mspilot.connectors.fakes.common import FakeClock, Faults
from mspilot.connectors.fakes.superops_sdl import SDL
from mspilot.connectors.fakes.vendor_data import SuperOpsData
from mspilot.connectors.util import format_superops_time, parse_time

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


ResolveInfo = GraphQLResolveInfo[dict[str, Any]]  # resolver info; context is a plain dict


@functools.cache
def _schema() -> GraphQLSchema:
    """The SuperOps schema, built once per process (building takes a noticeable moment)."""
    return build_schema(SDL)


def _clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (much faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))


class ClientError(GraphQLError):
    """An application error: HTTP 200 with ``errors[].extensions.clientError``."""

    def __init__(
        self, code: str, param: Mapping[str, Any] | None = None, message: str = ""
    ) -> None:
        super().__init__(
            message or code,
            extensions={"clientError": [{"code": code, "param": dict(param or {})}]},
        )


def _get(record: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(record, Mapping):
            record = record.get(part)
        elif isinstance(record, list):
            record = [r.get(part) if isinstance(r, Mapping) else None for r in record]
        else:
            return None
    return record


def _as_time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_time(str(value))
    except ValueError:  # a value that is no time matches no date condition
        return None


def _as_number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _string_op(op: str, actual: Any, value: Any) -> bool:
    text = "" if actual is None else str(actual).lower()
    want = "" if value is None else str(value).lower()
    if op == "is":
        return text == want
    if op == "isNot":
        return text != want
    if op == "startsWith":
        return text.startswith(want)
    if op == "endsWith":
        return text.endswith(want)
    if op == "contains":
        return want in text
    if op == "notContains":
        return want not in text
    if op in ("includes", "notIncludes"):
        if not isinstance(value, list):
            raise ClientError("type_validation_failed", {"operator": op}, f"{op} takes an array")
        hit = text in {str(v).lower() for v in value}
        return hit if op == "includes" else not hit
    raise ClientError("type_validation_failed", {"operator": op}, f"unknown operator {op}")


def _matches(record: Mapping[str, Any], cond: Mapping[str, Any]) -> bool:
    if cond.get("operands") is not None:
        results = [_matches(record, c) for c in cond["operands"]]
        return (
            all(results) if str(cond.get("joinOperator", "AND")).upper() == "AND" else any(results)
        )
    attribute, op, value = cond.get("attribute"), cond.get("operator"), cond.get("value")
    if not attribute or not op:
        raise ClientError("mandatory_validation_failed", {"attributes": ["attribute", "operator"]})
    actual = _get(record, attribute)
    if op == "isEmpty":
        return actual in (None, "", [])
    if op == "isNotEmpty":
        return actual not in (None, "", [])
    if op in ("after", "before", "on", "between"):
        when = _as_time(actual)
        if when is None:
            return False
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                raise ClientError(
                    "type_validation_failed", {"operator": op}, "between takes [from, to]"
                )
            lo, hi = _as_time(value[0]), _as_time(value[1])
            return lo is not None and hi is not None and lo <= when <= hi
        ref = _as_time(value)
        if ref is None:
            raise ClientError("type_validation_failed", {"value": value}, "not a date")
        if op == "after":
            return when > ref
        if op == "before":
            return when < ref
        return when.date() == ref.date()
    if op in ("greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"):
        a, b = _as_number(actual), _as_number(value)
        if a is None or b is None:
            return False
        return {
            "greaterThan": a > b,
            "greaterThanOrEqual": a >= b,
            "lessThan": a < b,
            "lessThanOrEqual": a <= b,
        }[op]
    if op == "is" and isinstance(value, bool):
        return bool(actual) is value
    return _string_op(op, actual, value)


def _selected(info: ResolveInfo, list_field: str) -> set[str] | None:
    """Sub-fields selected under ``list_field`` (None when fragments make it unknowable)."""
    names: set[str] = set()
    for node in info.field_nodes:
        for sel in node.selection_set.selections if node.selection_set else []:
            if not isinstance(sel, FieldNode):
                return None
            if sel.name.value == list_field:
                if sel.selection_set is None:
                    continue
                for sub in sel.selection_set.selections:
                    if not isinstance(sub, FieldNode):
                        return None
                    names.add(sub.name.value)
    return names


def _order_key(record: Mapping[str, Any], key: str) -> str:
    return hashlib.blake2b(str(record.get(key)).encode(), digest_size=8).hexdigest()


class SuperOpsFake:
    """State and behaviour of one fake SuperOps tenant; ``app()`` serves it."""

    def __init__(
        self,
        data: SuperOpsData,
        *,
        token: str = "so-test-token",  # noqa: S107 - a fake's own token
        subdomain: str = "acme",
        clock: FakeClock | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.data = SuperOpsData(**{k: _clone(v) for k, v in data.__dict__.items()})
        self.token = token
        self.subdomain = subdomain
        self.clock = clock or FakeClock()
        self.faults = faults or Faults()
        self.schema = _schema()
        self.requests = 0
        self.served: list[tuple[str, int]] = []  # (list query, page) actually served
        self._lock = threading.Lock()
        self.on_request: Callable[[int], None] | None = None
        self._version = 0
        self._prepared: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        #: root queries the token's role may not run (answered ``forbidden``)
        self.forbidden: set[str] = set()

    # ---- list plumbing --------------------------------------------------------------------
    def _page(
        self,
        info: ResolveInfo,
        records: list[dict[str, Any]],
        list_info: Mapping[str, Any] | None,
        list_field: str,
        key: str,
    ) -> dict[str, Any]:
        list_info = dict(list_info or {})
        item_type = info.return_type
        while hasattr(item_type, "of_type"):
            item_type = item_type.of_type
        element = item_type.fields[list_field].type  # type: ignore[union-attr]
        while hasattr(element, "of_type"):
            element = element.of_type
        known = set(element.fields)
        cond = list_info.get("condition")
        cache_key = (
            id(records),
            json.dumps(cond, sort_keys=True, default=str),
            json.dumps(list_info.get("sort") or [], sort_keys=True, default=str),
            self._version,
        )
        prepared = self._prepared.get(cache_key)
        if prepared is None:
            prepared = self._filter_and_sort(records, list_info, cond, known, key)
            if len(self._prepared) > 64:
                self._prepared.clear()
            self._prepared[cache_key] = prepared
        records = prepared
        page = max(1, int(list_info.get("page") or 1))
        size = min(MAX_PAGE_SIZE, max(1, int(list_info.get("pageSize") or DEFAULT_PAGE_SIZE)))
        served_page = page
        if info.context.get("repeat_page") and page > 1:
            served_page = page - 1
        chunk = records[(served_page - 1) * size : served_page * size]
        has_more = page * size < len(records)
        selected = _selected(info, list_field)
        if list_field == "tickets" and selected is not None and "ticketId" not in selected:
            chunk = []
        with self._lock:
            self.served.append((info.field_name, page))
        return {
            list_field: [_clone(r) for r in chunk],
            "listInfo": {
                "page": page,
                "pageSize": size,
                "sort": list_info.get("sort") or [],
                "condition": cond,
                "hasMore": True if has_more else None,
                "totalCount": len(records),
            },
        }

    def _filter_and_sort(
        self,
        records: list[dict[str, Any]],
        list_info: Mapping[str, Any],
        cond: Mapping[str, Any] | None,
        known: set[str],
        key: str,
    ) -> list[dict[str, Any]]:
        if cond:
            for c in cond.get("operands") or [cond]:
                attr = c.get("attribute")
                if attr and attr.split(".")[0] not in known:
                    raise ClientError(
                        "type_validation_failed", {"attribute": attr}, f"unknown attribute {attr}"
                    )
            records = [r for r in records if _matches(r, cond)]
        records = sorted(records, key=lambda r: _order_key(r, key))
        for sort in reversed(list_info.get("sort") or []):
            attr = sort.get("attribute")
            if not attr or attr.split(".")[0] not in known:
                raise ClientError("type_validation_failed", {"attribute": attr}, "bad sort")
            desc = str(sort.get("order") or "ASC").upper() == "DESC"
            present = [r for r in records if _get(r, attr) is not None]
            missing = [r for r in records if _get(r, attr) is None]
            present.sort(key=lambda r: str(_get(r, attr)), reverse=desc)
            records = present + missing
        return records

    # ---- resolvers (graphql-core calls these on the root value) ----------------------------
    def root(self) -> dict[str, Callable[..., Any]]:
        d = self.data

        def listed(
            records: Callable[[], list[dict[str, Any]]], field: str, key: str
        ) -> Callable[..., Any]:
            def resolve(info: ResolveInfo, input: Mapping[str, Any] | None = None) -> Any:
                return self._page(info, records(), input, field, key)

            return resolve

        def sites(info: ResolveInfo, input: Mapping[str, Any]) -> Any:
            records = d.sites
            if input.get("clientId"):
                records = [s for s in records if _get(s, "client.accountId") == input["clientId"]]
            return self._page(info, records, input.get("listInfo"), "sites", "id")

        def worklogs(info: ResolveInfo, input: Mapping[str, Any]) -> Any:
            module = input.get("module") or "TICKET"
            return self._page(
                info, d.worklogs.get(module, []), input.get("listInfo"), "entries", "itemId"
            )

        def assets(info: ResolveInfo, input: Mapping[str, Any]) -> Any:
            if _selected(info, "assets") == set():
                raise GraphQLError("Internal Server Error")
            return self._page(info, d.assets, input, "assets", "assetId")

        def custom_fields(records: Callable[[], list[dict[str, Any]]]) -> Callable[..., Any]:
            def resolve(info: ResolveInfo) -> Any:
                return [_clone(r) for r in records()]

            return resolve

        resolvers: dict[str, Callable[..., Any]] = {
            "getClientCustomFieldList": custom_fields(lambda: d.client_custom_fields),
            "getTicketCustomFieldList": custom_fields(lambda: d.ticket_custom_fields),
            "getClientList": listed(lambda: d.clients, "clients", "accountId"),
            "getClientSiteList": sites,
            "getTechnicianList": listed(lambda: d.technicians, "userList", "userId"),
            "getServiceItemList": listed(lambda: d.service_items, "items", "itemId"),
            "getClientContractList": listed(lambda: d.contracts, "clientContracts", "contractId"),
            "getTicketList": listed(lambda: d.tickets, "tickets", "ticketId"),
            "getWorklogEntries": worklogs,
            "getInvoiceList": listed(lambda: d.invoices, "invoices", "invoiceId"),
            "getAssetList": assets,
            "getUnMonitoredAssetList": listed(lambda: d.unmonitored_assets, "assets", "assetId"),
        }
        return {name: self._guard(name, fn) for name, fn in resolvers.items()}

    def _guard(self, name: str, resolve: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(info: ResolveInfo, **kwargs: Any) -> Any:
            if name in self.forbidden:
                raise ClientError("forbidden")
            return resolve(info, **kwargs)

        return guarded

    # ---- HTTP ----------------------------------------------------------------------------
    def app(self, path: str = "/msp") -> FastAPI:
        app = FastAPI(title="fake SuperOps MSP API")
        root = self.root()

        @app.post(path)
        async def graphql_endpoint(request: Request) -> Response:
            with self._lock:
                self.requests += 1
                count = self.requests
            if self.on_request:
                self.on_request(count)
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse({"message": "Unauthorized"}, status_code=401)
            if request.headers.get("customersubdomain") != self.subdomain:
                return Response(status_code=400)
            fault = self.faults.draw(("429", "5xx", "timeout", "error200", "repeat_page"))
            if fault == "429":
                headers = (
                    {"Retry-After": self.faults.retry_after} if self.faults.retry_after else {}
                )
                return JSONResponse(
                    {"message": "Too Many Requests"}, status_code=429, headers=headers
                )
            if fault == "5xx":
                return JSONResponse({"message": "Bad Gateway"}, status_code=502)
            if fault == "timeout":
                await asyncio.sleep(self.faults.hang_s)
            if fault == "error200":
                return JSONResponse(
                    {
                        "data": {},
                        "errors": [
                            {
                                "message": "Rate limit exceeded",
                                "extensions": {
                                    "clientError": [{"code": "rate_limit_exceeded", "param": {}}]
                                },
                            }
                        ],
                    }
                )
            try:
                body = await request.json()
            except ValueError:
                return JSONResponse({"message": "Bad Request"}, status_code=400)
            result = graphql_sync(
                self.schema,
                body.get("query") or "",
                root_value=root,
                variable_values=body.get("variables"),
                operation_name=body.get("operationName"),
                context_value={"repeat_page": fault == "repeat_page"},
            )
            payload: dict[str, Any] = {"data": result.data}
            if result.errors:
                errors = []
                for err in result.errors:
                    formatted = err.formatted
                    if not formatted.get("extensions") and result.data is None:
                        formatted["extensions"] = {"classification": "ValidationError"}
                    errors.append(formatted)
                payload["errors"] = errors
            return JSONResponse(payload)

        return app

    # ---- changes made "in SuperOps" (tests, demo) ------------------------------------------
    def _stamp(self) -> str:
        now = self.clock.now()
        return format_superops_time(now)

    def update_ticket(self, ticket_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            self._version += 1
            for ticket in self.data.tickets:
                if ticket["ticketId"] == ticket_id:
                    ticket.update(changes)
                    ticket["updatedTime"] = self._stamp()
                    return ticket
        raise KeyError(ticket_id)

    def add_ticket(self, ticket: dict[str, Any]) -> None:
        with self._lock:
            self._version += 1
            record = dict(ticket)
            record.setdefault("createdTime", self._stamp())
            record["updatedTime"] = self._stamp()
            self.data.tickets.append(record)

    def add_worklog(self, entry: dict[str, Any], module: str = "TICKET") -> None:
        with self._lock:
            self._version += 1
            self.data.worklogs.setdefault(module, []).append(dict(entry))

    def tickets_by_id(self) -> dict[str, dict[str, Any]]:
        return {t["ticketId"]: t for t in self.data.tickets}

    def all_records(self) -> Iterator[tuple[str, dict[str, Any]]]:
        d = self.data
        for name in (
            "clients",
            "sites",
            "technicians",
            "service_items",
            "contracts",
            "tickets",
            "invoices",
            "assets",
            "unmonitored_assets",
        ):
            for record in getattr(d, name):
                yield name, record
        for records in d.worklogs.values():
            for record in records:
                yield "worklogs", record
