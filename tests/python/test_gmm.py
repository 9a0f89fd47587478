# SPDX-License-Identifier: MIT
"""denseam.GaussianMixture and denseam.sample_around (issue 5, items 1-2; paper.md 2.2, 2.4).

Oracles: scikit-learn's GaussianMixture.score_samples and scipy.stats.multivariate_normal for the
log-density (to 1e-10); moment checks within standard errors for sampling; Kolmogorov-Smirnov
tests with fixed seeds against exact CDFs for the samplers:
  - "shell": radius fraction t = r/R on [a, b] = [0.98, 0.9999] has CDF (t^d - a^d)/(b^d - a^d);
  - "ball": CDF t^d on [0, 1];
  - uniform directions: a coordinate u_1 of the unit vector satisfies (u_1 + 1)/2 ~ Beta((d-1)/2,
    (d-1)/2), and E|u_1| = Gamma(d/2) / (sqrt(pi) Gamma((d+1)/2)).
The "reference-*" samplers are the reference code's BIASED ones: they must fail these tests
(directions concentrate toward the cube's diagonals, radii are not volume-uniform).
"""
import doctest
import math
import pickle

import numpy as np
import pytest
from scipy import special, stats
from scipy.stats import multivariate_normal

import denseam

SKLEARN_TYPE = {"isotropic": "spherical", "diagonal": "diag", "full": "full"}
A, B = 0.98, 0.9999


def random_mixture(kind, k, d, seed):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.0, k)
    w /= w.sum()
    means = rng.normal(size=(k, d))
    if kind == "isotropic":
        cov = rng.uniform(0.2, 2.0, k)
    elif kind == "diagonal":
        cov = rng.uniform(0.2, 2.0, (k, d))
    else:
        a = rng.normal(size=(k, d, d))
        cov = a @ a.transpose(0, 2, 1) / d + 0.3 * np.eye(d)
    return w, means, cov


def full_covariances(kind, cov, d):
    if kind == "isotropic":
        return np.array([c * np.eye(d) for c in cov])
    if kind == "diagonal":
        return np.array([np.diag(c) for c in cov])
    return cov


# ---- log-density --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
@pytest.mark.parametrize("d", [1, 3, 8])
def test_log_density_matches_sklearn_and_scipy(kind, d):
    from sklearn.mixture import GaussianMixture as SkGMM
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    k = 4
    w, means, cov = random_mixture(kind, k, d, seed=10 * d + len(kind))
    g = denseam.GaussianMixture(w, means, cov)
    assert g.covariance_kind == kind
    X = np.random.default_rng(1).normal(scale=1.5, size=(300, d))
    ours = g.log_density(X)

    sk = SkGMM(n_components=k, covariance_type=SKLEARN_TYPE[kind])
    sk.weights_, sk.means_, sk.covariances_ = w, means, cov
    sk.precisions_cholesky_ = _compute_precision_cholesky(cov, SKLEARN_TYPE[kind])
    np.testing.assert_allclose(ours, sk.score_samples(X), rtol=0, atol=1e-10)

    full = full_covariances(kind, cov, d)
    comp = np.stack(
        [
            np.log(w[i]) + multivariate_normal(means[i], full[i]).logpdf(X).reshape(-1)
            for i in range(k)
        ]
    )
    np.testing.assert_allclose(ours, special.logsumexp(comp, axis=0), rtol=0, atol=1e-10)


@pytest.mark.parametrize("d", [1, 8, 16])
def test_worked_case_log_density_at_the_mean(d):
    # paper.md 2.4: log N(mu | mu, sigma^2 I_d) = -(d/2) log(2 pi sigma^2), sigma = 0.1 (LOGL0).
    mu = np.full((1, d), 0.3)
    expected = -(d / 2) * math.log(2 * math.pi * 0.01)
    for cov in ([0.01], np.full((1, d), 0.01), 0.01 * np.eye(d)[None]):
        g = denseam.GaussianMixture([1.0], mu, cov)
        assert g.log_density(mu)[0] == pytest.approx(expected, abs=1e-12)


def test_log_density_is_stable_far_away():
    g = denseam.GaussianMixture([0.5, 0.5], [[0.0], [1.0]], [1e-4, 1e-4])
    X = np.array([[-0.4], [50.0]])
    comp = np.stack([np.log(0.5) + stats.norm(m, 1e-2).logpdf(X[:, 0]) for m in (0.0, 1.0)])
    np.testing.assert_allclose(g.log_density(X), special.logsumexp(comp, axis=0), rtol=1e-12)
    assert np.all(np.isfinite(g.log_density(X)))


# ---- sampling -----------------------------------------------------------------------------------


def test_sample_moments_converge_within_standard_errors():
    w, means, cov = random_mixture("full", 1, 3, seed=5)
    g = denseam.GaussianMixture([1.0], means, cov)
    n = 200_000
    X, labels = g.sample(n, seed=3)
    assert X.shape == (n, 3) and labels.shape == (n,) and labels.dtype == np.int64
    assert np.all(labels == 0)
    S = cov[0]
    se_mean = np.sqrt(np.diag(S) / n)
    assert np.all(np.abs(X.mean(axis=0) - means[0]) < 5 * se_mean)
    se_cov = np.sqrt((np.outer(np.diag(S), np.diag(S)) + S**2) / n)
    assert np.all(np.abs(np.cov(X.T) - S) < 5 * se_cov)


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_sample_labels_follow_weights_and_components(kind):
    w, means, cov = random_mixture(kind, 3, 2, seed=8)
    means = means * 20  # well separated
    g = denseam.GaussianMixture(w, means, cov)
    n = 60_000
    X, labels = g.sample(n, seed=9)
    freq = np.bincount(labels, minlength=3) / n
    assert np.all(np.abs(freq - w) < 5 * np.sqrt(w * (1 - w) / n))
    full = full_covariances(kind, cov, 2)
    for i in range(3):
        Xi = X[labels == i]
        se = np.sqrt(np.diag(full[i]) / len(Xi))
        assert np.all(np.abs(Xi.mean(axis=0) - means[i]) < 5 * se)


def test_sampling_is_deterministic():
    g = denseam.GaussianMixture.random(5, 8, 0.1, seed=3)
    X1, l1 = g.sample(1000, seed=4)
    X2, l2 = g.sample(1000, seed=4)
    X3, _ = g.sample(1000, seed=5)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(l1, l2)
    assert not np.array_equal(X1, X3)


def test_random_is_the_reference_construction():
    g = denseam.GaussianMixture.random(5, 8, 0.1, seed=3)
    assert (g.k, g.dim, g.covariance_kind) == (5, 8, "isotropic")
    assert g.means.shape == (5, 8) and np.all((g.means >= 0) & (g.means < 1))
    np.testing.assert_array_equal(g.weights, np.full(5, 0.2))
    np.testing.assert_allclose(g.covariances, np.full(5, 0.01), rtol=1e-15)
    np.testing.assert_array_equal(denseam.GaussianMixture.random(5, 8, 0.1, seed=3).means, g.means)
    assert not np.array_equal(denseam.GaussianMixture.random(5, 8, 0.1, seed=4).means, g.means)
    assert "GaussianMixture(k=5, dim=8" in repr(g)


@pytest.mark.parametrize("kind", ["isotropic", "diagonal", "full"])
def test_json_and_pickle_round_trip(kind):
    g = denseam.GaussianMixture(*random_mixture(kind, 3, 4, seed=2))
    for back in (denseam.GaussianMixture.from_json(g.to_json()), pickle.loads(pickle.dumps(g))):
        assert back.covariance_kind == kind
        np.testing.assert_array_equal(back.weights, g.weights)
        np.testing.assert_array_equal(back.means, g.means)
        np.testing.assert_array_equal(back.covariances, g.covariances)
    import json

    doc = json.loads(g.to_json())
    assert set(doc) == {"k", "dim", "covariance", "weights", "means", "covariances"}
    assert doc["covariance"] == kind


def test_properties_are_copies():
    g = denseam.GaussianMixture.random(2, 3, 0.5)
    m = g.means
    m[:] = 7.0
    assert np.all(g.means < 1)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (([0.5, 0.6], [[0.0], [1.0]], [1.0, 1.0]), "sum to 1"),
        (([1.0], [[0.0, 0.0]], [[1.0, 0.0, 0.0]]), "covariances has shape (1, 3)"),
        (([1.0], [0.0, 0.0], [1.0]), "means must be a 2-D array"),
        (([[1.0]], [[0.0]], [1.0]), "weights must be a 1-D array"),
        (([0.5, 0.5], [[0.0]], [1.0, 1.0]), "weights has k = 2"),
        (([1.0], [[0.0, 0.0]], [[[1.0, 2.0], [2.0, 1.0]]]), "not positive definite"),
        (([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.0, 1.0]]]), "not symmetric"),
        (([1.0], [[np.nan]], [1.0]), "means[0] is not finite"),
        (([1.0], [[0.0]], [0.0]), "must be > 0"),
        (([1.0], [["a"]], [1.0]), "means has dtype"),
    ],
)
def test_constructor_errors(args, fragment):
    with pytest.raises(ValueError) as e:
        denseam.GaussianMixture(*args)
    assert fragment in str(e.value)


def test_other_errors():
    g = denseam.GaussianMixture.random(2, 3, 0.5)
    with pytest.raises(ValueError, match=r"expected \(n, 3\)"):
        g.log_density(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="n must be >= 0"):
        g.sample(-1)
    with pytest.raises(ValueError, match="sigma must be finite and > 0"):
        denseam.GaussianMixture.random(2, 3, -1.0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        denseam.GaussianMixture.random(0, 3, 1.0)
    with pytest.raises(ValueError, match="cannot parse"):
        denseam.GaussianMixture.from_json("{")
    with pytest.raises(ValueError, match="missing field 'means'"):
        denseam.GaussianMixture.from_json(
            '{"k": 1, "dim": 1, "covariance": "full", "weights": [1]}'
        )


def test_docstring_example():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for t in finder.find(denseam.GaussianMixture, "GaussianMixture", globs={}):
        runner.run(t)
    assert runner.failures == 0 and runner.tries >= 1


# ---- samplers -----------------------------------------------------------------------------------


def offsets(kind, d, n, radius=1.0, seed=0, centers=None):
    if centers is None:
        centers = np.zeros((1, d))
    P = denseam.sample_around(centers, n, radius, kind=kind, seed=seed)
    return P - np.repeat(centers, n, axis=0)


def shell_cdf(d):
    return lambda t: (np.clip(t, A, B) ** d - A**d) / (B**d - A**d)


def mean_abs_coordinate(d):
    """E|u_1| for u uniform on the unit sphere in R^d."""
    return math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)


@pytest.mark.parametrize("d", [2, 8, 50])
def test_shell_radius_is_volume_uniform(d):
    V = offsets("shell", d, 20_000, radius=2.5, seed=d)
    t = np.linalg.norm(V, axis=1) / 2.5
    assert t.min() >= A * (1 - 1e-12) and t.max() <= B * (1 + 1e-12)
    assert stats.kstest(t, shell_cdf(d)).pvalue > 1e-3


@pytest.mark.parametrize("d", [1, 2, 8, 50])
def test_ball_radius_is_volume_uniform(d):
    V = offsets("ball", d, 20_000, radius=0.5, seed=d)
    t = np.linalg.norm(V, axis=1) / 0.5
    assert t.max() <= 1 + 1e-12
    assert stats.kstest(t, lambda r: np.clip(r, 0, 1) ** d).pvalue > 1e-3


@pytest.mark.parametrize("kind", ["shell", "ball"])
@pytest.mark.parametrize("d", [3, 8, 20])
def test_directions_are_uniform(kind, d):
    n = 20_000
    V = offsets(kind, d, n, seed=100 + d)
    U = V / np.linalg.norm(V, axis=1, keepdims=True)
    # Mean direction ~ 0: each coordinate has variance 1/d.
    assert np.all(np.abs(U.mean(axis=0)) < 5 * np.sqrt(1 / (d * n)))
    # A coordinate follows the exact law (u_1 + 1)/2 ~ Beta((d-1)/2, (d-1)/2) (d >= 2).
    law = stats.beta((d - 1) / 2, (d - 1) / 2)
    for j in (0, d - 1):
        assert stats.kstest((U[:, j] + 1) / 2, law.cdf).pvalue > 1e-3
    # E|u_1| matches the sphere's value within 5 standard errors.
    a = np.abs(U).mean(axis=1)  # average over coordinates per point (same expectation)
    assert abs(a.mean() - mean_abs_coordinate(d)) < 5 * a.std() / np.sqrt(n)


@pytest.mark.parametrize("kind", ["reference-shell", "reference-ball"])
def test_reference_samplers_are_biased(kind):
    """The reference's samplers: directions from the normalised cube [-1, 1]^d concentrate
    toward the diagonals (mean |coordinate| above the sphere's value, coordinate law off the
    Beta law), and radii are uniform in r, not volume-uniform."""
    d, n = 8, 20_000
    V = offsets(kind, d, n, seed=1)
    r = np.linalg.norm(V, axis=1)
    U = V / r[:, None]
    a = np.abs(U).mean(axis=1)
    assert a.mean() - mean_abs_coordinate(d) > 10 * a.std() / np.sqrt(n)
    law = stats.beta((d - 1) / 2, (d - 1) / 2)
    assert stats.kstest((U[:, 0] + 1) / 2, law.cdf).pvalue < 1e-6
    if kind == "reference-shell":
        # The shell is thin: in d = 8 volume-uniform and r-uniform radii differ little, so the
        # radius law is tested in d = 50, where (b/a)^(d-1) ~ 2.6.
        r = np.linalg.norm(offsets(kind, 50, n, seed=2), axis=1)
        assert stats.kstest(r, stats.uniform(A, B - A).cdf).pvalue > 1e-3
        assert stats.kstest(r, shell_cdf(50)).pvalue < 1e-6
    else:
        assert stats.kstest(r, stats.uniform(0, 1).cdf).pvalue > 1e-3
        assert stats.kstest(r, lambda x: np.clip(x, 0, 1) ** d).pvalue < 1e-6


@pytest.mark.parametrize("kind", ["shell", "ball", "reference-shell", "reference-ball"])
def test_sampler_determinism_center_independence_and_scaling(kind):
    C = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    n = 40
    P = denseam.sample_around(C, n, 0.3, kind=kind, seed=9)
    assert P.shape == (3 * n, 3)
    np.testing.assert_array_equal(P, denseam.sample_around(C, n, 0.3, kind=kind, seed=9))
    assert not np.array_equal(P, denseam.sample_around(C, n, 0.3, kind=kind, seed=10))
    # Center m's points depend only on (seed, m).
    np.testing.assert_array_equal(P[:n], denseam.sample_around(C[:1], n, 0.3, kind=kind, seed=9))
    C2 = C.copy()
    C2[0] = [5.0, 5.0, 5.0]
    np.testing.assert_array_equal(P[n:], denseam.sample_around(C2, n, 0.3, kind=kind, seed=9)[n:])
    # Offsets scale with R.
    O = P - np.repeat(C, n, axis=0)
    O2 = denseam.sample_around(C, n, 0.9, kind=kind, seed=9) - np.repeat(C, n, axis=0)
    np.testing.assert_allclose(O2, 3 * O, rtol=0, atol=1e-12)


def test_sampler_errors():
    C = np.zeros((2, 3))
    with pytest.raises(ValueError, match="unknown sampler 'sphere'"):
        denseam.sample_around(C, 5, 1.0, kind="sphere")
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="radius must be finite and > 0"):
            denseam.sample_around(C, 5, bad)
    with pytest.raises(ValueError, match="n_per_center must be >= 0"):
        denseam.sample_around(C, -1, 1.0)
    with pytest.raises(ValueError, match="must be a 2-D array"):
        denseam.sample_around(np.zeros(3), 5, 1.0)
    with pytest.raises(ValueError, match="non-empty"):
        denseam.sample_around(np.zeros((0, 3)), 5, 1.0)
    with pytest.raises(ValueError, match=r"centers\(1, 2\) is not finite"):
        denseam.sample_around([[0, 0, 0], [0, 0, np.nan]], 5, 1.0)
    assert denseam.sample_around(C, 0, 1.0).shape == (0, 3)
