# SPDX-License-Identifier: MIT
"""`denseam energy|retrieve|minima --distributed` under mpirun (memories sharded over ranks).

Oracles: the single-process command (same binary, same flags, no mpirun) must give the same
output files: energies within 1e-12 relative (bit for bit with one rank), gradients within
1e-10, LSR fixed points within 1e-12 with identical support sets and statuses, gradient descent
within 1e-9, minima within 1e-12 with identical support JSON. NumPy checks the oracle itself
(LSE/LSR energies, fixed points as means of their strict support sets). The summary's
"distributed" block is checked against the shard sizes the spec fixes. Bad input on any rank:
exit code 2, one "denseam: error: ..." line naming the file, no hang, no output file.

The module is skipped when mpirun is missing, when DENSEAM_TEST_MPI=0, or when the binary
answers --distributed with "built without MPI".
"""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pytest

from np_oracles import sq_dists

TIMEOUT = 120
RANKS = (1, 2, 3)
# Set once per module by _mpi (below) from conftest's denseam_bin and cli_env fixtures.
BIN = None
ENV = None


def mpi(n, *args):
    """mpirun -np n denseam ARGS --threads 1 --distributed -> CompletedProcess."""
    cmd = ["mpirun", "--oversubscribe", "--allow-run-as-root", "-np", str(n), str(BIN),
           *map(str, args), "--threads", "1", "--distributed"]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=TIMEOUT,
                          check=False)


def single(*args):
    """The single-process command (the oracle)."""
    return subprocess.run([str(BIN), *map(str, args)], capture_output=True, text=True, env=ENV,
                          timeout=TIMEOUT, check=False)


def _skip_reason():
    if os.environ.get("DENSEAM_TEST_MPI", "1").strip() == "0":
        return "DENSEAM_TEST_MPI=0"
    if shutil.which("mpirun") is None:
        return "mpirun is not on PATH"
    with tempfile.TemporaryDirectory() as d:
        x = pathlib.Path(d) / "x.npy"
        np.save(x, np.array([[0.0, 0.0], [1.0, 0.0]]))
        try:
            p = mpi(1, "energy", "--memories", x, "--queries", x, "--kernel", "lsr", "--beta", 1)
        except subprocess.TimeoutExpired:
            return None  # a hang is a failure of the tests, not a reason to skip
    if p.returncode == 2 and "without MPI" in p.stderr:
        return f"{BIN} was built without MPI: {p.stderr.strip()}"
    return None


@pytest.fixture(scope="module", autouse=True)
def _mpi(denseam_bin, cli_env):
    """The binary (a missing one fails through conftest's fixture, never skips), the tool's
    environment plus Open MPI's settings, and the module's skip when MPI is unavailable."""
    global BIN, ENV
    BIN = denseam_bin
    ENV = dict(cli_env, OMPI_MCA_rmaps_base_oversubscribe="1")
    # Containers often forbid the cross-memory attach Open MPI's shared-memory transport tries
    # first; copying through the shared segment works everywhere (tests move little data).
    ENV.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)


def ok(p):
    assert p.returncode == 0, (p.args, p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout)  # one JSON object: rank 0 prints, the others do not


def fails(p, *fragments):
    """Exit 2, one "denseam: error:" line (from one rank) holding every fragment."""
    assert p.returncode == 2, (p.args, p.returncode, p.stdout, p.stderr)
    assert p.stderr.count("denseam: error:") == 1, p.stderr
    assert "not expected: --distributed" not in p.stderr, p.stderr
    for f in fragments:
        assert str(f) in p.stderr, (f, p.stderr)
    return p.stderr


def row_shards(m, n):
    return [(r + 1) * m // n - r * m // n for r in range(n)]


def check_block(summary, n, m, partition="rows", batches=None):
    d = summary["distributed"]
    assert d["ranks"] == n, d
    assert d["partition"] == partition, d
    assert len(d["shard_rows"]) == n and sum(d["shard_rows"]) == m, d
    if partition == "rows":
        assert d["shard_rows"] == row_shards(m, n), d
    if n > 1:
        assert d["bytes_sent"] > 0 and d["messages"] > 0, d
    if batches is not None:
        assert d["batches"] == batches, d
    return d


# ----------------------------------------------------------------------------------------------
# energy


E_BETA = 6.0  # LSR: every query supported by 3..19 of the 37 memories
E_KERNELS = {"lse": [], "lsr": [], "cosine": [], "poly": ["--degree", 3]}


@pytest.fixture(scope="module")
def edata(tmp_path_factory):
    d = tmp_path_factory.mktemp("energy")
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(37, 4))
    q = rng.uniform(size=(23, 4))
    np.save(d / "X.npy", x)
    np.save(d / "Q.npy", q)
    np.save(d / "X32.npy", x.astype(np.float32))
    np.save(d / "Q32.npy", q.astype(np.float32))
    sup = sq_dists(q, x) < 2.0 / E_BETA
    assert sup.any(1).all() and not sup.all(1).any()  # partial supports
    return d, x, q


def energy_args(d, kernel, mem="X.npy", qry="Q.npy", tag=""):
    return ["energy", "--memories", d / mem, "--queries", d / qry, "--kernel", kernel,
            "--beta", E_BETA, *E_KERNELS[kernel], "--out", d / f"E{tag}.npy",
            "--grad", d / f"G{tag}.npy"]


_ORACLE = {}


def energy_oracle(d, kernel, mem="X.npy", qry="Q.npy"):
    key = (str(d), kernel, mem, qry)
    if key not in _ORACLE:
        tag = f"_ref_{kernel}_{mem}_{qry}".replace(".npy", "")
        s = ok(single(*energy_args(d, kernel, mem, qry, tag)))
        _ORACLE[key] = (np.load(d / f"E{tag}.npy"), np.load(d / f"G{tag}.npy"), s)
    return _ORACLE[key]


def check_grad(g, g_ref, rtol=1e-10):
    assert g.shape == g_ref.shape and g.dtype == g_ref.dtype
    np.testing.assert_allclose(g, g_ref, rtol=rtol, atol=1e-12 * np.abs(g_ref).max())


def test_energy_oracle_matches_numpy(edata):
    d, x, q = edata
    d2 = sq_dists(q, x)
    e_lse, _, _ = energy_oracle(d, "lse")
    np.testing.assert_allclose(
        e_lse, -np.log(np.exp(-E_BETA / 2 * d2).sum(1)) / E_BETA, rtol=1e-12)
    e_lsr, g_lsr, _ = energy_oracle(d, "lsr")
    w = np.maximum(1.0 - E_BETA / 2 * d2, 0.0)
    np.testing.assert_allclose(e_lsr, -np.log(w.sum(1)) / E_BETA, rtol=1e-12)
    g = ((w > 0)[:, :, None] * (q[:, None, :] - x[None, :, :])).sum(1) / w.sum(1)[:, None]
    np.testing.assert_allclose(g_lsr, g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kernel", list(E_KERNELS))
@pytest.mark.parametrize("n", RANKS)
def test_energy_matches_single_process(edata, kernel, n):
    d, x, q = edata
    e_ref, g_ref, s_ref = energy_oracle(d, kernel)
    tag = f"_{kernel}_{n}"
    s = ok(mpi(n, *energy_args(d, kernel, tag=tag)))
    e, g = np.load(d / f"E{tag}.npy"), np.load(d / f"G{tag}.npy")
    assert e.shape == e_ref.shape and e.dtype == e_ref.dtype == np.float64
    if n == 1:
        assert np.array_equal(e, e_ref), np.abs(e - e_ref).max()
    np.testing.assert_allclose(e, e_ref, rtol=1e-12, atol=0)
    check_grad(g, g_ref)
    for k in ("n_memories", "n_queries", "dim", "dtype", "kernel", "unsupported"):
        assert s[k] == s_ref[k], k
    check_block(s, n, len(x), batches=1)


def test_energy_float32(edata):
    d, x, q = edata
    e_ref, g_ref, _ = energy_oracle(d, "lsr", "X32.npy", "Q32.npy")
    assert e_ref.dtype == np.float32
    s = ok(mpi(2, *energy_args(d, "lsr", "X32.npy", "Q32.npy", tag="_f32")))
    e, g = np.load(d / "E_f32.npy"), np.load(d / "G_f32.npy")
    assert e.dtype == np.float32 and s["dtype"] == "float32"
    np.testing.assert_allclose(e, e_ref, rtol=1e-5)
    np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5 * np.abs(g_ref).max())
    check_block(s, 2, len(x))


def test_energy_rank_without_memories(edata):
    d, x, q = edata
    np.save(d / "X2.npy", x[:2])
    e_ref, g_ref, _ = energy_oracle(d, "lse", "X2.npy")
    s = ok(mpi(3, *energy_args(d, "lse", "X2.npy", tag="_m2")))
    np.testing.assert_allclose(np.load(d / "E_m2.npy"), e_ref, rtol=1e-12, atol=0)
    check_grad(np.load(d / "G_m2.npy"), g_ref)
    assert check_block(s, 3, 2)["shard_rows"] == [0, 1, 1]


def test_energy_fewer_queries_than_ranks(edata):
    d, x, q = edata
    np.save(d / "Q1.npy", q[:1])
    e_ref, g_ref, _ = energy_oracle(d, "lsr", "X.npy", "Q1.npy")
    s = ok(mpi(3, *energy_args(d, "lsr", qry="Q1.npy", tag="_q1")))
    e = np.load(d / "E_q1.npy")
    assert e.shape == (1,)
    np.testing.assert_allclose(e, e_ref, rtol=1e-12, atol=0)
    check_grad(np.load(d / "G_q1.npy"), g_ref)
    check_block(s, 3, len(x), batches=1)


def test_energy_several_batches(edata):
    d, x, q = edata
    e_ref, g_ref, _ = energy_oracle(d, "lse")
    s = ok(mpi(2, *energy_args(d, "lse", tag="_b5"), "--batch", 5))
    np.testing.assert_allclose(np.load(d / "E_b5.npy"), e_ref, rtol=1e-12, atol=0)
    check_grad(np.load(d / "G_b5.npy"), g_ref)
    check_block(s, 2, len(x), batches=5)  # ceil(23 / 5)


# ----------------------------------------------------------------------------------------------
# retrieve


R_BETA = 6.0  # support radius 0.58 in blobs of sigma 0.4: several memories per support


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    d = tmp_path_factory.mktemp("retrieve")
    rng = np.random.default_rng(7)
    c = np.array([[0, 0, 0], [6, 0, 0], [0, 6, 0], [0, 0, 6], [6, 6, 0], [6, 0, 6]], float)
    x = c[rng.integers(0, 6, 300)] + rng.normal(scale=0.4, size=(300, 3))
    q = x[rng.choice(300, 40, replace=False)] + rng.normal(scale=0.15, size=(40, 3))
    np.save(d / "X.npy", x)
    np.save(d / "Q.npy", q)
    return d, x, q


def retrieve_args(d, tag, *extra):
    return ["retrieve", "--memories", d / "X.npy", "--queries", d / "Q.npy", *extra,
            "--out", d / f"R{tag}.npy", "--energy", d / f"RE{tag}.npy",
            "--status", d / f"S{tag}.npy"]


def load_retrieve(d, tag):
    return (np.load(d / f"R{tag}.npy"), np.load(d / f"RE{tag}.npy"),
            np.load(d / f"S{tag}.npy"))


FP = ["--kernel", "lsr", "--beta", R_BETA, "--method", "fixed-point"]


@pytest.fixture(scope="module")
def fp_ref(blobs):
    d, x, q = blobs
    s = ok(single(*retrieve_args(d, "_fp_ref", *FP), "--supports", d / "sup_ref.json"))
    r, e, st = load_retrieve(d, "_fp_ref")
    sup = json.loads((d / "sup_ref.json").read_text())
    # the oracle itself: every state converged to the mean of its strict support set
    assert (st == 0).all(), st
    off = sup["offsets"]
    sizes = np.diff(off)
    assert sizes.min() >= 1 and np.median(sizes) >= 5 and sizes.max() < len(x), sizes
    for i in range(len(q)):
        idx = np.array(sup["indices"][off[i]:off[i + 1]])
        assert np.array_equal(idx, np.flatnonzero(sq_dists(r[i:i + 1], x)[0] < 2.0 / R_BETA))
        np.testing.assert_allclose(r[i], x[idx].mean(0), rtol=1e-12, atol=1e-12)
    return s, r, e, st, sup


@pytest.mark.parametrize("partition", ["rows", "cells"])
@pytest.mark.parametrize("n", RANKS)
def test_retrieve_fixed_point_lsr(blobs, fp_ref, partition, n):
    d, x, q = blobs
    s_ref, r_ref, e_ref, st_ref, sup_ref = fp_ref
    tag = f"_fp_{partition}_{n}"
    sj = d / f"sup{tag}.json"
    s = ok(mpi(n, *retrieve_args(d, tag, *FP), "--supports", sj, "--partition", partition))
    r, e, st = load_retrieve(d, tag)
    np.testing.assert_allclose(r, r_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(e, e_ref, rtol=1e-12, atol=0)
    assert st.dtype == st_ref.dtype and np.array_equal(st, st_ref)
    assert json.loads(sj.read_text()) == sup_ref
    assert s["status_counts"] == s_ref["status_counts"]
    assert s["mean_steps"] == s_ref["mean_steps"]
    blk = check_block(s, n, len(x), partition)
    assert blk["requests"] + blk["requests_saved"] == blk["requests_broadcast"], blk
    assert blk["requests"] >= 0 and blk["requests_saved"] >= 0, blk
    if partition == "cells" and n == 3:
        assert blk["requests_saved"] > 0, blk


GRAD = ["--beta", 4.0, "--method", "gradient", "--steps", 300, "--lr", 0.2]


@pytest.mark.parametrize("kernel", ["lse", "lsr"])
@pytest.mark.parametrize("n", RANKS)
def test_retrieve_gradient(blobs, kernel, n):
    d, x, q = blobs
    ref = f"_g_ref_{kernel}"
    key = (str(d), ref)
    if key not in _ORACLE:
        _ORACLE[key] = ok(single(*retrieve_args(d, ref, "--kernel", kernel, *GRAD)))
    s_ref = _ORACLE[key]
    r_ref, e_ref, st_ref = load_retrieve(d, ref)
    assert np.abs(r_ref - q).max() > 1e-3  # the descent moved the states
    tag = f"_g_{kernel}_{n}"
    s = ok(mpi(n, *retrieve_args(d, tag, "--kernel", kernel, *GRAD)))
    r, e, st = load_retrieve(d, tag)
    np.testing.assert_allclose(r, r_ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(e, e_ref, rtol=1e-9, atol=0)
    assert np.array_equal(st, st_ref), (st, st_ref)
    assert s["status_counts"] == s_ref["status_counts"]
    assert s["mean_steps"] == s_ref["mean_steps"]
    check_block(s, n, len(x))


# ----------------------------------------------------------------------------------------------
# minima


MIN_BETA = 60.0  # 61 minima of 60 uniform points, all emergent


@pytest.fixture(scope="module")
def mdata(tmp_path_factory):
    d = tmp_path_factory.mktemp("minima")
    x = np.random.default_rng(0).uniform(size=(60, 2))
    np.save(d / "X.npy", x)
    s = ok(single("minima", "--memories", d / "X.npy", "--kernel", "lsr", "--beta", MIN_BETA,
                  "--out", d / "M_ref.npy", "--supports", d / "ms_ref.json"))
    assert s["emergent"] > 0 and s["total"] > 10, s
    return d, x, s, np.load(d / "M_ref.npy"), json.loads((d / "ms_ref.json").read_text())


@pytest.mark.parametrize("n", RANKS)
def test_minima_lsr(mdata, n):
    d, x, s_ref, m_ref, j_ref = mdata
    s = ok(mpi(n, "minima", "--memories", d / "X.npy", "--kernel", "lsr", "--beta", MIN_BETA,
               "--out", d / f"M_{n}.npy", "--supports", d / f"ms_{n}.json"))
    m = np.load(d / f"M_{n}.npy")
    assert m.shape == m_ref.shape, (m.shape, m_ref.shape)
    np.testing.assert_allclose(m, m_ref, rtol=1e-12, atol=1e-12)
    j = json.loads((d / f"ms_{n}.json").read_text())
    assert j["offsets"] == j_ref["offsets"] and j["indices"] == j_ref["indices"]
    assert j == j_ref
    for k in ("total", "stored", "emergent", "novel", "status", "exact", "candidates"):
        assert s[k] == s_ref[k], k
    # minima splits the work by anchor (every rank reads all the patterns), not by rows
    blk = s["distributed"]
    assert blk["ranks"] == n and len(blk["shard_rows"]) == n, blk
    if n > 1:
        assert blk["bytes_sent"] > 0, blk


# ----------------------------------------------------------------------------------------------
# errors


def test_nan_in_last_rank_rows(edata):
    d, x, q = edata
    bad = x.copy()
    bad[-1, 2] = np.nan  # rows partition: only the last of 3 ranks reads this row
    np.save(d / "mem_nan.npy", bad)
    out = d / "E_nan.npy"
    t0 = time.monotonic()
    p = mpi(3, "energy", "--memories", d / "mem_nan.npy", "--queries", d / "Q.npy",
            "--kernel", "lsr", "--beta", E_BETA, "--out", out)
    elapsed = time.monotonic() - t0
    fails(p, "mem_nan.npy")
    assert elapsed < 30, elapsed
    assert not out.exists()
    assert p.stdout.strip() == ""


def test_missing_memories(edata):
    d, x, q = edata
    out = d / "E_missing.npy"
    p = mpi(2, "energy", "--memories", d / "nope.npy", "--queries", d / "Q.npy",
            "--kernel", "lsr", "--beta", E_BETA, "--out", out)
    fails(p, "nope.npy")
    assert not out.exists()


def test_dimension_mismatch(edata, blobs):
    d, x, q = edata
    out = d / "E_dim.npy"
    p = mpi(2, "energy", "--memories", d / "X.npy", "--queries", blobs[0] / "Q.npy",
            "--kernel", "lsr", "--beta", E_BETA, "--out", out)
    fails(p, "dimension")
    assert not out.exists()


@pytest.mark.parametrize("case,fragment", [("partition", "bogus"), ("curve", "--curve"),
                                           ("max-candidates", "--max-candidates"),
                                           ("mean-shift", ""), ("precision", "--precision")])
def test_rejected_with_distributed(edata, blobs, case, fragment):
    d, x, q = edata
    bd = blobs[0]
    args = {
        "partition": ["energy", "--memories", d / "X.npy", "--queries", d / "Q.npy",
                      "--beta", E_BETA, "--partition", "bogus", "--out", d / "E_rej.npy"],
        "curve": ["minima", "--memories", d / "X.npy", "--curve", "--out", d / "E_rej.npy"],
        "max-candidates": ["minima", "--memories", d / "X.npy", "--beta", E_BETA,
                           "--max-candidates", 5, "--out", d / "E_rej.npy"],
        "mean-shift": ["retrieve", "--memories", bd / "X.npy", "--queries", bd / "Q.npy",
                       "--kernel", "lse", "--beta", R_BETA, "--method", "fixed-point",
                       "--out", d / "E_rej.npy"],
        "precision": ["retrieve", "--memories", bd / "X.npy", "--queries", bd / "Q.npy",
                      "--kernel", "lse", "--beta", R_BETA, "--method", "gradient",
                      "--precision", "single", "--out", d / "E_rej.npy"],
    }[case]
    fails(mpi(2, *args), fragment)
    assert not (d / "E_rej.npy").exists()


@pytest.mark.parametrize("flag", [["--partition", "rows"], ["--batch", 5]])
def test_distributed_flags_need_distributed(edata, flag):
    d, x, q = edata
    out = d / "E_nodist.npy"
    p = single("energy", "--memories", d / "X.npy", "--queries", d / "Q.npy", "--beta", E_BETA,
               *flag, "--out", out)
    fails(p, flag[0])
    assert not out.exists()
