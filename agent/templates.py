"""Answer templates keyed by the router's intent (the product's no-LLM voice).

Every number printed comes from a tool result's rows; nothing is computed here except
filtering rows (an amount threshold, dropping zero rows for "which ... have" questions).
"""

from __future__ import annotations

import re
from typing import Any

from mspilot.agent.render import has_free_text, render_result, render_results
from mspilot.agent.results import ToolResult
from mspilot.prompts.agent import READ_AS

MAX_LINES = 15
_HAVE_QUESTION = re.compile(r"\b(which|who|list)\b.*\b(have|has|had|with|owe|owes)\b")

_SQL_TITLES = {
    "clients_in_industry": "Active clients in {industry}",
    "contracts_expiring": "Contracts ending {period}",
    "clients_onboarded": "Clients onboarded {period}",
    "stale_devices": "Managed devices not seen recently",
    "oldest_open_tickets": "Oldest open tickets",
    "largest_invoices": "Invoices",
    "technician_list": "Active technicians",
}


def format_unit(value: Any, unit: str) -> str:
    if value is None:
        return "no data"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit == "money":
        return f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "rate":
        return f"${value:,.2f}/h"
    if unit == "hours":
        return f"{value:,.2f} h"
    if unit == "score":
        return f"{value:.2f}"
    if isinstance(value, float) and value != int(value):
        return f"{value:,.2f}"
    return f"{int(value):,}"


def _metric_label(name: str) -> str:
    return {
        "mrr": "MRR",
        "csat": "CSAT",
        "p1_share": "Share of P1 tickets",
        "sla_breach_rate": "SLA breach rate",
        "avg_resolution_hours": "Average resolution time",
    }.get(name, name.replace("_", " ").capitalize())


def _scope(filters: dict[str, list[str]]) -> str:
    parts = []
    for key, values in filters.items():
        joined = ", ".join(str(v) for v in values)
        parts.append(
            joined if key in ("client", "technician") else f"{key.replace('_', ' ')} {joined}"
        )
    return f" for {'; '.join(parts)}" if parts else ""


def render_metric(question: str, intent: dict[str, Any], result: ToolResult) -> str:
    table = result.table or {}
    meta = table.get("meta") or {}
    columns: list[str] = list(table.get("columns") or [])
    rows: list[list[Any]] = [list(r) for r in table.get("rows") or []]
    metric = str(meta.get("metric") or (columns[-1] if columns else intent.get("metric") or ""))
    unit = str(meta.get("unit") or "")
    period = meta.get("period_label") or meta.get("period") or intent.get("period_label") or ""
    when = f" ({period})" if period else ""
    label = _metric_label(metric)
    filters = intent.get("filters") or {}
    if not columns:
        return result.content
    value_idx = len(columns) - 1
    if len(columns) == 1:
        value = rows[0][0] if rows else None
        return f"{label}{_scope(filters)}{when}: {format_unit(value, unit)}."
    amount = intent.get("amount")
    if amount:
        op, threshold = amount
        rows = [
            r
            for r in rows
            if isinstance(r[value_idx], int | float)
            and (r[value_idx] > threshold if op == "gt" else r[value_idx] < threshold)
        ]
    if _HAVE_QUESTION.search(question.lower()):
        rows = [r for r in rows if r[value_idx] not in (None, 0, 0.0)]
    dims = columns[:-1]
    if not rows:
        return f"No {' / '.join(dims)} matched{when}."
    top = intent.get("top_n")
    if top == 1 and rows:
        key = ", ".join(str(v) for v in rows[0][:-1])
        return f"{key} — {label.lower()} {format_unit(rows[0][-1], unit)}{_scope(filters)}{when}."
    by = " and ".join(d.replace("_", " ") for d in dims)
    head = f"Top {top} by {label.lower()}" if top else f"{label} by {by}"
    lines = [f"{head}{_scope(filters)}{when}:"]
    for n, row in enumerate(rows[:MAX_LINES], start=1):
        key = ", ".join(str(v) for v in row[:-1])
        lines.append(f"{n}. {key}: {format_unit(row[-1], unit)}")
    if len(rows) > MAX_LINES:
        lines.append(f"… and {len(rows) - MAX_LINES} more.")
    return "\n".join(lines)


def render_sql_intent(intent: dict[str, Any], result: ToolResult) -> str:
    name = str(intent.get("intent") or "")
    filters = intent.get("filters") or {}
    title = _SQL_TITLES.get(name, "Result").format(
        industry=", ".join(filters.get("industry") or []) or "that industry",
        period=intent.get("period_label") or "in the coming 90 days",
    )
    rows = (result.table or {}).get("rows") or []
    body = render_result(result)
    return f"{title} ({len(rows)}):\n{body}" if rows else f"{title}: none found."


def render_answer(question: str, intent: dict[str, Any] | None, results: list[ToolResult]) -> str:
    """The router's answer: a metric sentence or list, a titled SQL list, a model tool's own
    template (``agent.model_answers``), or the tool's text."""
    good = [r for r in results if not r.error]
    if not good:
        return render_results(question, intent, results)
    from mspilot.agent.model_answers import MODEL_ANSWERS  # it uses format_unit from here

    intent = intent or {}
    parts = []
    if intent.get("unread") and intent.get("reading"):
        words = ", ".join(f"'{w}'" for w in intent["unread"])
        parts.append(READ_AS.format(reading=intent["reading"], words=words))
    for result in good:
        model_answer = MODEL_ANSWERS.get(result.name)
        if model_answer is not None and (result.table or {}).get("columns"):
            parts.append(model_answer(result))
        elif result.name in ("query_metrics", "make_chart") and (result.table or {}).get("columns"):
            parts.append(render_metric(question, intent, result))
        elif result.name == "run_sql":
            parts.append(render_sql_intent(intent, result))
        elif result.name == "search_knowledge" or has_free_text(
            list((result.table or {}).get("columns") or [])
        ):
            parts.append(render_result(result))  # text from the data, quoted as data
        else:
            parts.append(result.content or render_result(result))
    return "\n\n".join(parts)
