// SPDX-License-Identifier: MIT
// The output files and the summary counts of a retrieval, shared by `denseam retrieve`,
// `denseam store retrieve` and `denseam drdam --retrieve`, and the retrieval options of the first
// two.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "common.hpp"
#include "denseam/index.hpp"
#include "denseam/npy.hpp"
#include "denseam/retrieval.hpp"
#include "io/files.hpp"

namespace denseam::cli {

/// Sets the states (n x d) to `out` and, when their paths are not empty, the energies (n) and the
/// uint8 status codes (n) in `files`; returns {"status_counts": every status with its count,
/// "mean_steps": mean steps per query}.
template <class T>
nlohmann::json set_retrieval_outputs(const retrieve_result<T>& r,
                                     std::int64_t n,
                                     std::int64_t d,
                                     const std::string& out,
                                     const std::string& energy_out,
                                     const std::string& status_out,
                                     detail::file_plan& files) {
    const std::int64_t shape_x[] = {n, d}, shape_n[] = {n};
    files.set(out, to_npy_bytes(std::span<const T>(r.states), shape_x));
    if (!energy_out.empty())
        files.set(energy_out, to_npy_bytes(std::span<const T>(r.energy), shape_n));
    if (!status_out.empty()) {
        std::vector<std::uint8_t> s(r.status.size());
        for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(r.status[i]);
        files.set(status_out, to_npy_bytes(std::span<const std::uint8_t>(s), shape_n));
    }
    std::map<std::string, std::int64_t> counts;
    for (auto s : {retrieval_status::converged,
                   retrieval_status::max_steps,
                   retrieval_status::out_of_support,
                   retrieval_status::non_finite,
                   retrieval_status::not_minimum})
        counts[std::string(to_string(s))] = 0;
    double mean_steps = 0;
    for (std::size_t i = 0; i < r.status.size(); ++i) {
        counts[std::string(to_string(r.status[i]))]++;
        mean_steps += static_cast<double>(r.steps[i]);
    }
    if (n > 0) mean_steps /= static_cast<double>(n);
    return {{"status_counts", counts}, {"mean_steps", mean_steps}};
}

/// The options of `denseam retrieve` and `denseam store retrieve` after the memories and the
/// energy: the method and its settings, the output files, --threads and --index. Declared once
/// (add_to), checked against the energy (options): an option that does nothing for the chosen
/// method or kernel is an error naming it.
struct retrieval_cli_options {
    std::string out, energy_out, status_out, supports_out;
    std::string method = std::string(to_string(retrieve_options{}.method));
    std::int64_t steps = retrieve_options{}.max_steps;
    double lr = retrieve_options{}.step_size.start;
    double lr_end = -1.0;
    double tol = retrieve_options{}.tol;
    double noise = retrieve_options{}.noise.start;
    std::uint64_t seed = retrieve_options{}.seed;
    std::string precision = std::string(to_string(retrieve_options{}.precision));
    std::vector<std::int64_t> clamp;
    int threads = 0;
    std::string index = std::string(to_string(exec_options{}.index));
    // Which options were given (set by add_to, read after parsing).
    CLI::Option *o_lr = nullptr, *o_lr_end = nullptr, *o_tol = nullptr, *o_noise = nullptr,
                *o_seed = nullptr, *o_precision = nullptr, *o_clamp = nullptr;

    /// Declares the options on `sub`; `supports_help` says what the support sets hold;
    /// `with_index`: --index too (exec_options::index).
    void add_to(CLI::App& sub, const std::string& supports_help, bool with_index = true) {
        sub.add_option("--method",
                       method,
                       "fixed-point (LSR: exact support-set iteration; other distance kernels: "
                       "mean-shift) or gradient (descent with step --lr)")
            ->capture_default_str();
        sub.add_option("--steps", steps, "Gradient steps / maximum fixed-point iterations")
            ->capture_default_str();
        o_lr = sub.add_option(
                      "--lr", lr, "Gradient step size (start of the cosine schedule with --lr-end)")
                   ->capture_default_str();
        o_lr_end = sub.add_option("--lr-end", lr_end, "Final step size of a cosine-decay schedule");
        o_tol = sub.add_option("--tol",
                               tol,
                               "Stop a query when max |dE/dx_i| < tol (gradient) or max |dx_i| < "
                               "tol (mean-shift)")
                    ->capture_default_str();
        o_noise = sub.add_option("--noise", noise, "Gradient noise sigma: x -= lr (grad + sigma n)")
                      ->capture_default_str();
        o_seed = sub.add_option("--seed", seed, "Seed of the noise")->capture_default_str();
        o_precision = sub.add_option("--precision",
                                     precision,
                                     "Gradient arithmetic: state (the states' dtype) or single "
                                     "(float32 gradient, float64 states)")
                          ->capture_default_str();
        o_clamp =
            sub.add_option("--clamp", clamp, "Clamped coordinates (pattern completion), e.g. 0,1,2")
                ->delimiter(',');
        sub.add_option("--out,-o", out, "Retrieved states, .npy (B x d)")->required();
        sub.add_option("--energy", energy_out, "Energies of the retrieved states, .npy (B,)");
        sub.add_option("--status",
                       status_out,
                       "Per-query status, .npy uint8 (0 converged, 1 max-steps, 2 out-of-support, "
                       "3 non-finite, 4 not-minimum)");
        sub.add_option("--supports", supports_out, supports_help);
        sub.add_option("--threads", threads, "OpenMP threads (0: all cores)")
            ->capture_default_str();
        if (with_index) sub.add_option("--index", index, index_flag_help)->capture_default_str();
    }

    /// retrieve_options for the energy `p`; invalid_argument naming an option that has no effect.
    retrieve_options options(const energy_params& p) const {
        const auto given = [](const CLI::Option* o) { return o != nullptr && o->count() > 0; };
        retrieve_options ro;
        ro.method = parse_method(method);
        const auto useless = [](const char* opt, const std::string& why) {
            throw invalid_argument(std::string(opt) + " has no effect " + why);
        };
        if (ro.method == retrieval_method::fixed_point) {
            const std::string why = "with --method fixed-point (it is for --method gradient)";
            if (given(o_lr)) useless("--lr", why);
            if (given(o_lr_end)) useless("--lr-end", why);
            if (given(o_noise)) useless("--noise", why);
            if (given(o_seed)) useless("--seed", why);
            if (given(o_precision)) useless("--precision", why);
            if (given(o_clamp)) useless("--clamp", why);
            if (given(o_tol) && p.kernel == kernel_kind::lsr)
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
            if (given(o_seed) && !(noise != 0.0))
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

    /// exec_options of --threads and --index (invalid_argument naming the flag).
    exec_options exec() const {
        exec_options ex = make_exec(threads);
        ex.index = parse_index_flag(index);
        return ex;
    }

    /// Declares the output files in `files` (after the inputs).
    void declare_outputs(detail::file_plan& files) const {
        files.output("--out", out);
        if (!energy_out.empty()) files.output("--energy", energy_out);
        if (!status_out.empty()) files.output("--status", status_out);
        if (!supports_out.empty()) files.output("--supports", supports_out);
    }
};

}  // namespace denseam::cli
