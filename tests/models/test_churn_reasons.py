"""Reasons that hold up: a churn driver shown anywhere (API, chat, digest) raises the client's
risk against the typical client, is ranked by how much, is told the way it pushes and never
calls an unchanged value a change.

The property test generates client histories (six months of CSAT answers, SLA breaches,
tickets, payment delays, the service margin, the renewal calendar and price changes), turns
each into the genome columns the churn model reads, scores them with a linear churn model
whose weights are drawn too (each with its known direction) and checks every shown reason
against the sign of its contribution, by reading its text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mspilot.models.churn import (
    CHURN_DERIVED,
    CHURN_FEATURES,
    MONOTONE_DOWN,
    MONOTONE_UP,
    ChurnModel,
    Encoder,
    LinearScore,
)
from mspilot.models.explain import MIN_CONTRIBUTION, ChurnDriver
from mspilot.models.features import FEATURES

# ---- the checker: what a shown reason may say ----------------------------------------------

_NUMBER = re.compile(r"[-+]?\$?\d[\d,]*(?:\.\d+)?")
_CHANGE = re.compile(r"(rose|fell) from (\S+) to (\S+?)(?= in |;|$)")
_TYPICAL = re.compile(r"(above|below) the typical client's (\S+)")
_NO_CHANGE_WORDS = ("held", "unchanged", "no change", "steady")


def _value(text: str) -> float:
    match = _NUMBER.search(text)
    assert match is not None, text
    return float(match.group(0).replace("$", "").replace(",", ""))


def contradictions(
    drivers: list[ChurnDriver], sign_of: Callable[[str], int], top: int = 3
) -> list[str]:
    """Every way ``drivers`` (one client's) break the rules; ``sign_of(feature)`` is +1 when
    more of the feature raises the risk, -1 when it lowers it."""
    found: list[str] = []
    contribs = [d.contribution for d in drivers]
    if contribs != sorted(contribs, reverse=True):
        found.append(f"not ranked: {contribs}")
    if len(drivers) > top:
        found.append(f"{len(drivers)} reasons shown, at most {top}")
    for d in drivers:
        text, where = d.text, f"{d.group}: {d.text!r}"
        if not d.contribution >= MIN_CONTRIBUTION:
            found.append(f"contribution {d.contribution} is no reason: {where}")
        if d.feature is None or d.feature == "industry":
            continue
        sign = sign_of(d.feature)
        if any(w in text.lower() for w in _NO_CHANGE_WORDS):
            found.append(f"describes no change: {where}")
        if d.value is not None and d.typical is not None and sign * (d.value - d.typical) <= 0:
            found.append(f"value {d.value} is not on the risky side of {d.typical}: {where}")
        for verb, before, after in _CHANGE.findall(text):
            a, b = _value(before), _value(after)
            if before == after or a == b:
                found.append(f"a change with no change: {where}")
            elif (verb == "rose") != (b > a):
                found.append(f"'{verb}' from {a} to {b}: {where}")
            if (verb == "rose") != (sign > 0):
                found.append(f"a change that lowers the risk given as a reason: {where}")
        if text.startswith("Price rose") and (
            sign <= 0 or _value(text.removeprefix("Price rose")) <= 0
        ):
            found.append(f"a price change that lowers the risk: {where}")
        if "fell" in text and text.startswith("Price"):
            found.append(f"a price cut given as a reason: {where}")
        for side, shown_typical in _TYPICAL.findall(text):
            clause = text.split("; ")[-1]
            mine, theirs = _value(clause), _value(shown_typical)
            if mine == theirs:
                found.append(f"reads the same as the typical client: {where}")
            elif (side == "above") != (mine > theirs):
                found.append(f"'{side}' but {mine} vs {theirs}: {where}")
            if (side == "above") != (sign > 0):
                found.append(f"'{side}' the typical client lowers the risk: {where}")
    return found


# ---- generated client histories ------------------------------------------------------------


@dataclass
class History:
    """Six months of a client's life, oldest first."""

    csat: list[float | None]  # mean CSAT answer of the month (None: no answers)
    breach: list[float]  # share of the month's tickets that breached the SLA
    tickets: list[int]
    days_late: list[float]  # days past terms the month's invoice was paid
    service_margin: float
    term_month: int  # months into the 12-month term
    increase_pct: float  # the last price change (0: none)
    months_since_increase: int
    escalation_pct: float


WEIGHTS = 0.85 ** np.arange(5, -1, -1)  # recent months weigh most


def _weighted(
    values: list[float | None], weights: np.ndarray, prior: float, pseudo: float
) -> float:
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None]
    num = sum(v * w for v, w in pairs) + prior * pseudo
    return num / (sum(w for _, w in pairs) + pseudo)


def _mean(values: list[float | None]) -> float:
    seen = [v for v in values if v is not None]
    return float(np.mean(seen)) if seen else np.nan


def genome_row(h: History) -> dict[str, Any]:
    """The genome columns of a history (the definitions of ``models.features``, simplified)."""
    rows = {f: 1.0 for f in FEATURES}
    answered = [c if c is not None else None for c in h.csat]
    estimated = [
        c if c is not None else 4.35 - 0.9 * b for c, b in zip(h.csat, h.breach, strict=True)
    ]
    per_ticket = [b if t > 0 else None for b, t in zip(h.breach, h.tickets, strict=True)]
    since = float(h.months_since_increase)
    pct = h.increase_pct if since <= 12 else 0.0
    renewal = sum(1.0 for k in (1, 2, 3) if (h.term_month + k) % 12 in (10, 11))
    due_in = (12 - h.term_month) % 12  # months to the renewal
    due = h.escalation_pct * (3 - due_in + 1) if h.escalation_pct and 1 <= due_in <= 2 else 0.0
    rows.update(
        {
            "csat_mean_3m": _mean(answered[3:]),
            "csat_mean_prev_3m": _mean(answered[:3]),
            "csat_6m": _weighted(answered, WEIGHTS, 4.2, 3.0),
            "satisfaction_6m": _weighted(list(estimated), WEIGHTS, 4.2, 3.0),
            "sla_breach_rate_3m": _mean(per_ticket[3:]),
            "sla_breach_rate_prev_3m": _mean(per_ticket[:3]),
            "sla_breach_6m": _weighted(list(h.breach), WEIGHTS, 0.08, 3.0),
            "tickets_3m": float(sum(h.tickets[3:])),
            "tickets_prev_3m": float(sum(h.tickets[:3])),
            "late_months_6m": _weighted(list(h.days_late), WEIGHTS, 0.0, 0.0) / 30.0,
            "late_payments_6m": float(sum(d > 0 for d in h.days_late)),
            "days_late_3m": float(np.mean(h.days_late[3:])),
            "service_margin_pct_3m": h.service_margin,
            "term_month": float(h.term_month),
            "renewal_window_3m": renewal,
            "escalation_due_3m": due,
            "escalation_pct": h.escalation_pct,
            "price_change_pct_12m": pct,
            "months_since_price_change": since if pct else np.nan,
            "industry": "Legal",
        }
    )
    return rows


def _csat() -> st.SearchStrategy[float | None]:
    return st.one_of(st.none(), st.floats(1.0, 5.0).map(lambda v: round(v, 2)))


histories = st.builds(
    History,
    csat=st.lists(_csat(), min_size=6, max_size=6),
    breach=st.lists(st.floats(0.0, 1.0).map(lambda v: round(v, 3)), min_size=6, max_size=6),
    tickets=st.lists(st.integers(0, 40), min_size=6, max_size=6),
    days_late=st.lists(
        st.one_of(st.just(0.0), st.floats(0.0, 90.0).map(lambda v: round(v, 1))),
        min_size=6,
        max_size=6,
    ),
    service_margin=st.floats(-0.5, 0.8).map(lambda v: round(v, 3)),
    term_month=st.integers(0, 11),
    increase_pct=st.sampled_from([0.0, -5.0, 0.3, 3.0, 5.0, 7.0, 10.0]),
    months_since_increase=st.integers(0, 14),
    escalation_pct=st.sampled_from([0.0, 3.0, 5.0]),
)


def _population(n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Histories drawn at random: the model's reference (its typical client)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        quality = rng.normal(0, 1)
        rows.append(
            genome_row(
                History(
                    csat=[
                        None
                        if rng.random() < 0.3
                        else float(np.clip(4.3 + 0.4 * quality + rng.normal(0, 0.4), 1, 5))
                        for _ in range(6)
                    ],
                    breach=list(np.clip(0.08 - 0.05 * quality + rng.normal(0, 0.05, 6), 0, 1)),
                    tickets=list(rng.poisson(8, 6)),
                    days_late=list(np.clip(rng.normal(3, 8, 6), 0, None)),
                    service_margin=float(rng.normal(0.35, 0.2)),
                    term_month=int(rng.integers(0, 12)),
                    increase_pct=float(rng.choice([0.0, 3.0, 5.0])),
                    months_since_increase=int(rng.integers(0, 15)),
                    escalation_pct=float(rng.choice([0.0, 3.0, 5.0])),
                )
            )
        )
    return pd.DataFrame(rows)


ENCODER = Encoder([], CHURN_FEATURES, CHURN_DERIVED)
_MATRIX = ENCODER.transform(_population())
CENTRE = np.nan_to_num(np.nanmean(_MATRIX, axis=0))
SCALE = np.where(np.nanstd(_MATRIX, axis=0) > 0, np.nanstd(_MATRIX, axis=0), 1.0)
DIRECTION = np.array(
    [1.0 if c in MONOTONE_UP else -1.0 if c in MONOTONE_DOWN else 0.0 for c in ENCODER.columns]
)


def linear_model(magnitudes: list[float]) -> ChurnModel:
    weights = DIRECTION * np.asarray(magnitudes)
    return ChurnModel(LinearScore(CENTRE, SCALE, weights, -3.0), ENCODER)


def signs(model: ChurnModel) -> Callable[[str], int]:
    weights = dict(zip(model.encoder.columns, model.booster.weights, strict=True))

    def sign_of(feature: str) -> int:
        return int(np.sign(weights.get(feature, 0.0)))

    return sign_of


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    clients=st.lists(histories, min_size=1, max_size=6),
    magnitudes=st.lists(
        st.one_of(st.just(0.0), st.floats(0.05, 1.5)),
        min_size=len(ENCODER.columns),
        max_size=len(ENCODER.columns),
    ),
)
def test_no_shown_reason_contradicts_its_contribution(
    clients: list[History], magnitudes: list[float]
) -> None:
    model = linear_model(magnitudes)
    genome = pd.DataFrame([genome_row(h) for h in clients])
    contributions = model.contributions(genome)
    sign_of = signs(model)
    for key, drivers in model.drivers(genome, top=3).items():
        assert contradictions(drivers, sign_of) == [], genome.loc[key].to_dict()
        for d in drivers:
            assert d.feature is not None
            assert contributions.loc[key, d.feature] > 0  # told from a column that pushes up


def test_the_demo_digest_reasons(demo_world) -> None:  # type: ignore[no-untyped-def]
    """Every reason the served model gives for every active client of the demo MSP holds up
    (the digest, the chat tool and the API all show these)."""
    from mspilot.models.serving import churn_risks, load_champion

    model, _version = load_champion(demo_world.data_dir, demo_world.tenant_id, "churn")
    risks = churn_risks(
        demo_world.engine, demo_world.tenant_id, demo_world.as_of, demo_world.data_dir
    )
    sign_of = signs(model)
    assert sum(bool(r.drivers) for r in risks) >= len(risks) // 2
    problems = {r.client_name: contradictions(r.drivers, sign_of) for r in risks}
    assert {k: v for k, v in problems.items() if v} == {}


def _checker_cases() -> Mapping[str, list[ChurnDriver]]:
    def d(text: str, feature: str = "satisfaction_6m", value: float = 3.0) -> ChurnDriver:
        return ChurnDriver(
            group="csat", text=text, contribution=0.3, feature=feature, value=value, typical=4.0
        )

    return {
        "rose as a risk": [d("CSAT rose from 3.8 to 4.0 in 3 months; satisfaction 3.0/5")],
        "no change": [d("CSAT rose from 3.9 to 3.9 in 3 months")],
        "above for a lowering column": [d("Satisfaction 4.5/5, above the typical client's 4.3/5")],
        "held": [d("CSAT held at 4.0 over 6 months")],
    }


def test_the_checker_catches_the_reasons_found_in_the_demo_digest() -> None:
    sign_of: Callable[[str], int] = lambda f: -1 if "csat" in f or "satisf" in f else 1  # noqa: E731
    for name, drivers in _checker_cases().items():
        assert contradictions(drivers, sign_of), name
    sla = ChurnDriver(
        group="sla",
        text="SLA breached on 17% of tickets in the last 3 months (was 36%)",
        contribution=0.2,
        feature="sla_breach_rate_3m",
        value=0.05,
        typical=0.09,
    )
    assert contradictions([sla], sign_of)
