// SPDX-License-Identifier: MIT
// CPU retrieval algorithms (called by src/retrieval.cpp after validation).
#pragma once

#include "denseam/retrieval.hpp"

namespace denseam::detail {

template <class T>
retrieve_result<T> lsr_fixed_point(matrix_view<const T> memories,
                                   matrix_view<const T> queries,
                                   const energy_params& params,
                                   const retrieve_options& options,
                                   const exec_options& exec);
template <class T>
retrieve_result<T> mean_shift(matrix_view<const T> memories,
                              matrix_view<const T> queries,
                              const energy_params& params,
                              const retrieve_options& options,
                              const exec_options& exec);
template <class T>
retrieve_result<T> gradient_descent(matrix_view<const T> memories,
                                    matrix_view<const T> queries,
                                    const energy_params& params,
                                    const retrieve_options& options,
                                    const exec_options& exec);

/// A standard normal draw that depends only on (seed, a, b, c): counter-based, so noise does not
/// depend on batching or threads.
double counter_normal(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c);

}  // namespace denseam::detail
