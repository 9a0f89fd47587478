# SPDX-License-Identifier: MIT
"""ClAM (clustering with associative memories): the private bindings _clam_loss / _clam_assign /
_clam_fit against NumPy re-implementations of the formulas of include/denseam/clam.hpp and
central finite differences, and the estimator denseam.ClAM against scikit-learn's conventions
(check_estimator, every check run, none skipped), make_blobs + adjusted_rand_score, and its
error messages."""
import _thread
import math
import pathlib
import pickle
import re
import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import denseam
from denseam import _denseam

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


# ---- NumPy oracles: the formulas of clam.hpp, written independently ------------------------


def np_pull(V, P, kernel, beta, eps=0.0):
    """g(v) for each row of V (n, d) and prototypes P (k, d) (eps: lsr's, in eps + S)."""
    R = P[None, :, :] - V[:, None, :]  # (n, k, d): r_mu = rho_mu - v
    q = np.einsum("nkd,nkd->nk", R, R)
    if kernel == "lse":
        a = -0.5 * beta * q
        w = np.exp(a - a.max(axis=1, keepdims=True))
        w /= w.sum(axis=1, keepdims=True)
        return np.einsum("nk,nkd->nd", w, R)
    h = 0.5 * beta * q
    inside = h < 1.0
    S = np.where(inside, 1.0 - h, 0.0).sum(axis=1) + np.where(inside.any(axis=1), eps, 0.0)
    num = np.einsum("nk,nkd->nd", inside.astype(float), R)
    return np.where(S[:, None] > 0, num / np.where(S > 0, S, 1.0)[:, None], 0.0)


def np_forward(X, M, fill, P, kernel, beta, steps, alpha, eps=0.0):
    """v_T of the masked dynamics: v_0 = x with masked coordinates at fill, then
    v_{t+1} = v_t + alpha m (.) g(v_t)."""
    V = np.where(M != 0, fill[None, :], X)
    for _ in range(steps):
        V = V + alpha * M * np_pull(V, P, kernel, beta, eps)
    return V


def np_loss(X, M, fill, P, kernel, beta, steps, alpha):
    V = np_forward(X, M, fill, P, kernel, beta, steps, alpha)
    return float((M * (V - X) ** 2).sum() / X.size)


def problem(seed, n=12, d=4, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    M = (rng.random((n, d)) < 0.4).astype(float)
    fill = X.mean(axis=0)
    P = rng.normal(scale=0.8, size=(k, d))
    return X, M, fill, P


def loss(X, M, fill, P, kernel, beta, steps, alpha=0.1, **kw):
    return _denseam._clam_loss(X, M, fill, P, kernel=kernel, beta=beta, steps=steps,
                               alpha=alpha, **kw)


# ---- the loss --------------------------------------------------------------------------------


@pytest.mark.parametrize("kernel", ["lse", "lsr"])
def test_loss_without_steps_is_the_reconstruction_error_of_the_fill(kernel):
    X, M, fill, P = problem(1)
    # No masked coordinate: nothing to reconstruct, at any T.
    for steps in (0, 3):
        assert loss(X, np.zeros_like(M), fill, P, kernel, 1.0, steps) == 0.0
    # T = 0: the masked coordinates stay at the fill.
    expected = float((M * (fill[None, :] - X) ** 2).sum() / X.size)
    assert loss(X, M, fill, P, kernel, 1.0, 0) == pytest.approx(expected, rel=1e-14)
    ones = np.ones_like(M)  # every coordinate masked: the plain error of the feature means
    assert loss(X, ones, fill, P, kernel, 1.0, 0) == pytest.approx(
        float(np.mean((fill[None, :] - X) ** 2)), rel=1e-14)
    # ... and its gradient is zero (the prototypes play no part).
    _, g = loss(X, M, fill, P, kernel, 1.0, 0, grad=True)
    assert np.array_equal(g, np.zeros_like(P))


@pytest.mark.parametrize("kernel,beta", [("lse", 1.3), ("lsr", 0.9)])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_loss_matches_numpy_dynamics(kernel, beta, steps):
    X, M, fill, P = problem(2 + steps)
    ours = loss(X, M, fill, P, kernel, beta, steps, alpha=0.2)
    ref = np_loss(X, M, fill, P, kernel, beta, steps, alpha=0.2)
    assert ref > 0.0
    assert ours == pytest.approx(ref, rel=1e-12, abs=1e-15)
    if kernel == "lsr":  # the case has points inside and outside the supports
        h = 0.5 * beta * ((P[None] - np.where(M != 0, fill, X)[:, None]) ** 2).sum(-1)
        assert (h < 1).any() and (h.min(axis=1) >= 1).any()
    # The loss alone and with its gradient agree.
    with_grad, _ = loss(X, M, fill, P, kernel, beta, steps, alpha=0.2, grad=True)
    assert with_grad == ours


@pytest.mark.parametrize("kernel,beta", [("lse", 1.3), ("lse", 4.0), ("lsr", 0.9), ("lsr", 0.4)])
@pytest.mark.parametrize("steps", [1, 3, 10])
def test_gradient_matches_central_differences(kernel, beta, steps):
    X, M, fill, P = problem(10 + steps, n=8, d=3, k=3)
    _, g = loss(X, M, fill, P, kernel, beta, steps, alpha=0.2, grad=True)
    assert g.shape == P.shape and np.abs(g).max() > 1e-3
    h = 1e-6
    fd = np.empty_like(P)
    for idx in np.ndindex(*P.shape):
        Pp, Pm = P.copy(), P.copy()
        Pp[idx] += h
        Pm[idx] -= h
        fd[idx] = (loss(X, M, fill, Pp, kernel, beta, steps, alpha=0.2)
                   - loss(X, M, fill, Pm, kernel, beta, steps, alpha=0.2)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("eps", [0.05, 1.0])
def test_lsr_eps_matches_numpy_and_finite_differences(eps):
    """lsr with eps: the pull sum_in r / (eps + S) of the NumPy dynamics, and the adjoint."""
    X, M, fill, P = problem(21, n=10, d=3, k=3)
    beta, steps = 0.9, 5
    ours, g = loss(X, M, fill, P, "lsr", beta, steps, alpha=0.2, eps=eps, grad=True)
    V = np_forward(X, M, fill, P, "lsr", beta, steps, 0.2, eps)
    assert ours == pytest.approx(float((M * (V - X) ** 2).sum() / X.size), rel=1e-12)
    assert ours != loss(X, M, fill, P, "lsr", beta, steps, alpha=0.2)  # eps matters
    h = 1e-6
    fd = np.empty_like(P)
    for idx in np.ndindex(*P.shape):
        Pp, Pm = P.copy(), P.copy()
        Pp[idx] += h
        Pm[idx] -= h
        fd[idx] = (loss(X, M, fill, Pp, "lsr", beta, steps, alpha=0.2, eps=eps)
                   - loss(X, M, fill, Pm, "lsr", beta, steps, alpha=0.2, eps=eps)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


def test_loss_errors_name_the_input():
    X, M, fill, P = problem(3)
    with pytest.raises(ValueError, match="fill"):
        loss(X, M, fill[:-1], P, "lse", 1.0, 2)
    with pytest.raises(ValueError, match="beta"):
        loss(X, M, fill, P, "lse", 0.0, 2)
    with pytest.raises(ValueError, match="steps"):
        loss(X, M, fill, P, "lse", 1.0, -1)
    with pytest.raises(ValueError, match="lse or lsr"):
        loss(X, M, fill, P, "tophat", 1.0, 2)
    with pytest.raises(ValueError, match="unknown kernel|kernel"):
        loss(X, M, fill, P, "nope", 1.0, 2)
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="x|X"):
        loss(bad, M, fill, P, "lse", 1.0, 2)
    with pytest.raises(ValueError, match="mask"):
        loss(X, M[:, :-1], fill, P, "lse", 1.0, 2)


# ---- the assignment --------------------------------------------------------------------------


@pytest.mark.parametrize("kernel,beta", [("lse", 2.0), ("lsr", 0.7)])
def test_assign_matches_numpy_dynamics(kernel, beta):
    X, _, _, P = problem(4, n=30, d=3, k=4)
    labels, states = _denseam._clam_assign(X, P, kernel=kernel, beta=beta, steps=7, alpha=0.1)
    ref = X.copy()  # unmasked: every coordinate moves, starting at the point itself
    for _ in range(7):
        ref = ref + 0.1 * np_pull(ref, P, kernel, beta)
    np.testing.assert_allclose(states, ref, rtol=1e-12, atol=1e-13)
    d2 = ((ref[:, None, :] - P[None]) ** 2).sum(-1)
    assert labels.dtype == np.int64
    assert np.array_equal(labels, np.argmin(d2, axis=1))


# ---- the estimator ---------------------------------------------------------------------------


@parametrize_with_checks([denseam.ClAM()])
def test_sklearn_compatible_estimator(estimator, check):
    # Every check of scikit-learn's check_estimator runs; none is skipped.
    check(estimator)


def test_n_features_in_after_fitting_check():
    # Not in check_estimator's list in every scikit-learn version: run it when it exists.
    from sklearn.utils import estimator_checks

    check = getattr(estimator_checks, "check_n_features_in_after_fitting", None)
    if check is None:
        pytest.skip("this scikit-learn has no check_n_features_in_after_fitting")
    check("ClAM", denseam.ClAM())


def test_defaults_are_the_documented_ones():
    assert denseam.ClAM().get_params() == dict(
        n_clusters=8, kernel="lse", beta="auto", steps=10, alpha=0.1, eps=0.0, mask_prob=0.2,
        lr=0.01, epochs=100, batch_size=64, tol=1e-3, patience=5, random_state=None,
        n_threads=0, verbose=False)


def blobs(k, seed, d=3, n_per=40, radius=10.0, std=0.5):
    """k blobs centred on a circle of `radius` in the first two coordinates: adjacent centres
    are at least 2 radius sin(pi/5) = 11.8 apart (23 standard deviations)."""
    angle = 2 * np.pi * np.arange(k) / k
    centers = np.zeros((k, d))
    centers[:, 0], centers[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    return make_blobs(n_samples=n_per * k, centers=centers, cluster_std=std, random_state=seed)


# LSE with beta="auto" and LSR with beta=0.1 (support radius sqrt(2/0.1) = 4.5: each blob inside
# its own prototype's support, far from its edge, and outside all others). LSR with beta="auto"
# (radius 4 times the median distance to the start) recovers these blobs in most fits but not all
# (k = 5, random_state = 2: ARI 0.975): masked coordinates filled with the global mean start
# outside every support, where the LSR pull is zero, and the prototypes settle between blobs.
@pytest.mark.parametrize("kernel,beta", [("lse", "auto"), ("lsr", 0.1)])
@pytest.mark.parametrize("k", [3, 4, 5])
def test_well_separated_blobs_are_recovered(kernel, beta, k):
    X, y = blobs(k, seed=k)
    X_new, y_new = blobs(k, seed=100 + k, n_per=10)
    for rs in (0, 1, 2):
        model = denseam.ClAM(n_clusters=k, kernel=kernel, beta=beta, random_state=rs).fit(X)
        assert adjusted_rand_score(y, model.labels_) >= 0.99, f"random_state={rs}"
        assert model.cluster_centers_.shape == (k, 3)
        assert model.labels_.shape == (len(X),) and model.labels_.dtype == np.int64
        assert np.array_equal(model.predict(X), model.labels_)
        # New points of the same blobs go to the prototypes of their blobs.
        mapping = {c: np.bincount(model.labels_[y == c]).argmax() for c in range(k)}
        assert np.array_equal(model.predict(X_new), [mapping[c] for c in y_new])
        if beta != "auto":
            assert model.beta_ == beta


@pytest.mark.parametrize("kernel", ["lse", "lsr"])
def test_same_seed_same_prototypes_other_seed_other_run(kernel):
    X, _ = blobs(4, seed=0)
    a = denseam.ClAM(n_clusters=4, kernel=kernel, random_state=7, epochs=8).fit(X)
    b = denseam.ClAM(n_clusters=4, kernel=kernel, random_state=7, epochs=8).fit(X)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.loss_curve_, b.loss_curve_) and a.beta_ == b.beta_
    c = denseam.ClAM(n_clusters=4, kernel=kernel, random_state=8, epochs=8).fit(X)
    assert not np.array_equal(a.loss_curve_, c.loss_curve_)  # the seed is used
    # random_state=None draws the seed from NumPy's global RNG (as scikit-learn does).
    saved = np.random.get_state()
    try:
        np.random.seed(3)
        d = denseam.ClAM(n_clusters=4, kernel=kernel, epochs=3).fit(X)
        np.random.seed(3)
        e = denseam.ClAM(n_clusters=4, kernel=kernel, epochs=3).fit(X)
    finally:
        np.random.set_state(saved)
    assert np.array_equal(d.cluster_centers_, e.cluster_centers_)
    # A RandomState draws it too.
    f = denseam.ClAM(n_clusters=4, random_state=np.random.RandomState(5), epochs=3).fit(X)
    g = denseam.ClAM(n_clusters=4, random_state=np.random.RandomState(5), epochs=3).fit(X)
    assert np.array_equal(f.cluster_centers_, g.cluster_centers_)


def test_fit_attributes():
    X, _ = blobs(3, seed=1)
    m = denseam.ClAM(n_clusters=3, random_state=1, tol=0.0, epochs=7).fit(X)
    assert m.n_iter_ == 7 and m.loss_curve_.shape == (7,)  # tol = 0: every epoch runs
    assert m.best_loss_ == m.loss_curve_.min()
    assert m.n_features_in_ == 3 and not hasattr(m, "feature_names_in_")
    assert math.isfinite(m.beta_) and m.beta_ > 0
    r = _denseam._clam_fit(X, n_clusters=3, seed=1, tol=0.0, epochs=7)
    np.testing.assert_allclose(r["fill"], X.mean(axis=0), rtol=1e-14, atol=1e-14)
    assert np.array_equal(r["prototypes"], m.cluster_centers_)


@pytest.mark.parametrize("tol,patience", [(1e-4, 2), (0.05, 1), (1e-3, 5)])
def test_early_stopping_follows_its_rule(tol, patience):
    X, _ = blobs(3, seed=2)
    m = denseam.ClAM(n_clusters=3, random_state=3, tol=tol, patience=patience, epochs=60).fit(X)
    # The rule replayed on the loss curve: a new best by a relative tol resets the count.
    best, stale, stop = math.inf, 0, None
    for epoch, value in enumerate(m.loss_curve_, start=1):
        if value < best * (1 - tol) or not math.isfinite(best):
            best, stale = value, 0
        else:
            best = min(best, value)
            stale += 1
            if stale >= patience:
                stop = epoch
                break
    assert m.n_iter_ == (stop if stop is not None else 60) == len(m.loss_curve_)


def test_steps_zero_keeps_the_kmeanspp_start():
    # T = 0: the masked coordinates stay at the fill, the gradient is zero and Adam does not
    # move the prototypes: they are the k-means++ picks (rows of X), labels the nearest one.
    X, _ = blobs(4, seed=3)
    m = denseam.ClAM(n_clusters=4, steps=0, random_state=2, epochs=3).fit(X)
    for c in m.cluster_centers_:
        assert (X == c).all(axis=1).any()
    d2 = ((X[:, None, :] - m.cluster_centers_[None]) ** 2).sum(-1)
    assert np.array_equal(m.labels_, np.argmin(d2, axis=1))


def test_predict_uses_the_fitted_dynamics():
    X, _ = blobs(3, seed=4)
    m = denseam.ClAM(n_clusters=3, kernel="lsr", beta=0.3, random_state=0, epochs=5).fit(X)
    before = m.predict(X)
    m.set_params(steps=0, kernel="lse", beta=50.0)
    assert np.array_equal(m.predict(X), before)
    labels, _ = _denseam._clam_assign(X, m.cluster_centers_, kernel="lsr", beta=0.3, steps=10,
                                      alpha=0.1)
    assert np.array_equal(before, labels)


def test_thread_count_does_not_change_results():
    # Large enough that the library runs batches and the assignment on two threads.
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1024, 100))
    kw = dict(n_clusters=8, random_state=0, epochs=2, batch_size=512, tol=0.0)
    a = denseam.ClAM(n_threads=1, **kw).fit(X)
    b = denseam.ClAM(n_threads=2, **kw).fit(X)
    assert np.array_equal(a.cluster_centers_, b.cluster_centers_)
    assert np.array_equal(a.loss_curve_, b.loss_curve_)
    assert np.array_equal(a.labels_, b.labels_)


def test_pickle_round_trip():
    X, _ = blobs(3, seed=5)
    m = denseam.ClAM(n_clusters=3, random_state=0, epochs=5).fit(X)
    m2 = pickle.loads(pickle.dumps(m))
    assert m2.get_params() == m.get_params()
    assert np.array_equal(m2.cluster_centers_, m.cluster_centers_)
    assert np.array_equal(m2.predict(X), m.labels_)


def test_verbose_prints_each_epoch(capsys):
    X, _ = blobs(3, seed=6)
    m = denseam.ClAM(n_clusters=3, random_state=0, epochs=4, tol=0.0, verbose=True).fit(X)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == m.n_iter_ == 4
    for epoch, (line, value) in enumerate(zip(lines, m.loss_curve_), start=1):
        match = re.fullmatch(r"ClAM epoch (\d+): loss (\S+)", line)
        assert match and int(match.group(1)) == epoch
        assert float(match.group(2)) == pytest.approx(value, rel=1e-5)


def test_an_error_in_the_progress_callback_propagates():
    X, _ = blobs(3, seed=7)

    def progress(epoch, loss):
        if epoch == 2:
            raise RuntimeError("stop at epoch 2")

    with pytest.raises(RuntimeError, match="stop at epoch 2"):
        _denseam._clam_fit(X, n_clusters=3, epochs=5, progress=progress)


def test_ctrl_c_stops_a_long_fit():
    # About 0.3 s per epoch on one core here: 1000 epochs would take minutes.
    X = np.random.default_rng(0).normal(size=(2000, 50))
    model = denseam.ClAM(n_clusters=10, epochs=1000, tol=0.0, n_threads=1, random_state=0)
    timer = threading.Timer(0.3, _thread.interrupt_main)
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X)
            time.sleep(30)  # a late interrupt lands here, and the test then fails on time
    finally:
        timer.cancel()
    assert time.monotonic() - start < 5.0
    assert not hasattr(model, "cluster_centers_")
    X3, y3 = blobs(3, seed=11)  # nothing is left broken
    assert denseam.ClAM(n_clusters=3, epochs=2, random_state=0).fit(X3).n_iter_ == 2


def test_fit_releases_the_gil_and_runs_in_threads():
    X = np.random.default_rng(1).normal(size=(2000, 50))
    kw = dict(n_clusters=10, epochs=1, tol=0.0, n_threads=1, random_state=4)
    serial = denseam.ClAM(**kw).fit(X)
    results = [None] * 3

    def work(i):
        results[i] = denseam.ClAM(**kw).fit(X).cluster_centers_

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    spins = 0
    while any(t.is_alive() for t in threads):  # Python keeps running meanwhile
        spins += 1
    for t in threads:
        t.join()
    assert spins > 1000
    for centers in results:
        assert np.array_equal(centers, serial.cluster_centers_)


def test_docstring_example():
    import doctest

    import denseam.cluster

    result = doctest.testmod(denseam.cluster)
    assert result.attempted > 0 and result.failed == 0


class _Frame:
    """The two things scikit-learn reads of a DataFrame: columns and __array__."""

    def __init__(self, values, columns):
        self.values, self.columns = np.asarray(values), list(columns)

    def __array__(self, dtype=None):
        return self.values if dtype is None else self.values.astype(dtype)

    def __len__(self):
        return len(self.values)

    @property
    def shape(self):
        return self.values.shape


def test_feature_names_are_recorded():
    X, _ = blobs(3, seed=8)
    m = denseam.ClAM(n_clusters=3, random_state=0, epochs=3).fit(_Frame(X, ["a", "b", "c"]))
    assert list(m.feature_names_in_) == ["a", "b", "c"]
    assert np.array_equal(m.predict(_Frame(X, ["a", "b", "c"])), m.labels_)
    with pytest.raises(ValueError, match="feature names"):
        m.predict(_Frame(X, ["a", "b", "z"]))


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(n_clusters=0), "n_clusters"),
        (dict(n_clusters=-2), "n_clusters"),
        (dict(n_clusters=2.5), "n_clusters"),
        (dict(n_clusters=31), "n_clusters=31"),  # k > n = 30
        (dict(beta=0.0), "beta"),
        (dict(beta=-1.0), "beta"),
        (dict(beta=float("nan")), "beta"),
        (dict(beta=float("inf")), "beta"),
        (dict(beta="big"), "beta"),
        (dict(kernel="rbf"), "kernel"),
        (dict(kernel="tophat"), "kernel"),
        (dict(steps=-1), "steps"),
        (dict(alpha=0.0), "alpha"),
        (dict(mask_prob=1.5), "mask_prob"),
        (dict(mask_prob=-0.1), "mask_prob"),
        (dict(lr=0.0), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(tol=-1e-3), "tol"),
        (dict(patience=0), "patience"),
        (dict(n_threads=-1), "n_threads"),
        (dict(random_state=-1), "random_state"),
        (dict(random_state="seed"), "random_state|RandomState"),
        (dict(verbose="yes"), "verbose"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(params, match):
    X, _ = blobs(3, seed=9, n_per=10)
    with pytest.raises(ValueError, match=match):
        denseam.ClAM(n_clusters=params.pop("n_clusters", 3), **params).fit(X)


def test_bad_data_raises_value_error():
    X, _ = blobs(3, seed=10, n_per=10)
    bad = X.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        denseam.ClAM(n_clusters=3).fit(bad)
    bad[4, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        denseam.ClAM(n_clusters=3).fit(bad)
    with pytest.raises(ValueError, match="2D array"):
        denseam.ClAM(n_clusters=3).fit(X[:, 0])
    with pytest.raises(ValueError, match="n_samples=2 should be >= n_clusters=3"):
        denseam.ClAM(n_clusters=3).fit(X[:2])
    with pytest.raises(ValueError, match="0 sample"):
        denseam.ClAM(n_clusters=1).fit(X[:0])
    m = denseam.ClAM(n_clusters=3, random_state=0, epochs=2)
    with pytest.raises(NotFittedError):
        m.predict(X)
    m.fit(X)
    with pytest.raises(ValueError, match="2 features"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="NaN"):
        m.predict(np.full((2, 3), np.nan))


def test_docs_example_runs(capsys):
    text = (REPO_ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    match = re.search(r"### `ClAM`.*?```py\n(.*?)```", text, flags=re.S)
    assert match, "docs/python.md has no ClAM example"
    exec(compile(match.group(1), "docs/python.md", "exec"), {"__name__": "docs_example"})
    sentence = re.match(r"\s*prints (.*?)\.\n", text[match.end():], flags=re.S).group(1)
    shown = " ".join(re.findall(r"`([^`]*)`", sentence))
    assert capsys.readouterr().out.split() == shown.split()
