# SPDX-License-Identifier: MIT
"""denseam.find_minima / beta_range / choose_beta / emergence_window against NumPy/SciPy oracles
and the CLI."""
import itertools
import json
import os
import subprocess

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

import denseam


def brute_force_minima(xi, beta):
    """Every non-empty subset S whose centroid has S as its strict active set (paper.md 1.2)."""
    r2 = 2.0 / beta
    out = {}
    m = len(xi)
    for k in range(1, m + 1):
        for s in itertools.combinations(range(m), k):
            c = xi[list(s)].mean(0)
            d2 = ((xi - c) ** 2).sum(1)
            if tuple(np.flatnonzero(d2 < r2)) == s:
                out[s] = c
    return out


@pytest.mark.parametrize("seed,m,d", [(0, 8, 2), (1, 10, 3), (2, 9, 8), (3, 7, 1)])
def test_find_minima_equals_brute_force(seed, m, d):
    xi = np.random.default_rng(seed).random((m, d))
    lo, hi = 2.0 / d, 8.0 / pdist(xi).min() ** 2
    for beta in np.geomspace(lo, hi, 7):
        want = brute_force_minima(xi, beta)
        for strategy in ("auto", "gray", "clique"):
            r = denseam.find_minima(xi, beta=beta, strategy=strategy)
            off, idx = r.support
            got = {tuple(idx[off[i]:off[i + 1]]): r.positions[i] for i in range(len(off) - 1)}
            assert set(got) == set(want), (beta, strategy)
            for s, c in want.items():
                np.testing.assert_allclose(got[s], c, atol=1e-12)
            assert r.stored == sum(len(s) == 1 for s in want)
            assert r.emergent == sum(len(s) > 1 for s in want)
            assert r.status == "complete"


def test_find_minima_reports_exact_quantities():
    # paper.md V3: triangle at beta = 1.1: 3 stored + 3 midpoints + centroid.
    s3 = np.sqrt(3.0)
    xi = np.array([[-1, 0], [1, 0], [0, -s3]], dtype=float)
    r = denseam.find_minima(xi, beta=1.1)
    assert (r.stored, r.emergent, r.total) == (3, 4, 7)
    e = np.sort(r.energy)
    np.testing.assert_allclose(e[-1], -np.log(0.8) / 1.1, rtol=1e-12)
    np.testing.assert_allclose(e[3:6], -np.log(0.9) / 1.1, rtol=1e-12)
    np.testing.assert_allclose(np.sort(r.hessian_scale)[-1], 3 / 0.8, rtol=1e-12)
    mid = np.flatnonzero(np.all(np.isclose(r.positions, [0, 0]), axis=1))[0]
    np.testing.assert_allclose(r.basin_radius[mid], 0.221966, atol=1e-6)


def test_find_minima_matches_cli(cli_binary, tmp_path):
    xi = np.random.default_rng(5).random((40, 3))
    np.save(tmp_path / "x.npy", xi)
    env = dict(os.environ)
    p = subprocess.run([str(cli_binary), "minima", "--memories", str(tmp_path / "x.npy"), "--beta",
                        "20", "--out", str(tmp_path / "m.npy")], capture_output=True, text=True,
                       env=env, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    r = denseam.find_minima(xi, beta=20.0)
    assert (j["stored"], j["emergent"], j["total"]) == (r.stored, r.emergent, r.total)
    np.testing.assert_array_equal(np.load(tmp_path / "m.npy"), r.positions)


def test_beta_range_and_window_match_numpy():
    xi = np.random.default_rng(7).random((25, 32))
    xi[3] = xi[4]  # a duplicate is ignored for r_min
    d = pdist(xi)
    r_min = d[d > 0].min()
    b = denseam.beta_range(xi)
    assert b.beta_min == pytest.approx(2 / 32)
    assert b.beta_max == pytest.approx(8 / r_min**2)
    assert b.r_min == pytest.approx(r_min)
    w = denseam.emergence_window(xi)
    assert (w.beta_lo, w.beta_hi) == (pytest.approx(8 / (3 * r_min**2)), pytest.approx(8 / r_min**2))


def test_choose_beta_hits_the_target_neighbour_count():
    xi = np.random.default_rng(8).random((30, 4))
    D = squareform(pdist(xi))
    for target in (2, 4, 7.5):
        r = denseam.choose_beta(xi, target)
        R = np.sqrt(2 / r.beta)
        k = (D < 2 * R).sum(1).mean()  # self counted (D_ii = 0), as in the reference
        assert k >= target
        assert k == pytest.approx(r.mean_neighbours)
        # Just below the critical beta's radius the count is under the target.
        Rc = np.sqrt(2 / r.beta_critical)
        assert (D < 2 * Rc * (1 - 1e-9)).sum(1).mean() < target


@pytest.mark.parametrize("kwargs,fragment", [
    (dict(beta=0.0), "beta"), (dict(beta=-1.0), "beta"), (dict(beta=float("nan")), "beta"),
    (dict(beta=1.0, eps=-1.0), "eps"), (dict(beta=1.0, strategy="magic"), "magic"),
])
def test_find_minima_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        denseam.find_minima(np.zeros((3, 2)) + np.arange(3)[:, None], **kwargs)


def test_find_minima_rejects_bad_patterns():
    with pytest.raises(ValueError, match="patterns"):
        denseam.find_minima(np.zeros((0, 2)), beta=1.0)
    with pytest.raises(ValueError, match="non-finite"):
        denseam.find_minima(np.array([[0.0, np.nan]]), beta=1.0)
    with pytest.raises(ValueError, match="2-D"):
        denseam.find_minima(np.zeros(3), beta=1.0)
