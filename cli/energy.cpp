// SPDX-License-Identifier: MIT
// `denseam energy`: energies (and gradients) of queries under a memory.
#include "denseam/energy.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include "common.hpp"
#include "denseam/index.hpp"
#include "denseam/npy.hpp"
#include "distributed.hpp"
#include "io/files.hpp"
#include "io/json.hpp"

namespace denseam::cli {

namespace {

// The JSON summary of `denseam energy` (single process or distributed).
template <class T>
nlohmann::json energy_summary(const std::vector<T>& e,
                              const std::vector<energy_status>& st,
                              std::int64_t n_memories,
                              std::int64_t d,
                              const energy_params& p,
                              const exec_options& ex,
                              bool print_values,
                              const std::string& out,
                              const std::string& grad_out,
                              double secs) {
    std::int64_t unsupported = 0;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    std::int64_t finite = 0;
    for (std::size_t i = 0; i < e.size(); ++i) {
        unsupported += st[i] == energy_status::unsupported;
        if (std::isfinite(e[i])) {
            lo = std::min(lo, double(e[i]));
            hi = std::max(hi, double(e[i]));
            sum += e[i];
            ++finite;
        }
    }
    nlohmann::json j = {
        {"n_queries", static_cast<std::int64_t>(e.size())},
        {"n_memories", n_memories},
        {"dim", d},
        {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
        {"kernel", std::string(to_string(p.kernel))},
        {"beta", p.beta},
        {"eps", p.eps},
        {"q", std::string(to_string(resolved_q(p)))},
        {"index", std::string(to_string(ex.index))},
        {"unsupported", unsupported},
        {"energy_min", finite ? nlohmann::json(lo) : nlohmann::json(nullptr)},
        {"energy_mean", finite ? nlohmann::json(sum / finite) : nlohmann::json(nullptr)},
        {"energy_max", finite ? nlohmann::json(hi) : nlohmann::json(nullptr)},
        {"seconds", secs}};
    if (print_values) {
        nlohmann::json vals = nlohmann::json::array();
        for (auto v : e) vals.push_back(detail::json_number(static_cast<double>(v)));
        j["energy"] = vals;
    }
    if (!out.empty()) j["out"] = out;
    if (!grad_out.empty()) j["grad"] = grad_out;
    return j;
}

template <class T>
nlohmann::json compute(const loaded_matrix& mem,
                       const loaded_matrix& qry,
                       const energy_params& p,
                       detail::file_plan& files,
                       const std::string& out,
                       const std::string& grad_out,
                       const exec_options& ex,
                       bool print_values) {
    const std::vector<T> m = as_vector<T>(mem), q = as_vector<T>(qry);
    const std::int64_t n = qry.rows(), d = qry.cols();
    std::vector<T> e(static_cast<std::size_t>(n)),
        g(grad_out.empty() ? 0 : static_cast<std::size_t>(n * d));
    std::vector<energy_status> st(static_cast<std::size_t>(n));
    const auto t0 = std::chrono::steady_clock::now();
    energy_and_grad(make_matrix_view<const T>(m.data(), mem.rows(), mem.cols()),
                    make_matrix_view<const T>(q.data(), n, d),
                    p,
                    std::span<T>(e),
                    grad_out.empty() ? matrix_view<T>{} : make_matrix_view(g.data(), n, d),
                    std::span(st),
                    ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::int64_t shape_e[] = {n}, shape_g[] = {n, d};
    if (!out.empty()) files.set(out, to_npy_bytes(std::span<const T>(e), shape_e));
    if (!grad_out.empty()) files.set(grad_out, to_npy_bytes(std::span<const T>(g), shape_g));
    files.commit();  // both outputs or neither
    return energy_summary<T>(e, st, mem.rows(), d, p, ex, print_values, out, grad_out, secs);
}

struct energy_cli {
    std::string memories, queries, out, grad, dtype = "auto";
    std::string index = std::string(to_string(exec_options{}.index));
    energy_cli_options energy;
    distributed_cli_options dist;
    int threads = 0;
    bool print = false;
};

// One rank's part of `denseam energy --distributed`; the summary on rank 0.
template <class T>
nlohmann::json energy_on_ranks(dist::context& ctx,
                               const energy_cli& o,
                               const energy_params& p,
                               const exec_options& ex,
                               const distributed_inputs& in,
                               detail::file_plan& files) {
    const rank_data<T> data = load_rank_data<T>(ctx, o.memories, o.dist.parsed_partition(), ex, in);
    const auto t0 = std::chrono::steady_clock::now();
    const bool root = ctx.rank() == 0;
    const std::int64_t n = data.n, d = data.memories.dim;
    std::vector<T> e(static_cast<std::size_t>(n)),
        g(o.grad.empty() || data.cols != d ? 0 : static_cast<std::size_t>(n * d));
    std::vector<energy_status> st(static_cast<std::size_t>(n));
    dist::energy_and_grad<T>(ctx,
                             data.memories,
                             data.queries(),
                             p,
                             std::span<T>(e),
                             g.empty() ? matrix_view<T>{} : make_matrix_view(g.data(), n, d),
                             std::span(st),
                             !o.grad.empty(),
                             o.dist.batch,
                             ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ctx.agree([&] {
        if (!root) return;
        const std::int64_t shape_e[] = {n}, shape_g[] = {n, d};
        if (!o.out.empty()) files.set(o.out, to_npy_bytes(std::span<const T>(e), shape_e));
        if (!o.grad.empty()) files.set(o.grad, to_npy_bytes(std::span<const T>(g), shape_g));
        files.commit();  // both outputs or neither
    });
    const std::int64_t batches = (n + o.dist.batch - 1) / o.dist.batch;
    nlohmann::json dj = distributed_summary(ctx, o.dist, data.memories.sizes, batches, false);
    if (!root) return {};
    nlohmann::json j =
        energy_summary<T>(e, st, data.memories.total_rows, d, p, ex, o.print, o.out, o.grad, secs);
    j["distributed"] = dj;
    j["distributed"]["load_seconds"] = data.load_seconds;
    return j;
}

int energy_distributed(const energy_cli& o, const energy_params& p, exec_options ex) {
    if (ex.index == index_kind::kdtree || ex.index == index_kind::ball)
        throw invalid_argument("--index " + std::string(to_string(ex.index)) +
                               " is not used with --distributed (each shard's energies come "
                               "from the GEMM engine)");
    return run_distributed([&](dist::context& ctx) {
        if (o.threads == 0) ex.n_threads = ctx.default_threads();
        detail::file_plan files;
        const distributed_inputs in =
            read_inputs_on_root(ctx, files, o.memories, o.queries, o.dtype, [&] {
                if (!o.out.empty()) files.output("--out", o.out);
                if (!o.grad.empty()) files.output("--grad", o.grad);
            });
        const nlohmann::json j = in.float32 ? energy_on_ranks<float>(ctx, o, p, ex, in, files)
                                            : energy_on_ranks<double>(ctx, o, p, ex, in, files);
        if (ctx.rank() == 0) print_json(j);
        return exit_ok;
    });
}

}  // namespace

run_fn add_energy(CLI::App& sub) {
    auto o = std::make_shared<energy_cli>();
    sub.add_option("--memories,-m", o->memories, "Stored patterns, .npy (M x d)")->required();
    sub.add_option("--queries,-q", o->queries, "Query states, .npy (B x d)")->required();
    o->energy.add_to(sub);
    sub.add_option("--out,-o", o->out, "Write the energies here (.npy, shape (B,))");
    sub.add_option("--grad,-g", o->grad, "Write the gradients here (.npy, shape (B, d))");
    sub.add_option("--dtype",
                   o->dtype,
                   "Computation precision: auto (float32 if both inputs are float32), float32, "
                   "float64")
        ->capture_default_str();
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_option("--index", o->index, index_flag_help)->capture_default_str();
    sub.add_flag("--print", o->print, "Include every energy in the JSON summary");
    o->dist.add_to(sub);
    sub.footer(
        "Prints a JSON summary on stdout. Exit codes: 0 ok, 1 runtime error, 2 bad input.\n"
        "Example:\n  denseam energy --memories X.npy --queries Q.npy --kernel lsr --beta 2.5 "
        "--out E.npy --grad G.npy");
    return [o]() {
        const energy_params p = o->energy.to_params();
        exec_options ex = make_exec(o->threads);
        ex.index = parse_index_flag(o->index);
        o->dist.check();
        if (o->dist.on) return energy_distributed(*o, p, ex);
        // Every file is checked before anything is read, computed or written.
        detail::file_plan files;
        files.input("--memories", o->memories);
        files.input("--queries", o->queries);
        if (!o->out.empty()) files.output("--out", o->out);
        if (!o->grad.empty()) files.output("--grad", o->grad);
        const auto in = load_memories_queries(o->memories, o->queries, o->dtype);
        const auto& mem = in.memories;
        const auto& qry = in.queries;
        print_json(in.float32 ? compute<float>(mem, qry, p, files, o->out, o->grad, ex, o->print)
                              : compute<double>(mem, qry, p, files, o->out, o->grad, ex, o->print));
        return exit_ok;
    };
}

}  // namespace denseam::cli
