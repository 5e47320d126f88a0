"""Vendor webhooks in: verify, parse, and turn into sync tasks (the API route is thin).

QuickBooks Online: Intuit signs each delivery with ``intuit-signature``, the base64 of the
HMAC-SHA256 of the raw body keyed with the app's verifier token. The body names company ids
(realms) and changed entities, in the classic ``eventNotifications`` shape or the CloudEvents
shape (a JSON array of events with ``type`` ``qbo.<entity>.<operation>.v1`` and
``intuitaccountid``). Each realm maps to a tenant (``vendor_accounts``); its changed entities
become one incremental (CDC) sync of those streams.

SuperOps: a workflow's "Send webhook" action posts to ``/v1/webhooks/superops/<tenant>`` with
the tenant's secret in ``X-Mspilot-Webhook-Secret`` (a custom header of the action) and a JSON
body ``{"event": "ticket.updated", "eventId": "...", "timestamp": "<ISO 8601>"}`` built from the
action's placeholders; the entity names the stream to sync.

Replays are refused: a delivery whose exact body was accepted before (its SHA-256 is kept in
``webhook_events``), and a SuperOps delivery whose timestamp is outside the replay window.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: QuickBooks entity -> the connector's stream
QBO_STREAMS = {
    "item": "items",
    "customer": "customers",
    "invoice": "invoices",
    "payment": "payments",
    "bill": "bills",
    "purchase": "purchases",
}
#: SuperOps entity -> the connector's stream
SUPEROPS_STREAMS = {
    "serviceitem": "service_items",
    "service_item": "service_items",
    "site": "client_sites",
    "technician": "technicians",
    "client": "clients",
    "contract": "client_contracts",
    "clientcontract": "client_contracts",
    "client_contract": "client_contracts",
    "ticket": "tickets",
    "invoice": "invoices",
    "worklog": "worklog_entries",
    "worklogentry": "worklog_entries",
    "worklog_entry": "worklog_entries",
    "asset": "assets",
}


class WebhookRefused(Exception):
    """A delivery that is not accepted: ``status`` is the HTTP answer (400, 401, 409, 413)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def body_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def intuit_signature(raw: bytes, verifier_token: str) -> str:
    """What Intuit puts in ``intuit-signature`` for ``raw`` (also used by the fakes)."""
    mac = hmac.new(verifier_token.encode(), raw, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def verify_intuit(raw: bytes, header: str | None, verifier_token: str) -> None:
    """Refuse (401) a delivery whose signature is missing, malformed or wrong."""
    if not header:
        raise WebhookRefused(401, "missing intuit-signature")
    try:
        given = base64.b64decode(header.strip().encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise WebhookRefused(401, "malformed intuit-signature") from None
    expected = hmac.new(verifier_token.encode(), raw, hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise WebhookRefused(401, "bad intuit-signature")


class _Entity(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(max_length=60)
    id: str | int | None = None
    operation: str | None = Field(default=None, max_length=20)


class _DataChange(BaseModel):
    model_config = ConfigDict(extra="allow")
    entities: list[_Entity] = Field(default_factory=list, max_length=10_000)


class _Notification(BaseModel):
    model_config = ConfigDict(extra="allow")
    realmId: str = Field(min_length=1, max_length=40)
    dataChangeEvent: _DataChange = Field(default_factory=_DataChange)


class _Classic(BaseModel):
    model_config = ConfigDict(extra="allow")
    eventNotifications: list[_Notification] = Field(max_length=1000)


class _CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(min_length=1, max_length=120)
    intuitaccountid: str = Field(min_length=1, max_length=40)


@dataclass
class Changes:
    """What a delivery says changed: account (realm / tenant) -> streams."""

    streams: dict[str, set[str]] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)

    def add(self, account: str, stream: str | None, entity: str) -> None:
        if stream is None:
            self.ignored.append(entity)
            return
        self.streams.setdefault(account, set()).add(stream)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRefused(400, "the body is not JSON") from None


def parse_quickbooks(raw: bytes) -> Changes:
    """Realms and streams named by a QuickBooks delivery (classic or CloudEvents)."""
    data = _json(raw)
    changes = Changes()
    try:
        if isinstance(data, list):
            for item in data:
                event = _CloudEvent.model_validate(item)
                parts = event.type.split(".")
                entity = parts[1].lower() if len(parts) > 2 and parts[0] == "qbo" else event.type
                changes.add(event.intuitaccountid, QBO_STREAMS.get(entity), entity)
        else:
            classic = _Classic.model_validate(data)
            for note in classic.eventNotifications:
                for ent in note.dataChangeEvent.entities:
                    changes.add(note.realmId, QBO_STREAMS.get(ent.name.lower()), ent.name)
    except ValidationError as exc:
        raise WebhookRefused(400, f"not a QuickBooks webhook: {exc.errors()[0]['msg']}") from None
    return changes


class _SuperOpsEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    event: str = Field(min_length=1, max_length=80)
    eventId: str | None = Field(default=None, max_length=120)
    timestamp: dt.datetime


def parse_superops(
    raw: bytes, tenant_id: str, now: dt.datetime, replay_window_s: int
) -> tuple[Changes, str]:
    """(streams to sync, the event) of a SuperOps delivery; stale timestamps are refused."""
    data = _json(raw)
    try:
        event = _SuperOpsEvent.model_validate(data)
    except ValidationError as exc:
        raise WebhookRefused(400, f"not a SuperOps webhook: {exc.errors()[0]['msg']}") from None
    stamp = event.timestamp if event.timestamp.tzinfo else event.timestamp.replace(tzinfo=dt.UTC)
    if abs((now - stamp).total_seconds()) > replay_window_s:
        raise WebhookRefused(401, "timestamp outside the replay window")
    entity = event.event.replace("-", ".").split(".")[0].lower()
    changes = Changes()
    changes.add(tenant_id, SUPEROPS_STREAMS.get(entity), event.event)
    return changes, event.event
