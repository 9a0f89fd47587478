// SPDX-License-Identifier: MIT
// The checks of every energy entry point (shapes, finiteness, range); the public entry points
// are in src/index/energy_entry.cpp (the engine or the range index).
#include "denseam/energy.hpp"  // IWYU pragma: keep

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "denseam/error.hpp"
#include "engine/tile_engine.hpp"
#include "engine/validate.hpp"
#include "io/format.hpp"

namespace denseam {

namespace detail {

namespace {
std::string shape_str(std::int64_t r, std::int64_t c) {
    return "(" + std::to_string(r) + ", " + std::to_string(c) + ")";
}
}  // namespace

template <class T>
double max_abs(matrix_view<const T> m) {
    T a = T(0);
    int nan = 0;  // the max below would pass over a NaN
    for (std::int64_t i = 0; i < m.rows; ++i) {
        const T* r = m.row(i);
#pragma omp simd reduction(max : a) reduction(| : nan)
        for (std::int64_t j = 0; j < m.cols; ++j) {
            const T v = std::abs(r[j]);
            a = v > a ? v : a;
            nan |= v != v ? 1 : 0;
        }
    }
    return nan ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(a);
}

template <class T>
void check_finite(matrix_view<const T> m, const char* what) {
    if (std::isfinite(max_abs(m))) return;
    for (std::int64_t i = 0; i < m.rows; ++i) {  // the first offending entry, for the message
        const T* r = m.row(i);
        for (std::int64_t j = 0; j < m.cols; ++j)
            if (!std::isfinite(r[j]))
                throw invalid_argument(std::string(what) + " contains a non-finite value (" +
                                       std::to_string(static_cast<double>(r[j])) + ") at row " +
                                       std::to_string(i) + ", column " + std::to_string(j));
    }
}

template <class T>
double check_memories_queries(matrix_view<const T> memories, matrix_view<const T> queries) {
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
    const double a = max_abs(memories), b = max_abs(queries);
    if (!std::isfinite(a)) check_finite(memories, "memories");  // throws, naming the entry
    if (!std::isfinite(b)) check_finite(queries, "queries");
    return std::max(a, b);
}

template <class T>
void check_energy_range(matrix_view<const T> memories,
                        double max_abs_coordinate,
                        const energy_params& p) {
    constexpr double big = static_cast<double>(std::numeric_limits<T>::max()) / 8;
    const char* tname = sizeof(T) == 4 ? "float32" : "float64";
    if (!(p.beta < big))
        throw invalid_argument("beta = " + shortest(p.beta) + " is beyond the range of " + tname +
                               (sizeof(T) == 4 ? " (compute in float64)" : ""));
    const double a = max_abs_coordinate;
    const double d = static_cast<double>(memories.cols);
    const double s = a * a * d;  // bounds every squared norm and dot product
    // The bound first; the message only when it is exceeded (this runs on every call).
    double bound = 0.0;
    int which = 0;  // 0 squared distances, 1 Gaussian exponent, 2 poly sum
    if (uses_distance(p.kernel)) {
        bound = 4.0 * s;
        if (!has_compact_support(p.kernel) && 2.0 * p.beta * s > bound) {
            bound = 2.0 * p.beta * s;
            which = 1;
        }
    } else {
        const double z = p.beta * s;
        bound = std::pow(z, p.degree) * static_cast<double>(memories.rows);
        which = 2;
    }
    if (bound < big) return;
    const std::string what =
        which == 0   ? "squared distances (up to 4 d max|x|^2 = " + shortest(bound) + ")"
        : which == 1 ? "the Gaussian exponent (beta/2) |x - xi|^2 (up to " + shortest(bound) + ")"
                     : "the poly kernel's sum of (beta x.xi)^n (up to " + shortest(bound) + ")";
    throw invalid_argument(
        "the energy cannot be computed in " + std::string(tname) + ": coordinates reach " +
        "|x| = " + shortest(a) + " in d = " + std::to_string(memories.cols) + ", so " + what +
        " would overflow (max " + shortest(big) + "); rescale the data (x/s and beta*s^2 " +
        "give the same beta |x - xi|^2)" + (sizeof(T) == 4 ? " or compute in float64" : ""));
}

void check_energy_outputs(std::int64_t n_queries,
                          std::int64_t dim,
                          std::size_t n_energy,
                          std::int64_t grad_rows,
                          std::int64_t grad_cols,
                          std::size_t n_status) {
    const auto n = static_cast<std::size_t>(n_queries);
    if (n_energy != n)
        throw invalid_argument("energy output has " + std::to_string(n_energy) +
                               " entries, expected n_queries = " + std::to_string(n));
    if (grad_rows >= 0 && (grad_rows != n_queries || grad_cols != dim))
        throw invalid_argument("gradient output has shape " + shape_str(grad_rows, grad_cols) +
                               ", expected " + shape_str(n_queries, dim));
    if (n_status != 0 && n_status != n)
        throw invalid_argument("status output has " + std::to_string(n_status) +
                               " entries, expected " + std::to_string(n));
}

template double max_abs(matrix_view<const float>);
template double max_abs(matrix_view<const double>);
template void check_finite(matrix_view<const float>, const char*);
template void check_finite(matrix_view<const double>, const char*);
template double check_memories_queries(matrix_view<const float>, matrix_view<const float>);
template double check_memories_queries(matrix_view<const double>, matrix_view<const double>);
template void check_energy_range(matrix_view<const float>, double, const energy_params&);
template void check_energy_range(matrix_view<const double>, double, const energy_params&);

}  // namespace detail

}  // namespace denseam
