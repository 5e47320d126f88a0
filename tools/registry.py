"""Every tool the agent can call, built for one caller's scope.

``build_tools(ctx)`` returns the data tools (SQL, metrics, client profile, knowledge, chart)
the caller's role may use, then the models' tools (churn risk, margins, revenue leaks,
forecast, pricing and what-if, budget plan) from ``TOOL_PROVIDERS``: a provider is a module
path whose module defines ``tools(ctx: ToolContext) -> list[BaseTool]`` and ``ROLES`` (the
roles of each tool, matching the API's capabilities); a module that is not there is skipped,
so this file never has to change shape.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection
from typing import Final

from langchain_core.tools import BaseTool

from mspilot.db.semantic_access import ALL_ROLES, STAFF_WITH_MONEY
from mspilot.tools import chart, clients, knowledge, metrics, sql
from mspilot.tools.context import ToolContext

Builder = Callable[[ToolContext], list[BaseTool]]

#: The data tools, in the order the agent sees them.
_CORE: Final[tuple[Builder, ...]] = (
    metrics.build,
    sql.build,
    clients.build,
    knowledge.build,
    chart.build,
)

#: Names of every data tool.
TOOL_NAMES: Final = (
    "query_metrics",
    "list_tables",
    "describe_table",
    "run_sql",
    "client_profile",
    "search_knowledge",
    "make_chart",
)

#: Which roles may use each tool (the data layer enforces rows and columns underneath).
TOOL_ROLES: Final[dict[str, frozenset[str]]] = {name: ALL_ROLES for name in TOOL_NAMES}

# ---- models' tools: optional providers ------------------------------------------------------
#: Module paths of the models' tool providers (each: ``tools(ctx) -> list[BaseTool]``).
#: Missing modules are skipped. Their tools are for staff with access to money by default;
#: a provider may narrow or widen that with a module-level ``ROLES: dict[str, frozenset]``.
TOOL_PROVIDERS: list[str] = [
    "mspilot.tools.models_churn",
    "mspilot.tools.models_margins",
    "mspilot.tools.models_leaks",
    "mspilot.tools.models_forecast",
    "mspilot.tools.models_pricing",
    "mspilot.tools.models_budget",
]
PROVIDER_DEFAULT_ROLES: Final = STAFF_WITH_MONEY


def _provider_tools(ctx: ToolContext) -> list[BaseTool]:
    out: list[BaseTool] = []
    for path in TOOL_PROVIDERS:
        try:
            module = importlib.import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name and (path == exc.name or path.startswith(exc.name + ".")):
                continue  # not built yet
            raise
        roles: dict[str, frozenset[str]] = getattr(module, "ROLES", {})
        for tool in module.tools(ctx):
            if ctx.role in roles.get(tool.name, PROVIDER_DEFAULT_ROLES):
                out.append(tool)
    return out


def build_tools(ctx: ToolContext, *, include: Collection[str] | None = None) -> list[BaseTool]:
    """The tools ``ctx``'s role may use (only ``include``'s names when given)."""
    tools: list[BaseTool] = []
    for builder in _CORE:
        for tool in builder(ctx):
            if ctx.role in TOOL_ROLES.get(tool.name, frozenset()):
                tools.append(tool)
    tools += _provider_tools(ctx)
    if include is not None:
        wanted = set(include)
        tools = [t for t in tools if t.name in wanted]
    return tools
