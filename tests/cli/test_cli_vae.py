# SPDX-License-Identifier: MIT
"""`denseam vae train|encode|decode`: the safetensors file parsed by a few lines of NumPy, and the
encoder/decoder outputs against a NumPy forward pass written from the layer definitions
(evaluation mode: BatchNorm with the running statistics)."""
import json
import struct

import numpy as np
import pytest


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = b[8 + n:]
    out = {}
    for name, t in header.items():
        assert t["dtype"] == "F32"
        lo, hi = t["data_offsets"]
        out[name] = np.frombuffer(data[lo:hi], dtype="<f4").reshape(t["shape"])
    return out, meta


def block(h, w, lin, bn, eps):
    h = h @ w[lin + ".weight"].T + w[lin + ".bias"]
    h = np.where(h > 0, h, 0.2 * h)
    return (h - w[bn + ".running_mean"]) / np.sqrt(w[bn + ".running_var"] + eps) \
        * w[bn + ".weight"] + w[bn + ".bias"]


def encode(w, x, eps):
    h = block(x, w, "encoder.0", "encoder.2", eps)
    h = block(h, w, "encoder.3", "encoder.5", eps)
    return h @ w["fc_mu.weight"].T + w["fc_mu.bias"], h @ w["fc_logvar.weight"].T + w["fc_logvar.bias"]


def decode(w, z, eps):
    h = block(z, w, "decoder.0", "decoder.2", eps)
    h = block(h, w, "decoder.3", "decoder.5", eps)
    return 1.0 / (1.0 + np.exp(-(h @ w["decoder.6.weight"].T + w["decoder.6.bias"])))


@pytest.fixture(scope="module")
def trained(run_cli, tmp_path_factory):
    d = tmp_path_factory.mktemp("vae")
    res = run_cli(["vae", "train", "--dataset", "sklearn-digits", "--hidden", 32, "--latent", 3,
                   "--epochs", 3, "--seed", 5, "--out", d / "vae.safetensors", "--no-progress"])
    assert res.returncode == 0, res.stderr
    return d


def test_safetensors_file_holds_the_reference_model(trained):
    w, meta = read_safetensors(trained / "vae.safetensors")
    assert meta["format"] == "denseam-beta-vae"
    assert (meta["input_dim"], meta["hidden"], meta["latent"]) == ("64", "32", "3")
    assert w["encoder.0.weight"].shape == (32, 64) and w["fc_mu.weight"].shape == (3, 32)
    assert w["decoder.6.weight"].shape == (64, 32) and w["decoder.5.running_var"].shape == (32,)
    assert len(w) == 30


def test_encode_and_decode_equal_a_numpy_forward_pass(run_cli, trained):
    from sklearn.datasets import load_digits
    x = load_digits().data / 16.0
    res = run_cli(["vae", "encode", "--dataset", "sklearn-digits", "-m", trained / "vae.safetensors",
                   "--out", trained / "mu.npy", "--logvar", trained / "lv.npy"])
    assert res.returncode == 0, res.stderr
    w, meta = read_safetensors(trained / "vae.safetensors")
    eps = float(meta["bn_eps"])
    w64 = {k: v.astype(np.float64) for k, v in w.items()}
    mu, lv = encode(w64, x.astype(np.float32).astype(np.float64), eps)
    np.testing.assert_allclose(np.load(trained / "mu.npy"), mu, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.load(trained / "lv.npy"), lv, rtol=1e-4, atol=1e-4)
    res = run_cli(["vae", "decode", "-m", trained / "vae.safetensors", "--latents",
                   trained / "mu.npy", "--out", trained / "rec.npy"])
    assert res.returncode == 0, res.stderr
    rec = np.load(trained / "rec.npy")
    assert rec.dtype == np.float32 and rec.shape == (1797, 64)
    ref = decode(w64, np.load(trained / "mu.npy").astype(np.float64), eps)
    np.testing.assert_allclose(rec, ref, rtol=1e-4, atol=1e-5)


def test_same_seed_same_bytes(run_cli, trained, tmp_path):
    res = run_cli(["vae", "train", "--dataset", "sklearn-digits", "--hidden", 32, "--latent", 3,
                   "--epochs", 3, "--seed", 5, "--out", tmp_path / "again.safetensors",
                   "--no-progress"])
    assert res.returncode == 0, res.stderr
    a, _ = read_safetensors(trained / "vae.safetensors")
    b, _ = read_safetensors(tmp_path / "again.safetensors")
    assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("cut", ["header", "data", "garbage"])
def test_bad_files_exit_2_with_one_line(run_cli, trained, tmp_path, cut):
    good = (trained / "vae.safetensors").read_bytes()
    bad = {"header": good[:100], "data": good[:-10],
           "garbage": struct.pack("<Q", 10) + b"not json!!" + good[18:]}[cut]
    (tmp_path / "bad.safetensors").write_bytes(bad)
    np.save(tmp_path / "z.npy", np.zeros((2, 3)))
    res = run_cli(["vae", "decode", "-m", tmp_path / "bad.safetensors", "--latents",
                   tmp_path / "z.npy", "--out", tmp_path / "out.npy"])
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.safetensors" in lines[0]
    assert not (tmp_path / "out.npy").exists()


def test_decode_checks_the_latent_dimension(run_cli, trained, tmp_path):
    np.save(tmp_path / "z.npy", np.zeros((2, 5)))
    res = run_cli(["vae", "decode", "-m", trained / "vae.safetensors", "--latents",
                   tmp_path / "z.npy", "--out", tmp_path / "out.npy"])
    assert res.returncode == 2 and "latent dimension is 3" in res.stderr
