"""``mspilot price`` and ``mspilot budget``: what to charge and where to spend, with the dollars."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mspilot.cli.context import (
    console,
    emit_json,
    friendly_errors,
    print_table,
    settings,
)
from mspilot.cli.deps import TenantOption, tenant_scope
from mspilot.core.clock import Clock
from mspilot.core.errors import UserInputError

if TYPE_CHECKING:
    from sqlalchemy import Engine

TenantOpt = TenantOption
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _setup(tenant: str | None) -> tuple[Engine, str, Clock]:
    scope = tenant_scope(tenant)
    return scope.engine, scope.tenant_id, scope.clock


def _money(v: float) -> str:
    return f"${v:,.0f}"


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


@friendly_errors
def price(
    client: Annotated[
        str | None, typer.Option("--client", help="One client (name or id; partial names ok).")
    ] = None,
    whatif: Annotated[
        float | None,
        typer.Option("--whatif", help="What if this client's price changes by PCT percent?"),
    ] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Rows in the portfolio table.")] = 25,
    max_increase: Annotated[
        float | None, typer.Option("--max-increase", help="Yearly cap on increases, % (15).")
    ] = None,
    min_margin: Annotated[
        float | None, typer.Option("--min-margin", help="Floor: minimum margin, % (20).")
    ] = None,
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Recommended prices (portfolio ranked by expected gain), or a what-if for one client."""
    from mspilot.models.pricing_service import default_policy, price_portfolio, price_what_if

    engine, tenant_id, clock = _setup(tenant)
    policy = default_policy(
        engine, tenant_id, max_increase_pct=max_increase, min_margin_pct=min_margin
    )
    data_dir = settings().data_dir
    if whatif is not None:
        if client is None:
            raise UserInputError("--whatif needs --client (whose price changes?)")
        result = price_what_if(engine, tenant_id, clock, data_dir, client, whatif, policy=policy)
        if as_json:
            emit_json(result.model_dump(mode="json"))
            return
        print_table(
            f"What if {result.client_name} changes price {result.change_pct:+.1f}%?",
            ["", "now", "after"],
            [
                ["price", f"{result.current_price:,.2f}", f"{result.new_price:,.2f}"],
                ["margin %", _pct(result.margin_pct_now), _pct(result.margin_pct_new)],
                [
                    "monthly margin",
                    _money(result.monthly_margin_now),
                    _money(result.monthly_margin_new),
                ],
                ["90-day churn", f"{result.churn_90d_now:.1%}", f"{result.churn_90d_new:.1%}"],
                ["stays 12 months", _pct(result.stay_12m_now), _pct(result.stay_12m_new)],
                [
                    "expected 12-month profit",
                    _money(result.expected_profit_now),
                    _money(result.expected_profit_new),
                ],
            ],
        )
        for line in result.reasoning:
            console.print(f"• {line}")
        return

    report = price_portfolio(engine, tenant_id, clock, data_dir, client=client, policy=policy)
    if as_json:
        emit_json(report.model_dump(mode="json"))
        return
    rows = [
        [
            r.client_name,
            r.contract_kind,
            f"{r.current_price:,.2f}/{r.unit}",
            f"{r.recommended_price:,.2f}",
            f"{r.change_pct:+.1f}%",
            r.effective_on.isoformat(),
            f"{r.churn_90d_now:.1%} → {r.churn_90d_new:.1%}",
            f"{_pct(r.margin_pct_now)} → {_pct(r.margin_pct_new)}",
            _money(r.expected_gain),
        ]
        for r in report.recommendations[:top]
    ]
    print_table(
        f"Pricing, {report.as_of.isoformat()} — expected {report.horizon_months}-month gain "
        f"{_money(report.expected_gain)} ({report.n_under_priced} clients under-priced)",
        ["client", "kind", "price", "recommended", "change", "from", "90d churn", "margin", "gain"],
        rows,
    )
    if client is not None and report.recommendations:
        rec = report.recommendations[0]
        for line in rec.reasoning + rec.rules:
            console.print(f"• {line}")
    for note in report.notes:
        console.print(f"[dim]{note}[/]")


@friendly_errors
def budget(
    amount: Annotated[float, typer.Option("--amount", min=0, help="Money for the quarter.")],
    hours: Annotated[float, typer.Option("--hours", min=0, help="Technician hours free.")],
    per_client_cap: Annotated[
        float | None, typer.Option("--per-client-cap", min=0, help="Max spend on one client.")
    ] = None,
    must_do: Annotated[
        list[str] | None, typer.Option("--must-do", help="Action id that must be in the plan.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option("--exclude", help="Action id never to plan.")
    ] = None,
    shortfall: Annotated[
        float,
        typer.Option("--forecast-shortfall", min=0, help="Hours the demand forecast needs first."),
    ] = 0.0,
    tenant: TenantOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Spend the quarter's budget and hours on the actions worth most (PuLP + HiGHS)."""
    from mspilot.models.budget_actions import plan_budget

    engine, tenant_id, clock = _setup(tenant)
    plan = plan_budget(
        engine,
        tenant_id,
        clock,
        settings().data_dir,
        amount=amount,
        hours=hours,
        per_client_cap=per_client_cap,
        must_do=must_do or [],
        exclude=exclude or [],
        weekly_hours_needed=[shortfall] if shortfall else None,
        weekly_capacity=0.0 if shortfall else None,
    )
    if as_json:
        emit_json(plan.model_dump(mode="json"))
        return
    if plan.status in ("infeasible", "not_solved"):
        console.print(f"[bold red]{plan.message}[/]")
        if plan.infeasibility:
            for reason in plan.infeasibility.reasons[1:]:
                console.print(f"• {reason}")
        raise typer.Exit(1)
    print_table(
        plan.message,
        ["action", "id", "cost", "hours", "value", "why"],
        [
            [
                p.label,
                p.id,
                _money(p.cost),
                f"{p.hours - p.hours_supplied:+,.1f}",
                _money(p.value),
                p.reason,
            ]
            for p in plan.chosen
        ],
    )
    print_table(
        "Constraints",
        ["constraint", "used", "limit", "binding", "worth"],
        [
            [
                c.description,
                f"{c.used:,.1f}",
                f"{c.limit:,.1f}",
                "yes" if c.binding else "no",
                c.sentence,
            ]
            for c in plan.constraints
        ],
    )
