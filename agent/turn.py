"""Reading one turn out of a thread's messages, and the per-turn input to the graph."""

from __future__ import annotations

import json
import time
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage

from mspilot.agent.artifacts import to_table
from mspilot.agent.results import ToolResult
from mspilot.agent.state import AgentState, Budget


def new_turn(question: str, budget: Budget | None = None) -> AgentState:
    """The graph input for one question: the message plus every per-turn key reset."""
    budget = budget or Budget()
    return {
        "messages": [HumanMessage(content=question)],
        "question": question,
        "mode": "none",
        "intent": None,
        "hints": None,
        "tool_calls_used": 0,
        "planner_rounds": 0,
        "call_signatures": [],
        "deadline": time.time() + budget.wall_clock_s,
        "stop_reason": None,
        "answer": "",
        "grounded": True,
        "citations": [],
    }


def turn_messages(messages: list[AnyMessage]) -> list[AnyMessage]:
    """The messages of the current turn: from the last human message on."""
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return messages[index:]
    return list(messages)


def question_of(state: AgentState) -> str:
    if state.get("question"):
        return state["question"]
    for msg in reversed(state.get("messages", [])):
        if isinstance(msg, HumanMessage):
            return msg.text
    return ""


def last_ai(messages: list[AnyMessage]) -> AIMessage | None:
    for msg in reversed(messages):
        if isinstance(msg, AIMessage):
            return msg
    return None


def call_signature(name: str, args: dict[str, Any]) -> str:
    return f"{name}({json.dumps(args, sort_keys=True, default=str)})"


def tool_results(messages: list[AnyMessage]) -> list[ToolResult]:
    """Tool results of the current turn, paired with the calls that asked for them."""
    turn = turn_messages(messages)
    calls: dict[str, tuple[str, dict[str, Any]]] = {}
    for msg in turn:
        if isinstance(msg, AIMessage):
            for call in msg.tool_calls:
                calls[call.get("id") or ""] = (call["name"], dict(call.get("args") or {}))
    results: list[ToolResult] = []
    for msg in turn:
        if isinstance(msg, ToolMessage):
            name, args = calls.get(msg.tool_call_id, (msg.name or "", {}))
            table = msg.artifact if isinstance(msg.artifact, dict) else to_table(msg.artifact)
            results.append(
                ToolResult(
                    name=name,
                    args=args,
                    content=msg.text,
                    table=table,
                    error=msg.status == "error",
                )
            )
    return results
