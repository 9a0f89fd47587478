// SPDX-License-Identifier: MIT
// One Gray-code pass over all 2^M - 1 subsets: the interval (a_S, b_S) of squared radii on
// which each subset is a minimum, with O(M) work per subset through the Gram matrix.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "denseam/error.hpp"
#include "engine/parallel.hpp"
#include "minima/lsr_common.hpp"

namespace denseam::minima_detail {

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

// The state of one subset S, for the centred patterns y:
//   t[nu] = sum_{mu in S} w_mu y_mu . y_nu,  q = sum_{mu, mu' in S} w_mu w_mu' y_mu . y_mu',
//   k = sum_{mu in S} w_mu,   so  ||c_S - y_nu||^2 = q/k^2 - 2 t[nu]/k + g[nu].
// pen_a/pen_b turn the member/non-member split into adds so that the max/min reductions
// vectorise: pen_a = 0 on members, -inf elsewhere; pen_b = +inf on members (and padding),
// 0 on non-members.
struct gray_state {
    std::vector<double> t, pen_a, pen_b;
    double q = 0.0, k = 0.0;
    std::uint64_t mask = 0;
    int count = 0;
};

struct gray_problem {
    int n = 0;
    int np = 0;              // n rounded up to a multiple of 4
    std::vector<double> wg;  // (n x np): row j = w_j * G[j][.]
    std::vector<double> g;   // (np) diagonal of G, 0 on padding
    std::vector<double> w;   // (n)
    double gmax = 0.0;
};

gray_problem make_problem(const pattern_set& ps) {
    gray_problem p;
    p.n = static_cast<int>(ps.n);
    p.np = (p.n + 3) / 4 * 4;
    const std::int64_t d = ps.dim;
    // Centre at the mean: Gram entries stay of the order of the spread of the data, which keeps
    // the cancellation in q/k^2 - 2t/k + g at the level of the distances themselves.
    std::vector<double> mean(static_cast<std::size_t>(d), 0.0);
    for (int i = 0; i < p.n; ++i)
        for (std::int64_t j = 0; j < d; ++j) mean[j] += ps.row(i)[j];
    for (std::int64_t j = 0; j < d; ++j) mean[j] /= p.n;
    std::vector<double> y(static_cast<std::size_t>(p.n * d));
    for (int i = 0; i < p.n; ++i)
        for (std::int64_t j = 0; j < d; ++j) y[i * d + j] = ps.row(i)[j] - mean[j];
    p.wg.assign(static_cast<std::size_t>(p.n) * p.np, 0.0);
    p.g.assign(static_cast<std::size_t>(p.np), 0.0);
    p.w.assign(ps.w.begin(), ps.w.end());
    for (int i = 0; i < p.n; ++i) {
        for (int k = 0; k < p.n; ++k) {
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) s += y[i * d + j] * y[k * d + j];
            p.wg[static_cast<std::size_t>(i) * p.np + k] = p.w[i] * s;
            if (i == k) p.g[i] = s;
        }
        p.gmax = std::max(p.gmax, p.g[i]);
    }
    return p;
}

void init_state(const gray_problem& p, std::uint64_t mask, gray_state& s) {
    s.t.assign(static_cast<std::size_t>(p.np), 0.0);
    s.pen_a.assign(static_cast<std::size_t>(p.np), -inf);
    s.pen_b.assign(static_cast<std::size_t>(p.np), inf);
    s.q = 0.0;
    s.k = 0.0;
    s.mask = mask;
    s.count = std::popcount(mask);
    for (int mu = 0; mu < p.n; ++mu) {
        const bool in = (mask >> mu) & 1u;
        s.pen_a[mu] = in ? 0.0 : -inf;
        s.pen_b[mu] = in ? inf : 0.0;
        if (!in) continue;
        s.k += p.w[mu];
        const double* row = p.wg.data() + static_cast<std::size_t>(mu) * p.np;
        for (int nu = 0; nu < p.np; ++nu) s.t[nu] += row[nu];
    }
    for (int mu = 0; mu < p.n; ++mu)
        if ((mask >> mu) & 1u) s.q += p.w[mu] * s.t[mu];
}

inline void eval_only(int np,
                      const double* g,
                      const double* pa,
                      const double* pb,
                      const double* t,
                      double c,
                      double& amax,
                      double& bmin) {
    double am = -inf, bm = inf;
    for (int nu = 0; nu < np; ++nu) {
        const double u = g[nu] - c * t[nu];
        am = std::max(am, u + pa[nu]);
        bm = std::min(bm, u + pb[nu]);
    }
    amax = am;
    bmin = bm;
}

struct window {
    double lo, hi, gmax;
    bool keep(double a, double b) const {
        return a < b + recheck_tol(std::min(b, hi), gmax) && a < hi + recheck_tol(hi, gmax) &&
               b > lo - recheck_tol(lo, gmax);
    }
};

inline void emit(const gray_state& s,
                 double amax,
                 double bmin,
                 const window& win,
                 std::vector<gray_record>& out) {
    const double base = s.q / (s.k * s.k);
    // A single pattern is at distance 0 from its own centroid: no rounding there.
    const double a = s.count == 1 ? 0.0 : base + amax;
    const double b = base + bmin;
    if (win.keep(a, b)) out.push_back({s.mask, a, b});
}

constexpr std::int64_t poll_every = std::int64_t{1} << 14;

// Fixed-width kernel (up to 64 patterns) with GCC/Clang vector extensions: t stays in
// registers, and the member mask is expanded lane by lane from the subset's bit mask (no
// scalar store followed by a vector load per step, which would stall store forwarding).
typedef double v4d __attribute__((vector_size(32)));
typedef double v4d_u __attribute__((vector_size(32), aligned(8)));
typedef std::int64_t v4i __attribute__((vector_size(32)));

inline v4d vmax(v4d a, v4d b) {
    return a > b ? a : b;
}
inline v4d vmin(v4d a, v4d b) {
    return a < b ? a : b;
}

template <int NV>
bool run_block_vec(const gray_problem& p,
                   std::uint64_t lo,
                   std::uint64_t hi,
                   const window& win,
                   detail::loop_control& ctl,
                   std::vector<gray_record>& out) {
    gray_state s;
    init_state(p, lo ^ (lo >> 1), s);
    {
        double amax = 0.0, bmin = 0.0;
        eval_only(
            p.np, p.g.data(), s.pen_a.data(), s.pen_b.data(), s.t.data(), 2.0 / s.k, amax, bmin);
        emit(s, amax, bmin, win, out);
    }
    ctl.add_done(1);
    v4d t[NV], g[NV];
    v4i bit[NV];
    for (int v = 0; v < NV; ++v) {
        for (int l = 0; l < 4; ++l) {
            const int nu = 4 * v + l;
            t[v][l] = s.t[nu];
            // Padding lanes: +inf keeps them out of the non-member minimum; their mask bit is
            // never set, which keeps them out of the member maximum.
            g[v][l] = nu < p.n ? p.g[nu] : inf;
            bit[v][l] = nu < p.n ? static_cast<std::int64_t>(std::uint64_t{1} << nu) : 0;
        }
    }
    const v4d ninf = {-inf, -inf, -inf, -inf}, pinf = {inf, inf, inf, inf};
    double q = s.q, k = s.k;
    std::uint64_t mask = s.mask;
    int count = s.count;
    // Unweighted patterns: k is the subset size, so 1/k comes from a table.
    double inv[64];
    for (int i = 0; i < 64; ++i) inv[i] = i == 0 ? 0.0 : 1.0 / i;
    const bool unweighted = std::all_of(p.w.begin(), p.w.end(), [](double w) { return w == 1.0; });
    std::uint64_t i = lo + 1;
    while (i < hi) {
        const std::uint64_t chunk_end = std::min<std::uint64_t>(hi, i + poll_every);
        const std::uint64_t chunk_start = i;
        for (; i < chunk_end; ++i) {
            const int j = std::countr_zero(i);
            const double wj = p.w[j];
            const double gjj = p.g[j];
            const double tj = t[j >> 2][j & 3];
            const bool add = !((mask >> j) & 1u);
            double sign;
            if (add) {
                q += 2.0 * wj * tj + wj * wj * gjj;
                k += wj;
                ++count;
                sign = 1.0;
            } else {
                q -= 2.0 * wj * tj - wj * wj * gjj;
                k -= wj;
                --count;
                sign = -1.0;
            }
            mask ^= std::uint64_t{1} << j;
            const double ik = unweighted ? inv[count] : 1.0 / k;
            const double c = 2.0 * ik;
            const v4d_u* row =
                reinterpret_cast<const v4d_u*>(p.wg.data() + static_cast<std::size_t>(j) * p.np);
            const v4i mb = {static_cast<std::int64_t>(mask),
                            static_cast<std::int64_t>(mask),
                            static_cast<std::int64_t>(mask),
                            static_cast<std::int64_t>(mask)};
            v4d am = ninf, bm = pinf;
            for (int v = 0; v < NV; ++v) {
                t[v] += sign * row[v];
                const v4d u = g[v] - c * t[v];
                const v4i member = (mb & bit[v]) != 0;
                am = vmax(am, member ? u : ninf);
                bm = vmin(bm, member ? pinf : u);
            }
            const double amax = std::max(std::max(am[0], am[1]), std::max(am[2], am[3]));
            const double bmin = std::min(std::min(bm[0], bm[1]), std::min(bm[2], bm[3]));
            const double base = q * ik * ik;
            const double a = count == 1 ? 0.0 : base + amax;
            const double b = base + bmin;
            if (win.keep(a, b)) out.push_back({mask, a, b});
        }
        ctl.add_done(static_cast<std::int64_t>(chunk_end - chunk_start));
        if (ctl.poll()) return i >= hi;
        // Recompute t, q, k from scratch every chunk (2^14 subsets, at fixed offsets from the
        // block start, so thread-independent): the floating drift of the incremental updates
        // stays far below the recheck band however long the block is.
        if (i < hi) {
            init_state(p, mask, s);
            for (int v = 0; v < NV; ++v)
                for (int l = 0; l < 4; ++l) t[v][l] = s.t[4 * v + l];
            q = s.q;
            k = s.k;
            count = s.count;
        }
    }
    return true;
}

using block_fn = bool (*)(const gray_problem&,
                          std::uint64_t,
                          std::uint64_t,
                          const window&,
                          detail::loop_control&,
                          std::vector<gray_record>&);

// One instantiation per width (4 lanes each) up to 64 patterns.
template <int... NV>
block_fn pick_block_fn_impl(int np, std::integer_sequence<int, NV...>) {
    block_fn fn = nullptr;
    ((np == 4 * (NV + 1) ? (fn = run_block_vec<NV + 1>, 0) : 0), ...);
    return fn;
}

block_fn pick_block_fn(int np) {
    return pick_block_fn_impl(np, std::make_integer_sequence<int, 16>{});
}

}  // namespace

gray_pass_result gray_pass(const pattern_set& ps,
                           double lo_r2,
                           double hi_r2,
                           std::int64_t max_candidates,
                           const minima_progress& progress,
                           const exec_options& exec) {
    if (ps.n > 62)
        throw invalid_argument(
            "the gray strategy enumerates 2^M subsets and needs M <= 62 "
            "distinct patterns (got " +
            std::to_string(ps.n) + ")");
    const gray_problem p = make_problem(ps);
    gray_pass_result res;
    res.gmax = p.gmax;
    const window win{lo_r2, hi_r2, p.gmax};

    const std::uint64_t all = std::uint64_t{1} << p.n;  // indices [1, all)
    std::uint64_t end = all;
    if (max_candidates > 0 && static_cast<std::uint64_t>(max_candidates) < all - 1)
        end = 1 + static_cast<std::uint64_t>(max_candidates);
    const std::uint64_t n_sub = end - 1;
    // Blocks of fixed size (at most 65536 of them); t and q are recomputed from scratch at each
    // block start, which also bounds the floating drift of the incremental updates.
    std::uint64_t block = std::uint64_t{1} << 14;
    while ((n_sub + block - 1) / block > 65536) block <<= 1;
    const std::int64_t n_blocks = static_cast<std::int64_t>((n_sub + block - 1) / block);

    std::vector<std::vector<gray_record>> out(static_cast<std::size_t>(n_blocks));
    std::vector<char> done(static_cast<std::size_t>(n_blocks), 0);
    const block_fn fn = pick_block_fn(p.np);
    // Progress in subsets (of all 2^M - 1, even below a candidate limit); an interrupt returns
    // the blocks completed so far.
    detail::parallel_options opt;
    opt.progress = progress;
    opt.progress_total = static_cast<std::int64_t>(all - 1);
    opt.throw_on_interrupt = false;
    const detail::loop_status st =
        detail::parallel_for(n_blocks, exec, opt, [&](std::int64_t b, detail::loop_control& ctl) {
            const std::uint64_t lo = 1 + static_cast<std::uint64_t>(b) * block;
            const std::uint64_t hi = std::min<std::uint64_t>(end, lo + block);
            done[b] = fn(p, lo, hi, win, ctl, out[b]) ? 1 : 0;
        });

    std::int64_t prefix = 0;
    while (prefix < n_blocks && done[prefix]) ++prefix;
    std::size_t total = 0;
    for (std::int64_t b = 0; b < prefix; ++b) total += out[b].size();
    res.records.reserve(total);
    for (std::int64_t b = 0; b < prefix; ++b) {
        res.records.insert(res.records.end(), out[b].begin(), out[b].end());
        std::vector<gray_record>().swap(out[b]);
    }
    // Subsets examined: every completed block, in or after the prefix (a stopped run reports
    // the minima of the prefix only, but the work done by every thread).
    std::uint64_t examined = 0;
    for (std::int64_t b = 0; b < n_blocks; ++b)
        if (done[b]) {
            const std::uint64_t lo = 1 + static_cast<std::uint64_t>(b) * block;
            examined += std::min<std::uint64_t>(end, lo + block) - lo;
        }
    res.processed = static_cast<std::int64_t>(examined);
    if (prefix < n_blocks)
        res.status = minima_status::interrupted;
    else if (n_sub < all - 1)
        res.status = minima_status::candidate_limit;
    if (prefix < n_blocks && st != detail::loop_status::interrupted)
        throw backend_error("minima enumeration stopped unexpectedly (out of memory?)");
    return res;
}

}  // namespace denseam::minima_detail
