// SPDX-License-Identifier: MIT
// --distributed: the options `energy`, `retrieve` and `minima` share for running as one rank of
// an MPI job, and the frame every distributed command runs in (the job, agreed errors printed by
// rank 0 only, the exchange figures of the summary). The computations are in src/dist.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "dist/dist.hpp"

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

/// The summary's "distributed" object: ranks, partition, shard sizes, batches and the job's
/// exchange figures (collective: call on every rank).
nlohmann::json distributed_summary(dist::context& ctx,
                                   const distributed_cli_options& o,
                                   const std::vector<std::int64_t>& shard_rows,
                                   std::int64_t batches,
                                   bool fixed_point);

}  // namespace denseam::cli
