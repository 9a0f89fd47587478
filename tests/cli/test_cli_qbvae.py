# SPDX-License-Identifier: MIT
"""`denseam qbvae --latents`: the stored latents, beta and counts against independent checks
(NumPy's pairwise distances for choose_beta, `denseam minima` on the saved latents, a brute force
over the subsets of a small set)."""
import json

import numpy as np
import pytest


def qbvae(run_cli, tmp_path, z, *extra):
    np.save(tmp_path / "z.npy", z)
    res = run_cli(["qbvae", "--latents", str(tmp_path / "z.npy"), "--out", str(tmp_path / "q"),
                   *map(str, extra)])
    assert res.returncode == 0, res.stderr
    return json.loads((tmp_path / "q" / "qbvae.json").read_text())


def test_counts_equal_denseam_minima_on_the_saved_latents(run_cli, tmp_path):
    z = np.random.default_rng(0).standard_normal((500, 10))
    j = qbvae(run_cli, tmp_path, z, "--lse-steps", 500, "--lse-random", 100)
    xi = np.load(tmp_path / "q" / "qbvae_patterns.npy")
    assert xi.shape == (24, 10) and len(set(j["indices"])) == 24
    np.testing.assert_array_equal(xi, z[j["indices"]])
    # choose_beta: K(beta) = mean #{nu: D < 2R} (self included) reaches the target 5.
    d = np.sqrt(((xi[:, None] - xi[None]) ** 2).sum(-1))
    r = np.sqrt(2.0 / j["beta"])
    assert (d < 2 * r).sum(1).mean() >= 5
    res = run_cli(["minima", "--memories", str(tmp_path / "q" / "qbvae_patterns.npy"),
                   "--beta", repr(j["beta"]), "--no-basin"])
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    assert (m["stored"], m["emergent"]) == (j["lsr"]["stored"], j["lsr"]["emergent"])
    assert j["lsr"]["total"] == len(j["lsr_minima"]) == len(np.load(tmp_path / "q" / "qbvae_lsr_minima.npy"))
    assert 1 <= j["lse"]["descent_unique_states"] <= 24
    assert 1 <= j["lse"]["descent_unique_rounded"] <= 24


def test_lsr_minima_equal_a_brute_force_on_a_small_set(run_cli, tmp_path):
    z = np.random.default_rng(3).standard_normal((40, 3))
    j = qbvae(run_cli, tmp_path, z, "--n-mems", 8, "--lse-steps", 100, "--lse-random", 10)
    xi = np.load(tmp_path / "q" / "qbvae_patterns.npy")
    r2 = 2.0 / j["beta"]
    found = set()
    for mask in range(1, 256):
        s = [i for i in range(8) if mask >> i & 1]
        c = xi[s].mean(0)
        d2 = ((xi - c) ** 2).sum(1)
        if all(d2[i] < r2 for i in s) and all(d2[i] > r2 for i in range(8) if i not in s):
            found.add(tuple(s))
    assert found == {tuple(m["support"]) for m in j["lsr_minima"]}


@pytest.mark.parametrize("extra,word", [(["--n-mems", 1], "--n-mems"), (["--beta", 0], "--beta"),
                                        (["--n-mems", 3, "--lse-lr", 0], "--lse-lr")])
def test_bad_options_exit_2_with_one_line(run_cli, tmp_path, extra, word):
    np.save(tmp_path / "z.npy", np.zeros((5, 2)) + np.arange(5)[:, None])
    res = run_cli(["qbvae", "--latents", str(tmp_path / "z.npy"), "--out", str(tmp_path / "q"),
                   *map(str, extra)])
    assert res.returncode == 2 and word in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "q").exists()


def test_model_encodes_and_decodes_like_latents_plus_decoder(run_cli, tmp_path):
    res = run_cli(["vae", "train", "--dataset", "sklearn-digits", "--hidden", 32, "--latent", 3,
                   "--epochs", 3, "--out", tmp_path / "vae.safetensors", "--no-progress"])
    assert res.returncode == 0, res.stderr
    common = ["--lse-steps", 200, "--lse-random", 20, "--no-plot"]
    res = run_cli(["qbvae", "--model", tmp_path / "vae.safetensors", "--dataset", "sklearn-digits",
                   "--out", tmp_path / "a", *common])
    assert res.returncode == 0, res.stderr
    res = run_cli(["vae", "encode", "-m", tmp_path / "vae.safetensors", "--dataset",
                   "sklearn-digits", "--out", tmp_path / "mu.npy"])
    assert res.returncode == 0, res.stderr
    res = run_cli(["qbvae", "--latents", tmp_path / "mu.npy", "--decoder", tmp_path / "vae.safetensors",
                   "--out", tmp_path / "b", *common])
    assert res.returncode == 0, res.stderr
    for name in ("qbvae_patterns.npy", "qbvae_decoded_patterns.npy", "qbvae_decoded_lsr.npy",
                 "qbvae_decoded_lse.npy"):
        a, b = np.load(tmp_path / "a" / name), np.load(tmp_path / "b" / name)
        np.testing.assert_array_equal(a, b)
    j = json.loads((tmp_path / "a" / "qbvae.json").read_text())
    dec = np.load(tmp_path / "a" / "qbvae_decoded_lsr.npy")
    assert dec.shape == (j["lsr"]["total"], 64) and 0.0 <= dec.min() and dec.max() <= 1.0


@pytest.mark.parametrize("extra,word", [
    (["--config", "mnist10"], "--model"),
    (["--config", "cifar10", "--model", "m.safetensors"], "choose mnist10 or fashion10"),
])
def test_config_needs_a_model_and_a_known_name(run_cli, tmp_path, extra, word):
    res = run_cli(["qbvae", "--out", str(tmp_path / "q"), *extra])
    assert res.returncode == 2 and word in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "q").exists()
