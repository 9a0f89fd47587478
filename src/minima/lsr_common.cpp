// SPDX-License-Identifier: MIT
#include "minima/lsr_common.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "denseam/error.hpp"
#include "engine/distance.hpp"

namespace denseam::minima_detail {

pattern_set make_pattern_set(matrix_view<const double> patterns) {
    if (patterns.data == nullptr || patterns.rows < 1 || patterns.cols < 1)
        throw invalid_argument("patterns must be a non-empty (M x d) matrix, got (" +
                               std::to_string(patterns.rows) + " x " +
                               std::to_string(patterns.cols) + ")");
    if (patterns.ld < patterns.cols)
        throw invalid_argument("patterns: row stride smaller than the number of columns");
    const std::int64_t m = patterns.rows, d = patterns.cols;
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < d; ++j)
            if (!std::isfinite(patterns(i, j)))
                throw invalid_argument("patterns: non-finite value at (" + std::to_string(i) +
                                       ", " + std::to_string(j) + ")");

    // Group identical rows (== on doubles, so -0 and +0 are the same point).
    std::vector<std::int64_t> order(static_cast<std::size_t>(m));
    std::iota(order.begin(), order.end(), 0);
    auto row_less = [&](std::int64_t a, std::int64_t b) {
        const double* ra = patterns.row(a);
        const double* rb = patterns.row(b);
        for (std::int64_t j = 0; j < d; ++j) {
            if (ra[j] < rb[j]) return true;
            if (rb[j] < ra[j]) return false;
        }
        return a < b;
    };
    std::sort(order.begin(), order.end(), row_less);
    std::vector<std::int64_t> group_of(static_cast<std::size_t>(m));
    std::vector<std::int64_t> group_first;  // smallest original index of each group
    for (std::int64_t k = 0; k < m; ++k) {
        const std::int64_t i = order[k];
        bool same = false;
        if (k > 0) {
            const double* ra = patterns.row(order[k - 1]);
            const double* rb = patterns.row(i);
            same = std::equal(ra, ra + d, rb);
        }
        if (!same) group_first.push_back(i);
        group_of[i] = static_cast<std::int64_t>(group_first.size()) - 1;
    }
    // Renumber groups by first occurrence so that distinct index order follows input order.
    const std::int64_t n = static_cast<std::int64_t>(group_first.size());
    std::vector<std::int64_t> by_first(static_cast<std::size_t>(n));
    std::iota(by_first.begin(), by_first.end(), 0);
    std::sort(by_first.begin(), by_first.end(), [&](std::int64_t a, std::int64_t b) {
        return group_first[a] < group_first[b];
    });
    std::vector<std::int64_t> rank(static_cast<std::size_t>(n));
    for (std::int64_t r = 0; r < n; ++r) rank[by_first[r]] = r;

    pattern_set ps;
    ps.n = n;
    ps.dim = d;
    ps.n_original = m;
    ps.x.resize(static_cast<std::size_t>(n * d));
    ps.w.assign(static_cast<std::size_t>(n), 0.0);
    std::vector<std::int64_t> count(static_cast<std::size_t>(n), 0);
    for (std::int64_t i = 0; i < m; ++i) ++count[rank[group_of[i]]];
    ps.group_offsets.assign(static_cast<std::size_t>(n + 1), 0);
    for (std::int64_t g = 0; g < n; ++g) {
        ps.group_offsets[g + 1] = ps.group_offsets[g] + count[g];
        ps.w[g] = static_cast<double>(count[g]);
    }
    ps.group_members.resize(static_cast<std::size_t>(m));
    std::vector<std::int64_t> fill(ps.group_offsets.begin(), ps.group_offsets.end() - 1);
    for (std::int64_t i = 0; i < m; ++i) {  // increasing i: members sorted within a group
        const std::int64_t g = rank[group_of[i]];
        if (fill[g] == ps.group_offsets[g]) std::copy_n(patterns.row(i), d, ps.x.data() + g * d);
        ps.group_members[fill[g]++] = i;
    }
    return ps;
}

namespace {
void centroid(const pattern_set& ps, std::span<const std::int64_t> subset, double* c) {
    const std::int64_t d = ps.dim;
    std::fill(c, c + d, 0.0);
    double k = 0.0;
    for (std::int64_t s : subset) {
        const double* r = ps.row(s);
        const double w = ps.w[s];
        for (std::int64_t j = 0; j < d; ++j) c[j] += w * r[j];
        k += w;
    }
    for (std::int64_t j = 0; j < d; ++j) c[j] /= k;
}

}  // namespace

void direct_interval(const pattern_set& ps,
                     std::span<const std::int64_t> subset,
                     double& a,
                     double& b) {
    std::vector<double> c(static_cast<std::size_t>(ps.dim));
    centroid(ps, subset, c.data());
    a = 0.0;
    b = std::numeric_limits<double>::infinity();
    std::size_t p = 0;
    for (std::int64_t nu = 0; nu < ps.n; ++nu) {
        const double v = detail::sq_dist(c.data(), ps.row(nu), ps.dim);
        if (p < subset.size() && subset[p] == nu) {
            a = std::max(a, v);
            ++p;
        } else {
            b = std::min(b, v);
        }
    }
}

bool direct_is_minimum(const pattern_set& ps, std::span<const std::int64_t> subset, double r2) {
    double a = 0.0, b = 0.0;
    direct_interval(ps, subset, a, b);
    return a < r2 && b > r2;
}

}  // namespace denseam::minima_detail
