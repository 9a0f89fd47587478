# SPDX-License-Identifier: MIT
"""`denseam energy`, `retrieve` and `demo`: results against NumPy oracles, JSON summaries, and every
bad-input case of issue 2 (exit code 2, a one-line message naming the file or value, and no output
file left behind)."""
import json

import numpy as np
import pytest
from scipy.special import logsumexp

from np_oracles import lsr_energy


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(0)
    mem = rng.random((50, 4))
    qry = mem[rng.integers(0, 50, 30)] + 0.05 * rng.standard_normal((30, 4))
    np.save(tmp_path / "mem.npy", mem)
    np.save(tmp_path / "qry.npy", qry)
    np.save(tmp_path / "mem32.npy", mem.astype(np.float32))
    np.save(tmp_path / "qry32.npy", qry.astype(np.float32))
    return tmp_path, mem, qry


def lse_energy(mem, q, beta):
    d2 = ((q[:, None, :] - mem[None, :, :]) ** 2).sum(-1)
    return -logsumexp(-beta / 2 * d2, axis=1) / beta


def test_energy_matches_numpy(run_cli, data):
    d, mem, qry = data
    for kernel, ref in (("lse", lse_energy), ("lsr", lsr_energy)):
        out, grad = d / f"E_{kernel}.npy", d / f"G_{kernel}.npy"
        p = run_cli(["energy", "-m", d / "mem.npy", "-q", d / "qry.npy", "--kernel", kernel,
                     "--beta", "3.0", "--out", out, "--grad", grad])
        assert p.returncode == 0, p.stderr
        summary = json.loads(p.stdout)
        assert summary["n_queries"] == 30 and summary["dtype"] == "float64"
        e = np.load(out)
        want = ref(mem, qry, 3.0)
        finite = np.isfinite(want)
        np.testing.assert_allclose(e[finite], want[finite], rtol=1e-10, atol=1e-12)
        assert np.all(np.isinf(e[~finite]))
        assert summary["unsupported"] == int((~finite).sum())
        assert np.load(grad).shape == (30, 4)


def test_energy_float32_stays_float32(run_cli, data):
    d, mem, qry = data
    p = run_cli(["energy", "-m", d / "mem32.npy", "-q", d / "qry32.npy", "--kernel", "lse",
                 "--beta", "3", "--out", d / "e32.npy"])
    assert p.returncode == 0, p.stderr
    e = np.load(d / "e32.npy")
    assert e.dtype == np.float32
    np.testing.assert_allclose(e, lse_energy(mem.astype(np.float32).astype(np.float64),
                                             qry.astype(np.float32).astype(np.float64), 3.0),
                               rtol=1e-4)


def naive_lsr_fixed_point(mem, x, beta):
    """paper Algorithm 1 with the strict rule, straight from the definition."""
    prev = None
    while True:
        s = np.flatnonzero(beta / 2 * ((x - mem) ** 2).sum(1) < 1)
        if s.size == 0:
            return x, s
        if prev is not None and np.array_equal(s, prev):
            return x, s
        x, prev = mem[s].mean(0), s


def test_retrieve_fixed_point_matches_naive_algorithm(run_cli, data):
    d, mem, qry = data
    out, sup, st = d / "R.npy", d / "S.json", d / "st.npy"
    p = run_cli(["retrieve", "-m", d / "mem.npy", "-q", d / "qry.npy", "--kernel", "lsr",
                 "--beta", "8", "--out", out, "--supports", sup, "--status", st])
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["method"] == "fixed-point"
    assert sum(summary["status_counts"].values()) == 30
    states = np.load(out)
    supports = json.loads(sup.read_text())
    for i in range(30):
        x, s = naive_lsr_fixed_point(mem, qry[i], 8.0)
        got = supports["indices"][supports["offsets"][i]:supports["offsets"][i + 1]]
        assert got == list(s)
        np.testing.assert_allclose(states[i], x, atol=1e-14)


def test_retrieve_gradient_reports_steps(run_cli, data):
    d, mem, qry = data
    p = run_cli(["retrieve", "-m", d / "mem.npy", "-q", d / "qry.npy", "--kernel", "lse",
                 "--beta", "20", "--method", "gradient", "--steps", "3000", "--lr", "0.5",
                 "--tol", "1e-9", "--out", d / "R.npy"])
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    assert summary["status_counts"]["converged"] == 30
    assert 0 < summary["mean_steps"] < 3000
    r = np.load(d / "R.npy")
    # At a converged LSE state x = sum softmax xi (the fixed-point equation).
    d2 = ((r[:, None, :] - mem[None]) ** 2).sum(-1)
    w = np.exp(-10 * d2 - logsumexp(-10 * d2, axis=1, keepdims=True))
    np.testing.assert_allclose(r, w @ mem, atol=1e-8)


def test_demo_matches_paper(run_cli, tmp_path):
    p = run_cli(["demo", "--out", tmp_path / "fig1.json"])
    assert p.returncode == 0, p.stdout + p.stderr
    j = json.loads((tmp_path / "fig1.json").read_text())
    counts = [(pn["name"], pn["beta"], pn["num_minima"], pn["num_emergent"]) for pn in j["panels"]]
    assert counts == [("1d-lsr", 0.4, 1, 1), ("1d-lsr", 0.9, 3, 1), ("1d-lsr", 2.1, 2, 0),
                      ("1d-lse", 0.4, 1, 1), ("1d-lse", 1.5, 2, 2), ("1d-lse", 4.11, 2, 0),
                      ("2d-lsr", 0.3, 1, 1), ("2d-lsr", 0.6, 4, 1), ("2d-lsr", 1.1, 7, 4),
                      ("2d-lsr", 2.1, 3, 0)]
    # V3 energies at beta = 1.1 (eps = 1e-6): midpoints 0.0957823, centroid 0.2028578.
    tri = j["panels"][8]
    energies = sorted(round(m["energy"], 6) for m in tri["minima"])
    assert energies[-1] == pytest.approx(0.2028578, abs=2e-6)
    assert energies[-2] == pytest.approx(0.0957823, abs=2e-6)
    # LSE at beta = 1.5: minima at +-0.8586, i.e. x = tanh(1.5 x).
    lse = j["panels"][4]
    for m in lse["minima"]:
        assert m["position"][0] == pytest.approx(np.tanh(1.5 * m["position"][0]), abs=1e-9)


# ---- bad input: exit code 2, one line naming the culprit, no output left behind -------------

def expect_usage_error(run_cli, args, fragments, out=None):
    p = run_cli(args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stderr.startswith("denseam: error: ") or "Error" in p.stderr or "--" in p.stderr, p.stderr
    for f in fragments:
        assert f in p.stderr, (f, p.stderr)
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(out.name + "*")), list(out.parent.iterdir())


@pytest.mark.parametrize("command", ["energy", "retrieve"])
def test_bad_inputs(run_cli, data, command):
    d, mem, qry = data
    out = d / "out.npy"
    base = [command, "--kernel", "lsr", "--beta", "2", "--out", out]

    def args(m, q, extra=()):
        return base + ["-m", m, "-q", q, *extra]

    # missing file
    expect_usage_error(run_cli, args(d / "nope.npy", d / "qry.npy"), ["nope.npy"], out)
    # not a .npy file
    (d / "text.npy").write_text("hello world, not numpy\n")
    expect_usage_error(run_cli, args(d / "text.npy", d / "qry.npy"), ["text.npy"], out)
    # unsupported dtypes
    np.save(d / "complex.npy", mem.astype(np.complex128))
    expect_usage_error(run_cli, args(d / "complex.npy", d / "qry.npy"), ["complex.npy", "<c16"], out)
    np.save(d / "obj.npy", np.array([[1, "a"]], dtype=object), allow_pickle=True)
    expect_usage_error(run_cli, args(d / "obj.npy", d / "qry.npy"), ["obj.npy"], out)
    np.save(d / "str.npy", np.array([["a", "b"]]))
    expect_usage_error(run_cli, args(d / "str.npy", d / "qry.npy"), ["str.npy"], out)
    np.save(d / "struct.npy", np.zeros((2, 2), dtype=[("a", "<f8"), ("b", "<i4")]))
    expect_usage_error(run_cli, args(d / "struct.npy", d / "qry.npy"), ["struct.npy"], out)
    # truncated data
    raw = (d / "mem.npy").read_bytes()
    (d / "trunc.npy").write_bytes(raw[:-17])
    expect_usage_error(run_cli, args(d / "trunc.npy", d / "qry.npy"), ["trunc.npy", "truncated"], out)
    # not 2-D
    np.save(d / "one_d.npy", mem[:, 0])
    expect_usage_error(run_cli, args(d / "one_d.npy", d / "qry.npy"), ["one_d.npy", "2-D", "(50,)"], out)
    np.save(d / "three_d.npy", mem.reshape(5, 10, 4))
    expect_usage_error(run_cli, args(d / "mem.npy", d / "three_d.npy"), ["three_d.npy", "2-D"], out)
    # shape mismatch between memories and queries
    np.save(d / "q3.npy", qry[:, :3])
    expect_usage_error(run_cli, args(d / "mem.npy", d / "q3.npy"), ["dimension 3", "dimension 4"], out)
    # NaN / Inf
    bad = qry.copy()
    bad[2, 1] = np.nan
    np.save(d / "qnan.npy", bad)
    expect_usage_error(run_cli, args(d / "mem.npy", d / "qnan.npy"), ["qnan.npy", "non-finite", "row 2, column 1"], out)
    bad = mem.copy()
    bad[7, 3] = np.inf
    np.save(d / "minf.npy", bad)
    expect_usage_error(run_cli, args(d / "minf.npy", d / "qry.npy"), ["minf.npy", "non-finite", "inf"], out)
    # empty memory set
    np.save(d / "empty.npy", np.zeros((0, 4)))
    expect_usage_error(run_cli, args(d / "empty.npy", d / "qry.npy"), ["empty.npy", "empty"], out)
    # beta <= 0 and non-finite beta
    for beta in ("0", "-1", "nan", "inf"):
        a = [command, "-m", d / "mem.npy", "-q", d / "qry.npy", "--kernel", "lsr", "--beta", beta, "--out", out]
        expect_usage_error(run_cli, a, ["beta"], out)
    # unknown kernel
    a = [command, "-m", d / "mem.npy", "-q", d / "qry.npy", "--kernel", "gauss", "--beta", "1", "--out", out]
    expect_usage_error(run_cli, a, ["unknown kernel 'gauss'", "lsr"], out)


def test_unwritable_output_leaves_nothing(run_cli, data):
    d, mem, qry = data
    p = run_cli(["energy", "-m", d / "mem.npy", "-q", d / "qry.npy", "--kernel", "lse", "--beta", "1",
                 "--out", d / "E.npy", "--grad", d / "no_such_dir" / "G.npy"])
    assert p.returncode != 0
    assert "no_such_dir" in p.stderr
    assert not (d / "E.npy").exists()


def test_help_lists_defaults_and_an_example(run_cli):
    for cmd in ("energy", "retrieve", "info", "demo"):
        p = run_cli([cmd, "--help"])
        assert p.returncode == 0
        assert "Example" in p.stdout, cmd
    p = run_cli(["retrieve", "--help"])
    assert "1000" in p.stdout and "fixed-point" in p.stdout  # defaults shown
