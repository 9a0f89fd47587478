// SPDX-License-Identifier: MIT
// denseam: Gaussian mixtures (the "true distribution" of the LOGL0 experiment, paper.md 2.4).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/matrix_view.hpp"

namespace denseam {

/// Covariance structure of every component.
enum class covariance_kind { isotropic, diagonal, full };

/// "isotropic", "diagonal" or "full" (the JSON and Python spelling).
std::string_view to_string(covariance_kind c) noexcept;

/// A mixture of k Gaussians in dim dimensions:
///   p(x) = sum_i w_i N(x | mu_i, Sigma_i).
/// A value type: const member functions may be called from several threads at once.
/// Storage: weights (k), means (k x dim) row-major, covariances: isotropic (k) variances,
/// diagonal (k x dim) variances, full (k x dim x dim) row-major symmetric positive definite.
struct gaussian_mixture {
    std::int64_t k = 0;
    std::int64_t dim = 0;
    covariance_kind kind = covariance_kind::isotropic;
    std::vector<double> weights;
    std::vector<double> means;
    std::vector<double> covariances;

    /// The reference's k_mixtures_in_d: means uniform in [0,1)^dim, covariance sigma^2 I, equal
    /// weights; drawn with std::mt19937_64(seed) (JAX's streams cannot be reproduced).
    static gaussian_mixture random(std::int64_t k,
                                   std::int64_t dim,
                                   double sigma,
                                   std::uint64_t seed);

    /// Throws denseam::invalid_argument naming the field at fault (sizes, weights >= 0 summing
    /// to 1 within 1e-9, finite values, positive (definite) covariances).
    void validate() const;

    /// n samples (n x dim, row-major); component labels into `labels` if given. Deterministic
    /// for a seed. Cost: O(n dim) (O(n dim^2) for full covariances).
    std::vector<double> sample(std::int64_t n,
                               std::uint64_t seed,
                               std::vector<std::int64_t>* labels = nullptr) const;

    /// log p(x) for each row of x (n x dim), by a max-shifted log-sum-exp over components.
    /// Cost: O(n k dim) (isotropic, diagonal) or O(n k dim^2) (full, after one Cholesky
    /// factorisation per component).
    void log_density(matrix_view<const double> x, std::span<double> out) const;

    /// JSON round trip: {"k", "dim", "covariance": "isotropic"|"diagonal"|"full", "weights",
    /// "means", "covariances"}. from_json throws denseam::invalid_argument on bad input.
    std::string to_json() const;
    static gaussian_mixture from_json(const std::string& text);
};

/// How queries are drawn around each stored pattern (paper.md 2.2).
///   shell: uniform on the shell R [0.98, 0.9999] around the pattern (uniform direction from a
///          normalised Gaussian, volume-uniform radius);
///   ball: uniform in the ball of radius R;
///   reference_shell / reference_ball: the reference code's biased versions (direction = a
///          uniform point of [-1,1]^d normalised, radius uniform in [0.98R, 0.9999R] / [0, R]),
///          only to reproduce the paper's numbers.
enum class sampler_kind { shell, ball, reference_shell, reference_ball };

std::string_view to_string(sampler_kind s) noexcept;  ///< "shell", "ball", "reference-shell", ...
sampler_kind parse_sampler(std::string_view name);

/// n_per_center points around every row of `centers` (M x d) at radius R (see sampler_kind),
/// returned as (M * n_per_center x d) row-major, center by center. The points of center m depend
/// only on (seed, m), not on R's value beyond scaling, nor on the other centers (like the
/// reference, whose query key sequence does not depend on beta). Cost: O(M n_per_center d).
/// Thread-safe.
std::vector<double> sample_around(matrix_view<const double> centers,
                                  std::int64_t n_per_center,
                                  double radius,
                                  sampler_kind kind,
                                  std::uint64_t seed);

}  // namespace denseam
