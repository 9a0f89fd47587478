# SPDX-License-Identifier: MIT
"""`denseam logl0` (paper.md 3.3): fields, exact LSR recoverable counts on a given pattern set,
resume, LSE early stopping, errors, the figure."""
import json
import shutil
import subprocess

import numpy as np
import pytest


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def has_matplotlib():
    py = shutil.which("python3") if not shutil.os.path.exists("/usr/bin/python3") else "/usr/bin/python3"
    return subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode == 0


FIELDS = ["beta", "beta_idx", "beta_min", "beta_max", "og_mems_avg_gradnorm",
          "og_mems_recoverable", "avg_novelty_distance", "num_unique_retrievals", "num_novel",
          "avg_logl", "sample_logl", "sample_is_novel", "d", "k", "true_sigma", "M", "N", "seed",
          "nbetas", "energy", "depth", "lr_start", "lr_end", "sampler", "tol",
          "og_mems_recoverable_sound", "num_unique_minima", "num_converged", "mean_steps"]

SMALL = ["--d", "3", "--k", "2", "--M", "6", "--N", "5", "--nbetas", "5"]


def test_logl0_fields_and_lsr_exact_recoverable(run_cli, tmp_path):
    x = np.array([[0.0, 0.0], [0.3, 0.0], [1.0, 1.0], [1.6, 1.0], [1.3, 1.5]])
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "o.jsonl"
    p = run_cli(["logl0", "--patterns", tmp_path / "x.npy", "--k", "2", "--seed", "1",
                 "--energy", "lsr", "--N", "7", "--out", out])
    assert p.returncode == 0, p.stderr
    rows = read_jsonl(out)
    assert len(rows) == 20
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    for r in rows:
        for f in FIELDS:
            assert f in r, f
        R = np.sqrt(2.0 / r["beta"])
        assert r["og_mems_recoverable"] == int((np.sqrt(d2.min(1)) >= R).sum())
        assert r["num_unique_retrievals"] == r["num_unique_points"]
        assert len(r["sample_logl"]) == 35 and len(r["sample_is_novel"]) == 35
        assert all(round(v, 4) == v for v in r["sample_logl"])
        assert r["num_novel"] == sum(r["sample_is_novel"])
        assert r["patterns"].endswith("x.npy") and r["M"] == 5 and r["d"] == 2
    assert rows[0]["beta"] == pytest.approx(2 / 2) and rows[-1]["beta"] == pytest.approx(8 / 0.09)


def test_logl0_resume_and_lse_early_stop(run_cli, tmp_path):
    out = tmp_path / "o.jsonl"
    p = run_cli(["logl0", *SMALL, "--seed", "3", "--out", out, "--no-samples",
                 "--beta-idx", "0,4"])
    assert p.returncode == 0, p.stderr
    assert "4 rows written, 0 already" in p.stdout
    first = out.read_text()
    rows = read_jsonl(out)
    assert sorted((r["energy"], r["beta_idx"]) for r in rows) == [
        ("lse", 0), ("lse", 4), ("lsr", 0), ("lsr", 4)]
    lse = [r for r in rows if r["energy"] == "lse"]
    assert all(r["num_converged"] > 0 and r["mean_steps"] < 13000 for r in lse)
    assert all(r["sample_logl"] == [] for r in rows)
    p = run_cli(["logl0", *SMALL, "--seed", "3", "--out", out, "--no-samples"])
    assert p.returncode == 0, p.stderr
    assert "6 rows written, 4 already" in p.stdout
    assert out.read_text().startswith(first) and len(read_jsonl(out)) == 10
    p = run_cli(["logl0", *SMALL, "--seed", "3", "--out", out, "--no-samples"])
    assert "0 rows written, 10 already" in p.stdout
    # fixed depth: nobody stops early
    p = run_cli(["logl0", *SMALL, "--seed", "3", "--energy", "lse", "--tol", "0", "--depth",
                 "50", "--beta-idx", "2", "--out", tmp_path / "f.jsonl"])
    assert p.returncode == 0, p.stderr
    (r,) = read_jsonl(tmp_path / "f.jsonl")
    assert r["num_converged"] == 0 and r["mean_steps"] == 50
    # The LSE gradient in float32 (default, like the reference) or float64: the same run to
    # float accuracy, and a separate configuration for resume.
    runs = {}
    for prec in ["single", "double"]:
        p = run_cli(["logl0", *SMALL, "--seed", "3", "--energy", "lse", "--beta-idx", "1,3",
                     "--precision", prec, "--out", tmp_path / "p.jsonl"])
        assert p.returncode == 0, p.stderr
        assert "2 rows written, 0 already" in p.stdout
    rows = read_jsonl(tmp_path / "p.jsonl")
    for r in rows:
        runs[(r["precision"], r["beta_idx"])] = r
    for i in [1, 3]:
        a, b = runs[("single", i)], runs[("double", i)]
        assert a["avg_logl"] == pytest.approx(b["avg_logl"], abs=1e-5)
        assert a["num_converged"] == b["num_converged"]
        assert a["num_unique_minima"] == b["num_unique_minima"]


@pytest.mark.parametrize("args, fragment", [
    (["--energy", "triangle"], "--energy"),
    (["--nbetas", "0"], "--nbetas"),
    (["--nbetas", "5", "--beta-idx", "7"], "--beta-idx"),
    (["--sampler", "cube"], "sampler"),
    (["--sweep", "huge"], "--sweep"),
    (["--M", "1"], "--M"),
    (["--gmm", "g.json"], "--patterns"),
    (["--patterns", "missing.npy"], "missing.npy"),
    (["--true-sigma", "-1"], "--true-sigma"),
    (["--precision", "half"], "unknown gradient precision 'half'"),
])
def test_logl0_bad_input(run_cli, tmp_path, args, fragment):
    out = tmp_path / "o.jsonl"
    p = run_cli(["logl0", *args, "--out", out], cwd=tmp_path)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert fragment in p.stderr, p.stderr
    assert not out.exists()


@pytest.mark.skipif(not has_matplotlib(), reason="no matplotlib under /usr/bin/python3")
def test_logl0_plot(run_cli, tmp_path):
    out = tmp_path / "o.jsonl"
    p = run_cli(["logl0", *SMALL, "--seed", "3,4", "--depth", "2000", "--out", out,
                 "--plot", tmp_path / "fig"])
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "fig_k2_d3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
