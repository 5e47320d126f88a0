"""The graph's typed state and the per-turn budgets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

#: Who plans the current turn: the deterministic router, a language model, or nobody.
Mode = Literal["router", "llm", "none"]


@dataclass(frozen=True)
class Budget:
    """Limits on one turn: tool calls, planner rounds and wall-clock seconds."""

    max_tool_calls: int = 6
    max_planner_rounds: int = 4
    wall_clock_s: float = 60.0


class AgentState(TypedDict, total=False):
    """State of one conversation thread (persisted by the checkpointer between turns).

    ``messages`` accumulates over the whole thread; every other key describes the current
    turn and is reset by the turn's input.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    mode: Mode
    #: The router's reading of the question (intent and slots), if it had one.
    intent: dict[str, Any] | None
    #: What the router recognised when it did not answer itself (hints for the model).
    hints: dict[str, Any] | None
    #: The previous turn's intent, kept for follow-ups ("and in September?").
    last_intent: dict[str, Any] | None
    tool_calls_used: int
    planner_rounds: int
    #: ``name(args)`` signatures of calls already made this turn (duplicate detection).
    call_signatures: list[str]
    #: Wall-clock deadline of this turn (``time.time()`` seconds).
    deadline: float
    stop_reason: str | None
    answer: str
    grounded: bool
    citations: list[dict[str, Any]]
