// SPDX-License-Identifier: MIT
// Input checks shared by the library's entry points (and the CLI's loaders).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "denseam/energy.hpp"
#include "denseam/kernels.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam::detail {

/// Throws denseam::invalid_argument unless every entry of `m` is finite; `what` names the array
/// in the message (e.g. "queries"), which also gives the first offending (row, col).
template <class T>
void check_finite(matrix_view<const T> m, const char* what);

/// max |x| over the entries of `m` (0 for none) in one vectorised pass: NaN if one is NaN,
/// infinity if one is infinite.
template <class T>
double max_abs(matrix_view<const T> m);

/// Throws unless memories is non-empty, dims agree and both are finite. Returns the largest
/// |coordinate| of both (for check_energy_range: one pass over the data for both checks).
template <class T>
double check_memories_queries(matrix_view<const T> memories, matrix_view<const T> queries);

/// Throws denseam::invalid_argument when the energy of inputs whose coordinates reach
/// |x| <= max_abs_coordinate (check_memories_queries) cannot be computed in T without overflow:
/// squared distances (up to 4 d max|x|^2), the exponent (beta/2) |x - xi|^2 of the Gaussian
/// kernel, or the poly kernel's (beta x.xi)^n would exceed T's range, or beta itself does. The
/// message states the limit and how to rescale; it never blames a file for our range.
template <class T>
void check_energy_range(matrix_view<const T> memories,
                        double max_abs_coordinate,
                        const energy_params& params);

/// Throws denseam::invalid_argument unless the outputs of an energy call for n_queries queries
/// of dimension dim fit: n_energy == n_queries, a gradient of (n_queries, dim) or none
/// (grad_rows = grad_cols = -1), n_status == n_queries or 0.
void check_energy_outputs(std::int64_t n_queries,
                          std::int64_t dim,
                          std::size_t n_energy,
                          std::int64_t grad_rows,
                          std::int64_t grad_cols,
                          std::size_t n_status);

/// check_energy_outputs for the output views of a call with `queries` (an empty grad: none).
template <class T>
void check_energy_outputs(matrix_view<const T> queries,
                          std::span<T> energy,
                          matrix_view<T> grad,
                          std::span<energy_status> status) {
    check_energy_outputs(queries.rows,
                         queries.cols,
                         energy.size(),
                         grad.empty() ? -1 : grad.rows,
                         grad.empty() ? -1 : grad.cols,
                         status.size());
}

}  // namespace denseam::detail
