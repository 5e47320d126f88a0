"""Human-in-the-loop approvals: a small LangGraph graph that stops at an ``interrupt``.

    START → propose → review (interrupt: waits for a person) → record → END

``propose`` starts a thread per (tenant, action key) and runs it up to the interrupt, where it
waits, checkpointed (the agent's own SQLite/PostgreSQL checkpointer, so a pending approval
survives restarts and is visible to every worker). ``decide`` resumes it with the person's
decision (``Command(resume=...)``); the ``record`` node hands an approved (or rejected) action
to the recorder the caller supplied (the insights package writes ``approved_actions``). A
decision on an action that was never proposed proposes it first, then resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt


class ApprovalState(TypedDict, total=False):
    tenant_id: str
    key: str
    summary: str
    action: dict[str, Any]
    decision: dict[str, Any] | None
    record_id: int | None


#: Called with the final state once a person decided; returns the stored decision's id.
Recorder = Callable[[ApprovalState], int | None]


def _propose(state: ApprovalState) -> ApprovalState:
    if not state.get("action"):
        raise ValueError("an approval needs an action")
    return {"decision": None}


def _review(state: ApprovalState) -> ApprovalState:
    decision = interrupt(
        {"key": state.get("key"), "summary": state.get("summary"), "action": state.get("action")}
    )
    if not isinstance(decision, dict) or "approved" not in decision:
        raise ValueError("resume an approval with {'approved': bool, 'by': ..., 'note': ...}")
    return {"decision": decision}


def build_approval_graph(
    recorder: Recorder, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> Any:
    def record(state: ApprovalState) -> ApprovalState:
        return {"record_id": recorder(state)}

    graph = StateGraph(ApprovalState)
    graph.add_node("propose", _propose)
    graph.add_node("review", _review)
    graph.add_node("record", record)
    graph.add_edge(START, "propose")
    graph.add_edge("propose", "review")
    graph.add_edge("review", "record")
    graph.add_edge("record", END)
    return graph.compile(checkpointer=checkpointer or InMemorySaver())


class ApprovalFlow:
    """Propose actions for approval and resume them with a person's decision."""

    def __init__(
        self, recorder: Recorder, checkpointer: BaseCheckpointSaver[Any] | None = None
    ) -> None:
        self.graph = build_approval_graph(recorder, checkpointer)

    @staticmethod
    def _config(tenant_id: str, key: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": f"approval:{tenant_id}:{key}"}}

    def status(self, tenant_id: str, key: str) -> str:
        """``none`` (never proposed), ``pending`` (waiting at the interrupt) or ``decided``."""
        snapshot = self.graph.get_state(self._config(tenant_id, key))
        if not snapshot.values:
            return "none"
        if snapshot.next:
            return "pending"
        return "decided"

    def pending_action(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        snapshot = self.graph.get_state(self._config(tenant_id, key))
        if not snapshot.next:
            return None
        action: dict[str, Any] | None = snapshot.values.get("action")
        return action

    def propose(self, tenant_id: str, key: str, action: dict[str, Any], summary: str) -> str:
        """Start waiting for a decision on ``action`` (no-op while one is pending)."""
        current = self.status(tenant_id, key)
        if current == "pending":
            return current
        self.graph.invoke(
            {"tenant_id": tenant_id, "key": key, "action": action, "summary": summary},
            self._config(tenant_id, key),
        )
        return self.status(tenant_id, key)

    def decide(
        self,
        tenant_id: str,
        key: str,
        *,
        approved: bool,
        by: str | None,
        note: str | None = None,
        action: dict[str, Any] | None = None,
        summary: str = "",
    ) -> ApprovalState:
        """Resume the pending approval with the decision; returns the final state."""
        if self.status(tenant_id, key) != "pending":
            if action is None:
                raise LookupError(f"no pending approval for {key!r} and no action to propose")
            self.propose(tenant_id, key, action, summary)
        result: ApprovalState = self.graph.invoke(
            Command(resume={"approved": approved, "by": by, "note": note}),
            self._config(tenant_id, key),
        )
        return result
