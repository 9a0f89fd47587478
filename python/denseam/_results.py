# SPDX-License-Identifier: MIT
"""Readers of denseam's experiment output, shared by plots.py (figures) and report.py (Markdown),
and their command-line entry point (run_main).

Pure Python (json + NumPy): it does not need the compiled module. Both scripts import it as
`denseam._results` inside the package and as `_results` when they run as scripts from this folder.
"""
import json
import math
import sys
from collections import defaultdict


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def read_jsonl(path):
    """The JSON lines of `path` (blank lines skipped)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def run_main(main, script, argv=None):
    """main(argv) for the command line: an error is one line on stderr ("<script>: error: ...")
    and exit status 1 (the denseam CLI shows that line), not a traceback."""
    try:
        return main(argv)
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - reported in one line
        print(f"{script}: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


# ---- AKEM ------------------------------------------------------------------------------------

def akem_cell(p):
    """One AKEM panel in a few characters: near-pattern + emergent strict minima, `!` global
    emergence, `=L` flat minima and `~L` flat non-minima of total length L."""
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


# ---- LMIN0 -----------------------------------------------------------------------------------

def lmin0_groups(rows, generator=None):
    """(generator, {(M, d): {seed: [rows sorted by beta]}}) for one generator (default: the
    reference generator when present, else the first by name)."""
    if generator is None:
        gens = {r.get("generator", "reference") for r in rows}
        generator = "reference" if "reference" in gens or not gens else sorted(gens)[0]
    g = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r.get("generator", "reference") != generator:
            continue
        g[(r["M"], r["d"])][r["seed"]].append(r)
    for per_seed in g.values():
        for seed in per_seed:
            per_seed[seed].sort(key=lambda r: r["beta"])
    return generator, g


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
