# SPDX-License-Identifier: MIT
"""Figures of the paper's experiments from denseam's JSON output.

Pure Python (json + NumPy + matplotlib with the Agg backend); it does not need the compiled
module, so it also runs as a script under Debian's /usr/bin/python3:

    python3 plots.py fig1  fig1.json   fig1.png
    python3 plots.py akem  akem.json   akem.png
    python3 plots.py lmin0 lmin0.jsonl lmin0.png [--generator reference] [--seed 0]
    python3 plots.py logl0 logl0.jsonl PREFIX    # PREFIX_k<k>_d<d>.png, one per (k, d)

`denseam fig1`, `denseam akem`, `denseam lmin0 --plot` and `denseam logl0 --plot` call it. Exit
status 3 when matplotlib is missing (the callers then warn and keep their data). The Markdown
tables and results/report.md are report.py's; the data readers both use are in _results.py.
"""
import argparse
import math
import os
import sys

try:  # inside the package (denseam.plots)
    from ._results import (akem_cell, lmin0_groups, LOGL0_METRICS, logl0_groups, read_json,
                           read_jsonl, run_main)
except ImportError:  # run as a script from python/denseam
    from _results import (akem_cell, lmin0_groups, LOGL0_METRICS, logl0_groups, read_json,
                           read_jsonl, run_main)

STORED = "tab:blue"
EMERGENT = "tab:red"


def _mpl():
    """pyplot with the Agg backend, or SystemExit(3) with a message."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the interpreter
        print(f"plots.py: matplotlib is not available ({e}); no figure made", file=sys.stderr)
        raise SystemExit(3)
    return plt


def _save(fig, path, **kw):
    """fig.savefig(path), atomically: a temporary file beside `path`, then os.replace (a failed
    or interrupted save never leaves a partial figure under the final name)."""
    folder, base = os.path.split(path)
    stem, ext = os.path.splitext(base)
    tmp = os.path.join(folder, f".{stem}.tmp.{os.getpid()}{ext}")
    try:
        fig.savefig(tmp, **kw)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _runs(flags):
    """[(start, stop)) index runs where flags is true."""
    out, start = [], None
    for i, f in enumerate(list(flags) + [0]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i))
            start = None
    return out


def _nan(values):
    return [math.nan if v is None else v for v in values]


# ---- Fig. 1 --------------------------------------------------------------------------------

def _fig1_title(p):
    n, ne = p["num_minima"], p["num_emergent"]
    if p["kernel"] == "lsr":
        return f"LSR β = {p['beta']:g}: {n} min ({n - ne} stored, {ne} emergent)"
    # LSE never has a minimum at a pattern: "near" = within 0.1 (the reference's "preserved")
    return f"LSE β = {p['beta']:g}: {n} min ({n - ne} near a pattern, {ne} emergent)"


def _fig1_panel_1d(ax, p):
    x, e = p["grid_x"], _nan(p["energy"])
    ax.plot(x, e, color="k", lw=1.2)
    dx = (x[1] - x[0]) / 2 if len(x) > 1 else 0
    for a, b in _runs(p["unsupported"]):
        ax.axvspan(x[a] - dx, x[b - 1] + dx, color="0.85", lw=0, zorder=0,
                   label="unsupported" if a == _runs(p["unsupported"])[0][0] else None)
    for f in p.get("flat", []):
        ax.plot([f["lo"], f["hi"]], [f["energy"]] * 2, color="tab:orange", lw=4, alpha=0.7)
    for xi in p["patterns"]:
        ax.axvline(xi, color="0.5", ls="--", lw=0.8)
    for m in p["minima"]:
        ax.plot(m["position"][0], m["energy"], "o", ms=8,
                color=STORED if m["kind"] == "stored" else EMERGENT, zorder=5)
    ax.set_title(_fig1_title(p), fontsize=9)
    ax.set_xlabel("x", fontsize=8)
    ax.tick_params(labelsize=7)


def _fig1_panel_2d(ax, p):
    import numpy as np

    gx, gy = np.asarray(p["grid_x"]), np.asarray(p["grid_y"])
    e = np.asarray(_nan(p["energy"]), dtype=float).reshape(len(gy), len(gx))
    uns = np.asarray(p["unsupported"], dtype=bool).reshape(e.shape)
    sup = np.ma.masked_array(e, mask=uns | ~np.isfinite(e))
    # E -> +inf at the support edges: clip the colour scale so the wells stay readable.
    vals = sup.compressed()
    lo, hi = float(vals.min()), float(np.quantile(vals, 0.8))
    levels = np.linspace(lo, hi, 25)
    ax.contourf(gx, gy, sup, levels=levels, cmap="viridis", extend="max")
    ax.contour(gx, gy, sup, levels=levels[::2], colors="k", linewidths=0.3, alpha=0.5)
    if uns.any():
        ax.contourf(gx, gy, uns.astype(float), levels=[0.5, 1.5], colors=["0.8"])
    pat = np.asarray(p["patterns"]).reshape(-1, 2)
    ax.plot(pat[:, 0], pat[:, 1], "kx", ms=7, mew=1.5)
    for m in p["minima"]:
        ax.plot(*m["position"], "o", ms=7, mec="w", mew=0.8,
                color=STORED if m["kind"] == "stored" else EMERGENT, zorder=5)
    ax.set_aspect("equal")
    ax.set_title(_fig1_title(p), fontsize=9)
    ax.tick_params(labelsize=7)


def plot_fig1(json_path, png_path):
    """The paper's Fig. 1: 1-D pair (LSR top row, LSE middle row) and 2-D triangle (LSR)."""
    plt = _mpl()
    from matplotlib.gridspec import GridSpec
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    doc = read_json(json_path)
    panels = doc["panels"]
    if not panels or "energy" not in panels[0]:
        raise SystemExit("plots.py: fig1 data has no landscapes (use `denseam fig1`)")
    one_lsr = [p for p in panels if p["name"] == "1d-lsr"]
    one_lse = [p for p in panels if p["name"] == "1d-lse"]
    two = [p for p in panels if p["name"] == "2d-lsr"]
    fig = plt.figure(figsize=(15, 11.5))
    gs = GridSpec(3, 12, figure=fig, height_ratios=[1, 1, 1.25], hspace=0.45, wspace=0.9)
    for row, group in enumerate((one_lsr, one_lse)):
        for i, p in enumerate(group[:3]):
            ax = fig.add_subplot(gs[row, 4 * i: 4 * i + 4])
            _fig1_panel_1d(ax, p)
            if i == 0:
                ax.set_ylabel(("LSR" if row == 0 else "LSE") + " energy", fontsize=9)
    for i, p in enumerate(two[:4]):
        _fig1_panel_2d(fig.add_subplot(gs[2, 3 * i: 3 * i + 3]), p)
    handles = [Line2D([], [], marker="o", ls="", color=STORED,
                      label="stored (LSR) / within 0.1 of a pattern (LSE)"),
               Line2D([], [], marker="o", ls="", color=EMERGENT, label="emergent minimum"),
               Line2D([], [], marker="x", ls="", color="k", label="pattern (2-D)"),
               Patch(color="0.85", label="unsupported (LSR plateau)")]
    fig.suptitle("Fig. 1: true minima of LSR and LSE (exact enumeration / exact 1-D analysis)",
                 y=0.955, fontsize=12)
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.935))
    _save(fig, png_path, dpi=110, bbox_inches="tight")
    plt.close(fig)


# ---- AKEM ------------------------------------------------------------------------------------

def plot_akem(json_path, png_path):
    """7 x 8 grid (rows: half-widths h, columns: kernels) like the paper's Fig. 6."""
    plt = _mpl()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    doc = read_json(json_path)
    nk, nw = doc["n_kernels"], doc["n_widths"]
    panels = doc["panels"]
    x = doc["grid"]
    fig, axes = plt.subplots(nw, nk, figsize=(2.3 * nk, 1.75 * nw), squeeze=False)
    for k in range(nk):
        for w in range(nw):
            p = panels[k * nw + w]
            ax = axes[w][k]
            e = _nan(p["energy"])
            ax.plot(x, e, color="k", lw=1)
            for c in doc["centers"]:
                ax.axvline(c, color="0.5", ls="--", lw=0.6)
            for fl in p["flat"]:
                ax.axvspan(fl["lo"], fl["hi"], color="tab:orange" if fl["is_minimum"] else "0.8",
                           alpha=0.45, lw=0)
            for m in p["minima"]:
                c = EMERGENT if m["kind"] == "emergent" else STORED
                # hollow: emergent but the patterns are no longer minima (bumps merged)
                hollow = m["kind"] == "emergent" and not p.get("global_emergence")
                ax.plot(m["position"], m["energy"], "o", ms=5, color=c,
                        mfc="w" if hollow else c, mew=1.5, zorder=5)
            finite = [v for v in e if not math.isnan(v)]
            if finite:
                lo, hi = min(finite), max(finite)
                pad = 0.08 * (hi - lo) if hi > lo else 0.5 * abs(hi) + 0.1
                ax.set_ylim(lo - pad, hi + pad)
            ax.set_xlim(x[0], x[-1])
            ax.set_xticks([-2, -1, 0, 1, 2] if w == nw - 1 else [])
            ax.set_yticks([])
            ax.tick_params(labelsize=7)
            ax.text(0.03, 0.95, akem_cell(p), transform=ax.transAxes, fontsize=8, va="top",
                    ha="left", bbox=dict(fc="w", ec="none", alpha=0.7, pad=1))
            if w == 0:
                ax.set_title(p["name"], fontsize=10)
            if k == 0:
                ax.set_ylabel(f"h = {p['h']:g}\nβ_AKEM = {p['beta_akem']:.2g}", fontsize=8)
    handles = [Line2D([], [], marker="o", ls="", color=STORED, label="minimum near a pattern"),
               Line2D([], [], marker="o", ls="", color=EMERGENT, label="emergent minimum"),
               Line2D([], [], marker="o", ls="", color=EMERGENT, mfc="w", mew=1.5,
                      label="single merged minimum (patterns lost)"),
               Patch(color="tab:orange", alpha=0.45, label="flat minimum"),
               Patch(color="0.8", alpha=0.45, label="flat, not a minimum")]
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("AKEM: true minima of two bumps at ±1 (cell: near-pattern + emergent minima, "
                 "! global emergence; =L flat minimum, ~L flat, of total length L)", y=1.025,
                 fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    _save(fig, png_path, dpi=100, bbox_inches="tight")
    plt.close(fig)


# ---- LMIN0 -----------------------------------------------------------------------------------

def plot_lmin0(jsonl_path, png_path, generator=None, seed=0):
    """Fig. 3 left: stored and emergent counts vs beta (log y), y = M dotted, coverage on a twin
    axis; rows M, columns d. Bold: `seed` (the paper plots seed 0); thin: the other seeds."""
    plt = _mpl()
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    generator, groups = lmin0_groups(read_jsonl(jsonl_path), generator)
    if not groups:
        raise SystemExit(f"plots.py: no LMIN0 rows for generator {generator} in {jsonl_path}")
    ms = sorted({m for m, _ in groups})
    ds = sorted({d for _, d in groups})
    fig, axes = plt.subplots(len(ms), len(ds), figsize=(5.2 * len(ds), 3.3 * len(ms)),
                             squeeze=False)
    for i, m in enumerate(ms):
        for j, d in enumerate(ds):
            ax = axes[i][j]
            per_seed = groups.get((m, d))
            if not per_seed:
                ax.set_visible(False)
                continue
            s = seed if seed in per_seed else sorted(per_seed)[0]
            rs = per_seed[s]
            beta = np.array([r["beta"] for r in rs])
            old = np.array([r["num_old_mems"] for r in rs], dtype=float)
            new = np.array([r["num_new_mems"] for r in rs], dtype=float)
            cov = np.array([math.nan if r["vol_coverage"] is None else r["vol_coverage"]
                            for r in rs])
            tw = ax.twinx()
            tw.fill_between(beta, 0, cov, color="0.6", alpha=0.25, lw=0, step=None)
            tw.set_ylim(0, 1.02)
            tw.tick_params(labelsize=7, colors="0.35")
            if j == len(ds) - 1:
                tw.set_ylabel("vol. coverage", fontsize=8, color="0.35")
            ax.set_zorder(tw.get_zorder() + 1)
            ax.patch.set_visible(False)
            ax.plot(beta, np.where(old > 0, old, np.nan), "o-", ms=2.5, color=STORED, lw=1.4)
            ax.plot(beta, np.where(new > 0, new, np.nan), "s-", ms=2.5, color=EMERGENT, lw=1.4)
            for other, ors in sorted(per_seed.items()):
                if other == s:
                    continue  # every seed has its own grid: draw the others thin, not a mean
                ob = np.array([r["beta"] for r in ors])
                oo = np.array([r["num_old_mems"] for r in ors], dtype=float)
                on = np.array([r["num_new_mems"] for r in ors], dtype=float)
                ax.plot(ob, np.where(oo > 0, oo, np.nan), "-", color=STORED, lw=0.7, alpha=0.35)
                ax.plot(ob, np.where(on > 0, on, np.nan), "-", color=EMERGENT, lw=0.7, alpha=0.35)
            ax.set_xlim(0, 1.02 * beta[-1])  # the bold seed's grid; the others may run on
            ax.axhline(m, color="k", ls=":", lw=1)
            ax.set_yscale("log")
            ax.set_ylim(0.7, max(2 * m, 1.5 * np.nanmax(np.r_[new, old, 1])))
            ax.tick_params(labelsize=7)
            ax.set_title(f"M = {m}, d = {d} (seed {s})", fontsize=9)
            if i == len(ms) - 1:
                ax.set_xlabel("β", fontsize=9)
            if j == 0:
                ax.set_ylabel("# minima", fontsize=9)
    handles = [Line2D([], [], color=STORED, marker="o", ms=3, label="stored patterns"),
               Line2D([], [], color=EMERGENT, marker="s", ms=3, label="new (emergent) memories"),
               Line2D([], [], color="0.5", lw=0.7, label="other seeds"),
               Line2D([], [], color="k", ls=":", label="y = M"),
               Patch(color="0.6", alpha=0.25, label="vol. coverage (right axis)")]
    fig.suptitle(f"LMIN0: exact minima counts vs β ({generator} generator)", y=0.995,
                 fontsize=11)
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=8, frameon=False,
               bbox_to_anchor=(0.5, 0.972))
    fig.tight_layout(rect=(0, 0, 1, 0.945))
    _save(fig, png_path, dpi=110)
    plt.close(fig)


# ---- LOGL0 (paper.md 3.3, Figs. 7-8) ------------------------------------------------------

def plot_logl0(jsonl_path, out_prefix):
    """Figs. 7-8: per (k, d) one figure, rows avg_logl / unique retrievals / recoverable
    patterns, columns M; mean +- std over seeds vs mean beta (log x); LSR squares, LSE circles.
    Writes <out_prefix>_k<k>_d<d>.png and returns the paths."""
    plt = _mpl()
    groups = logl0_groups(read_jsonl(jsonl_path))
    if not groups:
        raise SystemExit(f"plots.py: no LOGL0 rows in {jsonl_path}")
    prefix = out_prefix[:-4] if out_prefix.endswith(".png") else out_prefix
    style = {"lsr": dict(marker="s", color="tab:orange", label="LSR (Epanechnikov)"),
             "lse": dict(marker="o", color="tab:blue", label="LSE")}
    paths = []
    for (k, d), series in sorted(groups.items()):
        ms = sorted({m for m, _ in series})
        fig, axes = plt.subplots(3, len(ms), figsize=(4.6 * len(ms), 8.4), squeeze=False,
                                 sharex="col")
        for j, m in enumerate(ms):
            for i, (metric, label) in enumerate(LOGL0_METRICS):
                ax = axes[i][j]
                for e in ("lse", "lsr"):
                    pts = series.get((m, e))
                    if not pts:
                        continue
                    x = [p[1] for p in pts]
                    mu = [p[2][metric][0] for p in pts]
                    sd = [p[2][metric][1] for p in pts]
                    lo = [max(a - b, 0.0) if metric != "avg_logl" else a - b for a, b in zip(mu, sd)]
                    hi = [a + b for a, b in zip(mu, sd)]
                    ax.plot(x, mu, ms=4, lw=1, **style[e])
                    ax.fill_between(x, lo, hi, color=style[e]["color"], alpha=0.2, lw=0)
                    if metric == "og_mems_recoverable" and e == "lse":
                        xs = [p[2]["og_mems_recoverable_sound"][0] for p in pts]
                        ax.plot(x, xs, ls="--", color="tab:blue", lw=1,
                                label="LSE sound (minimum within 0.1)")
                ax.set_xscale("log")
                if metric == "og_mems_recoverable":
                    ax.axhline(m, color="gray", ls=":", lw=0.8)
                if j == 0:
                    ax.set_ylabel(label)
                if i == 0:
                    ax.set_title(f"M = {m}")
                if i == 2:
                    ax.set_xlabel("beta (mean over seeds)")
                ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=8)
        axes[2][0].legend(fontsize=8)
        seeds = max(p[2]["avg_logl"][2] for s in series.values() for p in s)
        fig.suptitle(f"LOGL0: k = {k}, d = {d} (mean +- std over {seeds} seeds)")
        fig.tight_layout()
        path = f"{prefix}_k{k}_d{d}.png"
        _save(fig, path, dpi=110)
        plt.close(fig)
        paths.append(path)
        print(f"plots.py: wrote {path}", file=sys.stderr)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("fig1", "akem"):
        s = sub.add_parser(name)
        s.add_argument("data")
        s.add_argument("png")
    s = sub.add_parser("lmin0")
    s.add_argument("data")
    s.add_argument("png")
    s.add_argument("--generator", default=None)
    s.add_argument("--seed", type=int, default=0)
    s = sub.add_parser("logl0")
    s.add_argument("data")
    s.add_argument("prefix")
    a = ap.parse_args(argv)
    if a.cmd == "fig1":
        plot_fig1(a.data, a.png)
    elif a.cmd == "akem":
        plot_akem(a.data, a.png)
    elif a.cmd == "lmin0":
        plot_lmin0(a.data, a.png, a.generator, a.seed)
    elif a.cmd == "logl0":
        plot_logl0(a.data, a.prefix)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "plots.py"))
