// SPDX-License-Identifier: MIT
// denseam: choosing beta for a pattern set (ranges, emergence window, neighbour-count target,
// support coverage).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// The beta range of the LMIN0 experiment (paper.md 2.2, the reference's compute_beta_r_ranges).
struct beta_range_result {
    double beta_min = 0.0;    ///< 2/d: R = sqrt(d), the diagonal of the unit cube
    double beta_max = 0.0;    ///< 8/r_min^2: R = r_min/2, every pair of supports disjoint
    double r_min = 0.0;       ///< smallest non-zero pairwise distance (duplicates excluded)
    double radius_min = 0.0;  ///< R at beta_max = r_min/2 (the reference logs it as "r_min")
    double radius_max = 0.0;  ///< R at beta_min = sqrt(d) (the reference's "r_max")
};

/// beta_min = 2/d and beta_max = 8/r_min^2 with r_min the smallest non-zero distance between
/// two patterns (identical patterns are ignored, as in the reference).
/// @param patterns (M x d), finite, with at least two distinct rows
/// @throws denseam::invalid_argument for empty or non-finite input or fewer than two distinct
///         patterns. Cost: O(M^2 d).
beta_range_result beta_range(matrix_view<const double> patterns);

/// The guaranteed global-emergence window of paper.md 1.5 (derived lemma): with r the distance
/// of the closest pair (mu, nu), for every beta in the open interval (8/(3 r^2), 8/r^2) every
/// stored pattern is a strict minimum and the midpoint of (mu, nu) is an emergent one.
struct emergence_window_result {
    double beta_lo = 0.0;                  ///< 8 / (3 r^2)
    double beta_hi = 0.0;                  ///< 8 / r^2
    double r = 0.0;                        ///< closest-pair distance (non-zero; duplicates ignored)
    std::int64_t first = -1, second = -1;  ///< the closest pair (smallest indices on ties)
};

/// @throws as beta_range(). Cost: O(M^2 d).
emergence_window_result emergence_window(matrix_view<const double> patterns);

/// Result of choose_beta().
struct choose_beta_result {
    /// A beta with K(beta) >= target_k, just inside the achieving side of the jump: the
    /// support radius R = sqrt(2/beta) is R* + min(1e-6 R*, (D_next/2 - R*)/2), where D_next is
    /// the next larger pairwise distance, so K(beta) equals the value reached at the jump.
    double beta = 0.0;
    /// The jump point 8/D_crit^2: K >= target_k exactly for beta < beta_critical (at
    /// beta_critical the critical pair's supports are tangent). +inf if duplicates alone reach
    /// the target.
    double beta_critical = 0.0;
    double critical_distance = 0.0;  ///< D_crit, the pairwise distance at the jump
    double mean_neighbours = 0.0;    ///< K(beta), self included
};

/// Paper Algorithm 2 without bisection: K(beta) = mean over patterns of #{nu : D_mu,nu < 2R},
/// R = sqrt(2/beta) — the number of patterns whose support overlaps pattern mu's, counting mu
/// itself (the reference's convention: its distance matrix has a zero diagonal, so every
/// pattern is its own neighbour and K >= 1). K is a step function of beta; the largest betas
/// reaching target_k are those below the jump 8/D_crit^2, where D_crit is the c-th smallest
/// pairwise distance, c = ceil((target_k - 1) M / 2). The reference bisects toward that jump;
/// here it is computed exactly (see choose_beta_result for the beta returned).
/// @param target_k in (1, M]
/// @throws denseam::invalid_argument for bad patterns or target_k outside (1, M].
/// Cost: O(M^2 d) time, O(M^2) memory up to 2e7 pairs, O(c) beyond.
choose_beta_result choose_beta(matrix_view<const double> patterns, double target_k);

/// Options of support_coverage().
struct coverage_options {
    std::int64_t n_samples = 1'000'000;  ///< Monte Carlo samples (d >= 2)
    std::uint64_t seed = 0;
    /// The box [lo, hi]: both empty = the bounding box of the patterns; unit_cube = [0,1)^d
    /// (the reference's LMIN0 choice); otherwise both of size d with lo <= hi.
    std::vector<double> lo, hi;
    bool unit_cube = false;
};

struct coverage_result {
    std::vector<double> betas;     ///< as given
    std::vector<double> coverage;  ///< per beta, in [0, 1]
    std::int64_t n_samples = 0;    ///< 0 when exact (d = 1)
    bool exact = false;
    std::vector<double> lo, hi;  ///< the box used
};

/// Fraction of a box covered by the union of the support balls ||x - xi|| < R = sqrt(2/beta)
/// (where the LSR energy with eps = 0 is finite). d = 1: exact, by interval union. d >= 2:
/// Monte Carlo; sample i depends only on (seed, i), so the result does not depend on the thread
/// count, and one set of samples serves every beta (nearest-pattern distances are computed
/// once). Standard error <= 0.5 / sqrt(n_samples). The Monte Carlo sampling polls
/// exec.interrupt from the calling thread (before it starts, then at most every 20 ms); if it
/// returns true the call stops and throws denseam::interrupted.
/// @throws denseam::invalid_argument for bad patterns, betas, box or (d >= 2) exec;
/// denseam::interrupted when exec.interrupt returns true.
/// Cost: O(n_samples M d + n_samples log n_samples).
coverage_result support_coverage(matrix_view<const double> patterns,
                                 std::span<const double> betas,
                                 const coverage_options& options = {},
                                 const exec_options& exec = {});

}  // namespace denseam
