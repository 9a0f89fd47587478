// SPDX-License-Identifier: MIT
// denseam: the exact nearest distinct neighbour of every pattern (one all-pairs pass).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// Result of nearest_distinct_neighbours().
struct nearest_result {
    /// Per pattern i: ||x_i - x_j||^2 in double for its nearest DISTINCT pattern j (a pattern
    /// with at least one different coordinate); +inf when every other pattern is identical to
    /// x_i (or there is none).
    std::vector<double> sq_distance;
    /// That j (the smallest index among equally near ones), -1 when sq_distance is +inf.
    std::vector<std::int64_t> index;
    /// Number of OTHER patterns identical to pattern i (exact duplicates).
    std::vector<std::int64_t> duplicates;
    /// Patterns whose float candidates could not be certified (many near-ties or duplicates)
    /// and were scanned against all others in double instead. Never changes a result.
    std::int64_t rechecked = 0;
    /// Tiles of the pass, those skipped because the norms of their rows differ by more than the
    /// distances already found, and those where only some rows were multiplied (both depend on
    /// the thread schedule; they never change a result).
    std::int64_t tiles = 0, tiles_skipped = 0, tiles_partial = 0;
    double seconds = 0.0;  ///< wall-clock time of the call
};

/// Progress (done, total) in units of tiles; called from the calling thread only.
using nearest_progress = std::function<void(std::int64_t done, std::int64_t total)>;

/// For every pattern, its nearest distinct neighbour and its exact duplicates, exactly (in
/// double precision: the squared distances are sum_k (x_ik - x_jk)^2 accumulated in double).
///
/// How: the patterns sorted by norm; one pass over the pairs i < j in 512 x 512 tiles, each
/// tile one float GEMM (||x_i||^2 + ||x_j||^2 - 2 x_i.x_j; at most half the work of a full
/// N x N product), keeps the 8 smallest float distances of every row; a tile whose norms differ
/// by more than the distances its rows already hold is skipped (||x_i - x_j|| >=
/// | ||x_i|| - ||x_j|| |). The candidates are recomputed in double. A row is
/// certified when the 8th candidate exceeds the exact nearest distinct distance by more than
/// the float rounding bound (2 (d + 16) 2^-24 (||x_i||^2 + ||x_j||^2), with ||x_j||^2 capped at
/// (||x_i|| + nearest distance)^2: farther norms cannot be nearer); otherwise the row
/// is scanned against all patterns in double. Results do not depend on the thread count.
/// @param patterns (N x d), N >= 1, finite
/// @throws denseam::invalid_argument for empty or non-finite patterns; denseam::interrupted.
/// Cost: N^2 d flops in float (about the time of a same-shape SGEMM with half the output) plus
/// O(N d) per row in double; memory 4 N d bytes plus 64 N bytes per thread.
nearest_result nearest_distinct_neighbours(matrix_view<const double> patterns,
                                           const nearest_progress& progress = {},
                                           const exec_options& exec = {});

}  // namespace denseam
