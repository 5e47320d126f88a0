"""The graph's nodes and routing functions.

- ``route``: the deterministic router (fast path). A confident match plans the tool calls
  itself and the language model is skipped.
- ``planner``: the language model chooses tool calls or writes the answer.
- ``tools``: runs the planned calls under the turn's budgets; errors, unknown tools,
  repeated calls and bad arguments come back as tool messages, never as exceptions.
- ``answer``: the final, grounded reply with its citations.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.tools import BaseTool
from pydantic import ValidationError

from mspilot.agent.artifacts import to_table
from mspilot.agent.grounding import build_evidence, numbers_in, ungrounded_numbers
from mspilot.agent.plan import PlannedCall, Renderer, Route, Router
from mspilot.agent.render import NO_ANSWER, finish_answer, render_results
from mspilot.agent.results import ToolResult
from mspilot.agent.state import AgentState, Budget
from mspilot.agent.toolcalls import parse_content_tool_calls, validate_call
from mspilot.agent.turn import (
    call_signature,
    last_ai,
    question_of,
    tool_results,
    turn_messages,
)
from mspilot.core.logging import get_logger
from mspilot.prompts import agent as prompts

log = get_logger(__name__)

ToolSelector = Callable[[str, Sequence[BaseTool]], Sequence[BaseTool]]
MAX_HISTORY_TURNS = 3
MAX_ERROR_CHARS = 600


# ---- routing functions --------------------------------------------------------------------


def route_after_router(state: AgentState) -> Literal["tools", "planner", "answer"]:
    mode = state.get("mode")
    if mode == "router":
        ai = last_ai(turn_messages(state.get("messages", [])))
        return "tools" if ai is not None and ai.tool_calls else "answer"
    return "planner" if mode == "llm" else "answer"


def _out_of_time(state: AgentState) -> bool:
    return time.time() > state.get("deadline", float("inf"))


def route_after_planner(state: AgentState, budget: Budget) -> Literal["tools", "answer"]:
    if state.get("stop_reason"):
        return "answer"
    ai = last_ai(turn_messages(state.get("messages", [])))
    if ai is None or not ai.tool_calls:
        return "answer"
    if state.get("tool_calls_used", 0) >= budget.max_tool_calls or _out_of_time(state):
        return "answer"
    return "tools"


def route_after_tools(state: AgentState, budget: Budget) -> Literal["planner", "answer"]:
    if state.get("mode") != "llm" or state.get("stop_reason"):
        return "answer"
    if state.get("planner_rounds", 0) >= budget.max_planner_rounds or _out_of_time(state):
        return "answer"
    return "planner"


# ---- route (fast path) ----------------------------------------------------------------------


def _ai_with_calls(route: Route) -> AIMessage:
    calls: list[ToolCall] = [
        {
            "name": c.name,
            "args": c.args,
            "id": f"route_{uuid.uuid4().hex[:10]}",
            "type": "tool_call",
        }
        for c in route.calls
    ]
    return AIMessage(content="", tool_calls=calls)


def make_route_node(
    router: Router | None,
    has_model: bool,
    budget: Budget | None = None,
    fast_path: bool = True,
) -> Callable[[AgentState], dict[str, Any]]:
    wall_clock = (budget or Budget()).wall_clock_s

    def route(state: AgentState) -> dict[str, Any]:
        """The turn starts here: its wall-clock deadline is set, then the router is asked.

        A confident route (or any route when there is no model) plans the tool calls itself;
        otherwise what the router recognised (names, period, metric) goes to the model as hints.
        """
        deadline = time.time() + wall_clock
        question = question_of(state)
        decision = router.route(question, state.get("last_intent")) if router else None
        if decision is not None and decision.reply:
            return {
                "mode": "router",
                "intent": {
                    "intent": decision.intent,
                    "confidence": decision.confidence,
                    "reply": decision.reply,
                    **decision.slots,
                },
                "hints": None,
                "question": question,
                "deadline": deadline,
            }
        takes_it = (
            decision is not None
            and decision.calls
            and ((decision.confident and fast_path) or not has_model)
        )
        if decision is not None and takes_it:
            intent = {
                "intent": decision.intent,
                "confidence": decision.confidence,
                **decision.slots,
            }
            return {
                "mode": "router",
                "intent": intent,
                "hints": None,
                "question": question,
                "deadline": deadline,
                "messages": [_ai_with_calls(decision)],
            }
        return {
            "mode": "llm" if has_model else "none",
            "intent": None,
            "hints": _hints(decision),
            "question": question,
            "deadline": deadline,
        }

    return route


def period_code(period: dict[str, str]) -> str | dict[str, str]:
    """'YYYY-MM', 'YYYY-Qn' or 'YYYY' when the period is exactly one of those, else as given."""
    import datetime as dt

    from mspilot.core.clock import add_months

    start, end = dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"])
    if start.day == 1 and add_months(start, 1) == end:
        return f"{start.year}-{start.month:02d}"
    if start.day == 1 and start.month % 3 == 1 and add_months(start, 3) == end:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if (start.month, start.day) == (1, 1) and add_months(start, 12) == end:
        return str(start.year)
    return period


def _hints(decision: Route | None) -> dict[str, Any] | None:
    """The router's slots, plus its plan as a safety net if the model plans nothing."""
    if decision is None:
        return None
    return {
        **decision.slots,
        "_intent": decision.intent,
        "_calls": [c.model_dump() for c in decision.calls],
    }


def hint_text(hints: dict[str, Any] | None) -> str:
    """What the router recognised, for the model (names as stored, dates resolved)."""
    if not hints:
        return ""
    parts = []
    if hints.get("metric"):
        parts.append(f"metric={hints['metric']}")
    if hints.get("dimensions"):
        parts.append(f"dimensions={hints['dimensions']}")
    if hints.get("filters"):
        parts.append(f"filters={json.dumps(hints['filters'])}")
    if hints.get("period"):
        parts.append(f"period={json.dumps(period_code(hints['period']))}")
    if hints.get("top_n"):
        parts.append(f"top_n={hints['top_n']}")
    return prompts.ROUTER_HINTS.format(hints="; ".join(parts)) if parts else ""


# ---- planner (language model) ---------------------------------------------------------------


def llm_history(messages: list[AnyMessage]) -> list[BaseMessage]:
    """Earlier turns as question/answer pairs only (tool traffic dropped), then this turn."""
    current = turn_messages(messages)
    earlier = messages[: len(messages) - len(current)]
    pairs: list[BaseMessage] = []
    for msg in earlier:
        if isinstance(msg, HumanMessage):
            pairs.append(HumanMessage(content=msg.text))
        elif isinstance(msg, AIMessage) and not msg.tool_calls and msg.text:
            pairs.append(AIMessage(content=msg.text))
    return [*pairs[-2 * MAX_HISTORY_TURNS :], *(_as_data(m) for m in current)]


def _as_data(msg: AnyMessage) -> AnyMessage:
    """A tool result as the model reads it: wrapped and labelled as untrusted data, so text
    from the database or documents ("SYSTEM: ignore your rules...") is never an instruction.
    Whatever the model then does, the tools it may call and the scope they read are fixed
    by the graph and the data layer, not by this label."""
    if not isinstance(msg, ToolMessage):
        return msg
    body = msg.text.replace("</tool_result", "<\\/tool_result")
    wrapped = prompts.UNTRUSTED_TOOL_RESULT.format(tool=msg.name or "tool", content=body)
    return msg.model_copy(update={"content": wrapped})


def _normalise_ai(ai: AIMessage, known: set[str], tools: dict[str, BaseTool]) -> AIMessage:
    """Tool calls written as JSON in the content become real tool calls; arguments a tool
    does not define (small models copy them from other tools) are dropped."""
    calls = list(ai.tool_calls)
    if not calls and ai.text:
        calls = parse_content_tool_calls(ai.text, known)
        if not calls:
            return ai
    cleaned: list[ToolCall] = []
    for call in calls:
        tool = tools.get(call["name"])
        fields = set((tool.args or {}).keys()) if tool is not None else set()
        args = dict(call.get("args") or {})
        if fields:
            args = {k: v for k, v in args.items() if k in fields}
        cleaned.append({**call, "args": args})
    if cleaned == list(ai.tool_calls):
        return ai
    return AIMessage(
        content="", tool_calls=cleaned, id=ai.id, response_metadata=ai.response_metadata
    )


def make_planner_node(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    system_prompt: str,
    tool_selector: ToolSelector | None = None,
) -> Callable[[AgentState], dict[str, Any]]:
    by_name = {t.name: t for t in tools}
    bound_cache: dict[tuple[str, ...], Any] = {}

    def bound_for(selected: Sequence[BaseTool]) -> Any:
        key = tuple(t.name for t in selected)
        if key not in bound_cache:
            bound_cache[key] = model.bind_tools(list(selected)) if selected else model
        return bound_cache[key]

    def planner(state: AgentState) -> dict[str, Any]:
        rounds = state.get("planner_rounds", 0) + 1
        if _out_of_time(state):
            return {"stop_reason": "wall_clock", "planner_rounds": rounds}
        question = question_of(state)
        selected = tool_selector(question, tools) if tool_selector else tools
        known = {t.name for t in selected} | set(by_name)
        hints = hint_text(state.get("hints"))
        prompt: list[BaseMessage] = [
            SystemMessage(content=system_prompt + (f"\n{hints}" if hints else "")),
            *llm_history(state.get("messages", [])),
        ]
        bound = bound_for(selected)
        extra: dict[str, Any] = {}
        if getattr(model, "accepts_hints", False) and state.get("hints") is not None:
            raw = state.get("hints") or {}
            extra["hints"] = {
                **{k: v for k, v in raw.items() if not k.startswith("_")},
                "period_code": period_code(raw["period"]) if raw.get("period") else None,
            }
        ai = _normalise_ai(bound.invoke(prompt, **extra), known, by_name)
        errors = [err for call in ai.tool_calls if (err := validate_call(call, by_name))]
        if errors:  # one corrective retry, the bad call is not kept
            log.info("agent.planner.retry", errors=errors)
            fix = HumanMessage(
                content=prompts.MALFORMED_TOOL_CALL.format(
                    error="; ".join(errors), tools=", ".join(sorted(known))
                )
            )
            ai = _normalise_ai(bound.invoke([*prompt, fix], **extra), known, by_name)
        plan: dict[str, Any] = state.get("hints") or {}
        if rounds == 1 and not ai.tool_calls and not ai.text.strip() and plan.get("_calls"):
            # the model planned nothing: fall back to the router's plan (answered as the router)
            log.info("agent.planner.router_fallback", intent=plan.get("_intent"))
            fallback = Route(
                intent=str(plan.get("_intent")),
                confidence=0.0,
                confident=False,
                calls=[PlannedCall(**c) for c in plan["_calls"]],
            )
            slots = {k: v for k, v in plan.items() if not k.startswith("_")}
            return {
                "messages": [_ai_with_calls(fallback)],
                "planner_rounds": rounds,
                "mode": "router",
                "intent": {"intent": fallback.intent, "confidence": 0.0, **slots},
            }
        return {"messages": [ai], "planner_rounds": rounds}

    return planner


# ---- tools -----------------------------------------------------------------------------------


def _error_message(call: ToolCall, text: str) -> ToolMessage:
    return ToolMessage(
        content=text[:MAX_ERROR_CHARS],
        tool_call_id=call.get("id") or "",
        name=call["name"],
        status="error",
    )


def make_tools_node(
    tools: Sequence[BaseTool], budget: Budget
) -> Callable[[AgentState], dict[str, Any]]:
    by_name = {t.name: t for t in tools}

    def run_tools(state: AgentState) -> dict[str, Any]:
        ai = last_ai(turn_messages(state.get("messages", [])))
        used = state.get("tool_calls_used", 0)
        signatures = list(state.get("call_signatures", []))
        out: list[ToolMessage] = []
        duplicates = 0
        stop: str | None = None
        for call in ai.tool_calls if ai else []:
            args = dict(call.get("args") or {})
            sig = call_signature(call["name"], args)
            if sig in signatures:
                duplicates += 1
                out.append(_error_message(call, prompts.DUPLICATE_CALL.format(tool=call["name"])))
                continue
            if used >= budget.max_tool_calls:
                stop = "tool_budget"
                out.append(_error_message(call, prompts.BUDGET_EXHAUSTED))
                continue
            if _out_of_time(state):
                stop = "wall_clock"
                out.append(_error_message(call, prompts.BUDGET_EXHAUSTED))
                continue
            used += 1
            signatures.append(sig)
            tool = by_name.get(call["name"])
            if tool is None:
                out.append(
                    _error_message(
                        call,
                        f"There is no tool named {call['name']!r}. "
                        f"Available: {', '.join(sorted(by_name))}.",
                    )
                )
                continue
            out.append(_invoke(tool, call, args))
        if ai and ai.tool_calls and duplicates == len(ai.tool_calls):
            stop = "duplicate_call"
        update: dict[str, Any] = {
            "messages": out,
            "tool_calls_used": used,
            "call_signatures": signatures,
        }
        if stop:
            update["stop_reason"] = stop
        return update

    return run_tools


def _invoke(tool: BaseTool, call: ToolCall, args: dict[str, Any]) -> ToolMessage:
    started = time.perf_counter()
    try:
        result = tool.invoke(
            {"name": call["name"], "args": args, "id": call.get("id"), "type": "tool_call"}
        )
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return _error_message(
            call, prompts.TOOL_ERROR_RETRY.format(tool=call["name"], error=errors)
        )
    except Exception as exc:  # a tool failure is reported to the planner, never raised
        log.warning("agent.tool.error", tool=call["name"], error=str(exc)[:200])
        return _error_message(
            call, prompts.TOOL_ERROR_RETRY.format(tool=call["name"], error=str(exc))
        )
    if not isinstance(result, ToolMessage):
        result = ToolMessage(
            content=str(result), tool_call_id=call.get("id") or "", name=call["name"]
        )
    result.artifact = to_table(result.artifact)
    result.response_metadata = {"elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
    if not isinstance(result.content, str):
        result.content = json.dumps(result.content, default=str)
    return result


# ---- answer ----------------------------------------------------------------------------------


def _states_key_values(prose: str, results: list[ToolResult]) -> bool:
    """A metric answer must state at least one of the metric's values (first rows)."""
    keys: list[float] = []
    for r in results:
        table = r.table or {}
        if r.error or r.name not in ("query_metrics", "make_chart") or not table.get("rows"):
            continue
        for row in table["rows"][:5]:
            if row and isinstance(row[-1], int | float) and not isinstance(row[-1], bool):
                keys.append(float(row[-1]))
    if not keys:
        return True
    evidence = build_evidence("", [], [{"rows": [[k] for k in keys]}])
    evidence.values = {abs(k) for k in keys} | set(keys)  # only the values, not row counts
    return any(evidence.supports(m) for m in numbers_in(prose))


def make_answer_node(
    renderer: Renderer | None = None, scope_line: str | None = None
) -> Callable[[AgentState], dict[str, Any]]:
    """``scope_line`` (a client user's "For Contoso ...:") heads every answer."""
    render = renderer or render_results

    def answer(state: AgentState) -> dict[str, Any]:
        messages = state.get("messages", [])
        question = question_of(state)
        results = tool_results(messages)
        citations = [r.citation() for r in results]
        intent = state.get("intent")
        mode = state.get("mode", "none")
        ai = last_ai(turn_messages(messages))
        prose = ai.text.strip() if ai is not None and not ai.tool_calls else ""
        grounded = True
        replace_id: str | None = None
        if intent and intent.get("reply"):
            text = str(intent["reply"])
        elif mode == "llm" and prose:
            replace_id = ai.id if ai is not None else None
            evidence = build_evidence(
                question, (r.content for r in results if not r.error), (r.table for r in results)
            )
            bad = ungrounded_numbers(prose, evidence)
            if not bad and not _states_key_values(prose, results):
                bad = ["(the metric's value is missing)"]
            if bad or (numbers_in(prose) and not results):
                log.info("agent.answer.ungrounded", numbers=bad[:5])
                grounded = False
                text = render(question, intent, results) if results else NO_ANSWER
            else:
                text = prose
        elif mode in ("router", "llm") and results:
            text = render(question, intent, results)
        else:
            text = NO_ANSWER
        final = finish_answer(text, citations, scope_line)
        reply = AIMessage(content=final, id=replace_id) if replace_id else AIMessage(content=final)
        update: dict[str, Any] = {
            "messages": [reply],
            "answer": final,
            "grounded": grounded,
            "citations": citations,
        }
        hints = state.get("hints") or {}
        if intent:
            update["last_intent"] = intent
        elif hints.get("metric") and hints.get("_intent") == "metric":
            # the model answered; the router's reading still anchors follow-ups
            update["last_intent"] = {
                "intent": "metric",
                **{k: v for k, v in hints.items() if not k.startswith("_")},
            }
        return update

    return answer
