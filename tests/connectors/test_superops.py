"""SuperOps specifics: the fake behaves like the real API; typed errors; paging edge cases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from mspilot.connectors.errors import (
    RateLimited,
    SourceAPIError,
    SourceAuthError,
    SourceConfigError,
)
from mspilot.connectors.fakes.compare import compare_with_dataset
from mspilot.connectors.superops.client import ListInfoPaginator, raise_for_errors

TICKETS = (
    "query getTicketList($input: ListInfoInput!) { getTicketList(input: $input) "
    "{ tickets { %s } listInfo { page pageSize hasMore totalCount } } }"
)


def _post(vendors: Any, query: str, variables: dict[str, Any], **headers: str) -> httpx.Response:
    so = vendors.superops
    h = {"Authorization": f"Bearer {so.token}", "CustomerSubDomain": so.subdomain} | headers
    return httpx.post(
        vendors.superops_settings().base_url,
        json={"query": query, "variables": variables},
        headers=h,
    )


def test_fake_validates_queries_against_the_reference_schema(vendors: Any) -> None:
    bad = _post(vendors, TICKETS % "ticketId client { name }", {"input": {"page": 1}})
    assert bad.status_code == 200
    assert "must not have a selection" in bad.json()["errors"][0]["message"]
    unknown = _post(vendors, TICKETS % "ticketId description", {"input": {"page": 1}})
    assert "Cannot query field 'description'" in unknown.json()["errors"][0]["message"]
    # the documented quirk: without ticketId the list comes back empty
    quirk = _post(vendors, TICKETS % "subject", {"input": {"page": 1}}).json()
    assert quirk["data"]["getTicketList"]["tickets"] == []
    assert quirk["data"]["getTicketList"]["listInfo"]["totalCount"] > 0


def test_fake_pages_like_superops(vendors: Any, dataset: Any) -> None:
    total = len(dataset.tables["tickets"])
    last_page = -(-total // 100)
    body = _post(vendors, TICKETS % "ticketId", {"input": {"page": last_page, "pageSize": 500}})
    info = body.json()["data"]["getTicketList"]["listInfo"]
    assert info["pageSize"] == 100  # capped
    assert info["hasMore"] is None  # null, not false, on the last page
    assert info["totalCount"] == total
    after = _post(
        vendors,
        TICKETS % "ticketId updatedTime",
        {
            "input": {
                "page": 1,
                "pageSize": 100,
                "condition": {
                    "attribute": "updatedTime",
                    "operator": "after",
                    "value": "2026-06-20T00:00:00",
                },
                "sort": [{"attribute": "updatedTime", "order": "DESC"}],
            }
        },
    ).json()["data"]["getTicketList"]
    times = [t["updatedTime"] for t in after["tickets"]]
    assert times == sorted(times, reverse=True)
    assert all(t > "2026-06-20T00:00:00" for t in times)
    assert 0 < after["listInfo"]["totalCount"] < total


def test_bad_token_and_bad_subdomain_stop_with_what_to_fix(
    sqlite_engine: Engine, syncer: Any
) -> None:
    syncer.tenant(sqlite_engine)
    with pytest.raises(SourceAuthError, match="MSPILOT_SUPEROPS__API_TOKEN"):
        syncer.superops(sqlite_engine, settings=syncer.vendors.superops_settings(api_token="x"))
    with pytest.raises(SourceConfigError, match="MSPILOT_SUPEROPS__SUBDOMAIN"):
        syncer.superops(sqlite_engine, settings=syncer.vendors.superops_settings(subdomain="nope"))
    with pytest.raises(SourceConfigError, match="MSPILOT_SUPEROPS__API_TOKEN"):
        syncer.superops(sqlite_engine, settings=syncer.vendors.superops_settings(api_token=None))


@pytest.mark.parametrize(
    ("code", "error", "text"),
    [
        ("rate_limit_exceeded", RateLimited, "rate_limit_exceeded"),
        ("forbidden", SourceAuthError, "role"),
        ("subscription_paused", SourceAPIError, "paused"),
        ("entity_does_not_exist", SourceAPIError, "entity_does_not_exist"),
    ],
)
def test_errors_inside_http_200_become_typed_errors(
    code: str, error: type[Exception], text: str
) -> None:
    body = {"data": {}, "errors": [{"extensions": {"clientError": [{"code": code, "param": {}}]}}]}
    with pytest.raises(error, match=text):
        raise_for_errors(body, "getTicketList")
    with pytest.raises(SourceAPIError, match="rejected"):
        raise_for_errors({"errors": [{"message": "Validation error"}]}, "getTicketList")


def test_rate_limit_in_200_and_repeated_pages_are_handled(
    sqlite_engine: Engine, syncer: Any
) -> None:
    so = syncer.vendors.superops
    so.faults.push("error200", "repeat_page", "error200", "repeat_page", "429")
    syncer.tenant(sqlite_engine)
    syncer.superops(sqlite_engine, page_size=30)
    syncer.quickbooks(sqlite_engine)
    assert so.faults.injected == {"error200": 2, "repeat_page": 2, "429": 1}
    assert (
        compare_with_dataset(sqlite_engine, "sample", syncer.dataset.tables, syncer.vendors.ids)
        == []
    )


def test_paginator_stops_on_null_has_more_and_empty_pages() -> None:
    pages = {
        1: {"items": [{"id": 1}, {"id": 2}], "listInfo": {"hasMore": True}},
        2: {"items": [{"id": 3}], "listInfo": {"hasMore": None}},
    }
    got = list(ListInfoPaginator(2).pages(lambda p, _s: pages[p], "items", "id"))
    assert [len(items) for items, _ in got] == [2, 1]
    # hasMore lies (true forever) but the next page is empty: paging still ends
    lying = lambda p, _s: {  # noqa: E731
        "items": [{"id": p}] if p < 4 else [],
        "listInfo": {"hasMore": True},
    }
    assert len(list(ListInfoPaginator(1).pages(lying, "items", "id"))) == 3
    # a page that never stops repeating is an error, not an endless loop
    stuck = lambda p, _s: {"items": [{"id": 1}], "listInfo": {"hasMore": True}}  # noqa: E731
    with pytest.raises(SourceAPIError, match="keeps serving"):
        list(ListInfoPaginator(1).pages(stuck, "items", "id"))
