# SPDX-License-Identifier: MIT
"""Figures of the paper's experiments from denseam's JSON output.

Pure Python (json + NumPy + matplotlib with the Agg backend); it does not need the compiled
module, so it also runs as a script under Debian's /usr/bin/python3:

    python3 plots.py fig1  fig1.json   fig1.png
    python3 plots.py akem  akem.json   akem.png
    python3 plots.py lmin0 lmin0.jsonl lmin0.png [--generator reference] [--seed 0]
    python3 plots.py logl0 logl0.jsonl PREFIX    # PREFIX_k<k>_d<d>.png, one per (k, d)
    python3 plots.py bstor bstor.json bstor.png bstor_curve.png --shape H,W
    python3 plots.py pxle  pxle.json  pxle.png --shape H,W
    python3 plots.py qbvae qbvae.json qbvae.png --shape H,W
    python3 plots.py drdam-error drdam_error.jsonl drdam_error.png
    python3 plots.py drdam-retrieval drdam.json drdam_retrieval.png --shape H,W

bstor, pxle, qbvae and drdam-retrieval read their .npy images from the JSON's folder (qbvae: the decoded images
qbvae_decoded_{patterns,lsr,lse}.npy). `denseam fig1`, `denseam akem`, `denseam bstor`,
`denseam pxle`, `denseam qbvae`, `denseam drdam-study`, `denseam lmin0 --plot` and `denseam logl0 --plot` call it. Exit
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


# ---- BSTOR / PXLE (paper.md 3.4, Figs. 9-10): image minima ------------------------------------

def _shape(text, dim):
    """(H, W) from "H,W" (or "HxW"); H * W must be the pattern dimension."""
    parts = text.replace("x", ",").split(",")
    if len(parts) != 2:
        raise ValueError(f"--shape must be H,W (got {text!r})")
    h, w = int(parts[0]), int(parts[1])
    if h <= 0 or w <= 0 or h * w != dim:
        raise ValueError(f"--shape {h},{w} does not fit patterns of dimension {dim}")
    return h, w


def _npy_beside(json_path, name, rows, dim):
    """The (rows, dim) array `name` from the folder of `json_path`, checked against the JSON."""
    import numpy as np

    path = os.path.join(os.path.dirname(os.path.abspath(json_path)), name)
    a = np.load(path, allow_pickle=False)
    if rows == 0 and a.size == 0:
        return np.zeros((0, dim))
    if a.ndim != 2 or a.shape != (rows, dim):
        raise ValueError(f"{path}: shape {a.shape}, expected ({rows}, {dim}) from the JSON")
    return a


def _image(ax, vec, shape, title=None, color="k", fontsize=7):
    ax.imshow(vec.reshape(shape), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=fontsize, color=color, pad=2)


def _none(ax, text="none"):
    ax.axis("off")
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="0.4", style="italic")


def _label(ax, text):
    ax.axis("off")
    ax.text(1.0, 0.5, text, transform=ax.transAxes, ha="right", va="center", fontsize=8.5)


FULL_YES, FULL_NO = "tab:green", "tab:red"


def _images(n):
    return f"{n} image" + ("" if n == 1 else "s")


def plot_bstor(json_path, png_path, curve_png, shape, cap=16):
    """Fig. 10: the seed, the emergent and stored minima of its sub-memory (each marked by
    whether it is also a minimum of the full memory) and the full memory's emergent minima near
    the seed, at most `cap` per row; and the preserved share vs beta (curve_png)."""
    plt = _mpl()
    from matplotlib.gridspec import GridSpec

    doc = read_json(json_path)
    dim = doc["dim"]
    hw = _shape(shape, dim)
    subs, full = doc["sub"], doc["full_emergent"]
    sub_mem = _npy_beside(json_path, "bstor_sub_memory.npy", len(doc["sub_indices"]), dim)
    sub_min = _npy_beside(json_path, "bstor_sub_minima.npy", len(subs), dim)
    full_min = _npy_beside(json_path, "bstor_full_emergent.npy", len(full), dim)
    seed = doc["seed_index"]
    emergent = [(i, s) for i, s in enumerate(subs) if not s["stored"]]
    stored = [(i, s) for i, s in enumerate(subs) if s["stored"]]

    def shown(items):
        return f"{len(items)}" + (f", first {cap} shown" if len(items) > cap else "")

    n_em_full = sum(s["full_minimum"] for _, s in emergent)
    n_st_full = sum(s["full_minimum"] for _, s in stored)
    labels = [f"seed #{seed}\n{'preserved' if doc['seed_preserved'] else 'NOT preserved'}, "
              f"interacts with\n{_images(doc['seed_interacting'])}",
              f"sub-memory ({_images(len(doc['sub_indices']))})\nemergent minima: "
              f"{shown(emergent)}\n{n_em_full} also full-memory minima",
              f"sub-memory\nstored minima: {shown(stored)}\n{n_st_full} also full-memory "
              "minima",
              f"full memory ({_images(doc['n'])})\nemergent minima near\nthe seed: {shown(full)}"]
    fig = plt.figure(figsize=(2.6 + 0.95 * cap, 4 * 1.25 + 0.9))
    gs = GridSpec(4, cap + 1, figure=fig, width_ratios=[2.6] + [0.95] * cap, hspace=0.42,
                  wspace=0.08, left=0.01, right=0.995, top=0.86, bottom=0.01)

    def row(r, items, draw):
        _label(fig.add_subplot(gs[r, 0]), labels[r])
        if not items:
            _none(fig.add_subplot(gs[r, 1:]))
            return
        for c, item in enumerate(items[:cap]):
            draw(fig.add_subplot(gs[r, c + 1]), item)

    def full_mark(s):
        return ("✓" if s["full_minimum"] else "✗"), (FULL_YES if s["full_minimum"] else FULL_NO)

    row(0, [0] if len(sub_mem) else [], lambda ax, _: _image(ax, sub_mem[0], hw, f"seed #{seed}"))

    def draw_emergent(ax, item):
        i, s = item
        mark, color = full_mark(s)
        _image(ax, sub_min[i], hw, f"|S|={len(s['support'])} {mark}full", color)

    def draw_stored(ax, item):
        i, s = item
        mark, color = full_mark(s)
        _image(ax, sub_min[i], hw, f"#{s['support'][0]} {mark}", color)

    row(1, emergent, draw_emergent)
    row(2, stored, draw_stored)
    row(3, list(enumerate(full)),
        lambda ax, item: _image(ax, full_min[item[0]], hw, f"|S|={len(item[1]['support'])}"))
    fig.suptitle(f"BSTOR (Fig. 10): LSR minima around one image, β = {doc['beta']:g} "
                 f"(R = {doc['radius']:.3g}); |S| = support size, ✓full / ✗full: also / not a "
                 "minimum of the full memory", fontsize=11, y=0.985)
    _save(fig, png_path, dpi=100)
    plt.close(fig)
    _plot_bstor_curve(plt, doc, curve_png)


def _plot_bstor_curve(plt, doc, png_path):
    """Preserved share of the stored images vs beta (exact step function, log beta)."""
    import numpy as np

    n = doc["n"]
    c = doc["curve"]
    b = np.asarray(c["beta"], dtype=float)
    cnt = np.asarray(c["preserved"], dtype=float)
    paper = doc.get("paper") or {}
    pb, pf = paper.get("beta", 0.11), paper.get("preserved_fraction", 0.5)
    marks = [doc["beta"], doc["beta_for_share"], pb]
    lo = min(([b[0]] if len(b) else []) + marks) / 1.6
    hi = max(([b[-1]] if len(b) else []) + marks) * 1.6
    x = np.r_[lo, b, hi]
    y = np.r_[c.get("floor", 0), cnt, cnt[-1] if len(cnt) else c.get("floor", 0)] / n
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.plot(x, y, drawstyle="steps-post", color=STORED, lw=1.6, label="preserved share")
    ax.axvline(doc["beta"], color="k", ls="--", lw=1,
               label=f"β = {doc['beta']:g}: {100 * doc['preserved_fraction']:.1f} % preserved")
    ax.axvline(doc["beta_for_share"], color="tab:orange", ls="-.", lw=1,
               label=f"β = {doc['beta_for_share']:.4g} preserves {100 * doc['preserve']:g} %")
    ax.axhline(doc["preserve"], color="0.5", ls=":", lw=1,
               label=f"target {100 * doc['preserve']:g} %")
    ax.plot([pb], [pf], marker="*", ms=14, color=EMERGENT, ls="", zorder=5,
            label=f"paper: β = {pb:g}, ~{100 * pf:g} % of MNIST 60k")
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.02, 1.02)
    _log_ticks(ax)
    ax.set_xlabel("β (log scale; LSR support radius R = √(2/β))")
    ax.set_ylabel("share of stored images that are minima")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"BSTOR: preserved stored images vs β ({n} images, d = {doc['dim']})",
                 fontsize=11)
    fig.tight_layout()
    _save(fig, png_path, dpi=110)
    plt.close(fig)


def _log_ticks(ax):
    """Label the 1, 2, 5 x 10^k ticks of a log x axis as plain numbers (the default labels only
    the decades, too few over the one or two decades these curves span)."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v, _pos):
        if v <= 0:
            return ""
        lead = round(v / 10 ** math.floor(math.log10(v)), 6)
        return f"{v:g}" if lead in (1, 2, 5) else ""

    ax.xaxis.set_major_formatter(FuncFormatter(fmt))
    ax.xaxis.set_minor_formatter(FuncFormatter(fmt))


def _letter(i):
    return chr(ord("A") + i) if i < 26 else f"#{i}"


def plot_pxle(json_path, png_path, shape, per_row=8):
    """Fig. 9: the drawn images (A, B, ...; "kept" when a stored minimum), every emergent minimum
    named by the letters of its support, and the stored / emergent counts vs beta."""
    plt = _mpl()
    import numpy as np
    from matplotlib.gridspec import GridSpec, GridSpecFromSubplotSpec
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    doc = read_json(json_path)
    dim = doc["dim"]
    hw = _shape(shape, dim)
    k = doc["n_images"]
    mins = doc["minima"]
    pats = _npy_beside(json_path, "pxle_patterns.npy", k, dim)
    pos = _npy_beside(json_path, "pxle_minima.npy", len(mins), dim)
    kept = {i for m in mins if m["stored"] for i in m["support"]}  # duplicates: one support
    emergent = [(i, m) for i, m in enumerate(mins) if not m["stored"]]
    ncol = max(per_row, 1)
    pat_rows = max(1, -(-k // ncol))
    em_rows = max(1, -(-len(emergent) // ncol))
    img_h = 1.25
    fig = plt.figure(figsize=(1.2 * ncol + 1.4, img_h * (pat_rows + em_rows) + 3.6 + 0.8))
    outer = GridSpec(2, 1, figure=fig, height_ratios=[img_h * (pat_rows + em_rows), 3.0],
                     hspace=0.15, left=0.07, right=0.98, top=0.9, bottom=0.08)
    top = GridSpecFromSubplotSpec(pat_rows + em_rows, ncol, subplot_spec=outer[0], hspace=0.45,
                                  wspace=0.08)
    for i in range(k):
        ax = fig.add_subplot(top[i // ncol, i % ncol])
        idx = doc["indices"][i] if i < len(doc["indices"]) else None
        title = _letter(i) + (f" #{idx}" if idx is not None else "")
        _image(ax, pats[i], hw, title + (" kept" if i in kept else ""),
               STORED if i in kept else "k", fontsize=8)
        if i % ncol == 0:
            ax.set_ylabel("stored\npatterns", fontsize=9)
    if not emergent:
        ax = fig.add_subplot(top[pat_rows:, :])
        _none(ax, "no emergent minimum")
    for j, (i, m) in enumerate(emergent):
        ax = fig.add_subplot(top[pat_rows + j // ncol, j % ncol])
        letters = m.get("letters") or "".join(_letter(s) for s in m["support"])
        _image(ax, pos[i], hw, letters, EMERGENT, fontsize=8)
        if j % ncol == 0:
            ax.set_ylabel("emergent\nminima" if j == 0 else "", fontsize=9)

    ax = fig.add_subplot(outer[1])
    c = doc["curve"]
    bp = np.asarray(c["breakpoints"], dtype=float)
    marks = [doc["beta"], doc["beta_max"]]
    hi = 1.5 * max(marks + ([bp[-1]] if len(bp) else []))
    lo = min(marks + ([bp[0]] if len(bp) else [])) / 1.5
    x = np.r_[lo, bp, hi]  # count i holds on (bp[i-1], bp[i]); the first one from beta = 0
    for key, color, label in (("stored", STORED, "stored"), ("emergent", EMERGENT, "emergent")):
        v = np.asarray(c[key], dtype=float)
        ax.plot(x, np.r_[v, v[-1]], drawstyle="steps-post", color=color, lw=1.6, label=label)
    for a, b in doc["global_emergence"]:
        b = hi if b == "inf" or b is None else min(float(b), hi)
        ax.axvspan(max(float(a), lo), b, color="tab:green", alpha=0.15, lw=0)
    ax.axvline(doc["beta"], color="k", ls="--", lw=1)
    ax.axvline(doc["beta_max"], color="0.5", ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    _log_ticks(ax)
    ax.set_xlabel("β (log scale)")
    ax.set_ylabel("# minima")
    ax.grid(alpha=0.3, which="both")
    handles = [Line2D([], [], color=STORED, lw=1.6, label="stored"),
               Line2D([], [], color=EMERGENT, lw=1.6, label="emergent"),
               Line2D([], [], color="k", ls="--", lw=1,
                      label=f"β = {doc['beta']:.4g} ({doc['beta_fraction']:.2g} β_max)"),
               Line2D([], [], color="0.5", ls=":", lw=1,
                      label=f"β_max = {doc['beta_max']:.4g} (supports disjoint above)"),
               Patch(color="tab:green", alpha=0.15,
                     label="global emergence (all kept + an emergent minimum)")]
    ax.legend(handles=handles, fontsize=8, loc="upper right")
    ge = " (global emergence)" if doc["global_emergence_at_beta"] else ""
    fig.suptitle(f"PXLE (Fig. 9): {k} images, β = {doc['beta']:.4g}: {doc['stored']} stored + "
                 f"{doc['emergent']} emergent minima{ge}\nblue title: the image is a minimum "
                 "(kept); red: an emergent minimum, named by the letters of its support",
                 fontsize=10.5, y=0.985)
    _save(fig, png_path, dpi=100)
    plt.close(fig)


# ---- QBVAE (paper.md Fig. 4): decoded memories of VAE latents --------------------------------

def _distinct_rows(a, tol=1e-3):
    """[(first row, how many rows)] of the groups of rows of `a` within `tol` (max abs
    difference) of a group's first row, in order of first occurrence."""
    import numpy as np

    a = np.asarray(a, dtype=float)
    groups = []
    for i, row in enumerate(a):
        for g in groups:
            if np.max(np.abs(row - a[g[0]])) <= tol:
                g[1] += 1
                break
        else:
            groups.append([i, 1])
    return [tuple(g) for g in groups]


def plot_qbvae(json_path, png_path, shape, per_row=12):
    """Fig. 4: the decoded stored latents (red "#k ✗" when pattern k is not an LSR minimum), the
    preserved and the emergent LSR memories, and the distinct end states of the LSE descents
    (one descent per stored pattern; images within 1e-3 of each other count once, titled
    "×c" when c descents end there)."""
    plt = _mpl()
    import numpy as np
    from matplotlib.gridspec import GridSpec

    doc = read_json(json_path)
    n = doc["n_mems"]
    mins = doc["lsr_minima"]
    # the decoded images' dimension (the JSON's `dim` is the latents'): H * W of --shape
    first = os.path.join(os.path.dirname(os.path.abspath(json_path)), "qbvae_decoded_patterns.npy")
    dim = np.load(first, mmap_mode="r", allow_pickle=False).shape[-1]
    hw = _shape(shape, dim)
    pats = _npy_beside(json_path, "qbvae_decoded_patterns.npy", n, dim)
    lsr = _npy_beside(json_path, "qbvae_decoded_lsr.npy", len(mins), dim)
    lse = _npy_beside(json_path, "qbvae_decoded_lse.npy", n, dim)
    preserved = [(i, m) for i, m in enumerate(mins) if m["stored"]]
    emergent = [(i, m) for i, m in enumerate(mins) if not m["stored"]]
    kept = {m["support"][0] for _, m in preserved}
    lse_rows = _distinct_rows(lse) if n else []
    lost = sum(k not in kept for k in range(n))

    groups = [
        (f"stored patterns\n({n}; red ✗: {lost}\nnot preserved)",
         [(pats[k], f"#{k}" + ("" if k in kept else " ✗"), "k" if k in kept else FULL_NO)
          for k in range(n)]),
        (f"LSR preserved\nmemories ({len(preserved)})",
         [(lsr[i], f"#{m['support'][0]}", STORED) for i, m in preserved]),
        (f"LSR emergent\nmemories ({len(emergent)})",
         [(lsr[i], f"|S|={len(m['support'])}", EMERGENT) for i, m in emergent]),
        (f"LSE memories\n({len(lse_rows)} distinct of\n{n} descents)",
         [(lse[i], f"×{c}" if c > 1 else None, "k") for i, c in lse_rows]),
    ]
    ncol = max(per_row, 1)
    rows = [max(1, -(-len(items) // ncol)) for _, items in groups]
    total = sum(rows)
    fig = plt.figure(figsize=(2.0 + 0.95 * ncol, 1.12 * total + 0.35 * len(groups) + 1.0))
    gs = GridSpec(total + len(groups) - 1, ncol + 1, figure=fig,
                  height_ratios=sum(([0.25] * (g > 0) + [1.0] * r for g, r in enumerate(rows)),
                                    []),
                  width_ratios=[2.0] + [0.95] * ncol, hspace=0.35, wspace=0.08, left=0.01,
                  right=0.995, top=1 - 0.9 / fig.get_figheight(), bottom=0.01)
    r0 = 0
    for g, ((label, items), nr) in enumerate(zip(groups, rows)):
        r0 += 1 if g > 0 else 0  # a thin spacer row between groups
        _label(fig.add_subplot(gs[r0:r0 + nr, 0]), label)
        if not items:
            _none(fig.add_subplot(gs[r0, 1:]))
        for j, (vec, title, color) in enumerate(items):
            _image(fig.add_subplot(gs[r0 + j // ncol, 1 + j % ncol]), vec, hw, title, color)
        r0 += nr

    lsr_doc = doc["lsr"]
    paper = doc.get("paper") or {}
    status = "" if lsr_doc.get("status", "complete") == "complete" else \
        f" [LSR search {lsr_doc['status']}]"
    fig.suptitle(f"QBVAE (Fig. 4): {n} decoded latents, d = {doc['dim']}, β = {doc['beta']:.4g}"
                 f"{status}\nLSR: {lsr_doc['stored']}/{n} preserved + {lsr_doc['emergent']} "
                 f"emergent; LSE: {len(lse_rows)} distinct memories (paper "
                 f"{paper.get('config', 'mnist10')}: {paper.get('lsr_preserved', 22)}/"
                 f"{paper.get('n_mems', 24)} + {paper.get('lsr_emergent', 46)}; LSE <= "
                 f"{paper.get('lse_max', 24)})", fontsize=10.5, y=0.995)
    _save(fig, png_path, dpi=100)
    plt.close(fig)


def plot_drdam_error(jsonl_path, png_path):
    """DrDAM paper Figs. 3-4: mean absolute error of the energy (top) and of the gradient
    (bottom) vs Y, one column per dimension, one colour per beta, solid = fourier, dashed =
    positive features; the thin grey line has slope -1/2; legend: fitted slopes."""
    plt = _mpl()
    rows = [r for r in read_jsonl(jsonl_path) if r.get("experiment") == "drdam-error"]
    if not rows:
        raise ValueError(f"{jsonl_path}: no drdam-error rows")
    dims = sorted({r["dim"] for r in rows})
    betas = sorted({float(r["beta"]) for r in rows})
    kinds = sorted({r["features"] for r in rows})
    styles = {"fourier": "-", "fourier-phase": ":", "positive": "--"}
    cmap = plt.get_cmap("viridis")
    fig, axes = plt.subplots(2, len(dims), figsize=(4.2 * len(dims), 6.4), squeeze=False)
    for c, d in enumerate(dims):
        for r_i, (key, label) in enumerate((("energy_mae", "energy MAE"),
                                            ("grad_mae", "gradient MAE"))):
            ax = axes[r_i][c]
            for b_i, beta in enumerate(betas):
                color = cmap(b_i / max(1, len(betas) - 1) * 0.85)
                for kind in kinds:
                    sel = sorted((r for r in rows if r["dim"] == d and float(r["beta"]) == beta
                                  and r["features"] == kind), key=lambda r: r["Y"])
                    pts = [(r["Y"], float(r[key])) for r in sel
                           if isinstance(r[key], (int, float)) and r[key] > 0]
                    if len(pts) < 1:
                        continue
                    ys, vs = zip(*pts)
                    slope = math.nan
                    if len(pts) >= 2:
                        lx = [math.log(y) for y in ys]
                        lv = [math.log(v) for v in vs]
                        mx, mv = sum(lx) / len(lx), sum(lv) / len(lv)
                        den = sum((x - mx) ** 2 for x in lx)
                        slope = sum((x - mx) * (v - mv) for x, v in zip(lx, lv)) / den
                    ax.loglog(ys, vs, styles.get(kind, "-"), color=color, marker="o", ms=3,
                              label=f"β={beta:g} {kind} ({slope:+.2f})")
            # The Y^-1/2 guide through the middle of the plotted range.
            lo, hi = ax.get_xlim()
            ylo, yhi = ax.get_ylim()
            gx = [lo, hi]
            mid = math.sqrt(ylo * yhi)
            gy = [mid * (x / math.sqrt(lo * hi)) ** -0.5 for x in gx]
            ax.loglog(gx, gy, color="0.6", lw=0.8, zorder=0)
            ax.set_xlim(lo, hi)
            ax.set_ylim(ylo, yhi)
            ax.set_xlabel("Y (features)")
            ax.set_ylabel(label)
            ax.set_title(f"d = {d}: {label}", fontsize=9)
            ax.legend(fontsize=6, loc="lower left")
    fig.suptitle("DrDAM vs exact LSE energy: error vs number of random features "
                 "(grey: slope −1/2; legend: fitted slopes)", fontsize=10)
    fig.tight_layout()
    _save(fig, png_path, dpi=120)
    plt.close(fig)


def plot_drdam_retrieval(json_path, png_path, shape, cap=8):
    """DrDAM paper Figs. 1-2: stored images, the occluded queries, MrDAM's completions and
    DrDAM's for each map and Y (at the first beta); below, |DrDAM - MrDAM| vs Y for every beta
    and map."""
    plt = _mpl()
    doc = read_json(json_path)
    ret = doc.get("retrieval")
    if not ret:
        raise ValueError(f"{json_path}: no retrieval part")
    dim = int(ret["dim"])
    m = int(ret["n_patterns"])
    h, w = _shape(shape, dim)
    rows_meta = ret["rows"]
    betas = [float(b["beta"]) for b in ret["mrdam"]]
    pats = _npy_beside(json_path, "drdam_retrieval_patterns.npy", m, dim)
    qrys = _npy_beside(json_path, "drdam_retrieval_queries.npy", m, dim)
    mr = _npy_beside(json_path, "drdam_retrieval_mrdam.npy", m * len(betas), dim)
    dr = _npy_beside(json_path, "drdam_retrieval_drdam.npy", m * len(rows_meta), dim)
    beta0 = betas[0]
    shown_rows = [r for r in rows_meta if float(r["beta"]) == beta0]
    n = min(cap, m)
    grid_rows = 3 + len(shown_rows)
    fig = plt.figure(figsize=(1.0 * n + 3.2, 1.0 * grid_rows + 3.0))
    gs = fig.add_gridspec(grid_rows + 3, n)
    labels = (["stored", "occluded query", f"MrDAM β={beta0:g}"]
              + [f"DrDAM {r['features']} Y={r['Y']}" for r in shown_rows])
    sources = [pats, qrys, mr[:m]] + [dr[int(r["state_offset"]):int(r["state_offset"]) + m]
                                      for r in shown_rows]
    scale = max(float(pats.max()), 1e-12)  # unit-norm images: show them on the stored scale
    for gr, (label, arr) in enumerate(zip(labels, sources)):
        for c in range(n):
            ax = fig.add_subplot(gs[gr, c])
            _image(ax, (arr[c] / scale).clip(0, 1), (h, w))
            if c == 0:
                ax.set_ylabel(label, fontsize=6, rotation=0, ha="right", va="center")
                ax.yaxis.set_visible(True)
                ax.set_yticks([])
    ax = fig.add_subplot(gs[grid_rows:, :])
    styles = {"fourier": "-", "fourier-phase": ":", "positive": "--"}
    cmap = plt.get_cmap("viridis")
    for b_i, beta in enumerate(betas):
        color = cmap(b_i / max(1, len(betas) - 1) * 0.85)
        for kind in sorted({r["features"] for r in rows_meta}):
            sel = sorted((r for r in rows_meta if float(r["beta"]) == beta
                          and r["features"] == kind), key=lambda r: r["Y"])
            if sel:
                ax.loglog([r["Y"] for r in sel], [max(float(r["distance_mean"]), 1e-12)
                                                  for r in sel],
                          styles.get(kind, "-"), color=color, marker="o", ms=3,
                          label=f"β={beta:g} {kind}")
    ax.set_xlabel("Y (features)")
    ax.set_ylabel("mean ‖x_T(DrDAM) − x_T(MrDAM)‖")
    ax.legend(fontsize=7)
    fig.suptitle("Pattern completion: explicit memory (MrDAM) vs distributed memory (DrDAM)",
                 fontsize=10)
    _save(fig, png_path, dpi=120)
    plt.close(fig)


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
    s = sub.add_parser("bstor")
    s.add_argument("data")
    s.add_argument("png")
    s.add_argument("curve_png")
    s.add_argument("--shape", required=True, help="image height,width")
    s = sub.add_parser("pxle")
    s.add_argument("data")
    s.add_argument("png")
    s.add_argument("--shape", required=True, help="image height,width")
    s = sub.add_parser("qbvae")
    s.add_argument("data")
    s.add_argument("png")
    s.add_argument("--shape", required=True, help="image height,width")
    s = sub.add_parser("drdam-error")
    s.add_argument("data")
    s.add_argument("png")
    s = sub.add_parser("drdam-retrieval")
    s.add_argument("data")
    s.add_argument("png")
    s.add_argument("--shape", required=True, help="image height,width")
    a = ap.parse_args(argv)
    if a.cmd == "fig1":
        plot_fig1(a.data, a.png)
    elif a.cmd == "akem":
        plot_akem(a.data, a.png)
    elif a.cmd == "lmin0":
        plot_lmin0(a.data, a.png, a.generator, a.seed)
    elif a.cmd == "logl0":
        plot_logl0(a.data, a.prefix)
    elif a.cmd == "bstor":
        plot_bstor(a.data, a.png, a.curve_png, a.shape)
    elif a.cmd == "pxle":
        plot_pxle(a.data, a.png, a.shape)
    elif a.cmd == "qbvae":
        plot_qbvae(a.data, a.png, a.shape)
    elif a.cmd == "drdam-error":
        plot_drdam_error(a.data, a.png)
    elif a.cmd == "drdam-retrieval":
        plot_drdam_retrieval(a.data, a.png, a.shape)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, "plots.py"))
