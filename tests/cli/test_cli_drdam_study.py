# SPDX-License-Identifier: MIT
"""`denseam drdam-study`: the three DrDAM experiments against independent NumPy oracles.

- (b) retrieval: the stored patterns are scikit-learn's digits (load_digits().data / 16, the
  scaling of the sklearn-digits data set) at the JSON's indices, scaled to unit norm; the queries
  hide the bottom round(occlude * H) rows; the MrDAM states equal a NumPy gradient descent on the
  exact LSE energy with the visible pixels clamped; every row's distances, agreement and accuracy
  are recomputed from the .npy arrays; DrDAM approaches MrDAM as Y grows.
- (a) error: one row per (d, beta, map, Y); the fitted slopes are numpy.polyfit of the rows, and
  near -1/2 for the Fourier maps over a wide range of Y.
- (c) bytes: the closed forms 4 M d, 8 Y, 4 (Y/2) d + 4 Y and the break-even M by its definition.
- Bad input: exit code 2, one line on stderr naming the option, nothing left in --out.
"""
import json
import math
import pathlib

import numpy as np
import pytest
from scipy.special import softmax

H = W = 8  # scikit-learn's digits
N_DIGITS = 1797
ALL_FILES = {
    "drdam.json", "drdam_error.jsonl", "drdam_retrieval.jsonl", "drdam_bytes.jsonl",
    "drdam_retrieval_patterns.npy", "drdam_retrieval_queries.npy",
    "drdam_retrieval_mrdam.npy", "drdam_retrieval_drdam.npy",
}


# ---- helpers ---------------------------------------------------------------------------------

def ok(p):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p


def one_line_error(p, code=2):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("denseam: error: "), p.stderr
    return lines[0]


def read_jsonl(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines()]


def load_json(path):
    return json.loads(pathlib.Path(path).read_text())


def files_in(folder):
    return {x.name for x in pathlib.Path(folder).iterdir()}


def study(run_cli, out, *args, plot=False):
    """Run drdam-study into `out`; `args` after the common ones."""
    extra = [] if plot else ["--no-plot"]
    return run_cli(["drdam-study", "--out", out, "--no-progress", *extra, *map(str, args)])


def hidden_rows(occlude, height):
    """round(occlude * height) (half away from zero), at least one row."""
    return max(1, math.floor(occlude * height + 0.5))


def unit_rows(X):
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def occluded(P, height, width, occlude):
    Q = P.copy()
    Q[:, (height - hidden_rows(occlude, height)) * width:] = 0.0
    return Q


def lse_descent(P, Q, beta, steps, step_size, n_visible):
    """Gradient descent on E(x) = -(1/beta) log sum exp(-beta/2 ||x - xi||^2), visible clamped.

    grad E(x) = x - sum_mu softmax_mu(-beta/2 ||x - xi_mu||^2) xi_mu; no early stop."""
    x = Q.astype(np.float64).copy()
    for _ in range(steps):
        d2 = ((x[:, None, :] - P[None, :, :]) ** 2).sum(-1)
        g = x - softmax(-beta / 2 * d2, axis=1) @ P
        g[:, :n_visible] = 0.0
        x = x - step_size * g
    return x


def nearest(P, X):
    """Index of the nearest row of P (Euclidean) for each row of X."""
    return ((X[:, None, :] - P[None, :, :]) ** 2).sum(-1).argmin(axis=1)


def without_seconds(rows):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X = load_digits().data / 16.0
    assert X.shape == (N_DIGITS, H * W)
    return X


# ---- one run of all three parts --------------------------------------------------------------

ERR = dict(dims=[4, 8], betas=[2.0, 20.0], Y=[16, 256, 1024],
           features=["fourier", "positive", "fourier-phase"], patterns=12, queries=5, seeds=2)
RET = dict(patterns=8, betas=[2.0, 8.0], Y=[256, 4096], features=["fourier", "positive"],
           steps=40, step_size=0.2, occlude=0.5)
BYT = dict(M=[0, 1, 20, 1000, 100000], dims=[8, 64, 784], Y=1024)


def csv(v):
    return ",".join(str(x) for x in v)


@pytest.fixture(scope="module")
def full(run_cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("drdam_full") / "out"
    p = ok(study(
        run_cli, out, "--dataset", "sklearn-digits",
        "--dims", csv(ERR["dims"]), "--betas", csv(ERR["betas"]), "--Y", csv(ERR["Y"]),
        "--features", csv(ERR["features"]), "--patterns", ERR["patterns"],
        "--queries", ERR["queries"], "--seeds", ERR["seeds"],
        "--retrieval-patterns", RET["patterns"], "--retrieval-betas", csv(RET["betas"]),
        "--retrieval-Y", csv(RET["Y"]), "--retrieval-features", csv(RET["features"]),
        "--steps", RET["steps"], "--step-size", RET["step_size"], "--occlude", RET["occlude"],
        "--bytes-M", csv(BYT["M"]), "--bytes-dims", csv(BYT["dims"]), "--bytes-Y", BYT["Y"]))
    return out, p


def test_full_run_writes_every_file_and_no_figure(full):
    out, p = full
    assert files_in(out) == ALL_FILES
    assert "figure:" not in p.stdout
    assert f"data: {out / 'drdam.json'}" in p.stdout
    j = load_json(out / "drdam.json")
    assert j["experiment"] == "drdam"
    assert {"error_fits", "retrieval", "bytes", "paper"} <= set(j)
    assert j["paper"]["error_slope"] == -0.5


# ---- (b) retrieval ---------------------------------------------------------------------------

def test_retrieval_patterns_are_the_unit_norm_digits(full, digits):
    out, _ = full
    r = load_json(out / "drdam.json")["retrieval"]
    idx = np.asarray(r["indices"])
    m = RET["patterns"]
    assert r["n_patterns"] == m and r["dim"] == H * W and len(idx) == m
    assert len(set(idx.tolist())) == m and idx.min() >= 0 and idx.max() < N_DIGITS
    P = np.load(out / "drdam_retrieval_patterns.npy")
    assert P.dtype == np.float64 and P.shape == (m, H * W)
    np.testing.assert_allclose(P, unit_rows(digits[idx]), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(P, axis=1), 1.0, rtol=0, atol=1e-15)


def test_queries_hide_the_bottom_rows(full):
    out, _ = full
    r = load_json(out / "drdam.json")["retrieval"]
    P = np.load(out / "drdam_retrieval_patterns.npy")
    Q = np.load(out / "drdam_retrieval_queries.npy")
    n_visible = (H - hidden_rows(RET["occlude"], H)) * W
    assert r["visible"] == n_visible == 32
    np.testing.assert_array_equal(Q, occluded(P, H, W, RET["occlude"]))
    assert np.all(Q[:, n_visible:] == 0.0) and np.any(P[:, n_visible:] != 0.0)


def test_mrdam_states_match_numpy_descent_on_the_exact_energy(full):
    out, _ = full
    P = np.load(out / "drdam_retrieval_patterns.npy")
    Q = np.load(out / "drdam_retrieval_queries.npy")
    mr = np.load(out / "drdam_retrieval_mrdam.npy")
    m = len(P)
    assert mr.dtype == np.float64 and mr.shape == (len(RET["betas"]) * m, H * W)
    n_visible = load_json(out / "drdam.json")["retrieval"]["visible"]
    for b, beta in enumerate(RET["betas"]):
        ref = lse_descent(P, Q, beta, RET["steps"], RET["step_size"], n_visible)
        got = mr[b * m:(b + 1) * m]
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10)
        # The descent moved the hidden pixels (a test that a no-op would fail).
        assert np.abs(got[:, n_visible:]).max() > 1e-3


def test_retrieval_rows_match_numpy_from_the_arrays(full):
    out, _ = full
    j = load_json(out / "drdam.json")["retrieval"]
    rows = read_jsonl(out / "drdam_retrieval.jsonl")
    assert without_seconds(rows) == without_seconds(j["rows"])
    P = np.load(out / "drdam_retrieval_patterns.npy")
    Q = np.load(out / "drdam_retrieval_queries.npy")
    mr = np.load(out / "drdam_retrieval_mrdam.npy")
    dr = np.load(out / "drdam_retrieval_drdam.npy")
    m, n_visible = len(P), j["visible"]
    expect = [(b, k, y) for b in RET["betas"] for k in RET["features"] for y in RET["Y"]]
    assert [(r["beta"], r["features"], r["Y"]) for r in rows] == expect
    assert dr.dtype == np.float64 and dr.shape == (len(rows) * m, H * W)
    assert [e["beta"] for e in j["mrdam"]] == RET["betas"]
    for b, e in enumerate(j["mrdam"]):
        states = mr[b * m:(b + 1) * m]
        assert e["mrdam_correct"] == pytest.approx(np.mean(nearest(P, states) == np.arange(m)),
                                                   abs=1e-15)
    for n, r in enumerate(rows):
        assert r["experiment"] == "drdam-retrieval"
        assert r["state_offset"] == n * m
        b = RET["betas"].index(r["beta"])
        exact = mr[b * m:(b + 1) * m]
        approx = dr[r["state_offset"]:r["state_offset"] + m]
        dist = np.linalg.norm(approx - exact, axis=1)
        assert r["distance_mean"] == pytest.approx(dist.mean(), rel=1e-12, abs=1e-15)
        assert r["distance_max"] == pytest.approx(dist.max(), rel=1e-12, abs=1e-15)
        near = nearest(P, approx)
        assert r["agree"] == pytest.approx(np.mean(near == nearest(P, exact)), abs=1e-15)
        assert r["correct"] == pytest.approx(np.mean(near == np.arange(m)), abs=1e-15)
        assert 0 <= r["out_of_support"] <= m
        if r["features"] == "positive":  # positive maps are supported wherever a pattern is held
            assert r["out_of_support"] == 0
        # DrDAM clamps the visible pixels too, and differs from MrDAM by the features' noise.
        np.testing.assert_array_equal(approx[:, :n_visible], Q[:, :n_visible])
        assert np.all(np.isfinite(approx)) and dist.max() > 0.0


def test_drdam_approaches_mrdam_as_Y_grows(run_cli, tmp_path):
    ys = [256, 4096, 65536]
    ok(study(run_cli, tmp_path / "o", "--parts", "retrieval", "--dataset", "sklearn-digits",
             "--retrieval-patterns", 5, "--retrieval-betas", 2, "--retrieval-Y", csv(ys),
             "--steps", 30))
    rows = read_jsonl(tmp_path / "o" / "drdam_retrieval.jsonl")
    assert [r["Y"] for r in rows] == ys
    dist = [r["distance_mean"] for r in rows]
    # The estimate's noise falls like 1/sqrt(Y): a factor 4 per step here; ask for 2.
    assert dist[0] > 2 * dist[1] > 4 * dist[2] > 0, dist
    assert all(r["agree"] == 1.0 and r["out_of_support"] == 0 for r in rows), rows
    # ... and DrDAM's states really are those of a descent that converges to MrDAM's.
    mr = np.load(tmp_path / "o" / "drdam_retrieval_mrdam.npy")
    dr = np.load(tmp_path / "o" / "drdam_retrieval_drdam.npy")
    last = dr[rows[-1]["state_offset"]:rows[-1]["state_offset"] + 5]
    assert np.abs(last - mr).max() < 0.05


@pytest.mark.parametrize("occlude", [0.05, 0.3, 0.7, 0.8])
def test_occlusion_and_clamping_at_other_fractions(run_cli, digits, tmp_path, occlude):
    steps, step_size, beta = 15, 0.3, 4.0
    ok(study(run_cli, tmp_path / "o", "--parts", "retrieval", "--dataset", "sklearn-digits",
             "--retrieval-patterns", 6, "--retrieval-betas", beta, "--retrieval-Y", 512,
             "--steps", steps, "--step-size", step_size, "--occlude", occlude))
    r = load_json(tmp_path / "o" / "drdam.json")["retrieval"]
    n_visible = (H - hidden_rows(occlude, H)) * W
    assert r["visible"] == n_visible
    P = unit_rows(digits[np.asarray(r["indices"])])
    Q = np.load(tmp_path / "o" / "drdam_retrieval_queries.npy")
    np.testing.assert_allclose(Q, occluded(P, H, W, occlude), rtol=0, atol=1e-15)
    mr = np.load(tmp_path / "o" / "drdam_retrieval_mrdam.npy")
    np.testing.assert_allclose(mr, lse_descent(P, Q, beta, steps, step_size, n_visible),
                               rtol=0, atol=1e-10)


def test_occlusion_keeps_a_visible_row_or_is_refused(run_cli, tmp_path):
    """--occlude 0.97 rounds to all 8 rows: the queries would be all zeros, nothing clamped."""
    p = study(run_cli, tmp_path / "o", "--parts", "retrieval", "--dataset", "sklearn-digits",
              "--retrieval-patterns", 4, "--retrieval-betas", 2, "--retrieval-Y", 64,
              "--steps", 3, "--occlude", 0.97)
    if p.returncode == 2:
        assert "--occlude" in one_line_error(p)
        assert not (tmp_path / "o").exists()
        return
    ok(p)
    visible = load_json(tmp_path / "o" / "drdam.json")["retrieval"]["visible"]
    assert visible == W  # one row stays visible (and clamped)


def test_own_images_with_a_non_square_shape(run_cli, tmp_path):
    """--images (N x H*W) with --shape 4,16: the bottom rows are whole rows of 16 pixels."""
    rng = np.random.default_rng(3)
    X = rng.uniform(0.0, 1.0, size=(9, 64))
    np.save(tmp_path / "X.npy", X)
    occlude, steps, step_size, beta = 0.25, 12, 0.25, 3.0
    ok(study(run_cli, tmp_path / "o", "--parts", "retrieval", "--images", tmp_path / "X.npy",
             "--shape", "4,16", "--retrieval-patterns", 9, "--retrieval-betas", beta,
             "--retrieval-Y", 256, "--steps", steps, "--step-size", step_size,
             "--occlude", occlude))
    r = load_json(tmp_path / "o" / "drdam.json")["retrieval"]
    assert sorted(r["indices"]) == list(range(9))
    assert r["visible"] == (4 - 1) * 16
    P = np.load(tmp_path / "o" / "drdam_retrieval_patterns.npy")
    np.testing.assert_allclose(P, unit_rows(X[np.asarray(r["indices"])]), rtol=0, atol=1e-15)
    Q = np.load(tmp_path / "o" / "drdam_retrieval_queries.npy")
    np.testing.assert_array_equal(Q, occluded(P, 4, 16, occlude))
    np.testing.assert_allclose(np.load(tmp_path / "o" / "drdam_retrieval_mrdam.npy"),
                               lse_descent(P, Q, beta, steps, step_size, 48), rtol=0, atol=1e-10)


# ---- (a) error -------------------------------------------------------------------------------

def test_error_rows_cover_every_configuration(full):
    out, _ = full
    rows = read_jsonl(out / "drdam_error.jsonl")
    expect = [(d, b, k, y) for d in ERR["dims"] for b in ERR["betas"] for k in ERR["features"]
              for y in ERR["Y"]]
    assert [(r["dim"], r["beta"], r["features"], r["Y"]) for r in rows] == expect
    n_eval = ERR["queries"] * ERR["seeds"]
    for r in rows:
        assert r["experiment"] == "drdam-error"
        assert 0 <= r["unsupported"] < n_eval, r
        for key in ("energy_mae", "energy_rel_mae", "grad_mae", "grad_abs_mean"):
            assert isinstance(r[key], float) and r[key] >= 0.0, (key, r)
        assert r["energy_mae"] > 0.0 and r["grad_mae"] > 0.0
        if r["features"] == "positive":
            assert r["unsupported"] == 0, r
    # The exact gradient's scale depends on the data (d, beta) only, not on the map or Y.
    for d in ERR["dims"]:
        for b in ERR["betas"]:
            scales = {r["grad_abs_mean"] for r in rows if (r["dim"], r["beta"]) == (d, b)}
            assert len(scales) == 1, (d, b, scales)


def test_relative_error_is_beta_times_energy_error_when_small(full):
    """|exp(-beta dE) - 1| = beta |dE| (1 + O(beta dE)): the two error columns agree."""
    out, _ = full
    rows = [r for r in read_jsonl(out / "drdam_error.jsonl") if r["beta"] * r["energy_mae"] < 0.05]
    assert len(rows) >= 6
    for r in rows:
        assert 0.8 < r["energy_rel_mae"] / (r["beta"] * r["energy_mae"]) < 1.25, r


def polyfit_slopes(rows):
    keep = [r for r in rows
            if isinstance(r["energy_mae"], float) and r["energy_mae"] > 0 and r["grad_mae"] > 0]
    if len(keep) < 2:
        return None
    ly = np.log([r["Y"] for r in keep])
    se, ie = np.polyfit(ly, np.log([r["energy_mae"] for r in keep]), 1)
    sg, _ = np.polyfit(ly, np.log([r["grad_mae"] for r in keep]), 1)
    return se, ie, sg


def check_fits(out, dims, betas, kinds):
    rows = read_jsonl(out / "drdam_error.jsonl")
    fits = load_json(out / "drdam.json")["error_fits"]
    expect = [(d, b, k) for d in dims for b in betas for k in kinds]
    assert [(f["dim"], f["beta"], f["features"]) for f in fits] == expect
    for f in fits:
        mine = [r for r in rows if (r["dim"], r["beta"], r["features"]) ==
                (f["dim"], f["beta"], f["features"])]
        fit = polyfit_slopes(mine)
        if fit is None:  # fewer than two rows with a finite error: no fit
            assert f["energy_slope"] == f["grad_slope"] == "nan", f
            continue
        se, ie, sg = fit
        assert f["energy_slope"] == pytest.approx(se, rel=1e-9, abs=1e-12)
        assert f["energy_intercept"] == pytest.approx(ie, rel=1e-9, abs=1e-12)
        assert f["grad_slope"] == pytest.approx(sg, rel=1e-9, abs=1e-12)
    return fits


def test_error_fits_are_numpy_polyfit_of_the_rows(full):
    out, _ = full
    check_fits(out, ERR["dims"], ERR["betas"], ERR["features"])


def test_fourier_errors_fall_like_inverse_sqrt_Y(run_cli, tmp_path):
    kinds = ["fourier", "fourier-phase"]
    p = ok(study(run_cli, tmp_path / "o", "--parts", "error", "--dims", 8, "--betas", 2,
                 "--Y", "256,1024,4096,16384", "--seeds", 3, "--features", csv(kinds)))
    fits = check_fits(tmp_path / "o", [8], [2.0], kinds)
    for f in fits:
        assert -0.75 <= f["energy_slope"] <= -0.25, f
        assert -0.75 <= f["grad_slope"] <= -0.25, f
        assert f"error d=8 beta=2 {f['features']}: energy slope {f['energy_slope']:.3f}" \
            in p.stdout
    rows = read_jsonl(tmp_path / "o" / "drdam_error.jsonl")
    for k in kinds:
        e = [r["energy_mae"] for r in rows if r["features"] == k]
        assert e[-1] < e[0] / 4, (k, e)  # 64 times the features: about 8 times less error


# ---- (c) bytes -------------------------------------------------------------------------------

def test_bytes_rows_follow_the_closed_forms(full):
    out, _ = full
    rows = read_jsonl(out / "drdam_bytes.jsonl")
    assert rows == load_json(out / "drdam.json")["bytes"]
    assert [(r["dim"], r["M"]) for r in rows] == [(d, m) for d in BYT["dims"] for m in BYT["M"]]
    y = BYT["Y"]
    for r in rows:
        d, m = r["dim"], r["M"]
        assert r["experiment"] == "drdam-bytes" and r["Y"] == y
        assert r["explicit_bytes"] == 4 * m * d
        assert r["distributed_bytes"] == 8 * y
        assert r["reference_bytes"] == 4 * (y // 2) * d + 4 * y  # fourier: Y/2 projections
        be = r["break_even_M"]
        assert be == 2 * y // d + 1
        # By its definition: the smallest M whose explicit memories outweigh T.
        assert 4 * be * d > 8 * y >= 4 * (be - 1) * d


# ---- parts, figures, threads, seed -----------------------------------------------------------

SMALL = ["--dataset", "sklearn-digits", "--dims", 8, "--betas", 2, "--Y", "64,256",
         "--patterns", 10, "--queries", 4, "--seeds", 1, "--retrieval-patterns", 4,
         "--retrieval-betas", 2, "--retrieval-Y", 256, "--steps", 8,
         "--bytes-M", "10,100", "--bytes-dims", 8, "--bytes-Y", 256]


@pytest.mark.parametrize("parts, files, keys", [
    ("bytes", {"drdam.json", "drdam_bytes.jsonl"}, {"bytes"}),
    ("error", {"drdam.json", "drdam_error.jsonl"}, {"error_fits"}),
    ("retrieval", ALL_FILES - {"drdam_error.jsonl", "drdam_bytes.jsonl"}, {"retrieval"}),
    ("bytes,error", {"drdam.json", "drdam_bytes.jsonl", "drdam_error.jsonl"},
     {"bytes", "error_fits"}),
])
def test_parts_select_the_files(run_cli, tmp_path, parts, files, keys):
    out = tmp_path / "o"
    # Figures only where asked for: bytes has none, so no --no-plot is needed there.
    p = ok(study(run_cli, out, "--parts", parts, *SMALL, plot=parts == "bytes"))
    assert files_in(out) == files
    assert set(load_json(out / "drdam.json")) == {"experiment", "paper"} | keys
    assert "figure:" not in p.stdout


def test_figures_are_written(run_cli, tmp_path):
    out = tmp_path / "o"
    p = ok(study(run_cli, out, *SMALL, plot=True))
    assert files_in(out) == ALL_FILES | {"drdam_error.png", "drdam_retrieval.png"}
    for name in ("drdam_error.png", "drdam_retrieval.png"):
        raw = (out / name).read_bytes()
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR", name
        w, h = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
        assert w >= 200 and h >= 200, (name, w, h)
        assert f"figure: {out / name}" in p.stdout


def test_threads_do_not_change_the_results(run_cli, tmp_path):
    for t in (1, 2):
        ok(study(run_cli, tmp_path / f"t{t}", *SMALL, "--retrieval-features",
                 "fourier,positive", "--threads", t))
    a, b = tmp_path / "t1", tmp_path / "t2"
    for name in ("drdam_error.jsonl", "drdam_retrieval.jsonl", "drdam_bytes.jsonl"):
        assert without_seconds(read_jsonl(a / name)) == without_seconds(read_jsonl(b / name))
    for name in sorted(x for x in ALL_FILES if x.endswith(".npy")):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_seed_changes_the_error_data_and_is_reproducible(run_cli, tmp_path):
    args = ["--parts", "error", "--dims", 8, "--betas", 2, "--Y", 256, "--seeds", 1,
            "--patterns", 10, "--queries", 4]
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        ok(study(run_cli, tmp_path / name, *args, "--seed", seed))
    rows = {n: without_seconds(read_jsonl(tmp_path / n / "drdam_error.jsonl")) for n in "abc"}
    assert rows["a"] == rows["b"]
    assert rows["a"][0]["grad_abs_mean"] != rows["c"][0]["grad_abs_mean"]


def test_seed_changes_the_retrieval_draw(run_cli, tmp_path):
    """--seed is "Seed of the data and the maps": it must also draw the images of part (b)."""
    args = ["--parts", "retrieval", "--dataset", "sklearn-digits", "--retrieval-patterns", 6,
            "--retrieval-betas", 2, "--retrieval-Y", 256, "--steps", 5]
    for seed in (0, 1):
        ok(study(run_cli, tmp_path / f"s{seed}", *args, "--seed", seed))
    idx = [load_json(tmp_path / f"s{s}" / "drdam.json")["retrieval"]["indices"] for s in (0, 1)]
    assert idx[0] != idx[1]


# ---- bad input -------------------------------------------------------------------------------

BASE = {"--dataset": "sklearn-digits", "--dims": "8", "--betas": "2", "--Y": "64",
        "--features": "fourier", "--patterns": "12", "--queries": "4", "--seeds": "1",
        "--retrieval-patterns": "5", "--retrieval-betas": "2", "--retrieval-Y": "64",
        "--retrieval-features": "fourier", "--steps": "3", "--bytes-M": "10",
        "--bytes-dims": "8", "--bytes-Y": "64"}

# (overrides, fragments the one line must hold)
BAD = [
    ({"--parts": "error,foo"}, ["--parts", "'foo'"]),
    ({"--parts": "bytes,Retrieval"}, ["--parts", "'Retrieval'"]),
    ({"--features": "bogus"}, ["--features", "bogus"]),
    ({"--retrieval-features": "fourier,bogus"}, ["--retrieval-features", "bogus"]),
    ({"--retrieval-patterns": str(N_DIGITS + 1)}, ["--retrieval-patterns", "1797"]),
    ({"--retrieval-patterns": "0"}, ["--retrieval-patterns"]),
    ({"--occlude": "0"}, ["--occlude"]),
    ({"--occlude": "1"}, ["--occlude"]),
    ({"--occlude": "-0.5"}, ["--occlude"]),
    ({"--Y": "3"}, ["--Y", "3"]),
    ({"--Y": "64,0"}, ["--Y"]),
    ({"--retrieval-Y": "3"}, ["--retrieval-Y", "3"]),
    ({"--bytes-Y": "3"}, ["--bytes-Y", "3"]),
    ({"--dims": "0"}, ["--dims"]),
    ({"--dims": "8,-2"}, ["--dims"]),
    ({"--bytes-dims": "0"}, ["--bytes-dims"]),
    ({"--bytes-M": "-1"}, ["--bytes-M"]),
    ({"--queries": "13"}, ["--queries", "--patterns"]),
    ({"--queries": "0"}, ["--queries"]),
    ({"--seeds": "0"}, ["--seeds"]),
    ({"--betas": "0"}, ["--betas"]),
    ({"--retrieval-betas": "2,-1"}, ["--retrieval-betas"]),
    ({"--step-size": "0"}, ["--step-size"]),
    ({"--steps": "-1"}, ["--steps"]),
    ({"--dataset": "nope"}, ["'nope'"]),
    ({"--shape": "8,8"}, ["--shape", "--images"]),
    ({"--images": "{tmp}/wide.npy"}, ["--images", "wide.npy"]),
    ({"--images": "{tmp}/sq.npy", "--shape": "7,7"}, ["--images", "sq.npy", "7,7"]),
    ({"--images": "{tmp}/missing.npy"}, ["missing.npy"]),
    ({"--images": "{tmp}/zero_row.npy", "--retrieval-patterns": "6"}, ["all zeros"]),
]


def bad_id(case):
    return " ".join(f"{k}={v.replace('{tmp}/', '')}" for k, v in case[0].items())


@pytest.mark.parametrize("preexisting", [False, True])
@pytest.mark.parametrize("case", BAD, ids=[bad_id(c) for c in BAD])
def test_bad_input_is_one_line_and_writes_nothing(run_cli, tmp_path, case, preexisting):
    overrides, fragments = case
    rng = np.random.default_rng(0)
    np.save(tmp_path / "wide.npy", rng.uniform(size=(10, 50)))
    np.save(tmp_path / "sq.npy", rng.uniform(size=(10, 64)))
    zero_row = rng.uniform(size=(6, 64))
    zero_row[3] = 0.0
    np.save(tmp_path / "zero_row.npy", zero_row)
    opts = dict(BASE, **{k: v.replace("{tmp}", str(tmp_path)) for k, v in overrides.items()})
    args = [x for kv in opts.items() for x in kv]
    out = tmp_path / "out" / "nested"
    if preexisting:
        out.mkdir(parents=True)
    line = one_line_error(study(run_cli, out, *args, plot=True))
    if preexisting:
        assert files_in(out) == set()
    else:
        assert not out.exists()
    missing = [f for f in fragments if f not in line]
    assert not missing, (missing, line)
