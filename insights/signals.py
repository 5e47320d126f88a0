"""What the models say today, gathered once per digest: the raw material of the insights.

- churn: every active client's 90-day risk and, for the clients at or above the churn
  threshold, the reasons raising it (``models.serving``: the one read path for model
  outputs), with its monthly revenue;
- leaks: the leak findings saved by the last ``mspilot train``;
- pricing: the price optimiser's recommendations (reusing the churn scores above, as the budget
  planner does, instead of scoring the genome twice);
- capacity: the registered demand forecast's weekly hours against the team's capacity.

A source that is missing (no model trained yet) becomes a note, never an error: the digest says
what it could not look at.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Engine

from mspilot.core.errors import DataError, MspilotError
from mspilot.core.logging import get_logger
from mspilot.core.periods import Period
from mspilot.db.definitions import revenue_by_client
from mspilot.models.data import DataVersion, data_version
from mspilot.models.explain import ChurnDriver
from mspilot.models.leaks import LeakFinding as LeakSignal  # re-exported: the leak signal
from mspilot.models.serving import ChurnScores, churn_risks, churn_scores, load_champion

log = get_logger(__name__)
T = TypeVar("T")
__all__ = [
    "CapacitySignal",
    "CapacityWeek",
    "ChurnSignal",
    "LeakSignal",
    "PricingSignal",
    "Signals",
    "collect_signals",
]

#: Weeks ahead the capacity detector looks at.
CAPACITY_WEEKS = 8
#: Overtime premium over the loaded hourly cost used to price a capacity shortfall.
OVERTIME_PREMIUM = 1.5


@dataclass
class ChurnSignal:
    client_id: str
    client_name: str
    risk: float
    monthly_revenue: float
    drivers: list[ChurnDriver] = field(default_factory=list)


@dataclass
class PricingSignal:
    client_id: str
    client_name: str
    contract_id: str
    unit: str
    units: float
    current_price: float
    recommended_price: float
    change_pct: float
    effective_on: dt.date
    expected_gain: float
    churn_now: float
    churn_new: float
    reasoning: list[str]


@dataclass
class CapacityWeek:
    week: dt.date
    hours: float
    hours_hi: float | None
    technicians_needed: float | None


@dataclass
class CapacitySignal:
    capacity_hours: float
    loaded_cost: float
    weeks: list[CapacityWeek]


@dataclass
class Signals:
    as_of: dt.date
    churn: list[ChurnSignal] | None = None
    leaks: list[LeakSignal] | None = None
    pricing: list[PricingSignal] | None = None
    capacity: CapacitySignal | None = None
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


def _timed(signals: Signals, name: str, fn: Callable[[], T]) -> T | None:
    started = time.perf_counter()
    try:
        return fn()
    except (MspilotError, FileNotFoundError, LookupError) as exc:
        signals.notes.append(f"{name}: {exc}")
        return None
    except Exception as exc:  # a broken model must not stop the other detectors
        log.warning("insight source failed", source=name, error=repr(exc))
        signals.notes.append(f"{name}: failed ({type(exc).__name__}: {exc})")
        return None
    finally:
        signals.timings_ms[name] = round((time.perf_counter() - started) * 1000, 1)


# ---- churn ----------------------------------------------------------------------------------


def score_churn(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    data_dir: Path,
    version: DataVersion | None = None,
) -> ChurnScores:
    """Every active client's 90-day churn probability (``models.serving.churn_scores``)."""
    scores = churn_scores(engine, tenant_id, as_of, data_dir, data_version=version)
    if scores.features.empty:
        raise DataError("no active clients to score")
    return scores


def churn_signals(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    data_dir: Path,
    scores: ChurnScores,
    min_risk: float,
) -> list[ChurnSignal]:
    """Every scored client with its monthly revenue; the reasons (``models.serving``) for the
    clients at or above ``min_risk`` only."""
    period = Period.months_before(as_of + dt.timedelta(days=1), 3)
    with engine.connect() as conn:
        revenue = {
            str(c): float(v or 0) for c, v in conn.execute(revenue_by_client(tenant_id, period))
        }
    risks = churn_risks(
        engine, tenant_id, as_of, data_dir, scores=scores, explain_from=min_risk, top_drivers=3
    )
    by_id = {r.client_id: r for r in risks}
    return [
        ChurnSignal(
            client_id=cid,
            client_name=by_id[cid].client_name,
            risk=float(p),
            monthly_revenue=revenue.get(cid, 0.0) / 3,
            drivers=list(by_id[cid].drivers),
        )
        for cid, p in zip(scores.client_ids, scores.risk, strict=True)
    ]


# ---- leaks ----------------------------------------------------------------------------------


def leak_signals(data_dir: Path, tenant_id: str) -> list[LeakSignal]:
    """The findings the last ``mspilot train`` saved (``models.leaks``)."""
    from mspilot.models.leaks import load_findings

    return load_findings(data_dir, tenant_id)


# ---- pricing --------------------------------------------------------------------------------


def pricing_signals(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    data_dir: Path,
    scores: ChurnScores | None,
    inputs: Any = None,
    version: DataVersion | None = None,
) -> list[PricingSignal]:
    """Under-priced clients worth a raise: the optimiser's recommendations, given the churn
    scores already computed (and the pricing inputs, if already loaded)."""
    from mspilot.models.pricing import optimise_prices
    from mspilot.models.pricing_data import load_pricing_inputs
    from mspilot.models.pricing_service import default_policy, history_response

    if scores is None:
        raise DataError("pricing needs the churn model's scores: run `mspilot train`")
    if inputs is None:
        inputs = load_pricing_inputs(engine, tenant_id, as_of)
    response, _fit = history_response(
        engine,
        tenant_id,
        as_of,
        data_dir,
        inputs,
        base_by_id=scores.without_price_changes(),
        version=version,
    )
    # what ``price_portfolio`` does, without loading the inputs a second time
    recommendations = optimise_prices(inputs, response, default_policy(engine, tenant_id), as_of)
    return [
        PricingSignal(
            client_id=r.client_id,
            client_name=r.client_name,
            contract_id=r.contract_id,
            unit=r.unit,
            units=r.units,
            current_price=r.current_price,
            recommended_price=r.recommended_price,
            change_pct=r.change_pct,
            effective_on=r.effective_on,
            expected_gain=r.expected_gain,
            churn_now=r.churn_90d_now,
            churn_new=r.churn_90d_new,
            reasoning=list(r.reasoning),
        )
        for r in recommendations
        if r.action == "raise" and r.under_priced
    ]


# ---- capacity -------------------------------------------------------------------------------


def capacity_signal(
    engine: Engine, tenant_id: str, as_of: dt.date, data_dir: Path
) -> CapacitySignal:
    from mspilot.models.budget_actions import _loaded_cost  # the budget planner's hourly cost

    forecast, _version = load_champion(data_dir, tenant_id, "forecast")
    total = forecast.total
    weeks = []
    for _, row in total.iterrows():
        week = row["week"]
        day = week.date() if hasattr(week, "date") else week
        if day < as_of - dt.timedelta(days=6):
            continue
        hi = row.get("hours_hi")
        need = row.get("technicians_needed")
        weeks.append(
            CapacityWeek(
                week=day,
                hours=float(row["hours"]),
                hours_hi=None if hi is None or np.isnan(hi) else float(hi),
                technicians_needed=None if need is None or np.isnan(need) else float(need),
            )
        )
    return CapacitySignal(
        capacity_hours=float(forecast.capacity_hours),
        loaded_cost=_loaded_cost(engine, tenant_id),
        weeks=weeks[:CAPACITY_WEEKS],
    )


# ---- all of them ----------------------------------------------------------------------------


def collect_signals(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    data_dir: Path,
    *,
    min_churn_risk: float,
) -> Signals:
    """Everything the detectors read, each source timed; missing ones become notes. The
    genome, pricing inputs and price sensitivity are read once per ``data_version`` of the
    tenant (a digest right after another, with no load in between, reuses them)."""
    from mspilot.models.pricing_data import cached_pricing_inputs

    data_dir = Path(data_dir)
    signals = Signals(as_of=as_of)
    version = _timed(signals, "data version", lambda: data_version(engine, tenant_id))
    scores = _timed(
        signals, "churn model", lambda: score_churn(engine, tenant_id, as_of, data_dir, version)
    )
    if scores is not None:
        signals.churn = _timed(
            signals,
            "churn drivers",
            lambda: churn_signals(engine, tenant_id, as_of, data_dir, scores, min_churn_risk),
        )
        inputs = _timed(
            signals,
            "pricing inputs",
            lambda: cached_pricing_inputs(engine, tenant_id, as_of, version),
        )
        if inputs is not None:
            signals.pricing = _timed(
                signals,
                "pricing",
                lambda: pricing_signals(
                    engine, tenant_id, as_of, data_dir, scores, inputs, version
                ),
            )
    signals.leaks = _timed(signals, "revenue leaks", lambda: leak_signals(data_dir, tenant_id))
    signals.capacity = _timed(
        signals, "demand forecast", lambda: capacity_signal(engine, tenant_id, as_of, data_dir)
    )
    return signals
