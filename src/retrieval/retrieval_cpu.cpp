// SPDX-License-Identifier: MIT
// Retrieval on the CPU: exact LSR support-set iteration (paper Algorithm 1 with the strict
// boundary rule), mean-shift for the other distance kernels, and gradient descent.
#include "retrieval/retrieval_cpu.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <type_traits>
#include <vector>

#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "engine/tile_engine.hpp"
#include "kernels/policies.hpp"

namespace denseam::detail {

namespace {

constexpr std::int64_t query_block = 64;  // queries per parallel work item

template <class T>
retrieve_result<T> make_result(std::int64_t n, std::int64_t dim) {
    retrieve_result<T> r;
    r.states.resize(static_cast<std::size_t>(n * dim));
    r.energy.resize(static_cast<std::size_t>(n));
    r.status.assign(static_cast<std::size_t>(n), retrieval_status::max_steps);
    r.steps.assign(static_cast<std::size_t>(n), 0);
    return r;
}

// The strict LSR active set of x, S = {mu : (beta/2) ||x - xi_mu||^2 < 1} decided in double
// (the energy's rule), into `set`; returns Z = eps + sum_S (1 - q). `boundary` tells whether a
// memory lies exactly on the boundary (q == 1): outside S, and the reason a fixed point
// x = mean(S) can fail to be a minimum (lsr_fixed_point).
template <class T>
double lsr_active_set(matrix_view<const T> mem,
                      const double* x,
                      double half_beta,
                      double eps,
                      std::vector<std::int64_t>& set,
                      bool& boundary) {
    set.clear();
    boundary = false;
    double z = eps;
    for (std::int64_t m = 0; m < mem.rows; ++m) {
        const double q = half_beta * sq_dist(x, mem.row(m), mem.cols);
        if (q < 1.0) {
            set.push_back(m);
            z += 1.0 - q;
        } else if (q == 1.0) {
            boundary = true;
        }
    }
    return z;
}

// Whether gradient descent follows options.beta (else the energy's beta throughout).
bool uses_beta_schedule(const retrieve_options& opt) {
    return !(opt.beta.type == schedule::kind::constant && !(opt.beta.start > 0.0));
}

// The energies of the final states: NaN where the status is non_finite (the state is not
// trustworthy, and its energy may not be computable), the engine's value elsewhere. Internal
// states are not user input: no validation, and one engine call over the rows that need it.
template <class T>
void final_energies(matrix_view<const T> mem,
                    const energy_params& prm,
                    retrieve_result<T>& res,
                    const exec_options& exec) {
    const std::int64_t n = static_cast<std::int64_t>(res.status.size());
    const std::int64_t dim = mem.cols;
    res.energy.assign(static_cast<std::size_t>(n), std::numeric_limits<T>::quiet_NaN());
    std::vector<std::int64_t> rows;
    for (std::int64_t i = 0; i < n; ++i) {
        if (res.status[static_cast<std::size_t>(i)] == retrieval_status::non_finite) continue;
        bool finite = true;
        for (std::int64_t k = 0; k < dim; ++k)
            finite = finite && std::isfinite(static_cast<double>(
                                   res.states[static_cast<std::size_t>(i * dim + k)]));
        if (finite) rows.push_back(i);
    }
    if (rows.empty()) return;
    const auto nr = static_cast<std::int64_t>(rows.size());
    std::vector<T> x(static_cast<std::size_t>(nr * dim)), e(static_cast<std::size_t>(nr));
    for (std::int64_t a = 0; a < nr; ++a)
        std::copy(res.states.begin() + rows[static_cast<std::size_t>(a)] * dim,
                  res.states.begin() + (rows[static_cast<std::size_t>(a)] + 1) * dim,
                  x.begin() + a * dim);
    energy_unchecked(mem,
                     matrix_view<const T>(x.data(), nr, dim),
                     prm,
                     std::span<T>(e),
                     matrix_view<T>{},
                     {},
                     exec);
    for (std::int64_t a = 0; a < nr; ++a)
        res.energy[static_cast<std::size_t>(rows[static_cast<std::size_t>(a)])] =
            e[static_cast<std::size_t>(a)];
}

}  // namespace

template <class T>
retrieve_result<T> lsr_fixed_point(matrix_view<const T> mem,
                                   matrix_view<const T> qry,
                                   const energy_params& prm,
                                   const retrieve_options& opt,
                                   const exec_options& exec) {
    const std::int64_t n = qry.rows, dim = qry.cols;
    auto res = make_result<T>(n, dim);
    std::vector<std::vector<std::int64_t>> supports(static_cast<std::size_t>(n));
    const double half_beta = 0.5 * prm.beta;
    const std::int64_t n_blocks = (n + query_block - 1) / query_block;
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        std::vector<double> x(static_cast<std::size_t>(dim)),
            centroid(static_cast<std::size_t>(dim)), returned(static_cast<std::size_t>(dim));
        std::vector<std::int64_t> set, prev;
        for (std::int64_t i = blk * query_block; i < std::min(n, (blk + 1) * query_block); ++i) {
            const auto si = static_cast<std::size_t>(i);
            for (std::int64_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(k)] = qry(i, k);
            retrieval_status status = retrieval_status::max_steps;
            std::int64_t iter = 0;
            double z = 0.0;
            bool boundary = false;
            prev.clear();
            bool have_prev = false;
            while (iter < opt.max_steps) {
                z = lsr_active_set(mem, x.data(), half_beta, prm.eps, set, boundary);
                ++iter;
                if (set.empty()) {
                    status = retrieval_status::out_of_support;
                    break;
                }
                if (have_prev && set == prev) {
                    // x = mean(S) and S is the strict active set of x. Near x the members stay
                    // inside and the memories with q > 1 outside, so Z = eps + sum_S (1 - q), a
                    // concave quadratic with its maximum at mean(S) = x: a strict local minimum
                    // of E, unless a memory lies exactly on the boundary (q == 1). Its term
                    // (1 - q)_+ is 0 at x but grows linearly along the direction towards it,
                    // while the S part falls only quadratically: E decreases at first order
                    // and x is no minimum (issue 9).
                    status = boundary ? retrieval_status::not_minimum : retrieval_status::converged;
                    break;
                }
                std::fill(centroid.begin(), centroid.end(), 0.0);
                for (std::int64_t m : set)
                    for (std::int64_t k = 0; k < dim; ++k)
                        centroid[static_cast<std::size_t>(k)] += static_cast<double>(mem(m, k));
                for (auto& c : centroid) c /= static_cast<double>(set.size());
                x = centroid;
                std::swap(prev, set);
                have_prev = true;
            }
            // The state returned is x rounded to T; support and energy describe that state.
            bool rounded = false;
            for (std::int64_t k = 0; k < dim; ++k) {
                const auto kk = static_cast<std::size_t>(k);
                returned[kk] = static_cast<double>(static_cast<T>(x[kk]));
                rounded = rounded || !(returned[kk] == x[kk]);
            }
            if (rounded || (status == retrieval_status::max_steps && have_prev)) {
                // Recompute them when the last update moved x (max_steps) or the rounding did
                // (T = float; one O(M d) pass). A converged float state stays converged only if
                // the rounding kept its strict active set exactly S with no memory on the
                // boundary: then it lies in the open region where Z is the concave quadratic
                // of S, within rounding of its maximum. Otherwise the state returned is no
                // minimum: E falls at first order towards a memory gained or on the boundary,
                // and away from one lost (there Z = Z_S + (q - 1)). So the status is
                // not_minimum, with the support and energy of the state returned (the minimum
                // is at mean(S), but its rounding to T left the region of S).
                const double zr =
                    lsr_active_set(mem, returned.data(), half_beta, prm.eps, prev, boundary);
                if (status == retrieval_status::converged && (boundary || prev != set))
                    status = retrieval_status::not_minimum;
                std::swap(set, prev);
                z = zr;
            }
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>(i * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)]);
            res.energy[si] = static_cast<T>(log_energy(z, prm.beta));
            res.status[si] = status;
            res.steps[si] = iter;
            supports[si] = set;
        }
    });
    res.support.offsets.assign(1, 0);
    for (const auto& s : supports) {
        res.support.indices.insert(res.support.indices.end(), s.begin(), s.end());
        res.support.offsets.push_back(static_cast<std::int64_t>(res.support.indices.size()));
    }
    return res;
}

template <class T>
retrieve_result<T> mean_shift(matrix_view<const T> mem,
                              matrix_view<const T> qry,
                              const energy_params& prm,
                              const retrieve_options& opt,
                              const exec_options& exec) {
    const std::int64_t n = qry.rows, dim = qry.cols, n_mem = mem.rows;
    auto res = make_result<T>(n, dim);
    const double half_beta = 0.5 * prm.beta;
    const bool is_exp = prm.kernel == kernel_kind::lse;
    const std::int64_t n_blocks = (n + query_block - 1) / query_block;
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        std::vector<double> x(static_cast<std::size_t>(dim)), next(static_cast<std::size_t>(dim));
        std::vector<double> q(static_cast<std::size_t>(n_mem));
        for (std::int64_t i = blk * query_block; i < std::min(n, (blk + 1) * query_block); ++i) {
            for (std::int64_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(k)] = qry(i, k);
            retrieval_status status = retrieval_status::max_steps;
            std::int64_t iter = 0;
            while (iter < opt.max_steps) {
                double qmin = std::numeric_limits<double>::infinity();
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    q[static_cast<std::size_t>(m)] = half_beta * sq_dist(x.data(), mem.row(m), dim);
                    qmin = std::min(qmin, q[static_cast<std::size_t>(m)]);
                }
                double sw = 0.0;
                std::fill(next.begin(), next.end(), 0.0);
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    const double qm = q[static_cast<std::size_t>(m)];
                    const double w = is_exp ? std::exp(-(qm - qmin)) : kernel_weight(prm, qm);
                    if (w == 0.0) continue;
                    sw += w;
                    for (std::int64_t k = 0; k < dim; ++k)
                        next[static_cast<std::size_t>(k)] += w * static_cast<double>(mem(m, k));
                }
                if (sw == 0.0) {
                    status = retrieval_status::out_of_support;
                    break;
                }
                ++iter;
                double change = 0.0;
                for (std::int64_t k = 0; k < dim; ++k) {
                    const double v = next[static_cast<std::size_t>(k)] / sw;
                    change = std::max(change, std::abs(v - x[static_cast<std::size_t>(k)]));
                    x[static_cast<std::size_t>(k)] = v;
                }
                if (!std::isfinite(change)) {
                    status = retrieval_status::non_finite;
                    break;
                }
                if (change < opt.tol) {
                    status = retrieval_status::converged;
                    break;
                }
            }
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>(i * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)]);
            res.status[static_cast<std::size_t>(i)] = status;
            res.steps[static_cast<std::size_t>(i)] = iter;
        }
    });
    final_energies(mem, prm, res, exec);
    return res;
}

// Gradient descent for small memory sets (M * dim <= small_descent_limit): no engine call (and
// no GEMM) per step. Queries descend `lanes` at a time, vectorised across the lanes (memory sets
// of a few dozen patterns are too small to vectorise over); a lane whose query stops takes the
// next query of its work item, so each lane is at its own step of the schedules. Same update,
// stopping rule and statuses as the tiled path; the kernel math comes from the same policies
// and assemble_scale. The gradient is evaluated in C (T, or float for
// gradient_precision::single), the state and the update stay in T (held in double). For
// distance kernels the gradient is formed as sum_mu w_mu (x - xi_mu), from differences, so that
// near a minimum it is accurate relative to the distances, not to the coordinates.
//
// Neighbour lists (distance kernels at a fixed beta): the lanes work on the patterns that can
// matter to any of their queries, found from exact distances at the last rebuild (or, for a
// query that enters a lane, when it enters) and valid while no query has moved more than a skin
// s from where it was then. With r the distance then and r_min the nearest, a pattern is left
// out when, for every query in the lanes,
//   compact kernels: (beta / 2) (r - s)^2 >= 1 (its kernel and weight are exactly 0 anywhere
//                    within s: the result is the same as over all patterns), or
//   LSE:             (beta / 2) ((r - s)^2 - (r_min + s)^2) > cut = 40 + ln M (its weight,
//                    relative to the nearest pattern's, is below e^-cut: all left-out weights
//                    together change the sums by less than 2^-54 of the largest term, i.e. below
//                    double rounding).
// The nearest pattern is always kept, so the max-shift is the same as over all patterns. The
// list is rebuilt when a query has moved s away, and never once it holds every pattern (small
// beta). Under a beta schedule, and for poly, the lanes use all patterns.
constexpr std::int64_t small_descent_limit = 1 << 14;

// What every block of small_descent shares.
template <class T>
struct small_setup {
    small_setup(const energy_params& p, const retrieve_options& o, retrieve_result<T>& r)
        : prm(p), opt(o), res(r) {}
    const energy_params& prm;
    const retrieve_options& opt;
    retrieve_result<T>& res;
    std::int64_t n_mem = 0, dim = 0, n = 0;
    std::vector<double> memd, keep_dim;
    // The schedules' values for the first table_len steps (later steps, if any, are evaluated
    // when reached: memory never scales with the step limit).
    static constexpr std::int64_t table_cap = std::int64_t(1) << 16;
    std::int64_t table_len = 0;
    std::vector<double> alpha, betas, sigma;
    bool any_noise = false, prune = false, log_q = false, beta_schedule = false;
    double hb_fixed = 0.0, cut = 0.0, skin = 0.0;

    double alpha_at(std::int64_t t) const {
        return t < table_len ? alpha[static_cast<std::size_t>(t)]
                             : opt.step_size.at(t, opt.max_steps);
    }
    double beta_at(std::int64_t t) const {
        if (!beta_schedule) return prm.beta;
        return t < table_len ? betas[static_cast<std::size_t>(t)] : opt.beta.at(t, opt.max_steps);
    }
    double sigma_at(std::int64_t t) const {
        return t < table_len ? sigma[static_cast<std::size_t>(t)] : opt.noise.at(t, opt.max_steps);
    }
};

// The small-set descent has two builds: 32 lanes compiled for AVX-512 (x86-64-v4), run only
// where the CPU has it, and 8 lanes for the x86-64-v3 baseline (the lanes' accumulators must fit
// the register file: two AVX-512 registers of floats per lane vector, or one AVX2 register).
// Both compute the same thing from the same inline helpers.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(__SANITIZE_ADDRESS__)
#define DENSEAM_HAVE_AVX512_BUILD 1
#define DENSEAM_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#else
#define DENSEAM_HAVE_AVX512_BUILD 0
#define DENSEAM_TARGET_AVX512
#endif

// Whether the AVX-512 build runs on this CPU.
inline bool wide_vectors() {
#if DENSEAM_HAVE_AVX512_BUILD
    static const bool wide =
        __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    return wide;
#else
    return false;
#endif
}

// Queries per work item of small_descent: a lane whose query stops takes the item's next
// query, so lanes do not idle while the slowest query of a block finishes.
constexpr std::int64_t item_lane_queries = 16;

// One work item: its queries through `lanes` lanes, from start to stop. Always inlined into
// the wrappers below, which give it its instruction set.
template <class P, class T, class C, int lanes, class Poll>
__attribute__((always_inline)) inline void small_block(const small_setup<T>& s,
                                                       std::int64_t item,
                                                       Poll& poll) {
    constexpr std::int64_t item_queries = item_lane_queries * lanes;
    const auto& prm = s.prm;
    const auto& opt = s.opt;
    auto& res = s.res;
    const std::int64_t n_mem = s.n_mem, dim = s.dim, n = s.n;
    const auto& memd = s.memd;
    const auto& alpha = s.alpha;
    const auto& keep_dim = s.keep_dim;
    const auto last_entry = static_cast<double>(s.table_len - 1);
    const bool beyond_table = s.table_len < opt.max_steps;
    const bool any_noise = s.any_noise, prune = s.prune, log_q = s.log_q;
    const bool beta_schedule = s.beta_schedule;
    const double hb_fixed = s.hb_fixed, cut = s.cut, skin = s.skin;
    const auto max_steps_d = static_cast<double>(opt.max_steps);
    using lane_d = std::array<double, lanes>;
    using lane_c = std::array<C, lanes>;
    // Patterns per distance group and coordinates per gradient group: enough independent
    // accumulation chains to fill the FMA pipes, few enough to stay in registers.
    constexpr int PU = sizeof(C) == 4 ? 8 : 4;
    constexpr int KB = sizeof(C) == 4 ? 4 : 2;
    const auto sd = static_cast<std::size_t>(dim);
    const auto sm = static_cast<std::size_t>(n_mem);
    const std::int64_t q_end = std::min(n, (item + 1) * item_queries);
    std::int64_t next = item * item_queries;
    std::vector<lane_d> x(sd), x0(sd), g(sd), dist2(sm);
    std::vector<lane_c> xc(sd), q(sm), w(sm);
    std::vector<double> lane_d2(sm);
    // The patterns in use, packed, in C (all of them until a rebuild decides).
    std::vector<C> list_xi(sm * sd);
    for (std::size_t j = 0; j < list_xi.size(); ++j) list_xi[j] = static_cast<C>(memd[j]);
    std::vector<char> in_list(sm, 1);
    std::int64_t n_list = n_mem;
    bool list_final = !prune, started = false;
    lane_d active{}, gmax{}, scale{}, beta_l{};
    lane_c shift{}, z{}, sw{}, hbc{}, bcc{};
    std::array<std::int64_t, lanes> qi{};
    lane_d tl{};  // each lane's step t, held in double (exact) so that its loops vectorise
    qi.fill(-1);
    int n_active = 0;
    const auto sl = [](int l) { return static_cast<std::size_t>(l); };

    // Whether a pattern at distance r (at the last rebuild) can matter to a query whose nearest
    // pattern was at r_min, anywhere within the skin.
    const auto needed = [&](double r, double r_min) {
        // Conservative by a relative 1e-12 against rounding in r and s.
        const double lo = std::max(0.0, r - skin - 1e-12 * (1.0 + r));
        if constexpr (P::compact) {
            (void)r_min;
            return hb_fixed * lo * lo < 1.0;
        } else {
            const double hi = r_min + skin + 1e-12 * (1.0 + r_min);
            return hb_fixed * (lo * lo - hi * hi) <= cut;
        }
    };
    const auto append = [&](std::int64_t m) {
        for (std::int64_t k = 0; k < dim; ++k)
            list_xi[static_cast<std::size_t>(n_list * dim + k)] =
                static_cast<C>(memd[static_cast<std::size_t>(m * dim + k)]);
        in_list[static_cast<std::size_t>(m)] = 1;
        ++n_list;
        list_final = n_list == n_mem;
    };
    // A fresh list for the queries in the lanes now, from exact (double) distances.
    const auto rebuild = [&] {
        for (std::int64_t m = 0; m < n_mem; ++m) {
            const double* xi = memd.data() + m * dim;
            lane_d acc{};
            for (std::int64_t k = 0; k < dim; ++k) {
                const lane_d& xk = x[static_cast<std::size_t>(k)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l) {
                    const double diff = xk[l] - xi[k];
                    acc[l] += diff * diff;
                }
            }
            dist2[static_cast<std::size_t>(m)] = acc;
        }
        lane_d rmin{};
        for (int l = 0; l < lanes; ++l) {
            double best = INFINITY;
            for (std::int64_t m = 0; m < n_mem; ++m)
                best = std::min(best, dist2[static_cast<std::size_t>(m)][l]);
            rmin[l] = std::sqrt(best);
        }
        n_list = 0;
        std::fill(in_list.begin(), in_list.end(), 0);
        for (std::int64_t m = 0; m < n_mem; ++m) {
            bool need = false;
            for (int l = 0; l < lanes && !need; ++l)
                need = active[l] != 0.0 &&
                       needed(std::sqrt(dist2[static_cast<std::size_t>(m)][l]), rmin[l]);
            if (need) append(m);
        }
        list_final = n_list == n_mem;
        x0 = x;
    };
    // Adds the patterns lane l's new query needs (the others' needs are unchanged).
    const auto admit = [&](int l) {
        double best = INFINITY;
        for (std::int64_t m = 0; m < n_mem; ++m) {
            double acc = 0.0;
            for (std::int64_t k = 0; k < dim; ++k) {
                const double diff = x[static_cast<std::size_t>(k)][sl(l)] -
                                    memd[static_cast<std::size_t>(m * dim + k)];
                acc += diff * diff;
            }
            lane_d2[static_cast<std::size_t>(m)] = acc;
            best = std::min(best, acc);
        }
        const double rmin = std::sqrt(best);
        for (std::int64_t m = 0; m < n_mem && !list_final; ++m)
            if (!in_list[static_cast<std::size_t>(m)] &&
                needed(std::sqrt(lane_d2[static_cast<std::size_t>(m)]), rmin))
                append(m);
    };
    // Writes lane l's result and empties the lane.
    const auto finish = [&](int l, retrieval_status st, std::int64_t steps) {
        const auto i = static_cast<std::size_t>(qi[sl(l)]);
        for (std::int64_t k = 0; k < dim; ++k) {
            auto& v = x[static_cast<std::size_t>(k)][sl(l)];
            res.states[i * sd + static_cast<std::size_t>(k)] = static_cast<T>(v);
            v = 0.0;  // an empty lane computes on finite values
        }
        res.status[i] = st;
        res.steps[i] = steps;
        qi[sl(l)] = -1;
        tl[sl(l)] = 0.0;  // an empty lane reads the schedules at t = 0
        active[sl(l)] = 0.0;
        --n_active;
    };
    // Puts the item's next query, if any, into the empty lane l.
    const auto load = [&](int l) {
        while (next < q_end) {
            const std::int64_t i = next++;
            qi[sl(l)] = i;
            tl[sl(l)] = 0.0;
            active[sl(l)] = 1.0;
            ++n_active;
            for (std::int64_t k = 0; k < dim; ++k) {
                const double v =
                    static_cast<double>(res.states[static_cast<std::size_t>(i * dim + k)]);
                x[static_cast<std::size_t>(k)][sl(l)] = v;
                x0[static_cast<std::size_t>(k)][sl(l)] = v;
            }
            if (opt.max_steps == 0) {
                finish(l, retrieval_status::max_steps, 0);
                continue;
            }
            if (started && !list_final) admit(l);
            return;
        }
    };
    for (int l = 0; l < lanes; ++l) load(l);
    if (!list_final) rebuild();
    started = true;
    for (std::int64_t round = 1; n_active > 0; ++round) {
        if (round % 128 == 0 && poll()) return;  // interrupted: the results are discarded
        if (!list_final) {
            lane_d s2{};
            for (std::int64_t k = 0; k < dim; ++k) {
                const lane_d& xk = x[static_cast<std::size_t>(k)];
                const lane_d& x0k = x0[static_cast<std::size_t>(k)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l) {
                    const double dx = xk[l] - x0k[l];
                    s2[l] += dx * dx;
                }
            }
            double moved = 0.0;
            for (int l = 0; l < lanes; ++l)
                moved = active[l] != 0.0 ? std::max(moved, s2[l]) : moved;
            if (!(std::sqrt(moved) < 0.999 * skin)) rebuild();
        }
        // Each lane's query is at its own step t: its schedule values.
        for (int l = 0; l < lanes && (round == 1 || beta_schedule); ++l) {
            const double b = s.beta_at(static_cast<std::int64_t>(tl[l]));
            beta_l[sl(l)] = b;
            hbc[sl(l)] = static_cast<C>(0.5 * b);
            bcc[sl(l)] = static_cast<C>(b);
        }
        for (std::int64_t k = 0; k < dim; ++k)
#pragma omp simd
            for (int l = 0; l < lanes; ++l)
                xc[static_cast<std::size_t>(k)][l] =
                    static_cast<C>(x[static_cast<std::size_t>(k)][l]);
        // Squared distances (or dot products), U patterns at a time (independent chains):
        // groups of PU, then one group each of 4, 2 and 1 for the rest.
        const auto dist_group = [&]<int U>(std::int64_t m) __attribute__((always_inline)) {
            const C* xi = list_xi.data() + m * dim;
            std::array<lane_c, U> acc;  // no memset: set by the first coordinate
            for (int u = 0; u < U; ++u)
#pragma omp simd
                for (int l = 0; l < lanes; ++l) acc[static_cast<std::size_t>(u)][l] = C(0);
            for (std::int64_t k = 0; k < dim; ++k) {
                const lane_c& xk = xc[static_cast<std::size_t>(k)];
                for (int u = 0; u < U; ++u) {
                    const C c = xi[u * dim + k];
                    lane_c& au = acc[static_cast<std::size_t>(u)];
#pragma omp simd
                    for (int l = 0; l < lanes; ++l) {
                        if constexpr (P::distance) {
                            const C diff = xk[l] - c;
                            au[l] += diff * diff;
                        } else {
                            au[l] += xk[l] * c;
                        }
                    }
                }
            }
            for (int u = 0; u < U; ++u)
                q[static_cast<std::size_t>(m + u)] = acc[static_cast<std::size_t>(u)];
        };
        std::int64_t m = 0;
        for (; m + PU <= n_list; m += PU) dist_group.template operator()<PU>(m);
        if (m + 4 <= n_list) {
            dist_group.template operator()<4>(m);
            m += 4;
        }
        if (m + 2 <= n_list) {
            dist_group.template operator()<2>(m);
            m += 2;
        }
        if (m < n_list) dist_group.template operator()<1>(m);
#pragma omp simd
        for (int l = 0; l < lanes; ++l) {
            shift[l] = P::exp_type ? std::numeric_limits<C>::infinity() : C(0);
            z[l] = C(0);
            sw[l] = C(0);
        }
        if constexpr (P::exp_type) {
            for (std::int64_t j = 0; j < n_list; ++j)
#pragma omp simd
                for (int l = 0; l < lanes; ++l)
                    shift[l] = std::min(shift[l], hbc[l] * q[static_cast<std::size_t>(j)][l]);
        }
        for (std::int64_t j = 0; j < n_list; ++j) {
            const lane_c& qj = q[static_cast<std::size_t>(j)];
            lane_c& wj = w[static_cast<std::size_t>(j)];
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                C v, ww;
                if constexpr (P::distance) {
                    const C a = hbc[l] * qj[l] - shift[l];
                    v = P::value(a);
                    ww = P::exp_type ? v : P::weight(a);
                } else {
                    v = P::value(bcc[l] * qj[l], prm.degree);
                    ww = P::weight(bcc[l] * qj[l], prm.degree);
                }
                z[l] += v;
                sw[l] += ww;
                wj[l] = ww;
            }
        }
        if (log_q && prm.eps == 0.0) {
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                const double zl = static_cast<double>(z[l]);
                scale[l] = zl > 0.0 ? 1.0 / zl : 0.0;  // = assemble_scale's value for eps = 0
            }
        } else {
            for (int l = 0; l < lanes; ++l)
                scale[l] = assemble_scale(static_cast<double>(shift[l]),
                                          static_cast<double>(z[l]),
                                          beta_l[l],
                                          prm.eps,
                                          log_q);
        }
        // Gradient: scale * sum_mu w_mu (x - xi_mu) (distance kernels) or
        // -scale * sum_mu w_mu xi_mu (poly), KB coordinates at a time (their sums in registers).
        for (std::int64_t k0 = 0; k0 < dim; k0 += KB) {
            const int kc = static_cast<int>(std::min<std::int64_t>(KB, dim - k0));
            std::array<lane_c, KB> acc{};
            const auto add = [&](int kk, const lane_c& wj, C c) {
                const lane_c& xk = xc[static_cast<std::size_t>(k0 + kk)];
                lane_c& ak = acc[static_cast<std::size_t>(kk)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l) {
                    if constexpr (P::distance)
                        ak[l] += wj[l] * (xk[l] - c);
                    else
                        ak[l] -= wj[l] * c;
                }
            };
            if (kc == KB) {
                for (std::int64_t j = 0; j < n_list; ++j) {
                    const lane_c& wj = w[static_cast<std::size_t>(j)];
                    const C* xi = list_xi.data() + j * dim + k0;
                    for (int kk = 0; kk < KB; ++kk) add(kk, wj, xi[kk]);
                }
            } else {
                for (std::int64_t j = 0; j < n_list; ++j) {
                    const lane_c& wj = w[static_cast<std::size_t>(j)];
                    const C* xi = list_xi.data() + j * dim + k0;
                    for (int kk = 0; kk < kc; ++kk) add(kk, wj, xi[kk]);
                }
            }
            for (int kk = 0; kk < kc; ++kk) {
                lane_d& gk = g[static_cast<std::size_t>(k0 + kk)];
                const lane_c& ak = acc[static_cast<std::size_t>(kk)];
                const double keep = keep_dim[static_cast<std::size_t>(k0 + kk)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l)
                    gk[l] = keep * scale[l] * static_cast<double>(ak[l]);
            }
        }
        gmax.fill(0.0);
        for (std::int64_t k = 0; k < dim; ++k) {
            const lane_d& gk = g[static_cast<std::size_t>(k)];
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                // NaN must win (std::max would drop it and report convergence).
                const double ag = std::abs(gk[l]);
                gmax[l] = (ag > gmax[l] || ag != ag) ? ag : gmax[l];
            }
        }
        // Stopping decisions, vectorised: `stop` marks the lanes whose query stops now (it is
        // written out and the lane refilled; the new query steps from the next round on),
        // `move` those that take this step.
        lane_d stop{}, move{}, a_t{};
        double any_stop = 0.0;
#pragma omp simd reduction(max : any_stop)
        for (int l = 0; l < lanes; ++l) {
            const bool unsupported = P::compact && z[l] == C(0);
            const bool bad = !(gmax[l] <= std::numeric_limits<double>::max());  // NaN or Inf
            const bool conv = opt.tol > 0.0 && gmax[l] < opt.tol;
            stop[l] = active[l] != 0.0 && (unsupported || bad || conv) ? 1.0 : 0.0;
            move[l] = active[l] != 0.0 && stop[l] == 0.0 ? 1.0 : 0.0;
            a_t[l] = alpha[static_cast<std::size_t>(tl[l] < last_entry ? tl[l] : last_entry)];
            any_stop = std::max(any_stop, stop[l]);
        }
        if (beyond_table)  // step limits over table_cap: later steps are evaluated when reached
            for (int l = 0; l < lanes; ++l)
                if (tl[sl(l)] > last_entry)
                    a_t[sl(l)] = s.alpha_at(static_cast<std::int64_t>(tl[l]));
        if (any_stop != 0.0) {
            for (int l = 0; l < lanes; ++l) {
                if (stop[sl(l)] == 0.0) continue;
                retrieval_status st = retrieval_status::converged;
                if (P::compact && z[l] == C(0))
                    st = retrieval_status::out_of_support;
                else if (!std::isfinite(gmax[l]))
                    st = retrieval_status::non_finite;
                finish(l, st, static_cast<std::int64_t>(tl[l]));
                load(l);
            }
        }
        if (any_noise) {
            for (int l = 0; l < lanes; ++l) {
                const auto t = static_cast<std::int64_t>(tl[l]);
                const double sig = s.sigma_at(t);
                if (move[sl(l)] == 0.0 || sig == 0.0) continue;
                for (std::int64_t k = 0; k < dim; ++k)
                    g[static_cast<std::size_t>(k)][sl(l)] +=
                        keep_dim[static_cast<std::size_t>(k)] * sig *
                        counter_normal(opt.seed,
                                       static_cast<std::uint64_t>(qi[sl(l)]),
                                       static_cast<std::uint64_t>(t),
                                       static_cast<std::uint64_t>(k));
            }
        }
        // The state lives in T between steps, as on the tiled path; other lanes keep theirs.
        lane_d finite{};
        finite.fill(1.0);
        for (std::int64_t k = 0; k < dim; ++k) {
            lane_d& xk = x[static_cast<std::size_t>(k)];
            const lane_d& gk = g[static_cast<std::size_t>(k)];
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                const double v =
                    static_cast<double>(static_cast<T>(static_cast<T>(xk[l]) - a_t[l] * gk[l]));
                xk[l] = move[l] != 0.0 ? v : xk[l];
                finite[l] = (move[l] == 0.0 || v - v == 0.0) ? finite[l] : 0.0;
            }
        }
        double any_end = 0.0;
#pragma omp simd reduction(max : any_end)
        for (int l = 0; l < lanes; ++l) {
            tl[l] += move[l];
            const bool end = move[l] != 0.0 && (finite[l] == 0.0 || tl[l] == max_steps_d);
            any_end = std::max(any_end, end ? 1.0 : 0.0);
        }
        if (any_end != 0.0) {
            for (int l = 0; l < lanes; ++l) {
                if (move[sl(l)] == 0.0) continue;
                const auto t = static_cast<std::int64_t>(tl[l]);
                if (finite[sl(l)] == 0.0)
                    finish(l, retrieval_status::non_finite, t);
                else if (t == opt.max_steps)
                    finish(l, retrieval_status::max_steps, t);
                else
                    continue;
                load(l);
            }
        }
    }
}

template <class P, class T, class C, class Poll>
DENSEAM_TARGET_AVX512 void small_block_wide(const small_setup<T>& s,
                                            std::int64_t item,
                                            Poll& poll) {
    small_block<P, T, C, 32>(s, item, poll);
}

template <class P, class T, class C, class Poll>
void small_block_narrow(const small_setup<T>& s, std::int64_t item, Poll& poll) {
    small_block<P, T, C, 8>(s, item, poll);
}

template <class P, class T, class C, int lanes>
void small_descent(matrix_view<const T> mem,
                   const energy_params& prm,
                   const retrieve_options& opt,
                   const std::vector<char>& clamped,
                   retrieve_result<T>& res,
                   const exec_options& exec) {
    small_setup<T> s{prm, opt, res};
    s.n_mem = mem.rows;
    s.dim = mem.cols;
    s.n = static_cast<std::int64_t>(res.steps.size());
    s.memd.resize(static_cast<std::size_t>(s.n_mem * s.dim));
    for (std::int64_t m = 0; m < s.n_mem; ++m)
        for (std::int64_t k = 0; k < s.dim; ++k)
            s.memd[static_cast<std::size_t>(m * s.dim + k)] = static_cast<double>(mem(m, k));
    const bool use_beta_schedule = uses_beta_schedule(opt);
    s.log_q = resolved_q(prm) == q_kind::log;
    s.beta_schedule = use_beta_schedule;
    s.table_len = std::max<std::int64_t>(1, std::min(opt.max_steps, s.table_cap));
    const auto steps = static_cast<std::size_t>(s.table_len);
    s.alpha.resize(steps);
    s.betas.resize(steps);
    s.sigma.resize(steps);
    for (std::int64_t t = 0; t < s.table_len; ++t) {
        const auto st = static_cast<std::size_t>(t);
        s.alpha[st] = opt.step_size.at(t, opt.max_steps);
        s.betas[st] = use_beta_schedule ? opt.beta.at(t, opt.max_steps) : prm.beta;
        s.sigma[st] = opt.noise.at(t, opt.max_steps);
        s.any_noise = s.any_noise || s.sigma[st] != 0.0;
    }
    if (opt.max_steps > s.table_len)  // noise that starts only after the table
        s.any_noise =
            s.any_noise || !(opt.noise.type == schedule::kind::constant && opt.noise.start == 0.0);
    s.prune = P::distance && !use_beta_schedule && s.n_mem > 1;
    s.hb_fixed = 0.5 * prm.beta;
    s.cut = 40.0 + std::log(static_cast<double>(s.n_mem));
    // Skin: half the support radius sqrt(2 / beta) (the distance a shell query starts from).
    s.skin = 0.5 * std::sqrt(2.0 / prm.beta);
    s.keep_dim.resize(static_cast<std::size_t>(s.dim));
    for (std::int64_t k = 0; k < s.dim; ++k)
        s.keep_dim[static_cast<std::size_t>(k)] = clamped[static_cast<std::size_t>(k)] ? 0.0 : 1.0;
    parallel_for((s.n + item_lane_queries * lanes - 1) / (item_lane_queries * lanes),
                 exec,
                 [&](std::int64_t item, auto& poll) {
                     if constexpr (lanes == 32)
                         small_block_wide<P, T, C>(s, item, poll);
                     else
                         small_block_narrow<P, T, C>(s, item, poll);
                 });
}

template <class T>
retrieve_result<T> gradient_descent(matrix_view<const T> mem,
                                    matrix_view<const T> qry,
                                    const energy_params& prm,
                                    const retrieve_options& opt,
                                    const exec_options& exec) {
    const std::int64_t n = qry.rows, dim = qry.cols;
    auto res = make_result<T>(n, dim);
    for (std::int64_t i = 0; i < n; ++i)
        std::copy(qry.row(i), qry.row(i) + dim, res.states.begin() + i * dim);
    std::vector<char> clamped(static_cast<std::size_t>(dim), 0);
    for (auto c : opt.clamp) clamped[static_cast<std::size_t>(c)] = 1;
    const bool use_beta_schedule = uses_beta_schedule(opt);

    std::vector<std::int64_t> active(static_cast<std::size_t>(n));
    if (mem.rows * dim <= small_descent_limit) {
        with_kernel(prm.kernel, [&](auto policy) {
            using P = decltype(policy);
            const auto run = [&]<int L>() {
                if constexpr (std::is_same_v<T, float>)
                    small_descent<P, T, float, L>(mem, prm, opt, clamped, res, exec);
                else if (opt.precision == gradient_precision::single)
                    small_descent<P, T, float, L>(mem, prm, opt, clamped, res, exec);
                else
                    small_descent<P, T, double, L>(mem, prm, opt, clamped, res, exec);
            };
#if DENSEAM_HAVE_AVX512_BUILD
            if (wide_vectors())
                run.template operator()<32>();
            else
#endif
                run.template operator()<8>();
        });
        active.clear();  // every query is finished
    } else {
        for (std::int64_t i = 0; i < n; ++i) active[static_cast<std::size_t>(i)] = i;
    }
    std::vector<T> xs, grad, e;
    std::vector<energy_status> st;
    const bool single = !std::is_same_v<T, float> && opt.precision == gradient_precision::single;
    std::vector<float> mem_f, xs_f, grad_f, e_f;
    if (single && !active.empty())
        for (std::int64_t m = 0; m < mem.rows; ++m)
            for (std::int64_t k = 0; k < dim; ++k) mem_f.push_back(static_cast<float>(mem(m, k)));
    for (std::int64_t t = 0; t < opt.max_steps && !active.empty(); ++t) {
        const auto na = static_cast<std::int64_t>(active.size());
        xs.resize(static_cast<std::size_t>(na * dim));
        grad.resize(xs.size());
        e.resize(static_cast<std::size_t>(na));
        st.resize(static_cast<std::size_t>(na));
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            std::copy(res.states.begin() + i * dim,
                      res.states.begin() + (i + 1) * dim,
                      xs.begin() + a * dim);
        }
        energy_params p = prm;
        if (use_beta_schedule) p.beta = opt.beta.at(t, opt.max_steps);
        const double alpha = opt.step_size.at(t, opt.max_steps);
        const double sigma = opt.noise.at(t, opt.max_steps);
        if (single) {
            // gradient_precision::single for T = double: the engine in float, the state in T.
            xs_f.assign(xs.begin(), xs.end());
            grad_f.resize(xs.size());
            e_f.resize(e.size());
            energy_unchecked(matrix_view<const float>(mem_f.data(), mem.rows, dim),
                             matrix_view<const float>(xs_f.data(), na, dim),
                             p,
                             std::span<float>(e_f),
                             matrix_view<float>(grad_f.data(), na, dim),
                             std::span(st),
                             exec);
            std::copy(grad_f.begin(), grad_f.end(), grad.begin());
            std::copy(e_f.begin(), e_f.end(), e.begin());
        } else {
            energy_unchecked(mem,
                             matrix_view<const T>(xs.data(), na, dim),
                             p,
                             std::span<T>(e),
                             matrix_view<T>(grad.data(), na, dim),
                             std::span(st),
                             exec);
        }
        std::vector<std::int64_t> still;
        still.reserve(active.size());
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            const auto si = static_cast<std::size_t>(i);
            T* g = grad.data() + a * dim;
            double gmax = 0.0;
            for (std::int64_t k = 0; k < dim; ++k) {
                if (clamped[static_cast<std::size_t>(k)]) g[k] = T(0);
                const double ag = std::abs(static_cast<double>(g[k]));
                gmax = (ag > gmax || ag != ag) ? ag : gmax;  // NaN must win
            }
            res.steps[si] = t;
            if (has_compact_support(prm.kernel) &&
                st[static_cast<std::size_t>(a)] == energy_status::unsupported) {
                res.status[si] = retrieval_status::out_of_support;
                continue;
            }
            if (!std::isfinite(gmax) ||
                !std::isfinite(static_cast<double>(e[static_cast<std::size_t>(a)]))) {
                res.status[si] = retrieval_status::non_finite;
                continue;
            }
            if (opt.tol > 0.0 && gmax < opt.tol) {
                res.status[si] = retrieval_status::converged;
                continue;
            }
            T* x = res.states.data() + i * dim;
            bool finite = true;
            for (std::int64_t k = 0; k < dim; ++k) {
                if (clamped[static_cast<std::size_t>(k)]) continue;
                double step = g[k];
                if (sigma != 0.0)
                    step += sigma * counter_normal(opt.seed,
                                                   static_cast<std::uint64_t>(i),
                                                   static_cast<std::uint64_t>(t),
                                                   static_cast<std::uint64_t>(k));
                x[k] = static_cast<T>(x[k] - alpha * step);
                finite = finite && std::isfinite(static_cast<double>(x[k]));
            }
            res.steps[si] = t + 1;
            if (!finite) {
                res.status[si] = retrieval_status::non_finite;
                continue;
            }
            still.push_back(i);
        }
        active.swap(still);
    }
    // Queries still active ran out of steps (status already max_steps).
    final_energies(mem, prm, res, exec);
    return res;
}

#define DENSEAM_INSTANTIATE(T)                                            \
    template retrieve_result<T> lsr_fixed_point(matrix_view<const T>,     \
                                                matrix_view<const T>,     \
                                                const energy_params&,     \
                                                const retrieve_options&,  \
                                                const exec_options&);     \
    template retrieve_result<T> mean_shift(matrix_view<const T>,          \
                                           matrix_view<const T>,          \
                                           const energy_params&,          \
                                           const retrieve_options&,       \
                                           const exec_options&);          \
    template retrieve_result<T> gradient_descent(matrix_view<const T>,    \
                                                 matrix_view<const T>,    \
                                                 const energy_params&,    \
                                                 const retrieve_options&, \
                                                 const exec_options&);
DENSEAM_INSTANTIATE(float)
DENSEAM_INSTANTIATE(double)
#undef DENSEAM_INSTANTIATE

}  // namespace denseam::detail
