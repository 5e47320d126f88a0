"""Templated answers for the models' tools (churn risk, margins, leaks, forecast, pricing,
budget): the no-LLM voice, and the grounded fallback when an LLM's prose will not do.

Each renderer reads the tool's artifact (columns, rows, meta) by column name and prints only
values found there: nothing is computed but a sign or a share already in the rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mspilot.agent.results import ToolResult
from mspilot.agent.templates import format_unit

MAX_LISTED = 10


def _rows(result: ToolResult) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    table = result.table or {}
    columns = list(table.get("columns") or [])
    rows = [dict(zip(columns, r, strict=False)) for r in table.get("rows") or []]
    return rows, dict(table.get("meta") or {})


def _money(value: Any) -> str:
    return format_unit(value, "money")


def _pct(value: Any) -> str:
    return "n/a" if value is None else format_unit(value, "ratio")


def _label(text: Any) -> str:
    return str(text).replace("_", " ")


def _listed(meta: dict[str, Any], rows: list[dict[str, Any]]) -> int:
    top = meta.get("top")
    return min(int(top) if isinstance(top, int) and top > 0 else MAX_LISTED, MAX_LISTED, len(rows))


def _more(rows: list[Any], shown: int) -> list[str]:
    return [f"… and {len(rows) - shown} more in the table."] if len(rows) > shown else []


def churn_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    when = f" (as of {meta['as_of']})" if meta.get("as_of") else ""
    if not rows:
        return f"No active client to score{when}."
    if meta.get("client") and len(rows) == 1:
        r = rows[0]
        why = r["drivers"] or "no single reason stands out"
        risk = _pct(r["risk_90d"])
        return f"{r['client']} has a {risk} risk of leaving within 90 days{when}: {why}."
    shown = _listed(meta, rows)
    lines = [f"Clients most likely to leave in the next 90 days{when}:"]
    for n, r in enumerate(rows[:shown], start=1):
        why = r["drivers"] or "no single reason stands out"
        lines.append(f"{n}. {r['client']} — {_pct(r['risk_90d'])} risk: {why}")
    return "\n".join(lines + _more(rows, shown))


def margins_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    period = meta.get("period") or ""
    totals = meta.get("totals") or {}
    if not rows:
        return f"No client had activity in {period}."
    negative = [r for r in rows if isinstance(r["margin"], int | float) and r["margin"] < 0]
    worst_first = meta.get("order", "asc") == "asc"
    if worst_first and negative:
        head = f"{len(negative)} client{'s' if len(negative) != 1 else ''} lost money in {period}:"
        listed = negative
    elif worst_first:
        head = f"No client had a negative margin in {period}; the thinnest margins:"
        listed = rows
    else:
        head = f"Clients by margin in {period}, best first:"
        listed = rows
    shown = _listed(meta, listed) if not (worst_first and negative) else min(len(listed), 15)
    lines = [head]
    for n, r in enumerate(listed[:shown], start=1):
        rate = (
            f", effective rate {format_unit(r['effective_rate'], 'rate')}"
            if r.get("effective_rate") is not None
            else ""
        )
        lines.append(
            f"{n}. {r['client']}: margin {_money(r['margin'])} ({_pct(r['margin_pct'])}) on "
            f"revenue {_money(r['revenue'])}{rate}"
        )
    lines += _more(listed, shown)
    if totals:
        lines.append(
            f"All {len(rows)} clients: revenue {_money(totals.get('revenue'))}, margin "
            f"{_money(totals.get('margin'))} ({_pct(totals.get('margin_pct'))})."
        )
    return "\n".join(lines)


def leaks_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    if not rows:
        return "No revenue leaks found."
    by_type: dict[str, Any] = meta.get("by_type") or {}
    lines = [
        f"We are leaking {_money(meta.get('total_dollars'))} across {len(rows)} "
        f"finding{'s' if len(rows) != 1 else ''}. By type:"
    ]
    lines += [f"- {_label(kind)}: {_money(dollars)}" for kind, dollars in by_type.items()]
    shown = _listed(meta, rows)
    lines.append("Largest findings:")
    for n, r in enumerate(rows[:shown], start=1):
        lines.append(
            f"{n}. {r['client']} — {_label(r['type'])} ({r['period_start']} to "
            f"{r['period_end']}): {_money(r['dollars'])}. {r['detail']}"
        )
    return "\n".join(lines + _more(rows, shown))


def forecast_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    if not rows:
        return "The forecast has no weeks for that period."
    who = meta.get("client") or "all clients"
    lines = [
        f"Forecast for {who}, the {meta.get('weeks')} weeks starting {meta.get('first_week')} "
        f"to {meta.get('last_week')}: about {meta.get('tickets_total')} "
        f"tickets and {format_unit(meta.get('hours_total'), 'hours')} of technician time."
    ]
    capacity = meta.get("capacity_hours_per_week")
    if capacity and not meta.get("client"):
        peak = meta.get("peak_technicians_needed")
        tail = f"; at the busiest week {peak} technicians are needed" if peak else ""
        lines.append(f"Capacity is {format_unit(capacity, 'hours')} a week{tail}.")
    for r in rows[:MAX_LISTED]:
        band = f" ({r['tickets_lo']}–{r['tickets_hi']})" if r.get("tickets_lo") is not None else ""
        lines.append(f"- week of {r['week']}: {r['tickets']} tickets{band}, {r['hours']} hours")
    return "\n".join(lines + _more(rows, MAX_LISTED))


def _price_line(r: dict[str, Any]) -> str:
    return (
        f"{r['client']}: {r['action']} {_money(r['current_price'])} → "
        f"{_money(r['recommended_price'])} per {r['unit']} ({r['change_pct']:+.1f}%), expected "
        f"12-month gain {_money(r['expected_gain'])}, from {r['effective_on']}"
    )


def pricing_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    if not rows:
        return "No client matches those pricing recommendations."
    if meta.get("client") and len(rows) == 1:
        r = rows[0]
        why = " ".join(str(x) for x in meta.get("reasoning") or [])
        return (
            f"Recommended price for {r['client']}: {_money(r['recommended_price'])} per "
            f"{r['unit']} (now {_money(r['current_price'])}, {r['action']}, "
            f"{r['change_pct']:+.1f}%) from {r['effective_on']}; expected 12-month gain "
            f"{_money(r['expected_gain'])}; 90-day churn risk {_pct(r['churn_90d_now'])} → "
            f"{_pct(r['churn_90d_new'])}.\nWhy: {why}"
        )
    movers = [r for r in rows if r["action"] in ("raise", "lower")] or rows
    shown = _listed(meta, movers)
    under = int(meta.get("n_under_priced") or 0)
    lines = [
        f"{under} client{' is' if under == 1 else 's are'} under-priced; applying every "
        f"recommendation is worth {_money(meta.get('expected_gain'))} of expected profit over "
        f"{meta.get('horizon_months', 12)} months. Recommended changes:"
    ]
    lines += [f"{n}. {_price_line(r)}" for n, r in enumerate(movers[:shown], start=1)]
    return "\n".join(lines + _more(movers, shown))


def what_if_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    if not rows:
        return result.content
    r = rows[0]
    change = r["expected_profit_change"]
    verdict = (
        "worth it: expected profit goes up"
        if change > 0
        else "not worth it: expected profit goes down"
        if change < 0
        else "neutral for expected profit"
    )
    move = "Raising" if r["change_pct"] > 0 else "Cutting" if r["change_pct"] < 0 else "Keeping"
    breaches = meta.get("policy_breaches") or []
    policy = f" Outside policy: {'; '.join(breaches)}." if breaches else ""
    return (
        f"{move} {r['client']}'s price by {r['change_pct']:+.1f}% "
        f"({_money(r['current_price'])} → {_money(r['new_price'])} from {r['effective_on']}): "
        f"90-day churn risk {_pct(r['churn_90d_now'])} → {_pct(r['churn_90d_new'])}; monthly "
        f"margin {_money(r['monthly_margin_now'])} → {_money(r['monthly_margin_new'])}; "
        f"expected 12-month profit {_money(r['expected_profit_now'])} → "
        f"{_money(r['expected_profit_new'])} ({_money(change)}), {verdict}.{policy}"
    )


def budget_answer(result: ToolResult) -> str:
    rows, meta = _rows(result)
    lines = [
        f"Budget plan for {_money(meta.get('budget'))} and "
        f"{format_unit(meta.get('hours'), 'hours')} of technician time ({meta.get('status')}): "
        f"{len(rows)} actions, spending {_money(meta.get('total_cost'))} and "
        f"{format_unit(meta.get('hours_used'), 'hours')}, expected value "
        f"{_money(meta.get('expected_value'))} (net {_money(meta.get('net_value'))})."
    ]
    if meta.get("infeasibility"):
        lines.append(str(meta["infeasibility"]))
    binding = meta.get("binding") or []
    lines.append("Binding constraints: " + ("; ".join(binding) if binding else "none") + ".")
    lines += [f"At the margin, {s}." for s in meta.get("marginal") or []]
    for n, r in enumerate(rows[:MAX_LISTED], start=1):
        lines.append(
            f"{n}. {r['action']}: value {_money(r['value'])}, cost {_money(r['cost'])}, "
            f"{format_unit(r['hours'], 'hours')} ({r['reason']})"
        )
    return "\n".join(lines + _more(rows, MAX_LISTED))


#: tool name → its answer template
MODEL_ANSWERS: dict[str, Callable[[ToolResult], str]] = {
    "churn_risk": churn_answer,
    "client_margins": margins_answer,
    "revenue_leaks": leaks_answer,
    "demand_forecast": forecast_answer,
    "price_recommendation": pricing_answer,
    "price_what_if": what_if_answer,
    "budget_plan": budget_answer,
}
