"""Shared plumbing for the tools: content-and-artifact results, refusals, compact tables.

A tool is a plain :class:`Tool` (name, description, pydantic argument model, function): the
router's fast path calls it directly, without LangChain. :meth:`Tool.as_langchain` wraps it as
a LangChain ``StructuredTool`` for the graph and the language models (imported only then).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from mspilot.core.errors import MspilotError
from mspilot.prompts import tools as P

#: What a tool function returns: (short text for the LLM, artifact for the UI).
ToolOutput = tuple[str, dict[str, Any]]

#: Rows shown to the LLM in the text part (the artifact carries all of them).
TEXT_ROWS = 25


def table_artifact(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], **meta: Any
) -> dict[str, Any]:
    """The artifact shape the agent and UI read: ``{"columns", "rows", "meta"}``."""
    return {
        "columns": list(columns),
        "rows": [list(r) for r in rows],
        "meta": {"row_count": len(rows), **meta},
    }


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:.2f}"
    # JSON-quote strings so stored text can never pose as a column or an instruction
    return json.dumps(value, default=str) if isinstance(value, str) else str(value)


def text_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = TEXT_ROWS
) -> str:
    """A compact pipe table for the LLM (first ``limit`` rows, then how many more)."""
    lines = [" | ".join(columns)]
    lines += [" | ".join(_cell(v) for v in row) for row in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows (in the table shown to the user)")
    return "\n".join(lines)


def invalid_arguments(exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()[:4]
    )
    return f"invalid arguments: {problems}"


class ToolError(Exception):
    """A refusal or a correctable error: its text goes back to the planner (as a LangChain
    ``ToolException``: a ``ToolMessage`` with ``status="error"``), never as a crash."""


def _schema_error(exc: ValidationError) -> str:
    """Arguments that do not fit the tool's schema (LangChain returns this as an error
    message without an artifact)."""
    return P.REFUSED.format(reason=invalid_arguments(exc))


def guarded(func: Callable[..., ToolOutput]) -> Callable[..., ToolOutput]:
    """Product errors (bad input, access denied) become a :class:`ToolError` whose text is
    the reason, so the planner can correct itself and nothing crashes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> ToolOutput:
        try:
            return func(*args, **kwargs)
        except MspilotError as exc:
            raise ToolError(P.REFUSED.format(reason=str(exc))) from None
        except ValidationError as exc:
            raise ToolError(P.REFUSED.format(reason=invalid_arguments(exc))) from None

    return wrapper


@dataclass(frozen=True)
class Tool:
    """One tool, bound to its caller's scope (the function closes over the ``ToolContext``)."""

    name: str
    description: str
    args_schema: type[BaseModel]
    func: Callable[..., ToolOutput]

    @property
    def args(self) -> dict[str, Any]:
        """The argument names and their JSON schemas (as ``BaseTool.args``)."""
        props: dict[str, Any] = self.args_schema.model_json_schema().get("properties", {})
        return props

    def run(self, args: Mapping[str, Any]) -> ToolOutput:
        """Validate ``args`` against the tool's model, then call it; refusals and bad
        arguments raise :class:`ToolError` with the reason."""
        try:
            parsed = self.args_schema.model_validate(dict(args))
        except ValidationError as exc:
            raise ToolError(_schema_error(exc)) from None
        # as LangChain's StructuredTool: the validated values of the arguments given
        values = {k: getattr(parsed, k) for k in type(parsed).model_fields if k in args}
        return guarded(self.func)(**values)

    def as_langchain(self) -> BaseTool:
        from langchain_core.tools import StructuredTool, ToolException

        func = guarded(self.func)

        @functools.wraps(func)
        def call(*args: Any, **kwargs: Any) -> ToolOutput:
            try:
                return func(*args, **kwargs)
            except ToolError as exc:
                raise ToolException(str(exc)) from None

        return StructuredTool.from_function(
            func=call,
            name=self.name,
            description=self.description,
            args_schema=self.args_schema,
            response_format="content_and_artifact",
            handle_tool_error=True,
            handle_validation_error=_schema_error,
        )


def make_tool(
    name: str, description: str, args_schema: type[BaseModel], func: Callable[..., ToolOutput]
) -> Tool:
    return Tool(name, description, args_schema, func)


if TYPE_CHECKING:
    from langchain_core.tools import BaseTool
