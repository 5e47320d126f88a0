"""The router's reading: the measure picks the metric, qualifiers are kept, comparisons keep
both periods, and a word it did not use makes it say what it read instead of guessing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mspilot.agent.entities import Catalogue, Named
from mspilot.agent.reading import measure_of, pick_metric, qualifiers, unread_words
from mspilot.agent.results import ToolResult
from mspilot.agent.router import IntentRouter
from mspilot.agent.templates import render_answer
from mspilot.prompts.agent import NOT_UNDERSTOOD_MARK
from mspilot.tools.registry import TOOLS

TODAY = dt.date(2026, 10, 31)


@pytest.fixture(scope="module")
def router() -> IntentRouter:
    catalogue = Catalogue(
        clients=[Named("c1", "Contoso Dental", "client")],
        technicians=[Named("t1", "Emily Patel", "technician")],
        products=["Microsoft 365 Business Standard"],
        asset_kinds=["server", "laptop"],
    )
    return IntentRouter(catalogue, TODAY, list(TOOLS))


def _request(router: IntentRouter, question: str) -> dict[str, Any]:
    route = router.route(question)
    assert route is not None and route.calls, question
    assert route.calls[0].name == "query_metrics", (question, route.calls)
    return route.calls[0].args


@pytest.mark.parametrize(
    ("question", "measure"),
    [
        ("How many invoices are overdue?", "count"),
        ("How much is overdue in total?", "sum"),
        ("average days to pay", "average"),
        ("what share of tickets were P1, in percent", "share"),
        ("September vs August revenue", "change"),
    ],
)
def test_the_measure_is_read_from_the_wording(question: str, measure: str) -> None:
    assert measure_of(question.lower()) == measure


def test_the_measure_picks_the_metric_whose_kind_fits() -> None:
    kinds = {"overdue_balance": "sum", "overdue_invoices": "count"}
    found = [("overdue", "overdue_balance"), ("invoices", "overdue_invoices")]
    assert pick_metric(found, "count", kinds) == ("invoices", "overdue_invoices")
    assert pick_metric(found, "sum", kinds) == ("overdue", "overdue_balance")
    assert pick_metric(found, None, kinds) == ("overdue", "overdue_balance")


def test_qualifiers_keep_minimum_volumes_and_ageing_buckets() -> None:
    q = qualifiers("worst sla breach rate among clients with at least 20 tickets")
    assert q.conditions == [{"metric": "tickets", "op": ">=", "value": 20}]
    assert qualifiers("balance more than 90 days past due").ageing_bucket == "90+"
    assert qualifiers("amount 31-60 days late").ageing_bucket == "31-60"
    assert qualifiers("receivables ageing report").ageing_dimension


def test_words_nothing_used_are_reported_in_order() -> None:
    assert unread_words("billable hours of the frobnicated clients", ["billable hours"]) == [
        "frobnicated",
        "clients",
    ]


def test_a_count_of_overdue_invoices_is_the_count_not_the_balance(router: IntentRouter) -> None:
    assert _request(router, "How many invoices are overdue?")["metric"] == "overdue_invoices"


def test_a_comparison_keeps_both_periods(router: IntentRouter) -> None:
    args = _request(router, "How did revenue in September compare with August?")
    assert args["metric"] == "revenue"
    assert args["period"] == {"start": "2026-09-01", "end": "2026-10-01"}
    assert args["compare_to"] == {"start": "2026-08-01", "end": "2026-09-01"}


def test_a_minimum_volume_is_a_condition_and_worst_is_the_metrics_own_end(
    router: IntentRouter,
) -> None:
    args = _request(
        router, "Which client with at least 20 tickets had the worst SLA breach rate this year?"
    )
    assert args["metric"] == "sla_breach_rate"
    assert args["dimensions"] == ["client"]
    assert args["order"] == "worst"
    assert args["conditions"] == [{"metric": "tickets", "op": ">=", "value": 20}]


def test_qualifiers_narrow_the_rows(router: IntentRouter) -> None:
    assert _request(router, "unbilled billable time")["metric"] == "unbilled_hours"
    over = _request(router, "How much is more than 90 days past due?")
    assert over["filters"] == {"ageing_bucket": ["90+"]}
    seats = _request(router, "How many Microsoft 365 Business Standard seats are in use?")
    assert seats["filters"] == {"product": ["Microsoft 365 Business Standard"]}
    revenue = _request(router, "licence revenue from Microsoft 365 Business Standard this year")
    assert revenue["metric"] == "licence_revenue"


def test_an_unread_word_is_named_and_the_reading_stated(router: IntentRouter) -> None:
    route = router.route("billable hours of the frobnicated clients last month")
    assert route is not None and route.calls and not route.confident
    assert route.slots["unread"] == ["frobnicated"]
    intent = {"intent": route.intent, **route.slots}
    result = ToolResult(
        "query_metrics",
        route.calls[0].args,
        "",
        {"columns": ["billable_hours"], "rows": [[3.0]]},
        False,
    )
    first = render_answer("q", intent, [result]).splitlines()[0]
    assert first.startswith("I read this as: ") and "'frobnicated'" in first
    assert NOT_UNDERSTOOD_MARK in first and "September 2026" in first


def test_a_fully_read_question_stays_confident(router: IntentRouter) -> None:
    route = router.route("How many P1 tickets did Contoso Dental open last month?")
    assert route is not None and route.confident and route.slots["unread"] == []
