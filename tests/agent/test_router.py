"""The deterministic router on a tiny tenant: names, periods, metrics, dimensions, top-N,
follow-ups, and paraphrases that are not among its example utterances."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.agent.entities import Catalogue, match_names
from mspilot.agent.router import IntentRouter
from mspilot.db.loader import Loader, upsert_tenant

_spec = importlib.util.spec_from_file_location(
    "fixtures_small", Path(__file__).parents[1] / "db" / "fixtures_small.py"
)
assert _spec and _spec.loader
fixtures_small = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixtures_small)

TODAY = dt.date(2026, 10, 31)
TOOLS = ["query_metrics", "run_sql", "list_tables", "describe_table", "client_profile",
         "search_knowledge", "make_chart", "churn_risk", "price_recommendation"]  # fmt: skip


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> IntentRouter:
    from mspilot.db import migrate
    from mspilot.db.engine import make_engine

    engine: Engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('r') / 'r.db'}")
    migrate.upgrade(engine)
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "Tiny MSP")
    Loader(engine, "t", "demo").load_all(fixtures_small.small_msp())
    return IntentRouter(Catalogue.load(engine, "t"), TODAY, TOOLS)


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
