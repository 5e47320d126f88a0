"""Sending a digest: the tenant's Slack channel and e-mail (SMTP, text + HTML), and its alert
channels (``alert_channels``): Microsoft Teams (an incoming webhook or a Workflows "post to a
channel when a webhook request is received" URL, with an Adaptive Card) and a generic webhook
signed with HMAC-SHA256 over ``<timestamp>.<body>`` (``X-Mspilot-Timestamp``,
``X-Mspilot-Signature: v1=<hex>``): a receiver checks the signature and refuses a timestamp
older than a few minutes, so a captured delivery cannot be replayed (:func:`verify_signature`).
Both carry the same items and the feedback section (thresholds tuned, decisions recorded) as
Slack and e-mail.

The API feed and the widget's WebSocket get it too, but not from here: every server process
follows the finished digests in the database (``insights.server``), so a digest built by any
worker, or by ``mspilot digest run`` from cron, reaches the clients of every worker.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select

from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings, SmtpSettings
from mspilot.db.credentials import SecretBox
from mspilot.db.schema_tasks import AlertChannel
from mspilot.insights.model import DETECTORS, Digest
from mspilot.insights.render import extras, summary, title, to_html, to_slack, to_text
from mspilot.insights.store import Delivery

log = get_logger(__name__)


def slack_client(settings: Settings) -> object | None:
    """A synchronous Slack Web API client with the bot token (None without a token)."""
    token = settings.slack.bot_token
    if token is None:
        return None
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    client = WebClient(token=token.get_secret_value(), base_url=settings.slack.api_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def send_slack(settings: Settings, channel: str, digest: Digest) -> str:
    from slack_sdk.errors import SlackApiError

    client = slack_client(settings)
    if client is None:
        return "skipped: no MSPILOT_SLACK__BOT_TOKEN"
    text, blocks = to_slack(digest)
    try:
        response = client.chat_postMessage(  # type: ignore[attr-defined]
            channel=channel, text=text, blocks=blocks, unfurl_links=False
        )
    except SlackApiError as exc:
        return f"failed: {exc.response.get('error', 'slack error')}"
    return f"sent: {response.get('ts')}"


def email_message(smtp: SmtpSettings, recipients: tuple[str, ...], digest: Digest) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = title(digest)
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="mspilot")
    msg.set_content(to_text(digest))
    msg.add_alternative(to_html(digest), subtype="html")
    return msg


def send_email(smtp: SmtpSettings, recipients: tuple[str, ...], digest: Digest) -> str:
    if not smtp.host:
        return "skipped: no MSPILOT_SMTP__HOST"
    msg = email_message(smtp, recipients, digest)
    try:
        server: smtplib.SMTP
        if smtp.ssl:
            server = smtplib.SMTP_SSL(
                smtp.host, smtp.port, timeout=smtp.timeout_s, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        with server:
            if smtp.starttls and not smtp.ssl:
                server.starttls(context=ssl.create_default_context())
            if smtp.username and smtp.password is not None:
                server.login(smtp.username, smtp.password.get_secret_value())
            refused = server.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"failed: {type(exc).__name__}: {exc}"
    accepted = len(recipients) - len(refused)
    return f"sent: {accepted} recipient(s)"


def deliver(
    settings: Settings, delivery: Delivery, digest: Digest, *, engine: Engine | None = None
) -> dict[str, str]:
    """Send to every configured channel (with ``engine``, the tenant's alert channels too);
    returns channel → outcome (never raises)."""
    out: dict[str, str] = {}
    if digest.kind == "daily" and not digest.items:
        return {"slack": "skipped: no urgent items", "email": "skipped: no urgent items"}
    if delivery.slack_channel:
        out["slack"] = send_slack(settings, delivery.slack_channel, digest)
    else:
        out["slack"] = "skipped: no Slack channel configured"
    if delivery.email_to:
        out["email"] = send_email(settings.smtp, delivery.email_to, digest)
    else:
        out["email"] = "skipped: no recipients configured"
    if engine is not None:
        out.update(send_alerts(settings, engine, digest))
    for channel, outcome in out.items():
        if outcome.startswith("failed"):
            log.warning(
                "digest delivery failed",
                tenant_id=digest.tenant_id,
                channel=channel,
                outcome=outcome,
            )
    return out


# ---- alert channels: Microsoft Teams, signed webhooks ---------------------------------------

SIGNATURE_VERSION = "v1"
ALERT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    url: str
    secret: str | None


def add_alert_channel(
    settings: Settings, engine: Engine, tenant_id: str, kind: str, url: str, secret: str | None
) -> int:
    """Add a Teams or webhook channel; a webhook's signing secret is stored encrypted."""
    if kind not in ("teams", "webhook"):
        raise ValueError(f"unknown alert channel kind {kind!r}")
    if not url.startswith(("https://", "http://")):
        raise ValueError("the channel URL must be http(s)")
    sealed = None
    if kind == "webhook":
        if not secret or len(secret) < 16:
            raise ValueError("a webhook channel needs a signing secret of 16+ characters")
        key = settings.secret_key.get_secret_value() if settings.secret_key else None
        sealed = SecretBox.from_secret(key).encrypt(secret)
    with engine.begin() as conn:
        result = conn.execute(
            insert(AlertChannel).values(
                tenant_id=tenant_id,
                kind=kind,
                url=url,
                secret=sealed,
                enabled=True,
                created_at=dt.datetime.now(dt.UTC),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def alert_channels(settings: Settings, engine: Engine, tenant_id: str) -> list[Alert]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AlertChannel)
            .where(AlertChannel.tenant_id == tenant_id, AlertChannel.enabled.is_(True))
            .order_by(AlertChannel.id)
        ).all()
    out = []
    for r in rows:
        secret = None
        if r.secret:
            key = settings.secret_key.get_secret_value() if settings.secret_key else None
            secret = SecretBox.from_secret(key).decrypt(r.secret)
        out.append(Alert(int(r.id), str(r.kind), str(r.url), secret))
    return out


def digest_payload(digest: Digest) -> dict[str, Any]:
    """The digest as a webhook receiver gets it: items, and what feedback changed."""
    return {
        "type": "mspilot.digest",
        "tenant_id": digest.tenant_id,
        "kind": digest.kind,
        "as_of": digest.as_of.isoformat(),
        "digest_id": digest.digest_id,
        "title": title(digest),
        "summary": summary(digest),
        "items": [
            {
                "key": i.key,
                "detector": i.detector,
                "title": i.title,
                "body": i.body,
                "dollars": round(i.dollars, 2),
                "urgent": i.urgent,
                "status": i.status,
                "client_id": i.client_id,
                "client_name": i.client_name,
                "evidence": i.evidence,
            }
            for i in digest.items
        ],
        "feedback": [{"heading": h, "lines": lines} for h, lines in extras(digest)],
    }


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "<timestamp>." + body>``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance_s: int = 300,
) -> bool:
    """What a receiver of a signed webhook checks: a fresh timestamp and the signature."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)


def teams_message(digest: Digest) -> dict[str, Any]:
    """An Adaptive Card in the message envelope Teams incoming webhooks and Workflows take."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title(digest), "weight": "Bolder", "size": "Medium"},
        {"type": "TextBlock", "text": summary(digest), "wrap": True, "isSubtle": True},
    ]
    for n, item in enumerate(digest.items, 1):
        label = DETECTORS[item.detector].label
        body.append(
            {
                "type": "TextBlock",
                "text": f"{n}. **{item.title}**",
                "wrap": True,
                "separator": True,
                "color": "Attention" if item.urgent else "Default",
            }
        )
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Kind", "value": label},
                    {"title": "At stake", "value": f"${item.dollars:,.0f}"},
                ],
            }
        )
        if item.body:
            body.append({"type": "TextBlock", "text": item.body, "wrap": True})
        body.append(
            {
                "type": "TextBlock",
                "text": f"Feedback: `mspilot digest feedback {item.key} snooze|dismiss|wrong`",
                "wrap": True,
                "isSubtle": True,
                "size": "Small",
            }
        )
    for heading, lines in extras(digest):
        body.append({"type": "TextBlock", "text": heading, "weight": "Bolder", "separator": True})
        body.extend({"type": "TextBlock", "text": f"- {line}", "wrap": True} for line in lines)
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def _post(http: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> str:
    try:
        response = http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"failed: {type(exc).__name__}"
    if response.is_success:
        return f"sent: HTTP {response.status_code}"
    return f"failed: HTTP {response.status_code}"


def send_alerts(
    settings: Settings, engine: Engine, digest: Digest, *, http: httpx.Client | None = None
) -> dict[str, str]:
    """Post the digest to each of the tenant's alert channels: ``teams#ID`` / ``webhook#ID``."""
    try:
        channels = alert_channels(settings, engine, digest.tenant_id)
    except Exception as exc:  # e.g. a secret that no longer decrypts: say so, send the rest
        return {"alerts": f"failed: {type(exc).__name__}: {exc}"}
    if not channels:
        return {}
    out: dict[str, str] = {}
    client = http or httpx.Client(timeout=ALERT_TIMEOUT_S, follow_redirects=False)
    try:
        for ch in channels:
            name = f"{ch.kind}#{ch.id}"
            headers = {"Content-Type": "application/json", "User-Agent": "mspilot-alerts/1"}
            if ch.kind == "teams":
                body = json.dumps(teams_message(digest)).encode()
            else:
                body = json.dumps(digest_payload(digest), default=str).encode()
                stamp = int(time.time())
                headers["X-Mspilot-Timestamp"] = str(stamp)
                headers["X-Mspilot-Signature"] = sign(ch.secret or "", stamp, body)
            out[name] = _post(client, ch.url, body, headers)
    finally:
        if http is None:
            client.close()
    return out
