// SPDX-License-Identifier: MIT
// denseam: retrieval (energy descent and exact fixed-point iterations).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "denseam/energy.hpp"

namespace denseam {

/// A scalar schedule over steps t = 0 .. n_steps-1.
///   constant  value(t) = start
///   cosine    value(t) = start * [(1 - a) * (1 + cos(pi t / n_steps)) / 2 + a], a = end / start
///             (the reference code's cosine decay; it reaches `end` at t = n_steps)
///   values    value(t) = values[min(t, values.size() - 1)]  (user-supplied)
struct schedule {
    enum class kind { constant, cosine, values };
    kind type = kind::constant;
    double start = 0.0;
    double end = 0.0;
    std::vector<double> values;

    static schedule constant(double v) { return {kind::constant, v, v, {}}; }
    static schedule cosine(double start, double end) { return {kind::cosine, start, end, {}}; }
    static schedule from_values(std::vector<double> v) {
        return {kind::values, 0.0, 0.0, std::move(v)};
    }
    double at(std::int64_t t, std::int64_t n_steps) const noexcept;
};

enum class retrieval_method { fixed_point, gradient };

/// Per-query outcome of a retrieval.
enum class retrieval_status : std::uint8_t {
    converged = 0,       ///< fixed point reached (LSR: a strict local minimum) / gradient below tol
    max_steps = 1,       ///< the step limit was reached first
    out_of_support = 2,  ///< the state left (or never had) the support of a compact kernel
    non_finite = 3,      ///< the state became NaN/Inf (e.g. a too-large step size)
    /// The LSR fixed-point iteration stopped at x = mean(S) with a memory exactly on its support
    /// boundary ((beta/2)||x - xi||^2 == 1 in double): not a local minimum (the energy decreases
    /// towards that memory). Also when the state returned in T = float, rounded from that mean,
    /// has a boundary memory or a strict support other than S (docs/numerics.md, Retrieval).
    not_minimum = 4,
};

std::string_view to_string(retrieval_method m) noexcept;
std::string_view to_string(retrieval_status s) noexcept;
retrieval_method parse_method(std::string_view name);

/// Arithmetic of the energy gradient in gradient descent.
///   state:  in T, the type of the states (default);
///   single: in float, while the state, the update and the stopping test stay in T (the
///           reference's float32 arithmetic; about twice as fast when T is double). Distances
///           are formed as differences first, so the gradient near a minimum is accurate to a
///           few float ulps of the distance to the patterns, not of the coordinates.
enum class gradient_precision { state, single };

/// Options of retrieve(); the defaults here are the library's defaults (the CLI and Python take
/// theirs from this struct). Options that only one method uses: step_size, beta, noise, seed,
/// clamp and precision are for method gradient; tol is used by gradient descent and by the
/// mean-shift fixed point (the LSR fixed point stops when its support set repeats).
struct retrieve_options {
    retrieval_method method = retrieval_method::fixed_point;
    /// Gradient descent: number of steps; fixed point: maximum number of iterations.
    std::int64_t max_steps = 1000;
    /// Gradient: stop a query once max_i |dE/dx_i| < tol (0: never stop early).
    /// Fixed point (non-LSR kernels): stop once ||x_{k+1} - x_k||_inf < tol.
    double tol = 1e-6;
    /// Gradient descent step size alpha_t.
    schedule step_size = schedule::constant(0.1);
    /// Gradient descent beta_t; empty values with kind constant and start <= 0 means "params.beta".
    schedule beta = schedule::constant(0.0);
    /// Gradient descent noise sigma_t: x <- x - alpha_t (grad + sigma_t n), n ~ N(0, I).
    schedule noise = schedule::constant(0.0);
    /// Coordinates that are clamped (their gradient is zeroed): pattern completion.
    std::vector<std::int64_t> clamp;
    /// Seed of the noise; the noise of query i at step t depends only on (seed, i, t).
    std::uint64_t seed = 0;
    /// Gradient descent: arithmetic of the gradient (see gradient_precision).
    gradient_precision precision = gradient_precision::state;
};

std::string_view to_string(gradient_precision p) noexcept;
/// "state" or "single" (also "double"/"float" as aliases of state/single for T = double).
gradient_precision parse_precision(std::string_view name);

/// Support sets in CSR form: query i's set is indices[offsets[i] .. offsets[i+1]).
struct support_sets {
    std::vector<std::int64_t> offsets;
    std::vector<std::int64_t> indices;
};

template <class T>
struct retrieve_result {
    std::vector<T> states;  ///< (n_queries x dim), row-major
    std::vector<T> energy;  ///< (n_queries) energy of the final state
    std::vector<retrieval_status> status;
    std::vector<std::int64_t> steps;  ///< gradient steps / fixed-point iterations per query
    support_sets support;             ///< LSR fixed point only: strict active set of each state
};

/// Retrieve memories from `queries` by descent on the energy `params`.
///
/// fixed_point:
///   - lsr: paper Algorithm 1 with the strict rule S = {mu : ||x - xi_mu|| < R},
///     x <- mean(S), stopping when S repeats; distances and means in double precision. A
///     converged result is a true strict local minimum (x = mean(S), S its strict active set,
///     no memory exactly on the boundary); when a memory lies exactly on the boundary of the
///     final x the status is not_minimum instead. `support` and `energy` are those of the state
///     returned (for T = float, of the rounded state). `steps` counts support-set evaluations
///     (the reference's niter, >= 2 for a supported start). A start outside every support
///     returns unchanged with status out_of_support.
///   - other distance kernels: the mean-shift iteration x <- sum w xi / sum w with
///     w_mu = -dK/dq (for lse: x <- sum softmax_mu xi_mu) until ||dx||_inf < tol.
///   - poly and tophat have no fixed-point iteration: invalid_argument.
/// gradient: x <- x - alpha_t (grad E(x; beta_t) + sigma_t n) with clamped coordinates, for up to
///   max_steps steps, each query stopping once its gradient is below tol.
/// @param[in] memories (n_memories x dim); @param[in] queries (n_queries x dim): start states.
/// @throws denseam::invalid_argument for bad shapes/values/options, or inputs whose energy would
///         overflow T (see energy_and_grad); denseam::interrupted when exec.interrupt says so.
/// Results: `energy` is NaN exactly where `status` is non_finite.
/// Cost: LSR fixed point O(steps M d) per query; mean-shift O(steps M d) per query; gradient
/// descent one energy-and-gradient evaluation (O(M d) per query) per step, the tiled GEMM engine
/// for large memory sets, a vectorised per-query path for M d <= 16384. Thread-safe (see
/// exec_options); results do not depend on the thread count.
template <class T>
retrieve_result<T> retrieve(matrix_view<const T> memories,
                            matrix_view<const T> queries,
                            const energy_params& params,
                            const retrieve_options& options = {},
                            const exec_options& exec = {});

}  // namespace denseam
