// SPDX-License-Identifier: MIT
// denseam: exact range search over stored patterns (the memories within a compact kernel's
// support radius of a state).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// index_kind (declared in exec.hpp, an option of every call) says how the memories near a
/// state are found (docs/index.md):
///   automatic  chosen per call from the shape and the radius: kdtree for d <= 16, ball for
///              larger d, brute where an index would not pay for its build (few queries, few
///              memories, or a radius so large that most memories are in reach)
///   brute      every memory is examined (the GEMM engine for energies)
///   kdtree     a k-d tree with tight bounding boxes (low d)
///   ball       a ball partition (k-means centres, triangle-inequality bounds) scanned by GEMM
///              blocks (high d)
/// The choice never changes a support set, a fixed point or a minimum (every decision is made
/// by the same double-precision distance); energies computed through an index are sums in
/// double and may differ from the GEMM engine's in rounding (for float at very large beta the
/// index is the more accurate: bench/README.md).

std::string_view to_string(index_kind k) noexcept;  ///< "auto", "brute", "kdtree", "ball"
/// Parses "auto", "brute", "kdtree", "ball"; throws denseam::invalid_argument naming the choices.
index_kind parse_index_kind(std::string_view name);

/// Result of range_search(): CSR sets of memory indices, ascending within each query, and their
/// squared distances (double, in the same order).
struct range_result {
    std::vector<std::int64_t> offsets;  ///< (n_queries + 1)
    std::vector<std::int64_t> indices;
    std::vector<double> sq_distances;
    index_kind used = index_kind::brute;  ///< the index that answered
    double build_seconds = 0.0, search_seconds = 0.0;
};

/// Every memory strictly within `radius` of every query:
///   { mu : ||x - xi_mu||^2 < radius^2 },  the squared distance accumulated in double
/// (sum_k (x_k - xi_k)^2 with one fused multiply-add per coordinate, in coordinate order: a
/// memory exactly at distance radius is outside, as in the compact kernels' boundary rule).
/// @param memories (n_memories x dim), n_memories >= 1, finite
/// @param queries (n_queries x dim), finite; @param radius > 0 and finite
/// @throws denseam::invalid_argument for bad shapes or values; denseam::interrupted.
/// Cost: build O(M log M) (kdtree) or a few GEMM passes (ball); per query about
/// (memories examined) x d, which the index keeps near the number in reach. Results do not
/// depend on the index kind or the thread count.
template <class T>
range_result range_search(matrix_view<const T> memories,
                          matrix_view<const T> queries,
                          double radius,
                          index_kind kind = index_kind::automatic,
                          const exec_options& exec = {});

}  // namespace denseam
