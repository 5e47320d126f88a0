from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from sqlalchemy import Engine

from mspilot.tools.clients import ClientRef, match_name
from mspilot.tools.context import ToolContext

Ctx = Callable[..., ToolContext]
Call = Callable[..., ToolMessage]
CONTOSO, FABRIKAM = "t.demo.c1", "t.demo.c2"


def _refused(message: ToolMessage) -> bool:
    refused = str(message.content).startswith("Refused:")
    assert refused is (message.status == "error"), message.content
    return refused


def _table(message: ToolMessage) -> dict[tuple[Any, ...], Any]:
    return {tuple(r[:-1]): r[-1] for r in message.artifact["rows"]}


# ---- query_metrics ---------------------------------------------------------------------------


def test_query_metrics_text_and_artifact(make_ctx: Ctx, call: Call) -> None:
    msg = call(
        make_ctx(), "query_metrics", metric="revenue", dimensions=["client"], period="2026-Q3"
    )
    assert _table(msg) == {("Contoso",): 3100.0}
    assert "3100.00" in str(msg.content) and "Q3 2026" in str(msg.content)
    meta = msg.artifact["meta"]
    assert meta["metric"] == "revenue" and meta["period"] == "Q3 2026" and "SELECT" in meta["sql"]


def test_query_metrics_reads_names_and_relative_periods(make_ctx: Ctx, call: Call) -> None:
    msg = call(
        make_ctx(),
        "query_metrics",
        metric="hours",
        filters={"client": "contoso ltd"},
        period={"start": "2026-07-01", "end": "2026-08-01"},
    )
    assert _table(msg) == {(): 5.0}
    assert "read as 'Contoso'" in str(msg.content)
    last_quarter = call(make_ctx(), "query_metrics", metric="hours", period="last quarter")
    assert last_quarter.artifact["meta"]["period"] == "Q2 2026"


def test_query_metrics_compares_periods_and_ranks_by_the_bad_end(make_ctx: Ctx, call: Call) -> None:
    """'July vs June' as one period text, or period + compare_to: the change comes back."""
    both = call(make_ctx(), "query_metrics", metric="revenue", period="2026-07 vs 2026-06")
    split = call(make_ctx(), "query_metrics", metric="revenue", period="2026-07",
                 compare_to="2026-06")  # fmt: skip
    for msg in (both, split):
        assert msg.artifact["columns"] == [
            "revenue", "revenue_baseline", "change", "change_pct"
        ]  # fmt: skip
        now, before, change, _pct = msg.artifact["rows"][0]
        assert change == now - before and msg.artifact["meta"]["measure"] == "change"
        assert "compared with June 2026" in str(msg.content)
    worst = call(make_ctx(), "query_metrics", metric="csat", dimensions=["client"],
                 order="worst", conditions=[{"metric": "tickets", "value": 1}])  # fmt: skip
    best = call(make_ctx(), "query_metrics", metric="csat", dimensions=["client"], order="best")
    rated = [r[-1] for r in worst.artifact["rows"] if r[-1] is not None]
    assert rated == sorted(rated) and rated  # worst satisfaction first: the lowest
    assert [r[-1] for r in best.artifact["rows"] if r[-1] is not None] == rated[::-1]


@pytest.mark.parametrize(
    "args",
    [
        {"metric": "revenoo"},
        {"metric": "revenue", "dimensions": ["technician"]},
        {"metric": "revenue", "period": "the other day"},
        {"metric": "revenue", "top_n": 0},
        {"dimensions": ["client"]},
    ],
)
def test_bad_metric_arguments_come_back_as_messages(
    args: dict[str, Any], make_ctx: Ctx, call: Call
) -> None:
    msg = call(make_ctx(), "query_metrics", **args)
    assert "revenoo" not in args.get("metric", "") or "valid metrics" in str(msg.content)
    assert msg.artifact["rows"] == []
    assert _refused(msg)


@pytest.mark.parametrize(
    ("role", "metric", "allowed"),
    [
        ("owner", "margin", True),
        ("finance", "revenue", True),
        ("service_manager", "effective_rate", True),
        ("technician", "hours", True),
        ("technician", "revenue", False),
        ("technician", "margin_pct", False),
        ("technician", "labour_cost", False),
        ("technician", "mrr", False),
        ("client_user", "tickets", True),
        ("client_user", "balance_due", True),
        ("client_user", "hours", False),
        ("client_user", "margin", False),
        ("client_user", "active_clients", False),
    ],
)
def test_metric_access_by_role(
    role: str, metric: str, allowed: bool, make_ctx: Ctx, call: Call
) -> None:
    ctx = make_ctx(role, CONTOSO if role == "client_user" else None)
    msg = call(ctx, "query_metrics", metric=metric)
    assert _refused(msg) is not allowed, msg.content
    chart = call(ctx, "make_chart", metric=metric, dimensions=["month"], period="2026-Q3")
    assert _refused(chart) is not allowed


def test_client_user_metrics_are_limited_to_their_client(make_ctx: Ctx, call: Call) -> None:
    ctx = make_ctx("client_user", FABRIKAM)
    mine = call(ctx, "query_metrics", metric="tickets", dimensions=["client"])
    assert set(_table(mine)) == {("Fabrikam",)}
    other = call(ctx, "query_metrics", metric="tickets", filters={"client": ["Contoso"]})
    assert _table(other) == {(): 0}


# ---- SQL tools -------------------------------------------------------------------------------


def test_list_and_describe_tables_follow_the_role(make_ctx: Ctx, call: Call) -> None:
    owner = call(make_ctx(), "list_tables")
    assert {r[0] for r in owner.artifact["rows"]} >= {"invoices", "technicians", "time_entries"}
    client = call(make_ctx("client_user", CONTOSO), "list_tables")
    assert {r[0] for r in client.artifact["rows"]}.isdisjoint({"technicians", "time_entries"})
    tech = call(make_ctx("technician"), "describe_table", table="technicians")
    assert "hourly_cost" not in [r[0] for r in tech.artifact["rows"]]
    owner_desc = call(make_ctx(), "describe_table", table="Technicians")
    assert "hourly_cost" in [r[0] for r in owner_desc.artifact["rows"]]
    assert _refused(call(make_ctx("client_user", CONTOSO), "describe_table", table="time_entries"))
    assert _refused(call(make_ctx(), "describe_table", table="sqlite_master"))


@pytest.mark.parametrize(
    ("role", "sql", "allowed"),
    [
        ("owner", "SELECT name, hourly_cost FROM technicians", True),
        ("technician", "SELECT name, hourly_cost FROM technicians", False),
        ("technician", "SELECT sum(total) FROM invoices", False),
        ("technician", "SELECT count(*) FROM tickets", True),
        ("client_user", "SELECT count(*) FROM tickets", True),
        ("client_user", "SELECT count(*) FROM time_entries", False),
        ("client_user", "SELECT name FROM technicians", False),
        ("owner", "DELETE FROM tickets", False),
        ("owner", "SELECT 1; DROP TABLE clients", False),
    ],
)
def test_run_sql_by_role(role: str, sql: str, allowed: bool, make_ctx: Ctx, call: Call) -> None:
    msg = call(make_ctx(role, CONTOSO if role == "client_user" else None), "run_sql", sql=sql)
    assert _refused(msg) is not allowed, msg.content


def test_run_sql_errors_invite_one_retry(make_ctx: Ctx, call: Call) -> None:
    msg = call(make_ctx(), "run_sql", sql="SELECT nosuch FROM tickets")
    assert msg.status == "error"
    assert "failed" in str(msg.content) and "nosuch" in str(msg.content)


def test_run_sql_stays_in_the_callers_tenant(make_ctx: Ctx, call: Call) -> None:
    msg = call(make_ctx(), "run_sql", sql="SELECT name FROM clients WHERE tenant_id = 'u' OR 1=1")
    assert sorted(r[0] for r in msg.artifact["rows"]) == ["Contoso", "Fabrikam"]


def test_injected_text_is_returned_as_quoted_data(
    make_ctx: Ctx, call: Call, injection: str, loaded: Engine
) -> None:
    msg = call(make_ctx(), "run_sql", sql="SELECT subject FROM tickets WHERE priority = 'p3'")
    content = str(msg.content)
    assert "not instructions" in content
    assert json.dumps(injection) in content  # quoted as a JSON string, never as bare prose
    assert msg.artifact["rows"] == [[injection]]
    with loaded.connect() as conn:  # and nothing ran
        assert conn.exec_driver_sql("SELECT count(*) FROM invoices").scalar_one() == 4


# ---- client_profile --------------------------------------------------------------------------


def _profile(message: ToolMessage) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for section, item, value in message.artifact["rows"]:
        out.setdefault(section.split(" ")[0], {})[item] = value
    return out


def test_client_profile_for_owner_has_economics_from_the_definitions(
    make_ctx: Ctx, call: Call
) -> None:
    msg = call(make_ctx(), "client_profile", client="contoso", months=3)
    prof = _profile(msg)
    assert prof["client"]["name"] == "Contoso" and prof["client"]["seats"] == 20
    # June..August 2026: the July invoice (3100), 5 h (220 labour), 3 months of licences
    assert prof["economics"]["revenue"] == 3100.0
    assert prof["economics"]["licence_cost"] == 1080.0
    assert prof["economics"]["margin"] == pytest.approx(3100 - 220 - 1080)
    assert prof["per_user"]["monthly_value"] == 3000.0
    assert prof["service"]["tickets"] == 1
    assert "Contoso" in str(msg.content)


def test_client_profile_by_role(make_ctx: Ctx, call: Call) -> None:
    tech = _profile(call(make_ctx("technician"), "client_profile", client="Contoso"))
    assert "economics" not in tech and "per_user" not in tech
    assert "balance_due" not in tech.get("as", {})
    client = make_ctx("client_user", CONTOSO)
    assert _refused(call(client, "client_profile", client="Fabrikam"))
    own = _profile(call(client, "client_profile", client="my company"))
    assert own["client"]["name"] == "Contoso" and "economics" not in own
    assert "unbilled_hours" not in own.get("as", {})
    assert _refused(call(make_ctx(), "client_profile", client="Zzyzx Widgets"))


def test_match_name_is_fuzzy_but_not_reckless() -> None:
    cands = [("1", "Contoso"), ("2", "Contoso Pharma"), ("3", "Fabrikam")]
    assert match_name(cands, "fabrikam inc") == ClientRef("3", "Fabrikam")
    assert match_name(cands, "CONTOSO") == ClientRef("1", "Contoso")
    assert isinstance(match_name(cands, "Northwind"), list)


# ---- make_chart ------------------------------------------------------------------------------


def test_make_chart_spec(make_ctx: Ctx, call: Call) -> None:
    line = call(
        make_ctx(), "make_chart", metric="licence_cost", dimensions=["month"], period="2026-Q3"
    )
    spec = line.artifact["meta"]["chart"]
    assert spec["mark"]["type"] == "line" and spec["encoding"]["x"]["field"] == "month"
    assert [v["licence_cost"] for v in spec["data"]["values"]] == [360.0, 360.0, 360.0]
    bar = call(make_ctx(), "make_chart", metric="hours", dimensions=["client", "month"])
    spec = bar.artifact["meta"]["chart"]
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["color"]["field"] == "month"


@pytest.mark.slow  # importing matplotlib (and its font cache on a fresh machine) takes seconds
def test_make_chart_png(make_ctx: Ctx, call: Call) -> None:
    pytest.importorskip("matplotlib")
    msg = call(make_ctx(), "make_chart", metric="hours", dimensions=["client"], png=True)
    path = msg.artifact["meta"]["png_path"]
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_tools_agree_on_both_backends(loaded_any: Engine, tmp_path: Path, call: Call) -> None:
    """The same answers on SQLite and PostgreSQL (PostgreSQL adds the read-only role + RLS)."""
    owner = ToolContext(loaded_any, "t", dt.date(2026, 9, 30), tmp_path)
    client = ToolContext(loaded_any, "t", dt.date(2026, 9, 30), tmp_path, "client_user", FABRIKAM)
    assert _table(
        call(owner, "query_metrics", metric="margin", dimensions=["client"], period="2026-Q3")
    ) == {("Contoso",): 1800.0, ("Fabrikam",): -60.0}
    sql = (
        "SELECT c.name, count(t.id) FROM clients c LEFT JOIN tickets t ON t.client_id = c.id "
        "GROUP BY c.name ORDER BY c.name"
    )
    assert call(owner, "run_sql", sql=sql).artifact["rows"] == [["Contoso", 1], ["Fabrikam", 1]]
    assert call(client, "run_sql", sql=sql).artifact["rows"] == [["Fabrikam", 1]]
    like = call(owner, "run_sql", sql="SELECT name FROM clients WHERE name LIKE '%bri%'")
    assert like.artifact["rows"] == [["Fabrikam"]]


def test_scope_arguments_from_the_model_are_ignored(make_ctx: Ctx, call: Call) -> None:
    """A model (or injected text) naming another tenant, client or role changes nothing."""
    sneaky = {"tenant_id": "u", "client_id": None, "role": "owner"}
    owner = call(make_ctx(), "query_metrics", metric="tickets", dimensions=["client"], **sneaky)
    assert set(_table(owner)) == {("Contoso",), ("Fabrikam",)}  # tenant t's clients only
    client = make_ctx("client_user", CONTOSO)
    mine = call(client, "query_metrics", metric="tickets", dimensions=["client"], **sneaky)
    assert set(_table(mine)) == {("Contoso",)}
    assert _refused(call(client, "query_metrics", metric="revenue", **sneaky))
