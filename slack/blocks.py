"""Block Kit for the analyst's answers: the text, each result table, the sources."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from mspilot.agent.render import format_value, label

#: Slack allows 3,000 characters per section text and 50 blocks per message.
TEXT_LIMIT = 2900
TABLE_ROWS = 15
MAX_TABLES = 3

HELP = (
    "Ask me about your clients, tickets, time, invoices, margins, churn, leaks, demand or prices. "
    "Examples:\n• `/mspilot who is most likely to churn?`\n"
    "• `/mspilot revenue by client last quarter`\n• `/mspilot digest` — this week's insights\n"
    "Mention me in a channel (`@mspilot …`) or write to me directly; a thread is one "
    "conversation."
)
NOT_LINKED = (
    "I don't know who you are in mspilot yet, so I can't answer. Ask an owner to link your "
    "Slack account (`mspilot digest link-slack`), or make sure your Slack e-mail matches your "
    "mspilot user."
)


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)


def to_mrkdwn(markdown: str) -> str:
    """Markdown as Slack mrkdwn (bold, links, headings; & < > escaped)."""
    text = markdown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)
    text = _HEADING.sub(lambda m: f"*{m.group(1)}*", text)
    return _BOLD.sub(lambda m: f"*{m.group(1)}*", text)


def table_text(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = TABLE_ROWS
) -> str:
    """A monospaced table (inside a code block, so Slack keeps the alignment)."""
    head = [label(c) for c in columns]
    body = [
        [format_value(c, v) for c, v in zip(columns, row, strict=False)] for row in rows[:limit]
    ]
    widths = [
        min(28, max([len(head[i]), *(len(r[i]) for r in body if i < len(r))]))
        for i in range(len(head))
    ]

    def line(cells: Sequence[str]) -> str:
        out = []
        for i, width in enumerate(widths):
            cell = cells[i] if i < len(cells) else ""
            cell = cell if len(cell) <= width else cell[: width - 1] + "…"
            out.append(cell.rjust(width) if _numeric(cell) else cell.ljust(width))
        return "  ".join(out).rstrip()

    lines = [line(head), line(["─" * w for w in widths]), *(line(r) for r in body)]
    if len(rows) > limit:
        lines.append(f"… {len(rows) - limit} more rows")
    return "```" + clip("\n".join(lines), TEXT_LIMIT - 6) + "```"


def _numeric(cell: str) -> bool:
    return bool(re.fullmatch(r"[-+$]?[\d,]+(\.\d+)?%?", cell.strip()))


def thinking_blocks(header: str | None, status: str = "Thinking…") -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if header:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(header)}]})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"_{status}_"}]})
    return blocks


def progress_blocks(header: str | None, text: str, status: str | None) -> list[dict[str, Any]]:
    blocks = thinking_blocks(header, status or "Writing…")[:-1]
    if text:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": clip(to_mrkdwn(text) + " ▌")}}
        )
    if status:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"_{status}_"}]})
    return blocks


def answer_blocks(answer: Any, header: str | None = None) -> list[dict[str, Any]]:
    """The final answer: text, up to three result tables, the sources."""
    blocks: list[dict[str, Any]] = []
    if header:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": clip(header)}]})
    blocks.append(
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(to_mrkdwn(answer.answer or "—"))},
        }
    )
    shown = 0
    for art in answer.artifacts:
        if not art.columns or len(art.rows) < 2 or shown >= MAX_TABLES:
            continue
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": table_text(art.columns, art.rows)},
            }
        )
        shown += 1
    sources = []
    for c in answer.citations:
        if c.error:
            continue
        bits = [c.tool] + ([c.period] if c.period else []) + [f"{c.rows} rows"]
        sources.append(" · ".join(bits))
    if sources:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": clip("Source: " + "; ".join(sources))}],
            }
        )
    return blocks


def error_blocks(header: str | None, message: str) -> list[dict[str, Any]]:
    blocks = thinking_blocks(header, "")[:-1]
    blocks.append(
        {"type": "section", "text": {"type": "mrkdwn", "text": clip(f":warning: {message}")}}
    )
    return blocks
