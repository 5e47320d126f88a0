"""Serving the trained models: plain functions the API and the agent's tools both call.

This is the one read path for model outputs: every caller (API, chat tools, digests, the
budget planner and the pricing service) loads a champion with :func:`load_champion` and reads
churn through :func:`churn_scores` / :func:`churn_risks`. Each function reads the tenant's
registered champion (``models.registry``), its saved leak findings or its data, and returns
typed rows: churn risks ranked with their drivers (``ChurnDriver``, one type end to end), client
margins over a period, revenue leaks, the demand forecast, price recommendations and what-ifs,
and the quarter's budget plan built from the data. A model that was never trained raises
:class:`ModelNotTrained` (a ``DataError``) naming ``mspilot train``.

The client genome comes from ``cached_features``, keyed by the tenant's data-version
fingerprint (any load, sync or deletion is seen by the next call, never served stale); the
registry caches the loaded model files. Callers that want a per-snapshot cache of the results
(the API) keep one keyed by tenant, product date and model version.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy import Engine, select

from mspilot.core.clock import Clock
from mspilot.core.errors import DataError
from mspilot.core.periods import Period
from mspilot.models.budget import BudgetPlan
from mspilot.models.data import DataVersion
from mspilot.models.explain import ChurnDriver
from mspilot.models.pricing import PriceRecommendation, PricingReport, WhatIfResult


class ModelNotTrained(DataError):
    """The tenant has no trained model (or saved findings) of this kind yet."""


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def champion_version(data_dir: Path, tenant_id: str, kind: str) -> int:
    """The version of the tenant's champion ``kind`` model, or :class:`ModelNotTrained`."""
    from mspilot.models.registry import Registry

    champ = Registry(Path(data_dir), tenant_id, mlflow=False).champion(kind)
    if champ is None:
        raise ModelNotTrained(f"no trained {kind} model for this tenant yet: run `mspilot train`")
    return champ.version


def load_champion(
    data_dir: Path, tenant_id: str, kind: str, version: int | None = None
) -> tuple[Any, int]:
    """The tenant's ``kind`` model (its champion, or ``version``) and its version: the one way
    a trained model is loaded (the registry caches the file while it is unchanged)."""
    from mspilot.models.registry import Registry

    version = champion_version(data_dir, tenant_id, kind) if version is None else version
    return Registry(Path(data_dir), tenant_id, mlflow=False).load(kind, version), version


def client_names(engine: Engine, tenant_id: str) -> dict[str, str]:
    from mspilot.db.schema import Client

    with engine.connect() as conn:
        rows = conn.execute(select(Client.id, Client.name).where(Client.tenant_id == tenant_id))
        return {str(cid): str(name) for cid, name in rows}


# ---- churn -----------------------------------------------------------------------------------


class ChurnRisk(BaseModel):
    client_id: str
    client_name: str
    risk_90d: float = Field(description="Probability the client leaves within 90 days")
    drivers: list[ChurnDriver] = Field(
        description="Reasons that raise the risk against the typical client, largest first"
    )


#: Genome columns that carry the client's own price changes.
PRICE_COLUMNS: tuple[str, ...] = ("price_change_pct_12m", "escalation_due_3m")


@dataclass(frozen=True)
class ChurnScores:
    """Every active client's 90-day churn risk from one churn model at one date, with the
    genome it read (for drivers and what-ifs)."""

    model: Any
    model_version: int
    features: pd.DataFrame  # the genome, index = client id
    risk: np.ndarray

    @property
    def client_ids(self) -> list[str]:
        return [str(c) for c in self.features.index]

    def by_client(self) -> dict[str, float]:
        return dict(zip(self.client_ids, self.risk.tolist(), strict=True))

    def without_price_changes(self) -> dict[str, float]:
        """Each client's 90-day risk had its price not moved: the 12-month price change and an
        escalation due at renewal set to none (the base a price response adds a change to)."""
        if self.features.empty:
            return {}
        overrides = {column: 0.0 for column in PRICE_COLUMNS}
        risk = np.asarray(self.model.predict_with(self.features, overrides), dtype=float)
        return dict(zip(self.client_ids, risk.tolist(), strict=True))


def churn_scores(
    engine: Engine,
    tenant_id: str,
    today: dt.date,
    data_dir: Path,
    *,
    version: int | None = None,
    data_version: DataVersion | None = None,
) -> ChurnScores:
    """The champion's (or ``version``'s) 90-day churn risk of every client active at ``today``
    (the genome from ``cached_features``, reused while the tenant's ``data_version`` holds)."""
    from mspilot.models.features import cached_features

    model, version = load_champion(data_dir, tenant_id, "churn", version)
    features = cached_features(engine, tenant_id, today, data_version)
    risk = np.asarray(model.predict_proba(features), dtype=float) if len(features) else np.zeros(0)
    return ChurnScores(model, version, features, risk)


def churn_risks(
    engine: Engine,
    tenant_id: str,
    today: dt.date,
    data_dir: Path,
    *,
    version: int | None = None,
    top_drivers: int = 3,
    scores: ChurnScores | None = None,
    explain_from: float = 0.0,
) -> list[ChurnRisk]:
    """Every client active at ``today`` with the champion's 90-day churn risk and the reasons
    raising it (``models.explain``), riskiest first. ``scores``: already computed by
    :func:`churn_scores`; ``explain_from``: only clients at or above this risk get reasons
    (explaining costs a pass over the genome)."""
    if scores is None:
        scores = churn_scores(engine, tenant_id, today, data_dir, version=version)
    if scores.features.empty:
        return []
    explained = scores.features.loc[scores.risk >= explain_from]
    drivers = scores.model.drivers(explained, top=top_drivers) if len(explained) else {}
    names = client_names(engine, tenant_id)
    rows = [
        ChurnRisk(
            client_id=cid,
            client_name=names.get(cid, cid),
            risk_90d=round(float(p), 4),
            drivers=drivers.get(cid, []),
        )
        for cid, p in zip(scores.client_ids, scores.risk, strict=True)
    ]
    return sorted(rows, key=lambda r: -r.risk_90d)


# ---- margins ---------------------------------------------------------------------------------


class ClientMargin(BaseModel):
    client_id: str
    client_name: str
    revenue: float
    hours: float
    labour_cost: float
    licence_cost: float
    margin: float
    margin_pct: float | None
    effective_rate: float | None


def client_margins(engine: Engine, tenant_id: str, period: Period) -> list[ClientMargin]:
    """Per-client revenue, labour and licence cost, margin and effective rate over ``period``."""
    from mspilot.models.profitability import client_margin_frame as frame_of

    frame = frame_of(engine, tenant_id, period)
    return [
        ClientMargin(
            client_id=str(cid),
            client_name=str(row["name"]),
            revenue=float(row["revenue"]),
            hours=float(row["hours"]),
            labour_cost=float(row["labour_cost"]),
            licence_cost=float(row["licence_cost"]),
            margin=float(row["margin"]),
            margin_pct=_finite(row["margin_pct"]),
            effective_rate=_finite(row["effective_rate"]),
        )
        for cid, row in frame.iterrows()
    ]


def margin_totals(rows: list[ClientMargin]) -> dict[str, float]:
    revenue = sum(r.revenue for r in rows)
    margin = sum(r.margin for r in rows)
    return {
        "revenue": round(revenue, 2),
        "margin": round(margin, 2),
        "margin_pct": round(margin / revenue, 4) if revenue else 0.0,
    }


# ---- leaks -----------------------------------------------------------------------------------


class Leak(BaseModel):
    type: str
    client_id: str
    client_name: str
    period_start: dt.date
    period_end: dt.date
    dollars: float
    detail: str
    evidence: list[str]


def revenue_leaks(data_dir: Path, tenant_id: str) -> list[Leak]:
    """The leak findings saved by the last ``mspilot train``, largest first."""
    from mspilot.models.leaks import load_findings

    try:
        findings = load_findings(Path(data_dir), tenant_id)
    except DataError as exc:
        raise ModelNotTrained(str(exc)) from None
    return [
        Leak(
            type=f.type,
            client_id=f.client_id,
            client_name=f.client_name,
            period_start=f.period_start,
            period_end=f.period_end,
            dollars=round(f.dollars, 2),
            detail=f.detail,
            evidence=list(f.evidence),
        )
        for f in findings
    ]


def leaks_by_type(rows: list[Leak]) -> dict[str, float]:
    by_type: dict[str, float] = {}
    for r in rows:
        by_type[r.type] = round(by_type.get(r.type, 0.0) + r.dollars, 2)
    return by_type


# ---- forecast --------------------------------------------------------------------------------


class ForecastWeek(BaseModel):
    week: dt.date
    tickets: float
    hours: float
    tickets_lo: float | None = None
    tickets_hi: float | None = None
    hours_lo: float | None = None
    hours_hi: float | None = None
    technicians_needed: float | None = None


class Forecast(BaseModel):
    as_of: dt.date
    model_version: int
    client_id: str | None
    capacity_hours: float
    weeks: list[ForecastWeek]
    backtest: dict[str, float]


_OPTIONAL_WEEK = ("tickets_lo", "tickets_hi", "hours_lo", "hours_hi", "technicians_needed")


def demand_forecast(
    data_dir: Path, tenant_id: str, *, client_id: str | None = None, version: int | None = None
) -> Forecast:
    """Weekly tickets and hours ahead (the whole MSP, or one client) from the champion."""
    model, version = load_champion(data_dir, tenant_id, "forecast", version)
    frame = model.total if client_id is None else model.for_client(client_id)
    if client_id is not None and frame.empty:
        raise DataError(f"no forecast for client {client_id!r}")
    weeks = []
    for _, row in frame.iterrows():
        week = row["week"]
        weeks.append(
            ForecastWeek(
                week=week.date() if hasattr(week, "date") else week,
                tickets=_finite(row.get("tickets")) or 0.0,
                hours=_finite(row.get("hours")) or 0.0,
                **{k: _finite(row.get(k)) for k in _OPTIONAL_WEEK if k in row.index},
            )
        )
    return Forecast(
        as_of=model.as_of,
        model_version=version,
        client_id=client_id,
        capacity_hours=float(model.capacity_hours),
        weeks=weeks,
        backtest={k: float(v) for k, v in model.backtest.items() if _finite(v) is not None},
    )


def weeks_in(forecast: Forecast, period: Period) -> list[ForecastWeek]:
    """The forecast weeks starting inside ``period`` (all of them when none does)."""
    inside = [w for w in forecast.weeks if period.start <= w.week < period.end]
    return inside or list(forecast.weeks)


# ---- pricing ---------------------------------------------------------------------------------


def price_portfolio(
    engine: Engine, tenant_id: str, today: dt.date, data_dir: Path
) -> PricingReport:
    """Recommended price per active client, ranked by expected 12-month gain, within policy."""
    from mspilot.models.pricing_service import price_portfolio as portfolio

    _require_churn(data_dir, tenant_id)
    return portfolio(engine, tenant_id, Clock(today), Path(data_dir))


def recommendation_for(report: PricingReport, client_id: str) -> PriceRecommendation | None:
    """One client's recommendation in a portfolio (None: no priced contract)."""
    return next((r for r in report.recommendations if r.client_id == client_id), None)


def price_what_if(
    engine: Engine,
    tenant_id: str,
    today: dt.date,
    data_dir: Path,
    client: str,
    change_pct: float,
) -> WhatIfResult:
    """What changing ``client``'s (id or name) price by ``change_pct`` % does to its churn,
    margin and expected 12-month profit."""
    from mspilot.models.pricing_service import price_what_if as what_if

    _require_churn(data_dir, tenant_id)
    return what_if(engine, tenant_id, Clock(today), Path(data_dir), client, change_pct)


def _require_churn(data_dir: Path, tenant_id: str) -> None:
    champion_version(data_dir, tenant_id, "churn")


# ---- budget ----------------------------------------------------------------------------------

#: Hours free for the plan when the caller gives none: a tenth of the team's quarter.
DEFAULT_HOURS_SHARE = 0.1
#: Seconds each solve may take when a person is waiting (API, chat); the best plan found by
#: then is reported with status ``time_limit``.
INTERACTIVE_SOLVE_S = 3.0
#: Money for the quarter when the caller names no amount.
DEFAULT_BUDGET_AMOUNT = 10_000.0


def default_plan_hours(data_dir: Path, tenant_id: str) -> float:
    """A tenth of a quarter's technician capacity (the forecast's weekly capacity × 13)."""
    try:
        capacity = demand_forecast(data_dir, tenant_id).capacity_hours
    except DataError:
        capacity = 0.0
    return round(capacity * 13 * DEFAULT_HOURS_SHARE, 1) if capacity > 0 else 200.0


def budget_plan(
    engine: Engine,
    tenant_id: str,
    today: dt.date,
    data_dir: Path,
    *,
    amount: float | None = None,
    hours: float | None = None,
    time_limit_s: float | None = INTERACTIVE_SOLVE_S,
) -> BudgetPlan:
    """The quarter's plan over every action the tenant's models suggest (retention plays for
    clients at risk, leak recovery, upsells of under-priced clients, bought hours)."""
    from mspilot.models.budget_actions import plan_budget

    _require_churn(data_dir, tenant_id)
    if hours is None:
        hours = default_plan_hours(data_dir, tenant_id)
    if amount is None:
        amount = DEFAULT_BUDGET_AMOUNT
    return plan_budget(
        engine,
        tenant_id,
        Clock(today),
        Path(data_dir),
        amount=amount,
        hours=hours,
        time_limit_s=time_limit_s,
    )
