"""The router ↔ tool contract: which tool answers each intent, and the typed arguments the
router fills for it.

Every intent names one exact tool (no substring matching); every tool call the router plans
is one of the argument models below, dumped without its unset fields. Each model's fields are
a subset of its tool's own argument model (``tests/agent/test_intents.py`` checks that
against the built tools), so the router can never invent an argument name.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict


class RouterArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def as_args(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude_none=True)


class PeriodRange(BaseModel):
    start: str  # ISO date, inclusive
    end: str  # ISO date, exclusive


class MetricArgs(RouterArgs):
    """query_metrics (and make_chart): one semantic-layer request."""

    metric: str
    dimensions: list[str] | None = None
    filters: dict[str, list[str]] | None = None
    period: PeriodRange | None = None
    top_n: int | None = None
    order: Literal["asc", "desc", "best", "worst"] | None = None
    #: groups kept only when they meet these ("at least 20 tickets")
    conditions: list[dict[str, Any]] | None = None
    #: a baseline period: the answer holds both values and the change
    compare_to: PeriodRange | None = None


class NoArgs(RouterArgs):
    pass


class ClientArgs(RouterArgs):
    client: str


class QueryArgs(RouterArgs):
    query: str


class TableArgs(RouterArgs):
    table: str


class SqlArgs(RouterArgs):
    sql: str


class RankedArgs(RouterArgs):
    """churn_risk, revenue_leaks, price_recommendation: a ranking, or one client's row."""

    client: str | None = None
    top: int | None = None


class MarginArgs(RankedArgs):
    period: PeriodRange | None = None


class ForecastArgs(RouterArgs):
    client: str | None = None
    period: PeriodRange | None = None


class WhatIfArgs(RouterArgs):
    client: str
    change_pct: float


class BudgetArgs(RouterArgs):
    amount: float | None = None
    hours: float | None = None


#: intent → (exact tool name, the router's argument model for it)
INTENT_TOOLS: Final[dict[str, tuple[str, type[RouterArgs]]]] = {
    "metric": ("query_metrics", MetricArgs),
    "chart": ("make_chart", MetricArgs),
    "client_profile": ("client_profile", ClientArgs),
    "search_knowledge": ("search_knowledge", QueryArgs),
    "list_tables": ("list_tables", NoArgs),
    "describe_table": ("describe_table", TableArgs),
    "churn": ("churn_risk", RankedArgs),
    "margins": ("client_margins", MarginArgs),
    "leaks": ("revenue_leaks", RankedArgs),
    "forecast": ("demand_forecast", ForecastArgs),
    "pricing": ("price_recommendation", RankedArgs),
    "what_if": ("price_what_if", WhatIfArgs),
    "budget": ("budget_plan", BudgetArgs),
}

#: long-tail list questions answered by a fixed read-only SQL template (agent/sql_templates.py)
SQL_TOOL: Final = ("run_sql", SqlArgs)
