"""Templated answers rendered straight from tool results (no language model involved).

Used by the deterministic router, and as the grounded fallback whenever an LLM's prose holds
a number no tool produced.
"""

from __future__ import annotations

from typing import Any

from mspilot.agent.artifacts import Table
from mspilot.agent.results import ToolResult

MAX_LISTED_ROWS = 15
_MONEY_HINTS = (
    "revenue",
    "margin",
    "cost",
    "amount",
    "balance",
    "mrr",
    "value",
    "price",
    "total",
    "billed",
    "leak",
    "budget",
    "spend",
    "rate",
)
_PCT_HINTS = ("pct", "percent", "share", "_ratio", "probability", "risk", "breach_rate")
#: Columns holding free text written by people or imported from a source (ticket subjects,
#: notes, knowledge-base passages): shown only inside a quoted block, as data.
FREE_TEXT_COLUMNS = frozenset(
    {"subject", "notes", "note", "description", "body", "text", "content", "resolution",
     "summary", "snippet", "comment", "comments", "title", "details", "memo"}
)  # fmt: skip
FENCE = "```"


def quote_data(text: str) -> str:
    """Text from the data as a fenced block: the widget, Slack and the CLI show it as quoted
    data, and nothing inside can close the fence or pose as part of the answer."""
    body = text.replace(FENCE, "'''").strip("\n")
    return f"{FENCE}\n{body}\n{FENCE}"


def has_free_text(columns: list[str]) -> bool:
    return any(str(c).lower() in FREE_TEXT_COLUMNS for c in columns)


def _is_pct(column: str) -> bool:
    col = column.lower()
    return any(h in col for h in _PCT_HINTS) or col.endswith("%")


def _is_money(column: str) -> bool:
    col = column.lower()
    return any(h in col for h in _MONEY_HINTS) and not _is_pct(col) and "hours" not in col


def format_value(column: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"${value:,}" if _is_money(column) else f"{value:,}"
    if isinstance(value, float):
        if _is_pct(column) and abs(value) <= 1.0:
            return f"{value * 100:.1f}%"
        if _is_money(column):
            return f"${value:,.2f}"
        return f"{value:,.2f}" if value != int(value) else f"{int(value):,}"
    return str(value)


def label(column: str) -> str:
    return column.replace("_", " ")


def _numeric_columns(table: Table) -> list[int]:
    rows = table.get("rows") or []
    out = []
    for i, _ in enumerate(table.get("columns") or []):
        vals = [r[i] for r in rows if i < len(r) and r[i] is not None]
        if vals and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            out.append(i)
    return out


def render_table(table: Table, limit: int = MAX_LISTED_ROWS) -> str:
    columns: list[str] = list(table.get("columns") or [])
    rows: list[list[Any]] = list(table.get("rows") or [])
    if not rows:
        return "No rows matched."
    numeric = _numeric_columns(table)
    if len(rows) == 1:
        return "; ".join(
            f"{label(c)}: {format_value(c, v)}" for c, v in zip(columns, rows[0], strict=False)
        )
    keys = [i for i in range(len(columns)) if i not in numeric] or [0]
    values = [i for i in numeric if i not in keys]
    lines = []
    for n, row in enumerate(rows[:limit], start=1):
        key = ", ".join(str(row[i]) for i in keys if i < len(row))
        vals = ", ".join(f"{label(columns[i])} {format_value(columns[i], row[i])}" for i in values)
        lines.append(f"{n}. {key}" + (f": {vals}" if vals else ""))
    total = int((table.get("meta") or {}).get("row_count") or len(rows))
    if total > limit:
        lines.append(f"… and {total - limit} more rows.")
    return "\n".join(lines)


def render_result(result: ToolResult) -> str:
    if result.error:
        return f"{result.name} failed: {result.content}"
    table = result.table
    if result.name == "search_knowledge":
        return render_passages(table) if table else quote_data(result.content)
    columns = list((table or {}).get("columns") or [])
    if table and columns and (len(table.get("rows") or []) <= MAX_LISTED_ROWS):
        headline = str((table.get("meta") or {}).get("title") or "").strip()
        body = render_table(table)
        if has_free_text(columns) and table.get("rows"):
            body = quote_data(body)
        return f"{headline}\n{body}" if headline else body
    if has_free_text(columns):
        return quote_data(result.content)
    return result.content


def render_passages(table: Table, limit: int = 4, chars: int = 600) -> str:
    """Knowledge-base passages: each source named, its text quoted as data."""
    rows = list(table.get("rows") or [])
    if not rows:
        return "No passages found in the knowledge base."
    columns = list(table.get("columns") or [])
    src = columns.index("source") if "source" in columns else 0
    txt = columns.index("text") if "text" in columns else len(columns) - 1
    parts = ["From the knowledge base (quoted as written):"]
    for n, row in enumerate(rows[:limit], start=1):
        text = str(row[txt])
        text = text if len(text) <= chars else text[:chars] + "…"
        parts.append(f"[{n}] {row[src]}\n{quote_data(text)}")
    return "\n".join(parts)


NO_ANSWER = (
    "I could not work out how to answer that from the data. Try asking about a metric over a "
    'period, e.g. "revenue by client last quarter", "how many P1 tickets did Contoso open in '
    'October?", "unbilled hours by technician" or "who is likely to churn?".'
)


def render_results(question: str, intent: dict[str, Any] | None, results: list[ToolResult]) -> str:
    """The default renderer: each successful result as a sentence or a numbered list."""
    if not results:
        return NO_ANSWER
    good = [r for r in results if not r.error]
    if not good:
        return "I could not get an answer: " + results[-1].content
    return "\n\n".join(render_result(r) for r in good)


def citation_line(citations: list[dict[str, Any]]) -> str:
    parts = []
    for c in citations:
        if c.get("error"):
            continue
        bits = [c["tool"]]
        if c.get("period"):
            bits.append(str(c["period"]))
        bits.append(f"{c.get('rows', 0)} row{'s' if c.get('rows', 0) != 1 else ''}")
        parts.append(" · ".join(bits))
    return ("Source: " + "; ".join(parts)) if parts else ""


def finish_answer(text: str, citations: list[dict[str, Any]], scope_line: str | None) -> str:
    """The answer as the user reads it: whose data (a client user's scope line), the text,
    then its sources."""
    source = citation_line(citations)
    final = f"{text}\n\n{source}" if source and source not in text else text
    if scope_line and not final.startswith(scope_line):
        final = f"{scope_line}\n{final}"
    return final
