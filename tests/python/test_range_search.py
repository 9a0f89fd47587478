# SPDX-License-Identifier: MIT
"""denseam.range_search against a NumPy brute-force oracle, for every index kind."""
import numpy as np
import pytest

import denseam

KINDS = ["auto", "brute", "kdtree", "ball"]


def oracle(memories, queries, radius):
    d2 = ((queries[:, None, :].astype(np.float64) - memories[None, :, :]) ** 2).sum(axis=2)
    sets = [np.flatnonzero(row < radius * radius) for row in d2]
    return sets, d2


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dim", [1, 3, 8, 40])
def test_sets_equal_brute_force(kind, dim):
    rng = np.random.default_rng(dim)
    memories = rng.random((3000, dim))
    queries = rng.random((50, dim))
    # a radius that holds about 20 memories per query
    d2 = ((queries[:, None, :] - memories[None, :, :]) ** 2).sum(axis=2)
    radius = float(np.sqrt(np.median(np.sort(d2, axis=1)[:, 20])))
    offsets, indices, sq, used = denseam.range_search(memories, queries, radius, index=kind)
    sets, ref = oracle(memories, queries, radius)
    assert offsets.shape == (51,) and offsets[0] == 0
    for i, s in enumerate(sets):
        got = indices[offsets[i]:offsets[i + 1]]
        np.testing.assert_array_equal(got, s)
        np.testing.assert_allclose(sq[offsets[i]:offsets[i + 1]], ref[i, s], rtol=1e-12)
    if kind != "auto":
        assert used == kind


def test_boundary_is_outside_and_float32():
    # integer lattice: (3, 4) is at distance exactly 5 from the origin
    memories = np.array([[3.0, 4.0], [0.0, 5.0], [1.0, 1.0], [0.0, 4.999]], dtype=np.float32)
    queries = np.zeros((1, 2), dtype=np.float32)
    for kind in KINDS:
        offsets, indices, _, _ = denseam.range_search(memories, queries, 5.0, index=kind)
        np.testing.assert_array_equal(indices, [2, 3])
        np.testing.assert_array_equal(offsets, [0, 2])


@pytest.mark.parametrize("bad, match", [(0.0, "radius"), (-1.0, "radius"),
                                        (float("nan"), "radius")])
def test_bad_radius(bad, match):
    with pytest.raises(ValueError, match=match):
        denseam.range_search(np.zeros((3, 2)), np.zeros((1, 2)), bad)


def test_bad_index_and_shapes():
    with pytest.raises(ValueError, match="choose auto, brute, kdtree or ball"):
        denseam.range_search(np.zeros((3, 2)), np.zeros((1, 2)), 1.0, index="octree")
    with pytest.raises(ValueError, match="dimension"):
        denseam.range_search(np.zeros((3, 2)), np.zeros((1, 3)), 1.0)
