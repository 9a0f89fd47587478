// SPDX-License-Identifier: MIT
// The lane descent's body: gradient descent for small memory sets (M * dim <=
// small_descent_limit, methods.hpp) with no engine call (and no GEMM) per step. Included only
// by lane_descent.cpp, which compiles it once per instruction set (see there for why every
// function here is always inlined).
//
// Queries descend `lanes` at a time, vectorised across the lanes (memory sets of a few dozen
// patterns are too small to vectorise over); a lane whose query stops takes the next query of
// its work item, so each lane is at its own step of the schedules. Same update, stopping rule
// and statuses as the tiled path; the kernel math comes from the same policies and
// assemble_scale. The gradient is evaluated in C (T, or float for gradient_precision::single),
// the state and the update stay in T (held in double). For distance kernels the gradient is
// formed as sum_mu w_mu (x - xi_mu), from differences, so that near a minimum it is accurate
// relative to the distances, not to the coordinates.
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
//
// One round of block::run, every lane one step:
//   skin check (rebuild)  ->  schedules  ->  distances  ->  weights and scale  ->  gradient
//   ->  stop (finish, refill)  ->  noise  ->  update  ->  step limit (finish, refill).
// The per-pattern loops (distances, weights, gradient sums) accumulate in lane_vec values, which
// the compiler keeps in registers whatever it can prove about the pointers around them.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "denseam/retrieval.hpp"
#include "engine/rng.hpp"
#include "kernels/policies.hpp"

// Every function of the body: inlined into the per-ISA entry points of lane_descent.cpp, so
// that it is compiled for their instruction set (and never left as a shared out-of-line copy).
#define DENSEAM_LANE_INLINE __attribute__((always_inline)) inline

namespace denseam::detail::lane {

// Queries per lane of a work item: a lane whose query stops takes the item's next query, so
// lanes do not idle while the slowest query of a block finishes.
constexpr std::int64_t item_lane_queries = 16;

// What every work item shares: the patterns in double, the schedules, the list parameters.
template <class T>
struct setup {
    setup(const energy_params& p, const retrieve_options& o, retrieve_result<T>& r)
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

// One lane vector of C held as GCC vectors of one hardware register each (an AVX-512 register
// for the 32-lane build, an AVX one for the 8-lane build): the type of the accumulators of the
// per-pattern loops. They are values, kept in registers by construction, where lane arrays
// updated in `omp simd` loops are memory that the compiler keeps in registers only if it can
// prove that no load or store of the loop touches them (it often cannot: every pointer into
// the lanes' buffers may point anywhere as far as it knows). The same element-wise operations
// in the same order: the results are those of the lane arrays, bit for bit.
template <class C, int lanes>
struct lane_vec {
    static constexpr int bytes = lanes >= 32 ? 64 : 32;
    static constexpr int width = bytes / static_cast<int>(sizeof(C));
    static constexpr int parts = lanes / width;
    static_assert(parts * width == lanes);
    typedef C part __attribute__((vector_size(bytes)));
    part p[parts];

    // One register at a time: each copy is one vector load or store.
    DENSEAM_LANE_INLINE void load(const std::array<C, lanes>& a) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i)
            std::memcpy(static_cast<void*>(&p[i]), a.data() + i * width, sizeof(part));
    }
    DENSEAM_LANE_INLINE void store(std::array<C, lanes>& a) const {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i)
            std::memcpy(a.data() + i * width, static_cast<const void*>(&p[i]), sizeof(part));
    }
    // this += (x - c)^2
    DENSEAM_LANE_INLINE void add_sq_diff(const lane_vec& x, C c) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i) {
            const part d = x.p[i] - c;
            p[i] += d * d;
        }
    }
    // this += x c
    DENSEAM_LANE_INLINE void add_prod(const lane_vec& x, C c) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i) p[i] += x.p[i] * c;
    }
    // this += w (x - c)
    DENSEAM_LANE_INLINE void add_weighted_diff(const lane_vec& w, const lane_vec& x, C c) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i) p[i] += w.p[i] * (x.p[i] - c);
    }
    // this -= w c
    DENSEAM_LANE_INLINE void sub_prod(const lane_vec& w, C c) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i) p[i] -= w.p[i] * c;
    }
    // this += x
    DENSEAM_LANE_INLINE void add(const lane_vec& x) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i) p[i] += x.p[i];
    }
    // this = std::min(this, a b), element-wise
    DENSEAM_LANE_INLINE void min_prod(const lane_vec& a, const lane_vec& b) {
#pragma GCC unroll 8
        for (int i = 0; i < parts; ++i) {
            const part v = a.p[i] * b.p[i];
            p[i] = v < p[i] ? v : p[i];
        }
    }
};

// One work item: its queries through `lanes` lanes, from start to stop (run). P is the kernel
// policy, T the state type, C the type the gradient is evaluated in.
template <class P, class T, class C, int lanes>
class block {
  public:
    using lane_d = std::array<double, lanes>;
    using lane_c = std::array<C, lanes>;
    using vec_c = lane_vec<C, lanes>;
    static constexpr std::int64_t item_queries = item_lane_queries * lanes;
    // Patterns per distance group and coordinates per gradient group: enough independent
    // accumulation chains to fill the FMA pipes, few enough to stay in registers.
    static constexpr int PU = sizeof(C) == 4 ? 8 : 4;
    static constexpr int KB = sizeof(C) == 4 ? 4 : 2;

    DENSEAM_LANE_INLINE block(const setup<T>& s, std::int64_t item)
        : s_(s),
          opt_(s.opt),
          res_(s.res),
          n_mem_(s.n_mem),
          dim_(s.dim),
          sd_(static_cast<std::size_t>(s.dim)),
          q_end_(std::min(s.n, (item + 1) * item_queries)),
          next_(item * item_queries),
          x_(sd_),
          x0_(sd_),
          g_(sd_),
          dist2_(static_cast<std::size_t>(s.n_mem)),
          xc_(sd_),
          q_(static_cast<std::size_t>(s.n_mem)),
          w_(static_cast<std::size_t>(s.n_mem)),
          lane_d2_(static_cast<std::size_t>(s.n_mem)),
          list_xi_(static_cast<std::size_t>(s.n_mem) * sd_ + KB),
          in_list_(static_cast<std::size_t>(s.n_mem), 1),
          n_list_(s.n_mem),
          list_final_(!s.prune) {
        for (std::size_t j = 0; j < s.memd.size(); ++j) list_xi_[j] = static_cast<C>(s.memd[j]);
        qi_.fill(-1);
    }

    template <class Poll>
    DENSEAM_LANE_INLINE void run(Poll& poll) {
        for (int l = 0; l < lanes; ++l) load(l);
        if (!list_final_) rebuild();
        started_ = true;
        for (std::int64_t round = 1; n_active_ > 0; ++round) {
            if (round % 128 == 0 && poll()) return;  // interrupted: the results are discarded
            if (!list_final_ && moved_past_skin()) rebuild();
            if (round == 1 || s_.beta_schedule) read_betas();
            distances();
            weights();
            gradient();
            step();
        }
    }

  private:
    static constexpr std::size_t sl(int l) { return static_cast<std::size_t>(l); }
    static constexpr std::size_t sz(std::int64_t i) { return static_cast<std::size_t>(i); }

    // ---- lanes: refill and write out ----------------------------------------------------

    // Writes lane l's result and empties the lane.
    DENSEAM_LANE_INLINE void finish(int l, retrieval_status st, std::int64_t steps) {
        const auto i = static_cast<std::size_t>(qi_[sl(l)]);
        for (std::int64_t k = 0; k < dim_; ++k) {
            auto& v = x_[sz(k)][sl(l)];
            res_.states[i * sd_ + sz(k)] = static_cast<T>(v);
            v = 0.0;  // an empty lane computes on finite values
        }
        res_.status[i] = st;
        res_.steps[i] = steps;
        qi_[sl(l)] = -1;
        tl_[sl(l)] = 0.0;  // an empty lane reads the schedules at t = 0
        active_[sl(l)] = 0.0;
        --n_active_;
    }

    // Puts the item's next query, if any, into the empty lane l.
    DENSEAM_LANE_INLINE void load(int l) {
        while (next_ < q_end_) {
            const std::int64_t i = next_++;
            qi_[sl(l)] = i;
            tl_[sl(l)] = 0.0;
            active_[sl(l)] = 1.0;
            ++n_active_;
            for (std::int64_t k = 0; k < dim_; ++k) {
                const double v = static_cast<double>(res_.states[sz(i * dim_ + k)]);
                x_[sz(k)][sl(l)] = v;
                x0_[sz(k)][sl(l)] = v;
            }
            if (opt_.max_steps == 0) {
                finish(l, retrieval_status::max_steps, 0);
                continue;
            }
            if (started_ && !list_final_) admit(l);
            return;
        }
    }

    // ---- neighbour lists ----------------------------------------------------------------

    // Whether a pattern at distance r (at the last rebuild) can matter to a query whose nearest
    // pattern was at r_min, anywhere within the skin.
    DENSEAM_LANE_INLINE bool needed(double r, double r_min) const {
        // Conservative by a relative 1e-12 against rounding in r and s.
        const double lo = std::max(0.0, r - s_.skin - 1e-12 * (1.0 + r));
        if constexpr (P::compact) {
            (void)r_min;
            return s_.hb_fixed * lo * lo < 1.0;
        } else {
            const double hi = r_min + s_.skin + 1e-12 * (1.0 + r_min);
            return s_.hb_fixed * (lo * lo - hi * hi) <= s_.cut;
        }
    }

    DENSEAM_LANE_INLINE void append(std::int64_t m) {
        for (std::int64_t k = 0; k < dim_; ++k)
            list_xi_[sz(n_list_ * dim_ + k)] = static_cast<C>(s_.memd[sz(m * dim_ + k)]);
        in_list_[sz(m)] = 1;
        ++n_list_;
        list_final_ = n_list_ == n_mem_;
    }

    // A fresh list for the queries in the lanes now, from exact (double) distances.
    DENSEAM_LANE_INLINE void rebuild() {
        const std::int64_t n_mem = n_mem_, dim = dim_;
        for (std::int64_t m = 0; m < n_mem; ++m) {
            const double* xi = s_.memd.data() + m * dim;
            lane_d acc{};
            for (std::int64_t k = 0; k < dim; ++k) {
                const lane_d& xk = x_[sz(k)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l) {
                    const double diff = xk[l] - xi[k];
                    acc[l] += diff * diff;
                }
            }
            dist2_[sz(m)] = acc;
        }
        lane_d rmin{};
        for (int l = 0; l < lanes; ++l) {
            double best = INFINITY;
            for (std::int64_t m = 0; m < n_mem; ++m) best = std::min(best, dist2_[sz(m)][l]);
            rmin[l] = std::sqrt(best);
        }
        n_list_ = 0;
        std::fill(in_list_.begin(), in_list_.end(), 0);
        for (std::int64_t m = 0; m < n_mem; ++m) {
            bool need = false;
            for (int l = 0; l < lanes && !need; ++l)
                need = active_[l] != 0.0 && needed(std::sqrt(dist2_[sz(m)][l]), rmin[l]);
            if (need) append(m);
        }
        list_final_ = n_list_ == n_mem;
        x0_ = x_;
    }

    // Adds the patterns lane l's new query needs (the others' needs are unchanged).
    DENSEAM_LANE_INLINE void admit(int l) {
        const std::int64_t n_mem = n_mem_, dim = dim_;
        double best = INFINITY;
        for (std::int64_t m = 0; m < n_mem; ++m) {
            double acc = 0.0;
            for (std::int64_t k = 0; k < dim; ++k) {
                const double diff = x_[sz(k)][sl(l)] - s_.memd[sz(m * dim + k)];
                acc += diff * diff;
            }
            lane_d2_[sz(m)] = acc;
            best = std::min(best, acc);
        }
        const double rmin = std::sqrt(best);
        for (std::int64_t m = 0; m < n_mem && !list_final_; ++m)
            if (!in_list_[sz(m)] && needed(std::sqrt(lane_d2_[sz(m)]), rmin)) append(m);
    }

    // Whether a query in the lanes has moved a skin away from where it was at the last
    // rebuild (or when it entered).
    DENSEAM_LANE_INLINE bool moved_past_skin() const {
        lane_d s2{};
        for (std::int64_t k = 0; k < dim_; ++k) {
            const lane_d& xk = x_[sz(k)];
            const lane_d& x0k = x0_[sz(k)];
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                const double dx = xk[l] - x0k[l];
                s2[l] += dx * dx;
            }
        }
        double moved = 0.0;
        for (int l = 0; l < lanes; ++l) moved = active_[l] != 0.0 ? std::max(moved, s2[l]) : moved;
        return !(std::sqrt(moved) < 0.999 * s_.skin);
    }

    // ---- one step of every lane ---------------------------------------------------------

    // Each lane's query is at its own step t: its beta (read every round under a schedule,
    // once otherwise).
    DENSEAM_LANE_INLINE void read_betas() {
        for (int l = 0; l < lanes; ++l) {
            const double b = s_.beta_at(static_cast<std::int64_t>(tl_[l]));
            beta_l_[sl(l)] = b;
            hbc_[sl(l)] = static_cast<C>(0.5 * b);
            bcc_[sl(l)] = static_cast<C>(b);
        }
    }

    // Squared distances (or dot products) of U patterns from m on, in C: independent chains.
    template <int U>
    DENSEAM_LANE_INLINE void dist_group(std::int64_t m) {
        const std::int64_t dim = dim_;
        const C* xi = list_xi_.data() + m * dim;
        vec_c acc[U] = {};
        for (std::int64_t k = 0; k < dim; ++k) {
            vec_c xk;
            xk.load(xc_[sz(k)]);
#pragma GCC unroll 8
            for (int u = 0; u < U; ++u) {
                if constexpr (P::distance)
                    acc[u].add_sq_diff(xk, xi[u * dim + k]);
                else
                    acc[u].add_prod(xk, xi[u * dim + k]);
            }
        }
#pragma GCC unroll 8
        for (int u = 0; u < U; ++u) acc[u].store(q_[sz(m + u)]);
    }

    // The states in C, then their distances to the listed patterns: groups of PU, then one
    // group each of 4, 2 and 1 for the rest.
    DENSEAM_LANE_INLINE void distances() {
        for (std::int64_t k = 0; k < dim_; ++k)
#pragma omp simd
            for (int l = 0; l < lanes; ++l) xc_[sz(k)][l] = static_cast<C>(x_[sz(k)][l]);
        const std::int64_t n_list = n_list_;
        std::int64_t m = 0;
        for (; m + PU <= n_list; m += PU) dist_group<PU>(m);
        if (m + 4 <= n_list) {
            dist_group<4>(m);
            m += 4;
        }
        if (m + 2 <= n_list) {
            dist_group<2>(m);
            m += 2;
        }
        if (m < n_list) dist_group<1>(m);
    }

    // The weights w_mu (into w_), the kernel sum z (into z_) and each lane's gradient scale.
    DENSEAM_LANE_INLINE void weights() {
        const std::int64_t n_list = n_list_;
        [[maybe_unused]] const int degree = s_.prm.degree;
        const lane_c hbc = hbc_;
        [[maybe_unused]] const lane_c bcc = bcc_;
        lane_c shift;
        shift.fill(P::exp_type ? std::numeric_limits<C>::infinity() : C(0));
        if constexpr (P::exp_type) {
            vec_c hb, sh;
            hb.load(hbc);
            sh.load(shift);
            for (std::int64_t j = 0; j < n_list; ++j) {
                vec_c qj;
                qj.load(q_[sz(j)]);
                sh.min_prod(hb, qj);
            }
            sh.store(shift);
        }
        vec_c zv{};
        for (std::int64_t j = 0; j < n_list; ++j) {
            const lane_c& qj = q_[sz(j)];
            lane_c& wj = w_[sz(j)];
            lane_c vj;
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                C v, ww;
                if constexpr (P::distance) {
                    const C a = hbc[l] * qj[l] - shift[l];
                    v = P::value(a);
                    ww = P::exp_type ? v : P::weight(a);
                } else {
                    v = P::value(bcc[l] * qj[l], degree);
                    ww = P::weight(bcc[l] * qj[l], degree);
                }
                wj[l] = ww;
                vj[l] = v;
            }
            vec_c v;
            v.load(vj);
            zv.add(v);
        }
        lane_c z;
        zv.store(z);
        z_ = z;
        const double eps = s_.prm.eps;
        if (s_.log_q && eps == 0.0) {
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                const double zl = static_cast<double>(z[l]);
                scale_[l] = zl > 0.0 ? 1.0 / zl : 0.0;  // = assemble_scale's value for eps = 0
            }
        } else {
            for (int l = 0; l < lanes; ++l)
                scale_[sl(l)] = assemble_scale(static_cast<double>(shift[l]),
                                               static_cast<double>(z[l]),
                                               beta_l_[l],
                                               eps,
                                               s_.log_q);
        }
    }

    // Gradient: scale * sum_mu w_mu (x - xi_mu) (distance kernels) or -scale * sum_mu w_mu xi_mu
    // (poly), KB coordinates at a time (their sums in registers); then each lane's max |g_k|.
    DENSEAM_LANE_INLINE void gradient() {
        const std::int64_t dim = dim_, n_list = n_list_;
        const lane_d scale = scale_;
        for (std::int64_t k0 = 0; k0 < dim; k0 += KB) {
            // kc < KB only for the last group of a dimension that KB does not divide: its
            // other sums run on zero states and the padding at the end of list_xi_, unused.
            const int kc = static_cast<int>(std::min<std::int64_t>(KB, dim - k0));
            vec_c xk[KB] = {}, acc[KB] = {};
#pragma GCC unroll 8
            for (int kk = 0; kk < KB; ++kk)
                if (kk < kc) xk[kk].load(xc_[sz(k0 + kk)]);
            for (std::int64_t j = 0; j < n_list; ++j) {
                vec_c wj;
                wj.load(w_[sz(j)]);
                const C* xi = list_xi_.data() + j * dim + k0;
#pragma GCC unroll 8
                for (int kk = 0; kk < KB; ++kk) {
                    if constexpr (P::distance)
                        acc[kk].add_weighted_diff(wj, xk[kk], xi[kk]);
                    else
                        acc[kk].sub_prod(wj, xi[kk]);
                }
            }
            // A constant index into acc in each unrolled copy (a runtime one would keep the
            // accumulators in memory, not registers, through the loop above).
#pragma GCC unroll 8
            for (int kk = 0; kk < KB; ++kk) {
                if (kk >= kc) break;
                lane_d& gk = g_[sz(k0 + kk)];
                lane_c ak;
                acc[kk].store(ak);
                const double keep = s_.keep_dim[sz(k0 + kk)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l)
                    gk[l] = keep * scale[l] * static_cast<double>(ak[l]);
            }
        }
        lane_d gmax;
        gmax.fill(0.0);
        for (std::int64_t k = 0; k < dim; ++k) {
            const lane_d& gk = g_[sz(k)];
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                // NaN must win (std::max would drop it and report convergence).
                const double ag = std::abs(gk[l]);
                gmax[l] = (ag > gmax[l] || ag != ag) ? ag : gmax[l];
            }
        }
        gmax_ = gmax;
    }

    // Stopping decisions, vectorised: `stop` marks the lanes whose query stops now (it is
    // written out and the lane refilled; the new query steps from the next round on), `move`
    // those that take this step, a_t their step sizes. Returns whether any lane stops.
    DENSEAM_LANE_INLINE bool decide(lane_d& stop, lane_d& move, lane_d& a_t) const {
        const auto& alpha = s_.alpha;
        const auto last_entry = static_cast<double>(s_.table_len - 1);
        const double tol = opt_.tol;
        double any_stop = 0.0;
#pragma omp simd reduction(max : any_stop)
        for (int l = 0; l < lanes; ++l) {
            const bool unsupported = P::compact && z_[l] == C(0);
            const bool bad = !(gmax_[l] <= std::numeric_limits<double>::max());  // NaN or Inf
            const bool conv = tol > 0.0 && gmax_[l] < tol;
            stop[l] = active_[l] != 0.0 && (unsupported || bad || conv) ? 1.0 : 0.0;
            move[l] = active_[l] != 0.0 && stop[l] == 0.0 ? 1.0 : 0.0;
            a_t[l] = alpha[static_cast<std::size_t>(tl_[l] < last_entry ? tl_[l] : last_entry)];
            any_stop = std::max(any_stop, stop[l]);
        }
        if (s_.table_len < opt_.max_steps)  // step limits over table_cap: evaluated when reached
            for (int l = 0; l < lanes; ++l)
                if (tl_[sl(l)] > last_entry)
                    a_t[sl(l)] = s_.alpha_at(static_cast<std::int64_t>(tl_[l]));
        return any_stop != 0.0;
    }

    // Writes out the queries that stop now and refills their lanes.
    DENSEAM_LANE_INLINE void finish_stopped(const lane_d& stop) {
        for (int l = 0; l < lanes; ++l) {
            if (stop[sl(l)] == 0.0) continue;
            retrieval_status st = retrieval_status::converged;
            if (P::compact && z_[sl(l)] == C(0))
                st = retrieval_status::out_of_support;
            else if (!std::isfinite(gmax_[sl(l)]))
                st = retrieval_status::non_finite;
            finish(l, st, static_cast<std::int64_t>(tl_[l]));
            load(l);
        }
    }

    // sigma_t n added to the gradient of the lanes that move, n from the counter-based
    // generator keyed by (seed, query, step, coordinate).
    DENSEAM_LANE_INLINE void add_noise(const lane_d& move) {
        for (int l = 0; l < lanes; ++l) {
            const auto t = static_cast<std::int64_t>(tl_[l]);
            const double sig = s_.sigma_at(t);
            if (move[sl(l)] == 0.0 || sig == 0.0) continue;
            for (std::int64_t k = 0; k < dim_; ++k)
                g_[sz(k)][sl(l)] += s_.keep_dim[sz(k)] * sig *
                                    counter_normal(opt_.seed,
                                                   static_cast<std::uint64_t>(qi_[sl(l)]),
                                                   static_cast<std::uint64_t>(t),
                                                   static_cast<std::uint64_t>(k));
        }
    }

    // x <- x - a_t g for the lanes that move. The state lives in T between steps, as on the
    // tiled path; other lanes keep theirs. `finite` marks the lanes whose new state is finite.
    DENSEAM_LANE_INLINE void update(const lane_d& move, const lane_d& a_t, lane_d& finite) {
        finite.fill(1.0);
        for (std::int64_t k = 0; k < dim_; ++k) {
            lane_d& xk = x_[sz(k)];
            const lane_d& gk = g_[sz(k)];
#pragma omp simd
            for (int l = 0; l < lanes; ++l) {
                const double v =
                    static_cast<double>(static_cast<T>(static_cast<T>(xk[l]) - a_t[l] * gk[l]));
                xk[l] = move[l] != 0.0 ? v : xk[l];
                finite[l] = (move[l] == 0.0 || v - v == 0.0) ? finite[l] : 0.0;
            }
        }
    }

    // Counts the step of the lanes that moved; writes out the queries that end (non-finite
    // state, or the step limit) and refills their lanes.
    DENSEAM_LANE_INLINE void count_step(const lane_d& move, const lane_d& finite) {
        const auto max_steps_d = static_cast<double>(opt_.max_steps);
        double any_end = 0.0;
#pragma omp simd reduction(max : any_end)
        for (int l = 0; l < lanes; ++l) {
            tl_[l] += move[l];
            const bool end = move[l] != 0.0 && (finite[l] == 0.0 || tl_[l] == max_steps_d);
            any_end = std::max(any_end, end ? 1.0 : 0.0);
        }
        if (any_end == 0.0) return;
        for (int l = 0; l < lanes; ++l) {
            if (move[sl(l)] == 0.0) continue;
            const auto t = static_cast<std::int64_t>(tl_[l]);
            if (finite[sl(l)] == 0.0)
                finish(l, retrieval_status::non_finite, t);
            else if (t == opt_.max_steps)
                finish(l, retrieval_status::max_steps, t);
            else
                continue;
            load(l);
        }
    }

    DENSEAM_LANE_INLINE void step() {
        lane_d stop{}, move{}, a_t{};
        if (decide(stop, move, a_t)) finish_stopped(stop);
        if (s_.any_noise) add_noise(move);
        lane_d finite;
        update(move, a_t, finite);
        count_step(move, finite);
    }

    const setup<T>& s_;
    const retrieve_options& opt_;
    retrieve_result<T>& res_;
    const std::int64_t n_mem_, dim_;
    const std::size_t sd_;
    const std::int64_t q_end_;
    std::int64_t next_;
    // Per coordinate k (x_[k][l]: lane l's coordinate k): states, states at the last rebuild,
    // gradient, states in C; per pattern: squared distances at the rebuild, distances in C,
    // weights; one lane's distances (admit).
    std::vector<lane_d> x_, x0_, g_, dist2_;
    std::vector<lane_c> xc_, q_, w_;
    std::vector<double> lane_d2_;
    // The patterns in use, packed, in C (all of them until a rebuild decides).
    std::vector<C> list_xi_;
    std::vector<char> in_list_;
    std::int64_t n_list_;
    bool list_final_, started_ = false;
    lane_d active_{}, gmax_{}, scale_{}, beta_l_{};
    lane_c z_{}, hbc_{}, bcc_{};
    std::array<std::int64_t, lanes> qi_{};
    lane_d tl_{};  // each lane's step t, held in double (exact) so that its loops vectorise
    int n_active_ = 0;
};

}  // namespace denseam::detail::lane
