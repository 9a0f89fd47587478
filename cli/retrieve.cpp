// SPDX-License-Identifier: MIT
// `denseam retrieve`: retrieval from queries by fixed point or gradient descent.
#include <chrono>
#include <cstdio>
#include <map>

#include "common.hpp"
#include "denseam/retrieval.hpp"
#include "io/files.hpp"
#include "retrieval_output.hpp"

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
    // Which options were given: an option that does nothing for the chosen method is an error.
    bool given_lr = false, given_lr_end = false, given_noise = false, given_seed = false,
         given_precision = false, given_tol = false, given_clamp = false;

    retrieve_options options() const {
        const energy_params p = energy.to_params();
        retrieve_options ro;
        ro.method = parse_method(method);
        const bool fixed = ro.method == retrieval_method::fixed_point;
        const auto useless = [](const char* opt, const std::string& why) {
            throw invalid_argument(std::string(opt) + " has no effect " + why);
        };
        if (fixed) {
            const std::string why = "with --method fixed-point (it is for --method gradient)";
            if (given_lr) useless("--lr", why);
            if (given_lr_end) useless("--lr-end", why);
            if (given_noise) useless("--noise", why);
            if (given_seed) useless("--seed", why);
            if (given_precision) useless("--precision", why);
            if (given_clamp) useless("--clamp", why);
            if (given_tol && p.kernel == kernel_kind::lsr)
                useless("--tol",
                        "with the LSR fixed point (it stops when the support set repeats)");
            if (!supports_out.empty() && p.kernel != kernel_kind::lsr)
                useless("--supports",
                        "with kernel '" + std::string(to_string(p.kernel)) +
                            "' (support sets are for the LSR fixed point)");
        } else {
            if (!supports_out.empty())
                useless("--supports",
                        "with --method gradient (support sets are for the LSR "
                        "fixed point)");
            if (given_seed && !(noise != 0.0))
                useless("--seed", "without --noise (it seeds the noise)");
        }
        ro.max_steps = steps;
        ro.tol = tol;
        ro.step_size = lr_end >= 0 ? schedule::cosine(lr, lr_end) : schedule::constant(lr);
        ro.noise = schedule::constant(noise);
        ro.seed = seed;
        ro.precision = parse_precision(precision);
        ro.clamp = clamp;
        return ro;
    }
};

template <class T>
nlohmann::json run_retrieve(const retrieve_cli& o,
                            detail::file_plan& files,
                            const loaded_matrix& mem,
                            const loaded_matrix& qry) {
    const energy_params p = o.energy.to_params();
    const retrieve_options ro = o.options();
    const std::vector<T> m = as_vector<T>(mem), q = as_vector<T>(qry);
    const exec_options ex = make_exec(o.threads);
    const std::int64_t n = qry.rows(), d = qry.cols();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = retrieve<T>(make_matrix_view<const T>(m.data(), mem.rows(), mem.cols()),
                         make_matrix_view<const T>(q.data(), n, d),
                         p,
                         ro,
                         ex);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    // Every output, or none.
    const nlohmann::json counts =
        set_retrieval_outputs(r, n, d, o.out, o.energy_out, o.status_out, files);
    if (!o.supports_out.empty()) {
        nlohmann::json js = {{"offsets", r.support.offsets}, {"indices", r.support.indices}};
        files.set(o.supports_out, js.dump() + "\n");
    }
    files.commit();
    return {{"n_queries", n},
            {"n_memories", mem.rows()},
            {"dim", d},
            {"dtype", sizeof(T) == 4 ? "float32" : "float64"},
            {"kernel", std::string(to_string(p.kernel))},
            {"beta", p.beta},
            {"method", std::string(to_string(ro.method))},
            {"status_counts", counts["status_counts"]},
            {"mean_steps", counts["mean_steps"]},
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
    auto* o_lr =
        sub.add_option(
               "--lr", o->lr, "Gradient step size (start of the cosine schedule with --lr-end)")
            ->capture_default_str();
    auto* o_lr_end =
        sub.add_option("--lr-end", o->lr_end, "Final step size of a cosine-decay schedule");
    auto* o_tol =
        sub.add_option("--tol",
                       o->tol,
                       "Stop a query when max |dE/dx_i| < tol (gradient) or max |dx_i| < tol "
                       "(mean-shift)")
            ->capture_default_str();
    auto* o_noise =
        sub.add_option("--noise", o->noise, "Gradient noise sigma: x -= lr (grad + sigma n)")
            ->capture_default_str();
    auto* o_seed = sub.add_option("--seed", o->seed, "Seed of the noise")->capture_default_str();
    auto* o_precision =
        sub.add_option("--precision",
                       o->precision,
                       "Gradient arithmetic: state (the states' dtype) or single (float32 "
                       "gradient, float64 states)")
            ->capture_default_str();
    auto* o_clamp =
        sub.add_option("--clamp", o->clamp, "Clamped coordinates (pattern completion), e.g. 0,1,2")
            ->delimiter(',');
    sub.add_option("--out,-o", o->out, "Retrieved states, .npy (B x d)")->required();
    sub.add_option("--energy", o->energy_out, "Energies of the retrieved states, .npy (B,)");
    sub.add_option("--status",
                   o->status_out,
                   "Per-query status, .npy uint8 (0 converged, 1 max-steps, 2 out-of-support, 3 "
                   "non-finite, 4 not-minimum)");
    sub.add_option("--supports",
                   o->supports_out,
                   "LSR fixed point: support sets as JSON {offsets, indices} (CSR)");
    sub.add_option("--dtype", o->dtype, "auto, float32 or float64")->capture_default_str();
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.footer(
        "Prints a JSON summary (status counts, mean steps) on stdout.\nExample:\n  denseam "
        "retrieve --memories X.npy --queries Q.npy --kernel lsr --beta 2.5 --method fixed-point "
        "--out R.npy");
    return [o, o_lr, o_lr_end, o_tol, o_noise, o_seed, o_precision, o_clamp]() {
        o->given_lr = o_lr->count() > 0;
        o->given_lr_end = o_lr_end->count() > 0;
        o->given_tol = o_tol->count() > 0;
        o->given_noise = o_noise->count() > 0;
        o->given_seed = o_seed->count() > 0;
        o->given_precision = o_precision->count() > 0;
        o->given_clamp = o_clamp->count() > 0;
        (void)o->options();  // validate before reading large files
        (void)make_exec(o->threads);
        // Every file is checked before anything is read, computed or written.
        detail::file_plan files;
        files.input("--memories", o->memories);
        files.input("--queries", o->queries);
        files.output("--out", o->out);
        if (!o->energy_out.empty()) files.output("--energy", o->energy_out);
        if (!o->status_out.empty()) files.output("--status", o->status_out);
        if (!o->supports_out.empty()) files.output("--supports", o->supports_out);
        const auto in = load_memories_queries(o->memories, o->queries, o->dtype);
        const auto& mem = in.memories;
        const auto& qry = in.queries;
        print_json(in.float32 ? run_retrieve<float>(*o, files, mem, qry)
                              : run_retrieve<double>(*o, files, mem, qry));
        return exit_ok;
    };
}

}  // namespace denseam::cli
