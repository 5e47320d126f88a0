"""Candidate actions for the quarter's budget plan, built from the models' outputs.

- **Retention plays** for clients at risk: value = 90-day churn probability × 12-month revenue ×
  the play's effectiveness (the share of that risk the play removes); each play has a money cost
  and technician hours. At most one play per client (the solver's rule).
- **Leak recovery**: each revenue-leak finding (``models.leaks``) is worth its dollars × the
  share usually recovered, for some hours of billing clean-up.
- **Upsell of under-priced clients**: the pricing optimiser's expected 12-month gain, for an
  account review's hours.
- **Overtime and contractors** supply technician hours for money, so hours can be bought when
  plays or the demand forecast's shortfall need more than the team has free.

``plan_budget(engine, tenant_id, clock, data_dir, amount=..., hours=...)`` builds them from the
tenant's data and models and solves (``models.budget.solve_budget``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field
from sqlalchemy import Engine, Float, cast, func, select

from mspilot.core.clock import Clock
from mspilot.core.errors import DataError, UserInputError
from mspilot.core.periods import Period
from mspilot.db.definitions import client_economics
from mspilot.db.schema import Technician
from mspilot.models.budget import (
    ActionKind,
    BudgetLimits,
    BudgetPlan,
    CandidateAction,
    solve_budget,
)
from mspilot.models.data import DataVersion, data_version


class PlayTemplate(BaseModel):
    key: str
    label: str
    cost_fixed: float = Field(default=0.0, ge=0)
    cost_share_of_monthly_revenue: float = Field(default=0.0, ge=0)
    hours: float = Field(default=0.0, ge=0)
    effectiveness: float = Field(gt=0, le=1, description="Share of the churn risk removed")


DEFAULT_PLAYS: tuple[PlayTemplate, ...] = (
    PlayTemplate(
        key="review",
        label="Executive business review and service improvement plan",
        cost_fixed=300.0,
        hours=6.0,
        effectiveness=0.25,
    ),
    PlayTemplate(
        key="credit",
        label="Goodwill service credit (10% of a month)",
        cost_share_of_monthly_revenue=0.10,
        hours=1.0,
        effectiveness=0.15,
    ),
    PlayTemplate(
        key="dedicated",
        label="Dedicated senior technician for a month (proactive health check)",
        hours=24.0,
        effectiveness=0.35,
    ),
)


class ActionCatalog(BaseModel):
    """The assumptions behind every candidate action (all overridable)."""

    plays: list[PlayTemplate] = Field(default_factory=lambda: list(DEFAULT_PLAYS))
    min_churn_prob: float = Field(default=0.02, ge=0, le=1)
    leak_recovery_rate: float = Field(default=0.8, gt=0, le=1)
    leak_hours_fixed: float = Field(default=1.0, ge=0)
    leak_hours_per_1000: float = Field(default=0.5, ge=0)
    upsell_hours: float = Field(default=2.0, ge=0)
    upsell_success_rate: float = Field(default=0.9, gt=0, le=1)
    overtime_premium: float = Field(default=1.5, ge=1, description="× loaded hourly cost")
    overtime_max_hours: float = Field(default=150.0, ge=0)
    contractor_hours: float = Field(default=480.0, gt=0, description="Hours per contractor")
    contractor_rate: float = Field(default=95.0, gt=0)
    contractor_max: int = Field(default=3, ge=0, le=50)


class ClientRisk(BaseModel):
    client_id: str
    client_name: str
    churn_90d: float = Field(ge=0, le=1)
    monthly_revenue: float = Field(ge=0)


def retention_actions(
    clients: Sequence[ClientRisk], catalog: ActionCatalog
) -> list[CandidateAction]:
    out = []
    for c in clients:
        if c.churn_90d < catalog.min_churn_prob or c.monthly_revenue <= 0:
            continue
        at_risk = c.churn_90d * c.monthly_revenue * 12
        for play in catalog.plays:
            cost = play.cost_fixed + play.cost_share_of_monthly_revenue * c.monthly_revenue
            value = at_risk * play.effectiveness
            out.append(
                CandidateAction(
                    id=f"retain:{play.key}:{c.client_id}",
                    kind=ActionKind.RETENTION,
                    label=f"{play.label} — {c.client_name}",
                    client_id=c.client_id,
                    client_name=c.client_name,
                    cost=round(cost, 2),
                    hours=play.hours,
                    value=round(value, 2),
                    reason=(
                        f"{c.churn_90d:.0%} churn risk × ${c.monthly_revenue * 12:,.0f} "
                        f"revenue a year × {play.effectiveness:.0%} effectiveness"
                    ),
                )
            )
    return out


def leak_actions(findings: Sequence[Any], catalog: ActionCatalog) -> list[CandidateAction]:
    """One recovery action per leak finding (objects with type, client_id, client_name,
    period_start, dollars)."""
    out = []
    for f in findings:
        dollars = float(f.dollars)
        if dollars <= 0:
            continue
        period = f.period_start.isoformat()[:7]
        out.append(
            CandidateAction(
                id=f"leak:{f.type}:{f.client_id}:{period}",
                kind=ActionKind.LEAK_RECOVERY,
                label=f"Recover {f.type.replace('_', ' ')} — {f.client_name} ({period})",
                client_id=f.client_id,
                client_name=f.client_name,
                cost=0.0,
                hours=round(
                    catalog.leak_hours_fixed + catalog.leak_hours_per_1000 * dollars / 1000, 2
                ),
                value=round(dollars * catalog.leak_recovery_rate, 2),
                reason=(
                    f"${dollars:,.0f} leaked × {catalog.leak_recovery_rate:.0%} usually recovered"
                ),
            )
        )
    return out


def upsell_actions(recommendations: Sequence[Any], catalog: ActionCatalog) -> list[CandidateAction]:
    """An account review to move each under-priced client to its recommended price."""
    out = []
    for r in recommendations:
        if not r.under_priced or r.expected_gain <= 0:
            continue
        out.append(
            CandidateAction(
                id=f"upsell:{r.client_id}",
                kind=ActionKind.UPSELL,
                label=f"Reprice {r.client_name} to {r.recommended_price:,.2f} per {r.unit} "
                f"({r.change_pct:+.1f}%)",
                client_id=r.client_id,
                client_name=r.client_name,
                cost=0.0,
                hours=catalog.upsell_hours,
                value=round(r.expected_gain * catalog.upsell_success_rate, 2),
                reason=f"expected 12-month gain ${r.expected_gain:,.0f} net of added churn risk",
            )
        )
    return out


def capacity_actions(loaded_hourly_cost: float, catalog: ActionCatalog) -> list[CandidateAction]:
    out = []
    if catalog.overtime_max_hours > 0:
        rate = loaded_hourly_cost * catalog.overtime_premium
        out.append(
            CandidateAction(
                id="overtime",
                kind=ActionKind.OVERTIME,
                label=f"Overtime, up to {catalog.overtime_max_hours:,.0f} h at ${rate:,.0f}/h",
                cost=round(rate * catalog.overtime_max_hours, 2),
                hours_supplied=catalog.overtime_max_hours,
                value=0.0,
                divisible=True,
                reason=(
                    f"{catalog.overtime_premium:.1f}× the ${loaded_hourly_cost:,.0f}/h loaded cost"
                ),
            )
        )
    if catalog.contractor_max > 0:
        out.append(
            CandidateAction(
                id="contractor",
                kind=ActionKind.HIRING,
                label=(
                    f"Contract technician for the quarter ({catalog.contractor_hours:,.0f} h each)"
                ),
                cost=round(catalog.contractor_hours * catalog.contractor_rate, 2),
                hours_supplied=catalog.contractor_hours,
                value=0.0,
                max_units=catalog.contractor_max,
                reason=f"${catalog.contractor_rate:,.0f}/h",
            )
        )
    return out


def forecast_shortfall(
    weekly_hours_needed: Sequence[float], weekly_capacity: Sequence[float] | float
) -> float:
    """Hours the forecast needs beyond capacity, summed over the weeks that fall short."""
    need = np.asarray(weekly_hours_needed, dtype=float)
    cap = np.broadcast_to(np.asarray(weekly_capacity, dtype=float), need.shape)
    return float(np.clip(need - cap, 0, None).sum())


def _loaded_cost(engine: Engine, tenant_id: str) -> float:
    with engine.connect() as conn:
        value = conn.execute(
            select(func.avg(cast(Technician.hourly_cost, Float))).where(
                Technician.tenant_id == tenant_id,
                Technician.deleted_at.is_(None),
                Technician.active.is_(True),
            )
        ).scalar_one_or_none()
    return float(value or 65.0)


def client_risks(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    data_dir: Path,
    version: DataVersion | None = None,
) -> list[ClientRisk]:
    """Churn risk (the registered churn model) and monthly revenue of every active client
    (the genome from ``cached_features``, at the tenant's data ``version``)."""
    from mspilot.models.serving import churn_scores

    try:
        scores = churn_scores(engine, tenant_id, as_of, Path(data_dir), data_version=version)
    except (FileNotFoundError, LookupError, DataError) as exc:
        raise DataError(f"no churn model: run `mspilot train` first ({exc})") from None
    features, probs = scores.features, scores.risk
    period = Period.months_before(as_of + dt.timedelta(days=1), 3)
    with engine.connect() as conn:
        econ = {r.client_id: r for r in conn.execute(client_economics(tenant_id, period)).all()}
    out = []
    for client_id, p in zip(features.index, probs, strict=True):
        row = econ.get(client_id)
        if row is None:
            continue
        out.append(
            ClientRisk(
                client_id=str(client_id),
                client_name=str(row.name),
                churn_90d=float(p),
                monthly_revenue=float(row.revenue) / 3,
            )
        )
    return out


def plan_budget(
    engine: Engine,
    tenant_id: str,
    clock: Clock,
    data_dir: Path,
    *,
    amount: float,
    hours: float,
    per_client_cap: float | None = None,
    must_do: Sequence[str] = (),
    exclude: Sequence[str] = (),
    weekly_hours_needed: Sequence[float] | None = None,
    weekly_capacity: Sequence[float] | float | None = None,
    catalog: ActionCatalog | None = None,
    with_upsell: bool = True,
    with_leaks: bool = True,
    marginal: bool = True,
    time_limit_s: float | None = None,
) -> BudgetPlan:
    """The quarter's plan over every candidate action the tenant's models suggest
    (``time_limit_s`` bounds each solve; the best plan found by then is reported with
    status ``time_limit``)."""
    if amount < 0 or hours < 0:
        raise UserInputError("budget amount and hours must be zero or more")
    catalog = catalog or ActionCatalog()
    as_of = clock.today()
    version = data_version(engine, tenant_id)  # one fingerprint for every cached read below
    risks = client_risks(engine, tenant_id, as_of, data_dir, version)
    actions = retention_actions(risks, catalog)
    if with_leaks:
        from mspilot.models.leaks import load_findings

        with contextlib.suppress(FileNotFoundError, DataError):  # no scan yet: no leak work
            actions += leak_actions(load_findings(Path(data_dir), tenant_id), catalog)
    if with_upsell:
        from mspilot.models.pricing_data import cached_pricing_inputs
        from mspilot.models.pricing_service import history_response, price_portfolio

        # The genome (cached per data version) and the pricing inputs read here are reused
        # by price_portfolio (the same data version).
        inputs = cached_pricing_inputs(engine, tenant_id, as_of, version)
        response, _fit = history_response(
            engine, tenant_id, as_of, data_dir, inputs, version=version
        )
        report = price_portfolio(
            engine, tenant_id, clock, data_dir, response=response, version=version
        )
        actions += upsell_actions(report.recommendations, catalog)
    actions += capacity_actions(_loaded_cost(engine, tenant_id), catalog)
    required = 0.0
    if weekly_hours_needed is not None:
        if weekly_capacity is None:
            raise UserInputError("give the weekly capacity along with the hours needed")
        required = forecast_shortfall(weekly_hours_needed, weekly_capacity)
    limits = BudgetLimits(
        budget=amount,
        hours=hours,
        required_hours=required,
        per_client_cap=per_client_cap,
        must_do=list(must_do),
        exclude=list(exclude),
        **({} if time_limit_s is None else {"time_limit_s": time_limit_s}),
    )
    return solve_budget(actions, limits, marginal=marginal)
