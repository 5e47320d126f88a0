"""Shared plumbing for the tools: content-and-artifact results, refusals, compact tables."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException
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


def _schema_error(exc: ValidationError) -> str:
    """Arguments that do not fit the tool's schema (LangChain returns this as an error
    message without an artifact)."""
    return P.REFUSED.format(reason=invalid_arguments(exc))


def guarded(func: Callable[..., ToolOutput]) -> Callable[..., ToolOutput]:
    """Product errors (bad input, access denied) become a ``ToolException``: LangChain turns
    it into a ``ToolMessage`` with ``status="error"`` and the reason as its text, so the
    planner can correct itself and nothing crashes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> ToolOutput:
        try:
            return func(*args, **kwargs)
        except MspilotError as exc:
            raise ToolException(P.REFUSED.format(reason=str(exc))) from None
        except ValidationError as exc:
            raise ToolException(P.REFUSED.format(reason=invalid_arguments(exc))) from None

    return wrapper


def make_tool(
    name: str, description: str, args_schema: type[BaseModel], func: Callable[..., ToolOutput]
) -> BaseTool:
    return StructuredTool.from_function(
        func=guarded(func),
        name=name,
        description=description,
        args_schema=args_schema,
        response_format="content_and_artifact",
        handle_tool_error=True,
        handle_validation_error=_schema_error,
    )
