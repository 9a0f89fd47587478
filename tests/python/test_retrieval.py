# SPDX-License-Identifier: MIT
"""denseam.retrieve and RetrievalResult."""
import math
import pickle

import numpy as np
import pytest

import denseam
from denseam import RetrievalStatus


@pytest.fixture
def patterns(rng):
    return rng.uniform(0.0, 1.0, size=(40, 3))


def test_status_enum_mirrors_the_library():
    assert [s.name for s in RetrievalStatus] == ["converged", "max_steps", "out_of_support",
                                                "non_finite", "not_minimum"]
    assert [int(s) for s in RetrievalStatus] == [0, 1, 2, 3, 4]


def test_lsr_fixed_point_returns_exact_local_minima(patterns, rng):
    beta = 20.0
    radius = math.sqrt(2.0 / beta)
    queries = patterns[rng.integers(0, len(patterns), 30)] + rng.normal(scale=0.05, size=(30, 3))
    res = denseam.retrieve(patterns, queries, kernel="lsr", beta=beta, method="fixed-point")
    assert isinstance(res, denseam.RetrievalResult) and len(res) == 30
    assert res.states.shape == (30, 3) and res.states.dtype == np.float64
    assert res.status.dtype == np.uint8 and res.steps.dtype == np.int64
    offsets, indices = res.support
    assert offsets.shape == (31,) and offsets[0] == 0 and offsets[-1] == len(indices)
    sets = res.support_sets()
    assert len(sets) == 30
    for i, s in enumerate(sets):
        np.testing.assert_array_equal(s, indices[offsets[i]:offsets[i + 1]])
        if res.status[i] != RetrievalStatus.converged:
            continue
        x = res.states[i]
        # x* = mean of its support set S, S = {mu : ||x* - xi_mu|| < R} exactly.
        np.testing.assert_allclose(x, patterns[s].mean(axis=0), rtol=0, atol=1e-14)
        dist = np.linalg.norm(patterns - x, axis=1)
        inside = np.flatnonzero(dist < radius)
        np.testing.assert_array_equal(np.sort(s), inside)
        assert res.steps[i] >= 2
    conv = res.converged
    assert conv.dtype == np.bool_ and conv.sum() > 0
    np.testing.assert_array_equal(conv, res.status == RetrievalStatus.converged)
    # Stationary and with the energy of the final state.
    g = denseam.grad(patterns, res.states[conv], kernel="lsr", beta=beta)
    np.testing.assert_allclose(g, 0.0, atol=1e-12)
    np.testing.assert_allclose(res.energy, denseam.energy(patterns, res.states, kernel="lsr",
                                                          beta=beta), rtol=1e-13, atol=1e-14)


def test_stored_pattern_is_retrieved_exactly():
    xi = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    res = denseam.retrieve(xi, xi + 0.3, kernel="lsr", beta=0.5)
    np.testing.assert_array_equal(res.states, xi)
    assert [list(s) for s in res.support_sets()] == [[0], [1], [2]]
    np.testing.assert_allclose(res.energy, 0.0, atol=0)  # -(1/beta) log(1)


def test_unsupported_start_is_out_of_support():
    xi = np.array([[0.0, 0.0], [1.0, 0.0]])
    res = denseam.retrieve(xi, [[50.0, 50.0], [0.1, 0.0]], kernel="lsr", beta=2.0)
    assert list(res.status) == [RetrievalStatus.out_of_support, RetrievalStatus.converged]
    assert list(res.status_names) == ["out-of-support", "converged"]
    np.testing.assert_array_equal(res.states[0], [50.0, 50.0])
    assert res.energy[0] == np.inf
    assert res.status_counts() == {"converged": 1, "max-steps": 0, "out-of-support": 1,
                                   "non-finite": 0, "not-minimum": 0}
    assert len(res.support_sets()[0]) == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fixed_point_with_a_memory_on_the_boundary_is_not_a_minimum(dtype):
    # Issue 9: R = sqrt(2 / beta) = 2, so from 0 the iteration stops at x = 0 with S = {0} while
    # the memory at 2 lies exactly on the boundary (outside S by the strict rule). The energy
    # falls towards it at first order, and the exact enumerator's only minimum is 1.
    xi = np.array([[0.0], [2.0]], dtype=dtype)
    res = denseam.retrieve(xi, np.array([[0.0], [1.3]], dtype=dtype), kernel="lsr", beta=0.5)
    assert res.states.dtype == dtype
    np.testing.assert_array_equal(res.states, [[0.0], [1.0]])
    assert list(res.status) == [RetrievalStatus.not_minimum, RetrievalStatus.converged]
    assert res.status_names[0] == "not-minimum" and not res.converged[0]
    assert [list(s) for s in res.support_sets()] == [[0], [0, 1]]
    assert res.status_counts() == {"converged": 1, "max-steps": 0, "out-of-support": 0,
                                   "non-finite": 0, "not-minimum": 1}
    assert "'not-minimum': 1" in repr(res)
    e0, e1 = denseam.energy(xi.astype(np.float64), [[0.0], [0.001]], kernel="lsr", beta=0.5)
    assert e1 < e0
    minima = denseam.find_minima(xi, beta=0.5)
    np.testing.assert_array_equal(minima.positions, [[1.0]])


def test_exact_issue_example_is_not_reported_converged():
    res = denseam.retrieve([[0], [2]], [[0]], kernel="lsr", beta=0.5)
    assert res.status[0] != RetrievalStatus.converged
    assert res.status[0] == RetrievalStatus.not_minimum
    assert res.status_names[0] == "not-minimum"
    assert list(res.support_sets()[0]) == [0]
    # find_minima agrees that 0 is not a minimum.
    assert not np.any(np.all(denseam.find_minima([[0], [2]], beta=0.5).positions == 0.0, axis=1))


def test_mean_shift_for_lse_converges_to_a_stationary_point(patterns, rng):
    queries = rng.uniform(0.0, 1.0, size=(10, 3))
    res = denseam.retrieve(patterns, queries, kernel="lse", beta=30.0, method="fixed-point",
                           tol=1e-12, steps=10000)
    assert res.support is None and res.support_sets() == []
    assert np.all(res.converged)
    g = denseam.grad(patterns, res.states, kernel="lse", beta=30.0)
    np.testing.assert_allclose(g, 0.0, atol=1e-9)


def gd_oracle(memories, queries, lrs, **kw):
    x = queries.copy()
    for lr in lrs:
        x = x - lr * denseam.grad(memories, x, **kw)
    return x


@pytest.mark.parametrize("kernel", ["lse", "lsr", "quartic"])
def test_gradient_descent_matches_a_numpy_loop(kernel, patterns, rng):
    queries = patterns[:8] + rng.normal(scale=0.03, size=(8, 3))
    kw = dict(kernel=kernel, beta=10.0, eps=0.1)
    res = denseam.retrieve(patterns, queries, method="gradient", steps=25, lr=0.01, tol=0.0, **kw)
    assert np.all(res.status == RetrievalStatus.max_steps)
    np.testing.assert_array_equal(res.steps, 25)
    np.testing.assert_allclose(res.states, gd_oracle(patterns, queries, [0.01] * 25, **kw),
                               rtol=1e-12, atol=1e-13)


def test_cosine_schedule_equals_explicit_values(patterns, rng):
    queries = patterns[:5] + rng.normal(scale=0.05, size=(5, 3))
    n, lr0, lr1 = 30, 0.05, 0.001
    t = np.arange(n)
    a = lr1 / lr0
    values = lr0 * ((1 - a) * (1 + np.cos(np.pi * t / n)) / 2 + a)
    kw = dict(kernel="lse", beta=8.0, method="gradient", steps=n, tol=0.0)
    cos = denseam.retrieve(patterns, queries, lr=lr0, lr_end=lr1, **kw)
    explicit = denseam.retrieve(patterns, queries, lr=values, **kw)
    as_list = denseam.retrieve(patterns, queries, lr=list(values), **kw)
    np.testing.assert_allclose(cos.states, explicit.states, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(explicit.states, as_list.states)
    np.testing.assert_allclose(explicit.states,
                               gd_oracle(patterns, queries, values, kernel="lse", beta=8.0),
                               rtol=1e-12, atol=1e-13)


def test_per_step_values_repeat_the_last_one(patterns):
    q = patterns[:3] + 0.02
    kw = dict(kernel="lse", beta=5.0, method="gradient", steps=10, tol=0.0)
    a = denseam.retrieve(patterns, q, lr=[0.02, 0.01], **kw)
    b = denseam.retrieve(patterns, q, lr=[0.02] + [0.01] * 9, **kw)
    np.testing.assert_array_equal(a.states, b.states)


def test_clamp_indices_and_mask(patterns, rng):
    queries = rng.uniform(0.0, 1.0, size=(6, 3))
    kw = dict(kernel="lse", beta=5.0, method="gradient", steps=50, lr=0.1)
    by_index = denseam.retrieve(patterns, queries, clamp=[0, 2], **kw)
    by_mask = denseam.retrieve(patterns, queries, clamp=np.array([True, False, True]), **kw)
    np.testing.assert_array_equal(by_index.states, by_mask.states)
    np.testing.assert_array_equal(by_index.states[:, [0, 2]], queries[:, [0, 2]])
    assert not np.allclose(by_index.states[:, 1], queries[:, 1])
    free = denseam.retrieve(patterns, queries, clamp=[], **kw)
    np.testing.assert_array_equal(free.states, denseam.retrieve(patterns, queries, **kw).states)


def test_noise_is_reproducible_by_seed(patterns):
    q = patterns[:4] + 0.01
    kw = dict(kernel="lse", beta=5.0, method="gradient", steps=20, lr=0.05, tol=0.0, noise=0.3)
    a = denseam.retrieve(patterns, q, seed=7, **kw)
    b = denseam.retrieve(patterns, q, seed=7, **kw)
    c = denseam.retrieve(patterns, q, seed=8, **kw)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)
    quiet = denseam.retrieve(patterns, q, **{**kw, "noise": 0.0})
    assert not np.array_equal(a.states, quiet.states)
    decayed = denseam.retrieve(patterns, q, seed=7, noise_end=0.0, **kw)
    assert not np.array_equal(a.states, decayed.states)


def test_beta_schedule(patterns):
    q = patterns[:4] + 0.05
    kw = dict(kernel="lse", method="gradient", steps=15, lr=0.05, tol=0.0)
    fixed = denseam.retrieve(patterns, q, beta=3.0, **kw)
    same = denseam.retrieve(patterns, q, beta=3.0, beta_schedule=[3.0], **kw)
    np.testing.assert_array_equal(fixed.states, same.states)
    annealed = denseam.retrieve(patterns, q, beta=3.0, beta_schedule=np.linspace(1, 10, 15), **kw)
    assert not np.array_equal(fixed.states, annealed.states)


def test_statuses_max_steps_and_non_finite(patterns):
    q = patterns[:2] + 0.1
    res = denseam.retrieve(patterns, q, kernel="lse", beta=5.0, method="gradient", steps=1, tol=0.0)
    assert list(res.status) == [RetrievalStatus.max_steps] * 2
    np.testing.assert_array_equal(res.steps, 1)
    boom = denseam.retrieve(patterns, q, kernel="lse", beta=5.0, method="gradient", steps=5,
                            lr=1e308)
    assert np.all(boom.status == RetrievalStatus.non_finite)


def test_gradient_tolerance_stops_early(patterns):
    res = denseam.retrieve(patterns, patterns[:3] + 0.01, kernel="lse", beta=200.0,
                           method="gradient", steps=100000, lr=0.004, tol=1e-8)
    assert np.all(res.converged)
    assert np.all(res.steps < 100000)


def test_single_precision_gradient_follows_the_numpy_loop(patterns, rng):
    # precision="single": float32 gradient, float64 states; near the float64 NumPy oracle to
    # float accuracy of the distances, and the Memory method takes the same keyword.
    queries = patterns[:8] + rng.normal(scale=0.03, size=(8, 3))
    lrs = [0.05] * 200
    ref = gd_oracle(patterns, queries, lrs, kernel="lse", beta=10.0, eps=0.0)
    res = denseam.retrieve(patterns, queries, kernel="lse", beta=10.0, method="gradient",
                           steps=200, lr=0.05, tol=0.0, precision="single")
    assert res.states.dtype == np.float64
    np.testing.assert_allclose(res.states, ref, atol=1e-6)
    assert np.abs(res.states - ref).max() > 0  # not the float64 path
    mem = denseam.Memory(patterns, kernel="lse", beta=10.0)
    again = mem.retrieve(queries, method="gradient", steps=200, lr=0.05, tol=0.0,
                         precision="single")
    np.testing.assert_array_equal(again.states, res.states)


def test_float32_retrieval_keeps_dtype(patterns):
    p32 = patterns.astype(np.float32)
    for method, options in [("fixed-point", {}), ("gradient", {"lr": 0.01})]:
        res = denseam.retrieve(p32, p32[:4] + np.float32(0.01), kernel="lsr", beta=20.0,
                               method=method, steps=20, **options)
        assert res.states.dtype == np.float32 and res.energy.dtype == np.float32
    mixed = denseam.retrieve(p32, patterns[:4], kernel="lsr", beta=20.0)
    assert mixed.states.dtype == np.float64


def test_result_pickles_and_reprs(patterns):
    res = denseam.retrieve(patterns, patterns[:5] + 0.01, kernel="lsr", beta=20.0)
    back = pickle.loads(pickle.dumps(res))
    for name in ["states", "energy", "status", "steps", "support_offsets", "support_indices"]:
        np.testing.assert_array_equal(getattr(back, name), getattr(res, name))
    assert back.method == "fixed-point" and back.kernel == "lsr"
    text = repr(res)
    assert text.startswith("RetrievalResult(n_queries=5, dim=3, dtype=float64")
    assert "method='fixed-point'" in text and "'converged': 5" in text
    grad = denseam.retrieve(patterns, patterns[:2], kernel="lse", beta=1.0, method="gradient",
                            steps=3)
    back = pickle.loads(pickle.dumps(grad))
    assert back.support is None and back.support_offsets is None


def test_defaults_come_from_the_library():
    # The signature shows the defaults that apply to every method; the options that are None
    # there (not given) take the library's value, which the docstring states.
    signature, doc = denseam.retrieve.__doc__.split("\n", 1)
    for fragment in ["method: str = 'fixed-point'", "steps: int = 1000", "lr: object = None",
                     "tol: Optional[float] = None", "seed: Optional[int] = None", "beta: float,"]:
        assert fragment in signature, fragment
    for fragment in ["lr : float or 1-D array_like or None (default 0.1)",
                     "tol : float or None (default 1e-06)", "seed : int or None (default 0)",
                     "noise : float or 1-D array_like or None (default 0.0: no noise)",
                     'precision : str or None (default "state")']:
        assert fragment in doc, fragment


# ---- errors ------------------------------------------------------------------------------------

M = np.array([[0.0, 0.0], [1.0, 0.0]])
Q = np.array([[0.1, 0.0]])


@pytest.mark.parametrize(
    "kwargs,fragments",
    [
        ({"method": "newton"}, ["unknown retrieval method 'newton'"]),
        ({"kernel": "poly"}, ["kernel 'poly' has no fixed-point iteration"]),
        ({"kernel": "tophat"}, ["kernel 'tophat' has no fixed-point iteration"]),
        ({"clamp": [0]}, ["clamp has no effect with method='fixed-point'"]),
        ({"method": "gradient", "clamp": [5]}, ["clamped coordinate 5", "dimension 2"]),
        ({"method": "gradient", "clamp": [-1]}, ["clamped coordinate -1"]),
        ({"method": "gradient", "clamp": [True]}, ["boolean clamp mask", "(2)", "(1,)"]),
        ({"method": "gradient", "clamp": [0.5]}, ["clamp must hold integer", "float64"]),
        ({"method": "gradient", "clamp": [[0]]}, ["clamp must be a 1-D", "(1, 1)"]),
        ({"steps": -1}, ["max_steps must be >= 0", "-1"]),
        ({"method": "gradient", "tol": -1.0}, ["tol must be finite and >= 0"]),
        ({"kernel": "lse", "tol": float("nan")}, ["tol must be finite"]),
        ({"method": "gradient", "lr": np.ones((2, 2))}, ["lr must be a number or a 1-D", "(2, 2)"]),
        ({"method": "gradient", "lr": [0.1, 0.2], "lr_end": 0.0}, ["lr_end applies to a number"]),
        ({"method": "gradient", "lr": []}, ["step size schedule has no values"]),
        ({"method": "gradient", "lr": float("inf")}, ["step size schedule has a non-finite"]),
        ({"method": "gradient", "noise": [1.0, float("nan")]}, ["noise schedule has a non-finite"]),
        ({"method": "gradient", "beta_schedule": [1.0, -2.0]}, ["beta schedule values must be > 0"]),
        ({"beta": 0.0}, ["beta must be finite and > 0"]),
        ({"eps": -1.0}, ["eps must be finite and >= 0"]),
        ({"kernel": "nope"}, ["unknown kernel 'nope'"]),
        ({"method": "gradient", "precision": "half"}, ["unknown gradient precision 'half'"]),
    ],
)
def test_retrieve_value_errors(kwargs, fragments):
    with pytest.raises(ValueError) as info:
        denseam.retrieve(M, Q, **{"beta": 1.0, **kwargs})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


@pytest.mark.parametrize(
    "memories,queries,fragments",
    [
        (np.zeros(2), Q, ["memories must be a 2-D array", "(2,)"]),
        (M, np.zeros(2), ["queries must be a 2-D array", "(2,)"]),
        (M, np.zeros((1, 3)), ["dimension 3", "dimension 2"]),
        (np.zeros((0, 2)), Q, ["memory set is empty"]),
        (M, [[np.nan, 0.0]], ["queries contains a non-finite value"]),
    ],
)
def test_retrieve_shape_errors(memories, queries, fragments):
    with pytest.raises(ValueError) as info:
        denseam.retrieve(memories, queries, beta=1.0)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_wrong_argument_types_are_type_errors():
    with pytest.raises(TypeError):
        denseam.retrieve(M, Q, beta=1.0, method="gradient", lr_end="small")
    with pytest.raises(TypeError):
        denseam.retrieve(M, Q, beta=1.0, method="gradient", noise=0.1, seed=-1)
    with pytest.raises(TypeError):
        denseam.retrieve(M, Q, "lsr", beta=1.0)  # keyword-only options
