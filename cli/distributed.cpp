// SPDX-License-Identifier: MIT
// The frame of the --distributed commands (cli/distributed.hpp).
#include "distributed.hpp"

#include <iostream>

#include "common.hpp"
#include "denseam/error.hpp"
#include "denseam/npy.hpp"

namespace denseam::cli {

void distributed_cli_options::add_to(CLI::App& sub, bool minima) {
    sub.add_flag("--distributed",
                 on,
                 minima ? "Run as one rank of an MPI job (mpirun -np N denseam minima "
                          "--distributed ...): every rank reads the patterns and examines the "
                          "cliques whose smallest member it owns; rank 0 writes the outputs "
                          "(docs/distributed.md)"
                        : "Run as one rank of an MPI job (mpirun -np N denseam ... "
                          "--distributed): the memories are split across the ranks, rank 0 "
                          "reads the queries, writes every output and prints the summary "
                          "(docs/distributed.md)");
    if (minima) return;
    o_partition = sub.add_option("--partition",
                                 partition,
                                 "With --distributed: rows (rank r reads rows [rM/N, (r+1)M/N)) or "
                                 "cells (rows moved to the rank owning their cell of a recursive "
                                 "coordinate bisection)")
                      ->capture_default_str();
    o_batch =
        sub.add_option(
               "--batch", batch, "With --distributed: queries broadcast from rank 0 per batch")
            ->capture_default_str();
}

void distributed_cli_options::check() const {
    if (!on) {
        if (o_partition != nullptr && o_partition->count() > 0)
            throw invalid_argument("--partition needs --distributed");
        if (o_batch != nullptr && o_batch->count() > 0)
            throw invalid_argument("--batch needs --distributed");
        return;
    }
    (void)parsed_partition();
    if (batch < 1)
        throw invalid_argument("--batch must be >= 1 (got " + std::to_string(batch) + ")");
}

int run_distributed(const std::function<int(dist::context&)>& body) {
    if (!dist::available())
        throw invalid_argument(
            "--distributed: this denseam was built without MPI (install libopenmpi-dev and "
            "openmpi-bin, then rebuild)");
    dist::context ctx;
    try {
        return body(ctx);
    } catch (const dist::agreed_error& e) {
        if (ctx.rank() == 0) std::cerr << "denseam: error: " << e.what() << "\n";
        return e.code();
    } catch (const invalid_argument& e) {
        ctx.abort(e.what(), exit_usage);
    } catch (const std::exception& e) {
        ctx.abort(e.what(), exit_runtime);
    }
}

distributed_inputs read_inputs_on_root(dist::context& ctx,
                                       detail::file_plan& files,
                                       const std::string& memories,
                                       const std::string& queries,
                                       const std::string& dtype,
                                       const std::function<void()>& declare_outputs) {
    distributed_inputs in;
    std::vector<std::int64_t> f32{0};
    ctx.agree([&] {
        if (ctx.rank() != 0) return;
        files.input("--memories", memories);
        files.input("--queries", queries);
        declare_outputs();
        (void)computes_in_float32(dtype, false, false);  // the name, before reading anything
        in.queries = load_matrix(queries, "queries");
        const npy_shape ms = read_npy_shape(memories);
        f32[0] = computes_in_float32(dtype, ms.is_float32, in.queries->array.is_float32);
    });
    ctx.broadcast(f32);
    in.float32 = f32[0] != 0;
    return in;
}

nlohmann::json distributed_summary(dist::context& ctx,
                                   const distributed_cli_options& o,
                                   const std::vector<std::int64_t>& shard_rows,
                                   std::int64_t batches,
                                   bool fixed_point) {
    const dist::traffic t = ctx.job_traffic();
    nlohmann::json j = {{"ranks", ctx.size()},
                        {"partition", o.partition},
                        {"shard_rows", shard_rows},
                        {"batches", batches},
                        {"bytes_sent", t.bytes_sent},
                        {"messages", t.messages}};
    if (fixed_point) {
        j["requests"] = t.requests;
        j["requests_broadcast"] = t.requests_broadcast;
        j["requests_saved"] = t.requests_broadcast - t.requests;
    }
    return j;
}

}  // namespace denseam::cli
