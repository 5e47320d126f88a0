"""The client genome: values checkable by hand, no look-ahead, training == serving."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from mspilot.models.features import (
    CURRENT_STATE_ONLY,
    FEATURE_SET_VERSION,
    FEATURES,
    MODEL_FEATURES,
    build_features,
    snapshot_for,
)

SEPT = dt.date(2025, 9, 30)


def test_tiny_msp_features_by_hand(tiny_engine: Engine) -> None:
    genome = build_features(tiny_engine, "tiny", SEPT)
    assert set(genome.index) == {"tiny.demo.c1", "tiny.demo.c2"}
    c1 = genome.loc["tiny.demo.c1"]
    # CSAT 5 in Apr-Jun, 3 in Jul-Sep
    assert c1["csat_mean_3m"] == pytest.approx(3.0)
    assert c1["csat_mean_prev_3m"] == pytest.approx(5.0)
    assert c1["csat_trend"] == pytest.approx(-2.0)
    # 2 of the 6 tickets closed in Jul-Sep breached their SLA (Aug and Sep)
    assert c1["sla_breach_rate_3m"] == pytest.approx(2 / 6)
    assert c1["tickets_3m"] == 6 and c1["tickets_prev_3m"] == 6
    # the renewal signed for July 2025 took the price from $100 to $110 per user
    assert c1["price_change_pct_12m"] == pytest.approx(10.0)
    assert c1["months_since_price_change"] == pytest.approx(2.0)
    assert c1["escalation_pct"] == pytest.approx(10.0)
    assert c1["days_to_pay_6m"] == pytest.approx(20.0)
    assert c1["late_payments_6m"] == 0
    assert c1["mrr"] == pytest.approx(1100.0)  # issued in September (August's service)
    c2 = genome.loc["tiny.demo.c2"]
    # pays 45 days after issue on 30-day terms: 5 of the last 6 invoices late by 15 days
    assert c2["late_payments_6m"] == 5
    assert c2["days_late_3m"] == pytest.approx(15.0)
    assert c2["price_change_pct_12m"] == pytest.approx(0.0)  # a discount is not a price change
    assert 20 < c1["tenure_months"] < 22


def test_tiny_msp_experience_and_renewal_by_hand(tiny_engine: Engine) -> None:
    genome = build_features(tiny_engine, "tiny", SEPT)
    c1, c2 = genome.loc["tiny.demo.c1"], genome.loc["tiny.demo.c2"]
    # tickets opened Apr-Sep weigh 0.85^age (September 1); 1 of 2 breached in Aug and Sep
    w = 0.85 ** np.arange(5, -1, -1)  # Apr .. Sep
    assert c1["sla_breach_6m"] == pytest.approx((0.85 + 1.0) / (2 * w.sum()))
    assert c1["csat_6m"] == pytest.approx((5 * w[:3].sum() + 3 * w[3:].sum()) / w.sum())
    # every ticket answered: the satisfaction over all tickets is the CSAT
    assert c1["satisfaction_6m"] == pytest.approx(c1["csat_6m"])
    # c2 opened no tickets: the tenant's mean (the shrinkage prior)
    assert c2["sla_breach_6m"] == pytest.approx(c1["sla_breach_6m"])
    # onboarded January 2024: September 2025 is month 8 of the second term; November and
    # December are its last two months, no renewal (and no escalation) within 2 months
    assert c1["term_month"] == 8
    assert c1["renewal_window_3m"] == 2
    assert c1["escalation_due_3m"] == 0
    # c2 pays 45 days after issue on 30-day terms; the September invoice, 29 days old and
    # unpaid, is expected to follow its habit: 15 days past terms = 0.5 months
    assert c2["late_months_6m"] == pytest.approx(0.5, rel=0.01)
    assert c1["late_months_6m"] == 0


def test_feature_frame_shape_and_version(tiny_engine: Engine) -> None:
    genome = build_features(tiny_engine, "tiny", SEPT)
    assert list(genome.columns[: len(FEATURES)]) == list(FEATURES)
    assert "industry" in genome.columns
    assert genome.index.name == "client_id"
    assert set(MODEL_FEATURES) | set(CURRENT_STATE_ONLY) == set(FEATURES)
    assert len(FEATURE_SET_VERSION) == 12


def test_snapshot_is_the_last_month_end() -> None:
    assert snapshot_for(dt.date(2026, 10, 31)) == dt.date(2026, 10, 31)
    assert snapshot_for(dt.date(2026, 10, 15)) == dt.date(2026, 9, 30)


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    cols = list(MODEL_FEATURES)
    assert set(a.index) == set(b.index)
    left = a.loc[sorted(a.index), cols].to_numpy(float)
    right = b.loc[sorted(b.index), cols].to_numpy(float)
    bad = ~np.isclose(left, right, rtol=1e-9, atol=1e-9, equal_nan=True)
    if bad.any():
        rows, columns = np.nonzero(bad)
        detail = [
            (sorted(a.index)[r], cols[c], left[r, c], right[r, c])
            for r, c in zip(rows, columns, strict=True)
        ]
        raise AssertionError(f"{bad.sum()} values differ, e.g. {detail[:5]}")


def test_serving_equals_training(demo_world) -> None:  # type: ignore[no-untyped-def]
    """build_features at a past month end gives the training table's row for that month."""
    day = dt.date(2025, 12, 31)
    table = demo_world.report.artefacts["training_table"]
    trained = table.genome.xs(pd.Timestamp(day), level="snapshot")
    served = build_features(demo_world.engine, demo_world.tenant_id, day)
    _assert_same(trained, served)


def test_no_look_ahead(demo_world, truncated_world: Callable[[dt.date], Engine]) -> None:  # type: ignore[no-untyped-def]
    """The genome at a past date is the same whether or not the database already holds
    what happened afterwards (later tickets, invoices, payments, churns, cancellations)."""
    day = dt.date(2025, 12, 31)
    full = build_features(demo_world.engine, demo_world.tenant_id, day)
    cut = build_features(truncated_world(day), demo_world.tenant_id, day)
    _assert_same(full, cut)


def test_genome_separates_churners(demo_world) -> None:  # type: ignore[no-untyped-def]
    """Planted drivers show in the genome: clients about to churn have lower CSAT and more
    SLA breaches than the rest (the generator's hazard rises with both)."""
    table = demo_world.report.artefacts["training_table"]
    labelled = table.genome.loc[table.labelled]
    y = table.labels.loc[table.labelled]
    churn, stay = labelled[y == 1], labelled[y == 0]
    assert churn["csat_recent"].mean() < stay["csat_recent"].mean()
    assert churn["sla_breach_recent"].mean() > stay["sla_breach_recent"].mean()
