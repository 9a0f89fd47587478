// SPDX-License-Identifier: MIT
// Exact LSR minima: timings beside a brute-force baseline measured in the same run.
//
//   (i)  LMIN0 sweep: one pattern set M=25, d=32 (uniform [0,1)^32, fixed seed), 50 betas linear
//        over [2/d, 8/r_min^2] (paper.md 2.2/3.2). denseam: one Gray-code pass for all betas
//        (count_lsr_minima_at) and the full count-versus-beta curve (lsr_minima_curve).
//        Baseline: the brute-force 2^M double oracle (per beta: every subset, its centroid,
//        its distances to all M patterns), on --oracle-betas of the 50 betas (spread over the
//        grid; "all" for every one), extrapolated to 50 betas; counts must agree.
//   (ii) M=1000 uniform in [0,1)^8 at beta = 15: exact enumeration (clique strategy).
//
// Usage: bench_minima [--oracle-betas K|all] [--threads T] [--skip-lmin0] [--skip-clique]
//                     [--M m] [--d d] [--seed s]
// Plain main (not Google Benchmark): each workload runs once and is long enough to time.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "denseam/minima.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::vector<double> uniform(std::int64_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> v(static_cast<std::size_t>(n));
    for (auto& e : v) e = u(rng);
    return v;
}

// Brute force at one beta: every subset (Gray order only to form the centroid sum in O(d);
// the test itself is the naive O(M d) one). Returns (stored, emergent).
std::pair<std::int64_t, std::int64_t> oracle_counts(
    const std::vector<double>& x, int M, int d, double beta, int threads) {
    const double r2 = 2.0 / beta;
    const std::uint64_t total = std::uint64_t{1} << M;
    const std::uint64_t block = std::uint64_t{1} << 16;
    const std::int64_t n_blocks = static_cast<std::int64_t>((total + block - 1) / block);
    std::int64_t stored = 0, emergent = 0;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1) reduction(+ : stored, emergent)
    for (std::int64_t b = 0; b < n_blocks; ++b) {
        std::vector<double> sum(d), c(d);
        const std::uint64_t lo = std::max<std::uint64_t>(1, b * block);
        const std::uint64_t hi = std::min<std::uint64_t>(total, (b + 1) * block);
        std::uint64_t mask = lo ^ (lo >> 1);
        int k = 0;
        for (int m = 0; m < M; ++m)
            if ((mask >> m) & 1u) {
                ++k;
                for (int j = 0; j < d; ++j) sum[j] += x[m * d + j];
            }
        for (std::uint64_t i = lo; i < hi; ++i) {
            if (i > lo) {
                const int flip = __builtin_ctzll(i);
                const bool add = !((mask >> flip) & 1u);
                mask ^= std::uint64_t{1} << flip;
                k += add ? 1 : -1;
                for (int j = 0; j < d; ++j) sum[j] += add ? x[flip * d + j] : -x[flip * d + j];
            }
            for (int j = 0; j < d; ++j) c[j] = sum[j] / k;
            bool ok = true;
            for (int m = 0; m < M; ++m) {
                double s = 0;
                for (int j = 0; j < d; ++j) s += (c[j] - x[m * d + j]) * (c[j] - x[m * d + j]);
                const bool member = (mask >> m) & 1u;
                ok = ok && (member ? s < r2 : s > r2);
            }
            if (ok) (k == 1 ? stored : emergent) += 1;
        }
    }
    return {stored, emergent};
}

void bench_lmin0(int M, int d, std::uint64_t seed, int oracle_betas, int threads) {
    const auto x = uniform(std::int64_t{M} * d, seed);
    const auto view = denseam::make_matrix_view(x.data(), M, d);
    double rmin2 = 1e300;
    for (int a = 0; a < M; ++a)
        for (int b = a + 1; b < M; ++b) {
            double s = 0;
            for (int j = 0; j < d; ++j)
                s += (x[a * d + j] - x[b * d + j]) * (x[a * d + j] - x[b * d + j]);
            if (s > 0) rmin2 = std::min(rmin2, s);
        }
    const int nb = 50;
    const double b0 = 2.0 / d, b1 = 8.0 / rmin2;
    std::vector<double> betas(nb);
    for (int i = 0; i < nb; ++i) betas[i] = b0 + (b1 - b0) * i / (nb - 1);
    denseam::exec_options ex;
    ex.n_threads = threads;

    std::printf(
        "== (i) LMIN0 sweep: M=%d d=%d seed=%llu, %d betas linear over [%.6g, %.6g], "
        "%d threads\n",
        M,
        d,
        static_cast<unsigned long long>(seed),
        nb,
        b0,
        b1,
        threads);
    double t = now();
    const auto counts = denseam::count_lsr_minima_at(view, betas, {}, ex);
    const double t_counts = now() - t;
    t = now();
    const auto curve = denseam::lsr_minima_curve(view, {}, ex);
    const double t_curve = now() - t;
    std::int64_t max_total = 0, sum_total = 0;
    for (int i = 0; i < nb; ++i) {
        max_total = std::max(max_total, counts.stored[i] + counts.emergent[i]);
        sum_total += counts.stored[i] + counts.emergent[i];
    }
    std::printf(
        "denseam count_lsr_minima_at (50 betas, one pass): %.3f s, candidates %lld "
        "(subsets), strategy %s; minima summed over betas %lld, max %lld\n",
        t_counts,
        static_cast<long long>(counts.candidates),
        counts.strategy_used.c_str(),
        static_cast<long long>(sum_total),
        static_cast<long long>(max_total));
    std::printf("denseam lsr_minima_curve (every breakpoint): %.3f s, %zu breakpoints\n",
                t_curve,
                curve.breakpoints.size());
    // The curve must agree with the per-beta counts.
    int curve_mismatch = 0;
    for (int i = 0; i < nb; ++i) {
        const auto k = curve.interval(betas[i]);
        const bool on_bp = k < curve.breakpoints.size() && curve.breakpoints[k] == betas[i];
        // A beta within rounding of a breakpoint (beta_max = 8/r_min^2 is one: the closest
        // pair's balls are tangent there) is a degenerate case the curve does not resolve.
        const bool near_bp = [&] {
            for (std::size_t b = (k > 0 ? k - 1 : 0); b < std::min(curve.breakpoints.size(), k + 1);
                 ++b)
                if (std::abs(curve.breakpoints[b] - betas[i]) <= 1e-9 * betas[i]) return true;
            return false;
        }();
        if (!on_bp && !near_bp &&
            (curve.stored[k] != counts.stored[i] || curve.emergent[k] != counts.emergent[i])) {
            ++curve_mismatch;
            std::printf("  mismatch at beta_idx %d beta %.17g: curve %lld+%lld, counts %lld+%lld\n",
                        i,
                        betas[i],
                        static_cast<long long>(curve.stored[k]),
                        static_cast<long long>(curve.emergent[k]),
                        static_cast<long long>(counts.stored[i]),
                        static_cast<long long>(counts.emergent[i]));
        }
    }
    std::printf("curve vs per-beta counts: %d mismatches\n", curve_mismatch);

    // Oracle betas: the one with the most minima, then evenly spread ones.
    std::vector<int> idx;
    if (oracle_betas >= nb) {
        for (int i = 0; i < nb; ++i) idx.push_back(i);
    } else if (oracle_betas > 0) {
        int arg = 0;
        for (int i = 1; i < nb; ++i)
            if (counts.stored[i] + counts.emergent[i] > counts.stored[arg] + counts.emergent[arg])
                arg = i;
        idx.push_back(arg);
        for (int i = 0; static_cast<int>(idx.size()) < oracle_betas && i < oracle_betas; ++i) {
            const int k = (2 * i + 1) * nb / (2 * (oracle_betas - 1 > 0 ? oracle_betas - 1 : 1));
            if (k < nb && std::find(idx.begin(), idx.end(), k) == idx.end()) idx.push_back(k);
        }
        std::sort(idx.begin(), idx.end());
    }
    double t_oracle = 0;
    int mismatches = 0;
    std::printf("beta_idx       beta   stored emergent  | oracle stored emergent   time\n");
    for (int i : idx) {
        t = now();
        const auto [st, em] = oracle_counts(x, M, d, betas[i], threads);
        const double dt = now() - t;
        t_oracle += dt;
        mismatches += (st != counts.stored[i] || em != counts.emergent[i]);
        std::printf("%8d %10.5f %8lld %8lld  | %13lld %8lld %6.2f s\n",
                    i,
                    betas[i],
                    static_cast<long long>(counts.stored[i]),
                    static_cast<long long>(counts.emergent[i]),
                    static_cast<long long>(st),
                    static_cast<long long>(em),
                    dt);
    }
    if (idx.empty()) return;
    const double per_beta = t_oracle / static_cast<double>(idx.size());
    std::printf(
        "brute-force oracle: %.2f s per beta (%zu betas run, %lld subsets each), %d "
        "count mismatches; 50-beta sweep %s %.1f s\n",
        per_beta,
        idx.size(),
        static_cast<long long>((std::int64_t{1} << M) - 1),
        mismatches,
        idx.size() == static_cast<std::size_t>(nb) ? "measured" : "extrapolated",
        per_beta * nb);
    std::printf(
        "RESULT lmin0 M=%d d=%d: denseam %.3f s (curve %.3f s) vs brute force %.1f s: "
        "%.0fx faster\n",
        M,
        d,
        t_counts,
        t_curve,
        per_beta * nb,
        per_beta * nb / t_counts);
}

void bench_clique(int M, int d, double beta, std::uint64_t seed, int threads) {
    const auto x = uniform(std::int64_t{M} * d, seed);
    const auto view = denseam::make_matrix_view(x.data(), M, d);
    denseam::exec_options ex;
    ex.n_threads = threads;
    std::printf("== (ii) M=%d uniform in [0,1)^%d, beta=%g (R=%.4f), seed=%llu, %d threads\n",
                M,
                d,
                beta,
                std::sqrt(2.0 / beta),
                static_cast<unsigned long long>(seed),
                threads);
    for (bool basin : {false, true}) {
        denseam::minima_options o;
        o.basin_radius = basin;
        const double t = now();
        const auto r = denseam::find_lsr_minima(view, beta, 0.0, o, ex);
        const double dt = now() - t;
        std::printf(
            "find_lsr_minima (%s, basin radius %s): %.3f s, candidates %lld, stored %lld, "
            "emergent %lld, novel(0.1) %lld, status %s\n",
            r.strategy_used.c_str(),
            basin ? "on" : "off",
            dt,
            static_cast<long long>(r.candidates),
            static_cast<long long>(r.stored),
            static_cast<long long>(r.emergent),
            static_cast<long long>(r.novel),
            std::string(denseam::to_string(r.status)).c_str());
        if (basin)
            std::printf(
                "RESULT clique M=%d d=%d beta=%g: %.3f s, %lld candidates, %lld stored, "
                "%lld emergent\n",
                M,
                d,
                beta,
                dt,
                static_cast<long long>(r.candidates),
                static_cast<long long>(r.stored),
                static_cast<long long>(r.emergent));
    }
}

}  // namespace

int main(int argc, char** argv) {
    int oracle_betas = 3, threads = 2, M = 25, d = 32;
    std::uint64_t seed = 0;
    bool lmin0 = true, clique = true;
    int cM = 1000, cd = 8;
    double cbeta = 15.0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--oracle-betas") {
            const std::string v = next();
            oracle_betas = v == "all" ? 50 : std::atoi(v.c_str());
        } else if (a == "--threads") {
            threads = std::atoi(next().c_str());
        } else if (a == "--M") {
            M = std::atoi(next().c_str());
        } else if (a == "--d") {
            d = std::atoi(next().c_str());
        } else if (a == "--seed") {
            seed = std::strtoull(next().c_str(), nullptr, 10);
        } else if (a == "--clique-M") {
            cM = std::atoi(next().c_str());
        } else if (a == "--clique-d") {
            cd = std::atoi(next().c_str());
        } else if (a == "--clique-beta") {
            cbeta = std::atof(next().c_str());
        } else if (a == "--skip-lmin0") {
            lmin0 = false;
        } else if (a == "--skip-clique") {
            clique = false;
        } else {
            std::fprintf(stderr, "unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    if (lmin0) bench_lmin0(M, d, seed, oracle_betas, threads);
    if (clique) bench_clique(cM, cd, cbeta, seed, threads);
    return 0;
}
