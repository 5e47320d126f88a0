"""Every tool the agent can call, built for one caller's scope.

:data:`TOOLS` is the one table: each tool's exact name, the module that builds it and the
roles that may use it (the models' tools mirror the API's capabilities; the data layer
enforces rows and columns underneath). Modules are imported only when one of their tools is
built, so the router's fast path that needs one tool loads one module.

``build_tools(ctx)`` returns LangChain tools for the graph; ``build_plain(ctx)`` the plain
:class:`~mspilot.tools.base.Tool` objects (no LangChain).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from mspilot.db.semantic_access import ALL_ROLES, INTERNAL_ROLES, STAFF_WITH_MONEY
from mspilot.tools.base import Tool
from mspilot.tools.context import ToolContext

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

OWNER_FINANCE: Final = frozenset({"owner", "finance"})


@dataclass(frozen=True)
class ToolEntry:
    #: module whose ``build(ctx)`` (data tools) or ``tools(ctx)`` (models) makes the tool
    module: str
    roles: frozenset[str]


#: The tools, in the order the agent sees them.
TOOLS: Final[dict[str, ToolEntry]] = {
    "query_metrics": ToolEntry("mspilot.tools.metrics", ALL_ROLES),
    "list_tables": ToolEntry("mspilot.tools.sql", ALL_ROLES),
    "describe_table": ToolEntry("mspilot.tools.sql", ALL_ROLES),
    "run_sql": ToolEntry("mspilot.tools.sql", ALL_ROLES),
    "client_profile": ToolEntry("mspilot.tools.clients", ALL_ROLES),
    "search_knowledge": ToolEntry("mspilot.tools.knowledge", ALL_ROLES),
    "make_chart": ToolEntry("mspilot.tools.chart", ALL_ROLES),
    "churn_risk": ToolEntry("mspilot.tools.models_churn", STAFF_WITH_MONEY),
    "client_margins": ToolEntry("mspilot.tools.models_margins", STAFF_WITH_MONEY),
    "revenue_leaks": ToolEntry("mspilot.tools.models_leaks", STAFF_WITH_MONEY),
    "demand_forecast": ToolEntry("mspilot.tools.models_forecast", INTERNAL_ROLES),
    "price_recommendation": ToolEntry("mspilot.tools.models_pricing", OWNER_FINANCE),
    "price_what_if": ToolEntry("mspilot.tools.models_pricing", OWNER_FINANCE),
    "budget_plan": ToolEntry("mspilot.tools.models_budget", OWNER_FINANCE),
}

#: Names of the data tools (the rest are the models').
TOOL_NAMES: Final = (
    "query_metrics",
    "list_tables",
    "describe_table",
    "run_sql",
    "client_profile",
    "search_knowledge",
    "make_chart",
)


def tool_names(role: str, include: Collection[str] | None = None) -> list[str]:
    """The names of the tools ``role`` may use (only ``include``'s when given), in order."""
    return [
        name
        for name, entry in TOOLS.items()
        if role in entry.roles and (include is None or name in include)
    ]


def build_plain(ctx: ToolContext, *, include: Collection[str] | None = None) -> list[Tool]:
    """The plain tools ``ctx``'s role may use (only ``include``'s names when given)."""
    wanted = tool_names(ctx.role, include)
    built: dict[str, Tool] = {}
    for module_path in dict.fromkeys(TOOLS[name].module for name in wanted):
        module = importlib.import_module(module_path)
        make = module.build if hasattr(module, "build") else module.tools
        for tool in make(ctx):
            built[tool.name] = tool
    return [built[name] for name in wanted if name in built]


def build_tools(ctx: ToolContext, *, include: Collection[str] | None = None) -> list[BaseTool]:
    """The LangChain tools ``ctx``'s role may use (only ``include``'s names when given)."""
    return [tool.as_langchain() for tool in build_plain(ctx, include=include)]
