# SPDX-License-Identifier: MIT
"""Strong scaling of the MPI-sharded memory (denseam ... --distributed) from 1 to 2 ranks.

    /usr/bin/python3 bench/bench_dist.py [--bin build/release/bin/denseam] [--quick]
        [--memories 200000] [--queries 4096] [--dim 784] [--reps 1] [--keep DIR]

Needs mpirun (OpenMPI) and a denseam built with MPI. Two workloads, each timed in the same run as
the single-process command it must match:
(1) energy + gradient: M = 200,000 memories and B = 4,096 queries in d = 784, float32, uniform in
    [0,1) (NumPy default_rng(0)), LSE at beta = 0.01 (a kernel that involves every memory, the
    worst case for communication). Runs: the single-process `denseam energy` with 1 and 2
    threads; `mpirun -np 1` and `-np 2` with one thread per rank (--threads 1). The energies
    and gradients of every run are compared with the single-process ones.
(2) exact LSR minima: M = 100,000 patterns uniform in [0,1)^4, beta = 2,000 (about a million
    candidate supports), basin radii included; same four runs; the minima (supports, positions)
    are compared with the single-process ones.
(3) exact LSR fixed point (P4 of the range index): M = 1,000,000 memories and B = 1,000 queries
    uniform in [0,1)^8 (float64), beta = 40: the single process, then 1 and 2 ranks with
    --partition rows and cells (2 threads in all); the summary's requests against
    requests_broadcast show how many query-rank contacts the bounding boxes saved; states and
    support sets are compared with the single process.
Reported per run: the command's own compute time ("seconds" of its summary: after the inputs are
read), the wall time of the whole command (process and MPI start, reading included), and for the
distributed runs the payload bytes the ranks sent each other, in all and per step (a step: one
exchange of a batch of queries' sums and results; --batch 4096 gives one step).
`--quick`: M = 20,000, d = 64 and M = 20,000 minima patterns (a smoke size).
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def run(cmd, env):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return json.loads(p.stdout), wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.environ.get("DENSEAM_BIN", "build/release/bin/denseam"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--memories", type=int, default=200_000)
    ap.add_argument("--queries", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=784)
    ap.add_argument("--minima-patterns", type=int, default=100_000)
    ap.add_argument("--minima-beta", type=float, default=2000.0)
    ap.add_argument("--p4-memories", type=int, default=1_000_000)
    ap.add_argument("--keep", help="write the data here (default: a temporary folder)")
    args = ap.parse_args()
    if args.quick:
        args.memories, args.dim, args.minima_patterns = 20_000, 64, 20_000
        args.p4_memories = 100_000
    if shutil.which("mpirun") is None:
        sys.exit("mpirun not found (apt-get install openmpi-bin libopenmpi-dev)")
    binary = os.path.abspath(args.bin)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    mpirun = ["mpirun", "--oversubscribe", "--bind-to", "none"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    work = args.keep or tempfile.mkdtemp(prefix="denseam_bench_dist_")
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(0)
    mem = os.path.join(work, "memories.npy")
    qry = os.path.join(work, "queries.npy")
    np.save(mem, rng.random((args.memories, args.dim), dtype=np.float32))
    np.save(qry, rng.random((args.queries, args.dim), dtype=np.float32))
    pts = os.path.join(work, "patterns.npy")
    np.save(pts, rng.random((args.minima_patterns, 4)))

    def energy_cmd(tag, threads, ranks=None):
        out = [os.path.join(work, f"e_{tag}.npy"), os.path.join(work, f"g_{tag}.npy")]
        cmd = [binary, "energy", "-m", mem, "-q", qry, "-k", "lse", "-b", "0.01",
               "-o", out[0], "-g", out[1], "--threads", str(threads)]
        if ranks is not None:
            cmd = mpirun + ["-np", str(ranks)] + cmd + ["--distributed"]
        return cmd, out

    def minima_cmd(tag, threads, ranks=None):
        out = [os.path.join(work, f"m_{tag}.npy"), os.path.join(work, f"s_{tag}.json")]
        cmd = [binary, "minima", "-m", pts, "-k", "lsr", "-b", str(args.minima_beta),
               "-o", out[0], "--supports", out[1], "--threads", str(threads)]
        if ranks is not None:
            cmd = mpirun + ["-np", str(ranks)] + cmd + ["--distributed"]
        return cmd, out

    runs = [("1 process, 1 thread", "p1t1", 1, None), ("1 process, 2 threads", "p1t2", 2, None),
            ("mpirun -np 1 (1 thread)", "r1", 1, 1), ("mpirun -np 2 (1 thread each)", "r2", 1, 2)]
    for title, make, check in (
            (f"energy + gradient: M = {args.memories}, B = {args.queries}, d = {args.dim}, "
             "float32, lse beta 0.01", energy_cmd, "energy"),
            (f"exact LSR minima: M = {args.minima_patterns} in [0,1)^4, beta = "
             f"{args.minima_beta:g}", minima_cmd, "minima")):
        print(f"\n== {title}")
        print(f"{'run':32s} {'compute s':>10s} {'wall s':>8s} {'vs 1 rank':>10s} "
              f"{'bytes sent':>12s} {'per step':>12s}")
        base, ref = None, None
        for name, tag, threads, ranks in runs:
            cmd, out = make(tag, threads, ranks)
            j, wall = run(cmd, env)
            secs = j["seconds"]
            if tag == "r1":
                base = secs
            d = j.get("distributed", {})
            steps = max(1, d.get("batches", 1))
            sent = d.get("bytes_sent")
            ratio = f"{base / secs:9.2f}x" if base and ranks else ""
            print(f"{name:32s} {secs:10.2f} {wall:8.2f} {ratio:>10s} "
                  f"{sent if sent is not None else '':>12} "
                  f"{sent // steps if sent is not None else '':>12}")
            if check == "energy":
                e, g = np.load(out[0]), np.load(out[1])
                if ref is None:
                    ref = (e, g)
                else:
                    de = np.max(np.abs(e - ref[0]) / np.maximum(np.abs(ref[0]), 1e-30))
                    dg = np.max(np.abs(g - ref[1])) / max(np.max(np.abs(ref[1])), 1e-30)
                    print(f"{'':32s} vs single process: energy rel {de:.1e}, gradient {dg:.1e}")
            else:
                pos, sup = np.load(out[0]), json.load(open(out[1]))
                if ref is None:
                    ref = (pos, sup)
                    print(f"{'':32s} {j['stored']} stored + {j['emergent']} emergent minima, "
                          f"{j['candidates']} candidates")
                else:
                    same = sup == ref[1] and pos.shape == ref[0].shape
                    dp = np.max(np.abs(pos - ref[0])) if same and pos.size else 0.0
                    print(f"{'':32s} vs single process: supports "
                          f"{'identical' if same else 'DIFFERENT'}, positions {dp:.1e}")
    # (3) the exact LSR fixed point, rows against cells.
    p4m, p4q = os.path.join(work, "p4_memories.npy"), os.path.join(work, "p4_queries.npy")
    rng = np.random.default_rng(0)
    np.save(p4m, rng.random((args.p4_memories, 8)))
    np.save(p4q, rng.random((1000, 8)))
    print(f"\n== exact LSR fixed point: M = {args.p4_memories} and B = 1000 in [0,1)^8, "
          "beta = 40")
    print(f"{'run':32s} {'compute s':>10s} {'wall s':>8s} {'requests':>10s} {'of':>8s} "
          f"{'bytes sent':>12s}")
    ref = None
    for name, tag, ranks, part in (("1 process, 2 threads", "p", None, None),
                                   ("mpirun -np 1, rows", "r1", 1, "rows"),
                                   ("mpirun -np 2, rows", "r2", 2, "rows"),
                                   ("mpirun -np 1, cells", "c1", 1, "cells"),
                                   ("mpirun -np 2, cells", "c2", 2, "cells")):
        out = [os.path.join(work, f"x_{tag}.npy"), os.path.join(work, f"s_{tag}.json")]
        cmd = [binary, "retrieve", "-m", p4m, "-q", p4q, "-k", "lsr", "-b", "40",
               "--method", "fixed-point", "-o", out[0], "--supports", out[1],
               "--threads", str(2 // (ranks or 1))]
        if ranks is not None:
            cmd = mpirun + ["-np", str(ranks)] + cmd + ["--distributed", "--partition", part]
        j, wall = run(cmd, env)
        d = j.get("distributed", {})
        print(f"{name:32s} {j['seconds']:10.2f} {wall:8.2f} {d.get('requests', ''):>10} "
              f"{d.get('requests_broadcast', ''):>8} {d.get('bytes_sent', ''):>12}")
        x, sup = np.load(out[0]), json.load(open(out[1]))
        if ref is None:
            ref = (x, sup)
        else:
            print(f"{'':32s} vs single process: supports "
                  f"{'identical' if sup == ref[1] else 'DIFFERENT'}, states "
                  f"{np.max(np.abs(x - ref[0])):.1e}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
