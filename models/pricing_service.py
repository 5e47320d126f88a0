"""Pricing on a tenant's data: the plain functions the CLI, the API and agent tools call.

``price_portfolio(engine, tenant_id, clock, data_dir)`` → ``PricingReport`` (every client ranked by
expected gain; ``client=`` narrows it to one), ``price_what_if(..., client, change_pct)`` →
``WhatIfResult``. The price response comes from the tenant's registered churn model (``mspilot
train``) applied to the client genome as of the clock's date. The genome, the pricing inputs and
the price sensitivity fit are memoised per ``data_version`` of the tenant: rebuilt only when its
data changed since the last call, never served stale.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from mspilot.core.clock import Clock
from mspilot.core.errors import DataError, UserInputError
from mspilot.models.data import DataVersion, VersionedCache, data_version
from mspilot.models.pricing import (
    PriceExperiment,
    PricingInputs,
    PricingPolicy,
    PricingReport,
    WhatIfResult,
    optimise_prices,
    summarise,
    what_if,
)
from mspilot.models.pricing_data import cached_pricing_inputs, tenant_max_discount
from mspilot.models.pricing_history import PriceHistoryFit, learn_price_sensitivity
from mspilot.models.pricing_response import (
    LogitShiftResponse,
    PriceResponse,
)

#: Assumed spread (log scale) of price sensitivity between clients of the same segments.
SLOPE_SPREAD = 0.3
#: Re-scoring a client "as if a renewal had just changed its price".
CHANGE_OVERRIDES: dict[str, Any] = {"months_since_price_change": 0.0}
#: Price sensitivity fits, each valid for the data version it was learned at.
_FIT_CACHE: VersionedCache[PriceHistoryFit] = VersionedCache(size=16)


def default_policy(engine: Engine, tenant_id: str, **overrides: Any) -> PricingPolicy:
    """The tenant's policy: defaults, its discount limit, then any explicit overrides."""
    values: dict[str, Any] = {}
    discount = tenant_max_discount(engine, tenant_id)
    if discount is not None:
        values["max_decrease_pct"] = discount
    values.update({k: v for k, v in overrides.items() if v is not None})
    return PricingPolicy(**values)


def _churn_scores(
    engine: Engine, tenant_id: str, as_of: dt.date, data_dir: Path, version: DataVersion | None
) -> dict[str, float]:
    """Every active client's 90-day churn risk with no price change, from the champion
    (``models.serving``)."""
    from mspilot.models.serving import churn_scores

    try:
        scores = churn_scores(engine, tenant_id, as_of, Path(data_dir), data_version=version)
        return scores.without_price_changes()
    except (FileNotFoundError, KeyError, LookupError, DataError) as exc:
        raise DataError(
            f"no churn model for tenant {tenant_id!r}: run `mspilot train` first ({exc})"
        ) from None


def history_response(
    engine: Engine,
    tenant_id: str,
    as_of: dt.date,
    data_dir: Path,
    inputs: PricingInputs,
    *,
    base_by_id: Mapping[str, float] | None = None,
    version: DataVersion | None = None,
) -> tuple[LogitShiftResponse, PriceHistoryFit]:
    """Base risk from the churn model, price sensitivity from the tenant's own price history.

    ``base_by_id``: each client's 90-day churn risk had its price not moved
    (``ChurnScores.without_price_changes``), when the caller already has the scores (a client
    without one gets their median); without them the champion scores the genome here. The
    response adds the price change to that base, so an escalation already due is not counted
    twice.

    Each client's slope is the posterior of its segments' (industry, contract kind, size;
    ``models.pricing_history``), and a raise is judged by its expected churn under that
    posterior. Cuts are given no retention effect: the data shows what increases do, not what
    discounts would.

    With the tenant's ``version`` (``models.data.data_version``) the fit and the genome are
    reused while the data is unchanged; ``inputs`` must then be that version's."""

    def learn() -> PriceHistoryFit:
        return learn_price_sensitivity(engine, tenant_id, as_of, inputs.tenant_history or None)

    if version is None:
        fit = learn()
    else:
        fit = _FIT_CACHE.for_tenant(engine, tenant_id, as_of, version, learn)
    posterior = [
        fit.slope_for_client(cid, {"industry": seg or "Other", "kind": kind})
        for cid, seg, kind in zip(inputs.client_id, inputs.segment, inputs.kind, strict=True)
    ]
    slope = np.array([max(mean, 0.0) for mean, _sd in posterior])
    slope_sd = np.array([sd for _mean, sd in posterior])
    if base_by_id is None:
        base_by_id = _churn_scores(engine, tenant_id, as_of, data_dir, version)
    fallback = float(np.median(list(base_by_id.values()))) if base_by_id else 0.0
    base = np.array([base_by_id.get(c, fallback) for c in inputs.client_id], dtype=float)
    source = (
        f"churn model with price sensitivity from {fit.n_exposed_rows:,} client-months "
        "after past increases"
    )
    # Judge a raise by its expected churn under the posterior of each client's slope (its
    # segments' estimate and that estimate's uncertainty) and the spread between clients of
    # the same segments.
    response = LogitShiftResponse(
        base,
        slope,
        source,
        monthly=True,
        increases_only=True,
        spread=SLOPE_SPREAD,
        slope_sd=slope_sd,
    )
    return response, fit


def _align(features: pd.DataFrame, client_ids: list[str]) -> pd.DataFrame:
    """Feature rows in the order of ``client_ids``; a client without a row gets the median."""
    missing = [c for c in client_ids if c not in features.index]
    if missing:
        filler = features.median(numeric_only=True)
        extra = pd.DataFrame([filler] * len(missing), index=pd.Index(missing))
        for col in features.columns:
            if col not in extra.columns:
                extra[col] = features[col].mode().iloc[0] if len(features) else None
        features = pd.concat([features, extra[features.columns]])
    return features.loc[client_ids]


def find_client(inputs: PricingInputs, query: str) -> int:
    """The row of the client named (or id'd) ``query``: exact, then unique partial match."""
    q = query.strip().lower()
    if not q:
        raise UserInputError("name a client")
    exact = [
        i
        for i, (cid, name) in enumerate(zip(inputs.client_id, inputs.client_name, strict=True))
        if q in (cid.lower(), name.lower())
    ]
    if len(exact) == 1:
        return exact[0]
    partial = [i for i, name in enumerate(inputs.client_name) if q in name.lower()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise UserInputError(f"no active client with a priced contract matches {query!r}")
    names = ", ".join(sorted(inputs.client_name[i] for i in partial)[:8])
    raise UserInputError(f"{query!r} matches {len(partial)} clients ({names}); be more specific")


def price_portfolio(
    engine: Engine,
    tenant_id: str,
    clock: Clock,
    data_dir: Path,
    *,
    client: str | None = None,
    policy: PricingPolicy | None = None,
    response: PriceResponse | None = None,
    version: DataVersion | None = None,
) -> PricingReport:
    """Recommended prices for every active client (or one), ranked by expected gain (pass the
    tenant's ``version`` when the caller has read it)."""
    as_of = clock.today()
    if version is None:
        version = data_version(engine, tenant_id)
    inputs = cached_pricing_inputs(engine, tenant_id, as_of, version)
    policy = policy or default_policy(engine, tenant_id)
    fit: PriceHistoryFit | None = None
    if response is None:
        response, fit = history_response(
            engine, tenant_id, as_of, data_dir, inputs, version=version
        )
    recs = optimise_prices(inputs, response, policy, as_of)
    if client is not None:
        row = find_client(inputs, client)
        recs = [recs[row]]
    notes = [
        f"Expected profit over {policy.horizon_months} months = P(client stays) × monthly margin; "
        f"churn reacts to a price change in the {policy.response_months} months after it "
        f"({response.source}).",
    ]
    report = summarise(tenant_id, as_of, policy, response.source, recs, notes)
    if fit is not None:
        report.experiments = price_experiments(fit, inputs)
    return report


#: A price test raises this much, for at most this many clients of a segment.
EXPERIMENT_PCT = 3.0
EXPERIMENT_CLIENTS = 5


def price_experiments(
    fit: PriceHistoryFit, inputs: PricingInputs, top: int = 3
) -> list[PriceExperiment]:
    """Where to learn: the segments whose price sensitivity is least certain (posterior sd
    × the active clients it would price), each with a small raise to try at the next renewal
    of a few of its clients: their churn in the 3 months after it narrows the estimate most
    where the recommendations depend on it most."""
    members: dict[str, list[str]] = {}
    for cid, name in zip(inputs.client_id, inputs.client_name, strict=True):
        for factor, level in fit.client_segments.get(cid, {}).items():
            members.setdefault(f"{factor}={level}", []).append(name)
    ranked = sorted(
        (
            (sd * len(members.get(key, [])), key, mean, sd)
            for key, (mean, sd) in fit.by_segment.items()
            if members.get(key)
        ),
        reverse=True,
    )
    out = []
    for _value, key, mean, sd in ranked[:top]:
        names = sorted(members[key])[:EXPERIMENT_CLIENTS]
        out.append(
            PriceExperiment(
                segment=key,
                slope=round(mean, 4),
                slope_sd=round(sd, 4),
                clients=names,
                increase_pct=EXPERIMENT_PCT,
                proposal=(
                    f"Raise {len(names)} {key.split('=', 1)[1]} client(s) by {EXPERIMENT_PCT:.0f}% "
                    f"at their next renewal: the price sensitivity there is {mean:+.3f} "
                    f"± {sd:.3f} log-odds of monthly churn per pp, the least certain of the "
                    "segments, and their churn in the 3 months after teaches the most."
                ),
            )
        )
    return out


def price_what_if(
    engine: Engine,
    tenant_id: str,
    clock: Clock,
    data_dir: Path,
    client: str,
    change_pct: float,
    *,
    policy: PricingPolicy | None = None,
    response: PriceResponse | None = None,
) -> WhatIfResult:
    """ "What if we change this client's price by ``change_pct`` percent?"."""
    if not np.isfinite(change_pct) or not -90 <= change_pct <= 200:
        raise UserInputError(f"a price change of {change_pct}% is not plausible (-90..200)")
    as_of = clock.today()
    version = data_version(engine, tenant_id)
    inputs = cached_pricing_inputs(engine, tenant_id, as_of, version)
    row = find_client(inputs, client)
    policy = policy or default_policy(engine, tenant_id)
    if response is None:
        response, _fit = history_response(
            engine, tenant_id, as_of, data_dir, inputs, version=version
        )
    return what_if(inputs, row, change_pct, response, policy, as_of)
