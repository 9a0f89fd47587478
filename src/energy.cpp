// SPDX-License-Identifier: MIT
// Public entry points of include/denseam/energy.hpp: validate, then run the CPU engine.
#include "denseam/energy.hpp"

#include <cmath>
#include <string>

#include "cpu/tile_engine.hpp"
#include "denseam/error.hpp"

namespace denseam {

namespace {
std::string shape_str(std::int64_t r, std::int64_t c) {
    return "(" + std::to_string(r) + ", " + std::to_string(c) + ")";
}
}  // namespace

template <class T>
void check_finite(matrix_view<const T> m, const char* what) {
    for (std::int64_t i = 0; i < m.rows; ++i) {
        const T* r = m.row(i);
        for (std::int64_t j = 0; j < m.cols; ++j)
            if (!std::isfinite(r[j]))
                throw invalid_argument(std::string(what) + " contains a non-finite value (" +
                                       std::to_string(static_cast<double>(r[j])) + ") at row " +
                                       std::to_string(i) + ", column " + std::to_string(j));
    }
}

template <class T>
void check_memories_queries(matrix_view<const T> memories, matrix_view<const T> queries) {
    if (memories.rows < 1 || memories.data == nullptr)
        throw invalid_argument("the memory set is empty (memories has shape " +
                               shape_str(memories.rows, memories.cols) + ")");
    if (memories.cols < 1)
        throw invalid_argument("memories must have at least one column (shape " +
                               shape_str(memories.rows, memories.cols) + ")");
    if (queries.cols != memories.cols)
        throw invalid_argument("queries have dimension " + std::to_string(queries.cols) +
                               " but memories have dimension " + std::to_string(memories.cols) +
                               " (queries " + shape_str(queries.rows, queries.cols) +
                               ", memories " + shape_str(memories.rows, memories.cols) + ")");
    if (memories.ld < memories.cols || queries.ld < queries.cols)
        throw invalid_argument("matrix row stride is smaller than its number of columns");
    check_finite(memories, "memories");
    check_finite(queries, "queries");
}

template void check_finite(matrix_view<const float>, const char*);
template void check_finite(matrix_view<const double>, const char*);
template void check_memories_queries(matrix_view<const float>, matrix_view<const float>);
template void check_memories_queries(matrix_view<const double>, matrix_view<const double>);

namespace {

template <class T>
void energy_and_grad_impl(matrix_view<const T> memories,
                          matrix_view<const T> queries,
                          const energy_params& params,
                          std::span<T> energy,
                          matrix_view<T> grad,
                          std::span<energy_status> status,
                          const exec_options& exec) {
    validate(params);
    check_memories_queries(memories, queries);
    const auto n = static_cast<std::size_t>(queries.rows);
    if (energy.size() != n)
        throw invalid_argument("energy output has " + std::to_string(energy.size()) +
                               " entries, expected n_queries = " + std::to_string(n));
    if (!grad.empty() && (grad.rows != queries.rows || grad.cols != queries.cols))
        throw invalid_argument("gradient output has shape " + shape_str(grad.rows, grad.cols) +
                               ", expected " + shape_str(queries.rows, queries.cols));
    if (!status.empty() && status.size() != n)
        throw invalid_argument("status output has " + std::to_string(status.size()) +
                               " entries, expected " + std::to_string(n));
    detail::energy_unchecked(memories, queries, params, energy, grad, status, exec);
}

}  // namespace

void energy_and_grad(matrix_view<const float> memories,
                     matrix_view<const float> queries,
                     const energy_params& params,
                     std::span<float> energy,
                     matrix_view<float> grad,
                     std::span<energy_status> status,
                     const exec_options& exec) {
    energy_and_grad_impl(memories, queries, params, energy, grad, status, exec);
}

void energy_and_grad(matrix_view<const double> memories,
                     matrix_view<const double> queries,
                     const energy_params& params,
                     std::span<double> energy,
                     matrix_view<double> grad,
                     std::span<energy_status> status,
                     const exec_options& exec) {
    energy_and_grad_impl(memories, queries, params, energy, grad, status, exec);
}

}  // namespace denseam
