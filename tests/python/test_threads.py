# SPDX-License-Identifier: MIT
"""Thread safety: concurrent calls from several Python threads give the serial result bit for bit.

Regression test for issue 9 item 1: with n_threads=1 the engine used to change OpenBLAS's global
thread count while other calls ran; OpenBLAS then freed the per-thread buffers of GEMMs in flight
and 3 of 20 concurrent calls returned wrong energies (-0.45 where +inf was right, gradients off by
up to 40).
"""
import threading

import numpy as np
import pytest

import denseam

N_THREADS = 4
CALLS = 20


def _run_concurrently(work, n=N_THREADS):
    errors = []

    def wrapped(k):
        try:
            work(k)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(9)
    return rng.uniform(size=(3000, 16)), rng.uniform(size=(700, 16))


@pytest.mark.parametrize("kernel", ["lsr", "cosine", "lse"])
def test_concurrent_single_thread_calls_match_serial(data, kernel):
    X, Q = data
    ref_e, ref_g = denseam.energy_and_grad(X, Q, kernel=kernel, beta=6.0, n_threads=1)
    if kernel != "lse":
        # The defect showed as finite energies where +inf (outside every support) is right.
        assert np.isinf(ref_e).any() and np.isfinite(ref_e).any()
    mismatches = []

    def work(_):
        for _ in range(CALLS):
            e, g = denseam.energy_and_grad(X, Q, kernel=kernel, beta=6.0, n_threads=1)
            if not (np.array_equal(e, ref_e) and np.array_equal(g, ref_g)):
                mismatches.append(float(np.nanmax(np.abs(g - ref_g))))

    _run_concurrently(work)
    assert mismatches == [], f"{len(mismatches)} of {N_THREADS * CALLS} calls differ"


def test_mixed_thread_counts_and_numpy_blas_alongside(data):
    """Calls with 1, 2 and the default number of threads, and NumPy's own BLAS in another thread,
    all at once: every denseam result equals the serial one and NumPy's products are right."""
    X, Q = data
    ref = denseam.energy_and_grad(X, Q, kernel="lsr", beta=6.0, n_threads=1)
    A = np.random.default_rng(1).standard_normal((300, 300))
    ref_aa = A @ A
    bad = []

    def work(k):
        for _ in range(10):
            if k == 3:
                if not np.allclose(A @ A, ref_aa, rtol=1e-12, atol=1e-9):
                    bad.append("numpy")
                continue
            e, g = denseam.energy_and_grad(X, Q, kernel="lsr", beta=6.0, n_threads=[1, 2, 0][k])
            if not (np.array_equal(e, ref[0]) and np.array_equal(g, ref[1])):
                bad.append(f"denseam n_threads={[1, 2, 0][k]}")

    _run_concurrently(work)
    assert bad == []


def test_concurrent_retrieval_matches_serial(data):
    X, Q = data
    kw = dict(kernel="lse", beta=20.0, method="gradient", steps=30, lr=0.05, n_threads=1)
    ref = denseam.retrieve(X, Q[:200], **kw)
    mismatches = []

    def work(_):
        for _ in range(3):
            r = denseam.retrieve(X, Q[:200], **kw)
            if not (np.array_equal(r.states, ref.states) and np.array_equal(r.energy, ref.energy)):
                mismatches.append(1)

    _run_concurrently(work)
    assert mismatches == []
