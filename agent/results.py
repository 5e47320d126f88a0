"""What a turn produces, without LangChain: one tool call's result (:class:`ToolResult`) and
the answer the CLI, the API and Slack receive (:class:`AgentAnswer`, :class:`AgentEvent`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from mspilot.agent.artifacts import Table, row_count


@dataclass(frozen=True)
class ToolResult:
    """One tool call of this turn and what came back."""

    name: str
    args: dict[str, Any]
    content: str
    table: Table | None
    error: bool

    @property
    def rows(self) -> int:
        return row_count(self.table)

    def citation(self) -> dict[str, Any]:
        meta = (self.table or {}).get("meta") or {}
        period = meta.get("period") or meta.get("period_label") or self.args.get("period")
        return {
            "tool": self.name,
            "args": self.args,
            "period": period if isinstance(period, str) else None,
            "rows": self.rows,
            "error": self.error,
        }


class ToolCallRecord(BaseModel):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    ok: bool = True
    rows: int = 0
    content: str = ""


class Citation(BaseModel):
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    period: str | None = None
    rows: int = 0
    error: bool = False


class Artifact(BaseModel):
    tool: str
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class AgentAnswer(BaseModel):
    question: str
    answer: str
    thread_id: str
    mode: Literal["router", "llm", "none"] = "none"
    grounded: bool = True
    intent: dict[str, Any] | None = None
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    citations: list[Citation] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    stop_reason: str | None = None
    latency_ms: float = 0.0


class AgentEvent(BaseModel):
    type: Literal["token", "tool_start", "tool_end", "final", "error"]
    text: str = ""
    tool: str | None = None
    args: dict[str, Any] | None = None
    rows: int | None = None
    ok: bool | None = None
    answer: AgentAnswer | None = None


def answer_from_results(
    question: str,
    thread_id: str,
    results: list[ToolResult],
    *,
    answer: str,
    citations: list[dict[str, Any]],
    mode: Literal["router", "llm", "none"],
    grounded: bool = True,
    intent: dict[str, Any] | None = None,
    stop_reason: str | None = None,
    elapsed_s: float = 0.0,
) -> AgentAnswer:
    """The turn's answer with its tool calls, citations and result tables."""
    return AgentAnswer(
        question=question,
        answer=answer,
        thread_id=thread_id,
        mode=mode,
        grounded=grounded,
        intent=intent,
        tool_calls=[
            ToolCallRecord(
                name=r.name, args=r.args, ok=not r.error, rows=r.rows, content=r.content[:2000]
            )
            for r in results
        ],
        citations=[Citation(**c) for c in citations],
        artifacts=[
            Artifact(
                tool=r.name,
                columns=list(r.table.get("columns") or []),
                rows=list(r.table.get("rows") or []),
                meta=dict(r.table.get("meta") or {}),
            )
            for r in results
            if r.table and not r.error
        ],
        stop_reason=stop_reason,
        latency_ms=round(elapsed_s * 1000, 1),
    )
