// SPDX-License-Identifier: MIT
// denseam: batched energies and gradients of a DenseAM.
#pragma once

#include <cstdint>
#include <span>

#include "denseam/exec.hpp"
#include "denseam/kernels.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// Per-query status of an energy evaluation.
enum class energy_status : std::uint8_t {
    ok = 0,
    /// sum_mu F = 0: no memory supports the query (compact kernels outside every ball, poly with
    /// no positive overlap). The gradient is zero; the energy is +inf for Q = log with eps = 0,
    /// the plateau -(1/beta) log(eps) with eps > 0, and -eps for Q = identity.
    unsupported = 1,
};

/// Energies of a batch of queries against a set of memories.
///
///   E(x) = -Q[ eps + sum_mu F(beta S(x, xi_mu)) ]     (see kernels.hpp for F, S, Q)
///
/// @param[in]  memories   row-major (n_memories x dim), n_memories >= 1, finite
/// @param[in]  queries    row-major (n_queries x dim), finite
/// @param[in]  params     kernel, beta, eps, Q, degree (validated)
/// @param[out] energy     (n_queries)
/// @param[out] grad       (n_queries x dim), or an empty view to skip the gradient
/// @param[out] status     (n_queries), or empty
/// @throws denseam::invalid_argument on shape mismatch, non-finite values or bad params, and for
///         inputs whose energy cannot be computed in T without overflow (squared distances
///         4 d max|x|^2, the Gaussian exponent or the poly terms beyond T's range; beta beyond
///         float's range for T = float): the message gives the limit and how to rescale;
///         denseam::interrupted if exec.interrupt asks to stop.
/// Cost: 2*B*M*d flops (4*B*M*d with the gradient) through tiled GEMM with the kernel and the
/// reduction fused into the tile epilogue; O(tile) extra memory, the B x M matrix is never
/// formed. Exp-type kernels use a running max-shifted sum; compact kernels recheck pairs near the
/// support boundary in double precision. Thread-safe (no shared mutable state).
void energy_and_grad(matrix_view<const float> memories,
                     matrix_view<const float> queries,
                     const energy_params& params,
                     std::span<float> energy,
                     matrix_view<float> grad,
                     std::span<energy_status> status = {},
                     const exec_options& exec = {});
/// Double-precision overload.
void energy_and_grad(matrix_view<const double> memories,
                     matrix_view<const double> queries,
                     const energy_params& params,
                     std::span<double> energy,
                     matrix_view<double> grad,
                     std::span<energy_status> status = {},
                     const exec_options& exec = {});

/// Energies only (no gradient); see energy_and_grad.
template <class T>
void energy(matrix_view<const T> memories,
            matrix_view<const T> queries,
            const energy_params& params,
            std::span<T> out,
            std::span<energy_status> status = {},
            const exec_options& exec = {}) {
    energy_and_grad(memories, queries, params, out, matrix_view<T>{}, status, exec);
}

}  // namespace denseam
