# SPDX-License-Identifier: MIT
"""`denseam cluster`: clustering with associative memories (ClAM) from the command line.

Oracles: scikit-learn's make_blobs labels and adjusted_rand_score (recovery of well-separated
blobs), a NumPy re-implementation of the assignment dynamics of include/denseam/clam.hpp (T
unmasked steps v <- v + alpha g(v), then the nearest prototype), NumPy standardization (the fit
on NumPy-standardized data, mapped back, is the --standardize fit). Bad input: exit code 2, one
line naming the option or file, nothing written.
"""
import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

KERNELS = ("lse", "lsr")


def assign(x, centers, kernel, beta, alpha, steps):
    """Labels of the points x under the prototypes: T steps of the ClAM pull from each point
    (lse: softmax(-beta/2 |rho - v|^2) weights; lsr: 1/S inside the supports
    beta/2 |rho - v|^2 < 1, S = sum relu(1 - beta/2 |rho - v|^2), no move outside every
    support), then the nearest prototype."""
    v = x.copy()
    for _ in range(steps):
        r = centers[None, :, :] - v[:, None, :]
        q = (r ** 2).sum(-1)
        if kernel == "lse":
            a = -beta / 2 * q
            w = np.exp(a - a.max(1, keepdims=True))
            w /= w.sum(1, keepdims=True)
        else:
            h = 1 - beta / 2 * q
            inside = h > 0
            s = np.where(inside, h, 0.0).sum(1, keepdims=True)
            w = inside / np.where(s > 0, s, 1.0)
        v = v + alpha * (w[:, :, None] * r).sum(1)
    return ((v[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)


@pytest.fixture()
def blobs(tmp_path):
    x, y, c = make_blobs(n_samples=300, centers=4, n_features=5, cluster_std=0.5,
                         random_state=0, return_centers=True)
    np.save(tmp_path / "X.npy", x)
    return tmp_path, x, y, c


def run_ok(run_cli, args):
    p = run_cli(["cluster", *args])
    assert p.returncode == 0, (args, p.stderr)
    return json.loads(p.stdout)


@pytest.mark.parametrize("kernel", KERNELS)
def test_blobs_are_recovered(run_cli, blobs, kernel):
    d, x, y, _ = blobs
    for seed in (0, 1):
        out = d / f"L_{kernel}_{seed}.npy"
        s = run_ok(run_cli, ["--data", d / "X.npy", "--k", 4, "--kernel", kernel, "--out", out,
                             "--seed", seed, "--no-progress"])
        labels = np.load(out)
        assert labels.dtype == np.int64 and labels.shape == (300,)
        assert adjusted_rand_score(y, labels) >= 0.99, (kernel, seed, s["cluster_sizes"])
        assert s["kernel"] == kernel and s["k"] == 4
        assert s["n_points"] == 300 and s["dim"] == 5


@pytest.mark.parametrize("kernel", KERNELS)
def test_labels_are_the_nearest_center_after_the_dynamics(run_cli, tmp_path, kernel):
    # Overlapping blobs and a long descent: the dynamics move many points to another prototype
    # than their nearest one, so the check tells the two rules apart.
    x, _ = make_blobs(n_samples=400, centers=5, n_features=3, cluster_std=2.0, random_state=1)
    np.save(tmp_path / "X.npy", x)
    moved = 0
    for extra in ([], ["--alpha", 0.5, "--steps", 20], ["--beta", 0.1, "--steps", 3]):
        out, cen = tmp_path / "L.npy", tmp_path / "C.npy"
        s = run_ok(run_cli, ["--data", tmp_path / "X.npy", "--k", 5, "--kernel", kernel,
                             "--out", out, "--centers", cen, *extra])
        labels, centers = np.load(out), np.load(cen)
        assert centers.dtype == np.float64 and centers.shape == (5, 3)
        want = assign(x, centers, kernel, s["beta"], s["alpha"], s["steps"])
        np.testing.assert_array_equal(labels, want)
        nearest = ((x[:, None] - centers[None]) ** 2).sum(-1).argmin(1)
        if s["steps"] >= 10:
            moved += int((nearest != labels).sum())
    assert moved > 10  # the dynamics changed labels: the oracle is not just the nearest center
    assert s["beta"] == 0.1 and not s["beta_auto"] and s["steps"] == 3


def test_summary(run_cli, blobs):
    d, x, _, _ = blobs
    out, js = d / "L.npy", d / "s.json"
    s = run_ok(run_cli, ["--data", d / "X.npy", "--k", 4, "--out", out, "--json", js,
                         "--epochs", 7, "--tol", 0])
    assert json.loads(js.read_text()) == s
    assert s["epochs_run"] == 7 and not s["stopped_early"]
    curve = s["loss_history"]
    assert len(curve) == 7 and all(np.isfinite(curve)) and min(curve) > 0
    assert s["best_loss"] == min(curve) and curve[s["best_epoch"] - 1] == min(curve)
    assert s["cluster_sizes"] == np.bincount(np.load(out), minlength=4).tolist()
    assert s["beta_auto"] and s["beta"] > 0 and s["seconds"] >= 0
    assert (s["steps"], s["alpha"], s["mask_prob"], s["lr"], s["batch_size"]) == \
        (10, 0.1, 0.2, 0.01, 64)
    assert "centers" not in s and not (d / "C.npy").exists()
    # Early stopping on a plateau: never more than the epochs asked for.
    s = run_ok(run_cli, ["--data", d / "X.npy", "--k", 4, "--out", out, "--epochs", 200,
                         "--patience", 2, "--tol", 0.5])
    assert s["stopped_early"] and s["epochs_run"] < 200
    assert len(s["loss_history"]) == s["epochs_run"]


def test_progress(run_cli, blobs):
    d, _, _, _ = blobs
    args = ["--data", d / "X.npy", "--k", 4, "--out", d / "L.npy", "--epochs", 3, "--tol", 0]
    p = run_cli(["cluster", *args, "--progress"])
    assert p.returncode == 0 and "3/3 epochs" in p.stderr and "loss " in p.stderr
    p = run_cli(["cluster", *args, "--no-progress"])
    assert p.returncode == 0 and p.stderr == ""
    p = run_cli(["cluster", *args])  # stderr is not a terminal here
    assert p.returncode == 0 and p.stderr == ""


@pytest.mark.parametrize("kernel", KERNELS)
def test_same_seed_same_files_other_seed_other_start(run_cli, blobs, kernel):
    d, _, _, _ = blobs
    files = []
    for i, seed in enumerate((3, 3, 4)):
        out, cen = d / f"L{i}.npy", d / f"C{i}.npy"
        run_ok(run_cli, ["--data", d / "X.npy", "--k", 4, "--kernel", kernel, "--out", out,
                         "--centers", cen, "--seed", seed, "--epochs", 5])
        files.append((out.read_bytes(), cen.read_bytes()))
    assert files[0] == files[1]
    assert files[0][1] != files[2][1]


def test_threads_do_not_change_results(run_cli, tmp_path):
    # Big enough batches (n k d T) that the library splits the work over two threads.
    x, _ = make_blobs(n_samples=1000, centers=10, n_features=50, random_state=2)
    np.save(tmp_path / "X.npy", x)
    got = []
    for threads in (1, 2):
        out, cen = tmp_path / f"L{threads}.npy", tmp_path / f"C{threads}.npy"
        s = run_ok(run_cli, ["--data", tmp_path / "X.npy", "--k", 10, "--out", out,
                             "--centers", cen, "--batch-size", 1000, "--epochs", 4, "--tol", 0,
                             "--threads", threads])
        got.append((out.read_bytes(), cen.read_bytes(), s["loss_history"]))
    assert got[0] == got[1]


@pytest.mark.parametrize("kernel", KERNELS)
def test_standardize_maps_centers_back(run_cli, tmp_path, kernel):
    x, y, c = make_blobs(n_samples=300, centers=3, n_features=4, cluster_std=0.3,
                         random_state=5, return_centers=True)
    scale, shift = np.array([1.0, 100.0, 0.01, 10.0]), np.array([5.0, -300.0, 0.2, 40.0])
    # Features of very different scales, and a constant one.
    xs = np.hstack([x * scale + shift, np.full((300, 1), 7.25)])
    np.save(tmp_path / "X.npy", xs)
    mean, std = xs.mean(0), xs.std(0)
    std[4] = 1.0
    z = (xs - mean) / std
    z[:, 4] = 0.0
    np.save(tmp_path / "Z.npy", z)
    out, cen = tmp_path / "L.npy", tmp_path / "C.npy"
    s = run_ok(run_cli, ["--data", tmp_path / "X.npy", "--k", 3, "--kernel", kernel,
                         "--out", out, "--centers", cen, "--standardize"])
    assert s["standardize"]
    labels, centers = np.load(out), np.load(cen)
    assert adjusted_rand_score(y, labels) >= 0.99
    # The same fit on the NumPy-standardized data, with its prototypes mapped back.
    run_ok(run_cli, ["--data", tmp_path / "Z.npy", "--k", 3, "--kernel", kernel,
                     "--out", tmp_path / "Lz.npy", "--centers", tmp_path / "Cz.npy"])
    np.testing.assert_array_equal(np.load(tmp_path / "Lz.npy"), labels)
    want = np.load(tmp_path / "Cz.npy") * std + mean
    assert np.all(np.abs(centers - want) <= 1e-9 * (np.abs(want) + std)), centers - want
    assert np.all(centers[:, 4] == 7.25)
    # In the input's units, each prototype is nearer its own blob's center than any other (the
    # prototypes sit beside their clusters, not on the means: compared in units of the spread).
    true = c * scale + shift
    for m in range(3):
        blob = np.bincount(y[labels == m]).argmax()
        dist = np.abs((centers[m, :4] - true) / (scale * 0.3)).max(1)
        assert dist.argmin() == blob, (m, dist)
    # Without --standardize the largest feature alone decides: the prototypes differ.
    run_ok(run_cli, ["--data", tmp_path / "X.npy", "--k", 3, "--kernel", kernel,
                     "--out", tmp_path / "L2.npy", "--centers", tmp_path / "C2.npy"])
    assert not np.allclose(np.load(tmp_path / "C2.npy"), centers)


def test_float32_input(run_cli, blobs):
    d, x, y, _ = blobs
    np.save(d / "X32.npy", x.astype(np.float32))
    run_ok(run_cli, ["--data", d / "X32.npy", "--k", 4, "--out", d / "L.npy",
                     "--centers", d / "C.npy"])
    assert adjusted_rand_score(y, np.load(d / "L.npy")) >= 0.99
    assert np.load(d / "C.npy").dtype == np.float64


# ---- bad input: exit code 2, one line, nothing written --------------------------------------

def expect_error(run_cli, d, args, fragments):
    before = set(p.name for p in d.iterdir())
    p = run_cli(["cluster", *args])
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    line = p.stderr.strip()
    assert line.startswith("denseam: error: ") and "\n" not in line, p.stderr
    for f in fragments:
        assert f in line, (f, line)
    assert p.stdout == ""
    assert set(p.name for p in d.iterdir()) == before, set(p.name for p in d.iterdir()) - before


def test_bad_inputs(run_cli, blobs):
    d, x, _, _ = blobs
    outs = ["--out", d / "L.npy", "--centers", d / "C.npy", "--json", d / "s.json"]
    ok = ["--data", d / "X.npy", "--k", 4]

    def bad(args, *fragments):
        expect_error(run_cli, d, [*args, *outs], fragments)

    # the number of clusters
    bad(["--data", d / "X.npy", "--k", 0], "--k", "0")
    bad(["--data", d / "X.npy", "--k", -3], "--k", "-3")
    bad(["--data", d / "X.npy", "--k", 301], "--k 301", "X.npy", "300")
    bad(["--data", d / "X.npy", "--k", "four"], "--k")
    bad(["--data", d / "X.npy"], "--k")
    # the data
    bad(["--data", d / "nope.npy", "--k", 2], "nope.npy")
    np.save(d / "one_d.npy", x[:, 0])
    bad(["--data", d / "one_d.npy", "--k", 2], "one_d.npy", "2-D")
    xn = x.copy()
    xn[7, 3] = np.nan
    np.save(d / "xnan.npy", xn)
    bad(["--data", d / "xnan.npy", "--k", 2], "xnan.npy", "row 7, column 3")
    xi = x.copy()
    xi[0, 0] = np.inf
    np.save(d / "xinf.npy", xi)
    bad(["--data", d / "xinf.npy", "--k", 2], "xinf.npy", "non-finite")
    np.save(d / "empty.npy", np.zeros((0, 5)))
    bad(["--data", d / "empty.npy", "--k", 1], "empty.npy", "empty")
    (d / "junk.npy").write_bytes(b"not a numpy file")
    bad(["--data", d / "junk.npy", "--k", 1], "junk.npy")
    # the dynamics
    bad([*ok, "--kernel", "poly"], "--kernel", "poly")
    bad([*ok, "--kernel", "gauss"], "--kernel", "gauss")
    for beta in ("0", "-1", "nan", "inf", "abc", "1.5x"):
        bad([*ok, "--beta", beta], "--beta", beta)
    bad([*ok, "--steps", -1], "--steps", "-1")
    bad([*ok, "--steps", 10 ** 12], "--steps", "memory")
    for alpha in ("0", "-0.1", "nan"):
        bad([*ok, "--alpha", alpha], "--alpha")
    # training
    for p in ("-0.1", "1.5", "nan"):
        bad([*ok, "--mask-prob", p], "--mask-prob")
    bad([*ok, "--lr", 0], "--lr")
    bad([*ok, "--epochs", 0], "--epochs", "0")
    bad([*ok, "--batch-size", 0], "--batch-size", "0")
    bad([*ok, "--tol", -1], "--tol")
    bad([*ok, "--patience", 0], "--patience")
    bad([*ok, "--threads", -1], "--threads")
    # files: outputs that are inputs or the same file twice, folders that do not exist
    expect_error(run_cli, d, [*ok, "--out", d / "X.npy"], ["--out", "X.npy"])
    expect_error(run_cli, d, [*ok, "--out", d / "L.npy", "--centers", d / "X.npy"],
                 ["--centers", "X.npy"])
    expect_error(run_cli, d, [*ok, "--out", d / "L.npy", "--centers", d / "L.npy"], ["L.npy"])
    expect_error(run_cli, d, [*ok, "--out", d / "L.npy", "--json", d / "X.npy"],
                 ["--json", "X.npy"])
    expect_error(run_cli, d, [*ok, "--out", d / "no_dir" / "L.npy"], ["no_dir"])
    expect_error(run_cli, d, ok, ["--out"])
    assert np.array_equal(np.load(d / "X.npy"), x)


def test_help_lists_options_and_example(run_cli):
    p = run_cli(["cluster", "--help"])
    assert p.returncode == 0
    for opt in ("--data", "--k", "--kernel", "--out", "--centers", "--beta", "--steps",
                "--alpha", "--mask-prob", "--lr", "--epochs", "--batch-size", "--tol",
                "--patience", "--seed", "--standardize", "--threads", "--json", "--progress",
                "denseam cluster --data"):
        assert opt in p.stdout, opt
