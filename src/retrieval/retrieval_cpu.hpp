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

}  // namespace denseam::detail
