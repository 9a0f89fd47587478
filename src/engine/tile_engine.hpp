// SPDX-License-Identifier: MIT
// The CPU energy engine: tiled GEMM with the kernel and the reduction fused into the epilogue.
//
// Work is a fixed grid of (query block, memory chunk) items whose partial sums are merged per
// query block in chunk order, so the result depends only on the shapes, never on the number of
// threads. Inside an item, memory tiles are processed one after another: a GEMM gives the dot
// products of the tile, the epilogue turns them into kernel values and gradient weights in
// place, and (for the gradient) a second GEMM accumulates sum_mu w_mu xi_mu. The B x M matrix
// never exists beyond one QB x MT tile.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "denseam/energy.hpp"
#include "engine/distance.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"
#include "engine/sums.hpp"
#include "kernels/policies.hpp"

namespace denseam::detail {

/// Tile sizes of the engine. They fix the summation order, hence the exact bits of a result;
/// they are constants (not thread-dependent) for that reason.
struct tile_sizes {
// Overridable at compile time only to benchmark other sizes (bench/README.md).
#ifndef DENSEAM_TUNE_QB
#define DENSEAM_TUNE_QB 512
#define DENSEAM_TUNE_MT 256
#endif
    static constexpr std::int64_t query_block = DENSEAM_TUNE_QB;  ///< QB rows of queries per item
    static constexpr std::int64_t memory_tile = DENSEAM_TUNE_MT;  ///< MT memories per GEMM tile
    static constexpr std::int64_t memory_chunk = 8192;  ///< MC memories per item (multiple of MT)
};

template <class T>
inline double sq_norm(const T* a, std::int64_t dim) {
    double s = 0.0;
    for (std::int64_t k = 0; k < dim; ++k) s += static_cast<double>(a[k]) * a[k];
    return s;
}

/// The partial state of one (query block, memory chunk) item.
struct partial_rows {
    std::vector<double> shift;  ///< exp-type kernels: terms are exp(-(q - shift))
    std::vector<double> z;      ///< sum of (shifted) kernel values
    std::vector<double> sw;     ///< sum of (shifted) gradient weights
};

template <class P, class T>
void energy_tiles(matrix_view<const T> mem,
                  matrix_view<const T> qry,
                  const energy_params& prm,
                  std::span<T> out_e,
                  matrix_view<T> out_g,
                  std::span<energy_status> out_st,
                  const exec_options& exec_in,
                  const query_sums_out* sums_out = nullptr) {
    // Small calls run on one thread: waking a second one costs more than the work (and on a busy
    // machine it can cost milliseconds). Safe because results never depend on the thread count.
    validate(exec_in);
    exec_options exec = exec_in;
    if (mem.rows * qry.rows * mem.cols < (std::int64_t(1) << 21)) exec.n_threads = 1;
    constexpr std::int64_t QB = tile_sizes::query_block;
    constexpr std::int64_t MT = tile_sizes::memory_tile;
    constexpr std::int64_t MC = tile_sizes::memory_chunk;
    const std::int64_t n_mem = mem.rows, dim = mem.cols, n_q = qry.rows;
    const bool want_grad = sums_out != nullptr ? sums_out->g != nullptr : !out_g.empty();
    const double beta = prm.beta;
    const T half_beta = static_cast<T>(0.5 * beta);
    const int degree = prm.degree;
    // Pairs whose GEMM-derived q lies within this relative band of the support boundary are
    // recomputed exactly in double (cancellation in ||x||^2 - 2 x.xi + ||xi||^2).
    const double band = 64.0 * std::numeric_limits<T>::epsilon() * 0.5 * beta;

    std::vector<T> mem_norm_t;
    if constexpr (P::distance) {
        mem_norm_t.resize(static_cast<std::size_t>(n_mem));
        for (std::int64_t j = 0; j < n_mem; ++j)
            mem_norm_t[static_cast<std::size_t>(j)] = static_cast<T>(sq_norm(mem.row(j), dim));
    }

    const std::int64_t n_mc = (n_mem + MC - 1) / MC;
    // Outer batches bound the memory of the gradient partials (n_mc * rows * dim values); the
    // batch size depends on the shapes only.
    std::int64_t qbatch = QB;
    if (want_grad) {
        const std::int64_t budget = std::int64_t(1) << 24;  // values of T per batch of partials
        qbatch =
            std::max<std::int64_t>(QB, budget / std::max<std::int64_t>(1, n_mc * dim) / QB * QB);
    } else {
        qbatch = 64 * QB;
    }

    for (std::int64_t b0 = 0; b0 < n_q; b0 += qbatch) {
        const std::int64_t nb = std::min(qbatch, n_q - b0);
        const std::int64_t n_qb = (nb + QB - 1) / QB;
        const std::int64_t n_items = n_qb * n_mc;
        std::vector<partial_rows> parts(static_cast<std::size_t>(n_items));
        std::vector<T> grad_parts;
        if (want_grad) grad_parts.assign(static_cast<std::size_t>(n_items * QB * dim), T(0));

        parallel_for(n_items, exec, [&](std::int64_t item) {
            const std::int64_t qb = item / n_mc, mc = item % n_mc;
            const std::int64_t r0 = b0 + qb * QB;
            const std::int64_t nr = std::min(QB, b0 + nb - r0);
            const std::int64_t m0 = mc * MC;
            const std::int64_t m1 = std::min(n_mem, m0 + MC);
            partial_rows& part = parts[static_cast<std::size_t>(item)];
            part.shift.assign(static_cast<std::size_t>(nr),
                              P::exp_type ? std::numeric_limits<double>::infinity() : 0.0);
            part.z.assign(static_cast<std::size_t>(nr), 0.0);
            part.sw.assign(static_cast<std::size_t>(nr), 0.0);
            T* g = want_grad ? grad_parts.data() + item * QB * dim : nullptr;
            std::vector<T> tile(static_cast<std::size_t>(QB * MT));
            std::vector<T> qnorm(static_cast<std::size_t>(nr));
            if constexpr (P::distance)
                for (std::int64_t i = 0; i < nr; ++i)
                    qnorm[static_cast<std::size_t>(i)] =
                        static_cast<T>(sq_norm(qry.row(r0 + i), dim));

            for (std::int64_t t0 = m0; t0 < m1; t0 += MT) {
                const std::int64_t nt = std::min(MT, m1 - t0);
                gemm(gemm_op::transposed,
                     nr,
                     nt,
                     dim,
                     T(1),
                     qry.row(r0),
                     qry.ld,
                     mem.row(t0),
                     mem.ld,
                     T(0),
                     tile.data(),
                     MT);
                bool any_weight = false;
                for (std::int64_t i = 0; i < nr; ++i) {
                    T* row = tile.data() + i * MT;
                    const std::size_t si = static_cast<std::size_t>(i);
                    if constexpr (P::distance) {
                        const T qn = qnorm[si];
                        const T* mn = mem_norm_t.data() + t0;
                        // Flag pairs whose q is within the cancellation band of the boundary.
                        int near = 0;
                        const T tband = static_cast<T>(band);
#pragma omp simd reduction(| : near)
                        for (std::int64_t j = 0; j < nt; ++j) {
                            T d2 = qn + mn[j] - T(2) * row[j];
                            const T q = half_beta * (d2 > T(0) ? d2 : T(0));
                            row[j] = q;
                            const T off = q - T(1);
                            near |=
                                static_cast<int>((off < T(0) ? -off : off) <= tband * (qn + mn[j]));
                        }
                        if (P::compact && near) {
                            for (std::int64_t j = 0; j < nt; ++j) {
                                const double q = row[j];
                                if (std::abs(q - 1.0) <= band * (static_cast<double>(qn) + mn[j])) {
                                    const double qe =
                                        0.5 * beta * sq_dist(qry.row(r0 + i), mem.row(t0 + j), dim);
                                    // Keep the exact side of the boundary after rounding to T.
                                    T qt = static_cast<T>(qe);
                                    if (qe < 1.0 && !(qt < T(1))) qt = std::nextafter(T(1), T(0));
                                    if (!(qe < 1.0) && qt < T(1)) qt = T(1);
                                    row[j] = qt;
                                }
                            }
                        }
                        if constexpr (P::exp_type) {
                            T qmin = std::numeric_limits<T>::infinity();
#pragma omp simd reduction(min : qmin)
                            for (std::int64_t j = 0; j < nt; ++j)
                                qmin = qmin < row[j] ? qmin : row[j];
                            const double old = part.shift[si];
                            if (static_cast<double>(qmin) < old) {
                                const double f = std::isinf(old) ? 0.0 : std::exp(qmin - old);
                                part.z[si] *= f;
                                part.sw[si] *= f;
                                if (want_grad)
                                    for (std::int64_t k = 0; k < dim; ++k)
                                        g[i * dim + k] = static_cast<T>(g[i * dim + k] * f);
                                part.shift[si] = qmin;
                            }
                            const T s = static_cast<T>(part.shift[si]);
                            double zs = 0.0;
#pragma omp simd reduction(+ : zs)
                            for (std::int64_t j = 0; j < nt; ++j) {
                                const T v = P::value(row[j] - s);
                                zs += v;
                                row[j] = v;
                            }
                            part.z[si] += zs;
                            part.sw[si] += zs;
                            any_weight = any_weight || zs > 0.0;
                        } else {
                            double zs = 0.0, ws = 0.0;
#pragma omp simd reduction(+ : zs, ws)
                            for (std::int64_t j = 0; j < nt; ++j) {
                                const T q = row[j];
                                const T v = P::value(q);
                                const T w = P::weight(q);
                                zs += v;
                                ws += w;
                                row[j] = w;
                            }
                            part.z[si] += zs;
                            part.sw[si] += ws;
                            any_weight = any_weight || ws > 0.0;
                        }
                    } else {
                        double zs = 0.0, ws = 0.0;
                        const T tb = static_cast<T>(beta);
                        for (std::int64_t j = 0; j < nt; ++j) {
                            const T z = tb * row[j];
                            const T v = P::value(z, degree);
                            const T w = P::weight(z, degree);
                            zs += v;
                            ws += w;
                            row[j] = w;
                        }
                        part.z[si] += zs;
                        part.sw[si] += ws;
                        any_weight = any_weight || ws > 0.0;
                    }
                }
                if (want_grad && any_weight)
                    gemm(gemm_op::plain,
                         nr,
                         dim,
                         nt,
                         T(1),
                         tile.data(),
                         MT,
                         mem.row(t0),
                         mem.ld,
                         T(1),
                         g,
                         dim);
            }
        });

        // Merge the chunks of each query block in chunk order, then finish each query (or hand
        // its sums to the caller).
        parallel_for(n_qb, exec, [&](std::int64_t qb) {
            const std::int64_t r0 = b0 + qb * QB;
            const std::int64_t nr = std::min(QB, b0 + nb - r0);
            std::vector<double> gsum(want_grad ? static_cast<std::size_t>(dim) : 0);
            for (std::int64_t i = 0; i < nr; ++i) {
                const std::size_t si = static_cast<std::size_t>(i);
                const std::int64_t r = r0 + i;
                double* gs = sums_out != nullptr && want_grad ? sums_out->g + r * dim : gsum.data();
                const query_sums s = merge_sums(
                    P::exp_type,
                    n_mc,
                    [&](std::int64_t c) {
                        const std::int64_t item = qb * n_mc + c;
                        const partial_rows& part = parts[static_cast<std::size_t>(item)];
                        return sums_part<T>{
                            part.shift[si],
                            part.z[si],
                            part.sw[si],
                            want_grad ? grad_parts.data() + (item * QB + i) * dim : nullptr};
                    },
                    std::span<double>(gs, want_grad ? static_cast<std::size_t>(dim) : 0));
                if (sums_out != nullptr) {
                    sums_out->shift[static_cast<std::size_t>(r)] = s.shift;
                    sums_out->z[static_cast<std::size_t>(r)] = s.z;
                    sums_out->sw[static_cast<std::size_t>(r)] = s.sw;
                    continue;
                }
                finish_query<T>(P::exp_type,
                                P::distance,
                                s,
                                gsum.data(),
                                qry.row(r),
                                dim,
                                prm,
                                out_e[static_cast<std::size_t>(r)],
                                want_grad ? out_g.row(r) : nullptr,
                                out_st.empty() ? nullptr : &out_st[static_cast<std::size_t>(r)]);
            }
        });
    }
}

/// The engine for any kernel, without validation (callers inside the library have validated).
template <class T>
void energy_unchecked(matrix_view<const T> memories,
                      matrix_view<const T> queries,
                      const energy_params& params,
                      std::span<T> energy,
                      matrix_view<T> grad,
                      std::span<energy_status> status,
                      const exec_options& exec) {
    with_kernel(params.kernel, [&](auto policy) {
        energy_tiles<decltype(policy), T>(memories, queries, params, energy, grad, status, exec);
    });
}

/// The engine's per-query sums over `memories` instead of energies (src/engine/sums.hpp): what a
/// shard of a memory set contributes, to be merged with merge_sums and finished with
/// finish_query. `out.g` null skips the gradient sums. No validation (callers have validated).
template <class T>
void energy_sums(matrix_view<const T> memories,
                 matrix_view<const T> queries,
                 const energy_params& params,
                 const query_sums_out& out,
                 const exec_options& exec) {
    with_kernel(params.kernel, [&](auto policy) {
        energy_tiles<decltype(policy), T>(
            memories, queries, params, {}, matrix_view<T>{}, {}, exec, &out);
    });
}

}  // namespace denseam::detail
