# SPDX-License-Identifier: MIT
"""`denseam lmin0`, `fig1` and `akem` (issue 4 item 4): results against NumPy oracles written
here, the reference's field names, resume, progress, plots and bad input."""
import itertools
import json
import math
import subprocess

import numpy as np
import pytest

REFERENCE_FIELDS = ["beta", "beta_min", "beta_max", "r_min", "r_max", "num_old_mems",
                    "num_new_mems", "num_mems", "vol_coverage", "num_vol_samples", "nbetas",
                    "beta_idx", "M", "d", "seed"]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def oracle_counts(x, beta):
    """Brute force over all 2^M - 1 subsets (paper.md 1.2): S is a minimum iff every member is
    strictly inside R of the centroid and every other pattern strictly outside."""
    m = len(x)
    r2 = 2.0 / beta
    stored = emergent = 0
    for k in range(1, m + 1):
        for s in itertools.combinations(range(m), k):
            c = x[list(s)].mean(0)
            d2 = ((x - c) ** 2).sum(1)
            inside = np.zeros(m, bool)
            inside[list(s)] = True
            if np.all(d2[inside] < r2) and np.all(d2[~inside] > r2):
                if k == 1:
                    stored += 1
                else:
                    emergent += 1
    return stored, emergent


def has_matplotlib():
    return subprocess.run(["/usr/bin/python3", "-c", "import matplotlib"],
                          capture_output=True).returncode == 0


# ---- lmin0 ---------------------------------------------------------------------------------

def test_lmin0_pattern_file_matches_bruteforce_oracle(run_cli, tmp_path):
    rng = np.random.default_rng(7)
    x = rng.random((7, 3))
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "l.jsonl"
    p = run_cli(["lmin0", "--patterns", tmp_path / "x.npy", "--nbetas", "12",
                 "--vol-samples", "40000", "--out", out])
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # no progress bar when stderr is not a terminal
    rows = read_jsonl(out)
    assert len(rows) == 12
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
    dmin = math.sqrt(d2[d2 > 0].min())
    grid = np.linspace(2 / 3, 8 / dmin**2, 12)
    # independent Monte-Carlo coverage (own samples): within 5 standard errors
    u = np.random.default_rng(1).random((200000, 3))
    nn = ((u[:, None, :] - x[None]) ** 2).sum(-1).min(1)
    for i, r in enumerate(rows):
        for f in REFERENCE_FIELDS:
            assert f in r, f
        assert r["beta_idx"] == i and r["nbetas"] == 12
        assert r["beta"] == pytest.approx(grid[i], rel=1e-13)
        assert r["beta_min"] == pytest.approx(2 / 3) and r["beta_max"] == pytest.approx(8 / dmin**2)
        assert r["r_min"] == pytest.approx(dmin / 2) and r["r_max"] == pytest.approx(math.sqrt(3))
        assert (r["M"], r["d"], r["generator"], r["grid"]) == (7, 3, "file", "linear")
        assert r["patterns"] == str(tmp_path / "x.npy")
        assert (r["num_old_mems"], r["num_new_mems"]) == oracle_counts(x, r["beta"]), r["beta"]
        assert r["num_mems"] == r["num_old_mems"] + r["num_new_mems"]
        assert r["candidates"] == 2**7 - 1 and r["status"] == "complete"
        want = float((nn < 2 / r["beta"]).mean())
        se = math.sqrt(max(want * (1 - want), 1e-6) * (1 / 40000 + 1 / 200000))
        assert abs(r["vol_coverage"] - want) < 5 * se + 1e-9, (r["beta"], r["vol_coverage"], want)
    assert rows[0]["num_old_mems"] == 0 and rows[0]["num_new_mems"] == 1
    assert rows[0]["vol_coverage"] == 1.0
    assert sum(r["num_new_mems"] for r in rows) > len(rows)  # some emergence in between


def test_lmin0_reference_generator_endpoints(run_cli, tmp_path):
    out = tmp_path / "l.jsonl"
    p = run_cli(["lmin0", "--M", "9", "--d", "5", "--seeds", "3", "--nbetas", "5",
                 "--vol-samples", "1000", "--out", out])
    assert p.returncode == 0, p.stderr
    rows = read_jsonl(out)
    assert [r["beta_idx"] for r in rows] == list(range(5))
    assert all(r["generator"] == "reference" and r["seed"] == 3 for r in rows)
    # beta_min = 2/d: one minimum, the global centroid, and the whole cube supported
    assert (rows[0]["num_old_mems"], rows[0]["num_new_mems"]) == (0, 1)
    assert rows[0]["beta"] == pytest.approx(2 / 5) and rows[0]["vol_coverage"] == 1.0
    beyond = 1.01 * rows[0]["beta_max"]
    p = run_cli(["lmin0", "--M", "9", "--d", "5", "--seeds", "3", "--betas", f"{beyond!r}",
                 "--vol-samples", "1000", "--out", tmp_path / "b.jsonl"])
    assert p.returncode == 0, p.stderr
    (r,) = read_jsonl(tmp_path / "b.jsonl")
    assert r["grid"] == "list" and r["nbetas"] == 1
    assert (r["num_old_mems"], r["num_new_mems"]) == (9, 0)
    # the uniform generator gives another pattern set (another r_min)
    p = run_cli(["lmin0", "--M", "9", "--d", "5", "--seeds", "3", "--nbetas", "2",
                 "--generator", "uniform", "--vol-samples", "0", "--out", tmp_path / "u.jsonl"])
    assert p.returncode == 0, p.stderr
    u = read_jsonl(tmp_path / "u.jsonl")
    assert u[0]["generator"] == "uniform" and u[0]["r_min"] != rows[0]["r_min"]
    assert u[0]["vol_coverage"] is None and u[0]["num_vol_samples"] == 0


def test_lmin0_resume_skips_existing_configurations(run_cli, tmp_path):
    out = tmp_path / "l.jsonl"
    base = ["lmin0", "--M", "5", "--d", "4", "--nbetas", "6", "--vol-samples", "1000",
            "--out", out]
    p = run_cli(base + ["--seeds", "0,1"])
    assert p.returncode == 0, p.stderr
    first = out.read_text()
    assert len(first.splitlines()) == 12 and "12 configurations written" in p.stdout
    p = run_cli(base + ["--seeds", "0,1"])
    assert p.returncode == 0, p.stderr
    assert "0 configurations written, 12 already" in p.stdout
    assert out.read_text() == first
    p = run_cli(base + ["--seeds", "0,1,2"])
    assert p.returncode == 0, p.stderr
    assert "6 configurations written, 12 already" in p.stdout
    text = out.read_text()
    assert text.startswith(first) and len(text.splitlines()) == 18
    assert {r["seed"] for r in read_jsonl(out)} == {0, 1, 2}
    # a run killed in the middle of a line: the fragment is dropped, the line recomputed
    lines = text.splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:40])
    p = run_cli(base + ["--seeds", "0,1,2"])
    assert p.returncode == 0, p.stderr
    assert "incomplete last line" in p.stderr and "1 configurations written" in p.stdout
    def strip(rows):
        return sorted(json.dumps({k: v for k, v in r.items() if k != "seconds"}) for r in rows)

    assert strip(read_jsonl(out)) == strip(json.loads(line) for line in text.splitlines())
    # a file that is not LMIN0 output is refused, not overwritten
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    p = run_cli(["lmin0", "--M", "5", "--d", "4", "--nbetas", "2", "--out", bad])
    assert p.returncode == 2 and "line 1" in p.stderr and "not a LMIN0 result" in p.stderr
    assert bad.read_text() == "hello\n"
    # --fresh empties only a file of LMIN0 lines: a foreign file is never touched
    p = run_cli(["lmin0", "--M", "5", "--d", "4", "--nbetas", "2", "--vol-samples", "10",
                 "--out", bad, "--fresh"])
    assert p.returncode == 2 and "not a LMIN0 result" in p.stderr, p.stderr
    assert bad.read_text() == "hello\n"
    p = run_cli(["lmin0", "--M", "5", "--d", "4", "--nbetas", "2", "--vol-samples", "10",
                 "--out", out, "--fresh"])
    assert p.returncode == 0, p.stderr
    assert len(read_jsonl(out)) == 2 * 3  # default seeds 0, 42, 88


def test_lmin0_progress_bar_and_sweep_lists(run_cli, tmp_path):
    out = tmp_path / "l.jsonl"
    p = run_cli(["lmin0", "--M", "4,6", "--d", "2,3", "--seeds", "5", "--nbetas", "3",
                 "--vol-samples", "100", "--out", out, "--progress"])
    assert p.returncode == 0, p.stderr
    # (text mode turns the in-place '\r' into newlines)
    assert "[####" in p.stderr and "12/12 configs" in p.stderr
    rows = read_jsonl(out)
    assert sorted({(r["M"], r["d"]) for r in rows}) == [(4, 2), (4, 3), (6, 2), (6, 3)]
    assert len(rows) == 12


@pytest.mark.parametrize("args, fragment", [
    (["--patterns", "x.npy", "--M", "5"], "excludes"),
    (["--nbetas", "0"], "--nbetas"),
    (["--generator", "jax"], "generator"),
    (["--M", "1"], "--M"),
    (["--betas", "-1"], "--betas"),
    (["--patterns", "missing.npy"], "missing.npy"),
])
def test_lmin0_bad_input(run_cli, tmp_path, args, fragment):
    out = tmp_path / "l.jsonl"
    p = run_cli(["lmin0", *args, "--out", out], cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert fragment in p.stderr, p.stderr
    assert not out.exists()


@pytest.mark.skipif(not has_matplotlib(), reason="no matplotlib under /usr/bin/python3")
def test_lmin0_plot(run_cli, tmp_path):
    out = tmp_path / "l.jsonl"
    p = run_cli(["lmin0", "--M", "5", "--d", "3", "--seeds", "0,1", "--nbetas", "8",
                 "--vol-samples", "1000", "--out", out, "--plot", tmp_path / "l.png"])
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "l.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- fig1 ----------------------------------------------------------------------------------

def test_fig1_data(run_cli, tmp_path):
    p = run_cli(["fig1", "--out", tmp_path / "f", "--no-plot"])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "all minimum counts match" in p.stdout
    doc = json.loads((tmp_path / "f" / "fig1.json").read_text())
    got = [(q["name"], q["beta"], q["num_minima"], q["num_emergent"]) for q in doc["panels"]]
    assert got == [("1d-lsr", 0.4, 1, 1), ("1d-lsr", 0.9, 3, 1), ("1d-lsr", 2.1, 2, 0),
                   ("1d-lse", 0.4, 1, 1), ("1d-lse", 1.5, 2, 2), ("1d-lse", 4.11, 2, 0),
                   ("2d-lsr", 0.3, 1, 1), ("2d-lsr", 0.6, 4, 1), ("2d-lsr", 1.1, 7, 4),
                   ("2d-lsr", 2.1, 3, 0)]
    for q in doc["panels"]:
        assert q["method"] == ("exact-lsr" if q["kernel"] == "lsr" else "exact-1d")
        if q["dim"] == 1:
            x = np.array(q["grid_x"])
            assert len(x) == 200 and x[0] == -2.1 and x[-1] == 2.1
            assert len(q["energy"]) == 200
        else:
            assert len(q["grid_x"]) == 200 and len(q["grid_y"]) == 200
            assert len(q["energy"]) == 40000
            assert q["grid_y"][0] == -3.5 and q["grid_y"][-1] == 2.0
    # the energies are the library's: LSR at beta 0.9 against the formula
    q = doc["panels"][1]
    x = np.array(q["grid_x"])
    z = 1e-6 + np.maximum(1 - 0.45 * (x + 1) ** 2, 0) + np.maximum(1 - 0.45 * (x - 1) ** 2, 0)
    np.testing.assert_allclose(q["energy"], -np.log(z) / 0.9, rtol=1e-12, atol=1e-12)
    # 2-D beta 2.1: the unsupported plateau -(1/beta) log eps is shaded
    q = doc["panels"][9]
    e, uns = np.array(q["energy"]), np.array(q["unsupported"], bool)
    assert uns.any() and not uns.all()
    np.testing.assert_allclose(e[uns], -np.log(1e-6) / 2.1)
    # `demo` and `fig1` agree on the minima
    p = run_cli(["demo", "--out", tmp_path / "demo.json"])
    assert p.returncode == 0
    demo = json.loads((tmp_path / "demo.json").read_text())
    for a, b in zip(demo["panels"], doc["panels"]):
        assert [m["position"] for m in a["minima"]] == [m["position"] for m in b["minima"]]


def test_fig1_plot_or_error(run_cli, cli_env, tmp_path):
    # a broken interpreter: the data is written, the figure that was asked for is an error
    env = dict(cli_env, DENSEAM_PYTHON="/bin/false")
    p = run_cli(["fig1", "--out", tmp_path / "w"], env=env)
    assert p.returncode == 1, p.stderr
    assert "plotting failed" in p.stderr and "the data files are complete" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert (tmp_path / "w" / "fig1.json").exists() and not (tmp_path / "w" / "fig1.png").exists()
    p = run_cli(["fig1", "--out", tmp_path / "n", "--no-plot"], env=env)
    assert p.returncode == 0, p.stderr
    if has_matplotlib():
        p = run_cli(["fig1", "--out", tmp_path / "f"])
        assert p.returncode == 0, p.stderr
        assert (tmp_path / "f" / "fig1.png").read_bytes()[:4] == b"\x89PNG"


# ---- akem ----------------------------------------------------------------------------------

def test_akem(run_cli, tmp_path):
    p = run_cli(["akem", "--out", tmp_path / "a", "--no-plot"])
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "a" / "akem.json").read_text())
    assert (doc["n_kernels"], doc["n_widths"], len(doc["panels"])) == (8, 7, 56)
    panels = {(q["kernel"], q["h"]): q for q in doc["panels"]}
    e = panels[("lsr", 1.5)]
    assert e["name"] == "Epanechnikov" and e["beta"] == pytest.approx(2 / 1.5**2)
    assert [m["kind"] for m in e["minima"]] == ["stored", "emergent", "stored"]
    np.testing.assert_allclose([m["position"] for m in e["minima"]], [-1, 0, 1], atol=1e-12)
    assert e["global_emergence"]
    assert panels[("lse", 2.0)]["beta"] == pytest.approx(0.25)
    assert not any(q["global_emergence"] for q in doc["panels"]
                   if q["kernel"] in ("triweight", "lse"))
    for k in ("quartic", "tricube", "cosine", "lsr"):  # every other smooth compact kernel
        assert any(q["global_emergence"] for q in doc["panels"] if q["kernel"] == k), k
    t = panels[("triangle", 2.0)]
    assert t["num_minima"] == 0 and t["num_flat_minima"] == 1
    (flat,) = [f for f in t["flat"] if f["is_minimum"]]
    assert flat["lo"] == pytest.approx(-1) and flat["hi"] == pytest.approx(1)
    # an independent dense-grid check of one smooth panel: quartic h = 1.9 has 3 minima
    x = np.linspace(-3, 3, 600001)
    s1, s2 = (x + 1) / 1.9, (x - 1) / 1.9
    z = np.where(abs(s1) < 1, (1 - s1**2) ** 2, 0) + np.where(abs(s2) < 1, (1 - s2**2) ** 2, 0)
    peaks = x[1:-1][(z[1:-1] > z[:-2]) & (z[1:-1] > z[2:])]
    q = panels[("quartic", 1.9)]
    np.testing.assert_allclose([m["position"] for m in q["minima"]], peaks, atol=2e-5)
    # the table on stdout
    assert "Epanechnikov" in p.stdout and "2+1!" in p.stdout and "=2.00" in p.stdout
    lines = [line for line in p.stdout.splitlines() if line.startswith("Triweight")]
    assert lines and "!" not in lines[0]


def test_akem_subset_and_bad_kernel(run_cli, tmp_path):
    p = run_cli(["akem", "--out", tmp_path / "a", "--no-plot", "--kernels", "lsr,cosine",
                 "--widths", "1.5,3"])
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "a" / "akem.json").read_text())
    assert [(q["kernel"], q["h"]) for q in doc["panels"]] == [
        ("lsr", 1.5), ("lsr", 3.0), ("cosine", 1.5), ("cosine", 3.0)]
    p = run_cli(["akem", "--out", tmp_path / "b", "--kernels", "poly"])
    assert p.returncode == 2 and "poly" in p.stderr
    p = run_cli(["akem", "--out", tmp_path / "b", "--kernels", "gauss"])
    assert p.returncode == 2 and "gauss" in p.stderr
