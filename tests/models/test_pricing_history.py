"""Price sensitivity from past increases: a hazard model with partial pooling over segments
and its Laplace posterior, on panels with planted slopes."""

from __future__ import annotations

import datetime as dt

import numpy as np

from mspilot.models.pricing import PricingInputs
from mspilot.models.pricing_history import PricePanel, fit_price_history
from mspilot.models.pricing_service import price_experiments


def _panel(
    slopes: dict[str, float], clients: dict[str, int], months: int = 36, seed: int = 0
) -> PricePanel:
    """Client-months where each client gets a 3-8% increase every 12 months, reacting for 3
    months with its industry's planted slope (log-odds of monthly churn per pp)."""
    rng = np.random.default_rng(seed)
    industries = sorted(slopes)
    rows: dict[str, list[float]] = {"churned": [], "exposure": [], "renewal": [], "client": []}
    ids, levels = [], []
    for industry in industries:
        for _ in range(clients[industry]):
            c = len(ids)
            ids.append(f"c{c}")
            levels.append(industries.index(industry))
            phase, pct = int(rng.integers(12)), float(rng.choice([3.0, 5.0, 8.0]))
            for m in range(months):
                since = (m - phase) % 12
                x = pct if 1 <= since <= 3 else 0.0
                z = -5.0 + slopes[industry] * x
                churn = rng.random() < 1 / (1 + np.exp(-z))
                for k, v in (("churned", churn), ("exposure", x), ("renewal", 0.0)):
                    rows[k].append(float(v))
                rows["client"].append(c)
                if churn:
                    break
    return PricePanel(
        churned=np.array(rows["churned"]),
        exposure=np.array(rows["exposure"]),
        renewal=np.array(rows["renewal"]),
        client_index=np.array(rows["client"], dtype=np.int64),
        clients=ids,
        client_levels={"industry": np.array(levels, dtype=np.int64)},
        levels={"industry": industries},
    )


def test_the_planted_slope_lies_in_its_posterior_interval() -> None:
    panel = _panel({"Legal": 0.2, "Retail": 0.2}, {"Legal": 1500, "Retail": 1500})
    fit = fit_price_history(panel)
    assert abs(fit.beta - 0.2) < 1.96 * fit.beta_se
    assert fit.beta_se < 0.05
    for level in ("Legal", "Retail"):
        mean, sd = fit.slope({"industry": level})
        assert abs(mean - 0.2) < 1.96 * sd


def test_segments_are_pooled_partially() -> None:
    """A well-measured segment keeps its own slope; a segment with little history stays near
    the tenant's and is the least certain."""
    planted = {"Legal": 0.1, "Retail": 0.3, "Dental": 0.3}
    fit = fit_price_history(_panel(planted, {"Legal": 2000, "Retail": 2000, "Dental": 40}))
    legal, legal_sd = fit.slope({"industry": "Legal"})
    retail, _ = fit.slope({"industry": "Retail"})
    dental, dental_sd = fit.slope({"industry": "Dental"})
    assert legal < fit.beta < retail  # the data moves the big segments apart
    assert abs(dental - fit.beta) < abs(retail - fit.beta)  # the small one is shrunk
    assert dental_sd > legal_sd


def test_experiments_go_where_the_sensitivity_is_least_certain() -> None:
    fit = fit_price_history(
        _panel({"Legal": 0.2, "Dental": 0.2}, {"Legal": 2000, "Dental": 30}, seed=1)
    )
    chosen = ["c0", "c1", "c2000", "c2001", "c2002"]  # Dental: ids from 0; Legal: from 30
    n = len(chosen)
    inputs = PricingInputs(
        client_id=chosen,
        client_name=[f"Client {c}" for c in chosen],
        contract_id=[f"k{c}" for c in chosen],
        kind=["per_user"] * n,
        unit=["user"] * n,
        price=np.full(n, 100.0),
        units=np.full(n, 10.0),
        client_revenue=np.full(n, 1000.0),
        client_cost=np.full(n, 600.0),
        prior_change_pct=np.zeros(n),
        starts_on=[dt.date(2026, 1, 1)] * n,
        ends_on=[None] * n,
        escalation_pct=np.zeros(n),
    )
    experiments = price_experiments(fit, inputs, top=1)
    assert [e.segment for e in experiments] == ["industry=Dental"]
    widest = max(sd for _m, sd in fit.by_segment.values())
    assert experiments[0].slope_sd == round(widest, 4)
    assert set(experiments[0].clients) == {"Client c0", "Client c1"}
