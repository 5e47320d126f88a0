"""Budget allocation: spend a quarter's money and technician hours on the actions worth most.

A mixed-integer programme (PuLP, solved in-process by HiGHS through highspy):

    maximise   Σ (value_i − cost_i) · x_i                      (expected value net of spend)
    subject to Σ cost_i · x_i                    ≤ budget
               Σ hours_i · x_i − Σ supplied_j · x_j ≤ hours − required_hours
               Σ_{i ∈ client c} cost_i · x_i     ≤ per-client cap        (every client c)
               Σ_{i ∈ plays of client c} x_i     ≤ 1                     (one play per client)
               x_i = max_units_i                                        (must-do items)
               x_i ∈ {0, …, max_units_i}, or [0, max_units_i] for divisible actions

``hours`` is the technicians' time free for this plan; ``required_hours`` is work the demand
forecast says must be covered first (a shortfall); overtime and hiring actions *supply* hours.

The report says which constraints bind and what they are worth: the dual of each constraint in
the LP that keeps the integer choices fixed (continuous actions such as overtime stay free), and
the exact gain of re-solving the whole plan with one more step of budget / hours ("one more
$1,000 of budget is worth $X"). An infeasible request gets a plain-words explanation from an
elastic version of the model (how much more budget or how many more hours the must-do items need).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

import pulp
from pydantic import BaseModel, Field

from mspilot.core.errors import UserInputError

TOL = 1e-6
#: Plans with at most this many candidate actions are proven optimal; larger ones are solved
#: to within ``GAP_LARGE`` (relative) of the optimum, which the plan reports.
EXACT_UP_TO = 300
GAP_LARGE = 1e-4


class ActionKind(StrEnum):
    RETENTION = "retention"
    UPSELL = "upsell"
    LEAK_RECOVERY = "leak_recovery"
    OVERTIME = "overtime"
    HIRING = "hiring"
    OTHER = "other"


#: Client-facing kinds: at most one of these per client in a plan.
PLAY_KINDS = frozenset({ActionKind.RETENTION, ActionKind.UPSELL})


class CandidateAction(BaseModel):
    """One thing the MSP could do this quarter, with what it costs and what it is worth."""

    id: str = Field(min_length=1, max_length=120)
    kind: ActionKind
    label: str
    client_id: str | None = None
    client_name: str | None = None
    cost: float = Field(ge=0, description="Money spent per unit")
    hours: float = Field(default=0.0, ge=0, description="Technician hours used per unit")
    hours_supplied: float = Field(default=0.0, ge=0, description="Hours added per unit")
    value: float = Field(description="Expected value per unit (same currency as cost)")
    max_units: int = Field(default=1, ge=1, le=1000)
    divisible: bool = Field(default=False, description="May be done partly (e.g. overtime)")
    must_do: bool = False
    reason: str = ""

    @property
    def net_value(self) -> float:
        return self.value - self.cost


class BudgetLimits(BaseModel):
    """What the plan must respect (given by the user or by defaults)."""

    budget: float = Field(ge=0, description="Money available this quarter")
    hours: float = Field(ge=0, description="Technician hours free for this plan")
    required_hours: float = Field(
        default=0.0, ge=0, description="Hours the demand forecast needs covered first"
    )
    per_client_cap: float | None = Field(default=None, ge=0, description="Max spend per client")
    one_play_per_client: bool = True
    must_do: list[str] = Field(default_factory=list, description="Action ids that must be done")
    exclude: list[str] = Field(default_factory=list, description="Action ids never to do")
    budget_step: float = Field(default=1000.0, gt=0)
    hours_step: float = Field(default=10.0, gt=0)
    time_limit_s: float = Field(default=20.0, gt=0)


class PlannedAction(BaseModel):
    id: str
    kind: ActionKind
    label: str
    client_id: str | None
    client_name: str | None
    units: float
    cost: float
    hours: float
    hours_supplied: float
    value: float
    net_value: float
    must_do: bool
    reason: str


class ConstraintReport(BaseModel):
    name: str
    description: str
    used: float
    limit: float
    slack: float
    binding: bool
    shadow_price: float | None = Field(
        default=None, description="LP dual with the integer choices fixed, per unit of limit"
    )
    step: float | None = Field(default=None, description="Size of the re-solve step")
    gain_per_step: float | None = Field(
        default=None, description="Exact gain in net value from re-solving with limit + step"
    )
    sentence: str = ""


class Infeasibility(BaseModel):
    summary: str
    reasons: list[str]
    budget_short_by: float = 0.0
    hours_short_by: float = 0.0
    conflicting_items: list[str] = Field(default_factory=list)


Status = Literal["optimal", "infeasible", "not_solved", "time_limit"]


class BudgetPlan(BaseModel):
    status: Status
    message: str
    budget: float
    hours: float
    required_hours: float
    chosen: list[PlannedAction]
    expected_value: float = Field(description="Sum of the chosen actions' expected value")
    total_cost: float
    net_value: float = Field(description="Expected value minus spend: the objective")
    hours_used: float
    hours_supplied: float
    constraints: list[ConstraintReport]
    infeasibility: Infeasibility | None = None
    n_candidates: int
    optimality_gap: float = Field(
        default=0.0, description="Relative gap to the optimum the solver was allowed (0 = proven)"
    )
    solve_seconds: float


# ---- the model ---------------------------------------------------------------------------


class _Model:
    """The PuLP problem plus the handles needed to fix, relax and re-solve it."""

    def __init__(
        self, actions: Sequence[CandidateAction], limits: BudgetLimits, *, elastic: bool = False
    ) -> None:
        self.actions = list(actions)
        self.limits = limits
        self.prob = pulp.LpProblem("budget_plan", pulp.LpMaximize)
        self.x: list[pulp.LpVariable] = []
        self.index: dict[str, int] = {}
        must = set(limits.must_do)
        excluded = set(limits.exclude)
        for i, a in enumerate(self.actions):
            cat = pulp.LpContinuous if a.divisible else pulp.LpInteger
            up = 0 if a.id in excluded else a.max_units
            low = 1 if (a.must_do or a.id in must) and up > 0 else 0
            self.x.append(self.prob.add_variable(f"x{i}", lowBound=low, upBound=up, cat=cat))
            self.index[f"x{i}"] = i
        self.slack: dict[str, pulp.LpVariable] = {}
        self.cons: dict[str, tuple[pulp.LpConstraint, str]] = {}

        objective = pulp.LpAffineExpression(
            [(xv, a.net_value) for xv, a in zip(self.x, self.actions, strict=True)]
        )
        if elastic:
            # Minimise how far the limits must stretch; big weights, then value as tiebreak.
            self.slack["budget"] = self.prob.add_variable("s_budget", lowBound=0)
            self.slack["hours"] = self.prob.add_variable("s_hours", lowBound=0)
            objective = -1e6 * (self.slack["budget"] + self.slack["hours"])
        self.prob += objective

        spend = pulp.LpAffineExpression(
            [(xv, a.cost) for xv, a in zip(self.x, self.actions, strict=True) if a.cost]
        )
        self._add("budget", spend, limits.budget, "money spent ≤ budget")
        hours = pulp.LpAffineExpression(
            [
                (xv, a.hours - a.hours_supplied)
                for xv, a in zip(self.x, self.actions, strict=True)
                if a.hours or a.hours_supplied
            ]
        )
        self._add(
            "hours",
            hours,
            limits.hours - limits.required_hours,
            "technician hours used − hours added ≤ hours free − forecast shortfall",
        )

        by_client: dict[str, list[int]] = defaultdict(list)
        for i, a in enumerate(self.actions):
            if a.client_id is not None:
                by_client[a.client_id].append(i)
        for client, idx in by_client.items():
            cap = limits.per_client_cap
            if (
                cap is not None
                and sum(self.actions[i].cost * self.actions[i].max_units for i in idx) > cap
            ):
                expr = pulp.LpAffineExpression([(self.x[i], self.actions[i].cost) for i in idx])
                self._add(f"cap:{client}", expr, cap, f"spend on client {client} ≤ cap")
            plays = [i for i in idx if self.actions[i].kind in PLAY_KINDS]
            if limits.one_play_per_client and len(plays) > 1:
                expr = pulp.LpAffineExpression([(self.x[i], 1.0) for i in plays])
                self._add(f"play:{client}", expr, 1.0, f"at most one play for client {client}")

    def _add(self, name: str, expr: pulp.LpAffineExpression, rhs: float, text: str) -> None:
        if name in self.slack:
            expr = expr - self.slack[name]
        con = expr <= rhs
        self.prob += (con, _safe(name))
        self.cons[name] = (self.prob.get_constraint_by_name(_safe(name)), text)

    def solve(self, time_limit: float) -> str:
        # Small plans are solved to proven optimality; large ones to within GAP_LARGE of it
        # (the last 0.01% costs the solver many times the time of the rest).
        gap = 0.0 if len(self.actions) <= EXACT_UP_TO else GAP_LARGE
        self.prob.solve(highs(time_limit=time_limit, gap=gap))
        status = pulp.LpStatus[self.prob.status]
        if status == "Optimal":
            return "optimal" if self.prob.sol_status == pulp.LpSolutionOptimal else "time_limit"
        if status == "Infeasible":
            return "infeasible"
        if self.prob.sol_status == pulp.LpSolutionIntegerFeasible:
            return "time_limit"
        return "not_solved"

    def units(self) -> list[float]:
        return [float(xv.value() or 0.0) for xv in self.x]

    def objective(self) -> float:
        return float(pulp.value(self.prob.objective) or 0.0)


def highs(time_limit: float | None = None, *, gap: float | None = None) -> Any:
    """HiGHS, solving in this process through ``highspy`` (PuLP's ``HiGHS`` interface): no
    subprocess and no model files, and its time limit is honoured (the CBC binary PuLP bundles
    ran as a child process that intermittently slept ~10 s past its own limit)."""
    return pulp.HiGHS(msg=False, timeLimit=time_limit, gapRel=gap, threads=1)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name)


# ---- solving and reporting ---------------------------------------------------------------


def solve_budget(
    actions: Sequence[CandidateAction], limits: BudgetLimits, *, marginal: bool = True
) -> BudgetPlan:
    """The best plan for ``actions`` under ``limits``, with binding constraints and their worth.

    ``marginal`` re-solves with one more budget step and one more hours step to say exactly
    what extra money or time would be worth (skip it when only the plan is needed).
    """
    started = time.perf_counter()
    _check_ids(actions, limits)
    model = _Model(actions, limits)
    status = model.solve(limits.time_limit_s)
    if status == "infeasible" or status == "not_solved":
        infeasible = explain_infeasibility(actions, limits) if status == "infeasible" else None
        message = infeasible.summary if infeasible else "the solver did not find a plan"
        return BudgetPlan(
            status=status,
            message=message,
            budget=limits.budget,
            hours=limits.hours,
            required_hours=limits.required_hours,
            chosen=[],
            expected_value=0.0,
            total_cost=0.0,
            net_value=0.0,
            hours_used=0.0,
            hours_supplied=0.0,
            constraints=[],
            infeasibility=infeasible,
            n_candidates=len(actions),
            solve_seconds=time.perf_counter() - started,
        )
    units = _clean_units(model.units(), model.actions)
    chosen = [_planned(a, u) for a, u in zip(model.actions, units, strict=True) if u > TOL]
    net = sum(p.net_value for p in chosen)
    duals = _fixed_integer_duals(actions, limits, units)
    reports = _constraint_reports(model, units, duals)
    if marginal and status == "optimal":
        _add_marginal_values(reports, actions, limits, net)
    spend = sum(p.cost for p in chosen)
    plan = BudgetPlan(
        status=status,
        message=_summary(status, chosen, net, spend, limits),
        budget=limits.budget,
        hours=limits.hours,
        required_hours=limits.required_hours,
        chosen=sorted(chosen, key=lambda p: -p.net_value),
        expected_value=sum(p.value for p in chosen),
        total_cost=spend,
        net_value=net,
        hours_used=sum(p.hours for p in chosen),
        hours_supplied=sum(p.hours_supplied for p in chosen),
        constraints=reports,
        n_candidates=len(actions),
        optimality_gap=0.0 if len(actions) <= EXACT_UP_TO else GAP_LARGE,
        solve_seconds=time.perf_counter() - started,
    )
    return plan


def _check_ids(actions: Sequence[CandidateAction], limits: BudgetLimits) -> None:
    ids = [a.id for a in actions]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise UserInputError(f"candidate action ids must be unique; repeated: {', '.join(dupes)}")
    unknown = sorted((set(limits.must_do) | set(limits.exclude)) - set(ids))
    if unknown:
        raise UserInputError(f"unknown action ids in must-do/exclude: {', '.join(unknown[:5])}")
    both = sorted(set(limits.must_do) & set(limits.exclude))
    if both:
        raise UserInputError(f"actions both required and excluded: {', '.join(both[:5])}")


def _clean_units(units: list[float], actions: Sequence[CandidateAction]) -> list[float]:
    out = []
    for u, a in zip(units, actions, strict=True):
        u = max(0.0, min(float(a.max_units), u))
        out.append(u if a.divisible else float(round(u)))
    return out


def _planned(a: CandidateAction, units: float) -> PlannedAction:
    return PlannedAction(
        id=a.id,
        kind=a.kind,
        label=a.label,
        client_id=a.client_id,
        client_name=a.client_name,
        units=units,
        cost=a.cost * units,
        hours=a.hours * units,
        hours_supplied=a.hours_supplied * units,
        value=a.value * units,
        net_value=a.net_value * units,
        must_do=a.must_do,
        reason=a.reason,
    )


def _fixed_integer_duals(
    actions: Sequence[CandidateAction], limits: BudgetLimits, units: list[float]
) -> dict[str, float]:
    """Duals of the LP that keeps every integer choice at its plan value (divisible actions
    stay free): the value of one more unit of each limit at the margin of this plan."""
    lp = _Model(actions, limits)
    for xv, a, u in zip(lp.x, lp.actions, units, strict=True):
        xv.cat = pulp.LpContinuous
        if not a.divisible:
            xv.lowBound = xv.upBound = u
    lp.prob.solve(highs())
    if pulp.LpStatus[lp.prob.status] != "Optimal":
        return {}
    # HiGHS reports a maximisation's row duals with the sign of the minimised negated
    # objective: one more unit of a limit is worth -pi
    return {name: -float(con.pi or 0.0) for name, (con, _text) in lp.cons.items()}


def _constraint_reports(
    model: _Model, units: list[float], duals: dict[str, float]
) -> list[ConstraintReport]:
    reports = []
    for name, (con, text) in model.cons.items():
        used = sum(coef * units[model.index[var.name]] for var, coef in con.items())
        limit = -float(con.constant)
        slack = limit - used
        scale = max(1.0, abs(limit))
        binding = slack <= 1e-6 * scale
        if not binding and not name.startswith(("budget", "hours")):
            continue
        reports.append(
            ConstraintReport(
                name=name,
                description=text,
                used=used,
                limit=limit,
                slack=slack,
                binding=binding,
                shadow_price=duals.get(name),
            )
        )
    reports.sort(key=lambda r: (r.name not in ("budget", "hours"), r.name))
    names = {a.client_id: a.client_name or a.client_id for a in model.actions if a.client_id}
    return _aggregate_client_rules(reports, names)


def _aggregate_client_rules(
    reports: list[ConstraintReport], names: dict[str, str]
) -> list[ConstraintReport]:
    """One line per family of per-client rules (which clients they bind for, by name)."""
    out = [r for r in reports if not r.name.startswith(("play:", "cap:"))]
    for prefix, text in (
        ("play:", "at most one play per client"),
        ("cap:", "spend per client ≤ cap"),
    ):
        family = [r for r in reports if r.name.startswith(prefix) and r.binding]
        if not family:
            continue
        clients = [names.get(r.name[len(prefix) :], r.name[len(prefix) :]) for r in family]
        shown = ", ".join(clients[:5]) + (
            f" and {len(clients) - 5} more" if len(clients) > 5 else ""
        )
        out.append(
            ConstraintReport(
                name=prefix.rstrip(":") + "_per_client",
                description=text,
                used=float(len(family)),
                limit=float(len(family)),
                slack=0.0,
                binding=True,
                shadow_price=max((r.shadow_price or 0.0) for r in family),
                sentence=f"binds for {len(family)} clients ({shown})",
            )
        )
    return out


def _add_marginal_values(
    reports: list[ConstraintReport],
    actions: Sequence[CandidateAction],
    limits: BudgetLimits,
    net: float,
) -> None:
    for report in reports:
        if report.name == "budget":
            step = limits.budget_step
            more = limits.model_copy(update={"budget": limits.budget + step})
            unit_word = f"${step:,.0f} of budget"
        elif report.name == "hours":
            step = limits.hours_step
            more = limits.model_copy(update={"hours": limits.hours + step})
            unit_word = f"{step:,.0f} technician hours"
        else:
            continue
        report.step = step
        if report.binding:
            bigger = _Model(actions, more)
            if bigger.solve(limits.time_limit_s) == "optimal":
                report.gain_per_step = max(0.0, bigger.objective() - net)
        else:
            report.gain_per_step = 0.0
        gain = report.gain_per_step
        if gain is None:
            report.sentence = f"could not price one more {unit_word}"
        elif gain <= TOL:
            report.sentence = (
                f"one more {unit_word} is worth nothing now (slack {report.slack:,.0f})"
            )
        else:
            report.sentence = f"one more {unit_word} is worth ${gain:,.0f} of expected value"


def _summary(
    status: str, chosen: list[PlannedAction], net: float, spend: float, limits: BudgetLimits
) -> str:
    head = "Optimal plan" if status == "optimal" else "Best plan found before the time limit"
    return (
        f"{head}: {len(chosen)} actions, spend ${spend:,.0f} of ${limits.budget:,.0f}, "
        f"expected value net of spend ${net:,.0f}."
    )


# ---- infeasibility -------------------------------------------------------------------------


def explain_infeasibility(
    actions: Sequence[CandidateAction], limits: BudgetLimits
) -> Infeasibility:
    """Why no plan satisfies ``limits``, in plain words."""
    must = set(limits.must_do)
    required = [a for a in actions if (a.must_do or a.id in must) and a.id not in limits.exclude]
    reasons: list[str] = []
    conflicts: list[str] = []

    def money(v: float) -> str:
        return f"${v:,.0f}"

    if limits.one_play_per_client:
        plays: dict[str, list[CandidateAction]] = defaultdict(list)
        for a in required:
            if a.client_id is not None and a.kind in PLAY_KINDS:
                plays[a.client_id].append(a)
        for client, items in plays.items():
            if len(items) > 1:
                who = items[0].client_name or client
                conflicts.extend(a.id for a in items)
                reasons.append(
                    f"{len(items)} must-do plays for {who} ({', '.join(a.label for a in items)}), "
                    "but at most one play per client is allowed."
                )
    if limits.per_client_cap is not None:
        spend: dict[str, list[CandidateAction]] = defaultdict(list)
        for a in required:
            if a.client_id is not None:
                spend[a.client_id].append(a)
        for client, items in spend.items():
            total = sum(a.cost for a in items)
            if total > limits.per_client_cap + TOL:
                who = items[0].client_name or client
                conflicts.extend(a.id for a in items)
                reasons.append(
                    f"The must-do items for {who} cost {money(total)}, above the per-client cap "
                    f"of {money(limits.per_client_cap)}."
                )

    # Stretch only budget and hours (client rules relaxed: reported above) and measure how far.
    budget_short = hours_short = 0.0
    relaxed = limits.model_copy(update={"per_client_cap": None, "one_play_per_client": False})
    elastic = _Model(actions, relaxed, elastic=True)
    if elastic.solve(limits.time_limit_s) in ("optimal", "time_limit"):
        budget_short = float(elastic.slack["budget"].value() or 0.0)
        hours_short = float(elastic.slack["hours"].value() or 0.0)
    must_cost = sum(a.cost for a in required)
    must_hours = sum(a.hours for a in required)
    if budget_short > TOL:
        top = sorted(required, key=lambda a: -a.cost)[:5]
        listed = "; ".join(f"{a.label} ({money(a.cost)})" for a in top)
        reasons.append(
            f"The must-do items cost {money(must_cost)} together"
            + (" plus the overtime/hiring needed to staff them" if hours_short <= TOL else "")
            + f", more than the {money(limits.budget)} budget: short by {money(budget_short)}. "
            + f"Largest: {listed}."
        )
    if hours_short > TOL:
        supply = sum(a.hours_supplied * a.max_units for a in actions if a.id not in limits.exclude)
        need = must_hours + limits.required_hours
        parts = [f"The must-do items need {must_hours:,.0f} technician hours"]
        if limits.required_hours:
            parts.append(f"and the demand forecast needs {limits.required_hours:,.0f} more")
        reasons.append(
            " ".join(parts)
            + f" ({need:,.0f} h), but only {limits.hours:,.0f} h are free"
            + (f" and overtime/hiring can add at most {supply:,.0f} h" if supply else "")
            + f" within the budget: short by {hours_short:,.0f} h."
        )
    if not reasons:
        reasons.append("The limits contradict each other; no combination of actions fits.")
    summary = "No plan fits: " + reasons[0]
    return Infeasibility(
        summary=summary,
        reasons=reasons,
        budget_short_by=budget_short,
        hours_short_by=hours_short,
        conflicting_items=conflicts,
    )


def plan_as_rows(plan: BudgetPlan) -> list[dict[str, Any]]:
    """Flat rows of a plan (for tables and CSV)."""
    return [p.model_dump(mode="json") for p in plan.chosen]
