"""What a planner (the deterministic router, or an LLM) hands to the tool node."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from mspilot.agent.results import ToolResult


class PlannedCall(BaseModel):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Route(BaseModel):
    """The router's reading of a question."""

    intent: str
    confidence: float
    #: True when the router is sure enough to answer without a language model.
    confident: bool
    calls: list[PlannedCall] = Field(default_factory=list)
    slots: dict[str, Any] = Field(default_factory=dict)
    #: A reply given instead of any tool call (a refusal, or one clarifying question); it
    #: stands even when a language model is configured.
    reply: str | None = None


class Router(Protocol):
    def route(self, question: str, last_intent: dict[str, Any] | None = None) -> Route | None: ...


class Renderer(Protocol):
    def __call__(
        self, question: str, intent: dict[str, Any] | None, results: list[ToolResult]
    ) -> str: ...
