"""Leaks and anomalies in the messy world (issue 18): the six leak rules keep precision
>= 90% and recall >= 95% per type among legitimate look-alikes and data faults, and the
anomaly detector ranks >= 50% of the held-apart family's dollars in its top k = 2 x planted,
each flag explained.

Seeds, fixed before any tuning: the rules and the detector were developed on
``DEVELOPMENT_SEEDS`` only; ``HELD_OUT_SEEDS`` were first run after the code was final.
The default suite checks one small world of a development seed; the held-out demo-sized
worlds are slow (``pytest -m slow tests/models/test_messy_world.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mspilot.core.clock import Clock
from mspilot.models.evaluation import (
    Evaluation,
    _matches,
    evaluate,
    family_dollars_in_top_k,
)
from mspilot.models.training import train_all

AS_OF = dt.date(2026, 10, 31)
DEVELOPMENT_SEEDS = (3, 21)
HELD_OUT_SEEDS = (8080, 9191)


@dataclass
class MessyWorld:
    evaluation: Evaluation
    truth: Any
    report: Any
    ids: dict[str, str]


def _build(
    root: Path, loader: Callable[[Path, Any, Any], Engine], seed: int, clients: int, years: int
) -> MessyWorld:
    from mspilot.synthetic.config import DemoConfig
    from mspilot.synthetic.generator import generate_tenant

    config = DemoConfig(seed=seed, as_of=AS_OF, n_clients=clients, years=years, messy=True)
    ds = generate_tenant(config, 0)
    engine = loader(root / "messy.db", ds.tables, ds.tenant)
    report = train_all(
        engine,
        ds.tenant.id,
        root / "data",
        Clock(AS_OF),
        kinds=["leaks", "anomalies"],
        mlflow=False,
    )
    evaluation = evaluate(engine, ds.tenant.id, root / "data", ds.truth)
    from mspilot.models.evaluation import _external_ids

    ids = _external_ids(engine, ds.tenant.id)
    engine.dispose()
    return MessyWorld(evaluation, ds.truth, report, ids)


@pytest.fixture(scope="module")
def small_world(
    tmp_path_factory: pytest.TempPathFactory, world_loader: Callable[[Path, Any, Any], Engine]
) -> MessyWorld:
    return _build(tmp_path_factory.mktemp("messy_small"), world_loader, DEVELOPMENT_SEEDS[1], 60, 2)


def _assert_recovered(world: MessyWorld) -> None:
    truth = world.truth
    kinds = {n.kind for n in truth.noise}
    # the world really is messy: look-alikes of several kinds and data faults
    assert {"prorated_month", "billing_correction", "duplicate_time_entry"} <= kinds, kinds
    assert len(truth.anomalies) >= 4
    rows = [r for r in world.evaluation.rows if r.model.startswith("leaks:")]
    assert len(rows) == 6
    for row in rows:
        assert row.passed, f"{row.model}: {row.note}"
    # no finding lands on a look-alike instead of a leak
    findings = world.report.artefacts["leaks"]
    wrong = [f for f in findings if not any(_matches(f, leak) for leak in truth.leaks)]
    assert len(wrong) <= max(1, len(findings) // 10), [(f.type, f.client_name) for f in wrong]
    row = world.evaluation.row(
        "anomalies (per-client robust baselines)", "held-apart anomaly $ in top k = 2 x planted"
    )
    assert row.passed, row.note
    assert row.value >= 0.5 and row.baseline is not None
    flags = world.report.artefacts["anomalies"]
    ranked = [(world.ids[a.client_id], a.month) for a in flags]
    share, found, k = family_dollars_in_top_k(ranked, truth.anomalies)
    assert share == pytest.approx(row.value)
    assert found >= len(truth.anomalies) // 2
    for flag in flags[:k]:
        # explained by the signals that made it unusual
        assert flag.reasons and flag.explanation


def test_small_messy_world_recovered(small_world: MessyWorld) -> None:
    _assert_recovered(small_world)
    world = small_world.evaluation.row("world", "generator seed")
    assert world.value == DEVELOPMENT_SEEDS[1] and world.note.startswith("messy world")


def test_flags_name_their_unusual_signals(small_world: MessyWorld) -> None:
    from mspilot.models.anomalies import SIGNALS

    for flag in small_world.report.artefacts["anomalies"]:
        for name in flag.reasons:
            assert SIGNALS[name] in flag.explanation
            assert "unusually" in flag.explanation


@pytest.mark.slow
@pytest.mark.parametrize("seed", HELD_OUT_SEEDS)
def test_held_out_messy_world_recovered(
    seed: int,
    tmp_path_factory: pytest.TempPathFactory,
    world_loader: Callable[[Path, Any, Any], Engine],
) -> None:
    world = _build(tmp_path_factory.mktemp(f"messy_{seed}"), world_loader, seed, 150, 3)
    _assert_recovered(world)
