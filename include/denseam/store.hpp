// SPDX-License-Identifier: MIT
// denseam: a live, persistent memory store (patterns with stable ids, an incremental range
// index, crash-safe files).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/exec.hpp"
#include "denseam/index.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/retrieval.hpp"

namespace denseam {

/// Element type of a store's patterns (fixed at creation; float32 halves the memory).
enum class store_dtype : std::uint8_t { float32 = 1, float64 = 2 };

/// Progress of save()/load(): (bytes done, bytes total), from the calling thread.
using store_progress = std::function<void(std::int64_t done, std::int64_t total)>;

/// Summary of a store (info()).
struct store_info {
    std::int64_t size = 0;  ///< live patterns
    std::int64_t dim = 0;
    std::int64_t next_id = 0;  ///< the id the next added pattern gets
    store_dtype dtype = store_dtype::float64;
    energy_params params;
    index_kind index = index_kind::automatic;   ///< the kind requested at creation
    index_kind index_used = index_kind::brute;  ///< the kind the current index has
    std::size_t bytes = 0;                      ///< patterns + ids + index, in memory
};

/// A set of stored patterns that grows and shrinks over time.
///
/// Every pattern gets a stable id (0, 1, 2, ... in order of addition, never reused). The live
/// patterns, in id order, are the memories of the energy `params`; energies, gradients and
/// retrievals equal those of a memory set built from scratch from them (energies through the
/// same index, bit for bit; support sets are reported as ids). Compact kernels use the range
/// index, updated incrementally on add/remove; other kernels use the GEMM engine.
///
/// Thread safety: queries (energy_and_grad, retrieve, info, ids, patterns, save) may run
/// concurrently with each other; add/remove wait for running queries and block new ones, so a
/// query sees the store before or after an update, never during it. Callbacks (save's progress,
/// exec.interrupt) run under that lock and must not call the store. A moved-from store may only
/// be destroyed or assigned to.
///
/// float32 stores round the queries to float as well: results are those of the float32 calls
/// on the rounded rows and queries, widened to double. Queries use the store's own index
/// (exec.index is ignored); the kind is fixed at creation, `automatic` resolving with the store's
/// size (a scan below 1024 rows). Cost of an update: O(rows added/kept x dim) plus an index
/// rebuild once a quarter of the rows are new or removed (docs/store.md).
///
/// File format (version 1, little-endian; docs/store.md): magic "DENSEAMSTORE\r\n\x1a\n" (16
/// bytes), u32 version, u32 header bytes, a JSON header (dtype, size, dim, next_id, kernel
/// parameters, index), zero padding to 64 bytes, the ids (i64 x size), padding to 64 bytes, the
/// patterns (dtype x size x dim, row-major), and a trailing 8-byte FNV-1a-64 checksum of everything
/// before it. save() writes a temporary file beside the target, fsyncs it, renames it over
/// the target and fsyncs the directory: an interrupted save leaves the previous file intact.
/// load() memory-maps the file, verifies the checksum and rejects a corrupt, truncated or
/// foreign file with an invalid_argument naming the file and the fault.
class memory_store {
  public:
    /// An empty store of dimension dim >= 1. @throws invalid_argument for bad params or dim.
    memory_store(std::int64_t dim,
                 const energy_params& params,
                 store_dtype dtype = store_dtype::float64,
                 index_kind index = index_kind::automatic);
    ~memory_store();
    memory_store(memory_store&&) noexcept;
    memory_store& operator=(memory_store&&) noexcept;

    /// Adds patterns (n x dim, finite; converted to the store's dtype) and returns their ids
    /// (next_id, next_id + 1, ...). All or nothing: a bad row, a wrong dimension or (float32) a
    /// value beyond float's range throws invalid_argument and leaves the store unchanged.
    /// exec: threads of an index rebuild; exec.interrupt is not consulted (all or nothing).
    std::vector<std::int64_t> add(matrix_view<const double> patterns,
                                  const exec_options& exec = {});
    std::vector<std::int64_t> add(matrix_view<const float> patterns, const exec_options& exec = {});
    /// Removes the patterns with these ids (distinct, live). All or nothing: an unknown,
    /// removed or repeated id throws invalid_argument naming it and changes nothing.
    void remove(std::span<const std::int64_t> ids, const exec_options& exec = {});

    std::int64_t size() const;
    std::int64_t dim() const;
    store_dtype dtype() const;
    const energy_params& params() const;
    store_info info() const;
    /// Live ids, ascending.
    std::vector<std::int64_t> ids() const;
    /// Live patterns in id order (size x dim), converted to double.
    std::vector<double> patterns() const;

    /// Energies (and gradients, when grad is not empty) of queries (n x dim) in double; see
    /// denseam::energy_and_grad. An empty store: invalid_argument.
    void energy_and_grad(matrix_view<const double> queries,
                         std::span<double> energy,
                         matrix_view<double> grad,
                         std::span<energy_status> status = {},
                         const exec_options& exec = {}) const;
    /// Retrieval from queries (n x dim) in double; see denseam::retrieve. The support sets hold
    /// ids. An empty store: invalid_argument.
    retrieve_result<double> retrieve(matrix_view<const double> queries,
                                     const retrieve_options& options = {},
                                     const exec_options& exec = {}) const;

    /// Writes the store to `path` crash-safely (see the class comment). Only a regular file
    /// (or nothing) is replaced. @throws invalid_argument (bad path), runtime_error (I/O).
    void save(const std::string& path, const store_progress& progress = {}) const;
    /// Opens a store file. @throws invalid_argument naming the file for a missing, corrupt,
    /// truncated or foreign file, or an unsupported version.
    static memory_store load(const std::string& path,
                             const store_progress& progress = {},
                             const exec_options& exec = {});

  private:
    struct impl;
    std::unique_ptr<impl> p_;
    explicit memory_store(std::unique_ptr<impl> p);
};

std::string_view to_string(store_dtype t) noexcept;  ///< "float32", "float64"
/// Parses "float32"/"f4"/"float64"/"f8"; throws invalid_argument naming the choices.
store_dtype parse_store_dtype(std::string_view name);

}  // namespace denseam
