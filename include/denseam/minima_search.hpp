// SPDX-License-Identifier: MIT
// denseam: multi-start search for local minima of any energy (a search, not an enumeration).
#pragma once

#include <cstdint>
#include <vector>

#include "denseam/retrieval.hpp"

namespace denseam {

/// Options of search_minima(); defaults are the library's defaults.
struct search_options {
    /// Start states, row-major (n_starts x dim). Empty: the patterns, all pairwise midpoints
    /// (when M <= 200) and `n_random` uniform points of the patterns' bounding box grown by R.
    std::vector<double> starts;
    std::int64_t n_random = 1000;
    std::uint64_t seed = 0;
    /// Retrieval used from every start (fixed point: exact for LSR, mean-shift otherwise).
    retrieval_method method = retrieval_method::fixed_point;
    std::int64_t max_steps = 100000;
    double tol = 1e-12;
    double step_size = 0.1;  ///< gradient method only
    /// Converged states closer than this (max-norm) are the same minimum (not used for LSR,
    /// whose minima are identified exactly by their support sets).
    double dedup_tol = 1e-6;
    /// An LSE/other-kernel minimum within this distance of a pattern is called stored.
    double novelty_threshold = 0.1;
};

/// One local minimum found by the search.
struct found_minimum {
    std::vector<double> position;  ///< (dim)
    double energy = 0.0;
    std::vector<std::int64_t> support;  ///< LSR: its strict active set (sorted); else empty
    bool stored =
        false;  ///< LSR: |support| = 1; other kernels: within novelty_threshold of a pattern
    std::int64_t nearest_pattern = -1;
    double distance_to_nearest = 0.0;
    /// Smallest Hessian eigenvalue (LSR: the exact |S|/Z; others: finite differences of the
    /// library's gradient). Positive for every reported minimum.
    double hessian_min_eigenvalue = 0.0;
    std::int64_t hits = 0;  ///< number of starts that converged here
};

struct search_result {
    std::vector<found_minimum> minima;  ///< sorted lexicographically by position
    std::int64_t n_starts = 0;
    std::int64_t n_converged = 0;
    std::int64_t n_unsupported = 0;  ///< starts outside every support (compact kernels)
    std::int64_t n_not_minima = 0;   ///< converged to stationary points that are not strict minima
};

/// Local minima of E(x) = -Q[eps + sum F(beta S(x, xi))] found by retrieval from many starts,
/// deduplication and a strict-minimum check (LSR: exact active-set test, which every converged
/// LSR fixed point satisfies; other kernels: positive-definite finite-difference Hessian).
/// A search can miss minima whose basins contain no start, and it does not report degenerate
/// minima whose Hessian is singular (e.g. tricube at an isolated pattern, where E - E* grows like
/// |x - xi|^3); the exact LSR enumerator (minima.hpp) and the exact 1-D analysis miss nothing.
/// @param[in] patterns (n_patterns x dim)
/// @throws denseam::invalid_argument for bad input or options.
/// Cost: one retrieval per start (see retrieve()) plus O(n_minima d^2) energy evaluations for
/// the Hessian checks. Thread-safe (see exec_options); results do not depend on the thread count.
search_result search_minima(matrix_view<const double> patterns,
                            const energy_params& params,
                            const search_options& options = {},
                            const exec_options& exec = {});

}  // namespace denseam
