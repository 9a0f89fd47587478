// SPDX-License-Identifier: MIT
// --distributed: the options `energy`, `retrieve` and `minima` share for running as one rank of
// an MPI job, and the frame every distributed command runs in (the job, agreed errors printed by
// rank 0 only, the exchange figures of the summary). The computations are in src/dist.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "dist/dist.hpp"
#include "io/files.hpp"

namespace denseam::cli {

struct distributed_cli_options {
    bool on = false;
    std::string partition = "rows";
    std::int64_t batch = 4096;
    CLI::Option *o_partition = nullptr, *o_batch = nullptr;

    /// Declares --distributed (and, unless `minima`, --partition and --batch) on `sub`.
    void add_to(CLI::App& sub, bool minima = false);
    /// Throws invalid_argument for --partition/--batch without --distributed, a bad partition
    /// name or batch size.
    void check() const;
    dist::partition parsed_partition() const { return dist::parse_partition(partition); }
};

/// Runs `body` as one rank of an MPI job (MPI is initialised here and finalised on return):
/// an error every rank agreed on is printed once, by rank 0, and every rank returns its exit
/// code; any other error in a collective step ends the whole job (MPI_Abort) with exit code 2
/// for bad input, 1 otherwise. Without MPI in this build: invalid_argument.
int run_distributed(const std::function<int(dist::context&)>& body);

/// What rank 0 reads and checks before a distributed energy or retrieval (agreed by every rank):
/// the memories and queries declared as inputs in `files`, the outputs (declare_outputs), the
/// queries loaded, and the precision from `dtype` and both files' element types, which every
/// rank then knows.
struct distributed_inputs {
    std::optional<loaded_matrix> queries;  ///< on rank 0
    bool float32 = false;
};
distributed_inputs read_inputs_on_root(dist::context& ctx,
                                       detail::file_plan& files,
                                       const std::string& memories,
                                       const std::string& queries,
                                       const std::string& dtype,
                                       const std::function<void()>& declare_outputs);

/// One rank's shard of the memories (read, timed) and rank 0's queries as T (0 rows elsewhere).
template <class T>
struct rank_data {
    dist::shard<T> memories;
    std::vector<T> q;
    std::int64_t n = 0, cols = 0;
    double load_seconds = 0.0;
    matrix_view<const T> queries() const { return {q.data(), n, cols, cols}; }
};

template <class T>
rank_data<T> load_rank_data(dist::context& ctx,
                            const std::string& memories,
                            dist::partition partition,
                            const exec_options& ex,
                            const distributed_inputs& in) {
    rank_data<T> r;
    const auto t0 = std::chrono::steady_clock::now();
    r.memories = dist::load_shard<T>(ctx, memories, partition, ex);
    r.load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.cols = r.memories.dim;
    if (in.queries) {
        r.q = as_vector<T>(*in.queries);
        r.n = in.queries->rows();
        r.cols = in.queries->cols();
    }
    return r;
}

/// The summary's "distributed" object: ranks, partition, shard sizes, batches and the job's
/// exchange figures (collective: call on every rank).
nlohmann::json distributed_summary(dist::context& ctx,
                                   const distributed_cli_options& o,
                                   const std::vector<std::int64_t>& shard_rows,
                                   std::int64_t batches,
                                   bool fixed_point);

}  // namespace denseam::cli
