// SPDX-License-Identifier: MIT
// What the files of src/dist share (internal).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "dist/dist.hpp"
#include "index/range_index.hpp"

namespace denseam::dist::detail_dist {

/// floor(total r / n) without overflow: where rank r's even share of `total` items starts (rows
/// of a memory file, queries of a batch); rank r holds [slice_begin(r), slice_begin(r + 1)).
inline std::int64_t slice_begin(std::int64_t total, int r, int n) {
    const std::int64_t q = total / n, rem = total % n;
    return q * r + rem * r / n;
}

/// Energies (and gradients) of the batch `qry` (on every rank) over the shards; the finished
/// rows on every rank (to_all) or on rank 0 (e, g, st; others unchanged).
template <class T>
void batch_energy(context& ctx,
                  const shard<T>& mem,
                  matrix_view<const T> qry,
                  const energy_params& prm,
                  bool want_grad,
                  bool to_all,
                  const exec_options& exec,
                  std::vector<T>& e,
                  std::vector<T>& g,
                  std::vector<energy_status>& st);

/// The number of queries (rank 0's) on every rank.
template <class T>
std::int64_t share_query_shape(context& ctx, matrix_view<const T> queries);

/// The agreed checks of an energy or retrieval call (params, exec, batch, dimensions, finite
/// queries, the range of the inputs).
template <class T>
void check_inputs(context& ctx,
                  const shard<T>& mem,
                  matrix_view<const T> queries,
                  const energy_params& params,
                  std::int64_t batch,
                  const exec_options& exec);

/// Rows [b0, b0 + nb) of rank 0's queries, on every rank.
template <class T>
std::vector<T> share_batch(
    context& ctx, matrix_view<const T> queries, std::int64_t b0, std::int64_t nb, std::int64_t d);

/// What the exact LSR fixed point keeps across batches: this rank's range index over its shard
/// (built at the first batch, probed with it; null for the scan).
template <class T>
struct fixed_point_state {
    bool built = false;
    std::int64_t n_queries = 0;
    std::unique_ptr<detail::range_index<T>> index;
};

/// The exact LSR fixed point of the batch xb (on every rank); the result on rank 0.
template <class T>
retrieve_result<T> fixed_point_batch(context& ctx,
                                     const shard<T>& mem,
                                     fixed_point_state<T>& fp,
                                     matrix_view<const T> xb,
                                     const energy_params& prm,
                                     const retrieve_options& opt,
                                     const exec_options& exec);

}  // namespace denseam::dist::detail_dist
