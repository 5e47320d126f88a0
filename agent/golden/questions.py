# ruff: noqa: E501  (a data table: one golden question per entry, kept on its lines)
"""The golden questions over the demo MSP: base phrasings plus paraphrases, the tools that may
answer them, and a checker computing the expected answer from the database.

Question texts are templates filled from :attr:`GoldenEnv.picks` (names and periods chosen
from the data), so the set works on any generated tenant and clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from mspilot.agent.golden.checks import (
    Check,
    Checker,
    all_of,
    artifact_has,
    names,
    number,
    text_has,
    tool_answered,
)
from mspilot.agent.golden.env import GoldenEnv
from mspilot.core.clock import add_months, month_start
from mspilot.core.periods import Period

QM = ("query_metrics",)
SQL = ("run_sql",)


@dataclass(frozen=True)
class Golden:
    id: str
    questions: tuple[str, ...]
    tools: tuple[str, ...]
    check: Checker
    #: asked first in the same thread (follow-up questions)
    setup: str | None = None


def _priority_count(priority: str) -> Callable[[GoldenEnv], float]:
    def count(env: GoldenEnv) -> float:
        return float(len(env.tickets_in(env.last_month, priority=priority)))

    return count


def _q(env: GoldenEnv) -> Period:
    p = env.picks
    return Period.quarter(p["q_year"], p["q"])


def _ids(env: GoldenEnv, name: str) -> list[str]:
    return [i for i, n in env.client_names.items() if n == name]


def _industry_clients(env: GoldenEnv) -> list[str]:
    df = env.t("clients")
    active = set(env.active_client_ids())
    return sorted(
        df[
            (df["industry"] == env.picks["industry"])
            & df["id"].isin(active)
            & (df["status"] == "active")
        ]["name"]
    )


def _monthly_revenue(env: GoldenEnv) -> list[float]:
    out = []
    start = dt.date(env.today.year, 1, 1)
    while start <= env.today:
        out.append(env.revenue(Period(start, add_months(start, 1))))
        start = add_months(start, 1)
    return out


def _expiring(env: GoldenEnv) -> list[str]:
    df = env.t("contracts")
    ends = pd.to_datetime(df["ends_on"])
    lo, hi = pd.Timestamp(env.today), pd.Timestamp(env.today + dt.timedelta(days=90))
    hit = df[(df["status"] == "active") & (ends >= lo) & (ends < hi)]
    return sorted({env.client_names[c] for c in hit["client_id"]})


def _stale_devices(env: GoldenEnv) -> int:
    df = env.t("assets")
    seen = pd.to_datetime(df["last_seen_at"], utc=True).dt.tz_localize(None)
    cutoff = pd.Timestamp(env.today - dt.timedelta(days=30))
    return int((df["managed"].astype(bool) & (seen < cutoff)).sum())


def _oldest_open_subject(env: GoldenEnv) -> list[str]:
    df = env.tickets
    open_ = df[df["resolved_at"].isna()].sort_values("opened_at")
    return [str(open_.iloc[0]["subject"])] if len(open_) else []


def _largest_invoice(env: GoldenEnv) -> list[str]:
    inv = env.t("invoices")
    issued = pd.to_datetime(inv["issued_on"])
    lm = env.last_month
    inv = inv[
        (inv["status"] != "void")
        & (issued >= pd.Timestamp(lm.start))
        & (issued < pd.Timestamp(lm.end))
    ]
    return [str(inv.sort_values("total", ascending=False).iloc[0]["number"])]


def _active_techs(env: GoldenEnv) -> list[str]:
    df = env.t("technicians")
    return sorted(df[df["active"].astype(bool)]["name"])


def _year_to_date(env: GoldenEnv) -> Period:
    return Period(dt.date(env.today.year, 1, 1), env.today + dt.timedelta(days=1))


def _licence_seats(env: GoldenEnv) -> float:
    df = env.t("licenses")
    starts = pd.to_datetime(df["starts_on"])
    ends = pd.to_datetime(df["ends_on"])
    on = pd.Timestamp(env.today)
    mask = (starts.isna() | (starts <= on)) & (ends.isna() | (ends >= on))
    return float(df.loc[mask, "seats_in_use"].sum())


# ---- the models' expected answers: from the registered models and saved findings ------------


def _churn_scores(env: GoldenEnv) -> pd.Series:
    """Each active client's 90-day risk from the champion churn model (name → risk)."""
    from mspilot.models.serving import churn_scores

    scores = churn_scores(env.engine, env.tenant_id, env.today, env.models_dir)
    risk = pd.Series(scores.risk, index=scores.features.index).round(4)
    return risk.rename(index=env.client_names).sort_values(ascending=False)


def _top_churn_names(env: GoldenEnv) -> list[str]:
    """The three riskiest clients (every client tied with the third, when risks tie)."""
    risk = _churn_scores(env)
    third = float(risk.iloc[min(2, len(risk) - 1)])
    return [str(n) for n, r in risk.items() if r >= third]


def _client_churn(env: GoldenEnv) -> float:
    return float(_churn_scores(env)[env.picks["client_a"]])


def _unprofitable(env: GoldenEnv, answer: object) -> Check:
    """Every client with a negative margin over the last 12 months (this month included) is
    named, or the answer says there is none."""
    from mspilot.models.profitability import client_margin_frame

    period = Period.months_before(add_months(env.today, 1), 12)
    frame = client_margin_frame(env.engine, env.tenant_id, period)
    losing = sorted(str(n) for n in frame[frame["margin"] < 0]["name"])
    if losing:
        return names(lambda e: losing[:15])(env, answer)
    return text_has(lambda e: ["no client had a negative margin"])(env, answer)


def _leak_findings(env: GoldenEnv) -> pd.DataFrame:
    from mspilot.models.leaks import load_findings

    found = load_findings(env.models_dir, env.tenant_id)
    return pd.DataFrame([(f.type, f.client_name, f.dollars) for f in found],
                        columns=["type", "client", "dollars"])  # fmt: skip


def _next_month_tickets(env: GoldenEnv) -> float:
    """Forecast tickets of the weeks starting next month, from the champion forecast model."""
    from mspilot.models.registry import Registry

    model = Registry(env.models_dir, env.tenant_id, mlflow=False).load("forecast")
    start = add_months(month_start(env.today), 1)
    weeks = pd.to_datetime(model.total["week"])
    inside = (weeks >= pd.Timestamp(start)) & (weeks < pd.Timestamp(add_months(start, 1)))
    return float(model.total.loc[inside, "tickets"].sum())


def _recommended_price(env: GoldenEnv) -> float:
    from mspilot.core.clock import Clock
    from mspilot.models.pricing_service import price_portfolio

    report = price_portfolio(env.engine, env.tenant_id, Clock(env.today), env.models_dir)
    (rec,) = [r for r in report.recommendations if r.client_name == env.picks["client_b"]]
    return float(rec.recommended_price)


def _what_if(env: GoldenEnv, answer: object) -> Check:
    """A +10% change for client_b: the new 90-day churn risk and the direction of the expected
    profit change (up / down), as the pricing model computes them."""
    from mspilot.core.clock import Clock
    from mspilot.models.pricing_service import price_what_if

    r = price_what_if(env.engine, env.tenant_id, Clock(env.today), env.models_dir,
                      env.picks["client_b"], 10.0)  # fmt: skip
    direction = "goes up" if r.expected_profit_change > 0 else "goes down"
    if r.expected_profit_change == 0:
        direction = "neutral"
    return all_of(
        number(lambda e: r.churn_90d_new, percent=True, rel=0.01),
        number(lambda e: r.expected_profit_change),
        text_has(lambda e: [direction]),
    )(env, answer)


def _plan_value(amount: float | None, hours: float | None) -> Callable[[GoldenEnv], float]:
    """The plan's expected value as the budget optimiser computes it for these limits."""

    def value(env: GoldenEnv) -> float:
        from mspilot.core.clock import Clock
        from mspilot.models.budget_actions import plan_budget
        from mspilot.models.serving import DEFAULT_BUDGET_AMOUNT, default_plan_hours

        plan = plan_budget(
            env.engine, env.tenant_id, Clock(env.today), env.models_dir,
            amount=DEFAULT_BUDGET_AMOUNT if amount is None else amount,
            hours=default_plan_hours(env.models_dir, env.tenant_id) if hours is None else hours,
        )  # fmt: skip
        return float(plan.expected_value)

    return value


GOLDEN: tuple[Golden, ...] = (
    # ---- metrics (query_metrics) --------------------------------------------------------------
    Golden("revenue_last_month",
           ("What was our revenue last month?", "How much did we bill in {month}?",
            "total sales last month"),
           QM, number(lambda e: e.revenue(e.last_month))),
    Golden("client_revenue_quarter",
           ("Revenue of {client_b} in Q{q} {q_year}",
            "How much revenue did {client_b} bring in during Q{q} {q_year}?"),
           QM, number(lambda e: e.revenue(_q(e), _ids(e, e.picks["client_b"])))),
    Golden("top5_clients_revenue",
           ("Top 5 clients by revenue this year",
            "Which five customers generated the most revenue in {year}?"),
           QM, names(lambda e: list(e.revenue_by_client(e.this_year).index[:5]))),
    Golden("top_client_revenue",
           ("Which client brought in the most revenue this year?",),
           QM, names(lambda e: [e.revenue_by_client(e.this_year).index[0]])),
    Golden("p1_tickets_client_month",
           ("How many P1 tickets did {client_a} open in {month}?",
            "Number of priority 1 tickets from {client_a} in {month}"),
           QM, number(lambda e: len(e.tickets_in(e.last_month, client_id=e.picks["client_a_id"], priority="p1")))),
    Golden("tickets_last_month",
           ("How many tickets did we get last month?", "ticket volume last month"),
           QM, number(lambda e: len(e.tickets_in(e.last_month)))),
    Golden("hours_by_technician",
           ("Hours by technician in {month}", "How many hours did each technician log last month?"),
           QM, all_of(names(lambda e: list(e.hours_by_technician(e.last_month).index[:3])),
                      number(lambda e: float(e.hours_by_technician(e.last_month).iloc[0])))),
    Golden("top_technician_hours",
           ("Who logged the most hours last month?", "Which technician worked the most hours in {month}?"),
           QM, names(lambda e: [e.hours_by_technician(e.last_month).index[0]])),
    Golden("technician_hours",
           ("How many hours did {tech_a} log last month?",),
           QM, number(lambda e: float(e.hours_by_technician(e.last_month).iloc[0]))),
    Golden("unbilled_hours",
           ("How much unbilled time do we have?", "total unbilled hours",
            "How many billable hours haven't been invoiced yet?"),
           QM, number(lambda e: float(e.unbilled()["hours"].sum()))),
    Golden("top_unbilled_client",
           ("Which client has the most unbilled hours?",),
           QM, names(lambda e: [e.client_names[e.unbilled().groupby("client_id")["hours"].sum().idxmax()]])),
    Golden("client_balance",
           ("How much does {client_c} owe us?", "What's the outstanding balance for {client_c}?"),
           QM, number(lambda e: float(e.open_invoices().groupby("client_id")["balance"].sum()
                                      .rename(index=e.client_names).get(e.picks["client_c"], 0.0)))),
    Golden("overdue_total",
           ("What is our total overdue balance?", "How much money is past due?"),
           QM, number(lambda e: float(e.overdue_invoices()["balance"].sum()))),
    Golden("p1_share",
           ("What share of tickets were P1 last month?", "percentage of P1 tickets last month"),
           QM, number(lambda e: float((e.tickets_in(e.last_month)["priority"] == "p1").mean()), percent=True, rel=0.01)),
    Golden("csat_quarter",
           ("Average CSAT last quarter", "How satisfied were customers in Q{q} {q_year}?"),
           QM, number(lambda e: float(e.tickets_in(e.last_quarter)["csat"].dropna().astype(float).mean()), rel=0.003)),
    Golden("churned_this_year",
           ("How many clients churned this year?", "How many customers did we lose in {year}?"),
           QM, number(lambda e: int(pd.to_datetime(e.t("clients")["churned_on"]).dt.year.eq(e.today.year).sum()))),
    Golden("active_clients",
           ("How many active clients do we have?", "What's our client count?"),
           QM, number(lambda e: len(e.active_client_ids()))),
    Golden("mrr",
           ("What is our MRR?", "What's our monthly recurring revenue right now?"),
           QM, number(lambda e: float(e.contracts_in_force()["monthly_value"].fillna(0).astype(float).sum()))),
    Golden("managed_devices",
           ("How many managed devices do we have?", "number of endpoints under management"),
           QM, number(lambda e: int(e.t("assets")["managed"].astype(bool).sum()))),
    Golden("client_devices",
           ("How many managed devices does {client_a} have?",),
           QM, number(lambda e: int(e.t("assets")[(e.t("assets")["client_id"] == e.picks["client_a_id"])]["managed"].astype(bool).sum()))),
    Golden("licence_seats",
           ("How many licence seats are in use?",),
           QM, number(_licence_seats)),
    Golden("top_margin_client",
           ("Which client had the highest gross margin last quarter?",),
           QM, names(lambda e: [e.margin_by_client(e.last_quarter).index[0]])),
    Golden("client_effective_rate",
           ("What is {client_b}'s effective hourly rate this year?",),
           QM, number(lambda e: e.revenue(e.this_year, _ids(e, e.picks["client_b"]))
                      / float(e.entries_in(e.this_year).query("client_id in @ids", local_dict={"ids": _ids(e, e.picks["client_b"])})["hours"].sum()))),
    Golden("sla_breach_rate",
           ("What was our SLA breach rate in Q{q} {q_year}?",),
           QM, number(lambda e: float(e.tickets_in(_q(e))["sla_breached"].astype(bool).mean()), percent=True, rel=0.01)),
    Golden("p1_resolution_time",
           ("Average resolution time for P1 tickets last quarter",),
           QM, number(lambda e: float(e.tickets_in(e.last_quarter, priority="p1")["resolution_hours"].dropna().mean()), rel=0.01)),
    Golden("tickets_by_priority",
           ("Tickets by priority last month",),
           QM, all_of(*[number(_priority_count(p)) for p in ("p1", "p2", "p3", "p4")])),
    Golden("category_tickets",
           ("How many {category} tickets did we get last month?",),
           QM, number(lambda e: len(e.tickets_in(e.last_month, category=e.picks["category"])))),
    Golden("new_clients_year",
           ("How many new clients did we onboard this year?",),
           QM, number(lambda e: int(pd.to_datetime(e.t("clients")["onboarded_on"]).dt.year.eq(e.today.year).sum()))),
    Golden("invoices_last_month",
           ("How many invoices did we issue last month?",),
           QM, number(lambda e: int(((e.t("invoices")["status"] != "void") & pd.to_datetime(e.t("invoices")["issued_on"]).between(
               pd.Timestamp(e.last_month.start), pd.Timestamp(e.last_month.end - dt.timedelta(days=1)))).sum()))),
    Golden("payments_last_month",
           ("How much cash did we collect last month?", "payments received last month"),
           QM, number(lambda e: float(e.t("payments").assign(d=pd.to_datetime(e.t("payments")["paid_on"]))
                                      .query("d >= @a and d < @b", local_dict={"a": pd.Timestamp(e.last_month.start), "b": pd.Timestamp(e.last_month.end)})["amount"].astype(float).sum()))),
    Golden("labour_cost_quarter",
           ("What was our labour cost last quarter?",),
           QM, number(lambda e: float(e.entries_in(e.last_quarter)["labour_cost"].sum()))),
    Golden("client_billable_hours",
           ("Billable hours for {client_a} this year",),
           QM, number(lambda e: float(e.entries_in(e.this_year).query("client_id == @c and billable", local_dict={"c": e.picks["client_a_id"]})["hours"].sum()))),
    Golden("top3_clients_hours",
           ("Top 3 clients by hours worked last month",),
           QM, names(lambda e: list(e.hours_by_client(e.last_month).index[:3]))),
    Golden("industry_revenue",
           ("Revenue from {industry} clients this year",),
           QM, number(lambda e: e.revenue(e.this_year, list(e.t("clients").query("industry == @i", local_dict={"i": e.picks["industry"]})["id"])))),
    Golden("follow_up_month",
           ("And in {prev_month}?",),
           QM, number(lambda e: e.revenue(e.month_before_last)),
           setup="What was our revenue last month?"),
    Golden("follow_up_client",
           ("What about {client_b}?",),
           QM, number(lambda e: len(e.tickets_in(e.last_month, client_id=_ids(e, e.picks["client_b"])[0]))),
           setup="How many tickets did {client_a} open last month?"),
    Golden("revenue_ytd",
           ("Revenue year to date",),
           QM, number(lambda e: e.revenue(_year_to_date(e)))),
    # ---- other tools --------------------------------------------------------------------------
    Golden("client_profile",
           ("Tell me about {client_a}", "Give me an overview of {client_a}"),
           ("client_profile",), all_of(tool_answered("client_profile"), names(lambda e: [e.picks["client_a"]]))),
    Golden("knowledge_sla",
           ("What is our SLA for P1 tickets?", "What response time do we promise for critical tickets?"),
           ("search_knowledge",), all_of(tool_answered("search_knowledge"), text_has(lambda e: ["P1", "hour"], need=1))),
    Golden("knowledge_discount",
           ("What does our pricing policy say about discounts?",),
           ("search_knowledge",), all_of(tool_answered("search_knowledge"), text_has(lambda e: ["discount"]))),
    Golden("list_tables",
           ("What data do you have?", "Which tables can I query?"),
           ("list_tables",), text_has(lambda e: ["clients", "tickets", "invoices", "time_entries", "contracts",
                                                 "technicians", "payments", "assets", "licenses"], need=8)),
    Golden("describe_tickets",
           ("Describe the tickets table", "What columns does the tickets table have?"),
           ("describe_table",), text_has(lambda e: ["priority", "sla_breached", "opened_at", "csat"])),
    Golden("chart_revenue",
           ("Chart revenue by month this year", "Plot monthly revenue for {year}"),
           ("make_chart",), all_of(tool_answered("make_chart"), artifact_has(_monthly_revenue, need=3))),
    # ---- the long tail of SQL (run_sql) -------------------------------------------------------
    Golden("industry_clients",
           ("Which clients are in {industry}?", "List our {industry} clients"),
           SQL + QM, names(_industry_clients)),
    Golden("contracts_expiring",
           ("Which contracts expire in the next 90 days?", "upcoming contract renewals in the next 90 days"),
           SQL, names(_expiring)),
    Golden("client_since",
           ("When did {client_b} become a client?",),
           SQL, text_has(lambda e: [str(e.t("clients").set_index("name").loc[e.picks["client_b"], "onboarded_on"])])),
    Golden("stale_devices",
           ("Which devices haven't checked in for 30 days?",),
           SQL, number(_stale_devices)),
    Golden("oldest_open_ticket",
           ("What are the oldest open tickets?",),
           SQL, text_has(_oldest_open_subject)),
    Golden("largest_invoice",
           ("What was the largest invoice last month?", "biggest invoice in {month}"),
           SQL, text_has(_largest_invoice)),
    Golden("technicians",
           ("List our technicians", "Who is on the team?"),
           SQL, names(_active_techs)),
    # ---- predictive and prescriptive tools (trained models: `mspilot train`) -----------------
    Golden("churn_risk",
           ("Who is likely to leave us this quarter and why?", "Which clients are at risk of churning?"),
           ("churn",), all_of(tool_answered("churn"), names(_top_churn_names, need=3),
                              number(lambda e: float(_churn_scores(e).iloc[0]), percent=True, rel=0.01))),
    Golden("client_churn_risk",
           ("What is {client_a}'s churn risk?", "How likely is {client_a} to leave us?"),
           ("churn",), all_of(tool_answered("churn"), names(lambda e: [e.picks["client_a"]]),
                              number(_client_churn, percent=True, rel=0.01))),
    Golden("unprofitable",
           ("Which clients are unprofitable?", "Which clients are losing us money?"),
           ("margin",), all_of(tool_answered("margin"), _unprofitable)),
    Golden("leaks",
           ("Where are we leaking revenue?", "How much revenue are we leaking?"),
           ("leak",), all_of(tool_answered("leak"),
                             number(lambda e: float(_leak_findings(e)["dollars"].sum()), rel=0.01),
                             number(lambda e: float(_leak_findings(e).groupby("type")["dollars"].sum().max()), rel=0.01),
                             names(lambda e: [str(_leak_findings(e).sort_values("dollars").iloc[-1]["client"])]))),
    Golden("forecast",
           ("How many tickets will we get next month?", "How busy will we be next month?"),
           ("forecast",), all_of(tool_answered("forecast"), number(_next_month_tickets, rel=0.01))),
    Golden("pricing",
           ("What should we charge {client_b}?", "What price do you recommend for {client_b}?"),
           ("pric",), all_of(tool_answered("pric"), names(lambda e: [e.picks["client_b"]]),
                             number(_recommended_price))),
    Golden("price_what_if",
           ("What if we raise {client_b}'s price by 10%?", "What happens if we increase {client_b} by 10 percent?"),
           ("price_what_if",), all_of(tool_answered("price_what_if"), _what_if)),
    Golden("budget",
           ("How should we allocate our budget next quarter?",),
           ("budget",), all_of(tool_answered("budget"), number(_plan_value(None, None)))),
    Golden("budget_amount",
           ("How should we spend a $20k budget and 300 hours next quarter?",
            "Plan next quarter with $20,000 and 300 technician hours"),
           ("budget",), all_of(tool_answered("budget"), number(_plan_value(20_000.0, 300.0)))),
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    tools: tuple[str, ...]
    golden: Golden
    setup: str | None


def cases(env: GoldenEnv) -> list[Case]:
    """Every phrasing of every golden question, filled in for this tenant."""
    picks = env.picks
    out: list[Case] = []
    for g in GOLDEN:
        for i, template in enumerate(g.questions):
            out.append(
                Case(
                    id=f"{g.id}#{i}",
                    question=template.format(**picks),
                    tools=g.tools,
                    golden=g,
                    setup=g.setup.format(**picks) if g.setup else None,
                )
            )
    return out


_ = month_start  # used by callers building custom periods
