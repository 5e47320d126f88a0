"""Fakes for the agent tests: a scripted chat model and small content_and_artifact tools."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field


class ScriptedModel(GenericFakeChatModel):
    """Replays scripted AI messages; ``bind_tools`` returns itself; records every prompt."""

    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.prompts.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def script(*messages: AIMessage) -> ScriptedModel:
    return ScriptedModel(messages=iter(messages))


def call(name: str, _id: str = "call_1", **args: Any) -> AIMessage:
    return AIMessage(
        content="", tool_calls=[{"name": name, "args": args, "id": _id, "type": "tool_call"}]
    )


class MetricArgs(BaseModel):
    metric: str = Field(description="Metric name")
    period: str | None = Field(default=None, description="Period label")


class SqlArgs(BaseModel):
    sql: str = Field(description="One SELECT statement")


def make_tools(calls: list[dict[str, Any]] | None = None) -> list[BaseTool]:
    """query_metrics (revenue 12345.67 / tickets 42), run_sql (fails on 'boom'), client_profile."""
    log = calls if calls is not None else []

    def query_metrics(metric: str, period: str | None = None) -> tuple[str, dict[str, Any]]:
        log.append({"tool": "query_metrics", "metric": metric, "period": period})
        if metric == "revenue":
            rows = [["Contoso", 12345.67], ["Fabrikam", 2000.0]]
            return "revenue by client: Contoso 12345.67, Fabrikam 2000.00", {
                "columns": ["client", "revenue"],
                "rows": rows,
                "meta": {"period": period or "Q3 2025"},
            }
        return f"{metric}: 42", {"columns": [metric], "rows": [[42]], "meta": {"period": period}}

    def run_sql(sql: str) -> tuple[str, dict[str, Any]]:
        log.append({"tool": "run_sql", "sql": sql})
        if "boom" in sql:
            raise RuntimeError("no such column: boom")
        return "1 row: n=7", {"columns": ["n"], "rows": [[7]]}

    return [
        StructuredTool.from_function(
            query_metrics,
            name="query_metrics",
            description="Metrics.",
            args_schema=MetricArgs,
            response_format="content_and_artifact",
        ),
        StructuredTool.from_function(
            run_sql,
            name="run_sql",
            description="Read-only SQL.",
            args_schema=SqlArgs,
            response_format="content_and_artifact",
        ),
    ]


def tokens(it: Iterator[Any]) -> list[Any]:
    return list(it)
