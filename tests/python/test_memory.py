# SPDX-License-Identifier: MIT
"""denseam.Memory: parameters, copy semantics, calls, pickling."""
import copy
import pickle

import numpy as np
import pytest

import denseam


@pytest.fixture
def patterns(rng):
    return rng.uniform(0.0, 1.0, size=(30, 4))


def test_attributes_and_repr(patterns):
    mem = denseam.Memory(patterns, kernel="lse", beta=2.5, eps=0.125)
    assert len(mem) == 30 and mem.n_memories == 30 and mem.dim == 4
    assert mem.kernel == "lse" and mem.beta == 2.5 and mem.eps == 0.125
    assert mem.q == "auto" and mem.degree == 3 and mem.dtype == np.float64
    assert repr(mem) == "Memory(n_memories=30, dim=4, dtype=float64, kernel='lse', beta=2.5, eps=0.125)"
    poly = denseam.Memory(patterns.astype(np.float32), kernel="poly", beta=0.5, q="log", degree=2)
    assert poly.dtype == np.float32
    assert repr(poly) == ("Memory(n_memories=30, dim=4, dtype=float32, kernel='poly', beta=0.5, "
                          "eps=0.0, q='log', degree=2)")


def test_defaults_come_from_the_library(patterns):
    mem = denseam.Memory(patterns, beta=2.0)  # beta is required: no silent default
    assert (mem.kernel, mem.beta, mem.eps, mem.q, mem.degree) == ("lsr", 2.0, 0.0, "auto", 3)


def test_calls_match_the_free_functions(patterns, rng):
    queries = rng.uniform(0.0, 1.0, size=(12, 4))
    kw = dict(kernel="lsr", beta=3.0, eps=0.01)
    mem = denseam.Memory(patterns, **kw)
    np.testing.assert_array_equal(mem.energy(queries), denseam.energy(patterns, queries, **kw))
    np.testing.assert_array_equal(mem.grad(queries), denseam.grad(patterns, queries, **kw))
    e, g = mem.energy_and_grad(queries)
    e2, g2 = denseam.energy_and_grad(patterns, queries, **kw)
    np.testing.assert_array_equal(e, e2)
    np.testing.assert_array_equal(g, g2)
    r = mem.retrieve(queries)
    r2 = denseam.retrieve(patterns, queries, **kw)
    np.testing.assert_array_equal(r.states, r2.states)
    np.testing.assert_array_equal(r.support_indices, r2.support_indices)
    rg = mem.retrieve(queries, method="gradient", steps=7, lr=0.01, lr_end=0.001, clamp=[1],
                      noise=0.1, seed=3)
    rg2 = denseam.retrieve(patterns, queries, method="gradient", steps=7, lr=0.01, lr_end=0.001,
                           clamp=[1], noise=0.1, seed=3, **kw)
    np.testing.assert_array_equal(rg.states, rg2.states)


def test_dtype_rules(patterns):
    m32 = denseam.Memory(patterns.astype(np.float32), kernel="lse", beta=2.0)
    q = patterns[:3]
    assert m32.energy(q.astype(np.float32)).dtype == np.float32
    assert m32.energy(q).dtype == np.float64
    assert m32.retrieve(q.astype(np.float32)).states.dtype == np.float32
    assert m32.retrieve(q).states.dtype == np.float64
    m64 = denseam.Memory(patterns.astype(np.int64), kernel="lse", beta=2.0)
    assert m64.dtype == np.float64
    assert m64.energy(q.astype(np.float32)).dtype == np.float64


def test_private_copy_and_read_only_patterns(patterns):
    original = patterns.copy()
    mem = denseam.Memory(patterns, kernel="lsr", beta=3.0)
    before = mem.energy(patterns[:5])
    patterns[:] = 100.0  # the caller's array changes; the memory does not
    np.testing.assert_array_equal(mem.patterns, original)
    np.testing.assert_array_equal(mem.energy(original[:5]), before)
    view = mem.patterns
    assert not view.flags.writeable and view.flags.c_contiguous
    with pytest.raises(ValueError):
        view[0, 0] = 1.0
    with pytest.raises(ValueError):
        view.setflags(write=True)
    # Non-contiguous input: the copy is C-contiguous.
    strided = denseam.Memory(np.asfortranarray(original)[::2], kernel="lsr", beta=3.0)
    assert strided.patterns.flags.c_contiguous and len(strided) == 15


def test_pickle_and_copy_round_trip(patterns):
    mem = denseam.Memory(patterns.astype(np.float32), kernel="triweight", beta=7.5, eps=0.5)
    for back in [pickle.loads(pickle.dumps(mem)), copy.copy(mem), copy.deepcopy(mem),
                 pickle.loads(pickle.dumps(mem, protocol=2))]:
        assert repr(back) == repr(mem)
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back.patterns, mem.patterns)
        np.testing.assert_array_equal(back.energy(patterns[:4]), mem.energy(patterns[:4]))
        assert not back.patterns.flags.writeable


@pytest.mark.parametrize(
    "patterns_,kwargs,fragments",
    [
        (np.zeros(3), {}, ["patterns must be a 2-D array", "(3,)"]),
        (np.zeros((0, 3)), {}, ["memory set is empty", "(0, 3)"]),
        (np.array([[np.inf, 0.0]]), {}, ["non-finite"]),
        (np.zeros((2, 2)), {"beta": -2.0}, ["beta must be finite and > 0"]),
        (np.zeros((2, 2)), {"kernel": "rbf"}, ["unknown kernel 'rbf'"]),
        (np.zeros((2, 2)), {"eps": float("inf")}, ["eps must be finite"]),
    ],
)
def test_constructor_errors(patterns_, kwargs, fragments):
    with pytest.raises(ValueError) as info:
        denseam.Memory(patterns_, **{"beta": 1.0, **kwargs})
    for fragment in fragments:
        assert fragment in str(info.value)


def test_query_errors(patterns):
    mem = denseam.Memory(patterns, kernel="lsr", beta=3.0)
    with pytest.raises(ValueError, match="dimension 2 but memories have dimension 4"):
        mem.energy(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="queries must be a 2-D array"):
        mem.grad(np.zeros(4))
    with pytest.raises(ValueError, match="non-finite"):
        mem.retrieve([[np.nan, 0, 0, 0]])
