"""A digest as plain text, HTML (e-mail), Slack Block Kit and feed entries."""

from __future__ import annotations

import hashlib
import html
from typing import Any

from mspilot.insights.model import DETECTORS, Digest, InsightItem

#: Slack ``action_id`` of each button (the Slack app's listeners use the same names).
ACTION_IDS: dict[str, str] = {
    "explain": "insight_explain",
    "snooze": "insight_snooze",
    "dismiss": "insight_dismiss",
    "wrong": "insight_wrong",
    "approve": "insight_approve",
}
#: Block Kit allows 50 blocks per message: two per insight plus a header and footer.
SLACK_MAX_ITEMS = 20
KIND_TITLE = {"weekly": "Weekly insights", "daily": "Urgent alerts", "manual": "Insights"}
ICONS = {"churn_risk": "🔻", "revenue_leak": "💸", "pricing": "🏷️", "capacity": "⏱️"}


def title(digest: Digest) -> str:
    return f"{KIND_TITLE[digest.kind]} for {digest.tenant_name} — {digest.as_of:%d %b %Y}"


def summary(digest: Digest) -> str:
    if not digest.items:
        return "Nothing new needs your attention."
    n = len(digest.items)
    return f"{n} insight{'s' if n != 1 else ''} · ${digest.total_dollars:,.0f} at stake"


def _badge(item: InsightItem) -> str:
    if item.status == "sent":
        return "sent before"
    if item.status == "changed":
        return f"updated ({item.change})" if item.change else "updated"
    return "new"


def _quiet_line(digest: Digest) -> str | None:
    s = digest.suppressed
    parts = [
        (s.already_sent, "already sent and unchanged"),
        (s.snoozed, "snoozed"),
        (s.dismissed, "dismissed"),
        (s.marked_wrong, "marked wrong"),
        (s.approved, "approved"),
        (s.over_limit, "beyond the top items"),
    ]
    shown = [f"{n} {what}" for n, what in parts if n]
    return ("Not repeated: " + ", ".join(shown) + ".") if shown else None


def decision_line(d: Any) -> str:
    a = d.action
    if a.get("type") == "price_change":
        return (
            f"{d.status.capitalize()}: {a.get('client_name')} ${a.get('from_price'):,.2f} → "
            f"${a.get('to_price'):,.2f}/{a.get('unit')} from {a.get('effective_on')}"
        )
    return f"{d.status.capitalize()}: {d.key}"


def extras(digest: Digest) -> list[tuple[str, list[str]]]:
    """(heading, lines) of what feedback changed: tuned thresholds and recorded decisions."""
    out = []
    if digest.tuning:
        out.append(("Tuned from your feedback", [t.text() for t in digest.tuning]))
    if digest.decisions:
        out.append(("Decisions recorded", [decision_line(d) for d in digest.decisions]))
    return out


# ---- text -----------------------------------------------------------------------------------


def to_text(digest: Digest) -> str:
    lines = [title(digest), "=" * len(title(digest)), summary(digest), ""]
    for n, item in enumerate(digest.items, 1):
        label = DETECTORS[item.detector].label
        lines.append(f"{n}. [{label}, {_badge(item)}] {item.title}")
        lines.append(f"   ${item.dollars:,.0f} at stake. {item.body}")
        lines.append("")
    for heading, entries in extras(digest):
        lines.append(f"{heading}:")
        lines.extend(f"- {entry}" for entry in entries)
        lines.append("")
    quiet = _quiet_line(digest)
    if quiet:
        lines.append(quiet)
    if digest.notes:
        lines.append("Not checked: " + "; ".join(digest.notes))
    return "\n".join(lines).rstrip() + "\n"


# ---- HTML (e-mail) --------------------------------------------------------------------------


def to_html(digest: Digest) -> str:
    e = html.escape
    rows = []
    for n, item in enumerate(digest.items, 1):
        label = DETECTORS[item.detector].label
        color = {"critical": "#b42318", "warning": "#b54708", "info": "#175cd3"}[item.severity]
        rows.append(
            "<tr>"
            f'<td style="padding:8px;vertical-align:top;color:#667085">{n}</td>'
            f'<td style="padding:8px"><div style="font-size:12px;color:{color}">'
            f"{e(label)} · {e(_badge(item))}</div>"
            f'<div style="font-weight:600">{e(item.title)}</div>'
            f'<div style="color:#344054">{e(item.body)}</div></td>'
            f'<td style="padding:8px;text-align:right;white-space:nowrap;font-weight:600">'
            f"${item.dollars:,.0f}</td></tr>"
        )
    parts = [
        '<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif;'
        'color:#101828;max-width:720px">',
        f"<h2>{e(title(digest))}</h2>",
        f"<p><strong>{e(summary(digest))}</strong></p>",
    ]
    if rows:
        parts.append(
            '<table style="border-collapse:collapse;width:100%" cellspacing="0">'
            '<tr style="background:#f2f4f7"><th style="padding:8px">#</th>'
            '<th style="padding:8px;text-align:left">Insight</th>'
            '<th style="padding:8px;text-align:right">At stake</th></tr>'
            + "".join(rows)
            + "</table>"
        )
    for heading, entries in extras(digest):
        parts.append(f"<h3>{e(heading)}</h3><ul>")
        parts.extend(f"<li>{e(entry)}</li>" for entry in entries)
        parts.append("</ul>")
    quiet = _quiet_line(digest)
    if quiet:
        parts.append(f'<p style="color:#667085">{e(quiet)}</p>')
    if digest.notes:
        parts.append(f'<p style="color:#667085">Not checked: {e("; ".join(digest.notes))}</p>')
    parts.append(
        '<p style="color:#667085;font-size:12px">Snooze, dismiss or correct an insight from '
        "Slack, or with <code>mspilot digest feedback</code>.</p></body></html>"
    )
    return "".join(parts)


# ---- Slack Block Kit ------------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(text: str, verdict: str, key: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": ACTION_IDS[verdict],
        "value": key,
    }
    if style:
        button["style"] = style
    return button


def item_blocks(n: int, item: InsightItem) -> list[dict[str, Any]]:
    icon = ICONS.get(item.detector, "•")
    label = DETECTORS[item.detector].label
    text = (
        f"{icon} *{n}. {item.title}*\n_{label} · {_badge(item)} · "
        f"${item.dollars:,.0f} at stake_\n{item.body}"
    )
    buttons = [
        _button("Explain", "explain", item.key),
        _button("Snooze 30 days", "snooze", item.key),
        _button("Dismiss", "dismiss", item.key),
        _button("Wrong", "wrong", item.key, "danger"),
    ]
    if item.action is not None:
        buttons.append(_button("Approve", "approve", item.key, "primary"))
    return [
        {
            "type": "section",
            "block_id": f"item:{n}",
            "text": {"type": "mrkdwn", "text": _clip(text, 2900)},
        },
        {"type": "actions", "block_id": f"act:{n}", "elements": buttons},
    ]


def to_slack(digest: Digest) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for ``chat.postMessage``."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title(digest), 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{summary(digest)}*"}},
    ]
    if digest.tuning or digest.decisions:
        lines = [f"🎛️ {t.text()}" for t in digest.tuning]
        lines += [f"✅ {decision_line(d)}" for d in digest.decisions]
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _clip("\n".join(lines), 2900)}],
            }
        )
    blocks.append({"type": "divider"})
    for n, item in enumerate(digest.items[:SLACK_MAX_ITEMS], 1):
        blocks.extend(item_blocks(n, item))
    footer = [x for x in (_quiet_line(digest),) if x]
    if len(digest.items) > SLACK_MAX_ITEMS:
        footer.append(f"{len(digest.items) - SLACK_MAX_ITEMS} more in the insights feed.")
    if digest.notes:
        footer.append("Not checked: " + "; ".join(digest.notes))
    if footer:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _clip(" ".join(footer), 2900)}],
            }
        )
    return f"{title(digest)}: {summary(digest)}", blocks


# ---- feed -----------------------------------------------------------------------------------


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def feed_entries(digest: Digest) -> list[dict[str, Any]]:
    """One entry per item in the API feed's ``Insight`` shape (the caller builds the model)."""
    out = []
    for item in digest.items:
        out.append(
            {
                "id": f"{digest.digest_id or 0}-{_short_hash(item.key)}",
                "tenant_id": digest.tenant_id,
                "kind": item.detector,
                "title": item.title,
                "body": item.body,
                "severity": item.severity,
                "client_id": item.client_id,
                "audience": item.audience,
                "data": {
                    "key": item.key,
                    "dollars": item.dollars,
                    "status": item.status,
                    "digest_id": digest.digest_id,
                    "digest_kind": digest.kind,
                    "evidence": item.evidence[:20],
                    "drivers": [d.model_dump() for d in item.drivers],
                    "action": item.action,
                },
            }
        )
    return out
