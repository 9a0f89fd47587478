// SPDX-License-Identifier: MIT
// LOGL0 (paper.md 3.3): one run = one (pattern set, energy, beta) with k = 5, d = 8, M = 25,
// N = 500 shell queries per pattern (12,500 queries), depth 13,000 (the reference's settings;
// it takes 32-36 s per run on an H100). Times every beta of the 20-point grid of one pattern set
// (seed 3) for LSR (exact fixed point) and LSE (cosine-schedule gradient descent with early
// stopping at max|grad| < --tol; float32 gradient, float64 states, as `denseam logl0`), and
// reports per-run mean/max and the cost per query-step. Baseline (--baseline): LSE at the
// reference's fixed depth (tol = 0, no early stop) on --baseline-betas grid indices.
// --precision-double evaluates the LSE gradient in float64 instead.
//
// Usage: bench_logl0 [--k 5] [--d 8] [--M 25] [--N 500] [--seed 3] [--tol 1e-6]
//                    [--threads T] [--baseline] [--baseline-betas 10] [--precision-double]
// Plain main: each workload runs once and is long enough to time.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "denseam/experiments.hpp"
#include "denseam/retrieval.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t k = 5, d = 8, m = 25, n = 500;
    std::uint64_t seed = 3;
    double tol = 1e-6;
    int threads = 0;
    bool baseline = false, precision_double = false;
    std::vector<int> baseline_betas = {10};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_logl0: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--k")
            k = std::atoll(next());
        else if (a == "--d")
            d = std::atoll(next());
        else if (a == "--M")
            m = std::atoll(next());
        else if (a == "--N")
            n = std::atoll(next());
        else if (a == "--seed")
            seed = std::strtoull(next(), nullptr, 10);
        else if (a == "--tol")
            tol = std::atof(next());
        else if (a == "--threads")
            threads = std::atoi(next());
        else if (a == "--baseline")
            baseline = true;
        else if (a == "--precision-double")
            precision_double = true;
        else if (a == "--baseline-betas")
            baseline_betas = {std::atoi(next())};
        else {
            std::fprintf(stderr, "bench_logl0: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    const auto gmm = denseam::gaussian_mixture::random(k, d, 0.1, seed);
    const auto x = gmm.sample(m, denseam::logl0_pattern_seed(seed));
    const auto view = denseam::make_matrix_view<const double>(x.data(), m, d);
    const auto prec =
        precision_double ? denseam::gradient_precision::state : denseam::gradient_precision::single;
    denseam::exec_options ex;
    ex.n_threads = threads;
    std::printf("LOGL0 k=%lld d=%lld M=%lld N=%lld (%lld queries) seed=%llu, 20 betas, tol=%g\n",
                static_cast<long long>(k),
                static_cast<long long>(d),
                static_cast<long long>(m),
                static_cast<long long>(n),
                static_cast<long long>(m * n),
                static_cast<unsigned long long>(seed),
                tol);
    for (auto e : {denseam::kernel_kind::lsr, denseam::kernel_kind::lse}) {
        denseam::logl0_options o;
        o.energy = e;
        o.n_queries = n;
        o.query_seed = denseam::logl0_query_seed(seed);
        o.tol = tol;
        o.precision = prec;
        o.samples = false;
        const double t0 = now();
        const auto rows = denseam::run_logl0(view, gmm, o, ex);
        const double total = now() - t0;
        double mx = 0.0, steps = 0.0, seconds = 0.0;
        std::int64_t early = 0;
        for (const auto& r : rows) {
            mx = std::max(mx, r.seconds);
            steps += r.mean_steps;
            seconds += r.seconds;
            early += r.num_converged;
        }
        std::printf(
            "%s: 20 runs %.3f s, per run mean %.4f s, max %.4f s; mean steps %.1f, "
            "stopped early %.2f%%\n",
            e == denseam::kernel_kind::lsr ? "LSR (exact fixed point)"
                                           : "LSE (descent, early stop)",
            total,
            total / 20.0,
            mx,
            steps / 20.0,
            100.0 * static_cast<double>(early) / static_cast<double>(20 * m * n));
        if (e == denseam::kernel_kind::lse)
            std::printf("  %.1f ns per query-step (all 20 betas: %.3g query-steps)\n",
                        1e9 * seconds / (steps * static_cast<double>(m * n)),
                        steps * static_cast<double>(m * n));
        std::fflush(stdout);
    }
    if (baseline) {
        denseam::logl0_options o;
        o.energy = denseam::kernel_kind::lse;
        o.n_queries = n;
        o.query_seed = denseam::logl0_query_seed(seed);
        o.tol = 0.0;
        o.precision = prec;
        o.samples = false;
        o.only = baseline_betas;
        const auto rows = denseam::run_logl0(view, gmm, o, ex);
        std::printf("baseline LSE fixed depth 13000 (no early stop), beta index %d: %.3f s\n",
                    rows[0].beta_idx,
                    rows[0].seconds);
    }
    return 0;
}
