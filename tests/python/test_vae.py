# SPDX-License-Identifier: MIT
"""denseam.BetaVAE and denseam.qbvae: training lowers the loss, the same seed gives the same
model, save/load round trips (the file read back by NumPy), qbvae's counts equal find_minima's."""
import json
import struct

import numpy as np
import pytest

import denseam


@pytest.fixture(scope="module")
def digits():
    x, _ = denseam.load_dataset("sklearn-digits")
    return x


def test_fit_lowers_the_loss_and_is_reproducible(digits):
    a = denseam.BetaVAE(input_dim=64, hidden=32, latent=3, seed=1)
    la = a.fit(digits, epochs=6, seed=2)
    assert la.shape == (6,) and la[-1] < 0.9 * la[0]  # measured: 46.96 -> 41.20
    b = denseam.BetaVAE(input_dim=64, hidden=32, latent=3, seed=1)
    lb = b.fit(digits, epochs=6, seed=2)
    assert np.array_equal(la, lb)
    assert np.array_equal(a.encode(digits)[0], b.encode(digits)[0])
    assert a.loss(digits) == pytest.approx(la[-1], rel=0.2)


def test_save_load_round_trip_and_numpy_reads_the_file(digits, tmp_path):
    v = denseam.BetaVAE(input_dim=64, hidden=16, latent=2, seed=3)
    v.fit(digits, epochs=2)
    path = str(tmp_path / "v.safetensors")
    v.save(path)
    w = denseam.BetaVAE.load(path)
    assert np.array_equal(w.encode(digits)[0], v.encode(digits)[0])
    assert np.array_equal(w.decode(np.zeros((3, 2))), v.decode(np.zeros((3, 2))))
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    lo, hi = header["fc_mu.bias"]["data_offsets"]
    bias = np.frombuffer(raw[8 + n + lo:8 + n + hi], dtype="<f4")
    assert bias.shape == (2,) and np.isfinite(bias).all()
    assert header["__metadata__"]["latent"] == "2"


def test_qbvae_counts_equal_find_minima(digits):
    z = np.random.default_rng(4).standard_normal((200, 5))
    r = denseam.qbvae(z, lse_steps=300, lse_random=30)
    m = denseam.find_minima(r["patterns"], beta=r["beta"])
    assert (m.stored, m.emergent) == (r["lsr"]["stored"], r["lsr"]["emergent"])
    assert r["lsr_positions"].shape == (m.total, 5)
    np.testing.assert_array_equal(r["patterns"], z[r["indices"]])


def test_bad_inputs(digits):
    v = denseam.BetaVAE(input_dim=64, hidden=8, latent=2)
    with pytest.raises(ValueError, match="64 columns"):
        v.fit(digits[:, :10], epochs=1)
    with pytest.raises(ValueError, match="2 columns"):
        v.decode(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        denseam.BetaVAE.load("/nonexistent.safetensors")
    with pytest.raises(ValueError, match="n_mems"):
        denseam.qbvae(np.zeros((5, 2)) + np.arange(5)[:, None])
