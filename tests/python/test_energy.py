# SPDX-License-Identifier: MIT
"""denseam.energy / grad / energy_and_grad against NumPy, SciPy and scikit-learn oracles."""
import math

import numpy as np
import pytest
import scipy.special
from sklearn.neighbors import KernelDensity

import denseam

# ---- oracles straight from the formulas of include/denseam/kernels.hpp ----------------------


def kernel_values(kernel, memories, queries, beta, degree=3):
    """F(beta S(x, xi_mu)) for every (query, memory) pair, shape (B, M)."""
    if kernel == "poly":
        return np.maximum(beta * queries @ memories.T, 0.0) ** degree
    d2 = ((queries[:, None, :] - memories[None, :, :]) ** 2).sum(-1)
    q = 0.5 * beta * d2
    t = np.sqrt(q)
    inside = q < 1.0
    table = {
        "lse": np.exp(-q),
        "lsr": np.where(inside, 1.0 - q, 0.0),
        "triangle": np.where(inside, 1.0 - t, 0.0),
        "tophat": np.where(inside, 1.0, 0.0),
        "cosine": np.where(inside, np.cos(0.5 * np.pi * t), 0.0),
        "quartic": np.where(inside, (1.0 - q) ** 2, 0.0),
        "triweight": np.where(inside, (1.0 - q) ** 3, 0.0),
        "tricube": np.where(inside, (1.0 - t**3) ** 3, 0.0),
    }
    return table[kernel]


def oracle_energy(kernel, memories, queries, beta, eps=0.0, q="auto", degree=3):
    if q == "auto":
        q = "identity" if kernel == "poly" else "log"
    if kernel == "lse" and q == "log":
        d2 = ((queries[:, None, :] - memories[None, :, :]) ** 2).sum(-1)
        lse = scipy.special.logsumexp(-0.5 * beta * d2, axis=1)
        if eps > 0:
            lse = np.logaddexp(np.log(eps), lse)
        return -lse / beta
    z = eps + kernel_values(kernel, memories, queries, beta, degree).sum(axis=1)
    if q == "identity":
        return -z
    with np.errstate(divide="ignore"):
        return -np.log(z) / beta


ALL_KERNELS = list(denseam.KERNELS)
DISTANCE_KERNELS = [k for k in ALL_KERNELS if k != "poly"]


def test_kernel_list_matches_the_library():
    assert set(ALL_KERNELS) == {
        "lse", "lsr", "triangle", "tophat", "cosine", "quartic", "triweight", "tricube", "poly"
    }


@pytest.fixture
def cloud(rng):
    memories = rng.uniform(0.0, 1.0, size=(60, 3))
    queries = rng.uniform(0.0, 1.0, size=(25, 3))
    return memories, queries


@pytest.mark.parametrize("kernel", ALL_KERNELS)
@pytest.mark.parametrize("eps", [0.0, 0.25])
def test_energy_matches_numpy_for_every_kernel(kernel, eps, cloud):
    memories, queries = cloud
    beta = 0.5 if kernel == "poly" else 6.0
    e = denseam.energy(memories, queries, kernel=kernel, beta=beta, eps=eps)
    ref = oracle_energy(kernel, memories, queries, beta, eps)
    assert e.shape == (len(queries),) and e.dtype == np.float64
    assert np.all(np.isfinite(ref))  # the data keeps every query supported
    np.testing.assert_allclose(e, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel", ALL_KERNELS)
@pytest.mark.parametrize("q", ["log", "identity"])
def test_explicit_q_matches_numpy(kernel, q, cloud):
    memories, queries = cloud
    beta = 0.5 if kernel == "poly" else 3.0
    e = denseam.energy(memories, queries, kernel=kernel, beta=beta, q=q, eps=0.1)
    ref = oracle_energy(kernel, memories, queries, beta, 0.1, q)
    np.testing.assert_allclose(e, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("degree", [1, 2, 5])
def test_poly_degree(degree, rng):
    memories = rng.normal(size=(40, 4))
    queries = rng.normal(size=(10, 4))
    e = denseam.energy(memories, queries, kernel="poly", beta=0.7, degree=degree)
    np.testing.assert_allclose(e, oracle_energy("poly", memories, queries, 0.7, degree=degree),
                               rtol=1e-10, atol=1e-10)


def test_lse_against_scipy_logsumexp_at_large_beta(rng):
    memories = rng.normal(size=(300, 8))
    queries = rng.normal(size=(40, 8))
    beta = 50.0
    d2 = ((queries[:, None, :] - memories[None, :, :]) ** 2).sum(-1)
    ref = -scipy.special.logsumexp(-0.5 * beta * d2, axis=1) / beta
    np.testing.assert_allclose(denseam.energy(memories, queries, kernel="lse", beta=beta), ref,
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kernel", [k for k in DISTANCE_KERNELS if k != "lse"])
def test_compact_kernels_outside_every_support(kernel):
    memories = np.array([[0.0, 0.0], [1.0, 0.0]])
    far = np.array([[10.0, 10.0]])
    assert denseam.energy(memories, far, kernel=kernel, beta=2.0)[0] == np.inf
    plateau = denseam.energy(memories, far, kernel=kernel, beta=2.0, eps=0.5)[0]
    assert plateau == pytest.approx(-math.log(0.5) / 2.0, rel=1e-15)
    g = denseam.grad(memories, far, kernel=kernel, beta=2.0)
    np.testing.assert_array_equal(g, 0.0)


def test_boundary_rule_distance_exactly_r_is_outside():
    # beta = 2 -> R = 1; the query sits at distance exactly 1 from the second memory.
    memories = np.array([[0.0], [1.0]])
    e = denseam.energy(memories, [[0.0]], kernel="lsr", beta=2.0)
    assert e[0] == 0.0  # Z = 1: only the first memory counts


# ---- gradients --------------------------------------------------------------------------------


def finite_difference(memories, queries, h=1e-6, **kw):
    g = np.zeros_like(queries)
    for k in range(queries.shape[1]):
        step = np.zeros(queries.shape[1])
        step[k] = h
        ep = denseam.energy(memories, queries + step, **kw)
        em = denseam.energy(memories, queries - step, **kw)
        g[:, k] = (ep - em) / (2 * h)
    return g


@pytest.mark.parametrize("kernel", ALL_KERNELS)
def test_gradient_matches_finite_differences(kernel, cloud):
    memories, queries = cloud
    kw = dict(kernel=kernel, beta=0.5 if kernel == "poly" else 6.0, eps=0.05)
    g = denseam.grad(memories, queries, **kw)
    assert g.shape == queries.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, finite_difference(memories, queries, **kw), rtol=1e-5, atol=1e-6)
    e2, g2 = denseam.energy_and_grad(memories, queries, **kw)
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(e2, denseam.energy(memories, queries, **kw))


def test_lsr_gradient_formula(cloud):
    memories, queries = cloud
    beta = 6.0
    d2 = ((queries[:, None, :] - memories[None, :, :]) ** 2).sum(-1)
    w = np.maximum(1 - 0.5 * beta * d2, 0.0)
    active = (w > 0).astype(float)
    z = w.sum(1)
    ref = (active[:, :, None] * (queries[:, None, :] - memories[None, :, :])).sum(1) / z[:, None]
    np.testing.assert_allclose(denseam.grad(memories, queries, kernel="lsr", beta=beta), ref,
                               rtol=1e-10, atol=1e-12)


def test_lse_gradient_formula(cloud):
    memories, queries = cloud
    beta = 4.0
    d2 = ((queries[:, None, :] - memories[None, :, :]) ** 2).sum(-1)
    p = scipy.special.softmax(-0.5 * beta * d2, axis=1)
    ref = queries - p @ memories
    np.testing.assert_allclose(denseam.grad(memories, queries, kernel="lse", beta=beta), ref,
                               rtol=1e-10, atol=1e-12)


# ---- kernel density estimates ------------------------------------------------------------------


def epanechnikov_log_norm(d, h):
    """log of int_{||u|| < h} (1 - ||u||^2 / h^2) du = V_d h^d 2 / (d + 2)."""
    log_vd = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
    return log_vd + d * math.log(h) + math.log(2.0 / (d + 2.0))


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_kde_identity_epanechnikov(d, rng):
    memories = rng.uniform(0.0, 1.0, size=(200, d))
    queries = rng.uniform(0.2, 0.8, size=(30, d))
    beta = 4.0
    h = math.sqrt(2.0 / beta)
    kde = KernelDensity(kernel="epanechnikov", bandwidth=h).fit(memories)
    log_p = kde.score_samples(queries)
    e = denseam.energy(memories, queries, kernel="lsr", beta=beta)
    expected = -beta * e - math.log(len(memories)) - epanechnikov_log_norm(d, h)
    np.testing.assert_allclose(log_p, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_kde_identity_gaussian(d, rng):
    memories = rng.normal(size=(150, d))
    queries = rng.normal(size=(20, d))
    beta = 3.0
    kde = KernelDensity(kernel="gaussian", bandwidth=1.0 / math.sqrt(beta)).fit(memories)
    log_p = kde.score_samples(queries)
    e = denseam.energy(memories, queries, kernel="lse", beta=beta)
    expected = -beta * e - math.log(len(memories)) - 0.5 * d * math.log(2 * math.pi / beta)
    np.testing.assert_allclose(log_p, expected, rtol=1e-10, atol=1e-10)


def test_kde_identity_outside_support_is_minus_infinity():
    memories = np.zeros((3, 2))
    kde = KernelDensity(kernel="epanechnikov", bandwidth=1.0).fit(memories)
    assert kde.score_samples([[5.0, 5.0]])[0] == -np.inf
    assert denseam.energy(memories, [[5.0, 5.0]], kernel="lsr", beta=2.0)[0] == np.inf


# ---- dtypes and array-likes ---------------------------------------------------------------------


def test_float32_keeps_dtype_and_agrees_with_float64(cloud):
    memories, queries = cloud
    m32, q32 = memories.astype(np.float32), queries.astype(np.float32)
    for kernel in ALL_KERNELS:
        beta = 0.5 if kernel == "poly" else 6.0
        e32, g32 = denseam.energy_and_grad(m32, q32, kernel=kernel, beta=beta)
        assert e32.dtype == np.float32 and g32.dtype == np.float32
        assert denseam.energy(m32, q32, kernel=kernel, beta=beta).dtype == np.float32
        assert denseam.grad(m32, q32, kernel=kernel, beta=beta).dtype == np.float32
        e64 = denseam.energy(m32.astype(np.float64), q32.astype(np.float64), kernel=kernel, beta=beta)
        np.testing.assert_allclose(e32, e64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "mem_dtype,qry_dtype,expected",
    [
        (np.float64, np.float64, np.float64),
        (np.float32, np.float32, np.float32),
        (np.float32, np.float64, np.float64),
        (np.float64, np.float32, np.float64),
        (np.int64, np.float32, np.float64),
        (np.int32, np.int32, np.float64),
        (np.float16, np.float16, np.float64),
        (np.bool_, np.float64, np.float64),
        (np.uint8, np.float32, np.float64),
    ],
)
def test_dtype_rules(mem_dtype, qry_dtype, expected):
    memories = np.array([[0, 0], [1, 0], [0, 1]]).astype(mem_dtype)
    queries = np.array([[0, 0], [1, 1]]).astype(qry_dtype)
    e, g = denseam.energy_and_grad(memories, queries, kernel="lse", beta=1.0)
    assert e.dtype == expected and g.dtype == expected
    ref = oracle_energy("lse", memories.astype(float), queries.astype(float), 1.0)
    np.testing.assert_allclose(e, ref, rtol=1e-6 if expected == np.float32 else 1e-12)


def test_lists_and_tuples_are_accepted():
    e = denseam.energy([[0.0, 0.0], [1, 0]], ((0, 0), (0.5, 0.5)), kernel="lsr", beta=1.0)
    ref = denseam.energy(np.array([[0.0, 0.0], [1, 0]]), np.array([[0, 0], [0.5, 0.5]]),
                         kernel="lsr", beta=1.0)
    assert e.dtype == np.float64
    np.testing.assert_array_equal(e, ref)


def test_non_contiguous_and_foreign_layouts_give_the_same_result(rng):
    base_m = rng.normal(size=(80, 12))
    base_q = rng.normal(size=(30, 12))
    ref = denseam.energy(base_m[:, :6], base_q[:, :6], kernel="lse", beta=2.0)
    variants = [
        (np.asfortranarray(base_m[:, :6]), base_q[:, :6]),
        (base_m[:, :6].copy(), np.ascontiguousarray(base_q[:, :6])),
        (base_m[:, :6], base_q[:, :6].astype(">f8")),  # big-endian
        (np.ascontiguousarray(base_m[:, :6][::-1])[::-1], base_q[:, :6]),  # negative row stride
    ]
    for m, q in variants:
        np.testing.assert_allclose(denseam.energy(m, q, kernel="lse", beta=2.0), ref,
                                   rtol=1e-13, atol=1e-13)
    # Every second row / column: strided views.
    ref2 = denseam.energy(base_m[::2, ::2].copy(), base_q[::3, ::2].copy(), kernel="lsr", beta=0.3)
    np.testing.assert_allclose(denseam.energy(base_m[::2, ::2], base_q[::3, ::2], kernel="lsr", beta=0.3),
                               ref2, rtol=1e-13, atol=1e-13)


def test_inputs_are_not_modified(cloud):
    memories, queries = cloud
    m0, q0 = memories.copy(), queries.copy()
    denseam.energy_and_grad(memories, queries, kernel="lsr", beta=6.0)
    denseam.retrieve(memories, queries, kernel="lsr", beta=6.0)
    np.testing.assert_array_equal(memories, m0)
    np.testing.assert_array_equal(queries, q0)


def test_read_only_inputs_are_fine(cloud):
    memories, queries = cloud
    expected = denseam.energy_and_grad(memories.copy(), queries.copy(), kernel="lsr", beta=6.0)
    m_before, q_before = memories.copy(), queries.copy()
    memories.setflags(write=False)
    queries.setflags(write=False)
    e, g = denseam.energy_and_grad(memories, queries, kernel="lsr", beta=6.0)
    # Same bits as from writable arrays; the inputs are neither copied back nor changed.
    np.testing.assert_array_equal(e, expected[0])
    np.testing.assert_array_equal(g, expected[1])
    assert not memories.flags.writeable and not queries.flags.writeable
    np.testing.assert_array_equal(memories, m_before)
    np.testing.assert_array_equal(queries, q_before)
    r = denseam.retrieve(memories, queries[:5], kernel="lsr", beta=6.0)
    np.testing.assert_array_equal(r.states,
                                  denseam.retrieve(m_before, q_before[:5], kernel="lsr",
                                                   beta=6.0).states)


def test_empty_query_batch():
    e, g = denseam.energy_and_grad(np.eye(3), np.zeros((0, 3)), kernel="lse", beta=1.0)
    assert e.shape == (0,) and g.shape == (0, 3)


def test_defaults_come_from_the_library():
    # kernel="lsr", eps=0 in the C++ energy_params{}; the signature shows them. beta has no
    # default (issue 9: a silent beta = 1 hid forgotten arguments).
    doc = denseam.energy.__doc__.splitlines()[0]
    assert "kernel: str = 'lsr'" in doc and "beta: float," in doc and "eps: float = 0.0" in doc
    x = np.array([[0.0, 0.0], [0.5, 0.0]])
    np.testing.assert_array_equal(denseam.energy(x, x, beta=1.0),
                                  denseam.energy(x, x, kernel="lsr", beta=1.0, eps=0.0))


@pytest.mark.parametrize("kernel", ["lse", "lsr", "poly"])
def test_thread_count_does_not_change_results(kernel, rng):
    memories = rng.normal(size=(3000, 16))
    queries = rng.normal(size=(300, 16))
    e1, g1 = denseam.energy_and_grad(memories, queries, kernel=kernel, beta=0.5, n_threads=1)
    e2, g2 = denseam.energy_and_grad(memories, queries, kernel=kernel, beta=0.5, n_threads=2)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(g1, g2)


# ---- errors ------------------------------------------------------------------------------------

GOOD_M = np.zeros((3, 2))
GOOD_Q = np.zeros((4, 2))


@pytest.mark.parametrize(
    "memories,queries,kwargs,fragments",
    [
        (np.zeros(3), GOOD_Q, {}, ["memories must be a 2-D array", "(3,)"]),
        (np.zeros((2, 2, 2)), GOOD_Q, {}, ["memories must be a 2-D array", "(2, 2, 2)"]),
        (GOOD_M, np.zeros(2), {}, ["queries must be a 2-D array", "(2,)"]),
        (GOOD_M, 1.5, {}, ["queries must be a 2-D array", "()"]),
        (GOOD_M, np.zeros((4, 3)), {}, ["dimension 3", "dimension 2", "(4, 3)", "(3, 2)"]),
        (np.zeros((0, 2)), GOOD_Q, {}, ["memory set is empty", "(0, 2)"]),
        (np.zeros((3, 0)), np.zeros((4, 0)), {}, ["at least one column", "(3, 0)"]),
        (np.array([[0.0, np.nan]]), GOOD_Q, {}, ["memories", "non-finite", "row 0, column 1"]),
        (GOOD_M, np.array([[0.0, 0.0], [np.inf, 0.0]]), {}, ["queries", "non-finite", "row 1"]),
        (GOOD_M, GOOD_Q, {"beta": 0.0}, ["beta must be finite and > 0", "(got 0.0)"]),
        (GOOD_M, GOOD_Q, {"beta": -1.0}, ["beta must be finite and > 0", "-1.0"]),
        (GOOD_M, GOOD_Q, {"beta": float("nan")}, ["beta must be finite", "nan"]),
        (GOOD_M, GOOD_Q, {"beta": float("inf")}, ["beta must be finite", "inf"]),
        (GOOD_M, GOOD_Q, {"eps": -0.1}, ["eps must be finite and >= 0", "-0.1"]),
        (GOOD_M, GOOD_Q, {"kernel": "gauss"}, ["unknown kernel 'gauss'", "lse, lsr"]),
        (GOOD_M, GOOD_Q, {"q": "exp"}, ["unknown Q 'exp'", "auto, log, identity"]),
        (GOOD_M, GOOD_Q, {"kernel": "poly", "degree": 0}, ["degree must be >= 1", "0"]),
        (GOOD_M.astype(complex), GOOD_Q, {}, ["memories has complex dtype complex128"]),
        (np.array([["a", "b"]]), GOOD_Q, {}, ["memories has dtype <U1", "real numeric"]),
        ([[0.0, None]], GOOD_Q, {}, ["memories has dtype object"]),
        (GOOD_M, [[0.0, 1.0], [2.0]], {}, ["inhomogeneous"]),  # NumPy's own message
    ],
)
@pytest.mark.parametrize("fn", [denseam.energy, denseam.grad, denseam.energy_and_grad])
def test_value_errors(fn, memories, queries, kwargs, fragments):
    with pytest.raises(ValueError) as info:
        fn(memories, queries, **{"beta": 1.0, **kwargs})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))


def test_wrong_argument_types_are_type_errors():
    with pytest.raises(TypeError):
        denseam.energy(GOOD_M, GOOD_Q, beta="large")
    with pytest.raises(TypeError):
        denseam.energy(GOOD_M, GOOD_Q, "lse", beta=1.0)  # keyword-only options
