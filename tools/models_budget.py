"""budget_plan: next quarter's budget and hours over the actions worth most
(``models.serving`` → ``models.budget_actions.plan_budget``)."""

from __future__ import annotations

from functools import partial
from typing import Final

from pydantic import BaseModel, Field

from mspilot.models import serving
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.context import ToolContext

#: as the API's ``budget`` capability: owners and finance only
ROLES: Final = {"budget_plan": frozenset({"owner", "finance"})}
COLUMNS: Final = ("action", "kind", "client", "cost", "hours", "value", "reason")


class BudgetArgs(BaseModel):
    amount: float | None = Field(
        default=None,
        ge=0,
        le=1e9,
        description=P.ARG_BUDGET_AMOUNT.format(default=f"{serving.DEFAULT_BUDGET_AMOUNT:,.0f}"),
    )
    hours: float | None = Field(default=None, ge=0, le=1e6, description=P.ARG_BUDGET_HOURS)


def budget_plan(
    ctx: ToolContext, amount: float | None = None, hours: float | None = None
) -> ToolOutput:
    plan = serving.budget_plan(
        ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir, amount=amount, hours=hours
    )
    chosen = sorted(plan.chosen, key=lambda a: -a.net_value)
    rows = [
        (
            a.label,
            str(a.kind.value if hasattr(a.kind, "value") else a.kind),
            a.client_name,
            round(a.cost, 2),
            round(a.hours - a.hours_supplied, 2),
            round(a.value, 2),
            a.reason,
        )
        for a in chosen
    ]
    binding = [c.sentence or c.description for c in plan.constraints if c.binding]
    marginal = [c.sentence for c in plan.constraints if not c.binding and c.sentence and c.step]
    head = P.BUDGET_HEAD.format(
        status=plan.status,
        budget=plan.budget,
        hours=plan.hours,
        message=plan.message,
        binding="; ".join(binding) or "none",
    )
    head += " " + P.DATA_NOTICE
    if plan.infeasibility is not None:
        head += " " + plan.infeasibility.summary
    return head + "\n" + text_table(COLUMNS, rows), table_artifact(
        COLUMNS,
        rows,
        title="Budget plan",
        status=plan.status,
        message=plan.message,
        budget=round(plan.budget, 2),
        hours=round(plan.hours, 1),
        expected_value=round(plan.expected_value, 2),
        total_cost=round(plan.total_cost, 2),
        net_value=round(plan.net_value, 2),
        hours_used=round(plan.hours_used, 1),
        binding=binding,
        marginal=marginal,
        infeasibility=plan.infeasibility.summary if plan.infeasibility else None,
    )


def tools(ctx: ToolContext) -> list[Tool]:
    return [make_tool("budget_plan", P.BUDGET_PLAN, BudgetArgs, partial(budget_plan, ctx))]
