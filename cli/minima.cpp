// SPDX-License-Identifier: MIT
// `denseam minima`: every local minimum of an energy, exactly (LSR in any dimension, any
// kernel in 1-D), or the exact count-versus-beta curve of the LSR energy.
#include "denseam/minima.hpp"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

#include "common.hpp"
#include "denseam/index.hpp"
#include "distributed.hpp"
#include "io/files.hpp"

namespace denseam::cli {

namespace {

volatile std::sig_atomic_t g_sigint = 0;
extern "C" void on_sigint(int) {
    g_sigint = 1;
}

struct minima_cli {
    std::string memories, out, supports, strategy = "auto";
    energy_cli_options energy;
    std::int64_t max_candidates = 0;
    double novelty = minima_options{}.novelty_threshold;
    bool curve = false, progress = false, no_basin = false;
    distributed_cli_options dist;
    int threads = 0;
    std::string index = std::string(to_string(exec_options{}.index));
};

// The energy and the data set of a result, in front of the library's JSON.
nlohmann::json context(const energy_params& p, const loaded_matrix& mem, double novelty) {
    return {{"kernel", std::string(to_string(p.kernel))},
            {"beta", p.beta},
            {"eps", p.eps},
            {"n_memories", mem.rows()},
            {"dim", mem.cols()},
            {"novelty_threshold", novelty}};
}

nlohmann::json minima_outputs(const minima_cli& o,
                              detail::file_plan& files,
                              const loaded_matrix& mem,
                              const minima_result& r,
                              const energy_params& p);

nlohmann::json lsr_at_beta(const minima_cli& o,
                           detail::file_plan& files,
                           const loaded_matrix& mem,
                           const std::vector<double>& x,
                           const energy_params& p,
                           const minima_options& mo,
                           const exec_options& ex) {
    const std::int64_t d = mem.cols();
    const auto r = find_lsr_minima(
        make_matrix_view<const double>(x.data(), mem.rows(), d), p.beta, p.eps, mo, ex);
    return minima_outputs(o, files, mem, r, p);
}

// Every output of an LSR enumeration at one beta (or none) and its JSON summary.
nlohmann::json minima_outputs(const minima_cli& o,
                              detail::file_plan& files,
                              const loaded_matrix& mem,
                              const minima_result& r,
                              const energy_params& p) {
    const std::int64_t d = mem.cols();
    if (!o.out.empty()) {
        const std::vector<double> pos = positions_of(r.minima);
        const std::int64_t shape[] = {static_cast<std::int64_t>(r.minima.size()), d};
        files.set(o.out, to_npy_bytes(std::span<const double>(pos), shape));
    }
    if (!o.supports.empty()) files.set(o.supports, to_json(r) + "\n");
    files.commit();
    nlohmann::json j = context(p, mem, o.novelty);
    j.update(nlohmann::json::parse(summary_json(r)));
    if (!o.out.empty()) j["out"] = o.out;
    if (!o.supports.empty()) j["supports"] = o.supports;
    return j;
}

nlohmann::json any_kernel_1d(const minima_cli& o,
                             detail::file_plan& files,
                             const loaded_matrix& mem,
                             const std::vector<double>& x,
                             const energy_params& p) {
    minima_1d_options mo;
    mo.novelty_threshold = o.novelty;
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = find_minima_1d(x, p, mo);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!o.out.empty()) {
        std::vector<double> pos;
        for (const auto& m : r.minima) pos.push_back(m.position);
        const std::int64_t shape[] = {static_cast<std::int64_t>(pos.size()), 1};
        files.set(o.out, to_npy_bytes(std::span<const double>(pos), shape));
    }
    files.commit();
    nlohmann::json j = context(p, mem, o.novelty);
    j.update(nlohmann::json::parse(to_json(r)));
    j.update({{"candidates", static_cast<std::int64_t>(r.minima.size())},
              {"status", "complete"},
              {"strategy", "1d"},
              {"exact", true},
              {"seconds", secs}});
    if (!o.out.empty()) j["out"] = o.out;
    return j;
}

// `denseam minima --distributed`: every rank reads every pattern and examines its share of the
// anchors; rank 0 writes the outputs and prints the summary.
int minima_distributed(const minima_cli& o, const energy_params& p, exec_options ex) {
    return run_distributed([&](dist::context& ctx) {
        if (o.threads == 0) ex.n_threads = ctx.default_threads();
        const bool root = ctx.rank() == 0;
        detail::file_plan files;
        std::optional<loaded_matrix> mem;
        ctx.agree([&] {
            if (root) {
                files.input("--memories", o.memories);
                if (!o.out.empty()) files.output("--out", o.out);
                if (!o.supports.empty()) files.output("--supports", o.supports);
            }
            mem = load_matrix(o.memories, "memories");
        });
        const std::vector<double> x = as_f64(*mem);
        const bool show = root && (o.progress || isatty(STDERR_FILENO));
        progress_bar bar(show, 0, "work units");
        minima_options mo;
        mo.strategy = parse_minima_strategy(o.strategy);
        mo.novelty_threshold = o.novelty;
        mo.basin_radius = !o.no_basin;
        mo.progress = [&bar](std::int64_t done, std::int64_t total) {
            bar.set_total(total);
            bar.update(static_cast<double>(done), "");
        };
        bar.update(0.0, "", true);
        const minima_result r = dist::find_lsr_minima(
            ctx,
            make_matrix_view<const double>(x.data(), mem->rows(), mem->cols()),
            p.beta,
            p.eps,
            mo,
            ex);
        bar.clear_line();
        nlohmann::json j;
        ctx.agree([&] {
            if (root) j = minima_outputs(o, files, *mem, r, p);
        });
        distributed_cli_options dopt = o.dist;
        dopt.partition = "anchors";
        const std::vector<std::int64_t> rows(static_cast<std::size_t>(ctx.size()), mem->rows());
        nlohmann::json dj = distributed_summary(ctx, dopt, rows, 0, false);
        if (root) {
            j["distributed"] = dj;
            print_json(j);
        }
        return exit_ok;
    });
}

}  // namespace

run_fn add_minima(CLI::App& sub) {
    auto o = std::make_shared<minima_cli>();
    sub.add_option("--memories,-m", o->memories, "Stored patterns, .npy (M x d)")->required();
    o->energy.add_to(sub);
    // --beta is required by the shared energy options; --curve does not need it.
    CLI::Option* beta_opt = sub.get_option_no_throw("--beta");
    if (beta_opt) beta_opt->required(false);
    sub.add_option("--out,-o", o->out, "Minima positions, .npy float64 (n_minima x d)");
    sub.add_option("--supports",
                   o->supports,
                   "Per-minimum details as JSON: support sets in CSR form {offsets, indices} "
                   "and arrays energy, hessian_scale, basin_radius, nearest, nearest_distance, "
                   "stored, novel (same order as --out)");
    sub.add_flag("--curve",
                 o->curve,
                 "LSR: the exact count-versus-beta curve (every breakpoint, stored and emergent "
                 "counts per interval) from one pass over all 2^M subsets (M <= ~30); --beta "
                 "is then optional");
    sub.add_option("--max-candidates",
                   o->max_candidates,
                   "Stop after this many candidate supports (0: no limit); partial results "
                   "are flagged status=candidate_limit")
        ->capture_default_str();
    sub.add_option("--strategy",
                   o->strategy,
                   "LSR enumeration: auto, gray (all 2^M subsets, M <= 62) or clique "
                   "(cliques of the interaction graph)")
        ->capture_default_str();
    sub.add_option("--novelty",
                   o->novelty,
                   "Emergent minima at least this far from every pattern are 'novel'")
        ->capture_default_str();
    sub.add_flag("--no-basin", o->no_basin, "Skip the Thm. 2 basin radii (O(M d) per minimum)");
    sub.add_flag(
        "--progress", o->progress, "Progress bar on stderr even when it is not a terminal");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_option("--index", o->index, index_flag_help)->capture_default_str();
    o->dist.add_to(sub, true);
    sub.footer(
        "Exact: LSR minima in any dimension (a point is a minimum iff it is the mean of its "
        "strict support set; a pattern at distance exactly R = sqrt(2/beta) is outside the "
        "support), or any kernel in 1-D. Prints one JSON object on stdout; Ctrl-C stops "
        "cleanly with status=interrupted. Exit codes: 0 ok, 1 runtime error, 2 bad input.\n"
        "Examples:\n"
        "  denseam minima --memories X.npy --beta 15 --out minima.npy --supports minima.json\n"
        "  denseam minima --memories X.npy --curve");
    return [o, beta_opt]() {
        const bool have_beta = beta_opt != nullptr && beta_opt->count() > 0;
        if (!o->curve && !have_beta) throw invalid_argument("--beta is required (unless --curve)");
        energy_cli_options eo = o->energy;
        if (!have_beta) eo.beta = 1.0;  // validated placeholder; the curve covers every beta
        const energy_params p = eo.to_params();
        if (!std::isfinite(o->novelty) || o->novelty < 0.0)
            throw invalid_argument("--novelty must be finite and >= 0");
        if (o->max_candidates < 0) throw invalid_argument("--max-candidates must be >= 0");
        exec_options ex = make_exec(o->threads);
        ex.index = parse_index_flag(o->index);
        o->dist.check();
        if (o->dist.on) {
            if (p.kernel != kernel_kind::lsr)
                throw invalid_argument("--distributed enumerates the minima of the lsr kernel");
            if (o->curve) throw invalid_argument("--curve is not available with --distributed");
            if (o->max_candidates != 0)
                throw invalid_argument("--max-candidates is not available with --distributed");
            return minima_distributed(*o, p, ex);
        }
        // Every file is checked before anything is read, computed or written.
        detail::file_plan files;
        files.input("--memories", o->memories);
        if (!o->out.empty()) files.output("--out", o->out);
        if (!o->supports.empty()) {
            if (p.kernel != kernel_kind::lsr)
                throw invalid_argument("--supports is for the lsr kernel (support sets)");
            files.output("--supports", o->supports);
        }
        const loaded_matrix mem = load_matrix(o->memories, "memories");
        const std::vector<double> x = as_f64(mem);

        if (p.kernel != kernel_kind::lsr) {
            if (mem.cols() != 1)
                throw invalid_argument("exact minima for kernel '" +
                                       std::string(to_string(p.kernel)) +
                                       "' exist only in 1-D (memories '" + mem.path +
                                       "' have d = " + std::to_string(mem.cols()) +
                                       "); the LSR kernel is exact in any dimension");
            if (o->curve) throw invalid_argument("--curve is for the lsr kernel");
            print_json(any_kernel_1d(*o, files, mem, x, p));
            return exit_ok;
        }

        const bool show = o->progress || isatty(STDERR_FILENO);
        progress_bar bar(show, 0, "work units");
        minima_options mo;
        mo.strategy = parse_minima_strategy(o->strategy);
        mo.novelty_threshold = o->novelty;
        mo.max_candidates = o->max_candidates;
        mo.basin_radius = !o->no_basin;
        mo.progress = [&bar](std::int64_t done, std::int64_t total) {
            bar.set_total(total);
            bar.update(static_cast<double>(done), "");
        };
        bar.update(0.0, "", true);  // at once: a long enumeration shows that it started
        g_sigint = 0;
        ex.interrupt = [] { return g_sigint != 0; };
        auto previous = std::signal(SIGINT, on_sigint);
        struct restore {
            void (*handler)(int);
            ~restore() { std::signal(SIGINT, handler); }
        } restore_sigint{previous == SIG_ERR ? SIG_DFL : previous};

        nlohmann::json j;
        try {
            if (o->curve) {
                const auto c = lsr_minima_curve(
                    make_matrix_view<const double>(x.data(), mem.rows(), mem.cols()), mo, ex);
                bar.clear_line();
                if (have_beta) {
                    j = lsr_at_beta(*o, files, mem, x, p, mo, ex);
                    bar.clear_line();
                } else {
                    j = {{"kernel", "lsr"}, {"n_memories", mem.rows()}, {"dim", mem.cols()}};
                }
                j["curve"] = nlohmann::json::parse(to_json(c));
                if (!have_beta) {
                    for (const char* key : {"candidates", "exact", "status", "strategy", "seconds"})
                        j[key] = j["curve"][key];
                }
            } else {
                j = lsr_at_beta(*o, files, mem, x, p, mo, ex);
                bar.clear_line();
            }
        } catch (...) {
            bar.clear_line();
            throw;
        }
        print_json(j);
        return exit_ok;
    };
}

}  // namespace denseam::cli
