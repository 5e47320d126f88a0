"""price_recommendation and price_what_if: the pricing optimiser (``models.serving``)."""

from __future__ import annotations

from functools import partial
from typing import Any, Final, Literal

from pydantic import BaseModel, Field

from mspilot.core.errors import UserInputError
from mspilot.models import serving
from mspilot.prompts import tools as P
from mspilot.tools.base import Tool, ToolOutput, make_tool, table_artifact, text_table
from mspilot.tools.context import ToolContext
from mspilot.tools.models_common import client_arg

#: as the API's ``pricing`` capability: owners and finance only
COMMERCIAL: Final = frozenset({"owner", "finance"})
ROLES: Final = {"price_recommendation": COMMERCIAL, "price_what_if": COMMERCIAL}
COLUMNS: Final = (
    "client",
    "action",
    "current_price",
    "recommended_price",
    "change_pct",
    "unit",
    "expected_gain",
    "churn_90d_now",
    "churn_90d_new",
    "effective_on",
)
WHAT_IF_COLUMNS: Final = (
    "client",
    "change_pct",
    "current_price",
    "new_price",
    "churn_90d_now",
    "churn_90d_new",
    "monthly_margin_now",
    "monthly_margin_new",
    "expected_profit_now",
    "expected_profit_new",
    "expected_profit_change",
    "break_even_churn_90d",
    "within_policy",
    "effective_on",
)


class PriceArgs(BaseModel):
    client: str | None = Field(default=None, description=P.ARG_CLIENT_OPTIONAL)
    top: int = Field(default=10, ge=1, le=500, description=P.ARG_TOP)
    action: Literal["raise", "lower", "hold", "locked"] | None = Field(
        default=None, description=P.ARG_PRICE_ACTION
    )


class WhatIfArgs(BaseModel):
    client: str = Field(description=P.ARG_CLIENT)
    change_pct: float = Field(ge=-90, le=200, description=P.ARG_CHANGE_PCT)


def _p(value: float) -> float:
    return round(float(value), 4)


def price_recommendation(
    ctx: ToolContext, client: str | None = None, top: int = 10, action: str | None = None
) -> ToolOutput:
    ref = client_arg(ctx, client)
    report = serving.price_portfolio(ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir)
    recs = list(report.recommendations)
    if ref is not None:
        one = serving.recommendation_for(report, ref.id)
        if one is None:
            raise UserInputError(f"{ref.name} has no active priced contract to recommend on")
        recs = [one]
    if action:
        recs = [r for r in recs if r.action == action]
    rows = [
        (
            r.client_name,
            str(r.action),
            round(r.current_price, 2),
            round(r.recommended_price, 2),
            round(r.change_pct, 1),
            r.unit,
            round(r.expected_gain, 2),
            _p(r.churn_90d_now),
            _p(r.churn_90d_new),
            r.effective_on.isoformat(),
        )
        for r in recs
    ]
    gain = round(sum(r.expected_gain for r in recs), 2)
    if ref is not None:
        head = P.PRICE_ONE_HEAD.format(client=ref.name, reasoning=" ".join(recs[0].reasoning))
    else:
        head = P.PRICE_ALL_HEAD.format(
            horizon=report.horizon_months, under=report.n_under_priced, gain=gain
        )
    text = head + f" {P.DATA_NOTICE}\n" + text_table(COLUMNS, rows, limit=top)
    return text, table_artifact(
        COLUMNS,
        rows,
        title="Recommended prices",
        client=ref.name if ref else None,
        top=min(top, len(rows)),
        expected_gain=gain,
        n_under_priced=report.n_under_priced,
        horizon_months=report.horizon_months,
        horizon_days=90,
        reasoning=list(recs[0].reasoning) if ref is not None else [],
    )


def price_what_if(ctx: ToolContext, client: str, change_pct: float) -> ToolOutput:
    ref = client_arg(ctx, client)
    if ref is None:
        raise UserInputError("name the client whose price would change")
    r = serving.price_what_if(
        ctx.engine, ctx.tenant_id, ctx.today, ctx.data_dir, ref.id, change_pct
    )
    row: tuple[Any, ...] = (
        r.client_name,
        round(r.change_pct, 1),
        round(r.current_price, 2),
        round(r.new_price, 2),
        _p(r.churn_90d_now),
        _p(r.churn_90d_new),
        round(r.monthly_margin_now, 2),
        round(r.monthly_margin_new, 2),
        round(r.expected_profit_now, 2),
        round(r.expected_profit_new, 2),
        round(r.expected_profit_change, 2),
        None if r.break_even_churn_90d is None else _p(r.break_even_churn_90d),
        r.within_policy,
        r.effective_on.isoformat(),
    )
    policy = (
        P.WHAT_IF_POLICY.format(breaches="; ".join(r.policy_breaches)) if r.policy_breaches else ""
    )
    head = P.WHAT_IF_HEAD.format(
        client=r.client_name, change=r.change_pct, reasoning=" ".join(r.reasoning), policy=policy
    )
    text = head + f" {P.DATA_NOTICE}\n" + text_table(WHAT_IF_COLUMNS, [row])
    return text, table_artifact(
        WHAT_IF_COLUMNS,
        [row],
        title=f"Price change of {r.change_pct:+.1f}% for {r.client_name}",
        client=r.client_name,
        policy_breaches=list(r.policy_breaches),
        reasoning=list(r.reasoning),
    )


def tools(ctx: ToolContext) -> list[Tool]:
    return [
        make_tool(
            "price_recommendation",
            P.PRICE_RECOMMENDATION,
            PriceArgs,
            partial(price_recommendation, ctx),
        ),
        make_tool("price_what_if", P.PRICE_WHAT_IF, WhatIfArgs, partial(price_what_if, ctx)),
    ]
