// SPDX-License-Identifier: MIT
// DrDAM (include/denseam/features.hpp): energies and gradients of B queries against a distributed
// memory of Y random features in dimension d, beside the same-shape SGEMMs that the evaluation
// performs, measured in the same process on the same threads (P = n_projections: Y/2 for
// fourier, Y for positive):
//   U = X S^T   B x P x d   the projections of the queries (all an energy needs)
//   G S         B x d x P   the gradient's product
// as two whole cblas_sgemm calls (OpenBLAS's threads), and as the evaluation's own tiles
// (B x 512 x d, then B x d x 512, per block of 512 projections, on denseam's team: its GEMM work
// alone). Rates count 2 B P d flops per product (4 B P d for an energy with its gradient).
// Also: regenerating all the projections alone, and the bytes each design holds (this memory,
// the reference's stored projection, explicit memories).
//
// The cases run interleaved (one of each per round, --reps rounds), so that a round's ratios
// compare calls made under the same load; figures are medians over the rounds (min-max), ratios
// the medians of the rounds' ratios, in wall time and in process CPU time, and the ratios of the
// fastest rounds (on a shared machine, the rounds least disturbed by other jobs).
//
// Data: M patterns xi ~ N(0, I/d) (norms ~ 1), queries xi_(q mod M) + N(0, noise^2 I/d), float;
// beta = 1 by default, where both maps approximate the lse energy well at Y = 65536 (the
// positive map's relative variance grows like exp(beta ||x + y||^2) / Y).
//
// Usage: bench_drdam [--queries 1024] [--features 65536] [--dim 784] [--patterns 1000]
//                    [--beta 1] [--noise 0.3] [--reps 5] [--threads T] [--kinds fourier,positive]
#include <cblas.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/features.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double cpu_now() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median_of(std::vector<double> v) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// One timed case: its wall and CPU times, one per round.
struct timed_case {
    timed_case(std::string n, double f, std::function<void()> r)
        : name(std::move(n)), flops(f), run(std::move(r)) {}

    std::string name;
    double flops = 0;  // 0: no rate printed
    std::function<void()> run;
    std::vector<double> wall, cpu;

    void once() {
        const double c0 = cpu_now(), t0 = now();
        run();
        wall.push_back(now() - t0);
        cpu.push_back(cpu_now() - c0);
    }
    double med() const { return median_of(wall); }
    void print() const {
        const auto [lo, hi] = std::minmax_element(wall.begin(), wall.end());
        std::printf("  %-42s %8.1f ms (%.1f-%.1f), CPU %8.1f ms",
                    name.c_str(),
                    med() * 1e3,
                    *lo * 1e3,
                    *hi * 1e3,
                    median_of(cpu) * 1e3);
        if (flops > 0) std::printf("  %6.1f GFLOP/s", flops / med() * 1e-9);
        std::printf("\n");
    }
};

// Median over rounds of (sum of the baselines' times) / (the case's time), wall or CPU.
double ratio(const timed_case& c, std::initializer_list<const timed_case*> base, bool cpu) {
    std::vector<double> r;
    const auto& ct = cpu ? c.cpu : c.wall;
    for (std::size_t i = 0; i < ct.size(); ++i) {
        double b = 0;
        for (const auto* x : base) b += (cpu ? x->cpu : x->wall)[i];
        r.push_back(b / ct[i]);
    }
    return median_of(r);
}

double mib(std::int64_t bytes) {
    return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
    std::int64_t n_queries = 1024, n_features = 65536, dim = 784, n_patterns = 1000;
    double beta = 1.0, noise = 0.3;
    int reps = 5, threads = 0;
    std::vector<denseam::feature_kind> kinds{denseam::feature_kind::fourier,
                                             denseam::feature_kind::positive};
    const char* usage =
        "usage: bench_drdam [--queries B] [--features Y] [--dim d] [--patterns M] [--beta b] "
        "[--noise s] [--reps R] [--threads T] [--kinds fourier,positive,...]\n";
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (i + 1 >= argc) throw std::invalid_argument("missing value after " + a);
            const std::string v = argv[++i];
            if (a == "--queries")
                n_queries = std::stoll(v);
            else if (a == "--features")
                n_features = std::stoll(v);
            else if (a == "--dim")
                dim = std::stoll(v);
            else if (a == "--patterns")
                n_patterns = std::stoll(v);
            else if (a == "--beta")
                beta = std::stod(v);
            else if (a == "--noise")
                noise = std::stod(v);
            else if (a == "--reps")
                reps = std::stoi(v);
            else if (a == "--threads")
                threads = std::stoi(v);
            else if (a == "--kinds") {
                kinds.clear();
                std::stringstream ss(v);
                for (std::string k; std::getline(ss, k, ',');)
                    kinds.push_back(denseam::parse_feature_kind(k));
            } else
                throw std::invalid_argument("unknown option " + a);
        }
        if (n_queries < 1 || dim < 1 || n_patterns < 1 || reps < 1 || threads < 0 || !(beta > 0) ||
            !(noise >= 0))
            throw std::invalid_argument("values out of range");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_drdam: %s\n%s", e.what(), usage);
        return 2;
    }
    const std::int64_t B = n_queries, d = dim, M = n_patterns;

    // Patterns N(0, I/d); queries near them.
    std::mt19937_64 rng(1);
    std::normal_distribution<double> gauss(0.0, 1.0);
    const double sd = 1.0 / std::sqrt(static_cast<double>(d));
    std::vector<float> patterns(static_cast<std::size_t>(M * d));
    std::vector<float> queries(static_cast<std::size_t>(B * d));
    for (auto& v : patterns) v = static_cast<float>(sd * gauss(rng));
    for (std::int64_t q = 0; q < B; ++q)
        for (std::int64_t k = 0; k < d; ++k)
            queries[static_cast<std::size_t>(q * d + k)] =
                patterns[static_cast<std::size_t>((q % M) * d + k)] +
                static_cast<float>(noise * sd * gauss(rng));
    const denseam::matrix_view<const float> xi(patterns.data(), M, d), x(queries.data(), B, d);

    denseam::exec_options ex;
    ex.n_threads = threads;
    const int team = denseam::resolved_threads(ex);
    std::printf(
        "DrDAM energy + gradient: B = %lld queries, Y = %lld features, d = %lld, M = %lld "
        "patterns N(0, I/d), queries = pattern + N(0, %.2g^2 I/d), beta = %g, float, %d "
        "threads, %d interleaved rounds: median (min-max)\n",
        static_cast<long long>(B),
        static_cast<long long>(n_features),
        static_cast<long long>(d),
        static_cast<long long>(M),
        noise,
        beta,
        team,
        reps);

    // The exact lse energies and gradients, to show what the approximations approximate.
    denseam::energy_params lse;
    lse.kernel = denseam::kernel_kind::lse;
    lse.beta = beta;
    std::vector<float> e_exact(static_cast<std::size_t>(B));
    std::vector<float> g_exact(static_cast<std::size_t>(B * d));
    denseam::energy_and_grad(xi, x, lse, std::span<float>(e_exact), {g_exact.data(), B, d}, {}, ex);
    std::printf("exact lse energy: median %.4f over the queries\n",
                median_of(std::vector<double>(e_exact.begin(), e_exact.end())));

    for (const auto kind : kinds) {
        denseam::feature_params fp;
        fp.kind = kind;
        fp.n_features = n_features;
        fp.beta = beta;
        fp.seed = 7;
        const std::int64_t P = denseam::n_projections(fp);
        const double flops_one =
            2.0 * static_cast<double>(B) * static_cast<double>(P) * static_cast<double>(d);
        std::printf("\n== %s: Y = %lld, P = %lld projections ==\n",
                    std::string(denseam::to_string(kind)).c_str(),
                    static_cast<long long>(n_features),
                    static_cast<long long>(P));

        denseam::distributed_memory mem(d, fp);
        double t0 = now();
        mem.add(xi, ex);
        const double t_add = now() - t0;
        denseam::distributed_memory mem_c = mem;
        t0 = now();
        mem_c.set_options({.cache_projections = true});
        const double t_cache = now() - t0;
        std::printf(
            "add %lld patterns: %.2f s (double GEMM, %.1f GFLOP/s); building the cache: %.0f "
            "ms\n",
            static_cast<long long>(M),
            t_add,
            2.0 * double(M) * double(P) * double(d) / t_add * 1e-9,
            t_cache * 1e3);

        std::vector<float> e(static_cast<std::size_t>(B)), g(static_cast<std::size_t>(B * d));
        std::vector<float> e_c(e.size()), g_c(g.size()), e_only(e.size());
        std::vector<denseam::energy_status> st(static_cast<std::size_t>(B));
        const denseam::matrix_view<float> gv(g.data(), B, d), gcv(g_c.data(), B, d);

        // Baseline operands: all the projections S (P x d), sqrt(beta) X, U (B x P), G S.
        std::vector<float> S(static_cast<std::size_t>(P * d));
        std::vector<float> xs(queries.size()), U(static_cast<std::size_t>(B * P)),
            GS(static_cast<std::size_t>(B * d));
        const float sb = static_cast<float>(std::sqrt(beta));
        for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = sb * queries[i];
        constexpr std::int64_t blk = 512;  // the evaluation's block (features/projections.hpp)
        const std::int64_t n_blk = (P + blk - 1) / blk;
        struct tile_scratch {
            std::vector<float> u, g;
        };

        std::vector<timed_case> cases;
        cases.emplace_back("DrDAM energy + gradient, regenerated", 2 * flops_one, [&] {
            mem.energy_and_grad(x, std::span<float>(e), gv, std::span(st), ex);
        });
        cases.emplace_back("DrDAM energy + gradient, cached", 2 * flops_one, [&] {
            mem_c.energy_and_grad(x, std::span<float>(e_c), gcv, {}, ex);
        });
        cases.emplace_back("DrDAM energy only, regenerated", flops_one, [&] {
            mem.energy_and_grad(x, std::span<float>(e_only), {}, {}, ex);
        });
        cases.emplace_back("DrDAM energy only, cached", flops_one, [&] {
            mem_c.energy_and_grad(x, std::span<float>(e_only), {}, {}, ex);
        });
        cases.emplace_back("projections, one call (1 thread)", 0, [&] {
            denseam::projections(fp, d, 0, {S.data(), P, d});
        });
        cases.emplace_back("projections, 512-row blocks on the team", 0, [&] {
            denseam::detail::parallel_for(n_blk, ex, [&](std::int64_t b) {
                const std::int64_t r = std::min(blk, P - b * blk);
                denseam::projections(fp, d, b * blk, {S.data() + b * blk * d, r, d});
            });
        });
        cases.emplace_back("SGEMM U = X S^T (B x P x d)", flops_one, [&] {
            cblas_sgemm(CblasRowMajor,
                        CblasNoTrans,
                        CblasTrans,
                        int(B),
                        int(P),
                        int(d),
                        1.0f,
                        xs.data(),
                        int(d),
                        S.data(),
                        int(d),
                        0.0f,
                        U.data(),
                        int(P));
        });
        // G S with U's values as the coefficients (the values do not change the time).
        cases.emplace_back("SGEMM G S (B x d x P)", flops_one, [&] {
            cblas_sgemm(CblasRowMajor,
                        CblasNoTrans,
                        CblasNoTrans,
                        int(B),
                        int(d),
                        int(P),
                        1.0f,
                        U.data(),
                        int(P),
                        S.data(),
                        int(d),
                        0.0f,
                        GS.data(),
                        int(d));
        });
        cases.emplace_back("tiles B x 512 x d + B x d x 512 (team)", 2 * flops_one, [&] {
            using denseam::detail::gemm_op;
            denseam::detail::parallel_for(
                n_blk,
                ex,
                denseam::detail::parallel_options{},
                [&] {
                    return tile_scratch{std::vector<float>(static_cast<std::size_t>(B * blk)),
                                        std::vector<float>(static_cast<std::size_t>(B * d))};
                },
                [&](tile_scratch& w, std::int64_t b) {
                    const std::int64_t r = std::min(blk, P - b * blk);
                    const float* s = S.data() + b * blk * d;
                    denseam::detail::gemm<float>(gemm_op::transposed,
                                                 B,
                                                 r,
                                                 d,
                                                 1.0f,
                                                 xs.data(),
                                                 d,
                                                 s,
                                                 d,
                                                 0.0f,
                                                 w.u.data(),
                                                 r);
                    denseam::detail::gemm<float>(
                        gemm_op::plain, B, d, r, 1.0f, w.u.data(), r, s, d, 1.0f, w.g.data(), d);
                });
        });
        for (int r = 0; r < reps; ++r)
            for (auto& c : cases) c.once();
        const timed_case &eg = cases[0], &eg_c = cases[1], &eo = cases[2], &eo_c = cases[3],
                         &proj = cases[5], &su = cases[6], &sgs = cases[7], &tiles = cases[8];
        for (const auto& c : cases) c.print();

        std::printf("ratios, DrDAM rate / same-shape SGEMM rate (wall; CPU time in brackets):\n");
        std::printf(
            "  energy + gradient vs both SGEMMs: regenerated %5.1f %% [%5.1f %%], "
            "cached %5.1f %% [%5.1f %%]\n",
            100 * ratio(eg, {&su, &sgs}, false),
            100 * ratio(eg, {&su, &sgs}, true),
            100 * ratio(eg_c, {&su, &sgs}, false),
            100 * ratio(eg_c, {&su, &sgs}, true));
        std::printf(
            "  energy only vs U = X S^T:        regenerated %5.1f %% [%5.1f %%], "
            "cached %5.1f %% [%5.1f %%]\n",
            100 * ratio(eo, {&su}, false),
            100 * ratio(eo, {&su}, true),
            100 * ratio(eo_c, {&su}, false),
            100 * ratio(eo_c, {&su}, true));
        const auto best = [](const timed_case& c) {
            return *std::min_element(c.wall.begin(), c.wall.end());
        };
        std::printf(
            "  fastest rounds (min over rounds): energy + gradient %.1f %% regenerated, %.1f %% "
            "cached; energy only %.1f %% regenerated, %.1f %% cached\n",
            100 * (best(su) + best(sgs)) / best(eg),
            100 * (best(su) + best(sgs)) / best(eg_c),
            100 * best(su) / best(eo),
            100 * best(su) / best(eo_c));
        std::printf(
            "  tiles vs both SGEMMs: %.1f %%; regenerating all projections on the team: %.1f "
            "%% "
            "of an energy + gradient (%.1f ns per value per thread)\n",
            100 * ratio(tiles, {&su, &sgs}, false),
            100 * median_of([&] {
                std::vector<double> v;
                for (std::size_t i = 0; i < eg.wall.size(); ++i)
                    v.push_back(proj.wall[i] / eg.wall[i]);
                return v;
            }()),
            proj.med() * team / (double(P) * double(d)) * 1e9);

        // Accuracy against the exact lse energy (context, not a test).
        const bool same = e == e_c && g == g_c;
        std::vector<double> de, rg;
        std::int64_t unsupported = 0;
        for (std::int64_t q = 0; q < B; ++q) {
            if (st[static_cast<std::size_t>(q)] != denseam::energy_status::ok) {
                ++unsupported;
                continue;
            }
            de.push_back(std::abs(double(e[static_cast<std::size_t>(q)]) -
                                  double(e_exact[static_cast<std::size_t>(q)])));
            double num = 0, den = 0;
            for (std::int64_t k = 0; k < d; ++k) {
                const double a = g[static_cast<std::size_t>(q * d + k)],
                             b = g_exact[static_cast<std::size_t>(q * d + k)];
                num += (a - b) * (a - b);
                den += b * b;
            }
            rg.push_back(std::sqrt(num / den));
        }
        std::printf(
            "vs exact lse: median |E~ - E| = %.3g, median ||grad~ - grad|| / ||grad|| = %.3g, "
            "%lld unsupported; cached == regenerated bitwise: %s\n",
            median_of(de),
            median_of(rg),
            static_cast<long long>(unsupported),
            same ? "yes" : "NO");

        std::printf("bytes held (MiB): this memory %.2f (T: Y doubles), with the cache %.2f\n",
                    mib(mem.bytes()),
                    mib(mem_c.bytes()));
        for (const std::int64_t m : {std::int64_t(10000), std::int64_t(60000)}) {
            const denseam::memory_footprint f = denseam::footprint(m, d, fp);
            std::printf(
                "  M = %6lld: explicit %7.2f, distributed %5.2f, reference %7.2f (reference / "
                "distributed %.1fx); break-even M = %lld\n",
                static_cast<long long>(m),
                mib(f.explicit_bytes),
                mib(f.distributed_bytes),
                mib(f.reference_bytes),
                double(f.reference_bytes) / double(f.distributed_bytes),
                static_cast<long long>(f.break_even_patterns));
        }
    }
    return 0;
}
