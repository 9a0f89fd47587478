// SPDX-License-Identifier: MIT
// The exact range index (include/denseam/index.hpp) beside the brute-force paths it replaces,
// measured in the same process on the same threads.
//
// (a) Crossover table: LSR energies (energy_and_grad without the gradient, float) of B queries
//     against M memories, both uniform in [0,1)^d (std::mt19937_64), for d in {2,..,64} and
//     beta chosen so that a query has about k memories in reach on average (k in {10, ..,
//     10000}): R^2 = 2/beta is the (k * P)-th smallest squared distance between P = 64 of the
//     queries and all memories, so P * k pairs are in reach. Three calls per case, interleaved
//     over up to --reps rounds (medians; rounds stop once a case has run --case-seconds):
//     exec.index = brute (the GEMM engine), the index (kdtree for d <= 16, ball above; its build
//     is part of every call; timed once when it is over 3x the scan, and not run at larger k
//     of the same d once it is over 4x) and automatic (what a user gets; its choice, read from
//     the library's own decision, is printed). Also: the index's build alone, and on the first
//     256 queries the memories the index examines per query (what the automatic choice
//     probes), the mean support size and the accuracy of both paths against a naive double
//     oracle: the largest |beta E - beta E_oracle| = |log Z - log Z_oracle| (statuses of all
//     three calls must agree).
// (b) Exact minima enumeration (find_lsr_minima, clique strategy) of M uniform patterns in
//     [0,1)^d with the index (automatic) and without (exec.index = brute: the interaction
//     graph by an O(M^2 d) scan, basin radii by O(M d) scans): candidates, minima, seconds,
//     and the index run without basin radii (where its time goes). Both must find the same
//     minima (positions and basin radii bitwise). Where the index found more than
//     --brute-minima minima (default 10,000), the brute run enumerates only a prefix of the
//     anchors holding about that many (max_candidates), and its time is estimated from the
//     measured parts, printed as "est.": its interaction graph, the clique pass (the same work
//     as the index run's) and its basin radii scaled by the share of the minima it built.
//
// Usage: bench_index [--quick] [--part a|b|ab] [--memories M] [--queries B] [--reps R]
//                    [--threads T] [--dims 2,4,...] [--reach 10,100,...] [--grad]
//                    [--minima-memories M] [--minima-dims 4,8] [--betas4 b,b,...]
//                    [--betas8 b,b,...] [--brute-minima N] [--case-seconds s]
// Defaults: (a) M = 100,000, B = 4,096, d in {2, 4, 8, 16, 32, 64}, k in {10, 100, 1000,
// 10000}, 3 rounds (about 3 minutes on 2 cores); (b) M = 100,000, d = 4 at beta {20000, 2000,
// 1000} (about 1e5, 1e6 and 5e7 candidates) and d = 8 at beta {300, 100, 80} (about 1e5, 1e6
// and 5e6), about 5 minutes. --quick: (a) M = 20,000, B = 1,024, d in {2, 8, 32}, k in {10,
// 1000}, 1 round; (b) M = 20,000, d = 4, beta {4000, 400} (seconds; a smoke run).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/index.hpp"
#include "denseam/minima.hpp"
#include "index/range_index.hpp"

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double median_of(std::vector<double> v) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

template <class T>
std::vector<T> uniform(std::int64_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<T> v(static_cast<std::size_t>(n));
    for (auto& e : v) e = static_cast<T>(u(rng));
    return v;
}

template <class T>
std::vector<T> parse_list(const std::string& s) {
    std::vector<T> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, ',');)
        out.push_back(static_cast<T>(std::stod(item)));
    return out;
}

// R^2 with about k memories in reach of a query on average: over P probe queries, the
// (k P)-th smallest of their P M squared distances (so that P k pairs are closer).
double radius2_for_reach(const std::vector<float>& mem,
                         const std::vector<float>& qry,
                         std::int64_t M,
                         std::int64_t d,
                         std::int64_t k) {
    const std::int64_t P = 64;
    std::vector<double> d2(static_cast<std::size_t>(P * M));
    for (std::int64_t p = 0; p < P; ++p)
        for (std::int64_t m = 0; m < M; ++m) {
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) {
                const double t = double(qry[static_cast<std::size_t>(p * d + j)]) -
                                 double(mem[static_cast<std::size_t>(m * d + j)]);
                s += t * t;
            }
            d2[static_cast<std::size_t>(p * M + m)] = s;
        }
    const auto nth = static_cast<std::size_t>(std::min(k * P, P * M - 1));
    std::nth_element(d2.begin(), d2.begin() + static_cast<std::ptrdiff_t>(nth), d2.end());
    return d2[nth];
}

std::string name_of(denseam::index_kind k) {
    return std::string(denseam::to_string(k));
}

struct options {
    std::int64_t memories = 100000, queries = 4096, minima_memories = 100000;
    int reps = 3, threads = 0;
    std::vector<std::int64_t> dims{2, 4, 8, 16, 32, 64}, reach{10, 100, 1000, 10000};
    std::vector<std::int64_t> minima_dims{4, 8};
    std::vector<double> betas4{20000, 2000, 1000}, betas8{300, 100, 80};
    bool grad = false, part_a = true, part_b = true;
    double case_seconds = 8.0;
    std::int64_t brute_minima = 10000;
};

void crossover(const options& o) {
    using denseam::index_kind;
    const std::int64_t M = o.memories, B = o.queries;
    denseam::exec_options brute, indexed, automatic;
    brute.n_threads = indexed.n_threads = automatic.n_threads = o.threads;
    brute.index = index_kind::brute;
    automatic.index = index_kind::automatic;
    std::printf(
        "\n(a) LSR energies%s, float: M = %lld memories, B = %lld queries, uniform [0,1)^d; "
        "%d threads, up to %d interleaved rounds (fewer past %.0f s a case), median seconds "
        "(build included in every call); mean support and errors over the first 256 "
        "queries\n",
        o.grad ? " + gradients" : "",
        static_cast<long long>(M),
        static_cast<long long>(B),
        denseam::resolved_threads(brute),
        o.reps,
        o.case_seconds);
    std::printf(
        "| d | k | beta | mean support | rounds | brute (GEMM) | index | build | examined / query "
        "(of M) | brute / index | auto picks | auto | brute / auto | log Z error brute / index "
        "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    for (const std::int64_t d : o.dims) {
        const auto mem = uniform<float>(M * d, 1000 + static_cast<std::uint64_t>(d));
        const auto qry = uniform<float>(B * d, 2000 + static_cast<std::uint64_t>(d));
        const denseam::matrix_view<const float> xi(mem.data(), M, d), x(qry.data(), B, d);
        indexed.index = d <= 16 ? index_kind::kdtree : index_kind::ball;
        // The index's work grows with the reach: once it is far slower than the scan at some
        // k, it is not run at the larger ones.
        std::int64_t hopeless_from = 0;
        for (const std::int64_t k : o.reach) {
            if (k >= M) continue;
            const double r2 = radius2_for_reach(mem, qry, M, d, k);
            denseam::energy_params prm;
            prm.kernel = denseam::kernel_kind::lsr;
            prm.q = denseam::q_kind::log;
            prm.beta = 2.0 / r2;
            // What automatic resolves to for this call (the library's own decision).
            const auto chosen = denseam::detail::index_for_call(xi, prm, B, x, automatic);
            const index_kind picked = chosen ? chosen->kind() : index_kind::brute;
            const bool run_index = hopeless_from == 0;

            std::vector<float> e_b(static_cast<std::size_t>(B)), e_i(e_b.size()), e_a(e_b.size());
            std::vector<float> g(o.grad ? static_cast<std::size_t>(B * d) : 0);
            const denseam::matrix_view<float> gv = o.grad
                                                       ? denseam::matrix_view<float>(g.data(), B, d)
                                                       : denseam::matrix_view<float>{};
            std::vector<denseam::energy_status> s_b(e_b.size()), s_i(e_b.size()), s_a(e_b.size());
            std::vector<double> t_b, t_i, t_a;
            const auto run = [&](std::vector<float>& e,
                                 std::span<denseam::energy_status> st,
                                 const denseam::exec_options& ex) {
                const double t0 = now();
                denseam::energy_and_grad(xi, x, prm, std::span<float>(e), gv, st, ex);
                return now() - t0;
            };
            // The build alone, and the memories the index examines per query (the statistic
            // the automatic choice probes), over the first 256 queries.
            double t_build = std::nan(""), examined = std::nan("");
            if (run_index) {
                const double t0 = now();
                const denseam::detail::range_index<float> built(xi, indexed.index, indexed);
                t_build = now() - t0;
                const std::int64_t ne = std::min<std::int64_t>(B, 256);
                std::vector<double> xq(static_cast<std::size_t>(d));
                std::vector<std::int64_t> pos;
                for (std::int64_t q = 0; q < ne; ++q) {
                    for (std::int64_t j = 0; j < d; ++j) xq[static_cast<std::size_t>(j)] = x(q, j);
                    pos.clear();
                    built.within(xq.data(), 2.0 / prm.beta, pos, nullptr);
                }
                examined = static_cast<double>(built.rows_examined()) / static_cast<double>(ne);
            }
            // Rounds stop after --case-seconds (the slow high-d cases get fewer); an index
            // several times slower than the scan is timed once.
            const double case_start = now();
            for (int r = 0; r < o.reps; ++r) {
                t_b.push_back(run(e_b, s_b, brute));
                if (run_index && (r == 0 || t_i[0] < 3.0 * t_b[0]))
                    t_i.push_back(run(e_i, s_i, indexed));
                t_a.push_back(run(e_a, s_a, automatic));
                if (now() - case_start > o.case_seconds) break;
            }
            // Both paths against a naive double oracle on the first queries: E = -(1/beta)
            // log Z, Z = sum_mu max(1 - (beta/2) ||x - xi_mu||^2, 0) (the index sums in
            // double, the engine in float tiles with boundary pairs rechecked in double); the
            // same loop counts the supports.
            bool statuses_agree = s_b == s_a && (!run_index || s_b == s_i);
            double err_b = 0.0, err_i = 0.0, support = 0.0;
            const std::int64_t n_oracle = std::min<std::int64_t>(B, 256);
            for (std::int64_t q = 0; q < n_oracle; ++q) {
                double z = 0.0;
                for (std::int64_t m = 0; m < M; ++m) {
                    double s2 = 0.0;
                    for (std::int64_t j = 0; j < d; ++j) {
                        const double t = double(x(q, j)) - double(xi(m, j));
                        s2 += t * t;
                    }
                    const double v = 1.0 - 0.5 * prm.beta * s2;
                    if (v > 0.0) {
                        z += v;
                        support += 1.0;
                    }
                }
                if (!(z > 0.0)) continue;
                const double e = -std::log(z) / prm.beta;
                const auto qi = static_cast<std::size_t>(q);
                err_b = std::max(err_b, prm.beta * std::abs(double(e_b[qi]) - e));
                if (run_index) err_i = std::max(err_i, prm.beta * std::abs(double(e_i[qi]) - e));
            }
            const double mb = median_of(t_b), mi = median_of(t_i), ma = median_of(t_a);
            char index_cell[96], build_cell[64], ratio_cell[32], err_cell[48];
            if (run_index) {
                std::snprintf(index_cell,
                              sizeof index_cell,
                              "%.4f (%s%s)",
                              mi,
                              name_of(indexed.index).c_str(),
                              t_i.size() < t_b.size() ? ", 1 run" : "");
                std::snprintf(build_cell,
                              sizeof build_cell,
                              "%.4f | %.0f (%.1f %%)",
                              t_build,
                              examined,
                              100.0 * examined / static_cast<double>(M));
                std::snprintf(ratio_cell, sizeof ratio_cell, "**%.2f**", mb / mi);
                std::snprintf(err_cell, sizeof err_cell, "%.1e / %.1e", err_b, err_i);
                if (mi > 4.0 * mb) hopeless_from = k;
            } else {
                std::snprintf(index_cell,
                              sizeof index_cell,
                              "not run (%s > 4x brute at k = %lld)",
                              name_of(indexed.index).c_str(),
                              static_cast<long long>(hopeless_from));
                std::snprintf(build_cell, sizeof build_cell, " | ");
                ratio_cell[0] = '\0';
                std::snprintf(err_cell, sizeof err_cell, "%.1e / -", err_b);
            }
            std::printf(
                "| %lld | %lld | %.4g | %.0f | %d | %.4f | %s | %s | %s | %s | %.4f | %.2f "
                "| %s%s |\n",
                static_cast<long long>(d),
                static_cast<long long>(k),
                prm.beta,
                support / static_cast<double>(n_oracle),
                static_cast<int>(t_b.size()),
                mb,
                index_cell,
                build_cell,
                ratio_cell,
                name_of(picked).c_str(),
                ma,
                mb / ma,
                err_cell,
                statuses_agree ? "" : " STATUSES DIFFER");
            std::fflush(stdout);
        }
    }
}

// Whether every minimum of `part` (a full or a prefix result) is in `full` with the same
// position and basin radius (both sorted by support set).
bool minima_agree(const denseam::minima_result& part, const denseam::minima_result& full) {
    for (const auto& m : part.minima) {
        const auto it = std::lower_bound(full.minima.begin(),
                                         full.minima.end(),
                                         m,
                                         [](const denseam::minimum& x, const denseam::minimum& y) {
                                             return x.support < y.support;
                                         });
        if (it == full.minima.end() || it->support != m.support || it->position != m.position ||
            !(it->basin_radius == m.basin_radius))
            return false;
    }
    return true;
}

void minima(const options& o) {
    using denseam::index_kind;
    std::printf(
        "\n(b) find_lsr_minima (clique strategy, basin radii on), M = %lld uniform patterns in "
        "[0,1)^d: exec.index automatic vs brute; where the index found more than %lld "
        "minima, the brute run covers a prefix of the anchors with about that many and its time "
        "is extrapolated (est.)\n| d | beta | strategy | "
        "candidates | stored | emergent | index s "
        "| index s, no basin radii | brute s | brute / index | same minima |\n|---|---|---|---|"
        "---|---|---|---|---|---|---|\n",
        static_cast<long long>(o.minima_memories),
        static_cast<long long>(o.brute_minima));
    std::fflush(stdout);
    for (const std::int64_t d : o.minima_dims) {
        const std::int64_t M = o.minima_memories;
        const auto pat = uniform<double>(M * d, 3000 + static_cast<std::uint64_t>(d));
        const denseam::matrix_view<const double> xi(pat.data(), M, d);
        const std::vector<double>& betas = d == 4 ? o.betas4 : o.betas8;
        for (const double beta : betas) {
            denseam::exec_options ex;
            ex.n_threads = o.threads;
            ex.index = index_kind::automatic;
            // The clique pass is the same work with or without the index: timed here between
            // its first and last progress reports (the first comes <= 0.1 s into the pass).
            denseam::minima_options no_basin;
            no_basin.basin_radius = false;
            double tn_first = std::nan(""), tn_last = std::nan("");
            const double tn0 = now();
            no_basin.progress = [&](std::int64_t, std::int64_t) {
                tn_last = now() - tn0;
                if (std::isnan(tn_first)) tn_first = tn_last;
            };
            const auto rn = denseam::find_lsr_minima(xi, beta, 0.0, no_basin, ex);
            const double t_clique = tn_last - tn_first;
            const auto ri = denseam::find_lsr_minima(xi, beta, 0.0, {}, ex);
            std::printf("| %lld | %g | %s | %lld | %lld | %lld | %.2f | %.2f | ",
                        static_cast<long long>(d),
                        beta,
                        ri.strategy_used.c_str(),
                        static_cast<long long>(ri.candidates),
                        static_cast<long long>(ri.stored),
                        static_cast<long long>(ri.emergent),
                        ri.seconds,
                        rn.seconds);
            std::fflush(stdout);

            // The brute run. Its basin radii (O(M d) per minimum) cannot be stopped, so where
            // the index found more than --brute-minima minima it enumerates only a prefix of
            // the anchors (max_candidates: a deterministic prefix, whose minima are the full
            // result's) holding about that many, and its time is estimated as its interaction
            // graph (complete in every run: until the clique pass's first progress report),
            // plus the whole clique pass (timed on the index run above), plus its basin radii
            // (after the pass's last report) divided by the share of the minima it built.
            ex.index = index_kind::brute;
            denseam::minima_options opt;
            const auto n_min = static_cast<double>(ri.minima.size());
            if (n_min > double(o.brute_minima))
                opt.max_candidates = std::max<std::int64_t>(
                    1,
                    static_cast<std::int64_t>(double(ri.candidates) * double(o.brute_minima) /
                                              n_min));
            double t_graph = std::nan(""), t_pass = std::nan("");
            const double t0 = now();
            opt.progress = [&](std::int64_t, std::int64_t) {
                t_pass = now() - t0;
                if (std::isnan(t_graph)) t_graph = t_pass;
            };
            const auto rb = denseam::find_lsr_minima(xi, beta, 0.0, opt, ex);
            const bool same = minima_agree(rb, ri);
            if (rb.status == denseam::minima_status::complete) {
                std::printf(
                    "%.2f (graph %.1f s + clique pass %.1f s + basin radii %.1f s) | "
                    "**%.1f** | %s |\n",
                    rb.seconds,
                    t_graph,
                    t_pass - t_graph,
                    rb.seconds - t_pass,
                    rb.seconds / ri.seconds,
                    same && rb.minima.size() == ri.minima.size() ? "yes" : "NO");
            } else {
                const double share_m = double(rb.minima.size()) / n_min;
                const double est =
                    t_graph + t_clique + (rb.seconds - t_pass) / std::max(share_m, 1e-9);
                std::printf(
                    "est. %.0f (graph %.1f s + clique pass %.1f s + basin radii %.1f s for %.1f "
                    "%% of the minima, scaled) | **est. %.0f** | %s (%zu of %zu) |\n",
                    est,
                    t_graph,
                    t_clique,
                    rb.seconds - t_pass,
                    100.0 * share_m,
                    est / ri.seconds,
                    same ? "yes" : "NO",
                    rb.minima.size(),
                    ri.minima.size());
            }
            std::fflush(stdout);
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    const char* usage =
        "usage: bench_index [--quick] [--part a|b|ab] [--memories M] [--queries B] [--reps R] "
        "[--threads T] [--dims 2,4,..] [--reach 10,100,..] [--grad] [--minima-memories M] "
        "[--minima-dims 4,8] [--betas4 b,..] [--betas8 b,..] [--brute-minima N] [--case-seconds "
        "s]\n";
    try {
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--quick") {
                o.memories = 20000;
                o.queries = 1024;
                o.reps = 1;
                o.dims = {2, 8, 32};
                o.reach = {10, 1000};
                o.minima_memories = 20000;
                o.minima_dims = {4};
                o.betas4 = {4000, 400};
                continue;
            }
            if (a == "--grad") {
                o.grad = true;
                continue;
            }
            if (i + 1 >= argc) throw std::invalid_argument("missing value after " + a);
            const std::string v = argv[++i];
            if (a == "--part") {
                o.part_a = v.find('a') != std::string::npos;
                o.part_b = v.find('b') != std::string::npos;
            } else if (a == "--memories")
                o.memories = std::stoll(v);
            else if (a == "--queries")
                o.queries = std::stoll(v);
            else if (a == "--reps")
                o.reps = std::stoi(v);
            else if (a == "--threads")
                o.threads = std::stoi(v);
            else if (a == "--dims")
                o.dims = parse_list<std::int64_t>(v);
            else if (a == "--reach")
                o.reach = parse_list<std::int64_t>(v);
            else if (a == "--minima-memories")
                o.minima_memories = std::stoll(v);
            else if (a == "--minima-dims")
                o.minima_dims = parse_list<std::int64_t>(v);
            else if (a == "--betas4")
                o.betas4 = parse_list<double>(v);
            else if (a == "--betas8")
                o.betas8 = parse_list<double>(v);
            else if (a == "--brute-minima")
                o.brute_minima = std::stoll(v);
            else if (a == "--case-seconds")
                o.case_seconds = std::stod(v);
            else
                throw std::invalid_argument("unknown option " + a);
        }
        if (o.memories < 2 || o.queries < 64 || o.reps < 1 || o.threads < 0 ||
            o.minima_memories < 1)
            throw std::invalid_argument("values out of range");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_index: %s\n%s", e.what(), usage);
        return 2;
    }
    if (o.part_a) crossover(o);
    if (o.part_b) minima(o);
    return 0;
}
