"""Churn: the served interface, monotone price response, drivers in words, planted structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mspilot.models.churn import ChurnModel
from mspilot.models.explain import explain
from mspilot.models.features import FEATURE_SET_VERSION, build_features
from mspilot.models.serving import load_champion


@pytest.fixture
def served(demo_world) -> tuple[ChurnModel, pd.DataFrame]:  # type: ignore[no-untyped-def]
    model, _version = load_champion(demo_world.data_dir, demo_world.tenant_id, "churn")
    features = build_features(demo_world.engine, demo_world.tenant_id, demo_world.as_of)
    return model, features


def test_champion_is_registered_with_its_feature_set(demo_world) -> None:  # type: ignore[no-untyped-def]
    version = demo_world.report.versions["churn"]
    assert version.status == "champion"
    assert version.feature_set_version == FEATURE_SET_VERSION
    assert version.data_window and version.data_window[0] < version.data_window[1]
    for key in ("auc", "brier", "baseline_auc", "baseline_brier"):
        assert key in version.metrics


def test_predict_proba_is_a_probability_per_client(served) -> None:  # type: ignore[no-untyped-def]
    model, features = served
    p = model.predict_proba(features)
    assert p.shape == (len(features),)
    assert np.all((p > 0) & (p < 1))
    one = model.predict_proba(features.iloc[[3]])
    assert one[0] == pytest.approx(p[3])


def test_predict_with_price_increase_never_lowers_risk(served) -> None:  # type: ignore[no-untyped-def]
    model, features = served
    base = model.predict_with(features, {"price_change_pct_12m": 0.0})
    raised = model.predict_with(
        features, {"price_change_pct_12m": 15.0, "months_since_price_change": 0.0}
    )
    zero_since = model.predict_with(
        features, {"price_change_pct_12m": 0.0, "months_since_price_change": 0.0}
    )
    assert np.all(raised >= zero_since - 1e-12)  # monotone in the price change
    assert raised.mean() > zero_since.mean()  # and the model does use it
    per_row = model.predict_with(
        features, {"price_change_pct_12m": np.linspace(0, 20, len(features))}
    )
    assert per_row.shape == base.shape
    unchanged = model.predict_with(features, {})
    assert np.allclose(unchanged, model.predict_proba(features))


def test_predict_with_rejects_unknown_columns(served) -> None:  # type: ignore[no-untyped-def]
    model, features = served
    with pytest.raises(ValueError, match="unknown feature"):
        model.predict_with(features, {"price_pct": 3.0})


def test_drivers_are_sentences_pushing_risk_up(served) -> None:  # type: ignore[no-untyped-def]
    model, features = served
    top = features.iloc[np.argsort(-model.predict_proba(features))[:5]]
    drivers = model.drivers(top, top=3)
    assert set(drivers) == set(top.index)
    for items in drivers.values():
        assert 1 <= len(items) <= 3
        assert all(d.contribution > 0 for d in items)
        assert all(isinstance(d.text, str) and len(d.text) > 10 for d in items)
        contribs = [d.contribution for d in items]
        assert contribs == sorted(contribs, reverse=True)


def _told(group: str, feature: str, value: float, typical: float, **row: float) -> str | None:
    reason = explain(group, feature, 0.4, value, typical, {feature: value, **row})
    return None if reason is None else reason.text


def test_reasons_are_told_the_way_they_push() -> None:
    csat = {"csat_mean_3m": 3.6, "csat_mean_prev_3m": 4.2}
    assert _told("csat", "satisfaction_6m", 3.7, 4.3, **csat) == (
        "CSAT fell from 4.2 to 3.6 in 3 months; satisfaction 3.7/5 over the last 6 months, "
        "below the typical client's 4.3/5"
    )
    # a rise is never a reason for risk: the level below the typical client is
    rose = {"csat_mean_3m": 4.0, "csat_mean_prev_3m": 3.8}
    assert _told("csat", "satisfaction_6m", 3.9, 4.3, **rose) == (
        "Satisfaction 3.9/5 over the last 6 months, below the typical client's 4.3/5"
    )
    # an unchanged value is not a change
    held = {"csat_mean_3m": 3.92, "csat_mean_prev_3m": 3.88}
    assert "from" not in (_told("csat", "satisfaction_6m", 3.9, 4.3, **held) or "")
    # fewer breaches than 3 months before: the 6-month level is the reason, not the drop
    sla = {"sla_breach_rate_3m": 0.17, "sla_breach_rate_prev_3m": 0.36}
    assert _told("sla", "sla_breach_6m", 0.25, 0.09, **sla) == (
        "SLA breached on 25% of tickets over the last 6 months, above the typical client's 9%"
    )
    worse = {"sla_breach_rate_3m": 0.36, "sla_breach_rate_prev_3m": 0.17}
    assert _told("sla", "sla_breach_6m", 0.25, 0.09, **worse) == (
        "SLA breaches rose from 17% to 36% in 3 months; SLA breached on 25% of tickets over "
        "the last 6 months, above the typical client's 9%"
    )
    # values that read the same get one more decimal, or no reason at all
    assert _told("sla", "sla_breach_6m", 0.0912, 0.0904) == (
        "SLA breached on 9.1% of tickets over the last 6 months, above the typical client's 9.0%"
    )
    assert _told("sla", "sla_breach_6m", 0.09041, 0.09040) is None
    assert explain("sla", "sla_breach_6m", 0.01, 0.3, 0.09, {}) is None  # too small to tell


def test_price_renewal_and_payment_reasons() -> None:
    assert _told("renewal", "renewal_window_3m", 2.0, 0.5, term_month=10.0) == (
        "The 12-month term renews in 2 months"
    )
    assert _told("renewal", "renewal_window_3m", 1.0, 0.5, term_month=11.0) == (
        "The 12-month term renews next month"
    )
    due = {"escalation_due_3m": 10.0, "escalation_pct": 5.0, "price_change_pct_12m": 0.0}
    assert _told("price", "price_exposure", 10.0, 2.0, **due) == (
        "A 5% escalation is due at the renewal within 2 months"
    )
    rise = {"price_change_pct_12m": 8.0, "months_since_price_change": 1.0}
    assert _told("price", "price_exposure", 16.0, 2.0, **rise) == "Price rose 8% last month"
    assert _told("price", "price_exposure", 16.0, 2.0, price_change_pct_12m=-5.0) is None
    late = {"late_payments_6m": 3.0}
    assert _told("payments", "late_months_6m", 0.5, 0.1, **late) == (
        "Paid 15 days past terms on average over 6 months, above the typical client's 3 days "
        "(3 late payments)"
    )


def test_risk_follows_the_true_churn_probability(demo_world) -> None:  # type: ignore[no-untyped-def]
    """Planted structure is recovered: on the backtest's test window the model's risk ranks
    client-months like the generator's true 90-day churn probability."""
    preds = demo_world.report.artefacts["churn_predictions"].reset_index()
    ext = {
        f"{demo_world.tenant_id}.demo.{c['external_id']}": c["external_id"]
        for c in demo_world.tables["clients"]
    }
    truth = pd.DataFrame(
        [(m.client_id, pd.Timestamp(m.month), m.p_churn_90d) for m in demo_world.truth.months],
        columns=["ext", "month", "p_true"],
    )
    preds["ext"] = preds["client_id"].map(ext)
    preds["month"] = preds["snapshot"].dt.to_period("M").dt.to_timestamp()
    both = preds.merge(truth, on=["ext", "month"]).dropna()
    assert len(both) > 300
    rho = both["p_model"].corr(both["p_true"], method="spearman")
    assert rho > 0.15  # n > 300 client-months: far above chance (SE about 0.05)
    # calibrated within a factor of two of the observed rate
    assert 0.5 < both["p_model"].mean() / max(both["y"].mean(), 1e-3) < 2.0


def test_every_model_input_has_a_driver_phrase() -> None:
    from mspilot.models.churn import CHURN_FEATURES, DERIVED
    from mspilot.models.explain import TOLD, driver_groups
    from mspilot.models.features import MODEL_FEATURES

    grouped = {f for members in driver_groups().values() for f in members}
    assert set(CHURN_FEATURES) | set(DERIVED) <= grouped
    assert set(MODEL_FEATURES) | set(DERIVED) <= set(TOLD)


def _planted_genome(n: int = 3000, months: int = 12) -> tuple[pd.DataFrame, np.ndarray]:
    """Random genome rows over ``months`` snapshots; returns it and a standard normal draw
    per row for planting labels."""
    from mspilot.models.features import FEATURES

    rng = np.random.default_rng(1)
    snaps = pd.date_range("2025-01-31", periods=months, freq="ME")
    index = pd.MultiIndex.from_arrays(
        [np.repeat(snaps, n // months), [f"c{i}" for i in range(n)]],
        names=["snapshot", "client_id"],
    )
    genome = pd.DataFrame(rng.normal(0.0, 1.0, (n, len(FEATURES))), index=index, columns=FEATURES)
    genome["industry"] = rng.choice(["Legal", "Retail"], n)
    genome["months_since_price_change"] = 12.0
    genome["escalation_due_3m"] = 0.0
    return genome, rng.random(n)


def test_linear_weights_keep_their_known_direction() -> None:
    """Planted: churn rises with SLA breaches and (against domain knowledge) with
    satisfaction. The model recovers the breach effect and leaves satisfaction out rather
    than learn that happier clients leave."""
    from mspilot.models.churn import CHURN_FEATURES, fit_churn

    genome, u = _planted_genome()
    breach, sat = genome["sla_breach_6m"].to_numpy(), genome["satisfaction_6m"].to_numpy()
    p = 1.0 / (1.0 + np.exp(-(-3.0 + 1.5 * breach + 1.0 * sat)))
    y = pd.Series((u < p).astype(float), index=genome.index)
    model = fit_churn(genome, y)
    weights = dict(zip(model.encoder.columns, model.booster.weights, strict=True))
    assert set(CHURN_FEATURES) <= set(weights)
    assert weights["sla_breach_6m"] > 1.0  # planted 1.5 per standard deviation
    assert weights["satisfaction_6m"] == 0.0
    risk = model.predict_proba(genome)
    assert np.corrcoef(risk, breach)[0, 1] > 0.8


def test_a_tree_version_registered_before_still_serves() -> None:
    """A rollback may bring back a champion trained as XGBoost trees (industries one-hot, both
    derived price columns): it scores with its booster and explains with its SHAP values."""
    import xgboost as xgb

    from mspilot.models.churn import ChurnModel, Encoder

    genome, u = _planted_genome(600)
    y = (u < 1.0 / (1.0 + np.exp(-(genome["sla_breach_6m"].to_numpy() - 2.0)))).astype(float)
    encoder = Encoder.fit(genome, ("sla_breach_6m", "late_months_6m"))
    matrix = encoder.transform(genome)
    params = {"objective": "binary:logistic", "max_depth": 1, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(matrix, label=y, feature_names=encoder.columns), 20)
    model = ChurnModel(booster=booster, encoder=encoder)
    expected = booster.inplace_predict(matrix[:5])
    assert np.allclose(model.predict_proba(genome.iloc[:5]), expected)
    contrib = model.contributions(genome.iloc[:5])
    assert {"sla_breach_6m", "price_exposure", "industry", "bias"} <= set(contrib.columns)
