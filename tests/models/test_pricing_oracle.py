"""Pricing against the ground truth: the recommendations capture the oracle's gain over holding
on worlds the pricing model was never tuned on.

Each world is a generated demo tenant, loaded through the product's loader, its churn model
trained; every client is priced and the prices are scored under the generator's *true* price
response (per-client elasticities): the oracle is the best legal price per client under that
truth (``models.pricing_eval``).

The seeds and sizes were split before the work on pricing began: ``DEV`` is what the price
sensitivity and the decision rule were developed and tuned on; ``HELD_OUT`` was run once, at
the end, and never tuned on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mspilot.bench.prescriptive_bench import pricing_quality

#: (seed, clients) the pricing model was developed on.
DEV: tuple[tuple[int, int], ...] = ((7, 150), (11, 150), (101, 150))
#: (seed, clients) never tuned on: two seeds at the demo's size and one at twice the size.
HELD_OUT: tuple[tuple[int, int], ...] = ((4242, 150), (5150, 150), (6061, 300))


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    root: Path = tmp_path_factory.mktemp("pricing_held_out")
    return [pricing_quality(seed, n_clients=n, workdir=root) for seed, n in HELD_OUT]


@pytest.mark.slow
def test_price_sensitivity_is_recovered_within_its_interval(
    held_out: list[dict[str, Any]],
) -> None:
    """The truth's mean slope lies inside the learned 95% interval on at least two of the
    held-out worlds, and every learned slope is positive."""
    assert all(q["learned_slope"] > 0 for q in held_out)
    inside = [q["slope_in_interval"] for q in held_out]
    assert sum(inside) >= 2, [
        (q["seed"], q["learned_slope_interval"], q["true_mean_slope"]) for q in held_out
    ]


@pytest.mark.slow
def test_recommendations_beat_holding_and_raising_to_the_cap(
    held_out: list[dict[str, Any]],
) -> None:
    """On every held-out world the recommendations earn more under the truth than holding
    every price and than raising every price as far as policy allows.

    The issue's goal, 70% of the oracle's gain over holding
    (``models.pricing_eval.SHARE_OF_GAIN_TARGET``), is not reached: the one held-out run
    gave 0.62 (4242), 0.29 (5150) and 0.59 (6061, 300 clients). ``mspilot evaluate``
    reports the share against that target (its row fails below it); this test asserts what
    holds, not the goal."""
    for q in held_out:
        assert q["clients_priced"] >= 80
        assert q["ratio_to_oracle"] > q["hold_ratio"]
        assert q["ratio_to_oracle"] > q["max_legal_ratio"]
