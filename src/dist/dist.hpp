// SPDX-License-Identifier: MIT
// Memories sharded over MPI ranks (internal; the optional component src/dist, built when CMake
// finds MPI). This header has no MPI type: the CLI (cli/distributed.cpp) includes it whether or
// not MPI was found, and available() says which. docs/distributed.md describes the design.
//
// Every function here is collective: every rank of the job calls it, in the same order, with the
// same scalar arguments. Inputs that only rank 0 has (the queries) are broadcast in batches;
// results are gathered on rank 0. Partial sums are merged in rank order, so a result never
// depends on timing; with one rank it is the single-process result.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/minima.hpp"
#include "denseam/retrieval.hpp"

namespace denseam::dist {

/// Whether this build has MPI (else every entry point throws invalid_argument saying so).
bool available() noexcept;

/// An error every rank agreed on: thrown on every rank at once, with the message of the lowest
/// rank that failed and its exit code (2 for bad input, 1 otherwise).
class agreed_error : public std::runtime_error {
  public:
    agreed_error(const std::string& what, int code, int rank)
        : std::runtime_error(what), code_(code), rank_(rank) {}
    int code() const noexcept { return code_; }
    int rank() const noexcept { return rank_; }

  private:
    int code_, rank_;
};

/// What the ranks sent each other (payload bytes and point-to-point messages, self excluded),
/// and for the exact LSR fixed point the query-rank pairs contacted against what contacting
/// every other rank would have been.
struct traffic {
    std::int64_t bytes_sent = 0, messages = 0, requests = 0, requests_broadcast = 0;
};

/// The MPI job, initialised on construction (MPI_Init_thread, funneled) and finalised on
/// destruction. One per process.
class context {
  public:
    context();
    ~context();
    context(const context&) = delete;
    context& operator=(const context&) = delete;

    int rank() const noexcept;
    int size() const noexcept;

    /// Runs f on every rank; if it throws on any rank, every rank throws agreed_error with the
    /// message of the lowest failing rank (suffixed "(rank r)" in a job of several ranks).
    void agree(const std::function<void()>& f);

    /// Ends every rank of the job at once with `code` (MPI_Abort), after printing `message` on
    /// this rank's stderr: for a failure in the middle of a collective step, which the other
    /// ranks cannot hear about.
    [[noreturn]] void abort(const std::string& message, int code);

    /// Broadcasts from rank 0.
    void broadcast(std::vector<std::byte>& bytes);
    void broadcast(std::vector<std::int64_t>& values);

    /// This rank's traffic so far, and the job's (summed over ranks; collective).
    const traffic& local_traffic() const noexcept;
    traffic& local_traffic() noexcept;
    traffic job_traffic();

    /// --threads 0 under MPI: the cores of this node divided by the ranks on it (at least 1).
    int default_threads() const;

    struct impl;
    impl& internals() noexcept { return *impl_; }

  private:
    std::unique_ptr<impl> impl_;
};

enum class partition { rows, cells };
std::string_view to_string(partition p) noexcept;
/// "rows" or "cells"; throws invalid_argument naming the value otherwise.
partition parse_partition(std::string_view name);

/// One rank's share of a memory set: its rows (in increasing global order), their row numbers in
/// the file, and their bounding box.
template <class T>
struct shard {
    std::int64_t total_rows = 0, dim = 0;
    std::vector<T> rows;              ///< (size() x dim), row-major
    std::vector<std::int64_t> ids;    ///< global row of each, increasing
    std::vector<double> lo, hi;       ///< bounding box (lo = +inf, hi = -inf when empty)
    std::vector<std::int64_t> sizes;  ///< rows held by every rank
    std::vector<double> boxes;        ///< every rank's box: (size x 2 dim), lo then hi
    std::int64_t size() const noexcept { return static_cast<std::int64_t>(ids.size()); }
    matrix_view<const T> view() const noexcept {
        return matrix_view<const T>(rows.data(), size(), dim, dim);
    }
};

/// Reads the shards of the 2-D .npy at `path` (collective). rows: rank r reads rows
/// [r M / N, (r + 1) M / N) by offset; cells: each rank reads its rows, then the rows move to the
/// rank owning their cell of a recursive coordinate bisection computed identically on every rank
/// from a gathered sample. Every row is checked finite (the error names the file and the global
/// row); errors are agreed (agreed_error on every rank).
template <class T>
shard<T> load_shard(context& ctx, const std::string& path, partition p, const exec_options& exec);

/// Energies (and gradients) of the queries, which rank 0 holds (n x dim; other ranks pass an
/// empty view with the same cols), broadcast in batches of `batch` rows. On rank 0 the outputs
/// are filled (energy n, grad n x dim or empty to skip it, status n or empty); other ranks pass
/// empty outputs. Validation errors are agreed.
template <class T>
void energy_and_grad(context& ctx,
                     const shard<T>& memories,
                     matrix_view<const T> queries,
                     const energy_params& params,
                     std::span<T> energy,
                     matrix_view<T> grad,
                     std::span<energy_status> status,
                     bool want_grad,
                     std::int64_t batch,
                     const exec_options& exec);

/// retrieve() over the sharded memories: gradient descent for every kernel (one reduction per
/// step per batch) and the exact LSR fixed point (a query contacts only the ranks whose box meets
/// its support ball). The queries as for energy_and_grad; the result on rank 0 (support sets as
/// global rows), empty elsewhere. Mean-shift and gradient_precision::single are refused.
template <class T>
retrieve_result<T> retrieve(context& ctx,
                            const shard<T>& memories,
                            matrix_view<const T> queries,
                            const energy_params& params,
                            const retrieve_options& options,
                            std::int64_t batch,
                            const exec_options& exec);

/// find_lsr_minima() with the anchors shared by the ranks (each clique examined by the rank
/// owning its smallest member, a mod N); every rank holds every pattern. The result (minima
/// sorted by support, counts, candidates of all ranks) on rank 0; progress from rank 0 only.
minima_result find_lsr_minima(context& ctx,
                              matrix_view<const double> patterns,
                              double beta,
                              double eps,
                              const minima_options& options,
                              const exec_options& exec);

}  // namespace denseam::dist
