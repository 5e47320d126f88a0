from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Engine

from mspilot.core.periods import Period
from mspilot.db import definitions as d
from mspilot.db.loader import Loader, upsert_tenant
from support import fixtures_small

JULY = Period.month(2026, 7)


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    with engine.begin() as conn:
        upsert_tenant(conn, "t", "Test MSP")
    report = Loader(engine, "t", "demo").load_all(fixtures_small.small_msp())
    assert report.issues == []
    return engine


def test_client_economics_follow_the_shared_definitions(loaded: Engine) -> None:
    with loaded.connect() as conn:
        rows = {r.name: r for r in conn.execute(d.client_economics("t", JULY))}
    contoso = rows["Contoso"]
    assert contoso.revenue == Decimal("3100.00")  # 3000 recurring + 100 labour
    assert contoso.hours == Decimal("5.00")
    assert contoso.labour_cost == Decimal("220.00")  # 2h x 50 + 3h x 40
    assert contoso.licence_cost == Decimal("360.00")  # 20 seats x 18, one month
    assert contoso.margin == Decimal("2520.00")
    assert float(contoso.margin_pct) == pytest.approx(2520 / 3100)
    assert float(contoso.effective_rate) == pytest.approx(3100 / 5)
    fabrikam = rows["Fabrikam"]
    assert fabrikam.revenue == 0  # its only invoice is void
    assert fabrikam.effective_rate == 0  # 1.5 h worked for nothing
    assert fabrikam.margin == Decimal("-60.00")


def test_licence_cost_counts_each_active_month(loaded: Engine) -> None:
    with loaded.connect() as conn:
        (row,) = conn.execute(d.licence_cost_by_client("t", Period.quarter(2026, 3))).all()
    assert row.licence_cost == Decimal("1080.00")


def test_unbilled_hours_are_billable_uninvoiced_and_older_than_35_days(loaded: Engine) -> None:
    with loaded.connect() as conn:
        early = conn.execute(d.unbilled_hours_by_client("t", dt.date(2026, 8, 1))).all()
        late = conn.execute(d.unbilled_hours_by_client("t", dt.date(2026, 8, 20))).all()
    assert early == []  # e2 is only 22 days old
    assert [(r.client_id, r.unbilled_hours) for r in late] == [("t.demo.c1", Decimal("3.00"))]


def test_churn_label_is_churn_within_90_days(loaded: Engine) -> None:
    with loaded.connect() as conn:
        june = dict(conn.execute(d.churn_labels("t", dt.date(2026, 6, 30))).all())
        may = dict(conn.execute(d.churn_labels("t", dt.date(2026, 5, 31))).all())
        oct_ = dict(conn.execute(d.churn_labels("t", dt.date(2026, 10, 31))).all())
    assert june == {"t.demo.c1": False, "t.demo.c2": True}
    assert may["t.demo.c2"] is False  # churns 107 days later
    assert "t.demo.c2" not in oct_  # already gone


def test_revenue_total_ignores_void_and_other_periods(loaded: Engine) -> None:
    with loaded.connect() as conn:
        assert d.revenue_total(conn, "t", JULY) == Decimal("3100.00")
        assert d.revenue_total(conn, "t", Period.month(2026, 8)) == Decimal("0.00")
