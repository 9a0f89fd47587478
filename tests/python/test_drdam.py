# SPDX-License-Identifier: MIT
"""denseam.DistributedMemory and the random-feature functions (DrDAM), against NumPy oracles.

The oracles: the feature maps re-implemented in NumPy from denseam.random_projections and
denseam.feature_phases; the exact lse energy as a NumPy log-sum-exp; the exact variance of each
estimator of the kernel sum Z(x) = sum_mu exp(-beta/2 ||x - xi_mu||^2) (below), which sets the
tolerances (of order 1/sqrt(Y)); central finite differences for the gradients.
"""
import copy
import doctest
import pickle
import threading

import numpy as np
import pytest

import denseam

KINDS = ["fourier", "fourier-phase", "positive"]


# ---- NumPy oracles ------------------------------------------------------------------------------

def n_projections(kind, n_features):
    return n_features // 2 if kind == "fourier" else n_features


def np_feature_map(x, *, kind, n_features, beta, seed=0, orthogonal=False):
    """phi(x) from the formulas of docs/python.md, the projections and phases as the library
    draws them."""
    x = np.asarray(x, dtype=np.float64)
    s = denseam.random_projections(x.shape[1], 0, n_projections(kind, n_features), kind=kind,
                                   n_features=n_features, seed=seed, orthogonal=orthogonal)
    u = np.sqrt(beta) * x @ s.astype(np.float64).T
    y = n_features
    if kind == "fourier":
        out = np.empty((x.shape[0], y))
        out[:, 0::2] = np.sqrt(2.0 / y) * np.cos(u)
        out[:, 1::2] = np.sqrt(2.0 / y) * np.sin(u)
        return out
    if kind == "fourier-phase":
        b = denseam.feature_phases(kind=kind, n_features=n_features, seed=seed)
        return np.sqrt(2.0 / y) * np.cos(u + b)
    return np.exp(u - beta * np.sum(x * x, axis=1, keepdims=True)) / np.sqrt(y)


def gaussian(v, beta):
    return np.exp(-0.5 * beta * np.sum(v * v, axis=-1))


def lse_energy(xi, x, beta):
    """-(1/beta) log sum_mu exp(-beta/2 ||x - xi_mu||^2), one value per row of x."""
    a = -0.5 * beta * np.sum((x[:, None, :] - xi[None, :, :]) ** 2, axis=-1)
    top = a.max(axis=1)
    return -(top + np.log(np.exp(a - top[:, None]).sum(axis=1))) / beta


def kernel_sum_and_std(kind, x, xi, beta, n_features):
    """Z(x) and the standard deviation of its estimate <phi(x), T> with independent projections
    (exact: Var = (E[h^2] - Z^2) / P for the P i.i.d. terms h of each map).
    fourier: h = sum_mu cos(w.a_mu), a = x - xi; E[cos(w.a) cos(w.b)] = (k(a-b) + k(a+b))/2.
    fourier-phase: h = sum_mu cos(w.a_mu) + cos(w.(x + xi_mu) + 2b), the phase terms adding
    k(xi_mu - xi_nu)/2. positive: h = sum_mu exp(w.(x + xi_mu) - beta (|x|^2 + |xi_mu|^2)),
    E[exp(w.v)] = exp(beta |v|^2 / 2)."""
    a = x[None, :] - xi
    z = gaussian(a, beta).sum()
    if kind == "positive":
        s = x[None, :] + xi
        ss = s[:, None, :] + s[None, :, :]
        nxi = np.sum(xi * xi, axis=1)
        e_h2 = np.exp(0.5 * beta * np.sum(ss * ss, axis=-1)
                      - beta * (2.0 * (x @ x) + nxi[:, None] + nxi[None, :])).sum()
    else:
        e_h2 = 0.5 * (gaussian(a[:, None] - a[None], beta) + gaussian(a[:, None] + a[None], beta)).sum()
        if kind == "fourier-phase":
            e_h2 += 0.5 * gaussian(xi[:, None] - xi[None], beta).sum()
    return z, np.sqrt(max(e_h2 - z * z, 0.0) / n_projections(kind, n_features))


@pytest.fixture(scope="module")
def data():
    """20 patterns in 4-D near the origin (so that positive features stay well conditioned) and
    8 queries near the first 8."""
    rng = np.random.default_rng(7)
    xi = rng.uniform(-0.5, 0.5, size=(20, 4))
    queries = xi[:8] + rng.normal(scale=0.1, size=(8, 4))
    return xi, queries


def memory(xi, **kw):
    kw.setdefault("beta", 2.0)
    mem = denseam.DistributedMemory(xi.shape[1], **kw)
    mem.add(xi)
    return mem


# ---- the feature map ----------------------------------------------------------------------------

@pytest.mark.parametrize("orthogonal", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_feature_map_matches_numpy(kind, orthogonal, rng):
    x = rng.normal(scale=0.7, size=(6, 5))
    kw = dict(kind=kind, n_features=96, beta=1.5, seed=11, orthogonal=orthogonal)
    phi = denseam.feature_map(x, **kw)
    assert phi.shape == (6, 96) and phi.dtype == np.float64
    np.testing.assert_allclose(phi, np_feature_map(x, **kw), rtol=1e-12, atol=1e-14)
    # The memory's T is the sum of the same features.
    mem = denseam.DistributedMemory(5, **kw)
    mem.add(x)
    np.testing.assert_allclose(mem.features, phi.sum(axis=0), rtol=1e-12, atol=1e-14)


def test_projections_and_phases(rng):
    s = denseam.random_projections(8, 0, 4096, n_features=8192, seed=3)
    assert s.shape == (4096, 8) and s.dtype == np.float32
    # N(0, I): sample mean and variance within 5 standard errors (n = 32768 values).
    n = s.size
    assert abs(s.mean()) < 5 / np.sqrt(n)
    assert abs(s.var() - 1.0) < 5 * np.sqrt(2.0 / n)
    # A row depends only on (seed, row): any slice regenerates the same values.
    np.testing.assert_array_equal(
        denseam.random_projections(8, 1000, 24, n_features=8192, seed=3), s[1000:1024])
    assert not np.array_equal(denseam.random_projections(8, 0, 4, n_features=8192, seed=4), s[:4])
    # Orthogonal: groups of dim mutually orthogonal rows (dim = 6), norms still chi_6.
    o = denseam.random_projections(6, 0, 600, n_features=600, kind="positive", seed=1,
                                   orthogonal=True).astype(np.float64)
    for g in range(0, 600, 6):
        block = o[g:g + 6]
        gram = block @ block.T
        off = gram - np.diag(np.diag(gram))
        assert np.abs(off).max() < 1e-5 * np.diag(gram).max()
    sq = np.sum(o * o, axis=1)  # chi^2_6: mean 6, variance 12
    assert abs(sq.mean() - 6.0) < 5 * np.sqrt(12.0 / sq.size)
    np.testing.assert_array_equal(  # a slice inside a group
        denseam.random_projections(6, 8, 3, n_features=600, kind="positive", seed=1,
                                   orthogonal=True).astype(np.float64), o[8:11])
    b = denseam.feature_phases(kind="fourier-phase", n_features=20000, seed=2)
    assert b.shape == (20000,) and b.min() >= 0.0 and b.max() < 2 * np.pi
    assert abs(b.mean() - np.pi) < 5 * (2 * np.pi / np.sqrt(12 * b.size))  # U[0, 2 pi)
    assert denseam.feature_phases(kind="fourier", n_features=64).shape == (0,)


@pytest.mark.parametrize("kind", KINDS)
def test_inner_products_estimate_the_gaussian_kernel(kind, rng):
    # Over 60 seeds, <phi(x), phi(y)> averages to k(x, y) (within 5 standard errors) and spreads
    # as the exact variance predicts.
    beta, y_feat, n_seeds = 1.0, 128, 60
    x = rng.uniform(-0.4, 0.4, size=(5, 3))
    y = x + rng.normal(scale=0.6, size=x.shape)
    both = np.vstack([x, y])
    est = np.array([
        np.sum(f[:5] * f[5:], axis=1)
        for f in (denseam.feature_map(both, kind=kind, n_features=y_feat, beta=beta, seed=s)
                  for s in range(n_seeds))])
    for i in range(5):
        k, sd = kernel_sum_and_std(kind, x[i], y[i][None, :], beta, y_feat)
        assert abs(est[:, i].mean() - k) < 5 * sd / np.sqrt(n_seeds)
        assert 0.6 < est[:, i].std() / sd < 1.5


# ---- energies and gradients ---------------------------------------------------------------------

@pytest.mark.parametrize("n_features", [4096, 65536])
@pytest.mark.parametrize("kind", KINDS)
def test_energy_approximates_the_exact_lse_energy(kind, n_features, data):
    xi, queries = data
    beta = 2.0
    mem = memory(xi, kind=kind, n_features=n_features, beta=beta, seed=5)
    e = mem.energy(queries)
    exact = lse_energy(xi, queries, beta)
    np.testing.assert_allclose(
        exact, denseam.energy(xi, queries, kernel="lse", beta=beta), rtol=1e-12, atol=1e-12)
    for i, x in enumerate(queries):
        z, sd = kernel_sum_and_std(kind, x, xi, beta, n_features)
        assert sd < 5.0 / np.sqrt(n_features) * z  # the error scale is 1/sqrt(Y) here
        assert abs(np.exp(-beta * e[i]) - z) < 5 * sd
        assert abs(e[i] - exact[i]) < 5.5 * sd / (beta * z)  # log: the delta method


@pytest.mark.parametrize("kind", KINDS)
def test_orthogonal_features_are_no_worse(kind, data):
    xi, queries = data
    beta, y_feat = 2.0, 16384
    mem = memory(xi, kind=kind, n_features=y_feat, beta=beta, orthogonal=True)
    z_est = np.exp(-beta * mem.energy(queries))
    for i, x in enumerate(queries):
        z, sd = kernel_sum_and_std(kind, x, xi, beta, y_feat)
        assert abs(z_est[i] - z) < 5 * sd


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences(kind, data):
    xi, queries = data
    mem = memory(xi, kind=kind, n_features=2048, beta=2.0, seed=1)
    e, g = mem.energy_and_grad(queries)
    np.testing.assert_array_equal(e, mem.energy(queries))
    np.testing.assert_array_equal(g, mem.grad(queries))
    h = 1e-5
    d = queries.shape[1]
    steps = np.repeat(queries, 2 * d, axis=0)
    for k in range(d):
        steps[2 * k::2 * d, k] += h
        steps[2 * k + 1::2 * d, k] -= h
    es = mem.energy(steps).reshape(len(queries), d, 2)
    fd = (es[:, :, 0] - es[:, :, 1]) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)
    # And, at large Y, the exact lse gradient (x - softmax-weighted mean of the patterns).
    big = memory(xi, kind=kind, n_features=65536, beta=2.0)
    exact = denseam.grad(xi, queries, kernel="lse", beta=2.0)
    assert np.abs(big.grad(queries) - exact).max() < 0.05


def test_unsupported_queries_have_infinite_energy_and_zero_gradient():
    mem = denseam.DistributedMemory(2, n_features=256, beta=1.0)
    e, g = mem.energy_and_grad([[0.0, 0.0]])  # empty memory: T = 0
    assert e[0] == np.inf and np.all(g == 0.0)
    mem.add([[0.0, 0.0]])
    far = np.array([[40.0, 40.0], [0.1, 0.0]])
    e, g = mem.energy_and_grad(far)  # far away, <phi(x), T> is noise: +inf where it is <= 0
    phi_x = denseam.feature_map(far, n_features=256, beta=1.0)
    inner = phi_x @ mem.features
    assert np.array_equal(np.isinf(e), inner <= 0) and e[1] < np.inf
    assert np.all(g[np.isinf(e)] == 0.0)
    np.testing.assert_allclose(e[~np.isinf(e)], -np.log(inner[inner > 0]), rtol=1e-10)


# ---- add / remove / clear -----------------------------------------------------------------------

def test_add_remove_round_trip(data):
    xi, queries = data
    mem = denseam.DistributedMemory(4, n_features=1024, beta=2.0)
    assert len(mem) == 0 and mem.size == 0 and np.all(mem.features == 0.0)
    mem.add(xi[:12])
    t12, e12 = mem.features, mem.energy(queries)
    mem.add(xi[12:])
    assert len(mem) == 20
    np.testing.assert_allclose(mem.features,
                               denseam.feature_map(xi, n_features=1024, beta=2.0).sum(axis=0),
                               rtol=1e-12, atol=1e-14)
    mem.remove(xi[12:])
    assert mem.size == 12
    np.testing.assert_allclose(mem.features, t12, rtol=0, atol=1e-14)
    np.testing.assert_allclose(mem.energy(queries), e12, rtol=1e-12)
    with pytest.raises(ValueError, match="cannot remove 13 patterns: the memory holds 12"):
        mem.remove(xi[:13])
    mem.clear()
    assert len(mem) == 0 and np.all(mem.features == 0.0)
    # features is a copy: changing it does not change the memory.
    mem.add(xi)
    t = mem.features
    t[:] = 0.0
    assert np.any(mem.features != 0.0)


def test_failed_add_leaves_the_memory_unchanged(data):
    xi, _ = data
    mem = memory(xi[:5], n_features=256)
    before = mem.features
    bad = xi[5:10].copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="row 3, column 2"):
        mem.add(bad)
    np.testing.assert_array_equal(mem.features, before)
    assert len(mem) == 5


# ---- save / load / pickle -----------------------------------------------------------------------

@pytest.mark.parametrize("kind,orthogonal", [("fourier", False), ("fourier-phase", True),
                                             ("positive", False)])
def test_save_load_round_trip(kind, orthogonal, data, tmp_path):
    xi, queries = data
    mem = memory(xi, kind=kind, n_features=512, beta=0.75, seed=2**64 - 1, orthogonal=orthogonal)
    path = tmp_path / "memory.safetensors"
    mem.save(path)  # os.PathLike, str and bytes work
    for cache, name in [(False, str(path)), (True, bytes(path))]:
        back = denseam.DistributedMemory.load(name, cache_projections=cache)
        assert (back.dim, back.kind, back.n_features, back.beta, back.seed, back.orthogonal,
                len(back), back.cache_projections) == (4, kind, 512, 0.75, 2**64 - 1, orthogonal,
                                                        20, cache)
        np.testing.assert_array_equal(back.features, mem.features)
        np.testing.assert_array_equal(back.energy_and_grad(queries)[1],
                                      mem.energy_and_grad(queries)[1])
    assert repr(back) == repr(mem).replace(", size=", ", cache_projections=True, size=")
    for clone in (pickle.loads(pickle.dumps(mem)), copy.deepcopy(mem)):
        assert repr(clone) == repr(mem)
        np.testing.assert_array_equal(clone.energy(queries), mem.energy(queries))


def test_load_errors_name_the_file(data, tmp_path):
    xi, _ = data
    good = tmp_path / "good.safetensors"
    memory(xi, n_features=64).save(good)
    raw = good.read_bytes()
    cases = {
        "missing.safetensors": None,
        "garbage.safetensors": b"this is not a safetensors file at all",
        "truncated.safetensors": raw[: len(raw) - 100],
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ValueError) as info:
            denseam.DistributedMemory.load(path)
        assert name in str(info.value) and "\n" not in str(info.value)
    # A valid safetensors file of another kind: the metadata format is checked.
    foreign = tmp_path / "foreign.safetensors"
    foreign.write_bytes(raw.replace(b"denseam-distributed-memory", b"denseam-distributed-memorx"))
    with pytest.raises(ValueError, match="foreign.safetensors.*not a denseam distributed memory"):
        denseam.DistributedMemory.load(foreign)
    # Metadata that contradicts the tensor (dim = 0).
    bad_dim = tmp_path / "bad_dim.safetensors"
    bad_dim.write_bytes(raw.replace(b'"dim":"4"', b'"dim":"0"'))
    assert b'"dim":"4"' in raw
    with pytest.raises(ValueError, match="bad_dim.safetensors"):
        denseam.DistributedMemory.load(bad_dim)


# ---- dtypes, threads, errors --------------------------------------------------------------------

def test_dtypes_follow_the_queries(data):
    xi, queries = data
    mem = memory(xi, n_features=4096)
    q32 = queries.astype(np.float32)
    e32, g32 = mem.energy_and_grad(q32)
    e64, g64 = mem.energy_and_grad(q32.astype(np.float64))
    assert e32.dtype == g32.dtype == np.float32 and e64.dtype == g64.dtype == np.float64
    np.testing.assert_allclose(e32, e64, rtol=0, atol=2e-5 * np.abs(e64).max() + 1e-6)
    np.testing.assert_allclose(g32, g64, rtol=0, atol=2e-5 * np.abs(g64).max() + 1e-6)
    assert mem.energy(queries.tolist()).dtype == np.float64  # lists, ints: float64
    assert mem.energy(np.zeros((2, 4), dtype=np.int32)).dtype == np.float64
    assert mem.retrieve(q32, steps=3).states.dtype == np.float32
    assert mem.retrieve(queries, steps=3).states.dtype == np.float64
    # float32 patterns are summed in float64: the same T as their float64 values.
    m32 = memory(xi.astype(np.float32), n_features=4096)
    m64 = memory(xi.astype(np.float32).astype(np.float64), n_features=4096)
    np.testing.assert_array_equal(m32.features, m64.features)


def test_results_do_not_depend_on_threads_or_the_projection_cache(data):
    xi, queries = data
    kw = dict(kind="fourier", n_features=8192, beta=2.0, seed=9)
    runs = []
    for n_threads, cache in [(1, False), (3, False), (2, True)]:
        mem = denseam.DistributedMemory(4, cache_projections=cache, **kw)
        mem.add(xi, n_threads=n_threads)
        e, g = mem.energy_and_grad(queries, n_threads=n_threads)
        r = mem.retrieve(queries, steps=20, noise=0.05, seed=4, n_threads=n_threads)
        runs.append((mem.features, e, g, r.states, r.energy))
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)
    # Concurrent Python threads (GIL released) on one memory: the serial bits.
    mem = memory(xi, **kw)
    serial = mem.energy(queries, n_threads=1)
    out = [None] * 4

    def work(i):
        out[i] = mem.energy(queries, n_threads=1)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in out:
        np.testing.assert_array_equal(o, serial)


BAD_CALLS = [
    (lambda m: m.energy(np.zeros((2, 5))), "queries have 5 columns; the memory's dimension is 4"),
    (lambda m: m.add(np.zeros((2, 3))), "patterns have 3 columns; the memory's dimension is 4"),
    (lambda m: m.energy([[0.0, np.inf, 0.0, 0.0]]), "non-finite value"),
    (lambda m: m.add([[0.0, 0.0, np.nan, 0.0]]), r"non-finite value \(nan\) at row 0, column 2"),
    (lambda m: m.energy([1.0, 2.0, 3.0, 4.0]), r"2-D array .* shape \(4,\)"),
    (lambda m: m.retrieve(np.zeros((1, 4)), method="fixed-point"), "gradient descent only"),
    (lambda m: m.retrieve(np.zeros((1, 4)), beta_schedule=[1.0, 2.0]), "beta schedule"),
    (lambda m: m.retrieve(np.zeros((1, 4)), seed=3), "seed has no effect without noise"),
    (lambda m: m.retrieve(np.zeros((1, 4)), clamp=[4]), "clamped coordinate 4 is out of range"),
    (lambda m: denseam.DistributedMemory(4, kind="gauss", beta=1.0), "unknown feature map 'gauss'"),
    (lambda m: denseam.DistributedMemory(4, n_features=1001, beta=1.0), "Y must be even"),
    (lambda m: denseam.DistributedMemory(4, beta=0.0), r"beta must be finite and > 0 \(got 0.0\)"),
    (lambda m: denseam.DistributedMemory(4, beta=-1.0), r"beta must be finite and > 0"),
    (lambda m: denseam.DistributedMemory(4, beta=float("nan")), "beta must be finite"),
    (lambda m: denseam.DistributedMemory(0, beta=1.0), r"dim must be >= 1 \(got 0\)"),
    (lambda m: denseam.DistributedMemory(4, n_features=0, beta=1.0), r"Y must be in \[1, 2\^32\]"),
    (lambda m: denseam.DistributedMemory(1, kind="positive", beta=1.0).add([[30.0]]), "> 700"),
    (lambda m: denseam.feature_map(np.zeros((2, 2)), n_features=7, beta=1.0), "Y must be even"),
    (lambda m: denseam.feature_map(np.zeros((2, 2)), kind="cos", n_features=7, beta=-2.0),
     "beta must be finite and > 0"),
    (lambda m: denseam.random_projections(3, 30, 4, n_features=64), "the map has 32 projections"),
    (lambda m: denseam.random_projections(3, 0, -1, n_features=64), "rows = -1"),
    (lambda m: denseam.memory_footprint(-1, 3), r"n_patterns must be >= 0 \(got -1\)"),
    (lambda m: denseam.memory_footprint(10, 0), r"dim must be >= 1"),
]


@pytest.mark.parametrize("call,message", BAD_CALLS, ids=[m for _, m in BAD_CALLS])
def test_bad_input_is_a_value_error_with_a_clear_message(call, message, data):
    mem = memory(data[0], n_features=64)
    before = mem.features
    with pytest.raises(ValueError, match=message) as info:
        call(mem)
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(mem.features, before)


def test_keywords_beta_required_and_typos_named():
    with pytest.raises(TypeError, match=r"^DistributedMemory\(\) missing required keyword "
                                        r"argument 'beta'$"):
        denseam.DistributedMemory(3)
    with pytest.raises(TypeError, match="'n_feature' .did you mean 'n_features'"):
        denseam.DistributedMemory(3, beta=1.0, n_feature=64)
    with pytest.raises(TypeError, match="'knd' .did you mean 'kind'"):
        denseam.feature_map([[0.0]], beta=1.0, knd="positive")
    mem = denseam.DistributedMemory(3, beta=1.0, n_features=64)
    with pytest.raises(TypeError, match="DistributedMemory.retrieve.*'stepz'"):
        mem.retrieve([[0.0, 0.0, 0.0]], stepz=3)


# ---- retrieval ----------------------------------------------------------------------------------

def test_retrieval_result_and_clamp(data):
    xi, queries = data
    mem = memory(xi, n_features=8192, beta=8.0, cache_projections=True)
    res = mem.retrieve(queries, steps=300, lr=0.2, clamp=[0, 2], n_threads=1)
    assert isinstance(res, denseam.RetrievalResult) and len(res) == 8
    assert res.method == "gradient" and res.kernel == "lse"
    np.testing.assert_array_equal(res.states[:, [0, 2]], queries[:, [0, 2]])
    assert np.any(res.states[:, [1, 3]] != queries[:, [1, 3]])
    np.testing.assert_array_equal(res.energy, mem.energy(res.states))
    assert np.all(res.energy <= mem.energy(queries))
    assert np.all(res.status == denseam.RetrievalStatus.converged)
    g = mem.grad(res.states)
    assert np.abs(g[:, [1, 3]]).max() < 1e-6  # tol: the free coordinates are stationary
    assert np.abs(g[:, [0, 2]]).max() > 1e-3  # the clamped ones need not be
    # A boolean mask is the same clamp; the result pickles.
    res2 = mem.retrieve(queries, steps=300, lr=0.2, clamp=[True, False, True, False],
                        n_threads=1)
    np.testing.assert_array_equal(res2.states, res.states)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(res)).states, res.states)


def test_retrieval_noise_is_seeded_and_far_queries_stop_out_of_support():
    mem = denseam.DistributedMemory(2, n_features=512, beta=1.0)
    mem.add([[0.0, 0.0], [2.0, 0.0]])
    # A far query where <phi(x), T> <= 0 (NumPy: the features of x against T).
    candidates = np.array([[60.0 + k, -60.0] for k in range(50)])
    inner = denseam.feature_map(candidates, n_features=512, beta=1.0) @ mem.features
    far = candidates[np.argmax(inner <= 0)]
    assert np.dot(denseam.feature_map([far], n_features=512, beta=1.0)[0], mem.features) <= 0
    q = np.array([[0.3, 0.2], far])
    a = mem.retrieve(q, steps=50, noise=0.1, seed=1)
    b = mem.retrieve(q, steps=50, noise=0.1, seed=1)
    c = mem.retrieve(q, steps=50, noise=0.1, seed=2)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states[0], c.states[0])
    assert list(a.status_names) == ["max-steps", "out-of-support"]
    assert np.isinf(a.energy[1]) and a.steps[1] == 0
    np.testing.assert_array_equal(a.states[1], far)
    empty = denseam.DistributedMemory(2, n_features=64, beta=1.0)
    assert empty.retrieve(q).status_names.tolist() == ["out-of-support"] * 2


def test_retrieval_converges_to_exact_lse_descent_as_y_grows():
    rng = np.random.default_rng(1)
    xi = rng.uniform(-1.5, 1.5, size=(5, 3))
    q = xi + rng.normal(scale=0.3, size=xi.shape)
    beta, kw = 4.0, dict(steps=200, lr=0.1, tol=0.0, n_threads=1)
    exact = denseam.retrieve(xi, q, kernel="lse", beta=beta, method="gradient", **kw).states
    err = {}
    for y in (512, 65536):
        err[y] = np.mean([
            np.abs(memory(xi, n_features=y, beta=beta, seed=s, cache_projections=True)
                   .retrieve(q, **kw).states - exact).max() for s in range(2)])
    assert err[65536] < 0.03
    assert err[65536] < err[512] / 4  # sqrt(128) ~ 11 expected


# ---- footprint, repr, docs ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_memory_footprint_and_nbytes(kind):
    y, d = 4096, 50
    f = denseam.memory_footprint(1000, d, kind=kind, n_features=y)
    p = n_projections(kind, y)
    assert f["explicit_bytes"] == 4 * 1000 * d
    assert f["distributed_bytes"] == 8 * y
    assert f["reference_bytes"] == 4 * p * d + 4 * y
    m = f["break_even_patterns"]
    smaller = denseam.memory_footprint(m, d, kind=kind, n_features=y)
    before = denseam.memory_footprint(m - 1, d, kind=kind, n_features=y)
    assert smaller["distributed_bytes"] < smaller["explicit_bytes"]
    assert before["distributed_bytes"] >= before["explicit_bytes"]
    assert denseam.DistributedMemory(d, kind=kind, n_features=y, beta=1.0).nbytes == 8 * y
    cached = denseam.DistributedMemory(d, kind=kind, n_features=y, beta=1.0,
                                       cache_projections=True)
    assert cached.nbytes == 8 * y + 4 * p * d


def test_repr_and_attributes():
    mem = denseam.DistributedMemory(3, kind="positive", n_features=100, beta=0.5, seed=7,
                                    orthogonal=True)
    assert repr(mem) == ("DistributedMemory(dim=3, kind='positive', n_features=100, beta=0.5, "
                         "seed=7, orthogonal=True, size=0)")
    assert mem.n_projections == 100
    assert denseam.DistributedMemory(3, kind="sincos", n_features=100, beta=1.0).kind == "fourier"
    defaults = denseam.DistributedMemory(3, beta=1.0)
    assert (defaults.kind, defaults.n_features, defaults.seed, defaults.orthogonal,
            defaults.cache_projections, defaults.n_projections) == ("fourier", 65536, 0, False,
                                                                    False, 32768)


@pytest.mark.parametrize("name", ["DistributedMemory", "feature_map", "random_projections",
                                  "feature_phases", "memory_footprint"])
def test_docstring_examples(name):
    obj = getattr(denseam, name)
    tests = doctest.DocTestFinder(recurse=False).find(obj, name,
                                                      globs={"np": np, "denseam": denseam})
    assert sum(len(t.examples) for t in tests) > 0, f"{name} has no example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0
