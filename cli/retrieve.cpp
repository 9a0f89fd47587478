// SPDX-License-Identifier: MIT
// `denseam retrieve`: retrieval from queries by fixed point or gradient descent.
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>

#include "common.hpp"
#include "denseam/npy.hpp"
#include "denseam/retrieval.hpp"
#include "distributed.hpp"
#include "io/files.hpp"
#include "retrieval_output.hpp"

namespace denseam::cli {

namespace {

struct retrieve_cli {
    std::string memories, queries;
    energy_cli_options energy;
    retrieval_cli_options retrieval;
    distributed_cli_options dist;
    std::string dtype = "auto";
};

// Every output of a retrieval (or none) and its JSON summary.
template <class T>
nlohmann::json retrieve_outputs(const retrieve_cli& o,
                                detail::file_plan& files,
                                const retrieve_result<T>& r,
                                std::int64_t n_memories,
                                std::int64_t n,
                                std::int64_t d,
                                const energy_params& p,
                                const retrieve_options& ro,
                                const exec_options& ex,
                                double secs) {
    const retrieval_cli_options& r_o = o.retrieval;
    const nlohmann::json counts =
        set_retrieval_outputs(r, n, d, r_o.out, r_o.energy_out, r_o.status_out, files);
    if (!r_o.supports_out.empty()) {
        nlohmann::json js = {{"offsets", r.support.offsets}, {"indices", r.support.indices}};
        files.set(r_o.supports_out, js.dump() + "\n");
    }
    files.commit();
    return {{"n_queries", n},
            {"n_memories", n_memories},
            {"dim", d},
            {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
            {"kernel", std::string(to_string(p.kernel))},
            {"beta", p.beta},
            {"method", std::string(to_string(ro.method))},
            {"index", std::string(to_string(ex.index))},
            {"status_counts", counts["status_counts"]},
            {"mean_steps", counts["mean_steps"]},
            {"seconds", secs},
            {"out", r_o.out}};
}

template <class T>
nlohmann::json run_retrieve(const retrieve_cli& o,
                            detail::file_plan& files,
                            const loaded_matrix& mem,
                            const loaded_matrix& qry) {
    const energy_params p = o.energy.to_params();
    const retrieval_cli_options& r_o = o.retrieval;
    const retrieve_options ro = r_o.options(p);
    const std::vector<T> m = as_vector<T>(mem), q = as_vector<T>(qry);
    const exec_options ex = r_o.exec();
    const std::int64_t n = qry.rows(), d = qry.cols();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = retrieve<T>(make_matrix_view<const T>(m.data(), mem.rows(), mem.cols()),
                         make_matrix_view<const T>(q.data(), n, d),
                         p,
                         ro,
                         ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    return retrieve_outputs<T>(o, files, r, mem.rows(), n, d, p, ro, ex, secs);
}

// One rank's part of `denseam retrieve --distributed`; the summary on rank 0.
template <class T>
nlohmann::json retrieve_on_ranks(dist::context& ctx,
                                 const retrieve_cli& o,
                                 const exec_options& ex,
                                 const distributed_inputs& in,
                                 detail::file_plan& files) {
    const energy_params p = o.energy.to_params();
    const retrieve_options ro = o.retrieval.options(p);
    const rank_data<T> data = load_rank_data<T>(ctx, o.memories, o.dist.parsed_partition(), ex, in);
    const auto t0 = std::chrono::steady_clock::now();
    const bool root = ctx.rank() == 0;
    const auto& mem = data.memories;
    const auto r = dist::retrieve<T>(ctx, mem, data.queries(), p, ro, o.dist.batch, ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    nlohmann::json j;
    ctx.agree([&] {
        if (root)
            j = retrieve_outputs<T>(o, files, r, mem.total_rows, data.n, mem.dim, p, ro, ex, secs);
    });
    const std::int64_t batches = (data.n + o.dist.batch - 1) / o.dist.batch;
    nlohmann::json dj = distributed_summary(
        ctx, o.dist, mem.sizes, batches, ro.method == retrieval_method::fixed_point);
    if (root) {
        j["distributed"] = dj;
        j["distributed"]["load_seconds"] = data.load_seconds;
    }
    return j;
}

int retrieve_distributed(const retrieve_cli& o) {
    exec_options ex = o.retrieval.exec();
    return run_distributed([&](dist::context& ctx) {
        if (o.retrieval.threads == 0) ex.n_threads = ctx.default_threads();
        detail::file_plan files;
        const distributed_inputs in =
            read_inputs_on_root(ctx, files, o.memories, o.queries, o.dtype, [&] {
                o.retrieval.declare_outputs(files);
            });
        const nlohmann::json j = in.float32 ? retrieve_on_ranks<float>(ctx, o, ex, in, files)
                                            : retrieve_on_ranks<double>(ctx, o, ex, in, files);
        if (ctx.rank() == 0) print_json(j);
        return exit_ok;
    });
}

}  // namespace

run_fn add_retrieve(CLI::App& sub) {
    auto o = std::make_shared<retrieve_cli>();
    sub.add_option("--memories,-m", o->memories, "Stored patterns, .npy (M x d)")->required();
    sub.add_option("--queries,-q", o->queries, "Start states, .npy (B x d)")->required();
    o->energy.add_to(sub);
    o->retrieval.add_to(sub, "LSR fixed point: support sets as JSON {offsets, indices} (CSR)");
    sub.add_option("--dtype", o->dtype, "auto, float32 or float64")->capture_default_str();
    o->dist.add_to(sub);
    sub.footer(
        "Prints a JSON summary (status counts, mean steps) on stdout.\nExample:\n  denseam "
        "retrieve --memories X.npy --queries Q.npy --kernel lsr --beta 2.5 --method fixed-point "
        "--out R.npy");
    return [o]() {
        // Validate before reading large files.
        (void)o->retrieval.options(o->energy.to_params());
        (void)o->retrieval.exec();
        o->dist.check();
        if (o->dist.on) return retrieve_distributed(*o);
        // Every file is checked before anything is read, computed or written.
        detail::file_plan files;
        files.input("--memories", o->memories);
        files.input("--queries", o->queries);
        o->retrieval.declare_outputs(files);
        const auto in = load_memories_queries(o->memories, o->queries, o->dtype);
        const auto& mem = in.memories;
        const auto& qry = in.queries;
        print_json(in.float32 ? run_retrieve<float>(*o, files, mem, qry)
                              : run_retrieve<double>(*o, files, mem, qry));
        return exit_ok;
    };
}

}  // namespace denseam::cli
