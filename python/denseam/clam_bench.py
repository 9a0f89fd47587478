# SPDX-License-Identifier: MIT
"""ClAM vs k-means: silhouette, NMI and ARI on data sets available offline.

The benchmark of clustering with associative memories (ClAM; Saha, Krotov, Zaki, Ram, ICML 2023)
beside scikit-learn's k-means, as the paper compares them. It needs the compiled module
(denseam.ClAM) and scikit-learn; `denseam clam-bench` runs it, or directly:

    PYTHONPATH=build/ci/python /usr/bin/python3 -m denseam.clam_bench --out DIR \
        [--quick] [--large] [--datasets iris,wine,...] [--seed S] [--threads N] [--no-plot]

Data sets (each standardised with StandardScaler first, as the authors do; k = number of
classes): scikit-learn's iris (k 3), wine (k 3), breast-cancer (k 2), digits (k 10, the 1,797
8x8 images) and blobs (make_blobs: 1,000 points, 10 features, 5 centres, std 1, random_state =
the seed; k 5); with --large (or when named in --datasets) the 10,000 MNIST digits and
Fashion-MNIST's 60,000 training images (denseam.load_dataset, k 10).

Methods, each with random_state = the seed:
  clam-lse, clam-lsr  denseam.ClAM over a grid of beta x lr; per data set and kernel the
                      configuration with the best silhouette wins (the paper's selection), among
                      those whose labels use all k clusters (a labelling with fewer clusters is
                      not the same task; when none does, the best one is kept and marked).
                      beta: multipliers {1, 4, 16, 64} of the estimator's automatic beta, the
                      "auto" beta of the same data and seed (radius sqrt(2/beta) = c r, r the
                      median distance to the nearest k-means++ prototype, c = 2 for LSE, 4 for
                      LSR; docs/clam.md), i.e. the radius divided by 1, 2, 4, 8. Not the
                      authors' absolute {1.1, 1.5, 1.9, 2.4}: those suit their softmax on
                      standardised data of a few features, while in 64 or 784 standardised
                      dimensions an absolute LSR beta of that size leaves every point outside
                      every support (no pull, nothing learned). lr (Adam) {1e-3, 1e-2, 1e-1}
                      (the authors'). Fixed: the authors' batch size 8, T = 10 steps, alpha 0.1,
                      mask probability 0.2, up to 200 epochs; the estimator's defaults for the
                      rest (early stopping: tol, patience; the lr cut on a plateau; eps), written
                      into every row. --quick: beta x{1, 16}, lr {1e-2, 1e-1}, 50 epochs.
  kmeans              sklearn KMeans(n_clusters=k, n_init=10).
  kmeans-best         the paper's baseline: the best (lowest inertia) of 1000 k-means++ starts,
                      KMeans(n_init=1000, max_iter=1000); --quick: 100 starts. Not run on the
                      large sets (1000 fits of 60,000 x 784 take hours).
                      Both in one thread on the small sets (fewer than 10^6 values), where
                      threads cost more than they share; --threads on the others.
On a data set of more than 5,000 points (--quick: 1,000) the grid is searched on a fixed random
subsample of that size and the chosen configuration (its beta value, i.e. the subsample's
automatic beta times the multiplier, and its lr) is fitted on the whole set.

Metrics (sklearn.metrics): silhouette (Euclidean, on the standardised data; on a fixed random
sample of 10,000 points when there are more, the same points for every method), NMI and ARI
against the classes.

Output in --out (each file written atomically; labels as int64 .npy so every number can be
recomputed): clam_bench.jsonl (one row per data set and method), clam_grid.jsonl (every grid
configuration), clam_bench.md (the tables beside the paper's claim), clam_bench.png (bar charts
of the three metrics), labels/<data set>_<method>.npy and, for a sampled silhouette,
labels/<data set>_silhouette_sample.npy (the row indices). Progress goes to stderr, the summary
table to stdout. Exit status: 0; 2 for a bad option (one line, nothing written); 1 for a failure
(one line; the files already written are complete).
"""
import argparse
import importlib
import json
import math
import os
import sys
import time

PAPER_CLAIM = ("ClAM: up to 60 % better silhouette than Lloyd's k-means and its continuous "
               "relaxations (Saha et al., ICML 2023, abstract; their per-data-set tables were "
               "not available offline)")

SMALL = ("iris", "wine", "breast-cancer", "digits", "blobs")
LARGE = ("mnist-digits", "fashion-mnist")
N_CLUSTERS = {"iris": 3, "wine": 3, "breast-cancer": 2, "digits": 10, "blobs": 5,
              "mnist-digits": 10, "fashion-mnist": 10}
BLOBS = dict(n_samples=1000, n_features=10, centers=5, cluster_std=1.0)

# The authors' fixed settings; the grid is per mode.
CLAM_FIXED = dict(batch_size=8, steps=10, alpha=0.1, mask_prob=0.2)
# The estimator's defaults the rows record (those that exist in this version).
CLAM_DEFAULTS = ("tol", "patience", "lr_decay", "eps")
MODES = {
    "default": dict(beta_multipliers=(1.0, 4.0, 16.0, 64.0), lrs=(1e-3, 1e-2, 1e-1), epochs=200,
                    kmeans_best=1000, grid_sample=5000),
    "quick": dict(beta_multipliers=(1.0, 16.0), lrs=(1e-2, 1e-1), epochs=50, kmeans_best=100,
                  grid_sample=1000),
}
KMEANS_N_INIT = 10
KMEANS_BEST_MAX_ITER = 1000
KMEANS_ONE_THREAD = 1_000_000  # values (n x d) below which k-means runs in one thread
SILHOUETTE_SAMPLE = 10000
METHODS = ("clam-lse", "clam-lsr", "kmeans", "kmeans-best")
METRICS = (("silhouette", "silhouette"), ("nmi", "NMI"), ("ari", "ARI"))
TIE = 5e-4  # a metric must be higher by more than this (the tables' rounding) to count as a win

PROG = "clam_bench"


class UsageError(Exception):
    """A bad option: exit status 2, nothing written."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message, and no exit here
        raise UsageError(message)


def _progress(msg):
    print(f"{PROG}: {msg}", file=sys.stderr, flush=True)


# ---- files -------------------------------------------------------------------------------------

def _tmp_beside(path):
    folder, base = os.path.split(path)
    stem, ext = os.path.splitext(base)
    return os.path.join(folder, f".{stem}.tmp.{os.getpid()}{ext}")


def _atomic(path, write):
    """write(tmp) then os.replace(tmp, path): a failed write never leaves a partial file under
    the final name."""
    tmp = _tmp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _write_text(path, text):
    def w(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    _atomic(path, w)


def _write_npy(path, array):
    import numpy as np

    def w(tmp):
        with open(tmp, "wb") as f:
            np.save(f, array)
    _atomic(path, w)


def _json_value(v):
    """NaN/inf -> None (JSON has no NaN); NumPy scalars -> Python numbers."""
    if isinstance(v, float) or hasattr(v, "dtype"):
        v = v.item() if hasattr(v, "item") else v
        if isinstance(v, float) and not math.isfinite(v):
            return None
    return v


def _jsonl(rows):
    return "".join(json.dumps({k: _json_value(v) for k, v in r.items()}) + "\n" for r in rows)


# ---- data --------------------------------------------------------------------------------------

def load(name, seed):
    """(X standardised (n, d) float64, classes (n,) int64, source description)."""
    import numpy as np
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    if name == "blobs":
        X, y = datasets.make_blobs(random_state=seed, **BLOBS)
        source = dict(generator="sklearn.datasets.make_blobs", random_state=seed, **BLOBS)
    elif name in LARGE:
        import denseam

        X, y = denseam.load_dataset(name)
        source = dict(loader=f"denseam.load_dataset({name!r})")
    else:
        loader = {"iris": datasets.load_iris, "wine": datasets.load_wine,
                  "breast-cancer": datasets.load_breast_cancer,
                  "digits": datasets.load_digits}[name]
        X, y = loader(return_X_y=True)
        source = dict(loader=f"sklearn.datasets.{loader.__name__}")
    X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    return np.ascontiguousarray(X), np.asarray(y, dtype=np.int64), source


def scores(X, y, labels, sil_rows=None):
    """silhouette (on X[sil_rows] when given; NaN unless 2 <= clusters <= n - 1), NMI, ARI."""
    import numpy as np
    from sklearn import metrics

    Xs, ls = (X, labels) if sil_rows is None else (X[sil_rows], labels[sil_rows])
    n_used = len(np.unique(ls))
    sil = (float(metrics.silhouette_score(Xs, ls)) if 2 <= n_used <= len(ls) - 1
           else math.nan)
    return dict(silhouette=sil, nmi=float(metrics.normalized_mutual_info_score(y, labels)),
                ari=float(metrics.adjusted_rand_score(y, labels)))


def _better(a, b):
    """Is grid result a preferable to b: all clusters used first, then silhouette (NaN last)."""
    if b is None:
        return True
    if a["all_clusters"] != b["all_clusters"]:
        return a["all_clusters"]
    sa = -math.inf if math.isnan(a["silhouette"]) else a["silhouette"]
    sb = -math.inf if math.isnan(b["silhouette"]) else b["silhouette"]
    return sa > sb


# ---- methods -----------------------------------------------------------------------------------

def _clam(k, kernel, beta, lr, epochs, seed, threads):
    import denseam

    return denseam.ClAM(n_clusters=k, kernel=kernel, beta=beta, lr=lr, epochs=epochs,
                        random_state=seed, n_threads=threads, **CLAM_FIXED)


def clam_grid(name, X, y, k, kernel, mode, seed, threads):
    """Every grid configuration of one kernel on X (n, d): [grid rows], the chosen row and its
    labels."""
    import numpy as np

    n = X.shape[0]
    cfg = MODES[mode]
    rows, best, best_labels = [], None, None
    # The automatic beta depends only on the data and the seed (the k-means++ start).
    auto = _clam(k, kernel, "auto", cfg["lrs"][0], 1, seed, threads).fit(X).beta_
    for mult in cfg["beta_multipliers"]:
        for lr in cfg["lrs"]:
            t0 = time.perf_counter()
            model = _clam(k, kernel, auto * mult, lr, cfg["epochs"], seed, threads).fit(X)
            seconds = time.perf_counter() - t0
            labels = np.asarray(model.labels_, dtype=np.int64)
            used = len(np.unique(labels))
            row = dict(dataset=name, method=f"clam-{kernel}", kernel=kernel, n_fit=n,
                       beta_auto=auto, beta_multiplier=mult, beta=model.beta_, lr=lr,
                       n_iter=int(model.n_iter_), n_clusters_used=used, all_clusters=used == k,
                       seconds=seconds, **scores(X, y, labels), selected=False)
            rows.append(row)
            if _better(row, best):
                best, best_labels = row, labels
    best["selected"] = True
    return rows, best, best_labels


def _clam_defaults():
    """{name: default} of denseam.ClAM for CLAM_DEFAULTS."""
    import denseam

    params = denseam.ClAM().get_params()
    return {k: params[k] for k in CLAM_DEFAULTS if k in params}


def kmeans(X, k, n_init, seed, max_iter=300):
    """sklearn KMeans; on a small data set (< KMEANS_ONE_THREAD values) in one thread: there
    its threads cost more than they share (6x slower with 2 threads on a busy 2-core machine),
    and the result is then independent of the machine's thread count."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    km = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed)
    if X.size < KMEANS_ONE_THREAD:
        with threadpool_limits(limits=1):
            return km.fit(X)
    return km.fit(X)


# ---- one data set ------------------------------------------------------------------------------

def bench_dataset(name, mode, seed, threads, out):
    """The rows (one per method) and the grid rows of one data set; writes the labels."""
    import numpy as np

    cfg = MODES[mode]
    t_load = time.perf_counter()
    X, y, source = load(name, seed)
    n, d = X.shape
    k = N_CLUSTERS[name]
    _progress(f"{name}: {n} x {d}, k = {k} (loaded in {time.perf_counter() - t_load:.1f} s)")
    rng = np.random.default_rng(seed)
    sil_rows = None
    if n > SILHOUETTE_SAMPLE:
        sil_rows = np.sort(rng.choice(n, SILHOUETTE_SAMPLE, replace=False))
        _write_npy(os.path.join(out, "labels", f"{name}_silhouette_sample.npy"), sil_rows)
    grid_rows = None
    if n > cfg["grid_sample"]:
        grid_rows = np.sort(rng.choice(n, cfg["grid_sample"], replace=False))
    common = dict(dataset=name, n_samples=n, n_features=d, k=k, source=source, seed=seed,
                  silhouette_sample=None if sil_rows is None else len(sil_rows))
    rows, grid = [], []

    def finish(method, labels, seconds, **extra):
        labels = np.asarray(labels, dtype=np.int64)
        path = os.path.join("labels", f"{name}_{method}.npy")
        _write_npy(os.path.join(out, path), labels)
        sizes = np.bincount(labels)
        row = dict(common, method=method, **extra, n_clusters_used=int(np.count_nonzero(sizes)),
                   smallest_cluster=int(sizes[sizes > 0].min()), seconds=seconds,
                   **scores(X, y, labels, sil_rows), labels=path)
        rows.append(row)
        _progress(f"{name}: {method:<11} silhouette {row['silhouette']:.4f}  NMI "
                  f"{row['nmi']:.4f}  ARI {row['ari']:.4f}  ({seconds:.1f} s)")

    for kernel in ("lse", "lsr"):
        t0 = time.perf_counter()
        Xg, yg = (X, y) if grid_rows is None else (X[grid_rows], y[grid_rows])
        g, best, labels = clam_grid(name, Xg, yg, k, kernel, mode, seed, threads)
        grid += g
        grid_seconds = time.perf_counter() - t0
        _progress(f"{name}: clam-{kernel} grid of {len(g)} in {grid_seconds:.1f} s: beta x"
                  f"{best['beta_multiplier']:g}, lr {best['lr']:g} (grid silhouette "
                  f"{best['silhouette']:.4f}{'' if best['all_clusters'] else ', fewer clusters'})")
        chosen = dict(beta_multiplier=best["beta_multiplier"], lr=best["lr"],
                      all_clusters_in_grid=best["all_clusters"], grid_seconds=grid_seconds,
                      grid_size=len(g), grid_sample=None if grid_rows is None else len(grid_rows))
        if grid_rows is None:  # the grid's fit is the fit: same data, same seed
            beta_auto, beta = best["beta_auto"], best["beta"]
            n_iter, seconds = best["n_iter"], best["seconds"]
        else:  # the chosen configuration, its beta value included, on the whole set
            t0 = time.perf_counter()
            beta_auto, beta = best["beta_auto"], best["beta"]
            model = _clam(k, kernel, beta, best["lr"], cfg["epochs"], seed, threads).fit(X)
            labels, n_iter = model.labels_, int(model.n_iter_)
            seconds = time.perf_counter() - t0
        finish(f"clam-{kernel}", labels, seconds, kernel=kernel, beta_auto=beta_auto,
               beta=beta, n_iter=n_iter, n_init=None, epochs=cfg["epochs"], **CLAM_FIXED,
               **_clam_defaults(),
               **chosen)

    for method, n_init, max_iter in (("kmeans", KMEANS_N_INIT, 300),
                                     ("kmeans-best", cfg["kmeans_best"], KMEANS_BEST_MAX_ITER)):
        if method == "kmeans-best" and name in LARGE:
            continue
        t0 = time.perf_counter()
        km = kmeans(X, k, n_init, seed, max_iter)
        finish(method, km.labels_, time.perf_counter() - t0, n_init=n_init, max_iter=max_iter,
               inertia=float(km.inertia_), n_iter=int(km.n_iter_))
    return rows, grid


# ---- tables and figure -------------------------------------------------------------------------

def _fmt(v, digits=3):
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _method_label(r):
    if r["method"].startswith("clam"):
        return "ClAM-" + r["kernel"].upper()
    if r["method"] == "kmeans":
        return f"k-means (n_init {r['n_init']})"
    return f"k-means (best of {r['n_init']})"


def _settings(r):
    if r["method"].startswith("clam"):
        s = f"beta {r['beta']:.3g} (auto x{r['beta_multiplier']:g}), lr {r['lr']:g}, " \
            f"{r['n_iter']} epochs"
        if not r["all_clusters_in_grid"]:
            s += "; no grid point used all k clusters"
        return s
    return f"{r['n_iter']} iterations, inertia {r['inertia']:.6g}"


def comparison(rows):
    """Per data set: the best ClAM (by silhouette) against the paper's baseline (kmeans-best
    where run, else kmeans): [(dataset, clam row, k-means row)]."""
    out = []
    for name in dict.fromkeys(r["dataset"] for r in rows):
        rs = {r["method"]: r for r in rows if r["dataset"] == name}
        clams = [rs[m] for m in ("clam-lse", "clam-lsr") if m in rs]
        base = rs.get("kmeans-best", rs.get("kmeans"))
        if not clams or base is None:
            continue
        best = max(clams, key=lambda r: -math.inf if math.isnan(r["silhouette"])
                   else r["silhouette"])
        out.append((name, best, base))
    return out


def _beats(a, b):
    """a better than b by more than the tables' rounding (TIE)."""
    return not (math.isnan(a) or math.isnan(b)) and a > b + TIE


def _rel(a, b):
    if math.isnan(a) or math.isnan(b) or b == 0:
        return math.nan
    return 100.0 * (a - b) / abs(b)


def summary_table(rows):
    lines = ["| data set | best ClAM | k-means | silhouette ClAM / k-means | change "
             "| NMI ClAM / k-means | ARI ClAM / k-means | ClAM beats k-means on |",
             "|---|---|---|---|---|---|---|---|"]
    for name, c, b in comparison(rows):
        wins = [label for m, label in METRICS if _beats(c[m], b[m])]
        rel = _rel(c["silhouette"], b["silhouette"])
        lines.append(
            f"| {name} | {_method_label(c)} | {_method_label(b)[len('k-means ('):-1]} "
            f"| {_fmt(c['silhouette'])} / {_fmt(b['silhouette'])} "
            f"| {'n/a' if math.isnan(rel) else f'{rel:+.1f} %'} "
            f"| {_fmt(c['nmi'])} / {_fmt(b['nmi'])} | {_fmt(c['ari'])} / {_fmt(b['ari'])} "
            f"| {', '.join(wins) if wins else 'nothing'} |")
    return "\n".join(lines) + "\n"


def markdown(rows, mode, seed):
    cfg = MODES[mode]
    grid = (f"beta = the automatic beta x {{{', '.join(f'{m:g}' for m in cfg['beta_multipliers'])}"
            f"}}, lr {{{', '.join(f'{v:g}' for v in cfg['lrs'])}}}; batch "
            f"{CLAM_FIXED['batch_size']}, T = {CLAM_FIXED['steps']}, alpha "
            f"{CLAM_FIXED['alpha']:g}, mask {CLAM_FIXED['mask_prob']:g}, up to {cfg['epochs']} "
            f"epochs; the estimator's defaults otherwise ("
            + ", ".join(f"{k} {v:g}" for k, v in _clam_defaults().items()) + ")")
    text = [f"# ClAM vs k-means ({mode} mode, seed {seed})", "",
            f"Paper's claim: {PAPER_CLAIM}.", "",
            "Data standardised (StandardScaler); k = the number of classes. ClAM grid per data "
            f"set and kernel: {grid}; the configuration with the best silhouette among those "
            "using all k clusters is kept (on a data set of more than "
            f"{cfg['grid_sample']:,} points the grid runs on a fixed subsample of that size). "
            f"k-means: scikit-learn KMeans, n_init {KMEANS_N_INIT}, and the paper's baseline, "
            f"the best of {cfg['kmeans_best']} k-means++ starts (max_iter "
            f"{KMEANS_BEST_MAX_ITER}; not on the large sets). Silhouette on the standardised "
            f"data (a fixed sample of {SILHOUETTE_SAMPLE:,} points when larger), NMI and ARI "
            "against the classes.", "",
            "| data set | n x d | k | method | silhouette | NMI | ARI | smallest cluster "
            "| seconds | settings |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        text.append(f"| {r['dataset']} | {r['n_samples']} x {r['n_features']} | {r['k']} "
                    f"| {_method_label(r)} | {_fmt(r['silhouette'])} | {_fmt(r['nmi'])} "
                    f"| {_fmt(r['ari'])} | {r['smallest_cluster']} | {r['seconds']:.1f} "
                    f"| {_settings(r)} |")
    text += ["", "Best ClAM against the paper's k-means baseline (the best of many starts where "
             "run, else n_init 10); change = the silhouette difference relative to |k-means "
             "silhouette| (large for small differences when that is near 0, as on "
             "standardised pixels):", "", summary_table(rows).rstrip("\n")]
    behind = [name for name, c, b in comparison(rows)
              if not _beats(c["silhouette"], b["silhouette"])]
    text += ["", f"A win needs a margin above {TIE:g} (the tables round to 0.001). "
             "ClAM does not beat k-means on silhouette on: " +
             (", ".join(behind) if behind else "none of these data sets") + "."]
    return "\n".join(text) + "\n"


def plot(rows, path):
    """Grouped bars: silhouette, NMI, ARI per data set and method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    colors = {"clam-lse": "tab:blue", "clam-lsr": "tab:orange", "kmeans": "tab:gray",
              "kmeans-best": "black"}
    labels = {}
    fig, axes = plt.subplots(1, 3, figsize=(4.2 * 3, 4.4))
    width = 0.8 / len(methods)
    for ax, (metric, title) in zip(axes, METRICS):
        for j, m in enumerate(methods):
            xs, vs = [], []
            for i, name in enumerate(names):
                r = next((r for r in rows if r["dataset"] == name and r["method"] == m), None)
                if r is None:
                    continue
                labels[m] = _method_label(r)
                xs.append(i - 0.4 + width * (j + 0.5))
                vs.append(0.0 if math.isnan(r[metric]) else r[metric])
            ax.bar(xs, vs, width, color=colors[m], label=labels.get(m, m))
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right")
        ax.set_title(title)
        ax.axhline(0.0, color="black", linewidth=0.6)
        ax.grid(axis="y", alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(methods),
               fontsize="small", frameon=False)
    fig.suptitle("ClAM vs k-means (StandardScaler, k = classes)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))

    def save(tmp):
        fig.savefig(tmp, dpi=110)
    try:
        _atomic(path, save)
    finally:
        plt.close(fig)


# ---- command line ------------------------------------------------------------------------------

def _nonneg_int(option):
    def parse(text):
        try:
            v = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{option} must be an integer >= 0, got {text!r}")
        if v < 0 or (option == "--seed" and v >= 2**32):
            hi = " and < 2**32" if option == "--seed" else ""
            raise argparse.ArgumentTypeError(f"{option} must be an integer >= 0{hi}, got {text!r}")
        return v
    return parse


def parse_args(argv):
    p = _Parser(prog=PROG, description="ClAM vs k-means: silhouette, NMI, ARI.")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quick", action="store_true", help="small grid (a smoke run)")
    p.add_argument("--large", action="store_true",
                   help="also the MNIST digits and Fashion-MNIST (minutes to hours)")
    p.add_argument("--datasets", help="comma-separated: " + ", ".join(SMALL + LARGE))
    p.add_argument("--seed", type=_nonneg_int("--seed"), default=0)
    p.add_argument("--threads", type=_nonneg_int("--threads"), default=0,
                   help="threads for ClAM and scikit-learn (0: all cores)")
    p.add_argument("--no-plot", action="store_true", help="no PNG")
    a = p.parse_args(argv)
    if not a.out:
        raise UsageError("--out must not be empty")
    if a.datasets is not None:
        names = [s.strip() for s in a.datasets.split(",")]
        for s in names:
            if s not in N_CLUSTERS:
                raise UsageError(f"--datasets: unknown data set {s!r} (known: "
                                 f"{', '.join(SMALL + LARGE)})")
        if len(set(names)) != len(names):
            raise UsageError(f"--datasets: a data set is named twice in {a.datasets!r}")
        a.datasets = names
    else:
        a.datasets = list(SMALL + (LARGE if a.large else ()))
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        raise UsageError(f"--out: {a.out!r} exists and is not a folder")
    return a


def run(a):
    mode = "quick" if a.quick else "default"
    try:
        for module in ("numpy", "sklearn"):
            importlib.import_module(module)
        from threadpoolctl import threadpool_limits
    except ImportError as e:
        raise RuntimeError(f"scikit-learn is needed ({e}); use Debian's /usr/bin/python3")
    try:
        import denseam
        denseam.ClAM  # noqa: B018 - the compiled estimator must be importable
    except (ImportError, AttributeError) as e:
        raise RuntimeError(f"denseam.ClAM is not importable ({e}): build the target _denseam "
                           "and put its folder (build/<preset>/python) on PYTHONPATH")
    if not a.no_plot:
        try:
            importlib.import_module("matplotlib")
        except ImportError as e:
            raise RuntimeError(f"matplotlib is needed for the figure ({e}); or use --no-plot")
    os.makedirs(os.path.join(a.out, "labels"), exist_ok=True)
    t_all = time.perf_counter()
    _progress(f"{mode} mode, seed {a.seed}, data sets {', '.join(a.datasets)}")
    rows, grid = [], []
    limits = threadpool_limits(limits=a.threads) if a.threads > 0 else None
    try:
        for name in a.datasets:
            r, g = bench_dataset(name, mode, a.seed, a.threads, a.out)
            rows += r
            grid += g
            # Rewritten after each data set: an interrupted run keeps complete files.
            _write_text(os.path.join(a.out, "clam_bench.jsonl"), _jsonl(rows))
            _write_text(os.path.join(a.out, "clam_grid.jsonl"), _jsonl(grid))
            _write_text(os.path.join(a.out, "clam_bench.md"), markdown(rows, mode, a.seed))
    finally:
        if limits is not None:
            limits.restore_original_limits()
    if not a.no_plot:
        plot(rows, os.path.join(a.out, "clam_bench.png"))
    written = "clam_bench.jsonl, clam_grid.jsonl, clam_bench.md" + \
        ("" if a.no_plot else ", clam_bench.png") + ", labels/"
    _progress(f"wrote {written} in {a.out} ({time.perf_counter() - t_all:.1f} s)")
    print(summary_table(rows), end="")
    return 0


def main(argv=None):
    try:
        a = parse_args(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    try:
        return run(a)
    except KeyboardInterrupt:
        print(f"{PROG}: error: interrupted (the files written are complete)", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - reported in one line
        msg = " ".join(str(e).split())
        print(f"{PROG}: error: {type(e).__name__}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
