// SPDX-License-Identifier: MIT
// The exact range-search index (internal): a k-d tree for low d, a ball partition scanned by GEMM
// blocks for high d, or a plain scan. One object answers range, nearest and farthest queries;
// every distance it reports is detail::sq_dist(x, row) in double, so a decision made on it is
// the one a brute-force loop over the rows makes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/exec.hpp"
#include "denseam/index.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam::detail {

/// The kind `automatic` resolves to for n rows of dimension dim searched by about n_queries
/// queries: kdtree for dim <= 12 with at least 1024 rows and 4 queries, else brute (measured
/// crossover: bench/bench_index, docs/index.md; `ball` is only used when asked for).
index_kind choose_index(std::int64_t n, std::int64_t dim, std::int64_t n_queries);

/// Rows are addressed by position 0..size()-1 (the order they were given and appended in).
/// Thread safety: const member functions may run concurrently; the others may not run while
/// any other member function runs.
template <class T>
class range_index {
  public:
    range_index();
    /// Builds over `rows` (n x dim, copied; n may be 0). `kind` automatic resolves with
    /// choose_index(n, dim, n_queries_hint).
    range_index(matrix_view<const T> rows,
                index_kind kind,
                const exec_options& exec = {},
                std::int64_t n_queries_hint = 1 << 20);
    ~range_index();
    range_index(range_index&&) noexcept;
    range_index& operator=(range_index&&) noexcept;

    index_kind kind() const noexcept;
    std::int64_t size() const noexcept;
    std::int64_t dim() const noexcept;
    /// The row at `position` (dim values of T).
    const T* row(std::int64_t position) const noexcept;
    /// Bytes held (the copy of the rows and the structure).
    std::size_t bytes() const noexcept;

    /// Appends rows at positions size().. (incremental: they are scanned until the structure is
    /// rebuilt, which happens once the appended rows outnumber a fraction of the indexed ones).
    void append(matrix_view<const T> rows, const exec_options& exec = {});
    /// Removes the rows at `positions` (sorted ascending, distinct, in range); the others keep
    /// their order and are renumbered 0..size()-1.
    void remove(std::span<const std::int64_t> positions, const exec_options& exec = {});

    /// Range search of one state x (dim doubles): appends to `pos` every position p with
    /// sq_dist(x, row p) < r2, ascending, and to `d2` (if not null) those distances; returns
    /// whether some row has sq_dist(x, row) == r2 exactly (on the boundary).
    bool within(const double* x,
                double r2,
                std::vector<std::int64_t>& pos,
                std::vector<double>* d2) const;

    /// Range search of a batch (xs: nq x dim doubles, row-major): CSR results like within();
    /// boundary[i] set for query i (queries in parallel blocks, each one within() call).
    void within_batch(const double* xs,
                      std::int64_t nq,
                      double r2,
                      std::vector<std::int64_t>& offsets,
                      std::vector<std::int64_t>& pos,
                      std::vector<double>* d2,
                      std::vector<std::uint8_t>* boundary,
                      const exec_options& exec = {}) const;

    /// The k rows nearest to x by (sq_dist, position), ascending (fewer when size() < k).
    void nearest(const double* x,
                 std::int64_t k,
                 std::vector<std::int64_t>& pos,
                 std::vector<double>& d2) const;
    /// max over rows of sq_dist(x, row) (0 when empty).
    double farthest(const double* x) const;

    /// Rows examined per query, summed since construction (a statistic for benchmarks and the
    /// automatic choice; relaxed atomic, never part of a result).
    std::int64_t rows_examined() const noexcept;

  private:
    struct impl;
    std::unique_ptr<impl> p_;
};

extern template class range_index<float>;
extern template class range_index<double>;

/// The squared radius a range search uses to find every memory with q = (beta/2) d2 < 1 and
/// every one with q == 1 (the caller then decides from the exact d2 by the kernels' own rule,
/// q computed as (beta/2) * d2): 2/beta widened far beyond the rounding of either form.
inline double support_search_r2(double beta) {
    return (2.0 / beta) * (1.0 + 1e-12);
}

/// The index a call with n_queries queries against `memories` uses, or null for the scan /
/// GEMM engine: exec.index when it names a kind (brute: null); for `automatic` a k-d tree when
/// d <= 12, M >= 1024 and n_queries >= 4, kept only if a probe of up to 16 of the `probe` states
/// (the call's queries) examines at most 1/32 (float) or 1/16 (double) of the memories per
/// query; else null. Null for a kernel without compact support. (Measured crossover:
/// bench/bench_index, docs/index.md.)
template <class T>
std::unique_ptr<range_index<T>> index_for_call(matrix_view<const T> memories,
                                               const energy_params& params,
                                               std::int64_t n_queries,
                                               matrix_view<const T> probe,
                                               const exec_options& exec);

/// Energies (and gradients when grad is not empty) of a compact distance kernel through an
/// index over the memories (index positions = memory rows): per query the members within the
/// support radius, their kernel terms summed in double in position order, E and grad assembled
/// as the engine does (kernels/policies.hpp assemble_row). Same shapes, statuses and errors as
/// denseam::energy_and_grad, without its validation (the caller validates). Results do not
/// depend on the thread count or the index kind.
template <class T>
void energy_with_index(const range_index<T>& index,
                       matrix_view<const T> queries,
                       const energy_params& params,
                       std::span<T> energy,
                       matrix_view<T> grad,
                       std::span<energy_status> status,
                       const exec_options& exec);

}  // namespace denseam::detail
