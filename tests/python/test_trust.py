# SPDX-License-Identifier: MIT
"""Issue 9 item 7 from Python: finite input never gives NaN silently, and a status says what a
value means."""
import numpy as np
import pytest

import denseam


@pytest.fixture
def patterns():
    return np.random.default_rng(4).uniform(size=(30, 3))


@pytest.mark.parametrize("kernel", ["lse", "lsr", "cosine"])
def test_coordinates_beyond_the_range_are_refused(patterns, kernel):
    big = patterns * 1e160
    with pytest.raises(ValueError, match="cannot be computed in float64.*rescale"):
        denseam.energy(big, big[:4], kernel=kernel, beta=6.0)
    with pytest.raises(ValueError, match="cannot be computed in float64"):
        denseam.retrieve(big, big[:4], kernel=kernel, beta=6.0, method="gradient", steps=3)
    # Far from the limit the same data, rescaled, is fine (and finite).
    e = denseam.energy(patterns * 1e10, patterns[:4] * 1e10, kernel=kernel, beta=6e-20)
    assert np.all(np.isfinite(e))


def test_float32_beta_beyond_float32(patterns):
    x = patterns.astype(np.float32)
    with pytest.raises(ValueError, match="beyond the range of float32"):
        denseam.energy(x, x, kernel="lsr", beta=1e39)
    assert np.all(np.isfinite(denseam.energy(patterns, patterns, kernel="lsr", beta=1e39)))


def test_diverging_descent_has_nan_energy_with_its_status(patterns):
    q = patterns[:2] + 0.1
    res = denseam.retrieve(patterns, q, kernel="lse", beta=5.0, method="gradient", steps=5,
                           lr=1e308)
    assert np.all(res.status == denseam.RetrievalStatus.non_finite)
    # The energy of a state whose descent blew up is not reported as a number.
    assert np.all(np.isnan(res.energy))
    ok = denseam.retrieve(patterns, q, kernel="lse", beta=5.0, method="gradient", steps=5)
    assert np.all(np.isfinite(ok.energy))
    np.testing.assert_allclose(ok.energy, denseam.energy(patterns, ok.states, kernel="lse",
                                                         beta=5.0), rtol=0, atol=0)
