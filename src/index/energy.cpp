// SPDX-License-Identifier: MIT
// Energies through the range index (compact kernels), and the public entry points of
// include/denseam/energy.hpp: validate, then the index or the GEMM engine.
#include "denseam/energy.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "engine/parallel.hpp"
#include "engine/tile_engine.hpp"
#include "engine/validate.hpp"
#include "index/range_index.hpp"
#include "kernels/policies.hpp"

namespace denseam {

namespace detail {

template <class T>
void energy_with_index(const range_index<T>& index,
                       matrix_view<const T> queries,
                       const energy_params& params,
                       std::span<T> energy,
                       matrix_view<T> grad,
                       std::span<energy_status> status,
                       const exec_options& exec) {
    const std::int64_t n = queries.rows, dim = queries.cols;
    // The support is decided by the kernel on q = (beta/2) d2 (its value is 0 for q >= 1), as
    // in the engine; the search radius only has to include it.
    const double r2 = support_search_r2(params.beta), half_beta = 0.5 * params.beta;
    const bool log_q = resolved_q(params) == q_kind::log;
    const bool want_grad = !grad.empty();
    constexpr std::int64_t block = 32;
    const std::int64_t n_blocks = (n + block - 1) / block;
    with_kernel(params.kernel, [&](auto policy) {
        using P = decltype(policy);
        if constexpr (P::distance && P::compact) {
            parallel_for(n_blocks, exec, [&](std::int64_t b) {
                std::vector<double> x(static_cast<std::size_t>(dim)),
                    g(static_cast<std::size_t>(dim));
                std::vector<std::int64_t> pos;
                std::vector<double> d2;
                for (std::int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
                    for (std::int64_t k = 0; k < dim; ++k)
                        x[static_cast<std::size_t>(k)] = static_cast<double>(queries(i, k));
                    pos.clear();
                    d2.clear();
                    index.within(x.data(), r2, pos, &d2);
                    double z = 0.0, sw = 0.0;
                    std::fill(g.begin(), g.end(), 0.0);
                    for (std::size_t a = 0; a < pos.size(); ++a) {
                        const double q = half_beta * d2[a];
                        z += P::value(q);
                        if (want_grad) {
                            const double w = P::weight(q);
                            sw += w;
                            const T* xi = index.row(pos[a]);
                            for (std::int64_t k = 0; k < dim; ++k)
                                g[static_cast<std::size_t>(k)] += w * static_cast<double>(xi[k]);
                        }
                    }
                    const row_energy re = assemble_row(0.0, z, params.beta, params.eps, log_q);
                    energy[static_cast<std::size_t>(i)] = static_cast<T>(re.energy);
                    if (!status.empty())
                        status[static_cast<std::size_t>(i)] =
                            z == 0.0 ? energy_status::unsupported : energy_status::ok;
                    if (want_grad)
                        for (std::int64_t k = 0; k < dim; ++k)
                            grad(i, k) =
                                static_cast<T>(re.scale * (sw * x[static_cast<std::size_t>(k)] -
                                                           g[static_cast<std::size_t>(k)]));
                }
            });
        } else {
            throw invalid_argument("kernel '" + std::string(to_string(params.kernel)) +
                                   "' has no compact support: no range index applies");
        }
    });
}

template void energy_with_index(const range_index<float>&,
                                matrix_view<const float>,
                                const energy_params&,
                                std::span<float>,
                                matrix_view<float>,
                                std::span<energy_status>,
                                const exec_options&);
template void energy_with_index(const range_index<double>&,
                                matrix_view<const double>,
                                const energy_params&,
                                std::span<double>,
                                matrix_view<double>,
                                std::span<energy_status>,
                                const exec_options&);

template <class T>
std::unique_ptr<range_index<T>> index_for_call(matrix_view<const T> memories,
                                               const energy_params& params,
                                               std::int64_t n_queries,
                                               matrix_view<const T> probe,
                                               const exec_options& exec) {
    if (!has_compact_support(params.kernel) || !uses_distance(params.kernel)) return nullptr;
    index_kind kind = exec.index;
    const bool automatic = kind == index_kind::automatic;
    if (automatic) {
        // Measured (bench/bench_index, docs/index.md): the k-d tree beats the GEMM engine up to
        // d ~ 8 when a query examines few memories, and loses from d = 16 whatever the radius;
        // the ball partition lost to the scan in every uniform case up to d = 64. So the
        // automatic choice is the k-d tree for d <= 12, confirmed by the probe below, else
        // the scan (the ball partition stays for explicit use on clustered high-d data):
        // choose_index.
        kind = choose_index(memories.rows, memories.cols, n_queries);
    }
    if (kind == index_kind::brute) return nullptr;
    auto idx = std::make_unique<range_index<T>>(memories, kind, exec);
    if (automatic && probe.rows > 0) {
        // The index pays only where a query examines few memories: an examined memory costs
        // the tree about 25 times what a memory costs the GEMM engine in float (12 times in
        // double). Probe up to 16 of the queries; fall back to the scan above 1/32 (1/16).
        const std::int64_t np = std::min<std::int64_t>(16, probe.rows);
        const double r2 = support_search_r2(params.beta);
        std::vector<double> x(static_cast<std::size_t>(memories.cols));
        std::vector<std::int64_t> pos;
        for (std::int64_t a = 0; a < np; ++a) {
            const std::int64_t i = a * probe.rows / np;
            for (std::int64_t k = 0; k < memories.cols; ++k)
                x[static_cast<std::size_t>(k)] = static_cast<double>(probe(i, k));
            pos.clear();
            idx->within(x.data(), r2, pos, nullptr);
        }
        const double share = sizeof(T) == 4 ? 1.0 / 32.0 : 1.0 / 16.0;
        if (static_cast<double>(idx->rows_examined()) >
            static_cast<double>(np) * static_cast<double>(memories.rows) * share)
            return nullptr;
    }
    return idx;
}

template std::unique_ptr<range_index<float>> index_for_call(matrix_view<const float>,
                                                            const energy_params&,
                                                            std::int64_t,
                                                            matrix_view<const float>,
                                                            const exec_options&);
template std::unique_ptr<range_index<double>> index_for_call(matrix_view<const double>,
                                                             const energy_params&,
                                                             std::int64_t,
                                                             matrix_view<const double>,
                                                             const exec_options&);

}  // namespace detail

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
    const double coord_max = detail::check_memories_queries(memories, queries);
    detail::check_energy_range(memories, coord_max, params);
    detail::check_energy_outputs(queries, energy, grad, status);
    if (exec.index != index_kind::automatic && exec.index != index_kind::brute &&
        !has_compact_support(params.kernel))
        throw invalid_argument("index '" + std::string(to_string(exec.index)) +
                               "' needs a compact kernel (kernel '" +
                               std::string(to_string(params.kernel)) + "' reaches every memory)");
    if (const auto idx = detail::index_for_call(memories, params, queries.rows, queries, exec))
        detail::energy_with_index(*idx, queries, params, energy, grad, status, exec);
    else
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
