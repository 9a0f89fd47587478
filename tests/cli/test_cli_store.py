# SPDX-License-Identifier: MIT
"""`denseam store` (a live memory store file) and `--index` on `denseam energy`/`retrieve`.

Oracles: `denseam retrieve` on the live patterns rebuilt with NumPy (concatenate the added
arrays, delete the removed rows) must give the store's retrieval bit for bit, its support sets
mapped through the live ids; the LSR energy in NumPy, E = -(1/beta) log sum relu(1 - beta/2
|x - xi|^2), and its support sets {mu : |x - xi_mu|^2 < 2/beta}. Bad input: exit code 2, one
line naming the file or value, the store file unchanged byte for byte.
"""
import json

import numpy as np
import pytest

from np_oracles import lsr_energy, lsr_supports

BETA = 20.0
KINDS = ("auto", "brute", "kdtree", "ball")


def csr(sup, key):
    off = sup["offsets"]
    return [np.array(sup[key][off[i]:off[i + 1]], dtype=np.int64) for i in range(len(off) - 1)]


def ok(run_cli, args):
    p = run_cli(args)
    assert p.returncode == 0, (args, p.stderr)
    return json.loads(p.stdout)


def fails(run_cli, args, *fragments):
    """Exit 2 with one line on stderr holding every fragment."""
    p = run_cli(args)
    assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
    err = p.stderr.strip()
    assert err.startswith("denseam: error: ") and "\n" not in err, err
    for f in fragments:
        assert str(f) in err, (f, err)
    return err


@pytest.fixture()
def data(tmp_path):
    rng = np.random.default_rng(3)
    x1 = rng.uniform(0.0, 1.0, size=(40, 3))
    x2 = rng.uniform(0.0, 1.0, size=(10, 3))
    q = np.concatenate([x1[:6], x2[:6]]) + rng.normal(scale=0.05, size=(12, 3))
    for name, a in (("X1", x1), ("X2", x2), ("Q", q)):
        np.save(tmp_path / f"{name}.npy", a)
    return tmp_path, x1, x2, q


def build(run_cli, d, *extra):
    s = d / "S.dstore"
    ok(run_cli, ["store", "create", "--out", s, "--patterns", d / "X1.npy", "--kernel", "lsr",
                 "--beta", BETA, *extra])
    return s


def test_create_add_remove_info_retrieve_round_trip(run_cli, data):
    d, x1, x2, q = data
    s = d / "S.dstore"
    j = ok(run_cli, ["store", "create", "--out", s, "--patterns", d / "X1.npy", "--kernel", "lsr",
                     "--beta", BETA])
    assert (j["size"], j["dim"], j["next_id"], j["dtype"]) == (40, 3, 40, "float64")
    assert (j["kernel"], j["beta"], j["index"], j["path"]) == ("lsr", BETA, "auto", str(s))
    assert j["file_bytes"] == s.stat().st_size

    j = ok(run_cli, ["store", "add", s, "--patterns", d / "X2.npy", "--ids-out", d / "ids.npy"])
    assert (j["added"], j["first_id"], j["last_id"], j["size"], j["next_id"]) == (10, 40, 49, 50,
                                                                                   50)
    ids = np.load(d / "ids.npy")
    assert ids.dtype == np.int64 and ids.tolist() == list(range(40, 50))

    ok(run_cli, ["store", "remove", s, "--ids", "3,41,5"])
    np.save(d / "rm.npy", np.array([7, 48], dtype=np.int32))
    j = ok(run_cli, ["store", "remove", s, "--ids-file", d / "rm.npy"])
    assert (j["removed"], j["size"], j["next_id"]) == (2, 45, 50)

    # The live patterns in id order, rebuilt with NumPy.
    removed = [3, 5, 7, 41, 48]
    live_ids = np.array([i for i in range(50) if i not in removed])
    live = np.concatenate([x1, x2])[live_ids]
    np.save(d / "live.npy", live)

    info = ok(run_cli, ["store", "info", s])
    assert (info["size"], info["dim"], info["next_id"], info["dtype"]) == (45, 3, 50, "float64")
    assert (info["kernel"], info["beta"], info["eps"], info["q"]) == ("lsr", BETA, 0.0, "log")
    assert info["index"] == "auto" and info["index_used"] in KINDS[1:]
    assert info["file_bytes"] == s.stat().st_size and info["bytes"] >= 45 * 3 * 8

    ok(run_cli, ["store", "retrieve", s, "-q", d / "Q.npy", "--out", d / "R.npy", "--energy",
                 d / "E.npy", "--status", d / "st.npy", "--supports", d / "sup.json"])
    ok(run_cli, ["retrieve", "-m", d / "live.npy", "-q", d / "Q.npy", "--kernel", "lsr", "--beta",
                 BETA, "--out", d / "R2.npy", "--energy", d / "E2.npy", "--status", d / "st2.npy",
                 "--supports", d / "sup2.json"])
    r, r2 = np.load(d / "R.npy"), np.load(d / "R2.npy")
    assert r.dtype == np.float64 and r.tobytes() == r2.tobytes()  # bit for bit
    assert np.load(d / "E.npy").tobytes() == np.load(d / "E2.npy").tobytes()
    assert np.load(d / "st.npy").tolist() == np.load(d / "st2.npy").tolist()
    sup_ids = csr(json.loads((d / "sup.json").read_text()), "ids")
    sup_rows = csr(json.loads((d / "sup2.json").read_text()), "indices")
    oracle = lsr_supports(live, r, BETA)
    for got, rows, want in zip(sup_ids, sup_rows, oracle):
        assert got.tolist() == live_ids[rows].tolist() == live_ids[want].tolist()
    # Each converged state is the mean of its support set (the LSR fixed point).
    for x, got in zip(r, sup_ids):
        assert np.allclose(x, np.concatenate([x1, x2])[got].mean(0), rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.load(d / "E.npy"), lsr_energy(live, r, BETA), rtol=1e-12)


def test_ids_are_stable_and_never_reused(run_cli, data):
    d, x1, x2, _ = data
    s = build(run_cli, d)
    ok(run_cli, ["store", "remove", s, "--ids", "39,0"])
    j = ok(run_cli, ["store", "add", s, "--patterns", d / "X2.npy", "--ids-out", d / "ids.npy"])
    assert np.load(d / "ids.npy").tolist() == list(range(40, 50))
    assert (j["first_id"], j["size"], j["next_id"]) == (40, 48, 50)
    ok(run_cli, ["store", "remove", s, "--ids", "45"])
    # The other patterns keep their ids: the support sets of a retrieval are the NumPy support
    # sets of the rebuilt live patterns, mapped through their ids.
    np.save(d / "P.npy", np.concatenate([x1[[1, 20]], x2[[4, 6]]]))
    ok(run_cli, ["store", "retrieve", s, "-q", d / "P.npy", "--out", d / "R.npy", "--supports",
                 d / "sup.json"])
    sup = csr(json.loads((d / "sup.json").read_text()), "ids")
    live = np.concatenate([np.delete(x1, [0, 39], 0), np.delete(x2, [5], 0)])
    live_ids = np.array([i for i in range(50) if i not in (0, 39, 45)])
    want = [live_ids[w] for w in lsr_supports(live, np.load(d / "R.npy"), BETA)]
    assert [g.tolist() for g in sup] == [w.tolist() for w in want]
    assert all(len(g) > 0 for g in sup)


@pytest.mark.parametrize("index", ["kdtree", "ball", "brute"])
def test_store_index_gives_the_same_retrieval(run_cli, data, index):
    d, x1, x2, q = data
    s = build(run_cli, d, "--index", index)
    j = ok(run_cli, ["store", "add", s, "--patterns", d / "X2.npy"])
    assert j["index"] == index and j["index_used"] == index
    ok(run_cli, ["store", "retrieve", s, "-q", d / "Q.npy", "--out", d / "R.npy", "--energy",
                 d / "E.npy", "--supports", d / "sup.json"])
    live = np.concatenate([x1, x2])
    np.save(d / "live.npy", live)
    ok(run_cli, ["retrieve", "-m", d / "live.npy", "-q", d / "Q.npy", "--kernel", "lsr", "--beta",
                 BETA, "--index", "brute", "--out", d / "R2.npy", "--supports", d / "sup2.json"])
    r = np.load(d / "R.npy")
    assert r.tobytes() == np.load(d / "R2.npy").tobytes()  # fixed points never depend on it
    assert json.loads((d / "sup.json").read_text())["ids"] == \
        json.loads((d / "sup2.json").read_text())["indices"]
    np.testing.assert_allclose(np.load(d / "E.npy"), lsr_energy(live, r, BETA), rtol=1e-12)


def test_float32_store_and_empty_store(run_cli, data):
    d, x1, x2, q = data
    np.save(d / "X32.npy", x1.astype(np.float32))
    np.save(d / "Q32.npy", q.astype(np.float32))
    s = d / "S32.dstore"
    j = ok(run_cli, ["store", "create", "--out", s, "--patterns", d / "X32.npy", "--beta", BETA])
    assert j["dtype"] == "float32" and j["kernel"] == "lsr"
    ok(run_cli, ["store", "retrieve", s, "-q", d / "Q32.npy", "--out", d / "R.npy"])
    ok(run_cli, ["retrieve", "-m", d / "X32.npy", "-q", d / "Q32.npy", "--beta", BETA, "--out",
                 d / "R2.npy"])
    r, r2 = np.load(d / "R.npy"), np.load(d / "R2.npy")
    assert r.dtype == np.float64 and r2.dtype == np.float32
    assert np.array_equal(r, r2.astype(np.float64))  # float32 arithmetic, widened exactly

    e = d / "E.dstore"
    j = ok(run_cli, ["store", "create", "--out", e, "--dim", 3, "--kernel", "lse", "--beta", 2,
                     "--dtype", "float32"])
    assert (j["size"], j["dim"], j["next_id"], j["dtype"], j["kernel"]) == (0, 3, 0, "float32",
                                                                           "lse")
    fails(run_cli, ["store", "retrieve", e, "-q", d / "Q.npy", "--out", d / "R3.npy"], "empty")
    assert not (d / "R3.npy").exists()
    j = ok(run_cli, ["store", "add", e, "--patterns", d / "X2.npy"])
    assert (j["first_id"], j["last_id"], j["size"]) == (0, 9, 10)


def test_progress_on_request(run_cli, data):
    d, *_ = data
    s = build(run_cli, d)
    p = run_cli(["store", "add", s, "--patterns", d / "X2.npy", "--progress"])
    assert p.returncode == 0 and "MiB" in p.stderr and json.loads(p.stdout)["added"] == 10
    p = run_cli(["store", "info", s])
    assert p.returncode == 0 and p.stderr == ""


# ---- bad input: exit 2, one line, the store unchanged -------------------------------------------

def test_bad_updates_leave_the_store_unchanged(run_cli, data):
    d, x1, *_ = data
    s = build(run_cli, d)
    before = s.read_bytes()
    fails(run_cli, ["store", "remove", s, "--ids", "3,99"], "unknown id 99", str(s))
    fails(run_cli, ["store", "remove", s, "--ids", "4,4"], "id 4", "more than once")
    ok(run_cli, ["store", "remove", s, "--ids", "2"])
    before = s.read_bytes()
    fails(run_cli, ["store", "remove", s, "--ids", "2"], "id 2", "removed")
    np.save(d / "f.npy", np.array([1.0, 2.0]))
    fails(run_cli, ["store", "remove", s, "--ids-file", d / "f.npy"], "f.npy", "<f8")
    fails(run_cli, ["store", "remove", s], "--ids")
    np.save(d / "X4.npy", np.zeros((2, 4)))
    fails(run_cli, ["store", "add", s, "--patterns", d / "X4.npy"], "X4.npy", "dimension 4",
          str(s))
    bad = x1[:3].copy()
    bad[1, 2] = np.nan
    np.save(d / "nan.npy", bad)
    fails(run_cli, ["store", "add", s, "--patterns", d / "nan.npy"], "nan.npy", "row 1",
          "column 2")
    fails(run_cli, ["store", "add", s, "--patterns", d / "X2.npy", "--ids-out", s],
          "input is never an output")
    assert s.read_bytes() == before
    assert sorted(p.name for p in d.iterdir() if p.name.startswith(".")) == []  # no temporaries


def test_bad_options(run_cli, data):
    d, *_ = data
    out = d / "new.dstore"
    fails(run_cli, ["store", "create", "--out", out, "--dim", 3, "--beta", 2, "--index", "oak"],
          "--index", "'oak'", "auto, brute, kdtree or ball")
    fails(run_cli, ["store", "create", "--out", out, "--dim", 3, "--beta", 2, "--dtype", "f2"],
          "--dtype", "'f2'")
    fails(run_cli, ["store", "create", "--out", out, "--dim", 0, "--beta", 2], "--dim", "0")
    fails(run_cli, ["store", "create", "--out", out, "--beta", 2], "--dim", "--patterns")
    fails(run_cli, ["store", "create", "--out", out, "--dim", 3, "--patterns", d / "X1.npy",
                    "--beta", 2], "--dim", "--patterns")
    fails(run_cli, ["store", "create", "--out", out, "--dim", 3, "--beta", -1], "beta")
    fails(run_cli, ["store", "create", "--out", out, "--dim", 3, "--kernel", "lse", "--beta", 2,
                    "--index", "kdtree"], "kdtree", "lse")
    fails(run_cli, ["store", "create", "--out", d, "--dim", 3, "--beta", 2], str(d),
          "directory")
    assert not out.exists()
    s = build(run_cli, d)
    np.save(d / "Q4.npy", np.zeros((2, 4)))
    fails(run_cli, ["store", "retrieve", s, "-q", d / "Q4.npy", "--out", d / "R.npy"], "Q4.npy",
          "dimension 4", str(s))
    fails(run_cli, ["store", "retrieve", s, "-q", d / "Q.npy", "--out", d / "R.npy", "--lr", 0.1],
          "--lr", "no effect")
    assert not (d / "R.npy").exists()
    fails(run_cli, ["store"], "store")


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "foreign", "directory", "missing",
                                    "empty"])
def test_bad_store_files(run_cli, data, damage):
    d, *_ = data
    s = build(run_cli, d)
    raw = bytearray(s.read_bytes())
    if damage == "corrupt":
        raw[len(raw) // 2] ^= 0x10
        s.write_bytes(bytes(raw))
        fragments = ["checksum"]
    elif damage == "truncated":
        s.write_bytes(bytes(raw[:-20]))
        fragments = ["truncated"]
    elif damage == "foreign":
        s.write_bytes((d / "X1.npy").read_bytes())
        fragments = ["not a denseam store file"]
    elif damage == "empty":
        s.write_bytes(b"")
        fragments = ["empty"]
    elif damage == "directory":
        s.unlink()
        s.mkdir()
        fragments = ["directory"]
    else:
        s.unlink()
        fragments = ["No such file"]
    state = s.read_bytes() if s.is_file() else None
    commands = [["store", "info", s],
                ["store", "add", s, "--patterns", d / "X2.npy"],
                ["store", "remove", s, "--ids", "1"],
                ["store", "retrieve", s, "-q", d / "Q.npy", "--out", d / "R.npy"]]
    for cmd in commands:
        fails(run_cli, cmd, str(s), *fragments)
        assert (s.read_bytes() if s.is_file() else None) == state
    assert not (d / "R.npy").exists()


# ---- --index on energy and retrieve ---------------------------------------------------------

@pytest.fixture()
def wide(tmp_path):
    rng = np.random.default_rng(11)
    mem = rng.uniform(0.0, 1.0, size=(400, 3))
    q = np.concatenate([mem[:30] + rng.normal(scale=0.03, size=(30, 3)),
                        rng.uniform(0.0, 1.0, size=(10, 3))])
    np.save(tmp_path / "M.npy", mem)
    np.save(tmp_path / "Q.npy", q)
    return tmp_path, mem, q


@pytest.mark.parametrize("kernel", ["lsr"])
def test_index_kinds_agree_with_numpy(run_cli, wide, kernel):
    d, mem, q = wide
    beta = 60.0
    want_e = lsr_energy(mem, q, beta)
    states, supports = [], []
    for kind in KINDS:
        j = ok(run_cli, ["energy", "-m", d / "M.npy", "-q", d / "Q.npy", "--kernel", kernel,
                         "--beta", beta, "--index", kind, "--out", d / f"E_{kind}.npy"])
        assert j["index"] == kind
        e = np.load(d / f"E_{kind}.npy")
        np.testing.assert_allclose(e, want_e, rtol=1e-12, atol=0)
        j = ok(run_cli, ["retrieve", "-m", d / "M.npy", "-q", d / "Q.npy", "--kernel", kernel,
                         "--beta", beta, "--index", kind, "--out", d / f"R_{kind}.npy",
                         "--energy", d / f"RE_{kind}.npy", "--supports", d / f"S_{kind}.json"])
        assert j["index"] == kind
        r = np.load(d / f"R_{kind}.npy")
        sup = csr(json.loads((d / f"S_{kind}.json").read_text()), "indices")
        assert [s.tolist() for s in sup] == [s.tolist() for s in lsr_supports(mem, r, beta)]
        np.testing.assert_allclose(np.load(d / f"RE_{kind}.npy"), lsr_energy(mem, r, beta),
                                   rtol=1e-12, atol=0)
        states.append(r)
        supports.append([s.tolist() for s in sup])
    assert all(s.tobytes() == states[0].tobytes() for s in states)
    assert all(s == supports[0] for s in supports)


def test_bad_index_flag(run_cli, wide):
    d, *_ = wide
    base = ["-m", d / "M.npy", "-q", d / "Q.npy", "--beta", 2]
    fails(run_cli, ["energy", *base, "--index", "octree"], "--index", "'octree'",
          "auto, brute, kdtree or ball")
    fails(run_cli, ["retrieve", *base, "--index", "octree", "--out", d / "R.npy"], "--index",
          "'octree'")
    fails(run_cli, ["energy", *base, "--kernel", "lse", "--index", "ball"], "ball", "lse")
    assert not (d / "R.npy").exists()
