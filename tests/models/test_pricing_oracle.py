"""Pricing against the ground truth: ≥ 95% of the oracle's expected profit on two demo seeds.

Each seed generates a demo tenant, loads it through the product's loader, trains its churn
model, prices every client, and scores the prices under the generator's *true* price response
(per-client elasticities): the oracle is the best legal price per client under that truth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mspilot.bench.prescriptive_bench import pricing_quality


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11])
def test_recommended_prices_earn_near_the_oracle(seed: int, tmp_path: Path) -> None:
    q = pricing_quality(seed, n_clients=150, workdir=tmp_path)
    assert q["clients_priced"] >= 80
    assert q["ratio_to_oracle"] >= 0.95
    # Better than doing nothing and than raising everyone as far as policy allows.
    assert q["ratio_to_oracle"] > q["hold_ratio"]
    assert q["ratio_to_oracle"] > q["max_legal_ratio"]
    assert q["share_of_oracle_gain"] > 0.2
    # The learned price sensitivity is positive and of the right order.
    assert 0.25 * q["true_mean_slope"] < q["learned_slope"] < 4 * q["true_mean_slope"]
