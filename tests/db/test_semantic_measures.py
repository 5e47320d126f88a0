"""The measures MSP owners ask for, on SQLite and PostgreSQL, against values computed here
from the planted rows (never from the definitions the layer itself uses)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from mspilot.core.periods import Period
from mspilot.db.loader import Loader, upsert_tenant
from mspilot.db.semantic import (
    METRICS,
    MetricRequest,
    MetricResult,
    SemanticError,
    canonical_metric,
    run_metric,
)

D = Decimal
UTC = dt.UTC
TODAY = dt.date(2026, 9, 30)
SEPT = Period.month(2026, 9)
Q2, Q3 = Period.quarter(2026, 2), Period.quarter(2026, 3)
NAMES = {"c1": "Alpha", "c2": "Beta", "c3": "Gamma"}
TECHS = {"k1": ("Ann", D("50")), "k2": ("Bob", D("40")), "k3": ("Cid", D("45"))}

# (id, client, issued, due, total, balance, status, [(kind, amount, sku)])
INVOICES = [
    ("i1", "c1", "2026-06-01", "2026-07-01", 1000, 0, "paid",
     [("recurring", 800, None), ("license", 200, "M365-BP")]),
    ("i2", "c2", "2026-07-01", "2026-07-31", 400, 0, "paid",
     [("labor", 250, None), ("license", 150, "BACKUP")]),
    ("i3", "c1", "2026-09-01", "2026-10-01", 300, 300, "open", [("recurring", 300, None)]),
    ("i4", "c1", "2026-08-01", "2026-08-31", 200, 200, "overdue", [("hardware", 200, None)]),
    ("i5", "c2", "2026-06-01", "2026-07-01", 150, 150, "overdue", [("recurring", 150, None)]),
    ("i6", "c2", "2026-07-15", "2026-08-15", 120, 120, "open", [("recurring", 120, None)]),
    ("i7", "c2", "2026-06-20", "2026-07-20", 80, 80, "overdue", [("project", 80, None)]),
    ("i8", "c3", "2026-07-02", "2026-08-01", 999, 999, "void", [("recurring", 999, None)]),
]  # fmt: skip
PAYMENTS = [("p1", "i1", "2026-06-11", 500), ("p2", "i1", "2026-06-21", 500),
            ("p3", "i2", "2026-08-30", 400)]  # fmt: skip
# (client, technician, date, hours, billable, invoiced)
TIME = [
    *[("c1", "k1", f"2026-09-{d:02d}", 10, True, False) for d in range(1, 11)],
    *[("c1", "k1", f"2026-09-{d:02d}", 10, False, False) for d in (14, 15)],
    *[("c2", "k2", f"2026-09-{d:02d}", 10, True, False) for d in (15, 16, 17)],
    *[("c2", "k2", f"2026-09-{d:02d}", 10, False, False) for d in (21, 22, 23, 24, 25)],
    ("c1", "k1", "2026-08-01", 5, True, False),  # unbilled: billable, old, never invoiced
    ("c1", "k1", "2026-08-02", 3, True, True),
    ("c2", "k2", "2026-08-03", 4, False, False),
]
LICENCES = [("c1", "Microsoft 365 Business Premium", "M365-BP", 20, 18, 22),
            ("c2", "Microsoft 365 Business Premium", "M365-BP", 8, 18, 22),
            ("c2", "Cloud Backup", "BACKUP", 5, 4, 9)]  # fmt: skip
ASSETS = [("c1", "server", True), ("c1", "server", True), ("c1", "server", False),
          ("c1", "workstation", True), ("c1", "workstation", True),
          ("c1", "workstation", True), ("c2", "server", True)]  # fmt: skip
TICKETS = {"c1": (25, 5), "c2": (10, 8), "c3": (22, 11)}  # client: (tickets, breached)


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def planted() -> dict[str, list[dict[str, Any]]]:
    lines, line_ids = [], {}
    for inv, _c, _i, _d, _t, _b, _s, items in INVOICES:
        for n, (kind, amount, sku) in enumerate(items):
            line_ids[(inv, n)] = f"{inv}-l{n}"
            lines.append(
                {"external_id": f"{inv}-l{n}", "invoice_id": inv, "kind": kind, "sku": sku,
                 "quantity": D("1"), "unit_price": D(amount), "amount": D(amount),
                 "contract_id": "k-a" if inv == "i1" and kind == "recurring" else None}
            )  # fmt: skip
    tickets = [
        {"external_id": f"t-{c}-{i}", "client_id": c, "technician_id": "k1",
         "opened_at": dt.datetime(2026, 9, 1 + i % 28, 9, tzinfo=UTC), "priority": "p3",
         "category": "Email", "status": "resolved", "sla_breached": i < breached,
         "subject": "s"}
        for c, (n, breached) in TICKETS.items()
        for i in range(n)
    ]  # fmt: skip
    return {
        "clients": [
            {"external_id": c, "name": name, "industry": "Legal", "seats": 10,
             "status": "active", "onboarded_on": dt.date(2024, 1, 1)}
            for c, name in NAMES.items()
        ],
        "technicians": [
            {"external_id": k, "name": name, "role": "L2", "hourly_cost": cost,
             "active": k != "k3"}
            for k, (name, cost) in TECHS.items()
        ],
        "contracts": [
            {"external_id": "k-a", "client_id": "c1", "name": "Alpha per-user", "status": "active",
             "kind": "per_user", "unit_price": D("150.00"), "quantity": D("20"),
             "monthly_value": D("3000.00"), "starts_on": dt.date(2026, 1, 1),
             "ends_on": dt.date(2026, 12, 31)},
            {"external_id": "k-b", "client_id": "c2", "name": "Beta flat", "status": "active",
             "kind": "flat", "monthly_value": D("1200.00"), "starts_on": dt.date(2025, 1, 1)},
            {"external_id": "k-old", "client_id": "c2", "name": "Beta old", "status": "expired",
             "kind": "flat", "monthly_value": D("900.00"), "starts_on": dt.date(2024, 1, 1),
             "ends_on": dt.date(2025, 12, 31)},
        ],
        "tickets": tickets,
        "invoices": [
            {"external_id": inv, "client_id": c, "number": f"INV-{inv[1:]}",
             "issued_on": _date(i), "due_on": _date(d), "total": D(t), "balance": D(b),
             "status": s}
            for inv, c, i, d, t, b, s, _ in INVOICES
        ],
        "invoice_lines": lines,
        "time_entries": [
            {"external_id": f"e{n}", "client_id": c, "technician_id": k, "work_date": _date(w),
             "hours": D(h), "billable": bill, "invoice_line_id": "i2-l0" if inv else None}
            for n, (c, k, w, h, bill, inv) in enumerate(TIME)
        ],
        "payments": [
            {"external_id": p, "client_id": next(c for i, c, *_ in INVOICES if i == inv),
             "invoice_id": inv, "paid_on": _date(day), "amount": D(amount)}
            for p, inv, day, amount in PAYMENTS
        ],
        "assets": [
            {"external_id": f"a{n}", "client_id": c, "kind": kind, "status": "online",
             "managed": managed}
            for n, (c, kind, managed) in enumerate(ASSETS)
        ],
        "licenses": [
            {"external_id": f"m{n}", "client_id": c, "product": product, "sku": sku,
             "seats_in_use": seats, "unit_cost": D(cost), "unit_price": D(price),
             "starts_on": dt.date(2026, 1, 1)}
            for n, (c, product, sku, seats, cost, price) in enumerate(LICENCES)
        ],
    }  # fmt: skip


def _plant(engine: Engine) -> Engine:
    with engine.begin() as conn:
        upsert_tenant(conn, "m", "Measured MSP")
    assert Loader(engine, "m", "demo").load_all(planted()).issues == []
    return engine


@pytest.fixture
def msp(engine: Engine) -> Engine:
    return _plant(engine)


def _ask(engine: Engine, **kw: Any) -> MetricResult:
    client_id = kw.pop("client_id", None)
    return run_metric(engine, "m", MetricRequest(**kw), client_id=client_id, today=TODAY)


def _by(result: MetricResult) -> dict[tuple[Any, ...], Any]:
    return {tuple(r[:-1]): r[-1] for r in result.rows}


def _weekdays(period: Period) -> int:
    day, n = period.start, 0
    while day < period.end:
        n += day.weekday() < 5
        day += dt.timedelta(days=1)
    return n


def test_utilisation_and_billable_share_per_technician(msp: Engine) -> None:
    capacity = 8 * _weekdays(SEPT)  # every day of September is on or before today
    worked: dict[str, list[float]] = {}
    for _c, k, day, hours, billable, _inv in TIME:
        if SEPT.start <= _date(day) < SEPT.end:
            tot = worked.setdefault(TECHS[k][0], [0.0, 0.0])
            tot[0] += hours
            tot[1] += hours if billable else 0
    util = _by(_ask(msp, metric="utilisation", dimensions=["technician"], period=SEPT))
    bill = _by(_ask(msp, metric="billable_utilisation", dimensions=["technician"], period=SEPT))
    share = _by(_ask(msp, metric="billable_share", dimensions=["technician"], period=SEPT))
    # Cid is inactive and logged nothing: no capacity, no row
    assert set(util) == {(n,) for n in worked} == set(bill)
    for name, (hours, billable) in worked.items():
        assert util[(name,)] == pytest.approx(hours / capacity, abs=1e-4)
        assert bill[(name,)] == pytest.approx(billable / capacity, abs=1e-4)
        assert share[(name,)] == pytest.approx(billable / hours, abs=1e-4)
    total = sum(h for h, _ in worked.values()) / (capacity * len(worked))
    assert _by(_ask(msp, metric="utilisation", period=SEPT))[()] == pytest.approx(total, abs=1e-4)
    assert canonical_metric("technician utilization") == "utilisation"
    assert canonical_metric("billable percentage") == "billable_share"


def test_unbilled_billable_time_is_only_old_uninvoiced_billable_hours(msp: Engine) -> None:
    cutoff = TODAY - dt.timedelta(days=35)
    expected: dict[str, float] = {}
    for c, _k, day, hours, billable, invoiced in TIME:
        if billable and not invoiced and _date(day) < cutoff:
            expected[NAMES[c]] = expected.get(NAMES[c], 0) + hours
    got = _by(_ask(msp, metric="unbilled billable time", dimensions=["client"]))
    assert got == {(n,): h for n, h in expected.items()} and expected == {"Alpha": 5}


def test_days_to_pay_per_invoice_and_per_payment(msp: Engine) -> None:
    issued = {inv: _date(i) for inv, _c, i, *_ in INVOICES}
    last: dict[str, dt.date] = {}
    per_payment = []
    for _p, inv, day, _a in PAYMENTS:
        last[inv] = max(last.get(inv, _date(day)), _date(day))
        per_payment.append((_date(day) - issued[inv]).days)
    per_invoice = {inv: (paid - issued[inv]).days for inv, paid in last.items()}
    avg = _by(_ask(msp, metric="average days to pay"))[()]
    assert avg == pytest.approx(sum(per_invoice.values()) / len(per_invoice))
    by_payment = _by(_ask(msp, metric="avg_days_to_pay_per_payment"))[()]
    assert by_payment == pytest.approx(sum(per_payment) / len(per_payment))
    assert avg != by_payment  # the two readings differ on these rows
    listed = _ask(msp, metric="days_to_pay", filters={"client": ["Alpha"]})
    assert listed.columns == ["client", "invoice", "issued_on", "paid_on", "days_to_pay"]
    assert listed.rows == [["Alpha", "INV-1", "2026-06-01", "2026-06-21", per_invoice["i1"]]]
    # paid in August only: the invoice paid on 2026-08-30
    aug = _by(_ask(msp, metric="avg_days_to_pay", period="2026-08"))[()]
    assert aug == pytest.approx(per_invoice["i2"])


def test_ageing_buckets_of_open_balances(msp: Engine) -> None:
    expected: dict[str, float] = {}
    for _inv, _c, _i, due, _t, balance, status, _ in INVOICES:
        if status not in ("open", "overdue") or not balance:
            continue
        late = (TODAY - _date(due)).days
        bucket = (
            "current" if late <= 0 else "1-30" if late <= 30 else "31-60" if late <= 60
            else "61-90" if late <= 90 else "90+"
        )  # fmt: skip
        expected[bucket] = expected.get(bucket, 0) + balance
    got = _by(_ask(msp, metric="balance_due", dimensions=["ageing_bucket"]))
    assert got == {(b,): v for b, v in expected.items()}
    assert set(expected) == {"current", "1-30", "31-60", "61-90", "90+"}
    over_90 = _by(_ask(msp, metric="balance_due", filters={"ageing_bucket": ["90+"]}))
    assert over_90 == {(): expected["90+"]}
    count = _by(_ask(msp, metric="overdue_invoices", filters={"ageing": ["31-60", "61-90"]}))
    assert count == {(): 2}


def test_margin_pct_per_client(msp: Engine) -> None:
    months = 3  # Q3; every licence runs the whole quarter
    for client, name in NAMES.items():
        revenue = sum(
            amount
            for inv, c, issued, _d, _t, _b, status, items in INVOICES
            if c == client and status != "void" and Q3.start <= _date(issued) < Q3.end
            for _kind, amount, _sku in items
        )
        labour = sum(
            float(h * TECHS[k][1])
            for c, k, day, h, *_ in TIME
            if c == client and Q3.start <= _date(day) < Q3.end
        )
        licence = sum(
            seats * cost * months for c, _p, _s, seats, cost, _ in LICENCES if c == client
        )
        got = _by(_ask(msp, metric="margin %", dimensions=["client"], period=Q3)).get((name,))
        if revenue:
            assert got == pytest.approx((revenue - labour - licence) / revenue, abs=1e-4)
        else:
            assert got is None


def test_licence_seats_and_revenue_per_product(msp: Engine) -> None:
    seats: dict[str, int] = {}
    for _c, product, _sku, n, *_ in LICENCES:
        seats[product] = seats.get(product, 0) + n
    assert _by(_ask(msp, metric="licence_seats", dimensions=["product"])) == {
        (p,): n for p, n in seats.items()
    }
    product_of = {sku: product for _c, product, sku, *_ in LICENCES}
    revenue: dict[str, float] = {}
    for *_, status, items in INVOICES:
        for kind, amount, sku in items:
            if kind == "license" and status != "void":
                revenue[product_of[sku]] = revenue.get(product_of[sku], 0) + amount
    got = _by(_ask(msp, metric="license revenue", dimensions=["product"]))
    assert got == {(p,): v for p, v in revenue.items()}


def test_revenue_by_invoice_line_kind(msp: Engine) -> None:
    expected: dict[str, float] = {}
    for *_, status, items in INVOICES:
        for kind, amount, _sku in items:
            if status != "void":
                expected[kind] = expected.get(kind, 0) + amount
    got = _by(_ask(msp, metric="revenue", dimensions=["line_kind"]))
    assert got == {(k,): v for k, v in expected.items()}


def _revenue(client: str, period: Period) -> float:
    return sum(
        amount
        for _inv, c, issued, _d, _t, _b, status, items in INVOICES
        if c == client and status != "void" and period.start <= _date(issued) < period.end
        for _kind, amount, _sku in items
    )


def test_period_over_period_change_for_any_metric(msp: Engine) -> None:
    result = _ask(msp, metric="revenue", dimensions=["client"], period=Q3, compare_to=Q2)
    assert result.columns == ["client", "revenue", "revenue_baseline", "change", "change_pct"]
    assert result.measure == "change" and result.baseline_label == "Q2 2026"
    rows = {r[0]: r[1:] for r in result.rows}
    for client, name in NAMES.items():
        now, before = _revenue(client, Q3), _revenue(client, Q2)
        if not now and not before:
            assert name not in rows
            continue
        pct = (now - before) / before if before else None
        assert rows[name][:3] == [now, before, now - before]
        assert rows[name][3] == (None if pct is None else pytest.approx(pct, abs=1e-4))
    changes = [r[3] for r in result.rows]
    assert changes == sorted(changes, reverse=True)  # biggest rise first
    # a rate compared: the change of billable share, all technicians, September vs August
    rate = _ask(msp, metric="billable_share", period=SEPT, compare_to="2026-08")
    now = sum(h for *_, d, h, b, _i in TIME if d.startswith("2026-09") and b) / sum(
        h for *_, d, h, _b, _i in TIME if d.startswith("2026-09")
    )
    before = 8 / 12  # August: 5 + 3 billable of 12 hours
    assert rate.rows[0][:3] == [pytest.approx(now, abs=1e-4), pytest.approx(before, abs=1e-4),
                                pytest.approx(now - before, abs=1e-4)]  # fmt: skip
    with pytest.raises(SemanticError, match="no time dimension"):
        _ask(msp, metric="revenue", dimensions=["month"], period=Q3, compare_to=Q2)


def test_a_clients_agreement(msp: Engine) -> None:
    result = _ask(msp, metric="agreement", filters={"client": ["beta"]})
    assert result.columns == [
        "client", "contract", "contract_kind", "starts_on", "ends_on", "seats", "unit_price",
        "monthly_value",
    ]  # fmt: skip
    # the expired contract is not in force today
    assert result.rows == [["Beta", "Beta flat", "flat", "2025-01-01", None, 0, None, 1200.0]]
    alpha = _ask(msp, metric="contract_terms", client_id="m.demo.c1")
    assert alpha.rows == [
        ["Alpha", "Alpha per-user", "per_user", "2026-01-01", "2026-12-31", 20, 150.0, 3000.0]
    ]
    assert _by(_ask(msp, metric="contract_seats", dimensions=["client"])) == {
        ("Alpha",): 20,
        ("Beta",): 0,
    }


def test_asset_counts_by_kind(msp: Engine) -> None:
    managed: dict[str, int] = {}
    for _c, kind, is_managed in ASSETS:
        managed[kind] = managed.get(kind, 0) + is_managed
    assert _by(_ask(msp, metric="managed_devices", dimensions=["asset_kind"])) == {
        (k,): n for k, n in managed.items()
    }
    servers = _ask(msp, metric="devices under management", filters={"asset_kind": ["server"]})
    assert _by(servers) == {(): managed["server"]}
    assert _by(_ask(msp, metric="assets", filters={"asset_kind": ["server"]})) == {
        (): sum(1 for _c, k, _m in ASSETS if k == "server")
    }


def test_worst_with_a_minimum_volume(msp: Engine) -> None:
    rates = {NAMES[c]: b / n for c, (n, b) in TICKETS.items()}
    big = {name for c, name in NAMES.items() if TICKETS[c][0] >= 20}
    worst = _ask(
        msp,
        metric="sla_breach_rate",
        dimensions=["client"],
        conditions=[{"metric": "number of tickets", "op": ">=", "value": 20}],
        order="worst",
    )
    expected = sorted(big, key=lambda n: rates[n], reverse=True)  # breaches: higher is worse
    assert [r[0] for r in worst.rows] == expected
    assert [r[1] for r in worst.rows] == [pytest.approx(rates[n]) for n in expected]
    best = _ask(msp, metric="sla_breach_rate", dimensions=["client"], order="best", top_n=1)
    assert best.rows[0][0] == min(rates, key=lambda n: rates[n])
    assert METRICS["csat"].better == "higher" and METRICS["avg_days_to_pay"].better == "lower"
    with pytest.raises(SemanticError, match="highest or the lowest"):
        _ask(msp, metric="hours", dimensions=["client"], order="worst")
    with pytest.raises(SemanticError, match="same rows"):
        _ask(msp, metric="sla_breach_rate", conditions=[{"metric": "hours", "value": 1}])


def test_every_metric_is_described_for_matching() -> None:
    kinds = {"count", "sum", "average", "rate", "share", "list", "change"}
    for name, metric in METRICS.items():
        assert metric.kind in kinds and len(metric.description) > 20, name
        assert len(metric.synonyms) >= 3, name
        for alias in metric.synonyms:  # every synonym leads back to its metric
            assert canonical_metric(alias) == name, (name, alias)


NON_LIST = sorted(n for n, m in METRICS.items() if m.kind != "list")
MONTHS = [Period.month(2026, m) for m in range(5, 10)]


@given(st.sampled_from(NON_LIST), st.sampled_from(MONTHS), st.sampled_from(MONTHS),
       st.sampled_from(["client", None]))  # fmt: skip
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_metric_compared_is_the_difference_of_two_answers(
    sqlite_msp: Engine, name: str, now: Period, before: Period, dim: str | None
) -> None:
    dims = [dim] if dim and dim in METRICS[name].dimensions else []
    if name == "ticket_share" and not dims:
        return  # a share of everything is 1 in both periods
    both = _ask(sqlite_msp, metric=name, dimensions=dims, period=now, compare_to=before)
    a = _by(_ask(sqlite_msp, metric=name, dimensions=dims, period=now))
    b = _by(_ask(sqlite_msp, metric=name, dimensions=dims, period=before))
    zero = 0 if METRICS[name].kind in ("count", "sum") else None
    assert {tuple(r[: len(dims)]) for r in both.rows} == set(a) | set(b)
    for row in both.rows:
        key, (x, y, change, _pct) = tuple(row[: len(dims)]), row[len(dims) :]
        assert (x, y) == (a.get(key, zero), b.get(key, zero))
        if x is None or y is None:
            assert change is None
        else:
            assert change == pytest.approx(x - y, abs=1e-3)


@pytest.fixture
def sqlite_msp(sqlite_engine: Engine) -> Engine:
    return _plant(sqlite_engine)
