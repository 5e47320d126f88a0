"""A fake QuickBooks Online Accounting API v3 (external-apis.md section 2):

- OAuth 2 token endpoint: ``Authorization: Basic`` client id/secret, form body,
  ``grant_type=refresh_token``; every refresh **rotates** the refresh token (the old one dies
  at once) and issues a one-hour access token on the fake's clock;
- ``/v3/company/{realmId}/query`` (GET ``?query=`` or POST ``application/text``) with the
  query-language subset: ``SELECT * | count(*) FROM Entity [WHERE p op v AND ...]
  [ORDERBY|ORDER BY p [ASC|DESC]] [STARTPOSITION n] [MAXRESULTS n<=1000]``, operators
  ``= < > <= >= IN LIKE``; the response holds no entity key when empty;
- ``/v3/company/{realmId}/cdc?entities=..&changedSince=..`` (30-day look-back, at most 1000
  objects per entity, deleted entities as ``{"Id":..,"status":"Deleted"}``);
- Faults in Intuit's shape, also inside HTTP 200; 429 with code 3001 and ``Retry-After`` when
  more than 10 requests are in flight or 500 arrive in a minute; switchable faults (``Faults``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from mspilot.connectors.fakes.common import FakeClock, Faults
from mspilot.connectors.fakes.vendor_data import QuickBooksData, qbo_time
from mspilot.connectors.util import parse_time

ENTITIES = ("Customer", "Item", "Invoice", "Payment", "Bill", "Purchase", "Vendor", "Account")
MAX_RESULTS = 1000
CDC_MAX = 1000
CDC_WINDOW = dt.timedelta(days=30)
_CLAUSES = re.compile(r"\b(WHERE|ORDER\s*BY|STARTPOSITION|MAXRESULTS)\b", re.I)
_COND = re.compile(
    r"^\s*([A-Za-z][\w.]*)\s*(<=|>=|!=|=|<|>|\bIN\b|\bLIKE\b)\s*(.+?)\s*$", re.I | re.S
)


def _updated(record: Mapping[str, Any]) -> dt.datetime:
    when = parse_time(record["MetaData"]["LastUpdatedTime"])
    assert when is not None
    return when


def _clone(value: Any) -> Any:
    """A deep copy of JSON-shaped data (much faster than copy.deepcopy)."""
    return json.loads(json.dumps(value))


class QueryError(Exception):
    pass


def fault(kind: str, code: str, message: str, detail: str = "") -> dict[str, Any]:
    return {
        "Fault": {
            "Error": [
                {"Message": message, "Detail": detail or message, "code": code, "element": ""}
            ],
            "type": kind,
        },
    }


def _split_and(text: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    quoted, depth = False, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'" and not (i > 0 and text[i - 1] == "\\"):
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if not quoted and depth == 0 and text[i : i + 5].upper() == " AND ":
            parts.append("".join(buf))
            buf = []
            i += 5
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


def _value(token: str) -> Any:
    token = token.strip()
    if token.startswith("(") and token.endswith(")"):
        return [_value(t) for t in re.findall(r"'(?:[^'\\]|\\.)*'|[^,\s]+", token[1:-1])]
    if token.startswith("'") and token.endswith("'"):
        return token[1:-1].replace("\\'", "'")
    if token.lower() in ("true", "false"):
        return token.lower() == "true"
    try:
        return float(token)
    except ValueError:
        raise QueryError(f"cannot read value {token!r}") from None


def _field(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, Mapping) and "value" in value:
        return value["value"]  # XxxRef compares by its value
    return value


def _compare(actual: Any, op: str, want: Any) -> bool:
    op = op.upper()
    if actual is None:
        return False
    if op == "IN":
        return str(actual) in {str(w) for w in want}
    if op == "LIKE":
        pattern = "^" + re.escape(str(want)).replace("%", ".*") + "$"
        return re.match(pattern, str(actual), re.I) is not None
    a: Any = actual
    b: Any = want
    if isinstance(want, str) and "T" in want and isinstance(actual, str) and "T" in actual:
        a, b = parse_time(actual), parse_time(want)
    elif isinstance(want, float):
        try:
            a = float(actual)
        except (TypeError, ValueError):
            return False
    elif isinstance(want, bool):
        a = bool(actual)
    else:
        a, b = str(actual), str(want)
    result: bool = {
        "=": a == b,
        "!=": a != b,
        "<": a < b,
        ">": a > b,
        "<=": a <= b,
        ">=": a >= b,
    }[op]
    return result


def parse_query(text: str) -> dict[str, Any]:
    """The query-language subset as a dict (raises QueryError like Intuit's parser)."""
    match = re.match(r"^\s*select\s+(\*|count\(\*\))\s+from\s+(\w+)(.*)$", text, re.I | re.S)
    if not match:
        raise QueryError("QueryParserError: Encountered an unexpected token")
    what, entity, rest = match.group(1), match.group(2), match.group(3)
    if entity not in ENTITIES:
        raise QueryError(f"QueryValidationError: Invalid context declaration : {entity}")
    query: dict[str, Any] = {
        "count": what.lower().startswith("count"),
        "entity": entity,
        "where": [],
        "order": None,
        "start": 1,
        "max": 100,
    }
    pieces = _CLAUSES.split(rest)
    if pieces[0].strip():
        raise QueryError(f"QueryParserError: Encountered {pieces[0].strip()!r}")
    for keyword, body in zip(pieces[1::2], pieces[2::2], strict=True):
        key = re.sub(r"\s+", "", keyword.upper())
        body = body.strip()
        if key == "WHERE":
            for cond in _split_and(body):
                m = _COND.match(cond)
                if not m:
                    raise QueryError(f"QueryParserError: cannot read condition {cond!r}")
                query["where"].append((m.group(1), m.group(2).upper(), _value(m.group(3))))
        elif key == "ORDERBY":
            parts = body.split()
            direction = parts[1].upper() if len(parts) > 1 else "ASC"
            query["order"] = (parts[0], direction == "DESC")
        elif key == "STARTPOSITION":
            query["start"] = int(body)
        elif key == "MAXRESULTS":
            query["max"] = int(body)
    if query["max"] > MAX_RESULTS:
        raise QueryError(f"QueryValidationError: MAXRESULTS must not exceed {MAX_RESULTS}")
    if query["start"] < 1 or query["max"] < 1:
        raise QueryError("QueryValidationError: STARTPOSITION and MAXRESULTS start at 1")
    return query


class QuickBooksFake:
    """State and behaviour of one fake QuickBooks company; ``app()`` serves it."""

    def __init__(
        self,
        data: QuickBooksData,
        *,
        realm_id: str = "9130350000000000",
        client_id: str = "qbo-client",
        client_secret: str = "qbo-secret",  # noqa: S107 - a fake's own secret
        refresh_token: str = "rt-initial",  # noqa: S107 - a fake's own token
        clock: FakeClock | None = None,
        faults: Faults | None = None,
        rotate_refresh_tokens: bool = True,
        max_in_flight: int = 10,
        per_minute: int = 500,
    ) -> None:
        self.entities = _clone(data.entities)
        self.deleted: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in self.entities}
        self.realm_id = realm_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.rotate = rotate_refresh_tokens
        self.clock = clock or FakeClock()
        self.faults = faults or Faults()
        self.access_tokens: dict[str, dt.datetime] = {}
        self.refreshes = 0
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = max_in_flight
        self.per_minute = per_minute
        self._minute: deque[float] = deque()
        self._lock = threading.Lock()
        self.queries: list[str] = []
        self.on_request: Callable[[int], None] | None = None

    # ---- helpers -------------------------------------------------------------------------
    def now_text(self) -> str:
        return qbo_time(self.clock.now())

    def _auth_fault(self) -> JSONResponse:
        body = fault(
            "AuthenticationFault",
            "3200",
            "message=AuthenticationFailed; errorCode=003200; statusCode=401",
        )
        return JSONResponse(body | {"time": self.now_text()}, status_code=401)

    def _throttled(self, *, http_200: bool = False) -> JSONResponse:
        body = fault(
            "SystemFault",
            "3001",
            "message=ThrottleExceeded; errorCode=003001; statusCode=429",
            "The request limit was reached.",
        )
        headers = {"Retry-After": self.faults.retry_after} if self.faults.retry_after else {}
        return JSONResponse(
            body | {"time": self.now_text()}, status_code=200 if http_200 else 429, headers=headers
        )

    def _check_access(self, request: Request, realm: str) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        expires = self.access_tokens.get(token)
        if expires is None or expires <= self.clock.now():
            return self._auth_fault()
        if realm != self.realm_id:
            body = fault(
                "AuthorizationFault",
                "3100",
                "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            )
            return JSONResponse(body | {"time": self.now_text()}, status_code=403)
        return None

    def _rate_limited(self) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._minute and now - self._minute[0] >= 60:
                self._minute.popleft()
            self._minute.append(now)
            return len(self._minute) > self.per_minute or self.in_flight > self.max_in_flight

    def _run_query(self, text: str, repeat_page: bool) -> dict[str, Any]:
        query = parse_query(text)
        with self._lock:
            records = list(self.entities[query["entity"]].values())
        for path, op, want in query["where"]:
            records = [r for r in records if _compare(_field(r, path), op, want)]
        if query["count"]:
            return {"QueryResponse": {"totalCount": len(records)}, "time": self.now_text()}
        if query["order"]:
            path, desc = query["order"]

            def key(r: Mapping[str, Any]) -> tuple[int, Any]:
                v = _field(r, path)
                if path == "Id":
                    return (0, int(v))
                if isinstance(v, str) and "T" in v:
                    return (0, parse_time(v))
                return (0 if v is not None else 1, v if v is not None else "")

            records.sort(key=key, reverse=desc)
        else:
            records.sort(key=lambda r: int(r["Id"]))
        start = query["start"]
        if repeat_page and start > 1:
            start = max(1, start - query["max"])
        chunk = [_clone(r) for r in records[start - 1 : start - 1 + query["max"]]]
        body: dict[str, Any] = {}
        if chunk:
            body = {
                query["entity"]: chunk,
                "startPosition": query["start"],
                "maxResults": len(chunk),
            }
        return {"QueryResponse": body, "time": self.now_text()}

    # ---- HTTP ----------------------------------------------------------------------------
    def app(self, token_path: str = "/oauth2/v1/tokens/bearer") -> FastAPI:  # noqa: S107
        app = FastAPI(title="fake QuickBooks Online API")

        @app.post(token_path)
        async def token(request: Request) -> Response:
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
            if request.headers.get("authorization") != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            form = await request.form()
            if form.get("grant_type") != "refresh_token":
                return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
            with self._lock:
                if form.get("refresh_token") != self.refresh_token:
                    return JSONResponse({"error": "invalid_grant"}, status_code=400)
                if self.rotate:
                    self.refresh_token = "rt-" + secrets.token_urlsafe(16)
                access = "at-" + secrets.token_urlsafe(24)
                self.access_tokens[access] = self.clock.now() + dt.timedelta(seconds=3600)
                self.refreshes += 1
                refresh = self.refresh_token
            return JSONResponse(
                {
                    "token_type": "bearer",
                    "access_token": access,
                    "expires_in": 3600,
                    "refresh_token": refresh,
                    "x_refresh_token_expires_in": 8726400,
                }
            )

        async def guarded(
            request: Request, realm: str, handler: Callable[[str | None], dict[str, Any]]
        ) -> Response:
            with self._lock:
                self.requests += 1
                count = self.requests
                self.in_flight += 1
            try:
                if self.on_request:
                    self.on_request(count)
                denied = self._check_access(request, realm)
                if denied is not None:
                    return denied
                if self._rate_limited():
                    return self._throttled()
                kind = self.faults.draw()
                if kind == "expire_token":
                    with self._lock:
                        self.access_tokens.clear()
                    return self._auth_fault()
                if kind == "429":
                    return self._throttled()
                if kind == "5xx":
                    body = fault("SystemFault", "10000", "An application error has occurred")
                    return JSONResponse(body | {"time": self.now_text()}, status_code=503)
                if kind == "error200":
                    body = fault(
                        "SystemFault",
                        "10000",
                        "An application error has occurred while processing your request",
                    )
                    return JSONResponse(body | {"time": self.now_text()}, status_code=200)
                if kind == "timeout":
                    await asyncio.sleep(self.faults.hang_s)
                try:
                    return JSONResponse(handler(kind), headers={"intuit_tid": secrets.token_hex(8)})
                except QueryError as exc:
                    body = fault("ValidationFault", "4000", "Error parsing query", str(exc))
                    return JSONResponse(body | {"time": self.now_text()}, status_code=400)
            finally:
                with self._lock:
                    self.in_flight -= 1

        @app.get("/v3/company/{realm}/query")
        async def query_get(realm: str, request: Request) -> Response:
            text = request.query_params.get("query", "")
            with self._lock:
                self.queries.append(text)
            return await guarded(
                request, realm, lambda kind: self._run_query(text, kind == "repeat_page")
            )

        @app.post("/v3/company/{realm}/query")
        async def query_post(realm: str, request: Request) -> Response:
            text = (await request.body()).decode()
            with self._lock:
                self.queries.append(text)
            return await guarded(
                request, realm, lambda kind: self._run_query(text, kind == "repeat_page")
            )

        @app.get("/v3/company/{realm}/cdc")
        async def cdc(realm: str, request: Request) -> Response:
            names = [e for e in (request.query_params.get("entities") or "").split(",") if e]
            since_text = request.query_params.get("changedSince") or ""

            def handler(_kind: str | None) -> dict[str, Any]:
                since = parse_time(since_text) if since_text else None
                if not names or since is None:
                    raise QueryError("entities and changedSince are required")
                if since < self.clock.now() - CDC_WINDOW:
                    raise QueryError("changedSince must be within the last 30 days")
                out = []
                for name in names:
                    if name not in self.entities:
                        raise QueryError(f"unknown entity {name}")
                    with self._lock:
                        pool = list(self.entities[name].values()) + list(
                            self.deleted[name].values()
                        )
                    changed = [_clone(r) for r in pool if _updated(r) > since]
                    changed.sort(key=_updated)
                    changed = changed[:CDC_MAX]
                    entry: dict[str, Any] = {"startPosition": 1, "maxResults": len(changed)}
                    if changed:
                        entry[name] = changed
                    out.append(entry)
                return {"CDCResponse": [{"QueryResponse": out}], "time": self.now_text()}

            return await guarded(request, realm, handler)

        return app

    # ---- changes made "in QuickBooks" (tests, demo) ----------------------------------------
    def update(self, entity: str, entity_id: str, **changes: Any) -> dict[str, Any]:
        with self._lock:
            obj: dict[str, Any] = self.entities[entity][entity_id]
            obj.update(changes)
            obj["SyncToken"] = str(int(obj.get("SyncToken", "0")) + 1)
            obj["MetaData"] = {**obj.get("MetaData", {}), "LastUpdatedTime": self.now_text()}
            return obj

    def add(self, entity: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            record = dict(obj)
            record.setdefault("SyncToken", "0")
            record["MetaData"] = {"CreateTime": self.now_text(), "LastUpdatedTime": self.now_text()}
            self.entities[entity][record["Id"]] = record
            return record

    def delete(self, entity: str, entity_id: str) -> None:
        with self._lock:
            self.entities[entity].pop(entity_id)
            self.deleted[entity][entity_id] = {
                "Id": entity_id,
                "status": "Deleted",
                "domain": "QBO",
                "MetaData": {"LastUpdatedTime": self.now_text()},
            }

    def next_id(self, entity: str) -> str:
        with self._lock:
            ids = [int(i) for i in self.entities[entity]] + [int(i) for i in self.deleted[entity]]
            return str(max(ids, default=0) + 1)
