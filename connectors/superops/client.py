"""SuperOps transport: bearer authenticator, GraphQL client (throttled, retried, errors typed)
and the ``listInfo`` paginator."""

from __future__ import annotations

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
from mspilot.connectors.http import RetryPolicy, Throttle, raise_for_transient

RENEW_CREDENTIAL_ADVICE = (
    "create a new API token in SuperOps (Settings → My Profile → API token; a new token "
    "replaces the old one) and set MSPILOT_SUPEROPS__API_TOKEN"
)
SUBDOMAIN_HELP = (
    "check MSPILOT_SUPEROPS__SUBDOMAIN: it is the 'acme' of acme.superops.ai "
    "(and MSPILOT_SUPEROPS__REGION / BASE_URL for EU accounts)"
)
_SUBSCRIPTION = {
    "subscription_trial_expired": "the SuperOps trial has expired",
    "subscription_paused": "the SuperOps subscription is paused",
    "subscription_cancelled": "the SuperOps subscription is cancelled",
}


class BearerAuth:
    """``Authorization: Bearer`` plus the ``CustomerSubDomain`` header SuperOps requires."""

    def __init__(self, token: str, subdomain: str) -> None:
        self._token = token
        self.subdomain = subdomain

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "CustomerSubDomain": self.subdomain,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"BearerAuth(subdomain={self.subdomain!r}, token=***)"


def _client_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in errors:
        ext = err.get("extensions") or {}
        for item in ext.get("clientError") or []:
            if isinstance(item, dict):
                out.append(item)
    return out


def raise_for_errors(body: dict[str, Any], what: str) -> None:
    """Turn ``errors[]`` of an HTTP-200 body into typed errors."""
    errors = body.get("errors")
    if not errors:
        return
    client = _client_errors(errors)
    codes = [str(c.get("code")) for c in client]
    if "rate_limit_exceeded" in codes:
        raise RateLimited(f"SuperOps {what}: rate_limit_exceeded")
    for code in codes:
        if code in _SUBSCRIPTION:
            raise SourceAPIError(
                f"{_SUBSCRIPTION[code]}: SuperOps refuses API calls until it is active again",
                code=code,
            )
    if "forbidden" in codes:
        raise StreamForbidden(
            f"SuperOps {what}: forbidden. The user the API token belongs to may not read this "
            "data; give that user a role with access (or use another user's token)",
            what=what,
        )
    if client:
        detail = "; ".join(f"{c.get('code')} {c.get('param') or ''}".strip() for c in client)
        raise SourceAPIError(f"SuperOps {what} failed: {detail}", code=codes[0])
    messages = "; ".join(str(e.get("message", "")) for e in errors)[:500]
    if "internal server error" in messages.lower():
        raise TransientError(f"SuperOps {what}: {messages}")
    raise SourceAPIError(
        f"SuperOps rejected the {what} query ({messages}); the API may have changed",
        code="query_rejected",
    )


class GraphQLClient:
    """POSTs GraphQL to SuperOps through the shared httpx client, throttled and retried."""

    def __init__(
        self,
        http: httpx.Client,
        endpoint: str,
        auth: BearerAuth,
        *,
        throttle: Throttle,
        retry: RetryPolicy,
    ) -> None:
        self.http = http
        self.endpoint = endpoint
        self.auth = auth
        self.throttle = throttle
        self.retry = retry
        self.requests = 0
        #: the last answer's ``Date`` and rate-limit headers (for ``sources check``)
        self.last_date: str | None = None
        self.last_rate_limit: dict[str, str] = {}

    def _check(self, response: httpx.Response, what: str) -> dict[str, Any]:
        self.last_date = response.headers.get("date")
        self.last_rate_limit = {
            k.lower(): v for k, v in response.headers.items() if "ratelimit" in k.lower()
        }
        if response.status_code == 401:
            raise SourceAuthError(
                f"SuperOps rejected the API token (HTTP 401): {RENEW_CREDENTIAL_ADVICE}"
            )
        if response.status_code == 400:
            raise SourceConfigError(
                f"SuperOps answered HTTP 400, which it does for an unknown or missing customer "
                f"subdomain ({self.auth.subdomain!r}): {SUBDOMAIN_HELP}"
            )
        raise_for_transient(response, f"SuperOps {what}")
        if response.status_code != 200:
            raise SourceAPIError(f"SuperOps {what}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise TransientError(f"SuperOps {what}: the answer was not JSON") from None
        if not isinstance(body, dict):
            raise TransientError(f"SuperOps {what}: unexpected answer")
        raise_for_errors(body, what)
        data = body.get("data")
        if not isinstance(data, dict) or what not in data:
            raise TransientError(f"SuperOps {what}: the answer has no data")
        result: dict[str, Any] = data[what] or {}
        return result

    def execute(self, query: str, variables: dict[str, Any], *, what: str) -> dict[str, Any]:
        """Run one query; ``what`` is the root field whose value is returned."""

        def attempt() -> dict[str, Any]:
            with self.throttle:
                self.requests += 1
                response = self.http.post(
                    self.endpoint,
                    json={"query": query, "variables": variables},
                    headers=self.auth.headers(),
                )
            return self._check(response, what)

        return self.retry.run(attempt, what=f"SuperOps {what}")


class ListInfoPaginator:
    """``listInfo`` paging: page from 1, stop when ``hasMore`` is not true (it is null on the
    last page) or a page is empty; a page that repeats the previous one is fetched again."""

    def __init__(self, page_size: int = 100, *, max_repeats: int = 3, max_pages: int = 100_000):
        if not 1 <= page_size <= 100:
            raise ValueError("SuperOps pages hold 1..100 records")
        self.page_size = page_size
        self.max_repeats = max_repeats
        self.max_pages = max_pages

    def pages(
        self,
        fetch: Callable[[int, int], dict[str, Any]],
        list_field: str,
        key: str,
        *,
        sleep: Callable[[float], None] | None = None,
    ) -> Iterator[tuple[list[dict[str, Any]], dict[str, Any]]]:
        page, repeats = 1, 0
        previous: list[Any] | None = None
        while page <= self.max_pages:
            result = fetch(page, self.page_size)
            items = [i for i in result.get(list_field) or [] if isinstance(i, dict)]
            info = result.get("listInfo") or {}
            if not items:
                return
            ids = [i.get(key) for i in items]
            if previous is not None and ids == previous:
                repeats += 1
                if repeats > self.max_repeats:
                    raise SourceAPIError(f"SuperOps keeps serving page {page - 1} as page {page}")
                if sleep:
                    sleep(0.1 * repeats)
                continue
            repeats = 0
            yield items, info
            if info.get("hasMore") is not True:
                return
            previous = ids
            page += 1
        raise SourceAPIError(f"SuperOps paging did not end after {self.max_pages} pages")
