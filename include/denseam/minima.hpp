// SPDX-License-Identifier: MIT
// denseam: exact enumeration of the local minima of an energy (stored and emergent memories).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/kernels.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// How find_lsr_minima() enumerates candidate supports (docs/minima.md).
///   automatic  pick per problem (a single minimum when R exceeds the diameter of the patterns,
///              else `clique` unless the interaction graph is so dense that `gray` is cheaper)
///   gray       every one of the 2^M - 1 subsets in Gray-code order, O(M) per subset through the
///              Gram matrix (M <= 62 distinct patterns; practical up to M ~ 30)
///   clique     every clique of the interaction graph (edge iff ||xi_mu - xi_nu|| < 2R), each
///              anchored at its smallest member; output-sensitive, for large M at one beta
enum class minima_strategy { automatic, gray, clique };

/// How a search ended. Partial results are returned (and flagged) rather than thrown.
enum class minima_status : std::uint8_t {
    complete = 0,         ///< every candidate was examined: the result is exact and complete
    candidate_limit = 1,  ///< stopped at minima_options::max_candidates
    interrupted = 2,      ///< exec_options::interrupt returned true
};

std::string_view to_string(minima_strategy s) noexcept;  ///< "auto", "gray", "clique"
std::string_view to_string(minima_status s) noexcept;    ///< "complete", "candidate_limit", ...
/// Parse "auto", "gray", "clique"; throws denseam::invalid_argument naming the choices.
minima_strategy parse_minima_strategy(std::string_view name);

/// One strict local minimum x* of the LSR energy.
struct minimum {
    std::vector<double> position;       ///< x* = mean of the support (dim)
    std::vector<std::int64_t> support;  ///< S = {mu : ||x* - xi_mu|| < R}, sorted indices
    /// E(x*) = -(1/beta) log Z, Z = eps + |S| (1 - (beta/2) v_S), v_S the mean squared
    /// deviation of the support from x*.
    double energy = 0.0;
    double hessian_scale = 0.0;  ///< Hessian = (|S| / Z) I
    /// True when the support is one stored pattern (or several identical copies of it): x* is
    /// a stored pattern. Otherwise the minimum is emergent.
    bool stored = false;
    /// Emergent and at least minima_options::novelty_threshold away from every pattern
    /// (paper Def. 1). Stored minima are never novel.
    bool novel = false;
    /// Thm. 2 exact basin radius r* = sqrt(D_max^2 + min(delta_min, gamma_min)) - D_max with
    /// D_max = max over all patterns of ||x* - xi||, delta_min = min over S of R^2 - ||x* - xi||^2,
    /// gamma_min = min over the other patterns of ||x* - xi||^2 - R^2 (+inf if none). Every x
    /// within r* of x* has the active set S. NaN when minima_options::basin_radius is false.
    double basin_radius = 0.0;
    double nearest_distance = 0.0;  ///< min over patterns of ||x* - xi_mu|| (0 if stored)
    std::int64_t nearest = -1;      ///< index of that pattern (smallest index on ties)
};

/// Progress callback: (done, total) work units. Units are subsets for `gray` (total 2^M - 1)
/// and anchors for `clique` (total = number of distinct patterns). Called from the calling
/// thread only, at most about every 0.1 s and once at the end.
using minima_progress = std::function<void(std::int64_t done, std::int64_t total)>;

/// Options of find_lsr_minima(), count_lsr_minima_at() and lsr_minima_curve().
struct minima_options {
    minima_strategy strategy = minima_strategy::automatic;
    /// Emergent minima at least this far from every stored pattern are `novel` (>= 0; the
    /// reference's LOGL0 uses 0.1).
    double novelty_threshold = 0.1;
    /// Stop after examining this many candidate supports (0 = no limit). The result then has
    /// status candidate_limit and holds the minima found in a deterministic prefix of the work.
    std::int64_t max_candidates = 0;
    /// Compute minimum::basin_radius (O(M d) per minimum).
    bool basin_radius = true;
    minima_progress progress;
};

/// Result of find_lsr_minima().
struct minima_result {
    std::vector<minimum> minima;  ///< sorted by support set, lexicographically
    std::int64_t stored = 0;      ///< minima that are stored patterns
    std::int64_t emergent = 0;    ///< the others
    std::int64_t novel = 0;       ///< emergent minima flagged novel
    std::int64_t candidates = 0;  ///< candidate supports examined (subsets or cliques)
    minima_status status = minima_status::complete;
    /// "gray", "clique" or "centroid" (R exceeds the diameter of the patterns: one minimum,
    /// the global centroid, found without enumeration).
    std::string strategy_used;
    double seconds = 0.0;  ///< wall-clock time of the call
};

/// Every strict local minimum of the LSR (Epanechnikov) energy
///
///   E(x) = -(1/beta) log( eps + sum_mu max(1 - (beta/2) ||x - xi_mu||^2, 0) ),
///
/// exactly: x is a minimum iff x = c_S = mean of a non-empty subset S with
/// ||c_S - xi||^2 < R^2 for every member and > R^2 for every other pattern, R^2 = 2/beta
/// (paper.md 1.2). Boundary rule: a pattern at distance exactly R is outside the support.
/// Minima are distinct points (each point has exactly one strict active set; identical
/// patterns are always together in a support). Decisions are made in double precision: the
/// fast paths work on the Gram matrix of the centred patterns and every candidate within a
/// relative 1e-9 of the boundary is re-verified from the patterns directly.
/// Results do not depend on the thread count.
///
/// @param patterns  (M x d) stored patterns, M >= 1, d >= 1, finite
/// @param beta      inverse temperature, finite and > 0
/// @param eps       constant inside the log, finite and >= 0 (it changes energies and Hessian
///                  scales, not the minima; with eps > 0 the unsupported region is a flat
///                  plateau, which has no strict minima)
/// @throws denseam::invalid_argument for empty or non-finite patterns, bad beta/eps/options,
///         or `gray` forced with more than 62 distinct patterns. Interrupts and candidate
///         limits are reported in minima_result::status, not thrown.
/// Cost: gray O(2^M M); clique O(number of cliques x common neighbourhood) plus the
/// interaction graph (O(M^2 d)); each minimum found costs O(M d) for its basin radius.
minima_result find_lsr_minima(matrix_view<const double> patterns,
                              double beta,
                              double eps = 0.0,
                              const minima_options& options = {},
                              const exec_options& exec = {});

/// The positions of `minima`, row by row: (minima.size() x dim), as .npy files and arrays hold
/// them.
std::vector<double> positions_of(const std::vector<minimum>& minima);

/// The minima of `r` as one JSON object (what `denseam minima --supports` writes): support sets
/// in CSR form {offsets, indices} and per-minimum arrays energy, hessian_scale, basin_radius
/// (null when not computed), nearest, nearest_distance, stored, novel, in the order of
/// r.minima. Positions are not included (the CLI writes them as .npy).
std::string to_json(const minima_result& r);

/// The counts of `r` as one JSON object: stored, emergent, total, novel, candidates, status,
/// strategy, exact (status is complete), seconds (the summary `denseam minima` prints).
std::string summary_json(const minima_result& r);

/// Minima counts of the LSR energy at several betas.
struct minima_counts {
    std::vector<double> betas;           ///< the betas asked for, in the order given
    std::vector<std::int64_t> stored;    ///< per beta
    std::vector<std::int64_t> emergent;  ///< per beta
    std::int64_t candidates = 0;
    minima_status status = minima_status::complete;
    std::string strategy_used;  ///< "gray" (one pass for all betas) or per-beta strategies
    double seconds = 0.0;
};

/// Number of stored and emergent minima of the LSR energy at each beta, exactly (same rules as
/// find_lsr_minima()). With strategy `gray` (automatic when there are at most 30 distinct
/// patterns) ONE Gray-code pass over all subsets serves every beta: each subset S is a minimum
/// exactly for R^2 in the open interval (a_S, b_S) = (max over members, min over non-members of
/// ||c_S - xi||^2). Otherwise find_lsr_minima() runs once per beta (clique strategy).
/// @param betas  any number of finite betas > 0, in any order
/// @throws denseam::invalid_argument as find_lsr_minima().
/// Cost: gray O(2^M M + (number of minima over all betas) log(#betas)).
minima_counts count_lsr_minima_at(matrix_view<const double> patterns,
                                  std::span<const double> betas,
                                  const minima_options& options = {},
                                  const exec_options& exec = {});

/// The exact number of LSR minima as a function of beta: a step function.
struct minima_curve {
    /// The K breakpoints beta_1 < ... < beta_K where the set of minima changes (at a
    /// breakpoint itself a pattern is exactly on a support boundary: degenerate, not counted).
    std::vector<double> breakpoints;
    /// K + 1 counts: entry i holds on the open interval (breakpoints[i-1], breakpoints[i]),
    /// with breakpoints[-1] = 0 and breakpoints[K] = +inf. Entry 0 is always 1 minimum (the
    /// global centroid); entry K is M stored minima for M distinct patterns.
    std::vector<std::int64_t> stored;
    std::vector<std::int64_t> emergent;
    std::int64_t candidates = 0;  ///< subsets examined (2^M - 1 when complete)
    minima_status status = minima_status::complete;
    double seconds = 0.0;
    /// Index of the interval containing `beta` (betas on a breakpoint go to the left one).
    std::size_t interval(double beta) const noexcept;
};

/// The exact minima count-versus-beta curve of the LSR energy, from one Gray-code pass over
/// all 2^M - 1 subsets (see count_lsr_minima_at()). Breakpoints are 2/a_S and 2/b_S of the
/// subsets that are minima for some beta; breakpoints closer than a relative 1e-9 are merged
/// (a subset that is a minimum only on such a sliver of betas is not resolved).
/// @throws denseam::invalid_argument as find_lsr_minima(), or for more than 62 distinct
///         patterns, or for strategy `clique`.
/// Cost: O(2^M M) time; memory O(number of subsets that are minima for some beta).
minima_curve lsr_minima_curve(matrix_view<const double> patterns,
                              const minima_options& options = {},
                              const exec_options& exec = {});

// ---- exact minima of any kernel in one dimension ------------------------------------------

/// A strict local minimum in 1-D.
struct minimum_1d {
    double position = 0.0;
    double energy = 0.0;
    double nearest_distance = 0.0;  ///< distance to the nearest pattern
    std::int64_t nearest = -1;      ///< its index
    bool stored = false;            ///< within 1e-9 (relative to R) of a pattern
    bool novel = false;             ///< not stored and nearest_distance >= novelty_threshold
};

/// A set of positive length on which the energy is constant (triangle kernel between
/// overlapping supports, tophat everywhere). Only supported regions are reported (the
/// unsupported region has E = -(1/beta) log eps or +inf and is never a minimum).
struct flat_interval {
    double lo = 0.0, hi = 0.0;
    double energy = 0.0;
    /// True when the energy just outside the interval is higher on both sides (a flat,
    /// non-strict local minimum).
    bool is_minimum = false;
};

struct minima_1d_options {
    double novelty_threshold = 0.1;
};

struct minima_1d_result {
    std::vector<minimum_1d> minima;   ///< increasing positions
    std::vector<flat_interval> flat;  ///< increasing, disjoint
    std::int64_t stored = 0, emergent = 0, novel = 0;
};

/// The curve as one JSON object: breakpoints, stored, emergent, candidates, status, exact,
/// strategy ("gray"), seconds and a note saying how to read the intervals.
std::string to_json(const minima_curve& c);

/// The 1-D result as one JSON object: stored, emergent, total, novel, minima (position, energy,
/// stored, novel, nearest, nearest_distance each) and flat (lo, hi, energy, is_minimum each).
std::string to_json(const minima_1d_result& r);

/// All strict local minima (and the flat regions) of E(x) = -Q[eps + sum_mu K(beta/2 (x-xi)^2)]
/// on the real line, for any distance kernel of kernels.hpp. The line is cut at the patterns
/// and the support edges xi +- R; on each piece the kernel sum is smooth and the roots of E'
/// are bracketed and bisected to full double precision (polynomial kernels: the roots of the
/// piece's derivative polynomial are isolated exactly; cosine and lse: dense sampling, so two
/// roots closer than 1/128 of a piece could be missed at a bifurcation). Cusps (triangle at a
/// pattern) are checked from one-sided derivatives. Minima of E are maxima of Z for both Q.
/// `poly` has no minima (E = -sum max(beta x xi, 0)^n is concave): empty result.
/// @param patterns  (M) positions, M >= 1, finite
/// @throws denseam::invalid_argument for empty/non-finite patterns or bad params.
/// Cost: O(M^2) kernel evaluations times a small constant per piece.
minima_1d_result find_minima_1d(std::span<const double> patterns,
                                const energy_params& params,
                                const minima_1d_options& options = {});

}  // namespace denseam
