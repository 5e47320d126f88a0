"""The standard normal distribution's tail and CDF, elementwise over arrays (no SciPy needed).

Shared by the generator (SLA breach probability of lognormal resolution times) and the
features (the same tail, estimated from the data), so the formula exists once."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

_ERFC = np.vectorize(math.erfc, otypes=[float])


def normal_sf(z: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """P(Z > z) for a standard normal Z."""
    return np.asarray(0.5 * _ERFC(np.asarray(z, dtype=np.float64) / math.sqrt(2.0)), np.float64)


def normal_cdf(x: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """P(Z <= x) for a standard normal Z."""
    return normal_sf(-np.asarray(x, dtype=np.float64))
