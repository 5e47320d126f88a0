from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable

import pytest

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


def test_the_registry_table_names_each_tool_its_module_builds_with_the_modules_roles(
    make_ctx: Callable[..., ToolContext],
) -> None:
    """One table: every entry's module builds a tool of exactly that name, and a module that
    states its tools' roles (``ROLES``) agrees with the table."""
    ctx = make_ctx("owner")
    for name, entry in registry.TOOLS.items():
        module = importlib.import_module(entry.module)
        make = module.build if hasattr(module, "build") else module.tools
        assert name in [t.name for t in make(ctx)], name
        assert getattr(module, "ROLES", {}).get(name, entry.roles) == entry.roles, name


def test_building_the_tools_imports_no_langchain_until_they_are_wrapped(
    make_ctx: Callable[..., ToolContext],
) -> None:
    code = (
        "import sys, datetime as dt, pathlib;"
        "from sqlalchemy import create_engine;"
        "from mspilot.tools.context import ToolContext;"
        "from mspilot.tools.registry import build_plain;"
        "ctx = ToolContext(engine=create_engine('sqlite://'), tenant_id='t',"
        " today=dt.date(2026, 1, 1), data_dir=pathlib.Path('.'));"
        "tools = build_plain(ctx, include=['query_metrics', 'run_sql']);"
        "assert [t.name for t in tools] == ['query_metrics', 'run_sql'];"
        "print(sorted(m for m in sys.modules if m.startswith(('langchain', 'langsmith'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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
