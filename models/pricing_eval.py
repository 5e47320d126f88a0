"""Pricing against the demo generator's ground truth (evaluation only; the caller passes the
``GroundTruth`` in, as for ``models.evaluation``).

The oracle prices every client under the generator's *true* price response (each client's own
elasticity, its true hazard without price); the measure is the share of the oracle's expected
12-month profit gain over holding every price that the recommended prices capture, all scored
under the truth. The learned price sensitivity is compared with the truth's mean slope, with
its 95% posterior interval.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from mspilot.models.evaluation import EvalRow
from mspilot.models.pricing import PricingInputs, evaluate_prices, optimise_prices
from mspilot.models.pricing_response import LogitShiftResponse, expit

#: The issue's target: the recommendations capture this share of the oracle's gain.
SHARE_OF_GAIN_TARGET = 0.70


def truth_response(inputs: PricingInputs, truth: Any) -> LogitShiftResponse:
    """The generator's exact price response: monthly hazard σ(z + price·elasticity·pct) for the
    three months after an increase, z the client's latest logit without price."""
    latest: dict[str, Any] = {}
    for m in truth.months:
        if m.client_id not in latest or m.month > latest[m.client_id].month:
            latest[m.client_id] = m
    elasticity = {c.client_id: c.elasticity for c in truth.clients}
    ext = [cid.split(".")[-1] for cid in inputs.client_id]
    z = np.array([latest[e].logit_ex_price for e in ext])
    e = np.array([elasticity[x] for x in ext])
    hazard = expit(z)
    return LogitShiftResponse(
        1 - (1 - hazard) ** 3,
        truth.churn_model.price * e,
        "ground truth",
        monthly=True,
        increases_only=True,
    )


def pricing_quality(
    engine: Engine, tenant_id: str, data_dir: Path, truth: Any, as_of: dt.date
) -> dict[str, Any]:
    """The recommended prices (``models.pricing_service``) scored under the truth, against the
    oracle, holding and raising every price as far as policy allows."""
    from mspilot.models.pricing_data import load_pricing_inputs
    from mspilot.models.pricing_service import default_policy, history_response

    inputs = load_pricing_inputs(engine, tenant_id, as_of)
    policy = default_policy(engine, tenant_id)
    ours_resp, fit = history_response(engine, tenant_id, as_of, data_dir, inputs)
    truth_resp = truth_response(inputs, truth)
    ours = optimise_prices(inputs, ours_resp, policy, as_of)
    oracle = optimise_prices(inputs, truth_resp, policy, as_of)
    flat = LogitShiftResponse(ours_resp.base, np.zeros(len(inputs)), monthly=True)
    max_legal = optimise_prices(inputs, flat, policy, as_of)

    def value(prices: list[float]) -> float:
        return float(evaluate_prices(inputs, np.array(prices), truth_resp, policy, as_of).sum())

    v_ours = value([r.recommended_price for r in ours])
    v_oracle = value([r.recommended_price for r in oracle])
    v_hold = value([r.current_price for r in ours])
    v_max = value([r.recommended_price for r in max_legal])
    gain = v_oracle - v_hold
    true_slope = float(np.mean(truth_resp.slope))
    lo, hi = fit.beta - 1.96 * fit.beta_se, fit.beta + 1.96 * fit.beta_se
    return {
        "clients_priced": len(inputs),
        "learned_slope": fit.beta,
        "learned_slope_se": fit.beta_se,
        "learned_slope_interval": (lo, hi),
        "true_mean_slope": true_slope,
        "slope_in_interval": lo <= true_slope <= hi,
        "ratio_to_oracle": v_ours / v_oracle,
        "hold_ratio": v_hold / v_oracle,
        "max_legal_ratio": v_max / v_oracle,
        "share_of_oracle_gain": (v_ours - v_hold) / gain if gain > 0 else math.nan,
        "max_legal_share_of_gain": (v_max - v_hold) / gain if gain > 0 else math.nan,
        "expected_profit_ours": v_ours,
        "expected_profit_oracle": v_oracle,
        "mean_change_pct_ours": float(np.mean([r.change_pct for r in ours])),
        "mean_change_pct_oracle": float(np.mean([r.change_pct for r in oracle])),
    }


def pricing_rows(
    engine: Engine, tenant_id: str, data_dir: Path, truth: Any, as_of: dt.date
) -> list[EvalRow]:
    """``mspilot evaluate``'s pricing rows: share of the oracle's gain, price sensitivity."""
    q = pricing_quality(engine, tenant_id, data_dir, truth, as_of)
    share = q["share_of_oracle_gain"]
    lo, hi = q["learned_slope_interval"]
    return [
        EvalRow(
            "pricing",
            "share of the oracle's expected-profit gain over holding",
            share,
            q["max_legal_share_of_gain"],
            1.0,
            f">= {SHARE_OF_GAIN_TARGET:.0%}",
            bool(share >= SHARE_OF_GAIN_TARGET),
            f"{q['clients_priced']} clients; expected profit {q['ratio_to_oracle']:.4f} of the "
            f"oracle's (holding {q['hold_ratio']:.4f}); baseline = raise every price as far "
            f"as policy allows; mean change {q['mean_change_pct_ours']:+.1f}% vs the oracle's "
            f"{q['mean_change_pct_oracle']:+.1f}%",
        ),
        EvalRow(
            "pricing",
            "price sensitivity (log-odds of monthly churn per pp)",
            q["learned_slope"],
            None,
            q["true_mean_slope"],
            "truth inside the 95% interval",
            bool(q["slope_in_interval"]),
            f"learned {q['learned_slope']:.3f} ± {q['learned_slope_se']:.3f} "
            f"(95%: {lo:.3f} to {hi:.3f}); truth = the mean of the priced clients' slopes",
        ),
    ]
