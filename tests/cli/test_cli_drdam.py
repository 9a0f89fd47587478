# SPDX-License-Identifier: MIT
"""`denseam drdam`: the distributed memory (random features) from the command line.

Oracles: the exact LSE energy and gradient of the stored patterns in NumPy (the distributed
energy converges to them as Y grows, within a bound from the estimator's variance), central
finite differences of the tool's own energies (the gradient of the same random map), NumPy
gradient descent on the exact LSE energy (retrieval). Bad input: exit code 2, one line naming the file or value, no output file left behind.
"""
import json
import struct

import numpy as np
import pytest
from scipy.special import logsumexp

KINDS = ("fourier", "fourier-phase", "positive")


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(7)
    # Centred, small norms: the positive map's variance grows like exp(beta ||x + xi||^2).
    mem = 0.3 * rng.standard_normal((30, 5))
    qry = mem[rng.integers(0, 30, 40)] + 0.1 * rng.standard_normal((40, 5))
    for name, a in (("mem", mem), ("qry", qry)):
        np.save(tmp_path / f"{name}.npy", a)
        np.save(tmp_path / f"{name}32.npy", a.astype(np.float32))
    return tmp_path, mem, qry


def lse(mem, q, beta):
    """Exact LSE energy, its gradient, and the kernel sum S = exp(-beta E)."""
    d2 = ((q[:, None, :] - mem[None, :, :]) ** 2).sum(-1)
    e = -logsumexp(-beta / 2 * d2, axis=1) / beta
    w = np.exp(-beta / 2 * d2 + beta * e[:, None])  # softmax weights
    g = (w[:, :, None] * (q[:, None, :] - mem[None, :, :])).sum(1)
    return e, g, np.exp(-beta * e)


def kernel_sum_sd_bound(kind, mem, q, beta, y):
    """An upper bound on the standard deviation of the random-feature kernel sum at each query:
    the sum over patterns of each kernel estimate's standard deviation. fourier: (2/Y) sum of
    Y/2 cosines in [-1, 1], variance <= 2/Y; fourier-phase: (1/Y) sum of Y terms
    2 cos(u + b) cos(v + b) with second moment <= 2, variance <= 2/Y; positive: (1/Y) sum of
    Y terms f with E f^2 = exp(2 beta ||x + xi||^2 - 2 beta (||x||^2 + ||xi||^2))."""
    if kind == "positive":
        s2 = ((q[:, None, :] + mem[None, :, :]) ** 2).sum(-1)
        n2 = (q ** 2).sum(1)[:, None] + (mem ** 2).sum(1)[None, :]
        var = np.exp(2 * beta * s2 - 2 * beta * n2) / y
    else:
        var = np.full((q.shape[0], mem.shape[0]), 2.0 / y)
    return np.sqrt(var).sum(1)


def run_ok(run_cli, args):
    p = run_cli(["drdam", *args])
    assert p.returncode == 0, (args, p.stderr)
    return json.loads(p.stdout)


# ---- energies and gradients -----------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_energies_converge_to_lse(run_cli, data, kind):
    d, mem, qry = data
    beta, y = 2.0, 65536
    e_out, g_out, s_out = d / "E.npy", d / "G.npy", d / "S.npy"
    s = run_ok(run_cli, ["-m", d / "mem.npy", "-q", d / "qry.npy", "--features", kind,
                         "--Y", y, "--beta", beta, "--seed", 3, "--out", e_out, "--grad", g_out,
                         "--status", s_out])
    assert (s["mode"], s["features"], s["Y"], s["beta"], s["seed"]) == ("energy", kind, y, beta, 3)
    assert (s["size"], s["dim"], s["n_queries"], s["dtype"]) == (30, 5, 40, "float64")
    assert s["n_projections"] == (y // 2 if kind == "fourier" else y)
    # Bytes: T (8 Y) held; explicit float patterns 4 M d; the reference's float projection + T.
    assert s["bytes"]["held"] == s["bytes"]["distributed"] == 8 * y
    assert s["bytes"]["explicit"] == 4 * 30 * 5
    assert s["bytes"]["reference"] == 4 * s["n_projections"] * 5 + 4 * y
    e, g, st = np.load(e_out), np.load(g_out), np.load(s_out)
    assert e.dtype == np.float64 and g.shape == (40, 5) and st.dtype == np.uint8
    assert not st.any() and s["unsupported"] == 0
    e_ref, g_ref, s_ref = lse(mem, qry, beta)
    # The kernel sum exp(-beta E~) within 5 standard deviations (bounded above) of the exact one.
    sd = kernel_sum_sd_bound(kind, mem, qry, beta, y)
    z = np.abs(np.exp(-beta * e) - s_ref) / sd
    assert z.max() < 5, z.max()
    assert np.abs(e - e_ref).max() < 0.05  # the same, in energy units (about 5 / (beta sqrt Y))
    if kind != "positive":
        # grad E~ ~ grad E: the feature gradients have variance <= 2 beta / Y per coordinate.
        tol = 5 * (np.sqrt(2 * beta / y) * 30 / (beta * s_ref)
                   + np.linalg.norm(g_ref, axis=1) * sd / s_ref)
        assert (np.abs(g - g_ref).max(1) < tol).all(), (np.abs(g - g_ref).max(1), tol)
    assert s["energy_min"] == pytest.approx(e.min()) and s["energy_max"] == pytest.approx(e.max())


def test_error_shrinks_like_one_over_sqrt_y(run_cli, data):
    d, mem, qry = data
    e_ref, _, _ = lse(mem, qry, 2.0)
    err = {}
    for y in (1024, 65536):
        run_ok(run_cli, ["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", 2, "--Y", y,
                         "--out", d / f"E{y}.npy"])
        err[y] = np.abs(np.load(d / f"E{y}.npy") - e_ref).mean()
    # 64 times the features: 8 times smaller errors expected; at least 3 times.
    assert err[1024] / err[65536] > 3, err


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_is_that_of_the_energy(run_cli, data, kind):
    """--grad against central differences of the tool's own energies (same map: same seed)."""
    d, _, qry = data
    x = qry[:6]
    h = 1e-5
    pts = [x]
    for k in range(5):
        step = np.zeros(5)
        step[k] = h
        pts += [x + step, x - step]
    np.save(d / "fd.npy", np.concatenate(pts))
    common = ["-m", d / "mem.npy", "--features", kind, "--Y", 4096, "--beta", 2]
    run_ok(run_cli, common + ["-q", d / "fd.npy", "--out", d / "Efd.npy"])
    np.save(d / "x.npy", x)
    run_ok(run_cli, common + ["-q", d / "x.npy", "--grad", d / "Gx.npy", "--out", d / "Ex.npy"])
    e = np.load(d / "Efd.npy").reshape(11, 6)
    fd = np.stack([(e[1 + 2 * k] - e[2 + 2 * k]) / (2 * h) for k in range(5)], axis=1)
    np.testing.assert_allclose(np.load(d / "Gx.npy"), fd, atol=1e-6)
    np.testing.assert_array_equal(np.load(d / "Ex.npy"), e[0])


def test_results_do_not_depend_on_threads_or_cache(run_cli, data):
    d, _, _ = data
    common = ["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", 2, "--Y", 8192,
              "--features", "fourier-phase", "--orthogonal"]
    run_ok(run_cli, common + ["--threads", 1, "--out", d / "E1.npy", "--grad", d / "G1.npy"])
    s = run_ok(run_cli, common + ["--threads", 2, "--cache-projections", "--out", d / "E2.npy",
                                  "--grad", d / "G2.npy"])
    np.testing.assert_array_equal(np.load(d / "E1.npy"), np.load(d / "E2.npy"))
    np.testing.assert_array_equal(np.load(d / "G1.npy"), np.load(d / "G2.npy"))
    assert s["orthogonal"] and s["cache_projections"]
    # The cache (float projections, Y x d) is counted in the bytes held.
    assert s["bytes"]["held"] == 8 * 8192 + 4 * 8192 * 5
    # A different seed is a different map.
    run_ok(run_cli, common + ["--seed", 1, "--out", d / "E3.npy"])
    assert not np.array_equal(np.load(d / "E1.npy"), np.load(d / "E3.npy"))


def test_float32_and_dtype(run_cli, data):
    d, _, _ = data
    common = ["--beta", 2, "--Y", 8192]
    run_ok(run_cli, common + ["-m", d / "mem32.npy", "-q", d / "qry32.npy", "--out", d / "E32.npy",
                              "--grad", d / "G32.npy"])
    s = run_ok(run_cli, common + ["-m", d / "mem32.npy", "-q", d / "qry32.npy", "--dtype", "float64",
                                  "--out", d / "E64.npy", "--grad", d / "G64.npy"])
    assert s["dtype"] == "float64"
    e32, e64 = np.load(d / "E32.npy"), np.load(d / "E64.npy")
    assert e32.dtype == np.float32 and np.load(d / "G32.npy").dtype == np.float32
    assert e64.dtype == np.float64
    # Same map, same T (built in double from the same float patterns): float arithmetic only.
    np.testing.assert_allclose(e32, e64, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.load(d / "G32.npy"), np.load(d / "G64.npy"), atol=1e-3)
    # Float32 queries with float64 memories: float64, like `denseam energy`.
    s = run_ok(run_cli, common + ["-m", d / "mem.npy", "-q", d / "qry32.npy", "--out", d / "E.npy"])
    assert s["dtype"] == "float64" and np.load(d / "E.npy").dtype == np.float64


# ---- save, load, add, remove ----------------------------------------------------------------

def read_safetensors(path):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__")
    (name, t), = header.items()
    begin, end = t["data_offsets"]
    return name, t, meta, np.frombuffer(raw[8 + n + begin:8 + n + end], dtype="<f8")


def test_save_then_load_gives_identical_energies(run_cli, data):
    d, mem, qry = data
    st = d / "M.safetensors"
    s = run_ok(run_cli, ["-m", d / "mem.npy", "--features", "positive", "--Y", 3000, "--beta", 1.5,
                         "--seed", 11, "--save", st])
    assert s["mode"] == "build" and s["size"] == 30 and s["save"] == str(st)
    assert not [p.name for p in d.iterdir() if p.name.startswith(".")]  # no temporary left
    name, t, meta, feats = read_safetensors(st)
    assert name == "features" and t["dtype"] == "F64" and t["shape"] == [3000]
    assert (meta["kind"], meta["n_features"], meta["beta"], meta["seed"], meta["dim"],
            meta["count"]) == ("positive", "3000", "1.5", "11", "5", "30")
    assert np.all(feats > 0)  # positive features
    common = ["-q", d / "qry.npy", "--grad"]
    run_ok(run_cli, ["-m", d / "mem.npy", "--features", "positive", "--Y", 3000, "--beta", 1.5,
                     "--seed", 11, *common, d / "G1.npy", "--out", d / "E1.npy"])
    s = run_ok(run_cli, ["--load", st, *common, d / "G2.npy", "--out", d / "E2.npy"])
    assert (s["features"], s["Y"], s["beta"], s["seed"], s["size"], s["dim"]) == (
        "positive", 3000, 1.5, 11, 30, 5)
    np.testing.assert_array_equal(np.load(d / "E1.npy"), np.load(d / "E2.npy"))
    np.testing.assert_array_equal(np.load(d / "G1.npy"), np.load(d / "G2.npy"))
    # The same options, given again, agree with the file.
    run_ok(run_cli, ["--load", st, "--features", "positive", "--Y", 3000, "--beta", 1.5,
                     "--seed", 11, "-q", d / "qry.npy"])


def test_load_add_remove(run_cli, data):
    d, mem, qry = data
    np.save(d / "first.npy", mem[:12])
    np.save(d / "rest.npy", mem[12:])
    common = ["--beta", 2, "--Y", 8192]
    run_ok(run_cli, ["-m", d / "first.npy", *common, "--save", d / "A.safetensors"])
    s = run_ok(run_cli, ["--load", d / "A.safetensors", "-m", d / "rest.npy", "-q", d / "qry.npy",
                         "--out", d / "E_inc.npy", "--save", d / "B.safetensors"])
    assert s["size"] == 30 and s["added"] == 18
    run_ok(run_cli, ["-m", d / "mem.npy", *common, "-q", d / "qry.npy", "--out", d / "E_all.npy"])
    np.testing.assert_allclose(np.load(d / "E_inc.npy"), np.load(d / "E_all.npy"), rtol=1e-12)
    # Removing the first 12 leaves the memory of the other 18.
    s = run_ok(run_cli, ["--load", d / "B.safetensors", "--remove", d / "first.npy",
                         "-q", d / "qry.npy", "--out", d / "E_rm.npy"])
    assert (s["size"], s["removed"]) == (18, 12)
    run_ok(run_cli, ["-m", d / "rest.npy", *common, "-q", d / "qry.npy", "--out", d / "E_rest.npy"])
    np.testing.assert_allclose(np.load(d / "E_rm.npy"), np.load(d / "E_rest.npy"), rtol=1e-9)


def test_removing_every_pattern_gives_the_empty_memory(run_cli, data):
    d, _, qry = data
    common = ["-m", d / "mem.npy", "--remove", d / "mem.npy", "--beta", 2, "--Y", 2048,
              "-q", d / "qry.npy", "--status", d / "S.npy"]
    s = run_ok(run_cli, common + ["--out", d / "E.npy", "--save", d / "empty.safetensors"])
    assert s["size"] == 0 and s["unsupported"] == 40 and s["energy_min"] is None
    assert np.all(np.isposinf(np.load(d / "E.npy")))
    assert np.all(np.load(d / "S.npy") == 1)  # energy_status::unsupported
    _, _, meta, feats = read_safetensors(d / "empty.safetensors")
    assert meta["count"] == "0" and not feats.any()
    # Retrieval from an empty memory: every query stops at once, out of support.
    s = run_ok(run_cli, common + ["--retrieve", "--out", d / "R.npy", "--energy", d / "RE.npy"])
    assert s["status_counts"]["out-of-support"] == 40
    np.testing.assert_array_equal(np.load(d / "R.npy"), qry)
    assert np.all(np.load(d / "S.npy") == 2) and np.all(np.isposinf(np.load(d / "RE.npy")))


# ---- retrieval ------------------------------------------------------------------------------

def lse_descent(mem, x, beta, lr, steps, clamp=()):
    x = x.copy()
    for _ in range(steps):
        _, g, _ = lse(mem, x, beta)
        g[:, list(clamp)] = 0
        x -= lr * g
    return x


@pytest.fixture()
def separated(tmp_path):
    rng = np.random.default_rng(3)
    mem = rng.random((6, 4)) * 2.0
    idx = rng.integers(0, 6, 24)
    qry = mem[idx] + 0.1 * rng.standard_normal((24, 4))
    np.save(tmp_path / "mem.npy", mem)
    np.save(tmp_path / "qry.npy", qry)
    return tmp_path, mem, qry


def test_retrieval_follows_the_lse_descent(run_cli, separated):
    d, mem, qry = separated
    beta, lr, steps = 6.0, 0.1, 200
    s = run_ok(run_cli, ["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", beta, "--Y", 16384,
                         "--threads", 1, "--retrieve", "--steps", steps, "--lr", lr, "--tol", 0,
                         "--out", d / "R.npy", "--energy", d / "RE.npy", "--status", d / "S.npy"])
    assert s["mode"] == "retrieve" and s["method"] == "gradient"
    assert s["status_counts"]["max-steps"] == 24 and s["mean_steps"] == steps
    r = np.load(d / "R.npy")
    want = lse_descent(mem, qry, beta, lr, steps)
    # Gradient errors of order 5/sqrt(Y) move the minima by about as much (unit curvature).
    assert np.abs(r - want).max() < 0.1, np.abs(r - want).max()
    assert np.abs(want - qry).max() > 0.2  # the descent went somewhere
    assert np.all(np.load(d / "S.npy") == 1)
    # --energy: the energies of the states returned, as the energy mode gives them.
    np.save(d / "Rq.npy", r)
    run_ok(run_cli, ["-m", d / "mem.npy", "-q", d / "Rq.npy", "--beta", beta, "--Y", 16384,
                     "--out", d / "E.npy"])
    np.testing.assert_allclose(np.load(d / "RE.npy"), np.load(d / "E.npy"), rtol=1e-12)


def test_retrieval_clamp_and_noise(run_cli, separated):
    d, mem, qry = separated
    common = ["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", 6, "--Y", 16384, "--threads", 1,
              "--retrieve", "--steps", 150, "--lr", 0.1, "--lr-end", 0.01]
    run_ok(run_cli, common + ["--clamp", "0,2", "--out", d / "R.npy"])
    r = np.load(d / "R.npy")
    np.testing.assert_array_equal(r[:, [0, 2]], qry[:, [0, 2]])
    # The cosine schedule of retrieval.hpp: lr_t = lr [(1 - a)(1 + cos(pi t / n)) / 2 + a].
    x = qry.copy()
    for t in range(150):
        a = 0.01 / 0.1
        step = 0.1 * ((1 - a) * (1 + np.cos(np.pi * t / 150)) / 2 + a)
        _, g, _ = lse(mem, x, 6.0)
        g[:, [0, 2]] = 0
        x -= step * g
    assert np.abs(r - x).max() < 0.1, np.abs(r - x).max()
    # Noise: reproducible from its seed, different with another.
    for name, seed in (("N1", 5), ("N2", 5), ("N3", 6)):
        run_ok(run_cli, common + ["--noise", 0.5, "--noise-seed", seed, "--out", d / f"{name}.npy"])
    n1, n2, n3 = (np.load(d / f"N{i}.npy") for i in (1, 2, 3))
    np.testing.assert_array_equal(n1, n2)
    assert not np.array_equal(n1, n3) and not np.array_equal(n1, r)


def test_float32_retrieval(run_cli, separated):
    d, mem, qry = separated
    np.save(d / "q32.npy", qry.astype(np.float32))
    s = run_ok(run_cli, ["-m", d / "mem.npy", "-q", d / "q32.npy", "--dtype", "float32",
                         "--beta", 6, "--Y", 8192, "--threads", 1, "--retrieve", "--steps", 100, "--lr", 0.1,
                         "--out", d / "R.npy"])
    assert s["dtype"] == "float32"
    r = np.load(d / "R.npy")
    assert r.dtype == np.float32
    want = lse_descent(mem, qry.astype(np.float32).astype(np.float64), 6.0, 0.1, 100)
    assert np.abs(r - want).max() < 0.15


# ---- bad input: exit code 2, one line, nothing written --------------------------------------

def expect_error(run_cli, d, args, fragments):
    before = set(p.name for p in d.iterdir())
    p = run_cli(["drdam", *args])
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    line = p.stderr.strip()
    assert line.startswith("denseam: error: ") and "\n" not in line, p.stderr
    for f in fragments:
        assert f in line, (f, line)
    assert p.stdout == ""
    assert set(p.name for p in d.iterdir()) == before, set(p.name for p in d.iterdir()) - before


def test_bad_inputs(run_cli, data):
    d, mem, qry = data
    out = ["--save", d / "M2.safetensors", "--json", d / "s.json"]
    out_q = ["--out", d / "E.npy", "--grad", d / "G.npy"]
    ok = ["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", 2, "--Y", 2048]
    run_ok(run_cli, ["-m", d / "mem.npy", "--beta", 2, "--Y", 2048, "--save", d / "M.safetensors"])
    st = d / "M.safetensors"

    def bad(args, *fragments):
        expect_error(run_cli, d, [*args, *out, *(out_q if "-q" in args else [])], fragments)

    # files
    bad(["-m", d / "nope.npy", "-q", d / "qry.npy", "--beta", 2], "nope.npy")
    np.save(d / "q3.npy", qry[:, :3])
    bad(["-m", d / "mem.npy", "-q", d / "q3.npy", "--beta", 2], "q3.npy", "dimension 3",
        "dimension 5")
    bad(["--load", st, "-q", d / "q3.npy"], "q3.npy", "dimension 3", "M.safetensors")
    bad([*ok, "--remove", d / "q3.npy"], "q3.npy", "dimension 3")
    np.save(d / "m3.npy", mem[:, :3])
    bad(["--load", st, "-m", d / "m3.npy"], "m3.npy", "dimension 3")
    np.save(d / "one_d.npy", mem[:, 0])
    bad(["-m", d / "one_d.npy", "--beta", 2], "one_d.npy", "2-D")
    q = qry.copy()
    q[4, 2] = np.nan
    np.save(d / "qnan.npy", q)
    bad(["-m", d / "mem.npy", "-q", d / "qnan.npy", "--beta", 2], "qnan.npy", "row 4, column 2")
    m = mem.copy()
    m[1, 0] = np.inf
    np.save(d / "minf.npy", m)
    bad(["-m", d / "minf.npy", "-q", d / "qry.npy", "--beta", 2], "minf.npy", "non-finite")
    # the map
    bad([*ok, "--features", "gauss"], "--features", "gauss", "fourier-phase")
    bad(["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", 2, "--Y", 2047], "--Y", "even",
        "2047")
    for beta in ("0", "-1", "nan", "inf"):
        bad(["-m", d / "mem.npy", "-q", d / "qry.npy", "--beta", beta], "--beta")
    bad(["-m", d / "mem.npy", "-q", d / "qry.npy"], "--beta", "required")
    bad(["-q", d / "qry.npy", "--beta", 2], "--memories", "--load")
    big = np.full((3, 5), 20.0)
    np.save(d / "big.npy", big)
    bad(["-m", d / "big.npy", "--features", "positive", "--beta", 2, "--Y", 64], "big.npy",
        "row 0", "underflow")
    bad([*ok, "--remove", d / "mem.npy", "--remove", d / "mem.npy"], "--remove")
    np.save(d / "many.npy", np.concatenate([mem, mem]))
    bad([*ok, "--remove", d / "many.npy"], "many.npy", "60 patterns", "holds 30")
    # --load: conflicts, foreign and corrupt files
    bad(["--load", st, "-q", d / "qry.npy", "--beta", 3], "--beta 3", "beta = 2")
    bad(["--load", st, "-q", d / "qry.npy", "--features", "positive"], "--features positive")
    bad(["--load", st, "-q", d / "qry.npy", "--Y", 4096], "--Y 4096", "2048")
    bad(["--load", st, "-q", d / "qry.npy", "--seed", 9], "--seed 9")
    bad(["--load", st, "-q", d / "qry.npy", "--orthogonal"], "--orthogonal")
    bad(["--load", d / "mem.npy", "-q", d / "qry.npy"], "mem.npy")
    header = json.dumps({"__metadata__": {"format": "something-else"},
                         "w": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}).encode()
    (d / "foreign.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(16))
    bad(["--load", d / "foreign.safetensors", "-q", d / "qry.npy"], "foreign.safetensors",
        "not a denseam distributed memory")
    raw = st.read_bytes()
    (d / "trunc.safetensors").write_bytes(raw[:-100])
    bad(["--load", d / "trunc.safetensors", "-q", d / "qry.npy"], "trunc.safetensors")
    # outputs that are inputs, or the same file twice
    expect_error(run_cli, d, [*ok, "--out", d / "qry.npy"], ["--out", "qry.npy", "input"])
    expect_error(run_cli, d, ["--load", st, "--save", st], ["--save", "M.safetensors"])
    expect_error(run_cli, d, [*ok, "--out", d / "E.npy", "--grad", d / "E.npy"], ["E.npy"])
    expect_error(run_cli, d, [*ok, "--out", d / "no_dir" / "E.npy"], ["no_dir"])
    # options that would do nothing
    expect_error(run_cli, d, ["-m", d / "mem.npy", "--beta", 2, *out_q], ["--out", "without --queries"])
    expect_error(run_cli, d, [*ok, "--retrieve", "--out", d / "R.npy", "--grad", d / "G.npy"],
                 ["--grad", "--retrieve"])
    expect_error(run_cli, d, [*ok, "--retrieve"], ["--retrieve needs --out"])
    bad([*ok, "--lr", 0.5], "--lr", "without --retrieve")
    bad([*ok, "--energy", d / "RE.npy"], "--energy")
    # retrieval options
    r = [*ok, "--retrieve", "--out", d / "R.npy"]
    expect_error(run_cli, d, [*r, "--clamp", "5"], ["--clamp", "5", "dimension 5"])
    expect_error(run_cli, d, [*r, "--clamp", "-1"], ["--clamp", "-1"])
    expect_error(run_cli, d, [*r, "--steps", "-1"], ["--steps"])
    expect_error(run_cli, d, [*r, "--tol", "-1"], ["--tol"])
    expect_error(run_cli, d, [*r, "--noise-seed", "3"], ["--noise-seed", "--noise"])
    expect_error(run_cli, d, [*ok, "--dtype", "half"], ["--dtype", "half"])


def test_odd_y_is_fine_for_the_other_maps(run_cli, data):
    d, _, _ = data
    for kind in ("fourier-phase", "positive"):
        s = run_ok(run_cli, ["-m", d / "mem.npy", "--beta", 2, "--Y", 2047, "--features", kind,
                             "-q", d / "qry.npy", "--json", d / "s.json"])
        assert s["Y"] == 2047
        assert json.loads((d / "s.json").read_text()) == s


def test_help_lists_options_and_examples(run_cli):
    p = run_cli(["drdam", "--help"])
    assert p.returncode == 0
    for word in ("--features", "--Y", "65536", "--retrieve", "--clamp", "--save", "--load",
                 "Example"):
        assert word in p.stdout, word
