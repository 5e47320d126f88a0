"""Dynamic pricing: the price per contract that maximises expected 12-month profit, within policy.

For each client's main priced contract (per user, per device, block hours, flat fee or the
T&M hourly rate):

- **cost to serve per unit**: the client's labour + licence cost per month (shared definitions in
  ``db.definitions``, via ``models.pricing_data``) allocated to the contract by its revenue share,
  divided by the units billed;
- **expected profit** of a price ``p`` (a change ``x`` from today's price, effective after month
  ``k``), over the months until the change and its first 12 months in effect:
  ``Σ_{t ≤ k+12} S_{t-1}(x) · m_t(x)``, where ``m_t`` is the client's whole
  monthly margin (the contract's revenue moves by ``R · x`` from month ``k+1`` on) and ``S`` is the
  client's survival: monthly hazard ``1 − (1 − p90)^(1/3)`` with ``p90`` the 90-day churn risk the
  response model (``models.pricing_response``) gives for that change. A client that leaves takes
  its whole margin with it, so P(stay | price change) × margin is what is maximised;
- **policy** (``PricingPolicy``): at most +15% over any 12 months (changes already made count),
  at most the tenant's largest discount down, a floor at cost plus a minimum margin, prices on
  price points (whole dollars per unit; coarser "nice" steps for large flat fees), and no change
  inside a fixed-price term unless its escalation clause allows one (then at most the clause's
  percentage, at the contract anniversary); a term that ends within the horizon allows a change
  at renewal.

The search is exhaustive over every legal price point, so the recommendation is the exact optimum
of the model's expected profit under the policy. Responses are evaluated on a grid of changes once
per portfolio and interpolated (in log-odds) for each candidate price, so a 2,000-client tenant
prices in well under a second.

Public functions (plain, ready to be agent tools): ``optimise_prices`` / ``what_if`` on inputs
and a response model; ``price_portfolio`` / ``price_what_if`` on an engine, tenant, clock and
data directory (in ``models.pricing_service``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from mspilot.core.clock import add_months
from mspilot.models.pricing_response import PriceResponse, expit, logit

HORIZON_MONTHS = 12
NICE_STEPS = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0)


class PricingPolicy(BaseModel):
    """The pricing rules every recommendation obeys."""

    max_increase_pct: float = Field(
        default=15.0, ge=0, le=100, description="Largest increase over any 12 months, in %"
    )
    max_decrease_pct: float = Field(
        default=10.0, ge=0, le=100, description="Largest decrease (the tenant's discount policy)"
    )
    min_margin_pct: float = Field(
        default=20.0, ge=0, lt=100, description="Floor: price ≥ cost per unit / (1 − this)"
    )
    unit_step: float = Field(default=1.0, gt=0, description="Price point step per unit")
    max_points: int = Field(default=60, ge=2, le=1000, description="Candidates per contract")
    horizon_months: int = Field(default=HORIZON_MONTHS, ge=1, le=36)
    response_months: int = Field(
        default=3, ge=1, le=36, description="Months after a change in which churn reacts to it"
    )
    allow_decrease: bool = True


# ---- inputs -------------------------------------------------------------------------------


@dataclass
class PricingInputs:
    """One row per client (its main priced contract), as aligned arrays."""

    client_id: list[str]
    client_name: list[str]
    contract_id: list[str]
    kind: list[str]
    unit: list[str]  # "user", "device", "hour", "month"
    price: np.ndarray  # current price per unit
    units: np.ndarray  # units billed per month
    client_revenue: np.ndarray  # client's monthly revenue (all lines)
    client_cost: np.ndarray  # client's monthly labour + licence cost
    prior_change_pct: np.ndarray  # price change over the last 12 months at as-of, in %
    starts_on: list[dt.date]
    ends_on: list[dt.date | None]
    escalation_pct: np.ndarray  # annual escalation clause, % (0 = none)
    price_changes: list[list[tuple[dt.date, float]]] = field(default_factory=list)
    notes: list[list[str]] = field(default_factory=list)
    segment: list[str] = field(default_factory=list)  # industry
    #: Price changes of every client of the tenant (churned ones too), when loaded with them.
    tenant_history: dict[str, list[tuple[dt.date, float]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.segment:
            self.segment = ["" for _ in self.client_id]
        if not self.notes:
            self.notes = [[] for _ in self.client_id]
        if not self.price_changes:
            self.price_changes = [[] for _ in self.client_id]

    def __len__(self) -> int:
        return len(self.client_id)

    @property
    def contract_revenue(self) -> np.ndarray:
        return np.asarray(self.price * self.units)

    @property
    def margin(self) -> np.ndarray:
        """Client's monthly margin today."""
        return np.asarray(self.client_revenue - self.client_cost)

    @property
    def cost_per_unit(self) -> np.ndarray:
        """The client's cost allocated to the contract by revenue share, per unit."""
        share = np.where(
            self.client_revenue > 0,
            np.clip(self.contract_revenue / np.maximum(self.client_revenue, 1e-9), 0, 1),
            1.0,
        )
        return np.asarray(
            np.where(self.units > 0, self.client_cost * share / np.maximum(self.units, 1e-9), 0.0)
        )

    def subset(self, rows: list[int]) -> PricingInputs:
        picked: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            values = getattr(self, name)
            if isinstance(values, dict):
                picked[name] = values
                continue
            picked[name] = (
                values[rows] if isinstance(values, np.ndarray) else [values[i] for i in rows]
            )
        return PricingInputs(**picked)


# ---- policy windows -------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Where one contract's price may go, from when, and why."""

    lo: float  # lowest legal price
    hi: float  # highest legal price
    effective_month: int  # the change applies from month effective_month + 1 of the horizon
    effective_on: dt.date
    locked: bool  # no change possible within the horizon
    floor: float  # cost + minimum margin
    floor_reachable: bool
    rules: tuple[str, ...]  # human notes on which rule set lo / hi


def _months_between(a: dt.date, b: dt.date) -> int:
    """Whole months from ``a`` to ``b`` rounded up (0 if ``b`` ≤ ``a``)."""
    if b <= a:
        return 0
    months = (b.year - a.year) * 12 + (b.month - a.month)
    return months + (1 if b.day > a.day else 0)


def _next_anniversary(start: dt.date, after: dt.date) -> dt.date:
    years = max(0, after.year - start.year)
    candidate = add_months(start, 12 * years)
    while candidate <= after:
        years += 1
        candidate = add_months(start, 12 * years)
    return candidate


def policy_window(inputs: PricingInputs, i: int, policy: PricingPolicy, as_of: dt.date) -> Window:
    price = float(inputs.price[i])
    cost_unit = float(inputs.cost_per_unit[i])
    floor = cost_unit / (1.0 - policy.min_margin_pct / 100.0)
    rules: list[str] = []

    # When may the price move? Month-to-month: now. Inside a fixed-price term: at renewal, or at
    # the anniversary by at most the escalation clause.
    effective = as_of
    locked = False
    clause_cap: float | None = None
    ends = inputs.ends_on[i]
    horizon_end = add_months(as_of, policy.horizon_months)
    if ends is not None and ends > as_of:
        esc = float(inputs.escalation_pct[i])
        anniversary = _next_anniversary(inputs.starts_on[i], as_of)
        if ends <= anniversary or esc <= 0:
            effective = ends
            if ends >= horizon_end:
                locked = True
                rules.append(f"fixed-price term until {ends.isoformat()}: no change before then")
            else:
                rules.append(
                    f"fixed-price term: the price can move at renewal on {ends.isoformat()}"
                )
        else:
            effective = anniversary
            clause_cap = esc
            rules.append(
                f"inside a fixed term until {ends.isoformat()}: only the {esc:.1f}% escalation "
                f"clause applies, at the anniversary on {anniversary.isoformat()}"
            )
            if anniversary >= horizon_end:
                locked = True

    # Yearly cap: changes already made in the 12 months before the effective date count.
    prior = prior_change_before(inputs.price_changes[i], effective)
    cap_factor = (1 + policy.max_increase_pct / 100.0) / (1 + max(prior, 0.0) / 100.0)
    hi = price * max(cap_factor, 1.0)
    if prior > 0:
        rules.append(
            f"already +{prior:.1f}% in the 12 months before {effective.isoformat()}, so at most "
            f"+{max(cap_factor - 1, 0) * 100:.1f}% more within the {policy.max_increase_pct:.0f}% "
            "yearly cap"
        )
    lo = price * (1 - policy.max_decrease_pct / 100.0) if policy.allow_decrease else price
    if clause_cap is not None:
        hi = min(hi, price * (1 + clause_cap / 100.0))
        lo = price  # an escalation clause never cuts the price inside the term
    if locked:
        lo = hi = price

    floor_reachable = floor <= hi + 1e-9
    if not locked:
        if floor > lo:
            lo = min(floor, hi)
            if floor_reachable:
                rules.append(f"floor at cost + {policy.min_margin_pct:.0f}% margin: {floor:,.2f}")
        if not floor_reachable:
            rules.append(
                f"cost + {policy.min_margin_pct:.0f}% margin ({floor:,.2f}) is above what policy "
                "allows now: go as far as allowed and review at the next opportunity"
            )
    return Window(
        lo=lo,
        hi=hi,
        effective_month=min(_months_between(as_of, effective), policy.horizon_months),
        effective_on=effective,
        locked=locked,
        floor=floor,
        floor_reachable=floor_reachable,
        rules=tuple(rules),
    )


def prior_change_before(changes: list[tuple[dt.date, float]], effective: dt.date) -> float:
    """Compound % change of the price changes dated within the 12 months before ``effective``."""
    since = add_months(effective, -12)
    factor = 1.0
    for when, pct in changes:
        if since < when <= effective:
            factor *= 1 + pct / 100.0
    return (factor - 1.0) * 100.0


def price_step(price: float, lo: float, hi: float, policy: PricingPolicy) -> float:
    """The price-point step for a contract: per-unit step, coarser for large flat fees so a
    contract has at most ``max_points`` candidates."""
    step = policy.unit_step
    span = hi - lo
    for nice in NICE_STEPS:
        if nice >= step and span / nice <= policy.max_points:
            return nice
    return max(step, span / policy.max_points)


def candidate_prices(price: float, window: Window, policy: PricingPolicy) -> np.ndarray:
    """Legal price points in the window, plus today's price if it is legal (holding)."""
    if window.locked:
        return np.array([price])
    step = price_step(price, window.lo, window.hi, policy)
    first = math.ceil(window.lo / step - 1e-9)
    last = math.floor(window.hi / step + 1e-9)
    points = np.arange(first, last + 1, dtype=float) * step
    points = points[(points >= window.lo - 1e-9) & (points <= window.hi + 1e-9)]
    if window.lo - 1e-9 <= price <= window.hi + 1e-9:
        points = np.append(points, price)
    if points.size == 0 and not window.floor_reachable:
        # The floor is out of reach: the highest price point under the cap (or the cap).
        below = math.floor(window.hi / step + 1e-9) * step
        points = np.array([below if price < below <= window.hi + 1e-9 else window.hi])
    finer = [s for s in (*NICE_STEPS[::-1], 0.1, 0.01) if s < step]
    while points.size == 0 and finer:
        # The window is narrower than one price point: use the next finer one (cents at worst).
        fine = finer.pop(0)
        first, last = math.ceil(window.lo / fine - 1e-9), math.floor(window.hi / fine + 1e-9)
        points = np.arange(first, last + 1, dtype=float) * fine
    if points.size == 0:
        points = np.array([window.hi])
    return np.unique(np.round(points, 2))


# ---- expected profit ------------------------------------------------------------------------


def expected_profit(
    margin: np.ndarray,
    delta_revenue: np.ndarray,
    p90_before: np.ndarray,
    p90_after: np.ndarray,
    effective_month: np.ndarray,
    horizon: int = HORIZON_MONTHS,
    response_months: int = 3,
) -> tuple[np.ndarray, np.ndarray]:
    """(expected profit over the horizon, probability of staying the whole horizon).

    Broadcasts: rows are clients, optional columns are candidate prices. A change effective
    after month ``k`` is valued over months ``1 .. k + horizon`` (the months until it applies
    and its first ``horizon`` months in effect). Month ``t`` (1-based) earns
    ``margin + delta_revenue`` if ``t > k`` else ``margin``, weighted by the probability the
    client is still there at its start. The monthly hazard comes from the
    90-day risk: ``p90_after`` in the ``response_months`` months after the change (the churn
    a price change provokes shows in the 90 days after it), ``p90_before`` otherwise."""
    h0 = 1.0 - np.power(1.0 - np.clip(p90_before, 0, 1 - 1e-12), 1.0 / 3.0)
    h1 = 1.0 - np.power(1.0 - np.clip(p90_after, 0, 1 - 1e-12), 1.0 / 3.0)
    k = np.asarray(effective_month)
    shape = np.broadcast(margin, delta_revenue, h0, h1, k).shape
    total = np.zeros(shape)
    alive = np.ones(shape)
    last = int(np.max(k)) + horizon if np.size(k) else horizon
    for t in range(1, last + 1):
        inside = t <= k + horizon  # a change is valued over its first `horizon` months
        after = t > k
        reacting = after & (t <= k + response_months)
        total = total + np.where(
            inside, alive * (margin + np.where(after, delta_revenue, 0.0)), 0.0
        )
        alive = alive * np.where(inside, 1.0 - np.where(reacting, h1, h0), 1.0)
    return total, alive


class ResponseGrid:
    """A response model evaluated once on a grid of changes, interpolated in log-odds."""

    def __init__(self, response: PriceResponse, n: int, lo: float, hi: float) -> None:
        step = 0.005
        lo = math.floor(min(lo, 0.0) / step) * step
        hi = math.ceil(max(hi, 0.0) / step) * step
        self.changes = np.round(np.arange(lo, hi + step / 2, step), 6)
        self.step = step
        self.lo = lo
        self.z = np.column_stack(
            [
                logit(np.asarray(response.churn_90d(np.full(n, c)), dtype=float))
                for c in self.changes
            ]
        )
        self.source = response.source

    def at(self, rows: np.ndarray, change: np.ndarray) -> np.ndarray:
        """90-day churn for ``change`` per row (``rows`` and ``change`` broadcast together)."""
        pos = (np.asarray(change) - self.lo) / self.step
        pos = np.clip(pos, 0, len(self.changes) - 1)
        left = np.clip(np.floor(pos).astype(np.int64), 0, len(self.changes) - 2)
        frac = pos - left
        if len(self.changes) == 1:
            return expit(self.z[rows, 0])
        z = self.z[rows, left] * (1 - frac) + self.z[rows, left + 1] * frac
        return expit(z)


# ---- results --------------------------------------------------------------------------------

Action = Literal["raise", "lower", "hold", "locked"]


class PriceRecommendation(BaseModel):
    client_id: str
    client_name: str
    contract_id: str
    contract_kind: str
    unit: str
    units: float
    current_price: float
    recommended_price: float
    change_pct: float
    action: Action
    effective_on: dt.date
    cost_per_unit: float
    floor_price: float
    margin_pct_now: float | None
    margin_pct_new: float | None
    monthly_revenue_now: float
    monthly_revenue_new: float
    churn_90d_now: float
    churn_90d_new: float
    stay_12m_now: float
    stay_12m_new: float
    expected_profit_now: float = Field(description="Expected profit over the horizon, no change")
    expected_profit_new: float = Field(description="Expected profit at the recommended price")
    expected_gain: float
    under_priced: bool
    rules: list[str]
    reasoning: list[str]


class PriceExperiment(BaseModel):
    """A small price test in the segment whose price sensitivity is least certain."""

    segment: str = Field(description="factor=level, e.g. industry=Legal")
    slope: float = Field(description="Posterior mean: log-odds of monthly churn per pp")
    slope_sd: float = Field(description="Posterior standard deviation")
    clients: list[str] = Field(description="Active clients of the segment the test could use")
    increase_pct: float
    proposal: str


class PricingReport(BaseModel):
    tenant_id: str
    as_of: dt.date
    policy: PricingPolicy
    response_source: str
    horizon_months: int
    recommendations: list[PriceRecommendation]
    expected_profit_now: float
    expected_profit_recommended: float
    expected_gain: float
    n_under_priced: int
    notes: list[str] = Field(default_factory=list)
    experiments: list[PriceExperiment] = Field(
        default_factory=list,
        description="Small price tests where the price sensitivity is least certain",
    )


class WhatIfResult(BaseModel):
    client_id: str
    client_name: str
    contract_id: str
    change_pct: float
    current_price: float
    new_price: float
    effective_on: dt.date
    within_policy: bool
    policy_breaches: list[str]
    margin_pct_now: float | None
    margin_pct_new: float | None
    monthly_margin_now: float
    monthly_margin_new: float
    churn_90d_now: float
    churn_90d_new: float
    churn_90d_delta: float
    stay_12m_now: float
    stay_12m_new: float
    expected_profit_now: float
    expected_profit_new: float
    expected_profit_change: float
    break_even_churn_90d: float | None = Field(
        description="90-day churn at which this change would stop paying for itself"
    )
    recommended: PriceRecommendation
    reasoning: list[str]


# ---- the optimiser --------------------------------------------------------------------------


def _pct(v: float) -> str:
    return f"{v * 100:+.1f}%"


def _margin_pct(revenue: float, margin: float) -> float | None:
    return None if revenue <= 0 else margin / revenue


def optimise_prices(
    inputs: PricingInputs,
    response: PriceResponse,
    policy: PricingPolicy,
    as_of: dt.date,
    *,
    grid: ResponseGrid | None = None,
) -> list[PriceRecommendation]:
    """The expected-profit-maximising legal price of every row (exhaustive over price points)."""
    n = len(inputs)
    if n == 0:
        return []
    windows = [policy_window(inputs, i, policy, as_of) for i in range(n)]
    cands = [candidate_prices(float(inputs.price[i]), w, policy) for i, w in enumerate(windows)]
    width = max(len(c) for c in cands)
    prices = np.full((n, width), np.nan)
    for i, c in enumerate(cands):
        prices[i, : len(c)] = c
    base_price = inputs.price[:, None]
    change = np.where(base_price > 0, prices / np.where(base_price > 0, base_price, 1) - 1, 0.0)
    if grid is None:
        finite = change[np.isfinite(change)]
        grid = ResponseGrid(response, n, float(finite.min()), float(finite.max()))
    rows = np.arange(n)
    p90_now = grid.at(rows, np.zeros(n))
    p90 = grid.at(rows[:, None], np.nan_to_num(change))
    eff = np.array([w.effective_month for w in windows])
    delta_rev = (np.nan_to_num(prices) - base_price) * inputs.units[:, None]
    profit, stay = expected_profit(
        inputs.margin[:, None],
        delta_rev,
        p90_now[:, None],
        p90,
        eff[:, None],
        policy.horizon_months,
        policy.response_months,
    )
    profit = np.where(np.isfinite(prices), profit, -np.inf)
    # Ties go to the smallest move.
    score = profit - 1e-9 * np.abs(np.nan_to_num(change))
    best = np.argmax(score, axis=1)
    now_profit, now_stay = expected_profit(
        inputs.margin, np.zeros(n), p90_now, p90_now, eff, policy.horizon_months
    )
    out = []
    for i in range(n):
        j = int(best[i])
        out.append(
            _recommendation(
                inputs,
                i,
                windows[i],
                float(prices[i, j]),
                float(p90_now[i]),
                float(p90[i, j]),
                float(now_profit[i]),
                float(profit[i, j]),
                float(now_stay[i]),
                float(stay[i, j]),
                policy,
                grid.source,
            )
        )
    return out


def evaluate_prices(
    inputs: PricingInputs,
    prices: np.ndarray,
    response: PriceResponse,
    policy: PricingPolicy,
    as_of: dt.date,
) -> np.ndarray:
    """Expected profit over the horizon of each row at ``prices`` (effective when the policy
    lets the row change), under ``response``: to score any price list, e.g. against a truth."""
    n = len(inputs)
    windows = [policy_window(inputs, i, policy, as_of) for i in range(n)]
    change = np.asarray(prices, dtype=float) / inputs.price - 1.0
    p_now = np.asarray(response.churn_90d(np.zeros(n)), dtype=float)
    p_new = np.asarray(response.churn_90d(change), dtype=float)
    eff = np.array([w.effective_month for w in windows])
    delta = (np.asarray(prices, dtype=float) - inputs.price) * inputs.units
    value, _ = expected_profit(
        inputs.margin, delta, p_now, p_new, eff, policy.horizon_months, policy.response_months
    )
    return value


def _recommendation(
    inputs: PricingInputs,
    i: int,
    window: Window,
    new_price: float,
    p_now: float,
    p_new: float,
    profit_now: float,
    profit_new: float,
    stay_now: float,
    stay_new: float,
    policy: PricingPolicy,
    source: str,
) -> PriceRecommendation:
    price = float(inputs.price[i])
    units = float(inputs.units[i])
    change = new_price / price - 1 if price > 0 else 0.0
    rev_now = float(inputs.client_revenue[i])
    margin_now = float(inputs.margin[i])
    rev_new = rev_now + (new_price - price) * units
    margin_new = margin_now + (new_price - price) * units
    if window.locked:
        action: Action = "locked"
    elif abs(new_price - price) < 0.005:
        action = "hold"
    else:
        action = "raise" if new_price > price else "lower"
    gain = profit_new - profit_now
    unit = inputs.unit[i]
    reasoning = [
        f"Cost to serve is {inputs.cost_per_unit[i]:,.2f} per {unit} per month against a price of "
        f"{price:,.2f} (client margin {_fmt_pct(_margin_pct(rev_now, margin_now))}).",
        f"At today's price the {source} puts 90-day churn at {p_now:.1%}; the client stays the "
        f"next {policy.horizon_months} months with probability {stay_now:.0%}, worth "
        f"${profit_now:,.0f} of expected profit.",
    ]
    if action in ("raise", "lower"):
        reasoning.append(
            f"{action.capitalize()} to {new_price:,.2f} ({_pct(change)}) from "
            f"{window.effective_on.isoformat()}: 90-day churn {p_now:.1%} → {p_new:.1%}, "
            f"expected profit ${profit_now:,.0f} → ${profit_new:,.0f} ({gain:+,.0f})."
        )
    elif action == "hold":
        reasoning.append(
            "Holding the price: no legal price point earns more expected profit once the "
            "added churn risk is counted."
        )
    else:
        reasoning.append("No change is possible within the horizon.")
    return PriceRecommendation(
        client_id=inputs.client_id[i],
        client_name=inputs.client_name[i],
        contract_id=inputs.contract_id[i],
        contract_kind=inputs.kind[i],
        unit=unit,
        units=units,
        current_price=price,
        recommended_price=new_price,
        change_pct=change * 100,
        action=action,
        effective_on=window.effective_on,
        cost_per_unit=float(inputs.cost_per_unit[i]),
        floor_price=window.floor,
        margin_pct_now=_margin_pct(rev_now, margin_now),
        margin_pct_new=_margin_pct(rev_new, margin_new),
        monthly_revenue_now=rev_now,
        monthly_revenue_new=rev_new,
        churn_90d_now=p_now,
        churn_90d_new=p_new,
        stay_12m_now=stay_now,
        stay_12m_new=stay_new,
        expected_profit_now=profit_now,
        expected_profit_new=profit_new,
        expected_gain=gain,
        under_priced=new_price > price + 0.005,
        rules=list(window.rules) + list(inputs.notes[i]),
        reasoning=reasoning,
    )


def _fmt_pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.0%}"


def what_if(
    inputs: PricingInputs,
    i: int,
    change_pct: float,
    response: PriceResponse,
    policy: PricingPolicy,
    as_of: dt.date,
) -> WhatIfResult:
    """What happens to row ``i`` if its price moves by ``change_pct`` percent."""
    one = inputs.subset([i])
    sub_response = _RowResponse(response, i, len(inputs))
    window = policy_window(one, 0, policy, as_of)
    change = change_pct / 100.0
    price = float(one.price[0])
    new_price = round(price * (1 + change), 2)
    breaches = []
    if window.locked and abs(change) > 1e-9:
        breaches.append(window.rules[-1] if window.rules else "the contract is locked")
    elif new_price > window.hi + 0.005:
        breaches.append(
            f"above the highest legal price {window.hi:,.2f} ("
            + "; ".join(r for r in window.rules if "cap" in r or "escalation" in r or "term" in r)
            + f") — the yearly cap is {policy.max_increase_pct:.0f}%"
        )
    elif new_price < window.lo - 0.005:
        reason = (
            f"below cost + {policy.min_margin_pct:.0f}% margin ({window.floor:,.2f})"
            if new_price < window.floor
            else f"a cut beyond the {policy.max_decrease_pct:.0f}% discount policy"
        )
        breaches.append(f"below the lowest legal price {window.lo:,.2f}: {reason}")
    grid = ResponseGrid(sub_response, 1, min(change, -0.0), max(change, 0.0))
    p_now = float(grid.at(np.array([0]), np.zeros(1))[0])
    p_new = float(grid.at(np.array([0]), np.array([change]))[0])
    eff = np.array([window.effective_month])
    units = float(one.units[0])
    delta_rev = (new_price - price) * units
    (profit_now,), (stay_now,) = expected_profit(
        one.margin, np.zeros(1), np.array([p_now]), np.array([p_now]), eff, policy.horizon_months
    )
    (profit_new,), (stay_new,) = expected_profit(
        one.margin,
        np.array([delta_rev]),
        np.array([p_now]),
        np.array([p_new]),
        eff,
        policy.horizon_months,
        policy.response_months,
    )
    rec = optimise_prices(one, sub_response, policy, as_of)[0]
    rev_now = float(one.client_revenue[0])
    m_now = float(one.margin[0])
    breakeven = _break_even(one, window, delta_rev, p_now, float(profit_now), policy)
    diff = float(profit_new - profit_now)
    reasoning = [
        f"{one.client_name[0]} pays {price:,.2f} per {one.unit[0]} for {units:,.0f} "
        f"{one.unit[0]}s; a {change_pct:+.1f}% change makes it {new_price:,.2f} "
        f"({delta_rev:+,.0f} a month) from {window.effective_on.isoformat()}.",
        f"Monthly margin {m_now:,.0f} → {m_now + delta_rev:,.0f} "
        f"({_fmt_pct(_margin_pct(rev_now, m_now))} → "
        f"{_fmt_pct(_margin_pct(rev_now + delta_rev, m_now + delta_rev))}).",
        f"The {response.source} moves 90-day churn {p_now:.1%} → {p_new:.1%} "
        f"({(p_new - p_now) * 100:+.1f} points); staying {policy.horizon_months} months "
        f"{float(stay_now):.0%} → {float(stay_new):.0%}.",
        f"Expected {policy.horizon_months}-month profit ${float(profit_now):,.0f} → "
        f"${float(profit_new):,.0f} ({diff:+,.0f}): "
        + (
            "the extra margin outweighs the added risk."
            if diff > 0
            else "the added risk costs more than the extra margin earns."
        ),
    ]
    if breakeven is not None and change > 0:
        reasoning.append(
            f"It stops paying off if 90-day churn after the change exceeds {breakeven:.1%}."
        )
    if breaches:
        reasoning.append("Outside policy: " + "; ".join(breaches) + ".")
    reasoning.append(
        f"Best legal price by the same model: {rec.recommended_price:,.2f} "
        f"({rec.change_pct:+.1f}%, expected gain {rec.expected_gain:+,.0f})."
    )
    return WhatIfResult(
        client_id=one.client_id[0],
        client_name=one.client_name[0],
        contract_id=one.contract_id[0],
        change_pct=change_pct,
        current_price=price,
        new_price=new_price,
        effective_on=window.effective_on,
        within_policy=not breaches,
        policy_breaches=breaches,
        margin_pct_now=_margin_pct(rev_now, m_now),
        margin_pct_new=_margin_pct(rev_now + delta_rev, m_now + delta_rev),
        monthly_margin_now=m_now,
        monthly_margin_new=m_now + delta_rev,
        churn_90d_now=p_now,
        churn_90d_new=p_new,
        churn_90d_delta=p_new - p_now,
        stay_12m_now=float(stay_now),
        stay_12m_new=float(stay_new),
        expected_profit_now=float(profit_now),
        expected_profit_new=float(profit_new),
        expected_profit_change=diff,
        break_even_churn_90d=breakeven,
        recommended=rec,
        reasoning=reasoning,
    )


def _break_even(
    one: PricingInputs,
    window: Window,
    delta_rev: float,
    p_now: float,
    profit_now: float,
    policy: PricingPolicy,
) -> float | None:
    """The 90-day churn after the change at which expected profit equals holding (bisection)."""
    if delta_rev <= 0:
        return None
    eff = np.array([window.effective_month])

    def gain(p: float) -> float:
        value, _ = expected_profit(
            one.margin,
            np.array([delta_rev]),
            np.array([p_now]),
            np.array([p]),
            eff,
            policy.horizon_months,
            policy.response_months,
        )
        return float(value[0]) - profit_now

    lo, hi = p_now, 0.999
    if gain(lo) <= 0 or gain(hi) > 0:
        return None
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gain(mid) > 0 else (lo, mid)
    return (lo + hi) / 2


class _RowResponse:
    """One row of a portfolio response model, as a response of its own."""

    def __init__(self, response: PriceResponse, row: int, n: int) -> None:
        self.response = response
        self.row = row
        self.n = n
        self.source = response.source

    def churn_90d(self, change: np.ndarray) -> np.ndarray:
        full = np.zeros(self.n)
        full[self.row] = float(np.asarray(change).reshape(-1)[0])
        return np.asarray(self.response.churn_90d(full))[[self.row]]


def summarise(
    tenant_id: str,
    as_of: dt.date,
    policy: PricingPolicy,
    source: str,
    recs: list[PriceRecommendation],
    notes: list[str] | None = None,
) -> PricingReport:
    """The portfolio view: every client ranked by expected gain."""
    ranked = sorted(recs, key=lambda r: -r.expected_gain)
    now = sum(r.expected_profit_now for r in recs)
    new = sum(r.expected_profit_new for r in recs)
    return PricingReport(
        tenant_id=tenant_id,
        as_of=as_of,
        policy=policy,
        response_source=source,
        horizon_months=policy.horizon_months,
        recommendations=ranked,
        expected_profit_now=now,
        expected_profit_recommended=new,
        expected_gain=new - now,
        n_under_priced=sum(r.under_priced for r in recs),
        notes=notes or [],
    )
