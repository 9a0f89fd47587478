# SPDX-License-Identifier: MIT
"""denseam.load_dataset / read_idx / nearest_distinct_neighbours / bstor / pxle: values from
independent oracles (scikit-learn, NumPy parses, naive loops) and parity with the CLI's JSON."""
import gzip
import json
import os
import subprocess

import numpy as np
import pytest

import denseam

FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def digits():
    sklearn = pytest.importorskip("sklearn.datasets")
    d = sklearn.load_digits()
    return d.data / 16.0, d.target


def test_sklearn_digits_equal_scikit_learn(digits):
    x, y = denseam.load_dataset("sklearn-digits")
    assert x.dtype == np.float64 and x.shape == (1797, 64)
    assert np.array_equal(x, digits[0]) and np.array_equal(y, digits[1])


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="dataset-fashion-mnist not installed")
def test_fashion_test_split_equals_a_numpy_parse():
    x, y = denseam.load_dataset("fashion-mnist", split="test")
    raw = gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")).read()
    assert raw[:4] == b"\x00\x00\x08\x03"
    n, h, w = np.frombuffer(raw[4:16], dtype=">u4")
    ref = np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, h * w) / 255.0
    lab = np.frombuffer(gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")).read()[8:],
                        dtype=np.uint8)
    assert np.array_equal(x, ref) and np.array_equal(y, lab)


@pytest.mark.parametrize("dtype,code", [(">i2", 0x0B), (">i4", 0x0C), (">f4", 0x0D),
                                        (">f8", 0x0E), ("u1", 0x08), ("i1", 0x09)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_every_dtype(tmp_path, dtype, code, compress):
    rng = np.random.default_rng(code)
    a = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    data = bytes([0, 0, code, 3]) + np.array(a.shape, dtype=">u4").tobytes() + a.tobytes()
    path = tmp_path / "a.idx"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = denseam.read_idx(str(path))
    assert out.shape == (3, 4, 5) and np.array_equal(out, a.astype(np.float64))


@pytest.mark.parametrize("data,msg", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "wrong magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "unknown dtype byte 0x07"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03ab", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01ab", "trailing"),
    (b"\x00\x00\x08\x00", "dimensions"),
])
def test_read_idx_errors_name_the_file(tmp_path, data, msg):
    path = tmp_path / "bad.idx"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=msg) as e:
        denseam.read_idx(str(path))
    assert "bad.idx" in str(e.value) and "\n" not in str(e.value)


def naive_nearest(x):
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    same = (x[:, None, :] == x[None, :, :]).all(-1)
    np.fill_diagonal(same, False)
    masked = np.where(same | np.eye(len(x), dtype=bool), np.inf, d2)
    return masked.min(1), masked.argmin(1), same.sum(1)


def test_nearest_distinct_neighbours_vs_naive(digits):
    x = np.vstack([digits[0][:300], digits[0][:5]])  # five exact duplicates
    r = denseam.nearest_distinct_neighbours(x)
    d2, idx, dups = naive_nearest(x)
    # Values are multiples of 1/16: every squared distance is exact in both, ties included
    # (the library, like argmin, returns the smallest index among the nearest rows).
    assert np.array_equal(r["sq_distance"], d2)
    assert np.array_equal(r["duplicates"], dups)
    assert np.array_equal(r["index"], idx)
    for t in (1, 2):
        rt = denseam.nearest_distinct_neighbours(x, n_threads=t)
        assert np.array_equal(rt["sq_distance"], r["sq_distance"])
        assert np.array_equal(rt["index"], r["index"])


def test_bstor_preserved_count_curve_and_threads(digits):
    x = digits[0][:800]
    d2, _, _ = naive_nearest(x)
    for beta in (0.3, 0.8, 1.5, 4.0):
        r = denseam.bstor(x, beta=beta, seed_index=0, starts=0)
        assert r["preserved"] == int((d2 >= 2.0 / beta).sum())
        c = r["curve"]
        k = np.searchsorted(c["beta"], beta, side="right")
        assert (c["floor"] if k == 0 else c["preserved"][k - 1]) == r["preserved"]
    r1 = denseam.bstor(x, beta=0.8, seed_index=3, starts=8, n_threads=1)
    r2 = denseam.bstor(x, beta=0.8, seed_index=3, starts=8, n_threads=2)
    for key in ("preserved", "curve", "sub", "full_emergent", "seed_interacting", "sub_indices"):
        assert r1[key] == r2[key]
    assert np.array_equal(r1["full_emergent_positions"], r2["full_emergent_positions"])


def test_bstor_full_memory_minima_are_exact(digits):
    x = digits[0]
    beta = 0.8
    r = denseam.bstor(x, beta=beta, seed_index=0, starts=16)
    assert len(r["full_emergent"]) > 0
    for m, pos in zip(r["full_emergent"], r["full_emergent_positions"]):
        d2 = ((x - pos) ** 2).sum(1)
        support = np.flatnonzero(d2 < 2.0 / beta)
        assert list(support) == m["support"] and len(support) >= 2
        np.testing.assert_allclose(pos, x[support].mean(0), atol=1e-12)
    for s, pos in zip(r["sub"], r["sub_minima_positions"]):
        d2 = ((x - pos) ** 2).sum(1)
        assert list(np.flatnonzero(d2 < 2.0 / beta)) == s["full_support"]


def test_pxle_matches_brute_force_and_cli(digits, cli_binary, tmp_path):
    x = digits[0]
    r = denseam.pxle(x)
    p = r["patterns"]
    r2 = 2.0 / r["beta"]
    found = []
    for mask in range(1, 256):
        s = [i for i in range(8) if mask >> i & 1]
        c = p[s].mean(0)
        d2 = ((p - c) ** 2).sum(1)
        inside = d2 < r2
        if inside[s].all() and (d2[[i for i in range(8) if i not in s]] > r2).all():
            found.append(s)
    assert sorted(found) == sorted(m["support"] for m in r["minima"])
    np.save(tmp_path / "x.npy", x)
    res = subprocess.run([str(cli_binary), "pxle", "--images", str(tmp_path / "x.npy"),
                          "--out", str(tmp_path / "out"), "--no-plot"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    cli = json.loads((tmp_path / "out" / "pxle.json").read_text())
    assert {k: v for k, v in r.items() if k in cli} == cli


def test_bad_arguments_are_value_errors(digits):
    x = digits[0][:50]
    with pytest.raises(ValueError, match="seed_index"):
        denseam.bstor(x, seed_index=50)
    with pytest.raises(ValueError, match="beta"):
        denseam.bstor(x, beta=-1.0)
    with pytest.raises(ValueError, match="preserve"):
        denseam.bstor(x, preserve=0.0)
    with pytest.raises(ValueError, match="n_images"):
        denseam.pxle(x, n_images=51)
    with pytest.raises(ValueError, match="unknown data set"):
        denseam.load_dataset("mnist")
    with pytest.raises(ValueError, match="split"):
        denseam.load_dataset("sklearn-digits", split="test")
