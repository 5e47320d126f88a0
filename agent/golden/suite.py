# ruff: noqa: E501  (a data table: one intent per entry, its phrasings on its lines)
"""The phrasing suite: ≥ 400 phrasings of ≥ 80 intents an MSP owner asks, grouped in intent
FAMILIES; the split into dev and test is by family (see ``agent/golden/evaluate.py`` for the
protocol).

Expected answers are computed when the suite runs, never written down: a metric intent's
expected value is what the semantic layer returns for the *right* request (the router is under
test here, the semantic layer has its own tests); model intents use the golden checkers (the
registered models, saved findings); ``decline`` intents expect the analyst to decline or ask.
Phrasings are templates filled from the tenant's own picks (names, months, products).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from mspilot.agent.golden import questions as g
from mspilot.agent.golden.checks import (
    Check,
    Checker,
    all_of,
    names,
    number,
    text_has,
    tool_answered,
)
from mspilot.agent.golden.env import GoldenEnv
from mspilot.core.clock import add_months, month_start
from mspilot.core.periods import Period

Request = Callable[[GoldenEnv], dict[str, Any]]


@dataclass(frozen=True)
class Intent:
    id: str
    family: str
    phrasings: tuple[str, ...]
    check: Checker
    #: the analyst must decline or ask back (no confident answer is right)
    decline: bool = False


# ---- expectations from the semantic layer ----------------------------------------------------


def _run(env: GoldenEnv, request: dict[str, Any]) -> Any:
    from mspilot.db.semantic import MetricRequest, run_metric

    return run_metric(
        env.engine, env.tenant_id, MetricRequest(**request), today=env.today, role="owner"
    )


def value(
    req: Request, *, percent: bool = False, rel: float = 0.005, row: str | None = None
) -> Checker:
    """The request's single value (or the value of the row whose first cell is ``row``)."""

    def expected(env: GoldenEnv) -> float:
        result = _run(env, req(env))
        rows = [r for r in result.rows if row is None or str(r[0]) == row]
        return float(rows[0][-1] or 0.0) if rows else 0.0

    return number(expected, percent=percent, rel=rel)


def change(req: Request) -> Checker:
    """A period-over-period change: the absolute change or the change in percent."""

    def check(env: GoldenEnv, answer: Any) -> Check:
        result = _run(env, req(env))
        row = result.rows[0]
        cols = result.columns
        absolute = float(row[cols.index("change")] or 0.0)
        pct = row[cols.index("change_pct")]
        first = number(lambda e: absolute)(env, answer)
        if first.ok or pct is None:
            return first
        return number(lambda e: float(pct), percent=True, rel=0.02)(env, answer)

    return check


def top(req: Request, n: int) -> Checker:
    return names(lambda env: [str(r[0]) for r in _run(env, req(env)).rows[:n]])


def every_value(req: Request, *, limit: int = 6) -> Checker:
    def check(env: GoldenEnv, answer: Any) -> Check:
        rows = _run(env, req(env)).rows[:limit]
        results = [number(_const(float(r[-1] or 0.0)))(env, answer) for r in rows]
        return Check(
            bool(results) and all(r.ok for r in results),
            f"{sum(r.ok for r in results)}/{len(results)} values",
        )

    return check


def _const(x: float) -> Callable[[GoldenEnv], float]:
    return lambda env: x


def declined(env: GoldenEnv, answer: Any) -> Check:
    from mspilot.agent.golden.evaluate import hedged

    return Check(hedged(answer), "expected a refusal or a question back")


# ---- periods and picks -----------------------------------------------------------------------


def lm(env: GoldenEnv) -> Period:
    return env.last_month


def prev(env: GoldenEnv) -> Period:
    return env.month_before_last


def lq(env: GoldenEnv) -> Period:
    return env.last_quarter


def q_before(env: GoldenEnv) -> Period:
    start = add_months(env.last_quarter.start, -3)
    return Period(start, env.last_quarter.start)


def ty(env: GoldenEnv) -> Period:
    return env.this_year


def ytd(env: GoldenEnv) -> Period:
    return Period(dt.date(env.today.year, 1, 1), env.today + dt.timedelta(days=1))


def extra_picks(env: GoldenEnv) -> dict[str, Any]:
    lic = env.t("licenses")
    assets = env.t("assets")
    return {
        "product": str(lic.groupby("product")["seats_in_use"].sum().idxmax()),
        "asset_kind": str(assets["kind"].value_counts().index[0]),
        "q_prev": (q_before(env).start.month - 1) // 3 + 1,
        "q_prev_year": q_before(env).start.year,
    }


def _p(env: GoldenEnv, key: str) -> Any:
    return {**env.picks, **extra_picks(env)}[key]


def R(metric: str, period: Callable[[GoldenEnv], Period] | None = None, **kw: Any) -> Request:
    """A request builder: ``filters`` values may name a pick ("@client_a")."""

    def build(env: GoldenEnv) -> dict[str, Any]:
        req: dict[str, Any] = {"metric": metric, **{k: v for k, v in kw.items() if k != "filters"}}
        if period is not None:
            req["period"] = period(env)
        filters = {
            k: [_p(env, v[1:]) if v.startswith("@") else v for v in vs]
            for k, vs in kw.get("filters", {}).items()
        }
        if filters:
            req["filters"] = filters
        if "compare_to" in kw and callable(kw["compare_to"]):
            req["compare_to"] = kw["compare_to"](env)
        return req

    return build


def tool_used(name: str) -> Checker:
    return tool_answered(name)


# ---- the intents -----------------------------------------------------------------------------

INTENTS: tuple[Intent, ...] = (
    # revenue ------------------------------------------------------------------------------------
    Intent("revenue_last_month", "revenue", ("What was our revenue last month?", "How much did we bill in {month}?", "total sales last month", "revenue for {month} {year}", "how much money came in from invoices last month"), value(R("revenue", lm))),
    Intent("revenue_client_quarter", "revenue", ("Revenue of {client_b} in Q{q} {q_year}", "How much revenue did {client_b} bring in during Q{q} {q_year}?", "{client_b} revenue last quarter", "what did {client_b} pay us in Q{q} {q_year}", "sales to {client_b} last quarter"), value(R("revenue", lq, filters={"client": ["@client_b"]}))),
    Intent("top5_revenue", "revenue", ("Top 5 clients by revenue this year", "Which five customers generated the most revenue in {year}?", "our 5 biggest clients by revenue this year", "rank the top five accounts by sales this year", "best 5 clients by billings {year}"), top(R("revenue", ty, dimensions=["client"], top_n=5), 5)),
    Intent("revenue_by_line_kind", "revenue", ("Revenue by invoice line kind this year", "break down this year's revenue by line type", "how much of our revenue this year was recurring vs labor vs licenses", "revenue split by kind of invoice line in {year}", "this year's sales by line kind"), every_value(R("revenue", ty, dimensions=["line_kind"]), limit=3)),
    Intent("licence_revenue_product", "revenue", ("How much licence revenue did {product} bring in this year?", "license revenue from {product} in {year}", "what did we invoice for {product} licences this year", "{product} licence sales this year", "revenue from {product} licenses this year"), value(R("licence_revenue", ty, filters={"product": ["@product"]}))),
    Intent("revenue_ytd", "revenue", ("Revenue year to date", "how much have we billed so far this year", "YTD revenue", "total revenue this year to date", "sales year-to-date"), value(R("revenue", ytd))),
    # billing ------------------------------------------------------------------------------------
    Intent("invoices_count", "billing", ("How many invoices did we issue last month?", "number of invoices sent in {month}", "count of invoices last month", "how many bills went out last month", "invoices issued last month, how many?"), value(R("invoices", lm))),
    Intent("invoiced_total", "billing", ("How much did we invoice in total last month?", "total amount invoiced in {month}", "what was the total of all invoices last month", "sum of invoices issued last month", "invoice total for {month}"), value(R("invoiced_amount", lm))),
    Intent("client_balance", "billing", ("How much does {client_c} owe us?", "What's the outstanding balance for {client_c}?", "{client_c} open balance", "how much is {client_c} still owing", "receivables for {client_c}"), value(R("balance_due", filters={"client": ["@client_c"]}))),
    Intent("overdue_total", "billing", ("What is our total overdue balance?", "How much money is past due?", "total overdue receivables", "how much are clients late paying us in total", "sum of overdue invoices"), value(R("overdue_balance"))),
    Intent("overdue_count", "billing", ("How many invoices are overdue?", "number of overdue invoices", "count of late invoices", "how many invoices are past due right now", "how many unpaid invoices are late"), value(R("overdue_invoices"))),
    Intent("over_90_days", "billing", ("How much is more than 90 days past due?", "balance over 90 days overdue", "what do clients owe us that is 90+ days late", "receivables older than 90 days past due", "amount in the 90+ ageing bucket"), value(R("balance_due", dimensions=["ageing_bucket"]), row="90+")),
    Intent("ageing_buckets", "billing", ("Show our receivables ageing buckets", "AR ageing: current, 1-30, 31-60, 61-90, 90+", "balance due by ageing bucket", "how old is our outstanding balance, by bucket", "accounts receivable ageing report"), every_value(R("balance_due", dimensions=["ageing_bucket"]), limit=5)),
    Intent("days_to_pay", "billing", ("On average how many days do clients take to pay this year?", "average days to pay this year", "what's our DSO this year", "how long does it take customers to pay their invoices this year, on average", "mean time to pay an invoice in {year}"), value(R("avg_days_to_pay", ty), rel=0.01)),
    Intent("days_to_pay_client", "billing", ("How long does {client_b} take to pay on average this year?", "average days to pay for {client_b} in {year}", "{client_b} average payment time this year", "how many days on average does {client_b} need to pay an invoice this year", "days to pay, {client_b}, this year"), value(R("avg_days_to_pay", ty, filters={"client": ["@client_b"]}), rel=0.01)),
    Intent("payments_last_month", "billing", ("How much cash did we collect last month?", "payments received last month", "collections in {month}", "money received from clients last month", "total payments in {month}"), value(R("payments_received", lm))),
    # time ---------------------------------------------------------------------------------------
    Intent("hours_by_tech", "time", ("Hours by technician in {month}", "How many hours did each technician log last month?", "time logged per tech last month", "break down last month's hours by technician", "hours worked by each engineer in {month}"), top(R("hours", lm, dimensions=["technician"]), 3)),
    Intent("top_tech_hours", "time", ("Who logged the most hours last month?", "Which technician worked the most hours in {month}?", "busiest tech last month by hours", "which engineer put in the most time last month", "top technician by hours last month"), top(R("hours", lm, dimensions=["technician"], top_n=1), 1)),
    Intent("tech_hours", "time", ("How many hours did {tech_a} log last month?", "{tech_a}'s hours in {month}", "time logged by {tech_a} last month", "hours worked by {tech_a} last month", "how much time did {tech_a} put in during {month}"), value(R("hours", lm, filters={"technician": ["@tech_a"]}))),
    Intent("unbilled_hours", "time", ("How much unbilled time do we have?", "total unbilled hours", "How many billable hours haven't been invoiced yet?", "unbilled billable time", "hours we worked but never billed"), value(R("unbilled_hours"))),
    Intent("top_unbilled_client", "time", ("Which client has the most unbilled hours?", "client with the largest unbilled time", "who has the most hours we haven't billed", "biggest unbilled client by hours", "where is most of our unbilled time"), top(R("unbilled_hours", dimensions=["client"], top_n=1), 1)),
    Intent("client_billable_hours", "time", ("Billable hours for {client_a} this year", "how many billable hours did we do for {client_a} in {year}", "{client_a} chargeable hours this year", "billable time for {client_a} this year", "this year's billable hours at {client_a}"), value(R("billable_hours", ty, filters={"client": ["@client_a"]}))),
    Intent("labour_cost_quarter", "time", ("What was our labour cost last quarter?", "labor cost in Q{q} {q_year}", "technician cost last quarter", "how much did staff time cost us last quarter", "cost of labour last quarter"), value(R("labour_cost", lq))),
    # utilisation (held out) ---------------------------------------------------------------------
    Intent("utilisation_team", "utilisation", ("What was our technician utilisation last month?", "team utilization in {month}", "how utilised were our techs last month", "utilisation rate last month", "what percentage of capacity did technicians log last month"), value(R("utilisation", lm), percent=True, rel=0.01)),
    Intent("utilisation_tech", "utilisation", ("What was {tech_a}'s utilisation last month?", "{tech_a} utilization in {month}", "how utilised was {tech_a} last month", "utilisation of {tech_a} last month", "{tech_a}'s utilisation rate for {month}"), value(R("utilisation", lm, filters={"technician": ["@tech_a"]}), percent=True, rel=0.01)),
    Intent("billable_share_tech", "utilisation", ("What share of {tech_a}'s hours were billable last month?", "{tech_a}'s billable share in {month}", "billable percentage for {tech_a} last month", "what percent of {tech_a}'s time was billable last month", "billable ratio of {tech_a} last month"), value(R("billable_share", lm, filters={"technician": ["@tech_a"]}), percent=True, rel=0.01)),
    Intent("lowest_utilisation", "utilisation", ("Which technician had the lowest utilisation last month?", "least utilised tech in {month}", "who was the least utilized engineer last month", "lowest utilization technician last month", "which tech had the most idle capacity last month"), top(R("utilisation", lm, dimensions=["technician"], order="asc", top_n=1), 1)),
    Intent("billable_utilisation", "utilisation", ("What was our billable utilisation last month?", "billable utilization in {month}", "share of capacity that was billable last month", "billable utilisation rate last month", "how much of our capacity did we bill last month"), value(R("billable_utilisation", lm), percent=True, rel=0.01)),
    Intent("capacity_hours", "utilisation", ("How many hours of technician capacity did we have last month?", "available technician hours in {month}", "team capacity last month in hours", "capacity hours last month", "how many working hours did our techs have available last month"), value(R("capacity_hours", lm))),
    # tickets ------------------------------------------------------------------------------------
    Intent("tickets_last_month", "tickets", ("How many tickets did we get last month?", "ticket volume last month", "number of tickets opened in {month}", "how many support requests came in last month", "tickets created last month"), value(R("tickets", lm))),
    Intent("p1_client_month", "tickets", ("How many P1 tickets did {client_a} open in {month}?", "Number of priority 1 tickets from {client_a} in {month}", "{client_a} P1 tickets last month", "critical tickets from {client_a} last month", "how many urgent tickets did {client_a} raise in {month}"), value(R("tickets", lm, filters={"client": ["@client_a"], "priority": ["p1"]}))),
    Intent("tickets_by_priority", "tickets", ("Tickets by priority last month", "break down last month's tickets by priority", "how many tickets of each priority in {month}", "ticket count per priority last month", "last month's tickets split by priority"), every_value(R("tickets", lm, dimensions=["priority"]), limit=4)),
    Intent("category_tickets", "tickets", ("How many {category} tickets did we get last month?", "{category} tickets in {month}", "number of {category} tickets last month", "count of {category} requests last month", "how many tickets about {category} last month"), value(R("tickets", lm, filters={"category": ["@category"]}))),
    Intent("busiest_client", "tickets", ("Which client opened the most tickets this year?", "client with the most tickets in {year}", "who raised the most tickets this year", "noisiest client by ticket count this year", "top client by tickets this year"), top(R("tickets", ty, dimensions=["client"], top_n=1), 1)),
    Intent("p1_share", "tickets", ("What share of tickets were P1 last month?", "percentage of P1 tickets last month", "what percent of last month's tickets were priority 1", "P1 share in {month}", "proportion of critical tickets last month"), value(R("p1_share", lm), percent=True, rel=0.01)),
    Intent("tickets_by_category", "tickets", ("Top 3 ticket categories last quarter", "which three categories had the most tickets last quarter", "most common ticket categories in Q{q} {q_year}, top 3", "three biggest ticket categories last quarter", "top 3 categories by ticket count last quarter"), top(R("tickets", lq, dimensions=["category"], top_n=3), 3)),
    # service quality (held out) -----------------------------------------------------------------
    Intent("sla_breach_rate", "service_quality", ("What was our SLA breach rate in Q{q} {q_year}?", "SLA breach rate last quarter", "what percent of tickets breached SLA last quarter", "how often did we miss SLA in Q{q} {q_year}", "share of tickets that breached the SLA last quarter"), value(R("sla_breach_rate", lq), percent=True, rel=0.01)),
    Intent("worst_sla_client_min", "service_quality", ("Which client with at least 20 tickets had the worst SLA breach rate this year?", "worst SLA breach rate this year among clients with 20 or more tickets", "among clients with at least 20 tickets, who had the highest breach rate in {year}", "client with the worst SLA performance this year (min 20 tickets)", "highest SLA breach rate this year, clients with at least 20 tickets only"), top(R("sla_breach_rate", ty, dimensions=["client"], order="worst", top_n=1, conditions=[{"metric": "tickets", "op": ">=", "value": 20}]), 1)),
    Intent("csat_quarter", "service_quality", ("Average CSAT last quarter", "How satisfied were customers in Q{q} {q_year}?", "customer satisfaction score last quarter", "mean CSAT for Q{q} {q_year}", "what was our CSAT last quarter"), value(R("csat", lq), rel=0.003)),
    Intent("csat_client", "service_quality", ("What is {client_a}'s average CSAT this year?", "customer satisfaction for {client_a} in {year}", "how happy is {client_a} this year (CSAT)", "{client_a} CSAT this year", "average satisfaction score from {client_a} this year"), value(R("csat", ty, filters={"client": ["@client_a"]}), rel=0.003)),
    Intent("p1_resolution", "service_quality", ("Average resolution time for P1 tickets last quarter", "how long did P1 tickets take to resolve last quarter", "mean time to resolve priority 1 tickets in Q{q} {q_year}", "P1 resolution hours last quarter", "average time to fix critical tickets last quarter"), value(R("avg_resolution_hours", lq, filters={"priority": ["p1"]}), rel=0.01)),
    Intent("resolution_by_priority", "service_quality", ("Average resolution time by priority last quarter", "how long do tickets take to resolve per priority, last quarter", "resolution hours for each priority in Q{q} {q_year}", "mean time to resolve by priority last quarter", "last quarter's resolution time split by priority"), every_value(R("avg_resolution_hours", lq, dimensions=["priority"]), limit=4)),
    # contracts ----------------------------------------------------------------------------------
    Intent("mrr", "contracts", ("What is our MRR?", "What's our monthly recurring revenue right now?", "current MRR", "how much recurring revenue do we bill per month", "total monthly contract value today"), value(R("mrr"))),
    Intent("mrr_per_user", "contracts", ("What is the total monthly recurring revenue from active per-user contracts?", "MRR from per-user contracts", "monthly recurring revenue of our per user agreements", "how much MRR comes from per-user contracts", "per-user contract MRR"), value(R("mrr", filters={"contract_kind": ["per_user"]}))),
    Intent("active_contracts", "contracts", ("How many active contracts do we have?", "number of contracts in force", "count of active agreements", "how many contracts are currently active", "active contract count"), value(R("active_contracts"))),
    Intent("contract_seats_client", "contracts", ("How many seats are under contract for {client_a}?", "contracted seats for {client_a}", "how many users does {client_a}'s contract cover", "{client_a} seats under contract", "number of contracted users at {client_a}"), value(R("contract_seats", filters={"client": ["@client_a"]}))),
    Intent("contracts_expiring", "contracts", ("Which contracts expire in the next 90 days?", "upcoming contract renewals in the next 90 days", "contracts ending in the next three months", "which agreements are up for renewal in the next 90 days", "list contracts that end within 90 days"), names(g._expiring)),
    Intent("mrr_by_kind", "contracts", ("MRR by contract kind", "monthly recurring revenue split by contract type", "break down MRR by kind of contract", "recurring revenue per contract kind", "how is our MRR split across contract kinds"), every_value(R("mrr", dimensions=["contract_kind"]), limit=3)),
    # clients (held out) -------------------------------------------------------------------------
    Intent("active_clients", "clients", ("How many active clients do we have?", "What's our client count?", "number of active customers", "how many customers are we serving right now", "active client count"), value(R("active_clients"))),
    Intent("churned_this_year", "clients", ("How many clients churned this year?", "How many customers did we lose in {year}?", "number of clients lost this year", "client cancellations this year", "how many accounts left us this year"), value(R("churned_clients", ty))),
    Intent("new_clients_year", "clients", ("How many new clients did we onboard this year?", "new customers won in {year}", "clients onboarded this year", "how many accounts did we sign this year", "number of new clients this year"), value(R("new_clients", ty))),
    Intent("industry_clients", "clients", ("Which clients are in {industry}?", "List our {industry} clients", "our customers in the {industry} industry", "show clients in {industry}", "who are our {industry} accounts"), names(g._industry_clients)),
    Intent("client_since", "clients", ("When did {client_b} become a client?", "when was {client_b} onboarded", "since when is {client_b} a customer", "{client_b} onboarding date", "how long has {client_b} been with us"), text_has(lambda e: [str(e.t("clients").set_index("name").loc[e.picks["client_b"], "onboarded_on"])])),
    Intent("client_profile", "clients", ("Tell me about {client_a}", "Give me an overview of {client_a}", "brief me on {client_a}", "account summary for {client_a}", "how is {client_a} doing"), all_of(tool_used("client_profile"), names(lambda e: [e.picks["client_a"]]))),
    # assets and licences ------------------------------------------------------------------------
    Intent("managed_devices", "assets", ("How many managed devices do we have?", "number of endpoints under management", "how many devices do we manage", "managed device count", "total managed endpoints"), value(R("managed_devices"))),
    Intent("client_devices", "assets", ("How many managed devices does {client_a} have?", "{client_a} managed endpoints", "device count for {client_a}", "how many devices do we manage at {client_a}", "number of managed devices at {client_a}"), value(R("managed_devices", filters={"client": ["@client_a"]}))),
    Intent("assets_by_kind", "assets", ("How many assets do we have of each kind?", "asset count by kind", "break down our assets by type", "assets per asset kind", "how many laptops, servers, workstations... do we have"), every_value(R("assets", dimensions=["asset_kind"]), limit=4)),
    Intent("assets_of_kind", "assets", ("How many {asset_kind} assets do we have?", "number of {asset_kind} assets", "count of {asset_kind} devices", "how many {asset_kind}s are in our inventory", "{asset_kind} asset count"), value(R("assets", filters={"asset_kind": ["@asset_kind"]}))),
    Intent("licence_seats", "assets", ("How many licence seats are in use?", "total license seats in use", "how many licenses are assigned", "seat count across all licences", "licences in use"), value(R("licence_seats"))),
    Intent("seats_product", "assets", ("How many {product} seats are in use?", "{product} licence seats", "number of {product} licenses in use", "seat count for {product}", "how many users have {product}"), value(R("licence_seats", filters={"product": ["@product"]}))),
    Intent("stale_devices", "assets", ("Which devices haven't checked in for 30 days?", "devices not seen in the last 30 days", "stale endpoints (no check-in for 30 days)", "managed devices offline for 30 days", "what devices have been silent for a month"), number(g._stale_devices)),
    # margins (held out) -------------------------------------------------------------------------
    Intent("margin_pct_client", "margins", ("What is {client_b}'s margin % this year?", "{client_b} margin percentage in {year}", "profit margin on {client_b} this year, in percent", "gross margin % for {client_b} this year", "how profitable is {client_b} this year as a percentage"), value(R("margin_pct", ty, filters={"client": ["@client_b"]}), percent=True, rel=0.01)),
    Intent("top_margin_client", "margins", ("Which client had the highest gross margin last quarter?", "most profitable client last quarter", "top client by margin in Q{q} {q_year}", "who made us the most gross profit last quarter", "client with the best margin dollars last quarter"), top(R("margin", lq, dimensions=["client"], top_n=1), 1)),
    Intent("unprofitable", "margins", ("Which clients are unprofitable?", "Which clients are losing us money?", "clients with negative margin", "who costs us more than they pay", "list our unprofitable accounts"), all_of(tool_used("client_margins"), g._unprofitable)),
    Intent("effective_rate_client", "margins", ("What is {client_b}'s effective hourly rate this year?", "revenue per hour for {client_b} in {year}", "{client_b} effective rate this year", "realised hourly rate at {client_b} this year", "what do we effectively earn per hour from {client_b} this year"), value(R("effective_rate", ty, filters={"client": ["@client_b"]}), rel=0.01)),
    Intent("margin_quarter", "margins", ("What was our total gross margin last quarter?", "gross profit in Q{q} {q_year}", "total margin dollars last quarter", "how much gross margin did we make last quarter", "overall margin last quarter"), value(R("margin", lq))),
    # comparisons (held out) ---------------------------------------------------------------------
    Intent("revenue_qoq", "compare", ("How did revenue in Q{q} {q_year} compare with Q{q_prev} {q_prev_year}?", "Q{q} vs Q{q_prev} revenue growth", "revenue growth last quarter over the quarter before", "revenue change from Q{q_prev} to Q{q} {q_year}", "did revenue grow last quarter compared with the previous quarter"), change(R("revenue", lq, compare_to=q_before))),
    Intent("revenue_mom", "compare", ("{month} vs {prev_month} revenue", "how did last month's revenue compare to the month before", "revenue change from {prev_month} to {month}", "month over month revenue growth last month", "revenue in {month} compared with {prev_month}"), change(R("revenue", lm, compare_to=prev))),
    Intent("tickets_mom", "compare", ("How did ticket volume change from {prev_month} to {month}?", "tickets {month} vs {prev_month}", "month over month change in tickets last month", "did we get more tickets last month than the month before", "ticket count change, {month} compared to {prev_month}"), change(R("tickets", lm, compare_to=prev))),
    Intent("hours_mom", "compare", ("How did hours logged change from {prev_month} to {month}?", "hours worked {month} vs {prev_month}", "change in logged hours last month versus the month before", "month over month hours change", "did we log more hours last month than in {prev_month}"), change(R("hours", lm, compare_to=prev))),
    # models -------------------------------------------------------------------------------------
    Intent("churn_risk", "models_churn", ("Who is likely to leave us this quarter and why?", "Which clients are at risk of churning?", "churn risk ranking", "which customers might cancel soon", "who are our flight risks"), all_of(tool_used("churn_risk"), names(g._top_churn_names, need=3))),
    Intent("client_churn", "models_churn", ("What is {client_a}'s churn risk?", "How likely is {client_a} to leave us?", "is {client_a} at risk of churning", "churn probability for {client_a}", "could {client_a} walk away"), all_of(tool_used("churn_risk"), number(g._client_churn, percent=True, rel=0.01))),
    Intent("leaks", "models_leaks", ("Where are we leaking revenue?", "How much revenue are we leaking?", "revenue leakage report", "what billing mistakes are costing us money", "show me our revenue leaks"), all_of(tool_used("revenue_leaks"), number(lambda e: float(g._leak_findings(e)["dollars"].sum()), rel=0.01))),
    Intent("missed_invoices", "models_leaks", ("Which clients did we forget to invoice this month?", "missed monthly invoices", "are there contracts we didn't bill last month", "clients with no monthly invoice when they should have one", "did we miss any recurring invoices"), tool_used("revenue_leaks")),
    Intent("discount_beyond_policy", "models_leaks", ("Which clients get discounts beyond our policy?", "discounts above what the pricing policy allows", "who is getting too big a discount", "excessive discounts by client", "clients discounted more than policy permits"), tool_used("revenue_leaks")),
    Intent("pricing", "models_pricing", ("What should we charge {client_b}?", "What price do you recommend for {client_b}?", "recommended price for {client_b}", "is {client_b} underpriced", "pricing recommendation for {client_b}"), all_of(tool_used("price_recommendation"), names(lambda e: [e.picks["client_b"]]))),
    Intent("price_what_if", "models_pricing", ("What if we raise {client_b}'s price by 10%?", "What happens if we increase {client_b} by 10 percent?", "raise {client_b} 10%: what happens", "impact of a 10% price increase for {client_b}", "what if we charge {client_b} 10% more"), all_of(tool_used("price_what_if"), g._what_if)),
    Intent("forecast", "models_forecast", ("How many tickets will we get next month?", "How busy will we be next month?", "ticket forecast for next month", "predict next month's ticket volume", "expected workload next month"), all_of(tool_used("demand_forecast"), number(g._next_month_tickets, rel=0.01))),
    Intent("budget", "models_forecast", ("How should we allocate our budget next quarter?", "How should we spend a $20k budget and 300 hours next quarter?", "Plan next quarter with $20,000 and 300 technician hours", "where should we spend next quarter's budget", "budget plan for next quarter"), tool_used("budget_plan")),
    # knowledge base -----------------------------------------------------------------------------
    Intent("kb_sla", "kb_service", ("What is our SLA for P1 tickets?", "What response time do we promise for critical tickets?", "SLA commitments for priority 1", "how fast must we respond to a P1", "what does our SLA say about urgent tickets"), all_of(tool_used("search_knowledge"), text_has(lambda e: ["P1", "hour"], need=1))),
    Intent("kb_onboarding", "kb_service", ("How do we onboard a new client?", "what is our client onboarding procedure", "onboarding playbook for new customers", "steps to onboard a new client", "how should we onboard a new account"), tool_used("search_knowledge")),
    Intent("kb_discount_policy", "kb_policy", ("What does our pricing policy say about discounts?", "discount policy", "what discounts are we allowed to give", "maximum discount in our pricing policy", "how much discount may sales offer, per policy"), all_of(tool_used("search_knowledge"), text_has(lambda e: ["discount"]))),
    Intent("kb_termination", "kb_policy", ("What are the termination terms in our contracts?", "how much notice does a client need to give to cancel", "contract termination policy", "what does our agreement say about cancelling", "termination terms and conditions"), tool_used("search_knowledge")),
    # long tail (SQL templates) ------------------------------------------------------------------
    Intent("oldest_open", "lists", ("What are the oldest open tickets?", "oldest unresolved tickets", "which open tickets have been waiting longest", "list the longest-open tickets", "tickets open the longest"), text_has(g._oldest_open_subject)),
    Intent("largest_invoice", "lists", ("What was the largest invoice last month?", "biggest invoice in {month}", "largest single invoice last month", "top invoice by amount last month", "which invoice was the highest last month"), text_has(g._largest_invoice)),
    Intent("technicians", "lists", ("List our technicians", "Who is on the team?", "show me all our techs", "which engineers do we have", "list of technicians"), names(g._active_techs)),
    # must decline -------------------------------------------------------------------------------
    Intent("decline_outside", "decline_outside", ("What will the weather be tomorrow?", "What is Microsoft's stock price?", "Write me a poem about printers", "Who won the football last night?", "What's the capital of Australia?"), declined, decline=True),
    Intent("decline_unknowable", "decline_unknowable", ("How much revenue does our competitor make?", "What will our revenue be in 2035?", "Which of our clients' employees is unhappy?", "What is {client_a}'s own profit?", "How many tickets will {client_a} open on 3 March 2031 at 9am?"), declined, decline=True),
)  # fmt: skip


def fill(template: str, env: GoldenEnv) -> str:
    return template.format(**env.picks, **extra_picks(env))


def intents_of(families: Sequence[str]) -> list[Intent]:
    return [i for i in INTENTS if i.family in families]


_ = month_start
