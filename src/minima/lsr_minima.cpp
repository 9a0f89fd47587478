// SPDX-License-Identifier: MIT
// Public entry points of the exact LSR minima enumeration (include/denseam/minima.hpp).
#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "denseam/error.hpp"
#include "denseam/minima.hpp"
#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "io/format.hpp"
#include "kernels/policies.hpp"
#include "minima/lsr_common.hpp"

namespace denseam {

namespace {
constexpr std::array<std::string_view, 3> strategy_names = {"auto", "gray", "clique"};
constexpr std::array<std::string_view, 3> status_names = {
    "complete", "candidate_limit", "interrupted"};
}  // namespace

std::string_view to_string(minima_strategy s) noexcept {
    return strategy_names[static_cast<std::size_t>(s)];
}

std::string_view to_string(minima_status s) noexcept {
    return status_names[static_cast<std::size_t>(s)];
}

minima_strategy parse_minima_strategy(std::string_view name) {
    for (std::size_t i = 0; i < strategy_names.size(); ++i)
        if (strategy_names[i] == name) return static_cast<minima_strategy>(i);
    throw invalid_argument("unknown minima strategy '" + std::string(name) +
                           "' (choose one of: auto, gray, clique)");
}

std::size_t minima_curve::interval(double beta) const noexcept {
    return static_cast<std::size_t>(std::lower_bound(breakpoints.begin(), breakpoints.end(), beta) -
                                    breakpoints.begin());
}

namespace {

using namespace minima_detail;
constexpr double inf = std::numeric_limits<double>::infinity();

double elapsed(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_beta(double beta) {
    if (!std::isfinite(beta) || !(beta > 0.0))
        throw invalid_argument("beta must be finite and > 0 (got " + detail::shortest(beta) + ")");
}

void check_options(const minima_options& o) {
    if (!std::isfinite(o.novelty_threshold) || o.novelty_threshold < 0.0)
        throw invalid_argument("novelty_threshold must be finite and >= 0 (got " +
                               detail::shortest(o.novelty_threshold) + ")");
    if (o.max_candidates < 0)
        throw invalid_argument("max_candidates must be >= 0 (got " +
                               std::to_string(o.max_candidates) + ")");
    if (static_cast<std::size_t>(o.strategy) >= strategy_names.size())
        throw invalid_argument("invalid minima_strategy enum value");
}

std::vector<std::int64_t> mask_to_subset(std::uint64_t mask) {
    std::vector<std::int64_t> s;
    while (mask) {
        s.push_back(std::countr_zero(mask));
        mask &= mask - 1;
    }
    return s;
}

// The single minimum when R exceeds the diameter: every point of the convex hull is then
// within R of every pattern, so only S = all can satisfy the test (and the global centroid
// does). Returns true if that shortcut applies (with a safety margin against rounding).
bool single_centroid(const pattern_set& ps, double r2) {
    const std::int64_t n = ps.n, d = ps.dim;
    std::vector<double> c(static_cast<std::size_t>(d), 0.0);
    double k = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) c[j] += ps.w[i] * ps.row(i)[j];
        k += ps.w[i];
    }
    for (auto& v : c) v /= k;
    double rho2 = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::int64_t j = 0; j < d; ++j) s += (ps.row(i)[j] - c[j]) * (ps.row(i)[j] - c[j]);
        rho2 = std::max(rho2, s);
    }
    const double safe = r2 * (1.0 - 1e-9);
    if (rho2 >= safe) return false;  // the global centroid is not even a minimum
    if (4.0 * rho2 < safe) return true;
    if (static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(d) > 4e9)
        return false;
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t k2 = i + 1; k2 < n; ++k2)
            if (detail::sq_dist(ps.row(i), ps.row(k2), d) >= safe) return false;
    return true;
}

minimum make_minimum(const pattern_set& ps,
                     std::span<const std::int64_t> subset,
                     double beta,
                     double eps,
                     const minima_options& opt,
                     const detail::range_index<double>* index) {
    const std::int64_t d = ps.dim;
    const double r2 = 2.0 / beta;
    minimum m;
    m.position.assign(static_cast<std::size_t>(d), 0.0);
    double k = 0.0;
    for (std::int64_t s : subset) {
        const double* r = ps.row(s);
        for (std::int64_t j = 0; j < d; ++j) m.position[j] += ps.w[s] * r[j];
        k += ps.w[s];
    }
    for (auto& v : m.position) v /= k;
    for (std::int64_t s : subset)
        for (std::int64_t g = ps.group_offsets[s]; g < ps.group_offsets[s + 1]; ++g)
            m.support.push_back(ps.group_members[g]);
    std::sort(m.support.begin(), m.support.end());

    auto d2_to = [&](std::int64_t nu) { return detail::sq_dist(m.position.data(), ps.row(nu), d); };
    double amax = 0.0, zsum = 0.0, nearest2 = inf;
    std::int64_t nearest = -1;
    auto consider_nearest = [&](std::int64_t nu, double v) {
        const std::int64_t orig = ps.group_members[ps.group_offsets[nu]];
        if (v < nearest2 || (v == nearest2 && orig < nearest)) {
            nearest2 = v;
            nearest = orig;
        }
    };
    for (std::int64_t s : subset) {
        const double v = d2_to(s);
        amax = std::max(amax, v);
        zsum += ps.w[s] * (1.0 - 0.5 * beta * v);
        consider_nearest(s, v);
    }
    m.stored = subset.size() == 1;
    if (m.stored) nearest2 = 0.0;
    m.nearest = nearest;
    m.nearest_distance = std::sqrt(nearest2);
    m.novel = !m.stored && m.nearest_distance >= opt.novelty_threshold;
    const double z = eps + zsum;
    m.hessian_scale = k / z;
    m.energy = detail::log_energy(z, beta);
    if (opt.basin_radius) {
        double dmax2 = 0.0, bmin = inf;
        if (index != nullptr) {
            // D_max by a farthest-point search; gamma_min from the |S| + 1 nearest patterns:
            // the members are nearer than R and every other pattern is not, so the nearest
            // non-member is among them (the same sq_dist values as the scan below).
            dmax2 = index->farthest(m.position.data());
            std::vector<std::int64_t> pos;
            std::vector<double> d2;
            index->nearest(
                m.position.data(), static_cast<std::int64_t>(subset.size()) + 1, pos, d2);
            for (std::size_t a = 0; a < pos.size(); ++a)
                if (!std::binary_search(subset.begin(), subset.end(), pos[a]))
                    bmin = std::min(bmin, d2[a]);
        } else {
            std::size_t p = 0;
            for (std::int64_t nu = 0; nu < ps.n; ++nu) {
                const double v = d2_to(nu);
                dmax2 = std::max(dmax2, v);
                if (p < subset.size() && subset[p] == nu)
                    ++p;
                else
                    bmin = std::min(bmin, v);
            }
        }
        const double slack = std::min(r2 - amax, bmin - r2);  // min(delta_min, gamma_min)
        const double dmax = std::sqrt(dmax2);
        // sqrt(D^2 + s) - D without cancellation.
        m.basin_radius = slack / (std::sqrt(dmax2 + slack) + dmax);
    } else {
        m.basin_radius = std::numeric_limits<double>::quiet_NaN();
    }
    return m;
}

// Supports found at one beta (distinct indices), before building the minima.
struct support_list {
    std::vector<std::int64_t> offsets{0};
    std::vector<std::int64_t> indices;
    std::int64_t candidates = 0;
    minima_status status = minima_status::complete;
    std::string strategy;
    std::size_t size() const { return offsets.size() - 1; }
    std::span<const std::int64_t> operator[](std::size_t i) const {
        return {indices.data() + offsets[i], static_cast<std::size_t>(offsets[i + 1] - offsets[i])};
    }
    void push(std::span<const std::int64_t> s) {
        indices.insert(indices.end(), s.begin(), s.end());
        offsets.push_back(static_cast<std::int64_t>(indices.size()));
    }
};

// An interrupt while the interaction graph was being built: no candidate examined yet (the
// progress callback still gets its final report, in anchors).
support_list interrupted_before_enumeration(const pattern_set& ps, const minima_options& opt) {
    support_list out;
    out.status = minima_status::interrupted;
    out.strategy = "clique";
    if (opt.progress) opt.progress(0, ps.n);
    return out;
}

support_list supports_at(const pattern_set& ps,
                         double beta,
                         const minima_options& opt,
                         const exec_options& exec,
                         const detail::range_index<double>* index,
                         const anchor_share& share = {}) {
    const double r2 = 2.0 / beta;
    support_list out;
    // The interaction graph, built once for the automatic choice and the clique pass; false
    // when an interrupt stopped its construction.
    std::vector<std::vector<std::int32_t>> adj;
    bool have_graph = false;
    const auto build_graph = [&] {
        bool interrupted = false;
        adj = interaction_graph(ps, r2, exec, &interrupted, index, share);
        have_graph = !interrupted;
        return have_graph;
    };
    minima_strategy strategy = opt.strategy;
    if (strategy == minima_strategy::automatic) {
        if (single_centroid(ps, r2)) {
            std::vector<std::int64_t> all(static_cast<std::size_t>(ps.n));
            std::iota(all.begin(), all.end(), 0);
            if (share.rank == 0) out.push(all);
            out.candidates = 1;
            out.strategy = "centroid";
            if (opt.progress) opt.progress(1, 1);
            return out;
        }
        strategy = minima_strategy::clique;
        if (ps.n <= 16) {
            strategy = minima_strategy::gray;
        } else if (ps.n <= 30) {
            if (!build_graph()) return interrupted_before_enumeration(ps, opt);
            const std::int64_t cap = (std::int64_t{1} << ps.n) / 4;
            if (count_cliques_capped(adj, cap) > cap) strategy = minima_strategy::gray;
        }
    }
    if (strategy == minima_strategy::gray) {
        if (share.rank != 0) {
            out.strategy = "gray";
            return out;
        }
        const auto res = gray_pass(ps, r2, r2, opt.max_candidates, opt.progress, exec);
        const double tol = recheck_tol(r2, res.gmax);
        for (const auto& rec : res.records) {
            const auto subset = mask_to_subset(rec.mask);
            bool is_min;
            if (rec.a < r2 - tol && rec.b > r2 + tol)
                is_min = true;
            else if (rec.a >= r2 + tol || rec.b <= r2 - tol)
                is_min = false;
            else
                is_min = direct_is_minimum(ps, subset, r2);
            if (is_min) out.push(subset);
        }
        out.candidates = res.processed;
        out.status = res.status;
        out.strategy = "gray";
        return out;
    }
    if (!have_graph && !build_graph()) return interrupted_before_enumeration(ps, opt);
    const auto res = clique_pass(ps, r2, adj, opt.max_candidates, opt.progress, exec, 1024, share);
    out.offsets = res.offsets;
    out.indices = res.indices;
    out.candidates = res.candidates;
    out.status = res.status;
    out.strategy = "clique";
    return out;
}

}  // namespace

minima_result find_lsr_minima(matrix_view<const double> patterns,
                              double beta,
                              double eps,
                              const minima_options& options,
                              const exec_options& exec) {
    return find_lsr_minima_share(patterns, beta, eps, options, exec, {});
}

minima_result minima_detail::find_lsr_minima_share(matrix_view<const double> patterns,
                                                   double beta,
                                                   double eps,
                                                   const minima_options& options,
                                                   const exec_options& exec,
                                                   const anchor_share& share) {
    const auto t0 = std::chrono::steady_clock::now();
    check_lsr_minima_call(beta, eps, options);
    const pattern_set ps = make_pattern_set(patterns);
    const auto index = pattern_index(ps, exec);
    const support_list sup = supports_at(ps, beta, options, exec, index.get(), share);

    minima_result res;
    res.candidates = sup.candidates;
    res.status = sup.status;
    res.strategy_used = sup.strategy;
    const std::int64_t n_min = static_cast<std::int64_t>(sup.size());
    res.minima.resize(static_cast<std::size_t>(n_min));
    // Blocks of 64 minima (each written to its own slot). Not interruptible: the supports are
    // found (or the enumeration's status says why not), and building them is cheap next to it.
    exec_options build_exec;
    build_exec.n_threads = exec.n_threads;
    detail::parallel_options build;
    build.max_threads = std::max<std::int64_t>(1, n_min / 64);
    detail::parallel_for((n_min + 63) / 64, build_exec, build, [&](std::int64_t b) {
        for (std::int64_t i = b * 64; i < std::min(n_min, (b + 1) * 64); ++i)
            res.minima[i] =
                make_minimum(ps, sup[static_cast<std::size_t>(i)], beta, eps, options, index.get());
    });
    sort_and_count(res);
    res.seconds = elapsed(t0);
    return res;
}

void minima_detail::check_lsr_minima_call(double beta, double eps, const minima_options& options) {
    check_beta(beta);
    if (!std::isfinite(eps) || eps < 0.0)
        throw invalid_argument("eps must be finite and >= 0 (got " + detail::shortest(eps) + ")");
    check_options(options);
}

void minima_detail::sort_and_count(minima_result& res) {
    std::sort(res.minima.begin(), res.minima.end(), [](const minimum& a, const minimum& b) {
        return a.support < b.support;
    });
    res.stored = res.emergent = res.novel = 0;
    for (const auto& m : res.minima) {
        if (m.stored)
            ++res.stored;
        else
            ++res.emergent;
        if (m.novel) ++res.novel;
    }
}

minima_counts count_lsr_minima_at(matrix_view<const double> patterns,
                                  std::span<const double> betas,
                                  const minima_options& options,
                                  const exec_options& exec) {
    const auto t0 = std::chrono::steady_clock::now();
    for (double b : betas) check_beta(b);
    check_options(options);
    const pattern_set ps = make_pattern_set(patterns);
    minima_counts res;
    const std::size_t nb = betas.size();
    res.betas.assign(betas.begin(), betas.end());
    res.stored.assign(nb, 0);
    res.emergent.assign(nb, 0);
    if (nb == 0) {
        res.seconds = elapsed(t0);
        return res;
    }
    const bool one_pass = options.strategy == minima_strategy::gray ||
                          (options.strategy == minima_strategy::automatic && ps.n <= 30);
    if (!one_pass) {
        std::vector<std::string> used;
        const auto index = pattern_index(ps, exec);
        for (std::size_t j = 0; j < nb; ++j) {
            const support_list sup = supports_at(ps, betas[j], options, exec, index.get());
            for (std::size_t i = 0; i < sup.size(); ++i) {
                if (sup[i].size() == 1)
                    ++res.stored[j];
                else
                    ++res.emergent[j];
            }
            res.candidates += sup.candidates;
            if (std::find(used.begin(), used.end(), sup.strategy) == used.end())
                used.push_back(sup.strategy);
            if (sup.status != minima_status::complete) {
                res.status = sup.status;
                break;
            }
        }
        for (const auto& s : used) res.strategy_used += (res.strategy_used.empty() ? "" : "+") + s;
        res.seconds = elapsed(t0);
        return res;
    }

    // One pass: subset S counts at beta_j iff a_S < R_j^2 < b_S.
    std::vector<double> r2(nb);
    for (std::size_t j = 0; j < nb; ++j) r2[j] = 2.0 / betas[j];
    std::vector<std::size_t> order(nb);
    std::iota(order.begin(), order.end(), 0);
    std::sort(
        order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return r2[a] < r2[b]; });
    std::vector<double> sorted_r2(nb);
    for (std::size_t j = 0; j < nb; ++j) sorted_r2[j] = r2[order[j]];
    const double lo = sorted_r2.front(), hi = sorted_r2.back();
    const auto pass = gray_pass(ps, lo, hi, options.max_candidates, options.progress, exec);
    const double tol_hi = recheck_tol(hi, pass.gmax);
    std::vector<std::int64_t> stored(nb, 0), emergent(nb, 0);
    for (const auto& rec : pass.records) {
        const auto first = std::lower_bound(sorted_r2.begin(), sorted_r2.end(), rec.a - tol_hi);
        const auto last = std::upper_bound(sorted_r2.begin(), sorted_r2.end(), rec.b + tol_hi);
        bool have_direct = false;
        double da = 0.0, db = 0.0;
        const bool single = std::popcount(rec.mask) == 1;
        for (auto it = first; it < last; ++it) {
            const double v = *it;
            const double tol = recheck_tol(v, pass.gmax);
            bool in;
            if (rec.a < v - tol && rec.b > v + tol) {
                in = true;
            } else if (rec.a >= v + tol || rec.b <= v - tol) {
                in = false;
            } else {
                if (!have_direct) {
                    const auto subset = mask_to_subset(rec.mask);
                    direct_interval(ps, subset, da, db);
                    have_direct = true;
                }
                in = da < v && db > v;
            }
            if (in)
                ++(single ? stored : emergent)[static_cast<std::size_t>(it - sorted_r2.begin())];
        }
    }
    for (std::size_t j = 0; j < nb; ++j) {
        res.stored[order[j]] = stored[j];
        res.emergent[order[j]] = emergent[j];
    }
    res.candidates = pass.processed;
    res.status = pass.status;
    res.strategy_used = "gray";
    res.seconds = elapsed(t0);
    return res;
}

minima_curve lsr_minima_curve(matrix_view<const double> patterns,
                              const minima_options& options,
                              const exec_options& exec) {
    const auto t0 = std::chrono::steady_clock::now();
    check_options(options);
    if (options.strategy == minima_strategy::clique)
        throw invalid_argument("lsr_minima_curve needs every subset: use strategy auto or gray");
    const pattern_set ps = make_pattern_set(patterns);
    const auto pass = gray_pass(ps, 0.0, inf, options.max_candidates, options.progress, exec);

    struct event {
        double v;
        int stored, emergent;
    };
    std::vector<event> ev;
    ev.reserve(pass.records.size() * 2);
    std::int64_t init_stored = 0, init_emergent = 0;
    for (const auto& rec : pass.records) {
        // Zero-width (tangent) intervals within rounding are never minima.
        if (!(rec.b - rec.a > recheck_tol(rec.a, pass.gmax))) continue;
        const bool single = std::popcount(rec.mask) == 1;
        if (rec.a <= 0.0) {
            (single ? init_stored : init_emergent) += 1;
        } else {
            ev.push_back({rec.a, single ? 1 : 0, single ? 0 : 1});
        }
        if (std::isfinite(rec.b)) ev.push_back({rec.b, single ? -1 : 0, single ? 0 : -1});
    }
    std::sort(ev.begin(), ev.end(), [](const event& x, const event& y) { return x.v < y.v; });
    // Clusters of (nearly) equal R^2 values are one breakpoint.
    std::vector<double> bp_r2;
    std::vector<std::int64_t> st{init_stored}, em{init_emergent};
    std::size_t i = 0;
    while (i < ev.size()) {
        double lo = ev[i].v, prev = ev[i].v;
        std::int64_t s = st.back(), e = em.back();
        std::size_t j = i;
        while (j < ev.size() && ev[j].v - prev <= recheck_tol(ev[j].v, pass.gmax)) {
            s += ev[j].stored;
            e += ev[j].emergent;
            prev = ev[j].v;
            ++j;
        }
        bp_r2.push_back(0.5 * (lo + prev));
        st.push_back(s);
        em.push_back(e);
        i = j;
    }
    minima_curve c;
    const std::size_t k = bp_r2.size();
    c.breakpoints.resize(k);
    for (std::size_t b = 0; b < k; ++b) c.breakpoints[b] = 2.0 / bp_r2[k - 1 - b];
    c.stored.assign(st.rbegin(), st.rend());
    c.emergent.assign(em.rbegin(), em.rend());
    c.candidates = pass.processed;
    c.status = pass.status;
    c.seconds = elapsed(t0);
    return c;
}

}  // namespace denseam
