// SPDX-License-Identifier: MIT
// `denseam retrieve`: retrieval from queries by fixed point or gradient descent.
#include <chrono>
#include <cstdio>
#include <map>

#include "common.hpp"
#include "denseam/retrieval.hpp"

namespace denseam::cli {

namespace {

struct retrieve_cli {
    std::string memories, queries, out, energy_out, status_out, supports_out, method;
    energy_cli_options energy;
    std::int64_t steps = retrieve_options{}.max_steps;
    double lr = retrieve_options{}.step_size.start;
    double lr_end = -1.0;
    double tol = retrieve_options{}.tol;
    double noise = retrieve_options{}.noise.start;
    std::uint64_t seed = retrieve_options{}.seed;
    std::string precision = "state";
    std::vector<std::int64_t> clamp;
    std::string dtype = "auto";
    int threads = 0;
};

template <class T>
nlohmann::json run_retrieve(const retrieve_cli& o,
                            const loaded_matrix& mem,
                            const loaded_matrix& qry) {
    const energy_params p = o.energy.to_params();
    retrieve_options ro;
    ro.method = parse_method(o.method);
    ro.max_steps = o.steps;
    ro.tol = o.tol;
    ro.step_size = o.lr_end >= 0 ? schedule::cosine(o.lr, o.lr_end) : schedule::constant(o.lr);
    ro.noise = schedule::constant(o.noise);
    ro.seed = o.seed;
    ro.precision = parse_precision(o.precision);
    ro.clamp = o.clamp;
    std::vector<T> m, q;
    if constexpr (sizeof(T) == 4) {
        m = as_f32(mem);
        q = as_f32(qry);
    } else {
        m = as_f64(mem);
        q = as_f64(qry);
    }
    exec_options ex;
    ex.n_threads = o.threads;
    const std::int64_t n = qry.rows(), d = qry.cols();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = retrieve<T>(make_matrix_view<const T>(m.data(), mem.rows(), mem.cols()),
                         make_matrix_view<const T>(q.data(), n, d),
                         p,
                         ro,
                         ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Write every output, removing those already written if a later one fails.
    std::vector<std::string> written;
    try {
        const std::int64_t shape_x[] = {n, d}, shape_n[] = {n};
        write_npy(o.out, std::span<const T>(r.states), shape_x);
        written.push_back(o.out);
        if (!o.energy_out.empty()) {
            write_npy(o.energy_out, std::span<const T>(r.energy), shape_n);
            written.push_back(o.energy_out);
        }
        if (!o.status_out.empty()) {
            std::vector<std::uint8_t> s(r.status.size());
            for (std::size_t i = 0; i < s.size(); ++i)
                s[i] = static_cast<std::uint8_t>(r.status[i]);
            write_npy(o.status_out, std::span<const std::uint8_t>(s), shape_n);
            written.push_back(o.status_out);
        }
        if (!o.supports_out.empty()) {
            nlohmann::json js = {{"offsets", r.support.offsets}, {"indices", r.support.indices}};
            write_file_atomic(o.supports_out, js.dump() + "\n");
            written.push_back(o.supports_out);
        }
    } catch (...) {
        for (const auto& f : written) std::remove(f.c_str());
        throw;
    }
    std::map<std::string, std::int64_t> counts;
    for (auto s : {retrieval_status::converged,
                   retrieval_status::max_steps,
                   retrieval_status::out_of_support,
                   retrieval_status::non_finite})
        counts[std::string(to_string(s))] = 0;
    double mean_steps = 0;
    for (std::size_t i = 0; i < r.status.size(); ++i) {
        counts[std::string(to_string(r.status[i]))]++;
        mean_steps += static_cast<double>(r.steps[i]);
    }
    if (n > 0) mean_steps /= static_cast<double>(n);
    return {{"n_queries", n},
            {"n_memories", mem.rows()},
            {"dim", d},
            {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
            {"kernel", std::string(to_string(p.kernel))},
            {"beta", p.beta},
            {"method", std::string(to_string(ro.method))},
            {"status_counts", counts},
            {"mean_steps", mean_steps},
            {"seconds", secs},
            {"out", o.out}};
}

}  // namespace

run_fn add_retrieve(CLI::App& sub) {
    auto o = std::make_shared<retrieve_cli>();
    o->method = std::string(to_string(retrieve_options{}.method));
    sub.add_option("--memories,-m", o->memories, "Stored patterns, .npy (M x d)")->required();
    sub.add_option("--queries,-q", o->queries, "Start states, .npy (B x d)")->required();
    o->energy.add_to(sub);
    sub.add_option("--method",
                   o->method,
                   "fixed-point (LSR: exact support-set iteration; other distance kernels: "
                   "mean-shift) or gradient (descent with step --lr)")
        ->capture_default_str();
    sub.add_option("--steps", o->steps, "Gradient steps / maximum fixed-point iterations")
        ->capture_default_str();
    sub.add_option("--lr", o->lr, "Gradient step size (start of the cosine schedule with --lr-end)")
        ->capture_default_str();
    sub.add_option("--lr-end", o->lr_end, "Final step size of a cosine-decay schedule");
    sub.add_option("--tol",
                   o->tol,
                   "Stop a query when max |dE/dx_i| < tol (gradient) or max |dx_i| < tol "
                   "(mean-shift)")
        ->capture_default_str();
    sub.add_option("--noise", o->noise, "Gradient noise sigma: x -= lr (grad + sigma n)")
        ->capture_default_str();
    sub.add_option("--seed", o->seed, "Seed of the noise")->capture_default_str();
    sub.add_option("--precision",
                   o->precision,
                   "Gradient arithmetic: state (the states' dtype) or single (float32 "
                   "gradient, float64 states)")
        ->capture_default_str();
    sub.add_option("--clamp", o->clamp, "Clamped coordinates (pattern completion), e.g. 0,1,2")
        ->delimiter(',');
    sub.add_option("--out,-o", o->out, "Retrieved states, .npy (B x d)")->required();
    sub.add_option("--energy", o->energy_out, "Energies of the retrieved states, .npy (B,)");
    sub.add_option("--status",
                   o->status_out,
                   "Per-query status, .npy uint8 (0 converged, 1 max-steps, 2 out-of-support, 3 "
                   "non-finite)");
    sub.add_option("--supports",
                   o->supports_out,
                   "LSR fixed point: support sets as JSON {offsets, indices} (CSR)");
    sub.add_option("--dtype", o->dtype, "auto, float32 or float64")->capture_default_str();
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.footer(
        "Prints a JSON summary (status counts, mean steps) on stdout.\nExample:\n  denseam "
        "retrieve --memories X.npy --queries Q.npy --kernel lsr --beta 2.5 --method fixed-point "
        "--out R.npy");
    return [o]() {
        (void)o->energy.to_params();  // validate before reading large files
        (void)parse_method(o->method);
        const auto in = load_memories_queries(o->memories, o->queries, o->dtype);
        const auto& mem = in.memories;
        const auto& qry = in.queries;
        const bool f32 = in.float32;
        print_json(f32 ? run_retrieve<float>(*o, mem, qry) : run_retrieve<double>(*o, mem, qry));
        return exit_ok;
    };
}

}  // namespace denseam::cli
