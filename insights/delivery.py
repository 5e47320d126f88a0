"""Sending a digest: the tenant's Slack channel and e-mail (SMTP, text + HTML).

The API feed and the widget's WebSocket get it too, but not from here: every server process
follows the finished digests in the database (``insights.server``), so a digest built by any
worker, or by ``mspilot digest run`` from cron, reaches the clients of every worker.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings, SmtpSettings
from mspilot.insights.model import Digest
from mspilot.insights.render import title, to_html, to_slack, to_text
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


def deliver(settings: Settings, delivery: Delivery, digest: Digest) -> dict[str, str]:
    """Send to every configured channel; returns channel → outcome (never raises)."""
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
    for channel, outcome in out.items():
        if outcome.startswith("failed"):
            log.warning(
                "digest delivery failed",
                tenant_id=digest.tenant_id,
                channel=channel,
                outcome=outcome,
            )
    return out
