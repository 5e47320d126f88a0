"""The deterministic router on a tiny tenant: names, periods, metrics, dimensions, top-N,
follow-ups, and paraphrases that are not among its example utterances."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.agent.entities import Catalogue, match_names
from mspilot.agent.router import IntentRouter
from mspilot.db.loader import Loader, upsert_tenant
from support import fixtures_small

TODAY = dt.date(2026, 10, 31)
TOOLS = ["query_metrics", "run_sql", "list_tables", "describe_table", "client_profile",
         "search_knowledge", "make_chart", "churn_risk", "price_recommendation"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine

    engine: Engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('r') / 'r.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "Tiny MSP")
    Loader(engine, "t", "demo").load_all(fixtures_small.small_msp())
    return engine


@pytest.fixture(scope="module")
def router(tiny: Engine) -> IntentRouter:
    return IntentRouter(Catalogue.load(tiny, "t"), TODAY, TOOLS)


def plan(
    router: IntentRouter, question: str, last: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    route = router.route(question, last)
    assert route is not None and route.calls, question
    assert route.confident, question
    return route.calls[0].name, route.calls[0].args


def test_fuzzy_names_tolerate_typos_and_possessives(router: IntentRouter) -> None:
    clients = router.catalogue.clients
    assert [m.entity.name for m in match_names("how is Contosso doing", clients)] == ["Contoso"]
    assert [m.entity.name for m in match_names("Fabrikam's balance", clients)] == ["Fabrikam"]
    assert match_names("how are we doing", clients) == []


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many P1 tickets did Contoso open in October?",
         {"metric": "tickets", "filters": {"client": ["Contoso"], "priority": ["p1"]},
          "period": {"start": "2026-10-01", "end": "2026-11-01"}}),
        ("Count of urgent tickets raised by contoso during october",
         {"metric": "tickets", "filters": {"client": ["Contoso"], "priority": ["p1"]},
          "period": {"start": "2026-10-01", "end": "2026-11-01"}}),
        ("hours per tech in September",
         {"metric": "hours", "dimensions": ["technician"],
          "period": {"start": "2026-09-01", "end": "2026-10-01"}}),
        ("Which 3 customers paid us the most in 2025?",
         {"metric": "payments_received", "dimensions": ["client"], "top_n": 3,
          "period": {"start": "2025-01-01", "end": "2026-01-01"}}),
        ("who put in the most hours last month",
         {"metric": "hours", "dimensions": ["technician"], "top_n": 1,
          "period": {"start": "2026-09-01", "end": "2026-10-01"}}),
        ("what do clients still owe us", {"metric": "balance_due"}),
        ("Ann's billable hours this quarter",
         {"metric": "billable_hours", "filters": {"technician": ["Ann"]},
          "period": {"start": "2026-10-01", "end": "2027-01-01"}}),
        ("least profitable clients by margin last year",
         {"metric": "margin", "dimensions": ["client"], "top_n": 5, "order": "asc",
          "period": {"start": "2025-01-01", "end": "2026-01-01"}}),
    ],
)  # fmt: skip
def test_metric_questions_become_one_metric_request(
    router: IntentRouter, question: str, expected: dict[str, Any]
) -> None:
    tool, args = plan(router, question)
    assert tool == "query_metrics"
    assert args == expected


@pytest.mark.parametrize(
    ("question", "tool"),
    [
        ("Give me the rundown on Fabrikam", "client_profile"),
        ("What is our policy on discounts for nonprofits?", "search_knowledge"),
        ("which of our accounts look like they might walk away?", "churn_risk"),
        ("what price should we quote Contoso at renewal", "price_recommendation"),
        ("graph monthly revenue for this year", "make_chart"),
        ("what tables are there", "list_tables"),
        ("which columns are in the time entries table?", "describe_table"),
        ("contracts ending before the end of the year", "run_sql"),
    ],
)
def test_other_intents_pick_their_tool(router: IntentRouter, question: str, tool: str) -> None:
    assert plan(router, question)[0] == tool


def test_sql_templates_only_carry_database_literals(router: IntentRouter) -> None:
    tool, args = plan(router, "Which clients are in legal'; DROP TABLE clients; --")
    assert tool == "run_sql"
    assert "DROP" not in args["sql"] and "industry = 'Legal'" in args["sql"]


def test_follow_up_reuses_the_previous_metric(router: IntentRouter) -> None:
    first = router.route("How many tickets did Contoso open in October?")
    assert first is not None
    last = {"intent": first.intent, **first.slots}
    tool, args = plan(router, "and Fabrikam in September?", last)
    assert tool == "query_metrics" and args["metric"] == "tickets"
    assert args["filters"]["client"] == ["Fabrikam"]
    assert args["period"] == {"start": "2026-09-01", "end": "2026-10-01"}


def test_gibberish_is_not_confident(router: IntentRouter) -> None:
    route = router.route("purple elephants dancing")
    assert route is None or not route.confident


# ---- the models' tools: their arguments from the slots -----------------------------------------


@pytest.fixture(scope="module")
def model_router(
    tiny: Engine, router: IntentRouter, tmp_path_factory: pytest.TempPathFactory
) -> IntentRouter:
    """The router over the real tool objects (their argument schemas), for an owner."""
    from mspilot.tools.context import ToolContext
    from mspilot.tools.registry import build_tools

    ctx = ToolContext(
        engine=tiny,
        tenant_id="t",
        today=TODAY,
        data_dir=tmp_path_factory.mktemp("untrained"),
    )
    return IntentRouter(router.catalogue, TODAY, build_tools(ctx))


@pytest.mark.parametrize(
    ("question", "tool", "expected"),
    [
        ("Who is likely to leave us this quarter and why?", "churn_risk", {}),
        ("top 3 clients at risk of churning", "churn_risk", {"top": 3}),
        ("How likely is Contoso to leave us?", "churn_risk", {"client": "Contoso"}),
        ("Where are we leaking revenue?", "revenue_leaks", {}),
        ("Which clients were losing us money last quarter?", "client_margins",
         {"period": {"start": "2026-07-01", "end": "2026-10-01"}}),
        ("How busy will we be next month?", "demand_forecast",
         {"period": {"start": "2026-11-01", "end": "2026-12-01"}}),
        ("What should we charge Contoso?", "price_recommendation", {"client": "Contoso"}),
        ("What if we raise Contoso 10%?", "price_what_if",
         {"client": "Contoso", "change_pct": 10.0}),
        ("what happens if we cut Fabrikam's price by 5 percent", "price_what_if",
         {"client": "Fabrikam", "change_pct": -5.0}),
        ("How should we spend a $20k budget and 300 hours next quarter?", "budget_plan",
         {"amount": 20_000.0, "hours": 300.0}),
        ("How should we allocate our budget next quarter?", "budget_plan", {}),
    ],
)  # fmt: skip
def test_model_questions_fill_their_tools_arguments(
    model_router: IntentRouter, question: str, tool: str, expected: dict[str, Any]
) -> None:
    assert plan(model_router, question) == (tool, expected)


@pytest.mark.parametrize(
    ("text", "money", "hours", "pct"),
    [
        ("spend a $20k budget next quarter", 20_000.0, None, None),
        ("a budget of $20,000 and 300 technician hours", 20_000.0, 300.0, None),
        ("fifteen thousand? no: 15 thousand dollars", 15_000.0, None, None),
        ("raise Contoso 10%", None, None, 10.0),
        ("what if we lower their price by 7.5 percent", None, None, -7.5),
        ("top 5 clients by revenue in 2026", None, None, None),
    ],
)
def test_amounts_hours_and_price_changes(
    text: str, money: float | None, hours: float | None, pct: float | None
) -> None:
    from mspilot.agent.entities import hours_amount, money_amount, percent_change

    assert (money_amount(text), hours_amount(text), percent_change(text)) == (money, hours, pct)
