// SPDX-License-Identifier: MIT
// beta tools (include/denseam/beta.hpp).
#include "denseam/beta.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <string>

#include "denseam/error.hpp"
#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "io/format.hpp"
#include "minima/lsr_common.hpp"

namespace denseam {

namespace {

void check_patterns(matrix_view<const double> p) {
    // Validates shape and finiteness (the deduplicated set itself is not needed here).
    (void)minima_detail::make_pattern_set(p);
}

struct closest_pair {
    double d2 = std::numeric_limits<double>::infinity();
    std::int64_t a = -1, b = -1;
};

closest_pair find_closest(matrix_view<const double> p, const exec_options& exec) {
    const std::int64_t m = p.rows;
    std::vector<closest_pair> per_row(static_cast<std::size_t>(m));
    // Blocks of 16 rows, each row's closest partner in its own slot, merged in row order.
    detail::parallel_for((m + 15) / 16, exec, [&](std::int64_t b, detail::loop_control& ctl) {
        for (std::int64_t i = b * 16; i < std::min(m, (b + 1) * 16); ++i) {
            if (ctl.poll()) return;
            closest_pair c;
            for (std::int64_t j = i + 1; j < m; ++j) {
                const double v = detail::sq_dist(p.row(i), p.row(j), p.cols);
                if (v > 0.0 && v < c.d2) c = {v, i, j};
            }
            per_row[i] = c;
        }
    });
    closest_pair best;
    for (const auto& c : per_row)
        if (c.d2 < best.d2) best = c;  // strict: smallest indices win ties
    if (best.a < 0)
        throw invalid_argument("patterns need at least two distinct rows (got " +
                               std::to_string(m) + " row(s), all identical)");
    return best;
}

void check_betas(std::span<const double> betas) {
    for (double b : betas)
        if (!std::isfinite(b) || !(b > 0.0))
            throw invalid_argument("beta must be finite and > 0 (got " + detail::shortest(b) + ")");
}

}  // namespace

beta_range_result beta_range(matrix_view<const double> patterns) {
    check_patterns(patterns);
    const closest_pair c = find_closest(patterns, {});
    beta_range_result r;
    r.r_min = std::sqrt(c.d2);
    r.beta_min = 2.0 / static_cast<double>(patterns.cols);
    r.beta_max = 8.0 / c.d2;
    r.radius_min = 0.5 * r.r_min;
    r.radius_max = std::sqrt(static_cast<double>(patterns.cols));
    return r;
}

emergence_window_result emergence_window(matrix_view<const double> patterns) {
    check_patterns(patterns);
    const closest_pair c = find_closest(patterns, {});
    emergence_window_result w;
    w.r = std::sqrt(c.d2);
    w.beta_lo = 8.0 / (3.0 * c.d2);
    w.beta_hi = 8.0 / c.d2;
    w.first = c.a;
    w.second = c.b;
    return w;
}

choose_beta_result choose_beta(matrix_view<const double> patterns, double target_k) {
    check_patterns(patterns);
    const std::int64_t m = patterns.rows;
    if (!std::isfinite(target_k) || !(target_k > 1.0) || target_k > static_cast<double>(m))
        throw invalid_argument(
            "target_k must be in (1, M] = (1, " + std::to_string(m) + "] (got " +
            std::to_string(target_k) +
            "); every pattern counts itself, so K >= 1 at every beta and K <= M");
    const std::int64_t n_pairs = m * (m - 1) / 2;
    // K(R) = 1 + 2 #{pairs with D < 2R} / M >= target  <=>  #pairs >= c.
    const double need = (target_k - 1.0) * static_cast<double>(m) / 2.0;
    std::int64_t c = static_cast<std::int64_t>(std::ceil(need - 1e-9 * need));
    c = std::clamp<std::int64_t>(c, 1, n_pairs);

    // The c-th smallest squared distance, then the smallest one strictly above it.
    double crit2 = 0.0;
    if (n_pairs <= 20'000'000) {
        std::vector<double> all;
        all.reserve(static_cast<std::size_t>(n_pairs));
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = i + 1; j < m; ++j)
                all.push_back(detail::sq_dist(patterns.row(i), patterns.row(j), patterns.cols));
        std::nth_element(all.begin(), all.begin() + (c - 1), all.end());
        crit2 = all[c - 1];
    } else {
        // Keep the c smallest (or the n_pairs - c + 1 largest) in a heap.
        const bool from_top = c > n_pairs / 2;
        const std::int64_t keep = from_top ? n_pairs - c + 1 : c;
        std::priority_queue<double> small;                                       // max-heap
        std::priority_queue<double, std::vector<double>, std::greater<>> large;  // min-heap
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = i + 1; j < m; ++j) {
                const double v = detail::sq_dist(patterns.row(i), patterns.row(j), patterns.cols);
                if (!from_top) {
                    if (static_cast<std::int64_t>(small.size()) < keep)
                        small.push(v);
                    else if (v < small.top()) {
                        small.pop();
                        small.push(v);
                    }
                } else {
                    if (static_cast<std::int64_t>(large.size()) < keep)
                        large.push(v);
                    else if (v > large.top()) {
                        large.pop();
                        large.push(v);
                    }
                }
            }
        crit2 = from_top ? large.top() : small.top();
    }
    double next2 = std::numeric_limits<double>::infinity();
    std::int64_t below = 0;  // pairs with D^2 <= crit2
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = i + 1; j < m; ++j) {
            const double v = detail::sq_dist(patterns.row(i), patterns.row(j), patterns.cols);
            if (v > crit2)
                next2 = std::min(next2, v);
            else
                ++below;
        }

    choose_beta_result r;
    r.critical_distance = std::sqrt(crit2);
    const double dnext = std::sqrt(next2);
    double radius;
    if (crit2 == 0.0) {
        r.beta_critical = std::numeric_limits<double>::infinity();
        radius = std::isfinite(dnext) ? 0.25 * dnext : 1.0;
    } else {
        r.beta_critical = 8.0 / crit2;
        const double rstar = 0.5 * r.critical_distance;
        const double room = std::isfinite(dnext) ? 0.5 * (0.5 * dnext - rstar) : rstar;
        radius = rstar + std::min(1e-6 * rstar, room);
    }
    r.beta = 2.0 / (radius * radius);
    // K at the returned beta: every pair with D <= D_crit now has D < 2R, none beyond.
    r.mean_neighbours = 1.0 + 2.0 * static_cast<double>(below) / static_cast<double>(m);
    return r;
}

coverage_result support_coverage(matrix_view<const double> patterns,
                                 std::span<const double> betas,
                                 const coverage_options& options,
                                 const exec_options& exec) {
    check_patterns(patterns);
    check_betas(betas);
    const std::int64_t m = patterns.rows, d = patterns.cols;
    coverage_result res;
    res.betas.assign(betas.begin(), betas.end());
    if (options.unit_cube) {
        res.lo.assign(static_cast<std::size_t>(d), 0.0);
        res.hi.assign(static_cast<std::size_t>(d), 1.0);
    } else if (options.lo.empty() && options.hi.empty()) {
        res.lo.assign(patterns.row(0), patterns.row(0) + d);
        res.hi = res.lo;
        for (std::int64_t i = 1; i < m; ++i)
            for (std::int64_t j = 0; j < d; ++j) {
                res.lo[j] = std::min(res.lo[j], patterns(i, j));
                res.hi[j] = std::max(res.hi[j], patterns(i, j));
            }
    } else {
        if (static_cast<std::int64_t>(options.lo.size()) != d ||
            static_cast<std::int64_t>(options.hi.size()) != d)
            throw invalid_argument(
                "coverage box: lo and hi must both have d = " + std::to_string(d) +
                " entries (got " + std::to_string(options.lo.size()) + " and " +
                std::to_string(options.hi.size()) + ")");
        for (std::int64_t j = 0; j < d; ++j)
            if (!std::isfinite(options.lo[j]) || !std::isfinite(options.hi[j]) ||
                options.lo[j] > options.hi[j])
                throw invalid_argument(
                    "coverage box: need finite lo <= hi in every dimension "
                    "(dimension " +
                    std::to_string(j) + ")");
        res.lo = options.lo;
        res.hi = options.hi;
    }
    res.coverage.assign(betas.size(), 0.0);

    if (d == 1) {
        res.exact = true;
        std::vector<double> x(static_cast<std::size_t>(m));
        for (std::int64_t i = 0; i < m; ++i) x[i] = patterns(i, 0);
        std::sort(x.begin(), x.end());
        const double lo = res.lo[0], hi = res.hi[0];
        for (std::size_t b = 0; b < betas.size(); ++b) {
            const double r = std::sqrt(2.0 / betas[b]);
            if (hi == lo) {  // a degenerate box is one point
                bool in = false;
                for (double v : x) in = in || std::abs(lo - v) < r;
                res.coverage[b] = in ? 1.0 : 0.0;
                continue;
            }
            double covered = 0.0, cur_lo = 0.0, cur_hi = -std::numeric_limits<double>::infinity();
            bool open = false;
            for (double v : x) {
                const double a = std::max(v - r, lo), e = std::min(v + r, hi);
                if (a >= e) continue;
                if (open && a <= cur_hi) {
                    cur_hi = std::max(cur_hi, e);
                } else {
                    if (open) covered += cur_hi - cur_lo;
                    cur_lo = a;
                    cur_hi = e;
                    open = true;
                }
            }
            if (open) covered += cur_hi - cur_lo;
            res.coverage[b] = std::clamp(covered / (hi - lo), 0.0, 1.0);
        }
        return res;
    }

    if (options.n_samples < 1)
        throw invalid_argument("coverage: n_samples must be >= 1 (got " +
                               std::to_string(options.n_samples) + ")");
    const std::int64_t n = options.n_samples;
    res.n_samples = n;
    std::vector<double> nn2(static_cast<std::size_t>(n));
    // Blocks of 1024 samples, each sample's distance in its own slot, one sample of scratch per
    // thread. exec.interrupt is polled every `poll_every` samples (every sample once one costs
    // M d >= 4096 operations): a true return throws denseam::interrupted.
    constexpr std::int64_t block = 1024;
    const std::int64_t poll_every =
        std::max<std::int64_t>(1, 4096 / std::max<std::int64_t>(1, m * d));
    detail::parallel_options opt;
    opt.max_threads = n / block + 1;
    detail::parallel_for(
        (n + block - 1) / block,
        exec,
        opt,
        [d] { return std::vector<double>(static_cast<std::size_t>(d)); },
        [&](std::vector<double>& s, std::int64_t b, detail::loop_control& ctl) {
            for (std::int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
                if (i % poll_every == 0 && ctl.poll()) return;
                for (std::int64_t j = 0; j < d; ++j)
                    s[j] = res.lo[j] + (res.hi[j] - res.lo[j]) *
                                           detail::counter_uniform(
                                               options.seed, static_cast<std::uint64_t>(i * d + j));
                double best = std::numeric_limits<double>::infinity();
                for (std::int64_t mu = 0; mu < m; ++mu)
                    best = std::min(best, detail::sq_dist(s.data(), patterns.row(mu), d));
                nn2[i] = best;
            }
        });
    std::sort(nn2.begin(), nn2.end());
    for (std::size_t b = 0; b < betas.size(); ++b) {
        const double r2 = 2.0 / betas[b];
        const auto k = std::lower_bound(nn2.begin(), nn2.end(), r2) - nn2.begin();  // nn2 < r2
        res.coverage[b] = static_cast<double>(k) / static_cast<double>(n);
    }
    return res;
}

}  // namespace denseam
