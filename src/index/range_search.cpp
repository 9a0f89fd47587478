// SPDX-License-Identifier: MIT
// The public range search (include/denseam/index.hpp): validate, build, search.
#include <chrono>
#include <cmath>
#include <string>

#include "denseam/error.hpp"
#include "denseam/index.hpp"
#include "engine/validate.hpp"
#include "index/range_index.hpp"
#include "io/format.hpp"

namespace denseam {

template <class T>
range_result range_search(matrix_view<const T> memories,
                          matrix_view<const T> queries,
                          double radius,
                          index_kind kind,
                          const exec_options& exec) {
    validate(exec);
    if (!(std::isfinite(radius) && radius > 0.0))
        throw invalid_argument("radius must be finite and > 0 (got " + detail::shortest(radius) +
                               ")");
    detail::check_memories_queries(memories, queries);
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const detail::range_index<T> index(memories, kind, exec, queries.rows);
    const auto t1 = clock::now();
    range_result res;
    res.used = index.kind();
    std::vector<double> xs(static_cast<std::size_t>(queries.rows * queries.cols));
    for (std::int64_t i = 0; i < queries.rows; ++i)
        for (std::int64_t k = 0; k < queries.cols; ++k)
            xs[static_cast<std::size_t>(i * queries.cols + k)] = static_cast<double>(queries(i, k));
    index.within_batch(xs.data(),
                       queries.rows,
                       radius * radius,
                       res.offsets,
                       res.indices,
                       &res.sq_distances,
                       nullptr,
                       exec);
    const auto t2 = clock::now();
    res.build_seconds = std::chrono::duration<double>(t1 - t0).count();
    res.search_seconds = std::chrono::duration<double>(t2 - t1).count();
    return res;
}

template range_result range_search(
    matrix_view<const float>, matrix_view<const float>, double, index_kind, const exec_options&);
template range_result range_search(
    matrix_view<const double>, matrix_view<const double>, double, index_kind, const exec_options&);

}  // namespace denseam
