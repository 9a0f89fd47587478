# SPDX-License-Identifier: MIT
"""Exact LSR retrieval through the range index, beside the brute-force path and scikit-learn.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/bench_range.py [--quick]
        [--memories M] [--queries B] [--dim d] [--beta b] [--reps 3] [--threads N]
        [--no-sklearn] [--json out.json]

(build/<preset>/python of any preset that built the target _denseam.)

Workload (P4): M = 1,000,000 memories uniform in [0,1)^8 and B = 1,000 queries uniform in
[0,1)^8 (NumPy default_rng(0), float64), beta = 40 (R = sqrt(2/40) = 0.2236, about 25 memories
in reach of a point away from the faces). `--quick`: M = 100,000, B = 200 (a smoke size).

(1) denseam.retrieve(..., kernel="lsr", method="fixed-point", index="auto"): the exact fixed
    point x <- mean{xi : ||x - xi|| < R} until the support set repeats; the index is built
    inside the call, so its build is in the time. --reps runs, median reported; the explicit
    kinds "kdtree" and "ball" once each, to show what "auto" compares with. The result does not
    say which index answered: denseam.range_search(index="auto") on the same arrays says what
    its automatic choice is, and a one-query range_search with each kind times its build.
(2) The same call with index="brute" (double GEMM support sets, or a scan), once.
(3) sklearn.cluster.MeanShift(bandwidth=R, seeds=queries, bin_seeding=False, n_jobs=N,
    max_iter=300).fit(memories), once. Its flat kernel iterates the same map from each seed,
    with three differences (scikit-learn 1.2, sklearn/cluster/_mean_shift.py): the neighbourhood
    is ||x - xi|| <= R (radius_neighbors includes the boundary; denseam excludes it), it stops
    when the mean moves by less than 1e-3 R (not when the set repeats), and the fit then keeps
    only the distinct end points, merges those closer than R (keeping the one with more points
    in reach) and labels every memory by its nearest centre (part of the fit; timed apart here
    and reported). Seeds with no memory within R are dropped.
Correctness in the same run: the index paths' states, statuses, step counts and support sets
are compared bit for bit with the brute path's; MeanShift's cluster_centers_ are matched
against the distinct converged denseam states (within 1e-6), and for a sample of queries
scikit-learn's own per-seed loop (the private helper MeanShift.fit calls) gives the end point
each query would reach before merging, compared with denseam's.
Times are wall-clock (time.perf_counter); the machine and its load are printed.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time


def machine():
    model, flags = "?", ""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line
    except OSError:
        pass
    isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "SSE"
    return dict(cpu=model, cores=os.cpu_count(), isa=isa, load=os.getloadavg(),
                python=platform.python_version(),
                openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", ""))


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def same_result(a, b):
    """Bitwise equality of two retrieval results (states, statuses, steps, support sets)."""
    import numpy as np
    return bool(np.array_equal(a.states, b.states) and np.array_equal(a.status, b.status)
                and np.array_equal(a.steps, b.steps)
                and np.array_equal(a.support_offsets, b.support_offsets)
                and np.array_equal(a.support_indices, b.support_indices))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="M = 100,000, B = 200 (smoke size)")
    p.add_argument("--memories", type=int, help="M (default 1,000,000; --quick 100,000)")
    p.add_argument("--queries", type=int, help="B (default 1,000; --quick 200)")
    p.add_argument("--dim", type=int, default=8)
    p.add_argument("--beta", type=float, default=40.0)
    p.add_argument("--reps", type=int, default=3, help="runs of the auto path (median)")
    p.add_argument("--threads", type=int, default=2, help="denseam threads = sklearn n_jobs")
    p.add_argument("--sample", type=int, default=100,
                   help="queries followed through scikit-learn's per-seed loop (0: none)")
    p.add_argument("--no-sklearn", action="store_true", help="skip MeanShift")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args(argv)
    n_mem = a.memories or (100_000 if a.quick else 1_000_000)
    n_q = a.queries or (200 if a.quick else 1_000)

    import numpy as np

    import denseam

    m = machine()
    radius = float(np.sqrt(2.0 / a.beta))
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['isa']}, load {m['load'][0]:.2f}; "
          f"denseam {denseam.__version__}, {a.threads} threads", flush=True)
    rng = np.random.default_rng(0)
    X = rng.random((n_mem, a.dim))
    Q = rng.random((n_q, a.dim))
    print(f"M = {n_mem:,} memories, B = {n_q:,} queries, uniform [0,1)^{a.dim}, float64; "
          f"beta = {a.beta:g}, R = {radius:.4f}", flush=True)
    res = dict(machine=m, memories=n_mem, queries=n_q, dim=a.dim, beta=a.beta, radius=radius,
               threads=a.threads)

    def retrieve(index):
        return denseam.retrieve(X, Q, kernel="lsr", beta=a.beta, method="fixed-point",
                                index=index, n_threads=a.threads)

    auto_runs = []
    r_auto = None
    for _ in range(a.reps):
        r_auto, t = timed(lambda: retrieve("auto"))
        auto_runs.append(t)
    t_auto = statistics.median(auto_runs)
    counts = r_auto.status_counts()
    sizes = np.diff(r_auto.support_offsets)
    conv = np.asarray(r_auto.converged)
    print(f"denseam index='auto': {t_auto:.3f} s median of {a.reps} "
          f"({', '.join(f'{t:.3f}' for t in auto_runs)}); statuses {counts}; steps mean "
          f"{r_auto.steps.mean():.2f}; final support size mean {sizes[conv].mean():.1f} "
          f"(converged queries)", flush=True)
    res["auto"] = dict(seconds=t_auto, runs=auto_runs, statuses=counts,
                       mean_steps=float(r_auto.steps.mean()),
                       mean_final_support=float(sizes[conv].mean()) if conv.any() else 0.0)

    # The retrieval does not report its index; range_search does (with its own automatic
    # choice, which the retrieval's refines by probing a few queries), and a one-query search
    # with an explicit kind costs about that index's build.
    if hasattr(denseam, "range_search"):
        used = denseam.range_search(X, Q, radius, index="auto", n_threads=a.threads)[3]
        builds = {}
        for kind in ("kdtree", "ball"):
            _, builds[kind] = timed(lambda: denseam.range_search(X, Q[:1], radius, index=kind,
                                                                 n_threads=a.threads))
        print(f"range_search(index='auto') at this shape uses '{used}'; index build (a "
              f"one-query range_search): kdtree {builds['kdtree']:.3f} s, ball "
              f"{builds['ball']:.3f} s", flush=True)
        res["range_search_auto_uses"] = used
        res["build_seconds"] = builds

    kinds = {}
    for kind in ("kdtree", "ball"):
        r, t = timed(lambda: retrieve(kind))
        kinds[kind] = (r, t)
        print(f"denseam index='{kind}': {t:.3f} s (once)", flush=True)
        res[kind] = dict(seconds=t)
    r_brute, t_brute = timed(lambda: retrieve("brute"))
    print(f"denseam index='brute': {t_brute:.3f} s (once)", flush=True)
    res["brute"] = dict(seconds=t_brute)

    identical = {"auto": same_result(r_auto, r_brute)}
    identical.update({k: same_result(r, r_brute) for k, (r, _) in kinds.items()})
    print("bitwise identical to the brute path (states, statuses, steps, support sets): "
          + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in identical.items()), flush=True)
    res["identical_to_brute"] = identical

    if not a.no_sklearn:
        from sklearn.cluster import MeanShift
        from sklearn.neighbors import NearestNeighbors

        ms = MeanShift(bandwidth=radius, seeds=Q, bin_seeding=False, n_jobs=a.threads,
                       max_iter=300)
        _, t_ms = timed(lambda: ms.fit(X))
        centers = ms.cluster_centers_
        # The label assignment MeanShift.fit ends with (every memory to its nearest centre),
        # measured alone so that the seeds' iterations can be compared on their own.
        _, t_lab = timed(lambda: NearestNeighbors(n_neighbors=1, n_jobs=a.threads)
                         .fit(centers).kneighbors(X))
        states = r_auto.states[conv]
        distinct = np.unique(states, axis=0)
        near = NearestNeighbors(n_neighbors=1).fit(distinct)
        dist, _ = near.kneighbors(centers)
        matched = int((dist[:, 0] < 1e-6).sum())
        dist_q, _ = NearestNeighbors(n_neighbors=1).fit(centers).kneighbors(states)
        q_on_centre = int((dist_q[:, 0] < 1e-6).sum())
        print(f"sklearn MeanShift(bandwidth=R, seeds=queries, n_jobs={a.threads}): {t_ms:.3f} s "
              f"(once; n_iter_ {ms.n_iter_}); its final labelling of the {n_mem:,} memories "
              f"alone {t_lab:.3f} s, so the seeds' iterations + merging ~ {t_ms - t_lab:.3f} s",
              flush=True)
        print(f"  {len(centers)} cluster centres (after merging) vs {len(distinct)} distinct "
              f"converged denseam states: {matched} centres within 1e-6 of a denseam state; "
              f"{q_on_centre} of {len(states)} converged queries end on a centre", flush=True)
        res["sklearn"] = dict(seconds=t_ms, label_seconds=t_lab, n_iter=int(ms.n_iter_),
                              centers=len(centers), distinct_denseam_states=len(distinct),
                              centers_matching_denseam=matched,
                              converged_queries_on_a_centre=q_on_centre)
        try:
            from sklearn.cluster._mean_shift import _mean_shift_single_seed
        except ImportError:
            _mean_shift_single_seed = None
        if a.sample > 0 and _mean_shift_single_seed is not None:
            nbrs = NearestNeighbors(radius=radius, n_jobs=1).fit(X)
            pick = np.linspace(0, n_q - 1, min(a.sample, n_q)).astype(int)
            same = dropped = 0
            for i in pick:
                mean, n_in, _ = _mean_shift_single_seed(Q[i], X, nbrs, 300)
                if n_in == 0:
                    dropped += int(not conv[i])
                    continue
                same += int(conv[i] and np.max(np.abs(np.asarray(mean) - r_auto.states[i]))
                            < 1e-6)
            print(f"  per-query sample ({len(pick)} queries through scikit-learn's per-seed "
                  f"loop, before merging): {same} end at denseam's state (within 1e-6), "
                  f"{dropped} out of reach in both", flush=True)
            res["sklearn"]["sample"] = dict(queries=len(pick), same_end=same,
                                            out_of_reach_both=dropped)

    print("\n| path | seconds | ratio to auto |")
    print("|---|---|---|")
    rows = [("denseam index='auto' (median)", t_auto), ("denseam index='kdtree'",
            res["kdtree"]["seconds"]), ("denseam index='ball'", res["ball"]["seconds"]),
            ("denseam index='brute'", t_brute)]
    if "sklearn" in res:
        rows.append(("sklearn MeanShift fit", res["sklearn"]["seconds"]))
    for name, t in rows:
        print(f"| {name} | {t:.3f} | {t / t_auto:.2f} |")
    res["ratio_brute_to_auto"] = t_brute / t_auto
    line = f"ratios: brute / index (auto) = {t_brute / t_auto:.1f}"
    if "sklearn" in res:
        sk = res["sklearn"]
        res["ratio_sklearn_to_auto"] = sk["seconds"] / t_auto
        res["ratio_sklearn_iterations_to_auto"] = (sk["seconds"] - sk["label_seconds"]) / t_auto
        line += (f", sklearn MeanShift / index (auto) = {sk['seconds'] / t_auto:.1f} "
                 f"({res['ratio_sklearn_iterations_to_auto']:.1f} without its final labelling)")
    print(line)
    res["load_after"] = os.getloadavg()
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
