from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine

from mspilot.core.periods import Period
from mspilot.db import definitions as d
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.semantic import (
    DIMENSIONS,
    METRICS,
    MetricRequest,
    SemanticError,
    metrics_for_role,
    run_metric,
)
from mspilot.db.semantic_access import AccessDenied
from support import fixtures_small

Q3 = Period.quarter(2026, 3)
TODAY = dt.date(2026, 9, 30)


def _doubled(data: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The same MSP with every amount and hour doubled (a second tenant)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, rows in data.items():
        out[table] = []
        for row in rows:
            row = dict(row)
            for key in ("amount", "hours", "total"):
                if key in row:
                    row[key] = row[key] * 2
            out[table].append(row)
    return out


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "Test MSP")
        upsert_tenant(conn, "u", "Other MSP")
    assert Loader(engine, "t", "demo").load_all(fixtures_small.small_msp()).issues == []
    assert Loader(engine, "u", "demo").load_all(_doubled(fixtures_small.small_msp())).issues == []
    return engine


def _run(engine: Engine, tenant: str = "t", **kw: Any) -> dict[tuple[Any, ...], Any]:
    client_id = kw.pop("client_id", None)
    role = kw.pop("role", None)
    result = run_metric(
        engine, tenant, MetricRequest(**kw), client_id=client_id, today=TODAY, role=role
    )
    assert result.row_count == len(result.rows)
    assert result.columns == [*kw.get("dimensions", []), kw["metric"]]
    return {tuple(r[:-1]): r[-1] for r in result.rows}


def test_revenue_by_client_matches_the_shared_definition(loaded: Engine) -> None:
    with loaded.connect() as conn:
        expected = {
            r.client_id: float(r.revenue) for r in conn.execute(d.revenue_by_client("t", Q3))
        }
    got = _run(loaded, metric="revenue", dimensions=["client"], period=Q3)
    assert got == {("Contoso",): expected["t.demo.c1"]}
    assert _run(loaded, "u", metric="revenue", period=Q3) == {(): 2 * expected["t.demo.c1"]}


def test_margin_and_effective_rate_match_client_economics(loaded: Engine) -> None:
    with loaded.connect() as conn:
        econ = {r.name: r for r in conn.execute(d.client_economics("t", Q3))}
    margin = _run(loaded, metric="margin", dimensions=["client"], period=Q3)
    pct = _run(loaded, metric="margin_pct", dimensions=["client"], period=Q3)
    rate = _run(loaded, metric="effective_rate", dimensions=["client"], period=Q3)
    for name, row in econ.items():
        assert margin[(name,)] == pytest.approx(float(row.margin))
        if row.margin_pct is None:
            assert pct[(name,)] is None
        else:
            assert pct[(name,)] == pytest.approx(float(row.margin_pct), abs=1e-4)
        assert rate[(name,)] == pytest.approx(float(row.effective_rate or 0), abs=0.01)


def test_hours_by_technician_and_billable_filter(loaded: Engine) -> None:
    assert _run(loaded, metric="hours", dimensions=["technician"], period="2026-07") == {
        ("Bob",): 4.5,
        ("Ann",): 2.0,
    }
    billable = _run(loaded, metric="hours", filters={"billable": ["true"]})
    non = _run(loaded, metric="hours", filters={"billable": "no"})
    assert billable[()] + non[()] == _run(loaded, metric="hours")[()]
    assert billable[()] == _run(loaded, metric="billable_hours")[()]


def test_unbilled_hours_match_the_definition_and_skip_zero_groups(loaded: Engine) -> None:
    with loaded.connect() as conn:
        expected = {
            r.client_id: float(r.unbilled_hours)
            for r in conn.execute(d.unbilled_hours_by_client("t", TODAY))
        }
    assert _run(loaded, metric="unbilled_hours", dimensions=["client"]) == {
        ("Contoso",): expected["t.demo.c1"]
    }


def test_ticket_shares_sum_to_one_and_p1_share(loaded: Engine) -> None:
    shares = _run(loaded, metric="ticket_share", dimensions=["priority"])
    assert sum(shares.values()) == pytest.approx(1.0)
    assert _run(loaded, metric="p1_share", filters={"client": ["contoso"]}) == {(): 1.0}
    assert _run(loaded, metric="tickets", period="2026-08") == {(): 0}


def test_filters_by_client_name_or_id_case_insensitive(loaded: Engine) -> None:
    by_name = _run(loaded, metric="hours", filters={"client": ["FABRIKAM"]})
    by_id = _run(loaded, metric="hours", filters={"client": ["t.demo.c2"]})
    assert by_name == by_id == {(): 1.5}


def test_client_scope_is_part_of_the_query(loaded: Engine) -> None:
    scoped = _run(loaded, metric="tickets", dimensions=["client"], client_id="t.demo.c2")
    assert scoped == {}
    # asking for another client by filter cannot widen the scope
    other = _run(loaded, metric="tickets", filters={"client": ["Contoso"]}, client_id="t.demo.c2")
    assert other == {(): 0}
    result = run_metric(
        loaded, "t", MetricRequest(metric="tickets"), client_id="t.demo.c1", today=TODAY
    )
    assert "t.demo.c1" in result.sql and "'t'" in result.sql


def test_snapshot_metrics_follow_churn_by_month(loaded: Engine) -> None:
    active = _run(loaded, metric="active_clients", dimensions=["month"], period=Q3)
    assert active == {("2026-07",): 2, ("2026-08",): 2, ("2026-09",): 1}
    assert _run(loaded, metric="churned_clients", dimensions=["client"], period=Q3) == {
        ("Fabrikam",): 1
    }
    assert _run(loaded, metric="mrr") == {(): 3000.0}


def test_period_forms(loaded: Engine) -> None:
    a = _run(loaded, metric="revenue", period={"start": "2026-07-01", "end": "2026-10-01"})
    b = _run(loaded, metric="revenue", period="2026-Q3")
    c = _run(loaded, metric="revenue", period="2026")
    assert a == b == c
    with pytest.raises(ValidationError):
        MetricRequest(metric="revenue", period="last tuesday")
    with pytest.raises(ValidationError):
        MetricRequest(metric="revenue", period={"start": "2026-07-01", "end": "2026-06-01"})


def test_top_n_and_order(loaded: Engine) -> None:
    top = run_metric(
        loaded,
        "t",
        MetricRequest(metric="hours", dimensions=["client"], top_n=1),
        today=TODAY,
    )
    low = run_metric(
        loaded,
        "t",
        MetricRequest(metric="hours", dimensions=["client"], top_n=1, order="asc"),
        today=TODAY,
    )
    assert top.rows == [["Contoso", 5.0]] and low.rows == [["Fabrikam", 1.5]]


def test_unknown_metric_and_invalid_dimension_list_the_valid_ones(loaded: Engine) -> None:
    with pytest.raises(SemanticError, match="valid metrics: revenue"):
        _run(loaded, metric="revenoo")
    with pytest.raises(SemanticError, match="its dimensions are: client, industry"):
        _run(loaded, metric="revenue", dimensions=["technician"])
    with pytest.raises(SemanticError, match="valid dimensions"):
        _run(loaded, metric="revenue", filters={"colour": ["red"]})


def test_roles_are_enforced_in_the_data_layer(loaded: Engine) -> None:
    with pytest.raises(AccessDenied, match="technician role may not see 'revenue'"):
        _run(loaded, metric="revenue", role="technician")
    assert _run(loaded, metric="hours", role="technician") == {(): 6.5}
    for name in ("margin", "labour_cost", "hours", "active_clients"):
        with pytest.raises(AccessDenied):
            _run(loaded, metric=name, role="client_user", client_id="t.demo.c1")
    with pytest.raises(AccessDenied, match="needs a client_id"):
        _run(loaded, metric="tickets", role="client_user")
    assert _run(loaded, metric="tickets", role="client_user", client_id="t.demo.c1") == {(): 1}
    money = {"revenue", "margin", "margin_pct", "effective_rate", "labour_cost", "mrr"}
    assert not money & set(metrics_for_role("technician"))
    assert not money & set(metrics_for_role("client_user"))


def test_every_metric_runs_with_every_dimension(loaded: Engine) -> None:
    """Each valid (metric, dimension) pair compiles and runs on this backend."""
    for name, metric in METRICS.items():
        assert metric.synonyms and metric.description
        for dim in [None, *metric.dimensions]:
            dims = [dim] if dim else []
            result = run_metric(
                loaded,
                "t",
                MetricRequest(metric=name, dimensions=dims, period=Q3),
                today=TODAY,
            )
            last = metric.list_columns[-1][0] if metric.kind == "list" else name
            assert result.columns[-1] == last and result.measure == metric.kind
            for row in result.rows:
                value = row[-1]
                assert value is None or isinstance(value, int | float), (name, dim, row)
                assert not isinstance(value, Decimal)
    assert all(dim.description for dim in DIMENSIONS.values())


def test_share_filters_select_the_numerator(loaded: Engine) -> None:
    """'share of P1 tickets' = P1 tickets / all tickets, not 1.0 of the filtered set."""
    fx = fixtures_small.small_msp()
    assert len(fx["tickets"]) == 1  # one P1 ticket; add a second tenant-t ticket below
    Loader(loaded, "t", "demo").load(
        "tickets",
        [
            {
                "external_id": "t9",
                "client_id": "c2",
                "opened_at": dt.datetime(2026, 7, 9, tzinfo=dt.UTC),
                "priority": "p3",
                "category": "Email",
                "status": "open",
                "sla_breached": False,
                "subject": "Mailbox full",
            }
        ],
    )
    assert _run(loaded, metric="ticket_share", filters={"priority": ["P1"]}) == {(): 0.5}
    by_client = _run(
        loaded, metric="ticket_share", dimensions=["client"], filters={"priority": ["p1"]}
    )
    assert by_client == {("Contoso",): 1.0, ("Fabrikam",): 0.0}
    assert _run(loaded, metric="ticket_share", filters={"priority": ["p1", "p3"]}) == {(): 1.0}
    assert _run(loaded, metric="p1_share") == {(): 0.5}


def test_synonyms_and_spellings_map_to_metrics_and_dimensions() -> None:
    req = MetricRequest(
        metric="Gross Margin", dimensions=["customer", "per month"], filters={"tech": "Ann"}
    )
    assert (req.metric, req.dimensions, req.filters) == (
        "margin",
        ["client", "month"],
        {"technician": ["Ann"]},
    )
    assert MetricRequest(metric="Unbilled Time").metric == "unbilled_hours"
    assert MetricRequest(metric="made up").metric == "made up"  # left for a clear error
