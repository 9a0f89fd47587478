# SPDX-License-Identifier: MIT
"""`denseam clam-bench`: every number of its tables against scikit-learn, recomputed here.

One --quick run on iris and blobs (seed 3, one thread), then:
- the data: iris and the blobs are rebuilt here (load_iris, make_blobs with the recorded
  parameters) and standardised with StandardScaler;
- every row's silhouette, NMI and ARI equal sklearn.metrics on the written labels, and the
  Markdown table shows them rounded;
- the k-means rows are KMeans(n_init=10) and KMeans(n_init=100, max_iter=1000) with the same seed;
- the ClAM rows are denseam.ClAM refitted with the recorded settings (same labels), and the chosen
  configuration is the grid's best silhouette among those using all k clusters;
- the summary's "does not beat" list is recomputed; the PNG is a real image;
- bad options: exit status 2, one line, nothing written; a missing interpreter: exit 1, one line.
"""
import json
import pathlib
import re
import sys

import numpy as np
import pytest
from sklearn import datasets, metrics
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SEED = 3
FILES = {"clam_bench.jsonl", "clam_grid.jsonl", "clam_bench.md", "clam_bench.png", "labels"}
METHODS = ["clam-lse", "clam-lsr", "kmeans", "kmeans-best"]


def read_jsonl(path):
    return [json.loads(line) for line in pathlib.Path(path).read_text().splitlines() if line]


def one_line_error(p, code):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("denseam: error: "), p.stderr
    return lines[0]


def data(row):
    """(X standardised, classes), built here from the row's description."""
    if row["dataset"] == "iris":
        assert row["source"]["loader"] == "sklearn.datasets.load_iris"
        X, y = datasets.load_iris(return_X_y=True)
    else:
        s = row["source"]
        assert s["generator"] == "sklearn.datasets.make_blobs" and s["random_state"] == SEED
        X, y = datasets.make_blobs(n_samples=s["n_samples"], n_features=s["n_features"],
                                   centers=s["centers"], cluster_std=s["cluster_std"],
                                   random_state=s["random_state"])
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="module")
def quick(run_cli, tmp_path_factory):
    out = tmp_path_factory.mktemp("clam") / "bench"
    p = run_cli(["clam-bench", "--quick", "--datasets", "iris,blobs", "--seed", SEED,
                 "--threads", 1, "--out", out], timeout=300)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return out, p, read_jsonl(out / "clam_bench.jsonl"), read_jsonl(out / "clam_grid.jsonl")


@pytest.fixture(scope="module")
def denseam_module(denseam_bin):
    """The package the CLI runs: build/<preset>/python beside build/<preset>/bin."""
    try:
        import denseam
    except ImportError:
        sys.path.insert(0, str(pathlib.Path(denseam_bin).resolve().parent.parent / "python"))
        import denseam
    return denseam


def test_writes_every_file_and_a_row_per_data_set_and_method(quick):
    out, p, rows, grid = quick
    assert {f.name for f in out.iterdir()} == FILES
    assert [(r["dataset"], r["method"]) for r in rows] == \
        [(d, m) for d in ("iris", "blobs") for m in METHODS]
    labels = {f.name for f in (out / "labels").iterdir()}
    assert labels == {f"{d}_{m}.npy" for d in ("iris", "blobs") for m in METHODS}
    for r in rows:
        assert r["seed"] == SEED and r["k"] == {"iris": 3, "blobs": 5}[r["dataset"]]
        assert r["silhouette_sample"] is None  # small sets: every point
    # quick grid: 2 betas x 2 learning rates per kernel and data set
    assert len(grid) == 2 * 2 * 4
    assert "clam_bench: iris" in p.stderr and "| data set |" in p.stdout


def test_metrics_are_sklearn_on_the_written_labels(quick):
    out, _, rows, _ = quick
    for r in rows:
        X, y = data(r)
        assert (r["n_samples"], r["n_features"]) == X.shape
        labels = np.load(out / r["labels"])
        assert labels.dtype == np.int64 and labels.shape == (X.shape[0],)
        assert r["n_clusters_used"] == len(np.unique(labels))
        assert r["smallest_cluster"] == min(np.count_nonzero(labels == c)
                                            for c in np.unique(labels))
        assert r["silhouette"] == pytest.approx(metrics.silhouette_score(X, labels), abs=1e-12)
        assert r["nmi"] == pytest.approx(metrics.normalized_mutual_info_score(y, labels),
                                         abs=1e-12)
        assert r["ari"] == pytest.approx(metrics.adjusted_rand_score(y, labels), abs=1e-12)


def test_markdown_table_shows_the_rows(quick):
    out, _, rows, _ = quick
    md = (out / "clam_bench.md").read_text()
    assert "up to 60 % better silhouette than Lloyd's k-means" in md
    table = [line for line in md.splitlines()
             if re.match(r"\| (iris|blobs) \| \d+ x \d+ \|", line)]
    assert len(table) == len(rows)
    for line, r in zip(table, rows):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == r["dataset"] and cells[2] == str(r["k"])
        assert [float(c) for c in cells[4:7]] == \
            [round(r[m], 3) for m in ("silhouette", "nmi", "ari")]
        assert cells[7] == str(r["smallest_cluster"])


def test_kmeans_rows_are_kmeans_with_the_same_seed(quick):
    out, _, rows, _ = quick
    for r in rows:
        if not r["method"].startswith("kmeans"):
            continue
        X, _ = data(r)
        n_init, max_iter = (10, 300) if r["method"] == "kmeans" else (100, 1000)
        assert (r["n_init"], r["max_iter"]) == (n_init, max_iter)
        with threadpool_limits(limits=1):
            km = KMeans(n_clusters=r["k"], n_init=n_init, max_iter=max_iter,
                        random_state=SEED).fit(X)
        assert np.array_equal(np.load(out / r["labels"]), km.labels_)
        assert r["inertia"] == pytest.approx(km.inertia_, rel=1e-12)


def test_clam_rows_are_the_best_grid_point_and_refit_identically(quick, denseam_module):
    out, _, rows, grid = quick
    for r in rows:
        if not r["method"].startswith("clam"):
            continue
        g = [x for x in grid if x["dataset"] == r["dataset"] and x["kernel"] == r["kernel"]]
        assert sorted({x["beta_multiplier"] for x in g}) == [1.0, 16.0]
        assert sorted({x["lr"] for x in g}) == [0.01, 0.1]
        assert len({x["beta_auto"] for x in g}) == 1
        for x in g:
            assert x["beta"] == pytest.approx(x["beta_auto"] * x["beta_multiplier"], rel=1e-12)
        eligible = [x for x in g if x["all_clusters"]] or g
        best = max(eligible, key=lambda x: x["silhouette"])
        chosen = [x for x in g if x["selected"]]
        assert len(chosen) == 1 and chosen[0]["silhouette"] == best["silhouette"]
        assert (r["beta"], r["lr"]) == (chosen[0]["beta"], chosen[0]["lr"])
        assert r["silhouette"] == chosen[0]["silhouette"]  # the whole set: the grid's own fit
        X, _ = data(r)
        # every setting the row records (the estimator's defaults for the others)
        params = denseam_module.ClAM().get_params()
        settings = {k: r[k] for k in params if k in r and k not in ("n_iter",)}
        assert {"tol", "patience"} <= set(settings)
        model = denseam_module.ClAM(**dict(settings, n_clusters=r["k"],
                                           random_state=SEED)).fit(X)
        assert np.array_equal(np.load(out / r["labels"]), model.labels_)
        assert r["n_iter"] == model.n_iter_
        assert (r["batch_size"], r["steps"], r["alpha"], r["mask_prob"]) == (8, 10, 0.1, 0.2)


def test_summary_lists_where_clam_does_not_beat_kmeans(quick):
    out, _, rows, _ = quick
    behind = []
    for d in ("iris", "blobs"):
        rs = {r["method"]: r for r in rows if r["dataset"] == d}
        clam = max(rs["clam-lse"]["silhouette"], rs["clam-lsr"]["silhouette"])
        if not clam > rs["kmeans-best"]["silhouette"] + 5e-4:  # the table's rounding
            behind.append(d)
        best = max((rs["clam-lse"], rs["clam-lsr"]), key=lambda r: r["silhouette"])
        change = 100 * (best["silhouette"] - rs["kmeans-best"]["silhouette"]) / \
            abs(rs["kmeans-best"]["silhouette"])
        line = next(x for x in (out / "clam_bench.md").read_text().splitlines()
                    if x.startswith(f"| {d} | ClAM-"))
        assert f"| {change:+.1f} % |" in line
        wins = [name for m, name in (("silhouette", "silhouette"), ("nmi", "NMI"), ("ari", "ARI"))
                if best[m] > rs["kmeans-best"][m] + 5e-4]
        assert line.rstrip().endswith(f"| {', '.join(wins) or 'nothing'} |")
    md = (out / "clam_bench.md").read_text()
    expected = ", ".join(behind) if behind else "none of these data sets"
    assert f"ClAM does not beat k-means on silhouette on: {expected}." in md


def test_png_is_an_image(quick):
    import matplotlib.image

    img = matplotlib.image.imread(quick[0] / "clam_bench.png")
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 600
    assert np.ptp(img[..., :3]) > 0.5  # not blank


@pytest.mark.parametrize("args, word", [
    (["--datasets", "iris,foo"], "'foo'"),
    (["--datasets", "iris,iris"], "twice"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "4294967296"], "--seed"),
    (["--seed", "x"], "--seed"),
    (["--threads", "-2"], "--threads"),
    (["--bogus"], "--bogus"),
    (["--datasets", ""], "--datasets"),
])
def test_bad_options_exit_2_and_write_nothing(run_cli, tmp_path, args, word):
    out = tmp_path / "out"
    p = run_cli(["clam-bench", "--quick", "--out", out, *args])
    assert word in one_line_error(p, 2)
    assert not out.exists()


def test_out_that_is_a_file_is_refused(run_cli, tmp_path):
    f = tmp_path / "file"
    f.write_text("keep")
    p = run_cli(["clam-bench", "--quick", "--datasets", "iris", "--out", f])
    assert "--out" in one_line_error(p, 2)
    assert f.read_text() == "keep"


def test_a_missing_interpreter_is_one_line_and_exit_1(run_cli, cli_env, tmp_path):
    env = dict(cli_env, DENSEAM_PYTHON=str(tmp_path / "no-python"))
    p = run_cli(["clam-bench", "--quick", "--out", tmp_path / "out"], env=env)
    assert "cannot run" in one_line_error(p, 1)
    assert not (tmp_path / "out").exists()


def test_sampled_silhouette_and_subsampled_grid(denseam_module, tmp_path, monkeypatch):
    """The large-set branches, in-process on the digits with small thresholds: the silhouette
    on the written sample rows, the grid on a subsample, the chosen setting on the whole set."""
    from denseam import clam_bench

    monkeypatch.setattr(clam_bench, "SILHOUETTE_SAMPLE", 500)
    monkeypatch.setitem(clam_bench.MODES, "quick", dict(clam_bench.MODES["quick"],
                                                        grid_sample=300))
    out = tmp_path / "bench"
    assert clam_bench.main(["--quick", "--datasets", "digits", "--seed", str(SEED),
                            "--threads", "1", "--no-plot", "--out", str(out)]) == 0
    rows = read_jsonl(out / "clam_bench.jsonl")
    grid = read_jsonl(out / "clam_grid.jsonl")
    X, y = datasets.load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    sample = np.load(out / "labels" / "digits_silhouette_sample.npy")
    assert sample.shape == (500,) and len(np.unique(sample)) == 500
    assert all(g["n_fit"] == 300 for g in grid)
    for r in rows:
        labels = np.load(out / r["labels"])
        assert r["silhouette_sample"] == 500
        assert r["silhouette"] == pytest.approx(
            metrics.silhouette_score(X[sample], labels[sample]), abs=1e-12)
        assert r["ari"] == pytest.approx(metrics.adjusted_rand_score(y, labels), abs=1e-12)
        if r["method"].startswith("clam"):
            assert r["grid_sample"] == 300
            chosen = next(g for g in grid if g["selected"] and g["kernel"] == r["kernel"])
            model = denseam_module.ClAM(
                n_clusters=10, kernel=r["kernel"], beta=chosen["beta"], lr=chosen["lr"],
                epochs=r["epochs"], batch_size=8, random_state=SEED).fit(X)
            assert all(r[k] == v for k, v in model.get_params().items() if k in r)
            assert np.array_equal(labels, model.labels_)
