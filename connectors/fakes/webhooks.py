"""The fake vendors' webhooks: deliveries in the vendors' real formats, posted like they post.

- QuickBooks: Intuit's ``eventNotifications`` body (realm, entities with name, id, operation
  and ``lastUpdated``) signed in ``intuit-signature`` (base64 HMAC-SHA256 of the exact bytes
  sent, keyed with the app's verifier token); :func:`quickbooks_cloudevents` builds the newer
  CloudEvents array (``qbo.<entity>.<operation>.v1``).
- SuperOps: what a workflow's "Send webhook" action posts: the tenant's secret in a custom
  header and ``{"event", "eventId", "timestamp", "data"}`` from the action's placeholders.

:func:`quickbooks_change` / :func:`superops_change` describe a change made through a fake's
``update``/``add`` so the delivery names what really changed.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class QuickBooksChange:
    entity: str  # Intuit's entity name: Customer, Invoice, Payment, Bill, Purchase, Item
    id: str
    operation: str  # Create, Update, Delete, Merge, Void
    last_updated: str


def quickbooks_change(
    entity: str, record: Mapping[str, Any], operation: str = "Update"
) -> QuickBooksChange:
    """The change a fake's record went through (its ``MetaData.LastUpdatedTime``)."""
    meta = record.get("MetaData") or {}
    return QuickBooksChange(
        entity, str(record["Id"]), operation, str(meta.get("LastUpdatedTime", ""))
    )


def quickbooks_body(realm_id: str, changes: Sequence[QuickBooksChange]) -> bytes:
    """Intuit's classic webhook body."""
    payload = {
        "eventNotifications": [
            {
                "realmId": realm_id,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": c.entity,
                            "id": c.id,
                            "operation": c.operation,
                            "lastUpdated": c.last_updated,
                        }
                        for c in changes
                    ]
                },
            }
        ]
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def quickbooks_cloudevents(realm_id: str, changes: Sequence[QuickBooksChange]) -> bytes:
    """The CloudEvents form of the same changes."""
    events = [
        {
            "specversion": "1.0",
            "id": uuid.uuid4().hex,
            "source": "intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
            "type": f"qbo.{c.entity.lower()}.{c.operation.lower()}d.v1",
            "datacontenttype": "application/json",
            "time": c.last_updated,
            "intuitentityid": c.id,
            "intuitaccountid": realm_id,
            "data": {},
        }
        for c in changes
    ]
    return json.dumps(events, separators=(",", ":")).encode()


def sign_intuit(body: bytes, verifier_token: str) -> str:
    """Intuit's ``intuit-signature`` of ``body``."""
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def superops_body(
    event: str, entity_id: str, *, now: dt.datetime, data: Mapping[str, Any] | None = None
) -> bytes:
    payload = {
        "event": event,
        "eventId": uuid.uuid4().hex,
        "timestamp": now.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": {"id": entity_id, **(data or {})},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass
class WebhookSender:
    """Posts deliveries to mspilot like the vendors do (through any httpx client, e.g. the
    API's TestClient)."""

    client: httpx.Client
    quickbooks_url: str = "/v1/webhooks/quickbooks"
    superops_url: str = "/v1/webhooks/superops/{tenant}"

    def quickbooks(
        self,
        realm_id: str,
        changes: Sequence[QuickBooksChange],
        verifier_token: str,
        *,
        cloudevents: bool = False,
    ) -> httpx.Response:
        body = (quickbooks_cloudevents if cloudevents else quickbooks_body)(realm_id, changes)
        return self.client.post(
            self.quickbooks_url,
            content=body,
            headers={
                "content-type": "application/json",
                "intuit-signature": sign_intuit(body, verifier_token),
            },
        )

    def superops(
        self,
        tenant_id: str,
        event: str,
        entity_id: str,
        secret: str,
        *,
        now: dt.datetime | None = None,
    ) -> httpx.Response:
        body = superops_body(event, entity_id, now=now or dt.datetime.now(dt.UTC))
        return self.client.post(
            self.superops_url.format(tenant=tenant_id),
            content=body,
            headers={"content-type": "application/json", "x-mspilot-webhook-secret": secret},
        )
