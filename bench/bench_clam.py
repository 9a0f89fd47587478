# SPDX-License-Identifier: MIT
"""ClAM on Fashion-MNIST (60,000 x 784, standardised), beside scikit-learn's k-means, same run.

    PYTHONPATH=build/release/python /usr/bin/python3 bench/bench_clam.py [--threads N]
        [--kernels lse,lsr] [--no-full] [--json out.json]

(build/<preset>/python of any preset that built the target _denseam.)

(1) One epoch: denseam.ClAM(n_clusters=10, kernel, steps=10, epochs=1, tol=0, random_state=0)
    .fit(X) with the other defaults (batch 64, alpha 0.1, mask 0.2, automatic beta); its time
    includes the k-means++ start and the final assignment (T unmasked steps from every point,
    then the nearest prototype), which is also timed alone (predict on X) and subtracted for
    the epoch alone. Baseline: sklearn KMeans(n_clusters=10, n_init=1, random_state=0).fit(X)
    (k-means++ start, Lloyd to convergence), on the same array in the same process.
(2) A full fit with the defaults (up to 100 epochs, early stopping tol 1e-4, patience 5): time,
    epochs, and silhouette (fixed 10,000-point sample), NMI and ARI beside the k-means fit's.
Times are wall-clock (time.perf_counter), one run each; the machine and its load are printed.
"""
import argparse
import json
import os
import platform
import sys
import time


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        flags = next((line for line in f if line.startswith("flags")), "")
    isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "SSE"
    return dict(cpu=model, cores=os.cpu_count(), isa=isa, load=os.getloadavg(),
                python=platform.python_version(),
                openblas_coretype=os.environ.get("OPENBLAS_CORETYPE", ""))


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=0, help="threads (0: all cores)")
    p.add_argument("--kernels", default="lse,lsr")
    p.add_argument("--no-full", action="store_true", help="skip the full fits")
    p.add_argument("--json", help="write the results here")
    a = p.parse_args(argv)

    import numpy as np
    from sklearn import metrics
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    import denseam

    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['isa']}, load "
          f"{m['load'][0]:.2f}, OPENBLAS_CORETYPE={m['openblas_coretype'] or '(unset)'}; "
          f"denseam {denseam.__version__}, threads {a.threads or 'all'}", flush=True)
    limits = threadpool_limits(limits=a.threads) if a.threads > 0 else None
    (X, y), t_load = timed(lambda: denseam.load_dataset("fashion-mnist"))
    X = np.ascontiguousarray(StandardScaler().fit_transform(X))
    n, d = X.shape
    print(f"Fashion-MNIST train {n} x {d}, standardised (loaded in {t_load:.1f} s)", flush=True)
    sample = np.sort(np.random.default_rng(0).choice(n, 10000, replace=False))

    def quality(labels):
        return dict(silhouette=float(metrics.silhouette_score(X[sample], labels[sample])),
                    nmi=float(metrics.normalized_mutual_info_score(y, labels)),
                    ari=float(metrics.adjusted_rand_score(y, labels)))

    res = dict(machine=m, n=n, d=d, k=10, steps=10, threads=a.threads)
    km, t_km = timed(lambda: KMeans(n_clusters=10, n_init=1, random_state=0).fit(X))
    res["kmeans"] = dict(seconds=t_km, n_iter=int(km.n_iter_), **quality(km.labels_))
    print(f"sklearn KMeans(n_init=1): {t_km:.2f} s ({km.n_iter_} Lloyd iterations)", flush=True)

    for kernel in a.kernels.split(","):
        model = denseam.ClAM(n_clusters=10, kernel=kernel, steps=10, epochs=1, tol=0.0,
                             random_state=0, n_threads=a.threads)
        _, t_fit = timed(lambda: model.fit(X))
        _, t_assign = timed(lambda: model.predict(X))
        epoch = t_fit - t_assign
        r = dict(fit_1_epoch_seconds=t_fit, assign_seconds=t_assign, epoch_seconds=epoch,
                 ratio_epoch_to_kmeans=epoch / t_km, beta=model.beta_)
        print(f"ClAM-{kernel.upper()} 1 epoch: fit {t_fit:.2f} s = epoch {epoch:.2f} s + "
              f"assignment {t_assign:.2f} s; epoch / KMeans = {epoch / t_km:.2f}", flush=True)
        if not a.no_full:
            full = denseam.ClAM(n_clusters=10, kernel=kernel, random_state=0,
                                n_threads=a.threads)
            _, t_full = timed(lambda: full.fit(X))
            q = quality(np.asarray(full.labels_))
            r["full"] = dict(seconds=t_full, epochs=int(full.n_iter_), beta=full.beta_, **q)
            print(f"ClAM-{kernel.upper()} full fit (defaults, early stopping): {t_full:.1f} s, "
                  f"{full.n_iter_} epochs; silhouette {q['silhouette']:.4f} NMI {q['nmi']:.4f} "
                  f"ARI {q['ari']:.4f}", flush=True)
        res[f"clam_{kernel}"] = r
    q = res["kmeans"]
    print(f"KMeans(n_init=1) quality: silhouette {q['silhouette']:.4f} NMI {q['nmi']:.4f} "
          f"ARI {q['ari']:.4f}")
    res["load_after"] = os.getloadavg()
    if limits is not None:
        limits.restore_original_limits()
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
