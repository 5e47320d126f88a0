"""Population-stability index."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mspilot.models.drift import THRESHOLD, drift_report, psi


def test_psi_same_vs_shifted() -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 5000)
    assert psi(a, rng.normal(0, 1, 2000)) < 0.05
    assert psi(a, rng.normal(1.0, 1, 2000)) > THRESHOLD
    with_nan = np.where(rng.random(2000) < 0.5, np.nan, rng.normal(0, 1, 2000))
    assert psi(a, with_nan) > THRESHOLD  # half the values suddenly missing is drift


def test_drift_report_flags_only_the_moved_feature() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=3000), "y": rng.normal(size=3000)})
    cur = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(2.0, 1, 500)})
    rows = drift_report(ref, cur, ["x", "y"])
    assert [r.feature for r in rows if r.flagged] == ["y"]
    assert rows[0].feature == "y"
