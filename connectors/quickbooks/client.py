"""QuickBooks Online transport: OAuth 2 refresh (rotated refresh token persisted at once,
encrypted), the query endpoint with STARTPOSITION/MAXRESULTS paging, CDC, and Faults (also
inside HTTP 200) turned into typed errors."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from mspilot.connectors.errors import (
    RateLimited,
    SourceAPIError,
    SourceAuthError,
    SourceConfigError,
    StreamForbidden,
    TransientError,
)
from mspilot.connectors.http import RetryPolicy, Throttle, raise_for_transient, retry_after_seconds
from mspilot.core.logging import get_logger
from mspilot.db.credentials import CredentialStore, fingerprint

log = get_logger("mspilot.connectors.quickbooks")
RECONNECT = (
    "reconnect QuickBooks (authorize the app again) and set MSPILOT_QUICKBOOKS__REFRESH_TOKEN "
    "to the new refresh token"
)
_THROTTLE_CODES = {"3001", "003001"}


class OAuth2Refresh:
    """Keeps a valid QuickBooks access token. Every refresh may rotate the refresh token; the
    new one is written (encrypted) to the credential store before anything else happens, since
    losing it means the customer must reconnect."""

    def __init__(
        self,
        http: httpx.Client,
        token_url: str,
        client_id: str,
        client_secret: str,
        configured_refresh_token: str | None,
        store: CredentialStore,
        *,
        now: Callable[[], dt.datetime],
        retry: RetryPolicy,
    ) -> None:
        self.http = http
        self.token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._configured = configured_refresh_token
        self._origin = fingerprint(configured_refresh_token) if configured_refresh_token else None
        self.store = store
        self.now = now
        self.retry = retry
        self._access: str | None = None
        self._expires: dt.datetime | None = None
        self._lock = threading.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"OAuth2Refresh(token_url={self.token_url!r}, client_id=***, tokens=***)"

    def _current_refresh_token(self) -> str:
        stored = self.store.get("refresh_token")
        if stored is not None and (self._origin is None or stored.origin == self._origin):
            return stored.value
        if self._configured:
            return self._configured
        raise SourceConfigError(f"no QuickBooks refresh token: {RECONNECT}")

    def access_token(self) -> str:
        with self._lock:
            now = self.now()
            if self._access and self._expires and self._expires - dt.timedelta(seconds=60) > now:
                return self._access
            stored = self.store.get("access_token")
            if (
                stored is not None
                and stored.origin == self._origin
                and stored.expires_at is not None
                and stored.expires_at - dt.timedelta(seconds=60) > now
            ):
                self._access, self._expires = stored.value, stored.expires_at
                return stored.value
            return self._refresh()

    def invalidate(self) -> None:
        with self._lock:
            self._access = None
            self._expires = None
            if self.store.get("access_token") is not None:
                self.store.put("access_token", "", origin=self._origin, expires_at=self.now())

    def _refresh(self) -> str:
        refresh_token = self._current_refresh_token()

        def attempt() -> dict[str, Any]:
            response = self.http.post(
                self.token_url,
                auth=(self._client_id, self._client_secret),
                data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                headers={"Accept": "application/json"},
            )
            if response.status_code == 401:
                raise SourceAuthError(
                    "QuickBooks refused the app credentials (invalid_client): check "
                    "MSPILOT_QUICKBOOKS__CLIENT_ID and MSPILOT_QUICKBOOKS__CLIENT_SECRET"
                )
            if response.status_code == 400:
                error = ""
                with contextlib.suppress(ValueError):
                    error = str(response.json().get("error", ""))
                raise SourceAuthError(
                    f"QuickBooks refused the refresh token ({error or 'HTTP 400'}): {RECONNECT}"
                )
            raise_for_transient(response, "QuickBooks token refresh")
            if response.status_code != 200:
                raise SourceAPIError(f"QuickBooks token refresh: HTTP {response.status_code}")
            body: dict[str, Any] = response.json()
            return body

        body = self.retry.run(attempt, what="QuickBooks token refresh")
        new_refresh = str(body.get("refresh_token") or refresh_token)
        # persist the (possibly rotated) refresh token before using the access token
        self.store.put("refresh_token", new_refresh, origin=self._origin, now=self.now())
        access = str(body["access_token"])
        expires = self.now() + dt.timedelta(seconds=int(body.get("expires_in", 3600)))
        self.store.put(
            "access_token", access, origin=self._origin, expires_at=expires, now=self.now()
        )
        self._access, self._expires = access, expires
        self.refreshes += 1
        log.info("quickbooks token refreshed", rotated=new_refresh != refresh_token)
        return access


def _fault(body: Any) -> dict[str, Any] | None:
    if isinstance(body, dict):
        fault = body.get("Fault")
        if isinstance(fault, dict):
            return fault
    return None


class QuickBooksClient:
    """Calls ``/v3/company/{realmId}/...`` through the shared httpx client."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        realm_id: str,
        auth: OAuth2Refresh,
        *,
        throttle: Throttle,
        retry: RetryPolicy,
        minorversion: int = 75,
        page_size: int = 1000,
    ) -> None:
        if not 1 <= page_size <= 1000:
            raise ValueError("QuickBooks pages hold 1..1000 records")
        self.http = http
        self.base = f"{base_url.rstrip('/')}/v3/company/{realm_id}"
        self.realm_id = realm_id
        self.auth = auth
        self.throttle = throttle
        self.retry = retry
        self.minorversion = minorversion
        self.page_size = page_size
        self.requests = 0
        self._auth_failures = 0
        self.last_date: str | None = None

    def _check(self, response: httpx.Response, what: str) -> dict[str, Any]:
        self.last_date = response.headers.get("date")  # for ``sources check``'s clock skew
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        fault = _fault(body)
        errors = (fault or {}).get("Error") or []
        codes = {str(e.get("code", "")) for e in errors if isinstance(e, dict)}
        message = "; ".join(
            f"{e.get('Message', '')} {e.get('Detail', '')}".strip()
            for e in errors
            if isinstance(e, dict)
        )[:400]
        if response.status_code == 429 or codes & _THROTTLE_CODES:
            raise RateLimited(
                f"QuickBooks {what}: throttled", retry_after=retry_after_seconds(response)
            )
        if response.status_code == 401 or (fault and fault.get("type") == "AuthenticationFault"):
            self._auth_failures += 1
            if self._auth_failures > 2:
                raise SourceAuthError(
                    "QuickBooks keeps refusing freshly refreshed tokens: check "
                    f"MSPILOT_QUICKBOOKS__REALM_ID ({self.realm_id}) and that the app is still "
                    f"connected to that company, or {RECONNECT}"
                )
            self.auth.invalidate()
            raise TransientError(f"QuickBooks {what}: access token expired or revoked")
        if response.status_code == 403 or (fault and fault.get("type") == "AuthorizationFault"):
            raise StreamForbidden(
                f"QuickBooks denied access to company {self.realm_id} ({message or 'HTTP 403'}): "
                "check MSPILOT_QUICKBOOKS__REALM_ID and the app's scope "
                "(com.intuit.quickbooks.accounting)",
                what=what,
            )
        raise_for_transient(response, f"QuickBooks {what}")
        if fault is not None:
            if fault.get("type") == "SystemFault":
                raise TransientError(f"QuickBooks {what}: SystemFault {message}")
            raise SourceAPIError(
                f"QuickBooks {what} failed ({fault.get('type')}): {message}",
                code=next(iter(codes), None),
            )
        if response.status_code != 200 or not isinstance(body, dict):
            raise SourceAPIError(f"QuickBooks {what}: HTTP {response.status_code}")
        self._auth_failures = 0
        return body

    def get(self, path: str, params: dict[str, str], *, what: str) -> dict[str, Any]:
        def attempt() -> dict[str, Any]:
            token = self.auth.access_token()
            with self.throttle:
                self.requests += 1
                response = self.http.get(
                    f"{self.base}/{path}",
                    params={**params, "minorversion": str(self.minorversion)},
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                )
            return self._check(response, what)

        return self.retry.run(attempt, what=f"QuickBooks {what}")

    def query(self, text: str) -> dict[str, Any]:
        return self.get("query", {"query": text}, what="query")

    def query_pages(
        self, entity: str, *, where: str | None = None, order: str = "Id", max_repeats: int = 3
    ) -> Iterator[tuple[list[dict[str, Any]], str]]:
        """Pages of ``entity`` (``STARTPOSITION``/``MAXRESULTS``), with each answer's time.
        Stops on a short or empty page; a page that repeats the previous one is re-read."""
        start, repeats = 1, 0
        previous: list[Any] | None = None
        clause = f" WHERE {where}" if where else ""
        while True:
            body = self.query(
                f"SELECT * FROM {entity}{clause} ORDERBY {order} "
                f"STARTPOSITION {start} MAXRESULTS {self.page_size}"
            )
            items = [
                i
                for i in (body.get("QueryResponse") or {}).get(entity) or []
                if isinstance(i, dict)
            ]
            if not items:
                return
            ids = [i.get("Id") for i in items]
            if previous is not None and ids == previous:
                repeats += 1
                if repeats > max_repeats:
                    raise SourceAPIError(f"QuickBooks keeps repeating the page before {start}")
                self.retry.sleep(0.1 * repeats)
                continue
            repeats = 0
            yield items, str(body.get("time") or "")
            if len(items) < self.page_size:
                return
            previous = ids
            start += self.page_size

    def cdc(self, entities: list[str], since: str) -> tuple[dict[str, list[dict[str, Any]]], str]:
        body = self.get("cdc", {"entities": ",".join(entities), "changedSince": since}, what="cdc")
        out: dict[str, list[dict[str, Any]]] = {e: [] for e in entities}
        for block in body.get("CDCResponse") or []:
            for response in block.get("QueryResponse") or []:
                for entity in entities:
                    out[entity].extend(response.get(entity) or [])
        return out, str(body.get("time") or "")
