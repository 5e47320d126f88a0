"""Webhooks in, through the API on a real broker (Redis, a private queue): signed QuickBooks
deliveries and secret-bearing SuperOps ones become sync tasks of the mapped tenant's named
streams; bad signatures, stale or replayed deliveries are refused; no input makes a 500."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspilot.connectors.fakes.webhooks import (
    QuickBooksChange,
    WebhookSender,
    quickbooks_body,
    sign_intuit,
)
from mspilot.db import migrate
from mspilot.db.engine import make_engine
from mspilot.db.loader import create_tenant
from mspilot.tasks import store

from .conftest import REDIS_URL, TENANT, settings_for, task_settings

VERIFIER = "intuit-verifier-token-for-tests"
SO_SECRET = "superops-secret-0123456789abcdef"
REALM = "9130350000000000"


def _messages(queue: str) -> list[dict[str, Any]]:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    ids = [i.decode() for i in client.lrange(f"mspilot-tasks:{queue}", 0, -1)]
    raw = client.hmget(f"mspilot-tasks:{queue}.msgs", ids) if ids else []
    return [json.loads(r) for r in raw if r]


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Any, str]]:
    from mspilot.api.app import create_app

    root: Path = tmp_path_factory.mktemp("webhooks")
    url = f"sqlite:///{root / 'mspilot.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    create_tenant(engine, TENANT)
    create_tenant(engine, "other")
    now = store.utcnow()
    store.save_account(engine, TENANT, "quickbooks", now, account=REALM)
    store.save_account(engine, TENANT, "superops", now, account="acme", webhook_secret=SO_SECRET)
    queue = task_settings().tasks.queue
    env = {
        "MSPILOT_BROKER_URL": REDIS_URL,
        "MSPILOT_TASKS__QUEUE": queue,
        "MSPILOT_WEBHOOKS__QUICKBOOKS_VERIFIER_TOKEN": VERIFIER,
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        app = create_app(settings_for(url, root / "var"), engine=engine, warm=False)
        with TestClient(app) as client:
            yield client, engine, queue
    import redis

    client_ = redis.Redis.from_url(REDIS_URL)
    for key in client_.keys(f"mspilot-tasks:{queue}*"):
        client_.delete(key)
    engine.dispose()


def test_a_signed_quickbooks_delivery_enqueues_a_cdc_sync_of_the_named_streams(
    app_client: tuple[TestClient, Any, str],
) -> None:
    client, _engine, queue = app_client
    sender = WebhookSender(client)
    changes = [
        QuickBooksChange("Invoice", "130", "Update", "2026-10-30T10:00:00-07:00"),
        QuickBooksChange("Customer", "7", "Create", "2026-10-30T10:00:01-07:00"),
        QuickBooksChange("Account", "3", "Update", "2026-10-30T10:00:02-07:00"),
    ]
    before = len(_messages(queue))
    response = sender.quickbooks(REALM, changes, VERIFIER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ignored"] == ["Account"]
    [job] = body["enqueued"]
    assert job["tenant_id"] == TENANT and job["streams"] == ["customers", "invoices"]
    sent = _messages(queue)[before:]
    assert [(m["actor_name"], m["kwargs"]["streams"], m["kwargs"]["trigger"]) for m in sent] == [
        ("mspilot_sync", ["customers", "invoices"], "webhook")
    ]
    # the same bytes again: a replay, refused and not enqueued
    again = client.post(
        "/v1/webhooks/quickbooks",
        content=quickbooks_body(REALM, changes),
        headers={"intuit-signature": sign_intuit(quickbooks_body(REALM, changes), VERIFIER)},
    )
    assert again.status_code == 409
    assert len(_messages(queue)) == before + 1
    # CloudEvents form, other realm unmapped: accepted, nothing enqueued
    other = sender.quickbooks("123", changes[:1], VERIFIER, cloudevents=True)
    assert other.status_code == 200 and other.json()["enqueued"] == []


def test_a_bad_intuit_signature_is_refused(app_client: tuple[TestClient, Any, str]) -> None:
    client, _engine, queue = app_client
    body = quickbooks_body(REALM, [QuickBooksChange("Invoice", "1", "Update", "")])
    before = len(_messages(queue))
    for header in (
        None,
        "",
        "not base64!",
        sign_intuit(body, "wrong-token"),
        sign_intuit(body + b" ", VERIFIER),
    ):
        headers = {} if header is None else {"intuit-signature": header}
        assert (
            client.post("/v1/webhooks/quickbooks", content=body, headers=headers).status_code == 401
        )
    assert len(_messages(queue)) == before


def test_superops_needs_the_tenants_secret_and_a_fresh_timestamp(
    app_client: tuple[TestClient, Any, str],
) -> None:
    client, _engine, queue = app_client
    sender = WebhookSender(client)
    ok = sender.superops(TENANT, "ticket.updated", "42", SO_SECRET)
    assert ok.status_code == 200, ok.text
    assert ok.json()["enqueued"][0]["streams"] == ["tickets"]
    assert _messages(queue)[-1]["kwargs"] == {
        "tenant_id": TENANT,
        "source": "superops",
        "streams": ["tickets"],
        "trigger": "webhook",
    }
    assert (
        sender.superops(TENANT, "ticket.updated", "42", "wrong-secret-0123456789").status_code
        == 401
    )
    assert sender.superops("other", "ticket.updated", "42", SO_SECRET).status_code == 401
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    assert sender.superops(TENANT, "ticket.updated", "42", SO_SECRET, now=stale).status_code == 401


_header = st.one_of(
    st.none(),
    st.text(max_size=80),
    st.binary(max_size=48).map(lambda b: base64.b64encode(b).decode()),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner, max_size=4)
    ),
    max_leaves=20,
)
_bodies = st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "eventNotifications": st.lists(
                st.fixed_dictionaries({"realmId": _json_values, "dataChangeEvent": _json_values}),
                max_size=3,
            )
        }
    ).map(lambda v: json.dumps(v).encode()),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=_bodies, header=_header, sign=st.booleans())
def test_malformed_quickbooks_deliveries_get_4xx_never_500(
    app_client: tuple[TestClient, Any, str], body: bytes, header: str | None, sign: bool
) -> None:
    client, _engine, _queue = app_client
    headers: dict[str, str | bytes] = (
        {"intuit-signature": sign_intuit(body, VERIFIER)} if sign else {}
    )
    if not sign and header is not None:  # any bytes a client may put in a header
        headers["intuit-signature"] = header.encode("latin-1", "replace")
    response = client.post("/v1/webhooks/quickbooks", content=body, headers=headers)
    assert response.status_code in (200, 400, 401, 409), response.text
    if not sign:
        assert response.status_code == 401


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=_bodies,
    tenant=st.text(min_size=1, max_size=50),
    secret=st.sampled_from([SO_SECRET, "", "nope"]),
)
def test_malformed_superops_deliveries_get_4xx_never_500(
    app_client: tuple[TestClient, Any, str], body: bytes, tenant: str, secret: str
) -> None:
    client, _engine, _queue = app_client
    response = client.post(
        f"/v1/webhooks/superops/{quote(tenant, safe='')}",
        content=body,
        headers={"x-mspilot-webhook-secret": secret},
    )
    assert response.status_code in (400, 401, 404, 405, 409), response.text
