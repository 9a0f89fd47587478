# SPDX-License-Identifier: MIT
"""python/denseam/report.py: report.md from a small results folder made by the real CLI.

The folder holds what scripts/main.sh writes, on small inputs (`denseam demo`, `fig1 --no-plot`,
`akem --no-plot`, a small `lmin0`: M 5, d 4, 5 betas, and a small `logl0`: k 2, d 2, M 5, N 2,
2 betas); the report's tables are checked against numbers computed here from the JSON data,
independently of report.py.
"""
import collections
import importlib.util
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PKG = REPO_ROOT / "python" / "denseam"
REPORT = PKG / "report.py"
PLOTS = PKG / "plots.py"

SECTIONS = [
    "# denseam results",
    "## Fig. 1: landscapes of the 1-D pair and the 2-D triangle (`denseam fig1`)",
    "## AKEM: 8 kernels x 7 half-widths (`denseam akem`)",
    "## LMIN0: every minimum of random pattern sets (`denseam lmin0`)",
    "## LOGL0: are retrieved memories good samples?",
    "## BSTOR: every training image stored at once (`denseam bstor`)",
    "## PXLE: pixel-space emergence (`denseam pxle`)",
    "## QBVAE: emergent memories of a VAE's latent space",
    "## DrDAM: distributed memories with random features (`denseam drdam-study`)",
    "## ClAM: clustering with associative memories (`denseam clam-bench`)",
    "## Fig. 1 minima as printed by `denseam demo`",
]


def run_report(*args, check=True):
    """report.py as main.sh runs it: a script under this interpreter, without the compiled
    module on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, str(REPORT), *map(str, args)], capture_output=True,
                         text=True, env=env, timeout=120)
    if check:
        assert res.returncode == 0, res.stderr
    return res


@pytest.fixture(scope="module")
def results(cli_binary, tmp_path_factory):
    """A results folder like main.sh's, on small inputs (no figures: --no-plot)."""
    out = tmp_path_factory.mktemp("results")
    (out / "fig1").mkdir()
    (out / "akem").mkdir()

    def cli(args, txt):
        res = subprocess.run([str(cli_binary), *map(str, args)], capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, f"denseam {' '.join(map(str, args))}: {res.stderr}"
        (out / txt).write_text(res.stdout, encoding="utf-8")

    cli(["demo", "--out", out / "fig1_minima.json"], "fig1_minima.txt")
    cli(["fig1", "--out", out / "fig1", "--no-plot", "--n1d", 21, "--n2d", 11], "fig1/fig1.txt")
    cli(["akem", "--out", out / "akem", "--no-plot", "--grid-points", 41], "akem/akem.txt")
    cli(["lmin0", "--M", 5, "--d", 4, "--seeds", "0,42", "--nbetas", 5, "--vol-samples", 2000,
         "--out", out / "lmin0.jsonl", "--no-progress"], "lmin0.txt")
    cli(["logl0", "--k", 2, "--d", 2, "--M", 5, "--N", 2, "--nbetas", 2, "--seeds", "3,4",
         "--no-samples", "--out", out / "logl0.jsonl", "--no-progress"], "logl0.txt")
    # BSTOR and PXLE on scikit-learn's digits (8x8), as main.sh runs them on MNIST/Fashion.
    (out / "bstor-mnist").mkdir()
    cli(["bstor", "--dataset", "sklearn-digits", "--beta", "0.8", "--seed-index", "0",
         "--starts", 8, "--out", out / "bstor-mnist", "--no-plot", "--no-progress"],
        "bstor-mnist/bstor.txt")
    (out / "pxle").mkdir()
    cli(["pxle", "--dataset", "sklearn-digits", "--out", out / "pxle", "--no-plot"],
        "pxle/pxle.txt")
    (out / "qbvae").mkdir()
    cli(["vae", "train", "--dataset", "sklearn-digits", "--hidden", 16, "--latent", 3,
         "--epochs", 2, "--out", out / "vae.safetensors", "--no-progress"], "vae.txt")
    cli(["qbvae", "--model", out / "vae.safetensors", "--dataset", "sklearn-digits", "--out",
         out / "qbvae", "--lse-steps", 200, "--lse-random", 20, "--no-plot"], "qbvae/qbvae.txt")
    (out / "drdam").mkdir()
    cli(["drdam-study", "--quick", "--dataset", "sklearn-digits", "--out", out / "drdam",
         "--no-plot", "--no-progress"], "drdam/drdam.txt")
    (out / "clam").mkdir()
    cli(["clam-bench", "--quick", "--datasets", "iris", "--out", out / "clam", "--no-plot"],
        "clam/clam_bench.txt")
    run_report(out)
    return out


@pytest.fixture(scope="module")
def report_md(results):
    return (results / "report.md").read_text(encoding="utf-8")


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def table(text, header_start):
    """The body rows (lists of cell strings) of the Markdown table whose header line starts
    with `header_start` (the first such table)."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[i + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows


def load_report_module(monkeypatch):
    """report.py imported from the source tree as the script sees it (its folder on sys.path)."""
    monkeypatch.syspath_prepend(str(PKG))
    spec = importlib.util.spec_from_file_location("denseam_report_under_test", REPORT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---- structure --------------------------------------------------------------------------

def test_report_has_every_section_in_order(report_md):
    at = [report_md.find(s) for s in SECTIONS]
    assert all(i >= 0 for i in at), [s for s, i in zip(SECTIONS, at) if i < 0]
    assert at == sorted(at)
    # LMIN0, LOGL0, BSTOR, PXLE, QBVAE, DrDAM
    assert report_md.count("### Where we differ from the reference, and why") == 6
    for claims in ("| paper (Appendix C) |", "| paper (paper.md 3.2) |",
                   "| paper (paper.md 3.3, Fig. 3 right) |"):
        assert claims in report_md
    # The Fashion-MNIST BSTOR run is not made here: its table is the one missing.
    assert report_md.count("(no table:") == 1 and "(no table: bstor-fashion/bstor.json" in report_md
    assert "(table not available" not in report_md
    assert report_md.endswith("```\n")


def test_report_is_written_atomically(results, report_md):
    names = os.listdir(results)
    assert "report.md" in names
    assert not [n for n in names if "tmp" in n], names


def test_failed_write_keeps_the_old_report_and_leaves_no_temp(results, tmp_path, monkeypatch):
    folder = tmp_path / "r"
    shutil.copytree(results, folder)
    (folder / "report.md").write_text("old\n", encoding="utf-8")
    mod = load_report_module(monkeypatch)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        mod.write_report(str(folder))
    assert (folder / "report.md").read_text(encoding="utf-8") == "old\n"
    assert not [n for n in os.listdir(folder) if "tmp" in n]


def test_missing_figures_are_reported_and_present_ones_linked(results, report_md, tmp_path):
    for png in ("fig1/fig1.png", "akem/akem.png", "lmin0.png", "logl0_k2_d2.png"):
        assert f"(figure {png} not made" in report_md
    assert "![" not in report_md
    folder = tmp_path / "r"
    shutil.copytree(results, folder)
    for png in ("fig1/fig1.png", "lmin0.png", "logl0_k2_d2.png"):
        (folder / png).write_bytes(b"\x89PNG\r\n")
    run_report(folder)
    text = (folder / "report.md").read_text(encoding="utf-8")
    assert "![Fig. 1](fig1/fig1.png)" in text
    assert "![LMIN0](lmin0.png)" in text
    assert "![LOGL0](logl0_k2_d2.png)" in text
    assert "(figure akem/akem.png not made" in text


def test_missing_data_leaves_notes_not_errors(tmp_path):
    run_report(tmp_path)
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    for s in SECTIONS:
        assert s in text
    for rel in ("fig1/fig1.json", "akem/akem.json", "lmin0.jsonl", "logl0.jsonl",
                "fig1_minima.txt"):
        assert f"(no table: {rel} not found)" in text
    assert "no experiment data found" in text


def test_missing_folder_is_a_one_line_error(tmp_path):
    res = run_report(tmp_path / "nope", check=False)
    assert res.returncode == 1
    assert res.stderr.startswith("report.py: error:") and len(res.stderr.splitlines()) == 1


# ---- timings ----------------------------------------------------------------------------

def test_without_timings_the_intro_says_so(report_md):
    intro = " ".join(report_md.split("\n\n")[1].split())
    assert "(no timings.json, so no timings)" in intro
    assert "the LMIN0 sweep (10 configurations)," in intro  # 2 seeds x 5 betas
    assert "the LOGL0 sweep (8 runs)," in intro  # 2 seeds x 2 energies x 2 betas
    assert "BSTOR on MNIST digits, PXLE, QBVAE, the DrDAM study, the ClAM benchmark." in intro


def test_timings_json_gives_what_was_run_and_how_long(results, tmp_path):
    folder = tmp_path / "r"
    shutil.copytree(results, folder)
    timings = {"command": "bash scripts/main.sh", "date": "2024-01-02", "cores": 2,
               "logl0_sweep": "reduced",
               "seconds": {"fig1": 1.5, "akem": 0.3, "lmin0": 12.0, "logl0": 31.2,
                           "bstor_mnist": 2.5, "pxle": 0.2, "drdam": 4.0, "total": 45.9}}
    (folder / "timings.json").write_text(json.dumps(timings), encoding="utf-8")
    run_report(folder)  # timings.json of the folder is the default
    text = (folder / "report.md").read_text(encoding="utf-8")
    intro = " ".join(text.split("\n\n")[1].split())
    assert intro.startswith("Produced by `bash scripts/main.sh` on 2024-01-02 (2 cores): "
                            "Fig. 1 1.5 s, AKEM 0.3 s, the LMIN0 sweep (10 configurations) "
                            "12.0 s, the reduced LOGL0 sweep (8 runs) 31.2 s, BSTOR on MNIST "
                            "digits 2.5 s, PXLE 0.2 s, QBVAE, the DrDAM study 4.0 s, the ClAM "
                            "benchmark; 45.9 s for all experiments and "
                            "figures (after the build).")
    assert "(`denseam logl0 --sweep reduced`)" in text
    assert "Sweep `reduced` in 31.2 s (reduced:" in text
    other = tmp_path / "t.json"
    other.write_text(json.dumps({"seconds": {"fig1": 9.9}}), encoding="utf-8")
    run_report(folder, "--timings", other)
    assert "Fig. 1 9.9 s, AKEM," in " ".join(
        (folder / "report.md").read_text(encoding="utf-8").split())


# ---- the numbers in the tables equal the data -----------------------------------------------

def test_fig1_table_equals_json(results, report_md):
    panels = json.loads((results / "fig1" / "fig1.json").read_text(encoding="utf-8"))["panels"]
    rows = table(report_md, "| panel | kernel |")
    assert len(rows) == len(panels) == 10
    for row, p in zip(rows, panels):
        assert row[0] == p["name"] and row[1] == p["kernel"]
        assert [int(c) for c in row[3:6]] == [p["num_minima"], p["num_stored"],
                                              p["num_emergent"]]
        assert row[6].startswith(f"{p['paper_minima']} ({p['paper_emergent']})")
        assert len(row[7].split("), (")) == p["num_minima"] or p["dim"] == 1
    assert "Ours: the same counts as paper.md 3.1/V1/V3" in report_md


def test_akem_table_equals_json(results, report_md):
    doc = json.loads((results / "akem" / "akem.json").read_text(encoding="utf-8"))
    rows = table(report_md, "| kernel \\ h |")
    nw = doc["n_widths"]
    assert len(rows) == doc["n_kernels"]
    for k, row in enumerate(rows):
        panels = doc["panels"][k * nw:(k + 1) * nw]
        assert row[0] == panels[0]["name"]
        for cell, p in zip(row[1:], panels):
            counts = cell.split()[0]
            assert counts.rstrip("!") == f"{p['num_near_pattern']}+{p['num_emergent']}"
            assert counts.endswith("!") == bool(p["global_emergence"])


def test_lmin0_peak_emergent_counts_equal_jsonl(results, report_md):
    rows = read_jsonl(results / "lmin0.jsonl")
    sets = collections.defaultdict(list)
    for r in rows:
        sets[(r["M"], r["d"], r["seed"])].append(r)
    peaks, stored, first_ok = {}, {}, 0
    for key, rs in sets.items():
        rs.sort(key=lambda r: r["beta"])
        top = max(r["num_new_mems"] for r in rs)
        peaks[key] = top
        stored[key] = next(r["num_old_mems"] for r in rs if r["num_new_mems"] == top)
        first_ok += (rs[0]["num_old_mems"], rs[0]["num_new_mems"]) == (0, 1)
    got = {(int(r[0]), int(r[1]), int(r[2])): (int(r[3]), r[5])
           for r in table(report_md, "| M | d | seed | peak new |")}
    assert set(got) == set(peaks) == {(5, 4, 0), (5, 4, 42)}
    for key, (peak, stored_cell) in got.items():
        assert peak == peaks[key]
        assert stored_cell == f"{stored[key]}/5"
    mean = table(report_md, "| M | d | seeds | mean peak new |")
    assert len(mean) == 1 and mean[0][:3] == ["5", "4", "2"]
    assert float(mean[0][3]) == pytest.approx(sum(peaks.values()) / 2, abs=0.05)
    assert "Bold lines: seed 0 (as the paper plots); thin: seed 42." in report_md
    assert "serves its 5 betas" in report_md
    assert max(peaks.values()) > 1  # a real peak, not the centroid alone
    claims = table(report_md, "| paper (paper.md 3.2) |")
    assert claims[0][1].startswith(f"{first_ok}/2 pattern sets")


def test_logl0_table_equals_jsonl(results, report_md):
    rows = read_jsonl(results / "logl0.jsonl")
    assert len(rows) == 8
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["energy"], r["beta_idx"])].append(r)

    def mean(energy, bi, key):
        v = [r[key] for r in by[(energy, bi)]]
        return sum(v) / len(v)

    assert "**k = 2, d = 2, M = 5** (mean over seeds)" in report_md
    got = table(report_md, "| beta idx | beta |")
    assert [int(r[0]) for r in got] == [0, 1]
    for r in got:
        bi = int(r[0])
        assert r[2] == f"{mean('lsr', bi, 'avg_logl'):.2f}"
        assert r[3] == f"{mean('lse', bi, 'avg_logl'):.2f}"
        assert r[4] == f"{mean('lsr', bi, 'num_unique_retrievals'):.1f}"
        assert r[5] == f"{mean('lse', bi, 'num_unique_retrievals'):.1f}"
        assert r[6] == f"{mean('lse', bi, 'num_unique_minima'):.1f}"
        assert r[7] == f"{mean('lsr', bi, 'og_mems_recoverable'):.1f}"
        assert r[8] == (f"{mean('lse', bi, 'og_mems_recoverable'):.1f} / "
                        f"{mean('lse', bi, 'og_mems_recoverable_sound'):.1f}")
    claims = table(report_md, "| paper (paper.md 3.3, Fig. 3 right) |")
    assert len(claims) == 4 and all("k=2, d=2, M=5" in c[1] for c in claims)


def test_demo_section_holds_the_demo_table(results, report_md):
    demo = (results / "fig1_minima.txt").read_text(encoding="utf-8").rstrip("\n")
    assert f"## Fig. 1 minima as printed by `denseam demo`\n\n```\n{demo}\n```\n" in report_md


# ---- single tables and the split from plots.py --------------------------------------------

@pytest.mark.parametrize("kind,rel,head", [
    ("fig1", "fig1/fig1.json", "| panel | kernel |"),
    ("akem", "akem/akem.json", "| kernel \\ h |"),
    ("akem-claims", "akem/akem.json", "| paper (Appendix C) |"),
    ("lmin0", "lmin0.jsonl", "Generator: `reference`."),
    ("lmin0-claims", "lmin0.jsonl", "| paper (paper.md 3.2) |"),
    ("logl0", "logl0.jsonl", "**k = 2, d = 2, M = 5**"),
    ("logl0-claims", "logl0.jsonl", "| paper (paper.md 3.3, Fig. 3 right) |"),
])
def test_one_table_on_stdout_is_the_reports(results, report_md, kind, rel, head):
    res = run_report("--table", kind, results / rel)
    assert res.stdout.startswith(head)
    assert res.stdout.strip() in report_md


def test_unknown_table_kind_is_a_usage_error(results):
    res = run_report("--table", "nope", results / "lmin0.jsonl", check=False)
    assert res.returncode == 2 and "unknown KIND" in res.stderr


def test_plots_py_draws_figures_only():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = subprocess.run([sys.executable, str(PLOTS), "--help"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "{fig1,akem,lmin0,logl0,bstor,pxle,qbvae,drdam-error,drdam-retrieval}" in res.stdout
    defs = re.findall(r"^def (\w+)", PLOTS.read_text(encoding="utf-8"), flags=re.M)
    assert defs and all(d.startswith(("plot_", "_")) or d == "main" for d in defs), defs


def test_bstor_and_pxle_tables_match_the_data(results, report_md):
    b = json.loads((results / "bstor-mnist" / "bstor.json").read_text())
    emergent = [m for m in b["sub"] if not m["stored"]]
    full_ok = sum(m["full_minimum"] for m in emergent)
    stored_ok = sum(m["full_minimum"] for m in b["sub"] if m["stored"])
    assert f"| {b['preserved']:,} ({100 * b['preserved'] / b['n']:.1f} %), exact |" in report_md
    assert f"| {b['seed_interacting']:,} others of {b['n']:,} |" in report_md
    assert f"| {stored_ok} stored + {full_ok} emergent |" in report_md
    assert f"| {len(b['full_emergent'])} distinct (from {b['starts']} starts) |" in report_md
    p = json.loads((results / "pxle" / "pxle.json").read_text())
    letters = " ".join(m["letters"] for m in p["minima"] if not m["stored"])
    assert f"| {sum(not m['stored'] for m in p['minima'])}: {letters or '-'} |" in report_md
    assert f"| {sum(m['stored'] for m in p['minima'])} of {len(p['indices'])} |" in report_md


def test_qbvae_table_matches_the_data(results, report_md):
    q = json.loads((results / "qbvae" / "qbvae.json").read_text())
    m = len(q["indices"])
    assert f"| {q['lsr']['stored']} / {m}, exact |" in report_md
    assert f"| {q['lsr']['emergent']}, exact |" in report_md
    assert f"| {q['lse']['search_minima']} minima (search);" in report_md


def test_drdam_table_matches_the_data(results, report_md):
    """The DrDAM slopes are least-squares fits of log(energy MAE) on log(Y) of the JSON lines
    (refitted here with NumPy), and the retrieval and bytes rows are the JSON's."""
    import numpy as np

    rows = read_jsonl(results / "drdam" / "drdam_error.jsonl")
    assert rows and all(r["experiment"] == "drdam-error" for r in rows)
    body = table(report_md, "| map | d | β | energy-error slope")
    assert len(body) == len({(r["features"], r["dim"]) for r in rows})
    for kind, d, betas, slopes, _ in body:
        betas = [float(b) for b in betas.split(",")]
        for beta, slope in zip(betas, slopes.split(",")):
            sel = sorted((r for r in rows if r["features"] == kind and r["dim"] == int(d)
                          and float(r["beta"]) == beta), key=lambda r: r["Y"])
            x = np.log([r["Y"] for r in sel])
            y = np.log([r["energy_mae"] for r in sel])
            assert float(slope) == pytest.approx(np.polyfit(x, y, 1)[0], abs=0.006)
    doc = json.loads((results / "drdam" / "drdam.json").read_text(encoding="utf-8"))
    ret = table(report_md, "| β | map | Y | mean ‖DrDAM − MrDAM‖")
    assert len(ret) == len(doc["retrieval"]["rows"])
    for cells, row in zip(ret, doc["retrieval"]["rows"]):
        assert int(cells[2]) == row["Y"]
        assert float(cells[3]) == pytest.approx(row["distance_mean"], abs=6e-4)
    by = table(report_md, "| M | d | Y | explicit (MrDAM, float)")
    assert len(by) == len(doc["bytes"])
    for cells, row in zip(by, doc["bytes"]):
        m, d = int(cells[0].replace(",", "")), int(cells[1])
        assert (m, d) == (row["M"], row["dim"])
        assert row["explicit_bytes"] == 4 * m * d  # float32 patterns
        assert row["distributed_bytes"] == 8 * row["Y"]  # T in double


def test_clam_section_holds_the_benchmark_table(results, report_md):
    """The ClAM section carries clam_bench.md's table, whose numbers are the JSON lines'."""
    rows = read_jsonl(results / "clam" / "clam_bench.jsonl")
    assert rows and {r["dataset"] for r in rows} == {"iris"}
    section = report_md[report_md.index("## ClAM: clustering with associative memories"):]
    assert "ClAM-LSE" in section and "ClAM-LSR" in section
    for r in rows:
        for metric in ("silhouette", "nmi", "ari"):
            assert f"{r[metric]:.3f}" in section, (r["method"], metric)
