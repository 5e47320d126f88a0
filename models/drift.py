"""Data drift: population-stability index (PSI) per feature, training window vs latest month.

Bins are the training distribution's deciles (plus a bin for missing values); PSI =
sum((actual - expected) * ln(actual / expected)). Common reading: < 0.1 stable, 0.1-0.25
moderate, > 0.25 drifted; we flag above ``THRESHOLD``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

THRESHOLD = 0.25
_EPS = 1e-4


@dataclass(frozen=True)
class DriftRow:
    feature: str
    psi: float
    flagged: bool

    def as_dict(self) -> dict[str, object]:
        return {"feature": self.feature, "psi": round(self.psi, 4), "flagged": self.flagged}


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    counts = np.histogram(values[~missing], bins=edges)[0].astype(float)
    counts = np.append(counts, missing.sum())
    total = max(counts.sum(), 1.0)
    return np.asarray(np.clip(counts / total, _EPS, None))


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    expected = np.asarray(expected, dtype=float)
    actual = np.asarray(actual, dtype=float)
    finite = expected[~np.isnan(expected)]
    if finite.size == 0:
        edges = np.array([-np.inf, np.inf])
    else:
        inner = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1]))
        edges = np.concatenate([[-np.inf], inner, [np.inf]])
    e, a = _shares(expected, edges), _shares(actual, edges)
    return float(np.sum((a - e) * np.log(a / e)))


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: Sequence[str],
    threshold: float = THRESHOLD,
) -> list[DriftRow]:
    """PSI of each feature of ``current`` against ``reference``, highest first."""
    rows = []
    for name in features:
        value = psi(
            reference[name].to_numpy(dtype=float, na_value=np.nan),
            current[name].to_numpy(dtype=float, na_value=np.nan),
        )
        rows.append(DriftRow(name, value, value > threshold))
    return sorted(rows, key=lambda r: -r.psi)
