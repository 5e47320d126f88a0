from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.tools import BaseTool, StructuredTool

from mspilot.db.semantic_access import ROLES
from mspilot.tools import registry
from mspilot.tools.context import ToolContext
from mspilot.tools.registry import TOOL_NAMES, build_tools


@pytest.mark.parametrize("role", ROLES)
def test_every_role_gets_the_data_tools_with_llm_safe_schemas(
    role: str, make_ctx: Callable[..., ToolContext]
) -> None:
    ctx = make_ctx(role, "t.demo.c1" if role == "client_user" else None)
    tools = build_tools(ctx)
    assert [t.name for t in tools][: len(TOOL_NAMES)] == list(TOOL_NAMES)
    for tool in tools:  # the data tools and whichever models' tools the role may use
        assert tool.description and tool.response_format == "content_and_artifact"
        schema = tool.get_input_schema().model_json_schema()
        props = schema.get("properties", {})
        # the caller's scope is injected, never an argument the model could set
        assert not {"tenant_id", "client_id", "role", "engine"} & set(props)
        for name, prop in props.items():
            assert prop.get("description"), (tool.name, name)


def test_metric_enum_offered_to_the_model_follows_the_role(
    make_ctx: Callable[..., ToolContext],
) -> None:
    def metric_help(role: str, client: str | None = None) -> str:
        (tool,) = build_tools(make_ctx(role, client), include=["query_metrics"])
        return str(tool.get_input_schema().model_json_schema()["properties"]["metric"])

    assert "margin" in metric_help("owner")
    assert "margin" not in metric_help("technician")
    assert "revenue" not in metric_help("client_user", "t.demo.c1")


def test_include_selects_tools(make_ctx: Callable[..., ToolContext]) -> None:
    tools = build_tools(make_ctx(), include={"run_sql", "query_metrics", "nope"})
    assert sorted(t.name for t in tools) == ["query_metrics", "run_sql"]


def test_model_tool_providers_plug_in_and_default_to_money_roles(
    make_ctx: Callable[..., ToolContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = types.ModuleType("fake_churn_provider")

    def tools(ctx: ToolContext) -> list[BaseTool]:
        def churn_risk() -> tuple[str, dict[str, Any]]:
            return f"risk for {ctx.tenant_id}", {"columns": [], "rows": [], "meta": {}}

        return [
            StructuredTool.from_function(
                churn_risk,
                name="churn_risk",
                description="d",
                response_format="content_and_artifact",
            )
        ]

    module.tools = tools  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_churn_provider", module)
    monkeypatch.setattr(registry, "TOOL_PROVIDERS", ["fake_churn_provider", "not.built.yet"])
    assert "churn_risk" in [t.name for t in build_tools(make_ctx("owner"))]
    assert "churn_risk" not in [t.name for t in build_tools(make_ctx("technician"))]
    module.ROLES = {"churn_risk": frozenset({"technician"})}  # type: ignore[attr-defined]
    assert "churn_risk" in [t.name for t in build_tools(make_ctx("technician"))]


def test_a_client_user_context_needs_its_client(make_ctx: Callable[..., ToolContext]) -> None:
    with pytest.raises(ValueError, match="client_id"):
        make_ctx("client_user")
    with pytest.raises(Exception, match="unknown role"):
        make_ctx("admin")


#: the models' tools and the API capability each one mirrors
MODEL_TOOL_CAPABILITY = {
    "churn_risk": "churn",
    "client_margins": "margins",
    "revenue_leaks": "leaks",
    "demand_forecast": "forecast",
    "price_recommendation": "pricing",
    "price_what_if": "pricing",
    "budget_plan": "budget",
}


@pytest.mark.parametrize("role", ROLES)
def test_model_tools_follow_the_apis_roles(role: str, make_ctx: Callable[..., ToolContext]) -> None:
    """A role gets a model's tool exactly when the API lets it call that model's endpoint:
    technicians get the forecast but no money; client users none of the internal analytics."""
    from mspilot.api.roles import allowed

    ctx = make_ctx(role, "t.demo.c1" if role == "client_user" else None)
    names = {t.name for t in build_tools(ctx)}
    expected = {tool for tool, cap in MODEL_TOOL_CAPABILITY.items() if allowed(role, cap)}
    assert names - set(TOOL_NAMES) == expected
    if role == "technician":
        assert expected == {"demand_forecast"}
    if role == "client_user":
        assert expected == set()
