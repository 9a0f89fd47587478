// SPDX-License-Identifier: MIT
// Internals shared by the LSR minima enumerators (gray.cpp, clique.cpp, lsr_minima.cpp). Their
// parallel loops run on detail::parallel_for (engine/parallel.hpp): progress and interrupts
// from the calling thread, candidate limits as stop requests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/minima.hpp"
#include "index/range_index.hpp"

namespace denseam::minima_detail {

/// The distinct patterns with their multiplicities. Identical patterns always enter and leave
/// a support together, so every enumerator works on distinct points with weights w (the copy
/// count): c_S = sum w xi / sum w.
struct pattern_set {
    std::int64_t n = 0;  ///< distinct patterns
    std::int64_t dim = 0;
    std::int64_t n_original = 0;              ///< rows of the input
    std::vector<double> x;                    ///< (n x dim), in order of first occurrence
    std::vector<double> w;                    ///< (n) copy counts
    std::vector<std::int64_t> group_offsets;  ///< (n + 1) CSR into group_members
    std::vector<std::int64_t> group_members;  ///< original row indices, sorted per group
    const double* row(std::int64_t i) const { return x.data() + i * dim; }
    bool weighted() const { return n != n_original; }
};

/// Validates (non-empty, finite) and deduplicates.
pattern_set make_pattern_set(matrix_view<const double> patterns);

/// Relative width of the band around R^2 inside which a decision made on the Gram matrix is
/// re-verified from the patterns.
inline constexpr double recheck_rel = 1e-9;

/// Absolute recheck tolerance at squared radius r2, given the largest squared norm `gmax` of
/// the centred patterns the Gram values were formed from.
inline double recheck_tol(double r2, double gmax) {
    return recheck_rel * r2 + 1e-12 * gmax;
}

/// The exact test from the patterns: c_S = sum w xi / sum w over `subset` (distinct indices,
/// increasing), then ||c_S - xi||^2 < r2 for members and > r2 for every other pattern.
bool direct_is_minimum(const pattern_set& ps, std::span<const std::int64_t> subset, double r2);

/// Exact (a_S, b_S) from the patterns (b_S = +inf when S holds every pattern).
void direct_interval(const pattern_set& ps,
                     std::span<const std::int64_t> subset,
                     double& a,
                     double& b);

// ---- Gray-code pass ---------------------------------------------------------------------

/// A subset that is a minimum for R^2 in (a, b) (up to the recheck tolerance).
struct gray_record {
    std::uint64_t mask;  ///< bit i = distinct pattern i
    double a, b;
};

struct gray_pass_result {
    std::vector<gray_record> records;  ///< in Gray-code order (deterministic)
    std::int64_t processed = 0;        ///< subsets examined
    minima_status status = minima_status::complete;
    double gmax = 0.0;  ///< for recheck_tol
};

/// Every subset whose interval (a_S, b_S) meets the window (lo_r2, hi_r2) of squared radii,
/// widened by the recheck tolerance. Requires ps.n <= 62.
gray_pass_result gray_pass(const pattern_set& ps,
                           double lo_r2,
                           double hi_r2,
                           std::int64_t max_candidates,
                           const minima_progress& progress,
                           const exec_options& exec);

// ---- clique enumeration -----------------------------------------------------------------

struct clique_pass_result {
    std::vector<std::int64_t> offsets{0};  ///< CSR of the supports found (distinct indices)
    std::vector<std::int64_t> indices;
    std::int64_t candidates = 0;
    minima_status status = minima_status::complete;
};

/// The anchors (smallest members of a clique) one process examines when several share the
/// enumeration (src/dist): anchor a (a distinct pattern) belongs to process a mod size, which
/// balances the work (small anchors have the most larger neighbours). Each clique is examined by
/// exactly one process. The default is everything. The interaction graph is shared too: each
/// process builds the rows it owns and `complete_graph` (collective) fills in the others.
struct anchor_share {
    std::int64_t rank = 0, size = 1;
    std::function<void(std::vector<std::vector<std::int32_t>>&)> complete_graph;
    bool owns(std::int64_t anchor) const { return anchor % size == rank; }
    bool everything() const { return size == 1; }
};

/// Neighbour lists of the interaction graph: j in adj[i] iff ||xi_i - xi_j||^2 < 4 r2 (1+1e-9)
/// (slightly generous, so that a rounding error can never drop an edge of a true minimum).
/// exec.interrupt is polled: if it returns true, the build stops and either sets *interrupted
/// (the graph returned is then incomplete) or, without `interrupted`, throws
/// denseam::interrupted.
/// With `index` (a range index over ps.x) each row is one range search; without, a scan of
/// all pairs (O(n^2 d)).
std::vector<std::vector<std::int32_t>> interaction_graph(
    const pattern_set& ps,
    double r2,
    const exec_options& exec,
    bool* interrupted = nullptr,
    const detail::range_index<double>* index = nullptr,
    const anchor_share& share = {});

/// The range index over the distinct patterns that the enumeration uses for the interaction
/// graph and the basin radii: exec.index, or for `automatic` a k-d tree for n >= 1024 and
/// dim <= 16;
/// null for brute.
std::unique_ptr<detail::range_index<double>> pattern_index(const pattern_set& ps,
                                                           const exec_options& exec);

/// Number of cliques of the graph, stopping once `cap` is exceeded (returns cap + 1 then).
std::int64_t count_cliques_capped(const std::vector<std::vector<std::int32_t>>& adj,
                                  std::int64_t cap);

/// Every clique (each anchored at its smallest member), verified exactly. Anchors whose
/// neighbourhood has at most `row_cache_limit` vertices cache their local Gram and adjacency
/// rows (O(L^2) memory); larger ones recompute rows per DFS level.
clique_pass_result clique_pass(const pattern_set& ps,
                               double r2,
                               const std::vector<std::vector<std::int32_t>>& adj,
                               std::int64_t max_candidates,
                               const minima_progress& progress,
                               const exec_options& exec,
                               int row_cache_limit = 1024,
                               const anchor_share& share = {});

/// The checks of find_lsr_minima's scalar arguments (beta, eps, options): invalid_argument.
void check_lsr_minima_call(double beta, double eps, const minima_options& options);

/// Sorts res.minima by support set (the order of every result) and counts them: stored,
/// emergent, novel. One home for the single-process and the MPI-gathered results.
void sort_and_count(minima_result& res);

/// find_lsr_minima (include/denseam/minima.hpp) for the share of the anchors given: the minima
/// whose support's smallest distinct pattern this process owns (sorted by support), their
/// counts, and the candidates it examined. Enumerations that are not by clique (a single
/// centroid, the Gray-code pass of small sets) are done whole by rank 0, and by no other rank.
/// With the default share this is find_lsr_minima.
minima_result find_lsr_minima_share(matrix_view<const double> patterns,
                                    double beta,
                                    double eps,
                                    const minima_options& options,
                                    const exec_options& exec,
                                    const anchor_share& share);

}  // namespace denseam::minima_detail
