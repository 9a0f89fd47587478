// SPDX-License-Identifier: MIT
// Pattern-set generators of the LMIN0 experiment (paper.md 2.3).
#include <algorithm>
#include <numeric>
#include <random>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "engine/rng.hpp"
#include "io/jsonl.hpp"

namespace denseam {

namespace {}  // namespace

std::string_view to_string(lmin0_generator g) noexcept {
    return g == lmin0_generator::reference ? "reference" : "uniform";
}

lmin0_generator parse_lmin0_generator(std::string_view name) {
    if (name == "reference") return lmin0_generator::reference;
    if (name == "uniform") return lmin0_generator::uniform;
    throw invalid_argument("unknown generator '" + std::string(name) +
                           "' (choose reference or uniform)");
}

std::vector<double> generate_patterns(lmin0_generator g,
                                      std::int64_t n_patterns,
                                      std::int64_t dim,
                                      std::uint64_t seed) {
    if (n_patterns < 1 || dim < 1)
        throw invalid_argument("generate_patterns: M and d must be >= 1 (got M = " +
                               std::to_string(n_patterns) + ", d = " + std::to_string(dim) + ")");
    std::mt19937_64 rng(seed);
    const std::int64_t draws = g == lmin0_generator::reference ? 3 * n_patterns : n_patterns;
    std::vector<double> x(static_cast<std::size_t>(draws * dim));
    for (double& v : x) v = detail::unit_double(rng);
    if (g == lmin0_generator::uniform) return x;

    // The reference: unique rows of the 3M draws (np.unique(axis=0) sorts them
    // lexicographically), then the first M.
    std::vector<std::int64_t> order(static_cast<std::size_t>(draws));
    std::iota(order.begin(), order.end(), 0);
    const auto row = [&](std::int64_t i) { return x.begin() + i * dim; };
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
        return std::lexicographical_compare(row(a), row(a) + dim, row(b), row(b) + dim);
    });
    order.erase(std::unique(order.begin(),
                            order.end(),
                            [&](std::int64_t a, std::int64_t b) {
                                return std::equal(row(a), row(a) + dim, row(b));
                            }),
                order.end());
    if (static_cast<std::int64_t>(order.size()) < n_patterns)
        throw invalid_argument("generate_patterns: fewer than M distinct draws");
    std::vector<double> out(static_cast<std::size_t>(n_patterns * dim));
    for (std::int64_t i = 0; i < n_patterns; ++i)
        std::copy(row(order[static_cast<std::size_t>(i)]),
                  row(order[static_cast<std::size_t>(i)]) + dim,
                  out.begin() + i * dim);
    return out;
}

std::string pattern_set_hash(matrix_view<const double> patterns) {
    const std::int64_t shape[2] = {patterns.rows, patterns.cols};
    std::uint64_t h = detail::fnv1a64(detail::fnv1a64_init, shape, sizeof shape);
    for (std::int64_t i = 0; i < patterns.rows; ++i)
        h = detail::fnv1a64(
            h, patterns.row(i), static_cast<std::size_t>(patterns.cols) * sizeof(double));
    return detail::hex64(h);
}

}  // namespace denseam
