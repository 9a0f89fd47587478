# SPDX-License-Identifier: MIT
"""Figures and Markdown summaries of the paper's experiments from denseam's JSON output.

Pure Python (json + NumPy + matplotlib with the Agg backend); it does not need the compiled
module, so it also runs as a script under Debian's /usr/bin/python3:

    python3 plots.py fig1  fig1.json   fig1.png
    python3 plots.py akem  akem.json   akem.png
    python3 plots.py lmin0 lmin0.jsonl lmin0.png [--generator reference] [--seed 0]
    python3 plots.py report RESULTS_DIR          # Markdown tables of whatever data is there

`denseam fig1`, `denseam akem` and `denseam lmin0 --plot` call it. Exit status 3 when
matplotlib is missing (the callers then warn and keep their data).
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

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

    with open(json_path, encoding="utf-8") as f:
        doc = json.load(f)
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


def fig1_markdown(json_path):
    with open(json_path, encoding="utf-8") as f:
        doc = json.load(f)
    lines = ["| panel | kernel | β | minima | stored | emergent | paper | positions |",
             "|---|---|---|---|---|---|---|---|"]
    for p in doc["panels"]:
        pos = ", ".join("(" + ", ".join(f"{v:+.4f}" for v in m["position"]) + ")"
                        if len(m["position"]) > 1 else f"{m['position'][0]:+.4f}"
                        for m in p["minima"])
        ok = "✓" if p["matches_paper"] else "✗"
        lines.append(f"| {p['name']} | {p['kernel']} | {p['beta']:g} | {p['num_minima']} | "
                     f"{p['num_stored']} | {p['num_emergent']} | "
                     f"{p['paper_minima']} ({p['paper_emergent']}) {ok} | {pos} |")
    return "\n".join(lines)


# ---- AKEM ------------------------------------------------------------------------------------

def _akem_cell(p):
    s = f"{p['num_near_pattern']}+{p['num_emergent']}"
    if p.get("global_emergence"):
        s += "!"
    flat_min = sum(f["hi"] - f["lo"] for f in p["flat"] if f["is_minimum"])
    flat_other = sum(f["hi"] - f["lo"] for f in p["flat"] if not f["is_minimum"])
    if flat_min > 0:
        s += f" ={flat_min:.2f}"
    if flat_other > 0:
        s += f" ~{flat_other:.2f}"
    return s


def plot_akem(json_path, png_path):
    """7 x 8 grid (rows: half-widths h, columns: kernels) like the paper's Fig. 6."""
    plt = _mpl()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with open(json_path, encoding="utf-8") as f:
        doc = json.load(f)
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
            ax.text(0.03, 0.95, _akem_cell(p), transform=ax.transAxes, fontsize=8, va="top",
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


def akem_markdown(json_path):
    with open(json_path, encoding="utf-8") as f:
        doc = json.load(f)
    nk, nw = doc["n_kernels"], doc["n_widths"]
    panels = doc["panels"]
    hs = [panels[w]["h"] for w in range(nw)]
    lines = ["| kernel \\ h | " + " | ".join(f"{h:g}" for h in hs) + " |",
             "|---" * (nw + 1) + "|"]
    for k in range(nk):
        row = panels[k * nw: (k + 1) * nw]
        lines.append(f"| {row[0]['name']} | " + " | ".join(_akem_cell(p) for p in row) + " |")
    return "\n".join(lines)


# ---- LMIN0 -----------------------------------------------------------------------------------

def read_jsonl(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def _lmin0_groups(rows, generator=None):
    """{(M, d): {seed: [rows sorted by beta]}} for one generator and grid kind."""
    if generator is None:
        gens = {r.get("generator", "reference") for r in rows}
        generator = "reference" if "reference" in gens else sorted(gens)[0]
    g = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("generator", "reference") != generator:
            continue
        g[(r["M"], r["d"])][r["seed"]].append(r)
    for per_seed in g.values():
        for seed in per_seed:
            per_seed[seed].sort(key=lambda r: r["beta"])
    return generator, g


def plot_lmin0(jsonl_path, png_path, generator=None, seed=0):
    """Fig. 3 left: stored and emergent counts vs beta (log y), y = M dotted, coverage on a twin
    axis; rows M, columns d. Bold: `seed` (the paper plots seed 0); thin: the other seeds."""
    plt = _mpl()
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    generator, groups = _lmin0_groups(read_jsonl(jsonl_path), generator)
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


def lmin0_summary(rows, generator=None, recoverable=0.6):
    """Per (M, d) and seed: the peak emergent count, its beta, the stored share and coverage
    there, and the largest emergent count among betas where >= `recoverable` of the stored
    patterns are minima."""
    generator, groups = _lmin0_groups(rows, generator)
    out = []
    for (m, d) in sorted(groups, key=lambda k: (k[0], k[1])):
        for seed, rs in sorted(groups[(m, d)].items()):
            peak = max(rs, key=lambda r: r["num_new_mems"])
            ok = [r for r in rs if r["num_old_mems"] >= recoverable * m]
            best = max(ok, key=lambda r: r["num_new_mems"]) if ok else None
            out.append(dict(M=m, d=d, seed=seed, nbetas=len(rs), peak=peak, best=best,
                            seconds=max(r.get("seconds", 0.0) for r in rs)))
    return generator, out


def lmin0_markdown(jsonl_path, generator=None):
    generator, summary = lmin0_summary(read_jsonl(jsonl_path), generator)
    lines = [f"Generator: `{generator}`. Peak = the beta of the grid with the most emergent "
             "minima; 'with ≥ 60 % stored' = the most emergent minima among betas where at least "
             "60 % of the stored patterns are minima (the paper's regime).",
             "",
             "| M | d | seed | peak new | at β (β/β_max) | stored there | coverage there | "
             "new with ≥ 60 % stored | its coverage | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        p, b = s["peak"], s["best"]
        cov = "–" if p["vol_coverage"] is None else f"{p['vol_coverage']:.3f}"
        bcell = "–" if b is None else f"{b['num_new_mems']} (β = {b['beta']:.3g})"
        bcov = "–" if b is None or b["vol_coverage"] is None else f"{b['vol_coverage']:.3f}"
        lines.append(f"| {s['M']} | {s['d']} | {s['seed']} | {p['num_new_mems']} | "
                     f"{p['beta']:.3g} ({p['beta'] / p['beta_max']:.3f}) | "
                     f"{p['num_old_mems']}/{s['M']} | {cov} | {bcell} | {bcov} | "
                     f"{s['seconds']:.2f} |")
    # mean over seeds per (M, d)
    agg = defaultdict(list)
    for s in summary:
        agg[(s["M"], s["d"])].append(s)
    lines += ["", "Mean over seeds:", "",
              "| M | d | seeds | mean peak new | peak / M | mean stored share at peak | "
              "mean coverage at peak |",
              "|---|---|---|---|---|---|---|"]
    for (m, d), ss in sorted(agg.items()):
        pk = [s["peak"]["num_new_mems"] for s in ss]
        st = [s["peak"]["num_old_mems"] / m for s in ss]
        cv = [s["peak"]["vol_coverage"] for s in ss if s["peak"]["vol_coverage"] is not None]
        mean_cov = f"{sum(cv) / len(cv):.3f}" if cv else "–"
        lines.append(f"| {m} | {d} | {len(ss)} | {sum(pk) / len(pk):.1f} | "
                     f"{sum(pk) / len(pk) / m:.1f} | {sum(st) / len(st):.2f} | {mean_cov} |")
    return "\n".join(lines)


# ---- the paper's claims beside ours ----------------------------------------------------------

def lmin0_claims_markdown(jsonl_path, generator=None):
    """Paper.md 3.2 headline claims, each with our numbers from the data."""
    rows = read_jsonl(jsonl_path)
    generator, groups = _lmin0_groups(rows, generator)
    sets = [(m, d, seed, rs) for (m, d), per in sorted(groups.items())
            for seed, rs in sorted(per.items())]
    first_ok = sum(1 for _, _, _, rs in sets
                   if (rs[0]["num_old_mems"], rs[0]["num_new_mems"]) == (0, 1))
    last = [(m, rs[-1]) for m, _, _, rs in sets]
    last_ok = sum(1 for m, r in last if (r["num_old_mems"], r["num_new_mems"]) == (m, 0))
    lines = ["| paper (paper.md 3.2) | ours |", "|---|---|",
             f"| smallest β (2/d): one minimum, the global centroid | {first_ok}/{len(sets)} "
             "pattern sets: 0 stored + 1 emergent |",
             f"| largest β: only the M stored patterns | {last_ok}/{len(sets)} pattern sets "
             "at β_max itself" + ("" if last_ok == len(sets) else
                                 " (the others: M stored + the closest pair's midpoint, whose "
                                 "members sit exactly on R there: a tangent tie that double "
                                 "rounding decides)") +
             "; every β > β_max gives exactly M stored + 0 (tested) |"]
    by_md = defaultdict(list)
    for m, d, seed, rs in sets:
        peak = max(rs, key=lambda r: r["num_new_mems"])
        by_md[(m, d)].append(peak)
    cells = []
    for (m, d), peaks in sorted(by_md.items()):
        mean = sum(p["num_new_mems"] for p in peaks) / len(peaks)
        cells.append(f"M={m}, d={d}: {mean:.0f} ({mean / m:.0f}×M)")
    lines.append("| at critical β, orders of magnitude more emergent memories than M | peak "
                 "emergent count, mean over seeds: " + "; ".join(cells) + " |")
    cells = []
    for (m, d), peaks in sorted(by_md.items()):
        st = sum(p["num_old_mems"] / m for p in peaks) / len(peaks)
        cv = [p["vol_coverage"] for p in peaks if p["vol_coverage"] is not None]
        cov = f"{100 * sum(cv) / len(cv):.0f} %" if cv else "–"
        cells.append(f"M={m}, d={d}: {100 * st:.0f} % stored, {cov} covered")
    lines.append("| … with > 60 % of the stored patterns recoverable and ~20 % of the cube "
                 "supported | at the peak, mean over seeds: " + "; ".join(cells) + " |")
    return "\n".join(lines)


def akem_claims_markdown(json_path):
    """Paper.md 3.4 (Appendix C) findings, each with what the exact analysis says."""
    with open(json_path, encoding="utf-8") as f:
        doc = json.load(f)
    by = defaultdict(list)
    for p in doc["panels"]:
        by[p["name"]].append(p)

    def hs(name, pred):
        return ", ".join(f"{p['h']:g}" for p in by.get(name, []) if pred(p)) or "none"

    emerg = [f"{n} (h = {hs(n, lambda p: p['global_emergence'])})" for n in by
             if any(p["global_emergence"] for p in by[n])]
    lines = ["| paper (Appendix C) | ours (exact 1-D analysis) |", "|---|---|",
             "| all compact kernels show emergence except Triweight | global emergence (both "
             "patterns kept as minima + an emergent one) for " + "; ".join(emerg) + "; "
             f"Triweight: {hs('Triweight', lambda p: p['global_emergence'])} |",
             "| Uniform: impractical (zero gradient almost everywhere) | strict minima: "
             f"{sum(p['num_minima'] for p in by.get('Uniform', []))} in all 7 panels; flat "
             "only |",
             "| Triangle forms a perfectly flat manifold where basins overlap | flat minimum "
             f"(an interval) for h = {hs('Triangle', lambda p: p['num_flat_minima'] > 0)}; a "
             "flat non-minimum plateau between the patterns for h = "
             f"{hs('Triangle', lambda p: p['num_flat'] > p['num_flat_minima'])} |",
             "| Gaussian (LSE) never shows emergence | global emergence: "
             f"{hs('Gaussian', lambda p: p['global_emergence'])}; the two minima merge into one "
             f"for h = {hs('Gaussian', lambda p: p['num_minima'] == 1)} |",
             "| Quartic: emergence only in a very narrow β range | h = "
             f"{hs('Quartic', lambda p: p['global_emergence'])} of the 7 |",
             "| Cosine almost identical to Epanechnikov | emergence at h = "
             f"{hs('Cosine', lambda p: p['global_emergence'])} vs "
             f"{hs('Epanechnikov', lambda p: p['global_emergence'])} |"]
    return "\n".join(lines)


# ---- command line ----------------------------------------------------------------------------

def report(results_dir):
    """Markdown sections for the data files found in `results_dir`."""
    parts = []
    fig1 = os.path.join(results_dir, "fig1", "fig1.json")
    if os.path.exists(fig1):
        parts += ["### Fig. 1", "", fig1_markdown(fig1), ""]
    akem = os.path.join(results_dir, "akem", "akem.json")
    if os.path.exists(akem):
        parts += ["### AKEM", "", akem_markdown(akem), ""]
    lmin0 = os.path.join(results_dir, "lmin0.jsonl")
    if os.path.exists(lmin0):
        parts += ["### LMIN0", "", lmin0_markdown(lmin0), ""]
    return "\n".join(parts)


# ---- LOGL0 (paper.md 3.3, Figs. 7-8) ------------------------------------------------------

LOGL0_METRICS = (("avg_logl", "avg log-likelihood"),
                 ("num_unique_retrievals", "unique retrievals"),
                 ("og_mems_recoverable", "recoverable patterns"))


def logl0_groups(rows):
    """{(k, d): {(M, energy): [(beta_idx, mean beta, {metric: (mean, std, n)})]}}, de-duplicated on
    (beta_idx, M, d, seed, sigma, energy, k) like the reference's evaluation (last line wins)."""
    import numpy as np

    last = {}
    for r in rows:
        last[(r["beta_idx"], r["M"], r["d"], r["seed"], r["true_sigma"], r["energy"], r["k"],
              r.get("patterns", ""))] = r
    cells = defaultdict(list)
    for r in last.values():
        cells[(r["k"], r["d"], r["M"], r["energy"], r["beta_idx"])].append(r)
    out = defaultdict(lambda: defaultdict(list))
    metrics = [m for m, _ in LOGL0_METRICS] + ["og_mems_recoverable_sound", "num_unique_minima",
                                                "num_novel"]
    for (k, d, m, e, bi), rs in sorted(cells.items()):
        stats = {}
        for name in metrics:
            v = np.array([math.nan if r.get(name) is None else r.get(name, math.nan) for r in rs],
                         dtype=float)
            stats[name] = (float(np.nanmean(v)) if np.isfinite(v).any() else math.nan,
                           float(np.nanstd(v)) if np.isfinite(v).any() else math.nan, len(rs))
        out[(k, d)][(m, e)].append((bi, float(np.mean([r["beta"] for r in rs])), stats))
    return out


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


def logl0_markdown(jsonl_path):
    """A table per (k, d, M): for each beta index, mean over seeds of avg_logl and unique
    retrievals for LSR and LSE, plus LSE distinct minima and sound recoverability."""
    groups = logl0_groups(read_jsonl(jsonl_path))
    lines = []
    for (k, d), series in sorted(groups.items()):
        for m in sorted({m for m, _ in series}):
            lsr = {p[0]: p for p in series.get((m, "lsr"), [])}
            lse = {p[0]: p for p in series.get((m, "lse"), [])}
            lines.append(f"\n**k = {k}, d = {d}, M = {m}** (mean over seeds)\n")
            lines.append("| beta idx | beta | logl LSR | logl LSE | unique LSR | unique LSE (grid) "
                         "| LSE minima | recov. LSR | recov. LSE loose / sound |")
            lines.append("|---|---|---|---|---|---|---|---|---|")
            for bi in sorted(set(lsr) | set(lse)):
                a, b = lsr.get(bi), lse.get(bi)
                f = lambda p, key, fmt: (fmt % p[2][key][0]) if p else "-"
                beta = (a or b)[1]
                lines.append(
                    f"| {bi} | {beta:.3g} | {f(a, 'avg_logl', '%.2f')} | {f(b, 'avg_logl', '%.2f')} "
                    f"| {f(a, 'num_unique_retrievals', '%.1f')} "
                    f"| {f(b, 'num_unique_retrievals', '%.1f')} | {f(b, 'num_unique_minima', '%.1f')} "
                    f"| {f(a, 'og_mems_recoverable', '%.1f')} "
                    f"| {f(b, 'og_mems_recoverable', '%.1f')} / "
                    f"{f(b, 'og_mems_recoverable_sound', '%.1f')} |")
    return "\n".join(lines)


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
    s = sub.add_parser("lmin0-summary")
    s.add_argument("data")
    s.add_argument("--generator", default=None)
    s = sub.add_parser("logl0")
    s.add_argument("data")
    s.add_argument("prefix")
    s = sub.add_parser("logl0-table")
    s.add_argument("data")
    s = sub.add_parser("report")
    s.add_argument("dir")
    for name in ("lmin0-claims", "akem-claims", "fig1-table", "akem-table"):
        s = sub.add_parser(name)
        s.add_argument("data")
    a = ap.parse_args(argv)
    if a.cmd == "fig1":
        plot_fig1(a.data, a.png)
    elif a.cmd == "akem":
        plot_akem(a.data, a.png)
    elif a.cmd == "lmin0":
        plot_lmin0(a.data, a.png, a.generator, a.seed)
    elif a.cmd == "lmin0-summary":
        print(lmin0_markdown(a.data, a.generator))
    elif a.cmd == "logl0":
        plot_logl0(a.data, a.prefix)
    elif a.cmd == "logl0-table":
        print(logl0_markdown(a.data))
    elif a.cmd == "report":
        print(report(a.dir))
    elif a.cmd == "lmin0-claims":
        print(lmin0_claims_markdown(a.data))
    elif a.cmd == "akem-claims":
        print(akem_claims_markdown(a.data))
    elif a.cmd == "fig1-table":
        print(fig1_markdown(a.data))
    elif a.cmd == "akem-table":
        print(akem_markdown(a.data))
    return 0


def _main_one_line_errors(argv=None):
    """main() for the command line: an error is one line on stderr and exit status 1 (the
    denseam CLI shows that line), not a traceback."""
    try:
        return main(argv)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - reported in one line
        print(f"plots.py: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(_main_one_line_errors())
