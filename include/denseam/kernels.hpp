// SPDX-License-Identifier: MIT
// denseam: the energy family E(x) = -Q[ eps + sum_mu F(beta * S(x, xi_mu)) ] and its parameters.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace denseam {

/// Separation function F (the kernel). Every kernel but `poly` uses the squared-distance
/// similarity; write q = (beta/2) * ||x - xi||^2 and t = sqrt(q) = ||x - xi|| / R with the
/// support radius (half-width) R = sqrt(2/beta). Then
///   lse       exp(-q)                       (Gaussian, log-sum-exp energy)
///   lsr       max(1 - q, 0)                 (Epanechnikov, log-sum-ReLU energy)
///   triangle  max(1 - t, 0)
///   tophat    1[t < 1]                      (uniform kernel; zero gradient almost everywhere)
///   cosine    cos(pi/2 * t) for t < 1
///   quartic   (1 - t^2)^2 for t < 1         (biweight)
///   triweight (1 - t^2)^3 for t < 1
///   tricube   (1 - t^3)^3 for t < 1
///   poly      max(beta * x.xi, 0)^degree    (rectified-polynomial DenseAM, dot-product similarity)
/// Every compact kernel has the same half-width R = sqrt(2/beta), so `lsr` equals the
/// Epanechnikov kernel of bandwidth h = R, and AKEM's "beta = 1/h^2" is beta_denseam / 2.
/// Boundary rule: a memory at distance exactly R (t = 1) has zero weight everywhere.
enum class kernel_kind { lse, lsr, triangle, tophat, cosine, quartic, triweight, tricube, poly };

/// The outer function Q: `log` gives E = -(1/beta) log Z, `identity` gives E = -Z, where
/// Z = eps + sum_mu F(...). `automatic` is `log` for distance kernels and `identity` for `poly`.
enum class q_kind { automatic, log, identity };

/// Parameters of one energy. Defaults are the library's defaults (CLI and Python use them).
struct energy_params {
    kernel_kind kernel = kernel_kind::lsr;
    double beta = 1.0;  ///< inverse temperature, finite and > 0
    double eps = 0.0;   ///< added once to Z (paper eq. 3); finite and >= 0
    q_kind q = q_kind::automatic;
    int degree = 3;  ///< exponent n of `poly`, >= 1
};

/// The Q actually used for `p` (resolves `automatic`).
q_kind resolved_q(const energy_params& p) noexcept;

/// True for kernels with compact support (every kernel except lse and poly).
bool has_compact_support(kernel_kind k) noexcept;

/// True for kernels built on the squared-distance similarity (every kernel except poly).
bool uses_distance(kernel_kind k) noexcept;

std::string_view to_string(kernel_kind k) noexcept;
std::string_view to_string(q_kind q) noexcept;
/// Parse "lse", "lsr", ... ; throws denseam::invalid_argument naming the valid choices.
kernel_kind parse_kernel(std::string_view name);
q_kind parse_q(std::string_view name);
/// All kernel names, in enum order.
std::vector<std::string> kernel_names();

/// energy_params from names and values (the spelling of the CLI and Python), validated.
/// @throws denseam::invalid_argument for an unknown kernel or Q name or a bad value.
energy_params make_energy_params(
    std::string_view kernel, double beta, double eps, std::string_view q, int degree);

/// Throws denseam::invalid_argument unless beta is finite and > 0, eps finite and >= 0, and
/// degree >= 1.
void validate(const energy_params& p);

}  // namespace denseam
