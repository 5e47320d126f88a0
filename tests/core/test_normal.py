from __future__ import annotations

import numpy as np

from mspilot.core.normal import normal_cdf, normal_sf


def test_known_quantiles_and_symmetry() -> None:
    x = np.array([-1.959963985, -1.0, 0.0, 1.0, 1.644853627, 8.0])
    cdf = normal_cdf(x)
    assert np.allclose(cdf, [0.025, 0.158655254, 0.5, 0.841344746, 0.95, 1.0], atol=1e-8)
    assert np.allclose(normal_sf(x), 1.0 - cdf, atol=1e-15)
    assert np.allclose(normal_sf(x), normal_cdf(-x))
    assert 0.0 < normal_sf(30.0) < 1e-190  # the far tail stays exact (erfc, not 1 - cdf)
    assert normal_cdf(2.0).shape == () and normal_cdf([[0.0, 1.0]]).shape == (1, 2)
