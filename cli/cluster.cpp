// SPDX-License-Identifier: MIT
// `denseam cluster`: clustering with associative memories (ClAM, LSE or LSR) of the rows of a
// .npy file: labels (int64) and, on request, the prototypes in the input's units.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "denseam/clam.hpp"
#include "engine/resources.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/json.hpp"

namespace denseam::cli {

namespace {

struct cluster_cli {
    std::string data, out, centers, json_out;
    std::int64_t k = 0;
    std::string kernel = "lse";
    std::string beta = "auto";
    std::int64_t steps = clam_dynamics{}.steps;
    double alpha = clam_dynamics{}.alpha;
    double eps = clam_dynamics{}.eps;
    double mask_prob = clam_options{}.mask_prob;
    double lr = clam_options{}.learning_rate;
    std::int64_t epochs = clam_options{}.epochs;
    std::int64_t batch_size = clam_options{}.batch_size;
    double tol = clam_options{}.tol;
    std::int64_t patience = clam_options{}.patience;
    std::uint64_t seed = clam_options{}.seed;
    bool standardize = false;
    int threads = 0;
    bool progress = false, no_progress = false;
};

// --beta: "auto" (0: chosen from the data by clam_fit) or a finite number > 0, the whole text.
double parse_beta(const std::string& text) {
    if (text == "auto") return 0.0;
    double v = 0.0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || !std::isfinite(v) || !(v > 0.0))
        throw invalid_argument("--beta must be 'auto' or a finite number > 0 (got " +
                               detail::in_quotes(text) + ")");
    return v;
}

// Every option on its own, before any file is read.
clam_options make_options(const cluster_cli& o) {
    if (o.kernel != "lse" && o.kernel != "lsr")
        throw invalid_argument("--kernel must be lse or lsr (got " + detail::in_quotes(o.kernel) +
                               ")");
    clam_options c;
    c.n_clusters = o.k;
    c.dynamics.kernel = parse_kernel(o.kernel);
    c.dynamics.beta = parse_beta(o.beta);
    c.dynamics.steps = o.steps;
    c.dynamics.alpha = o.alpha;
    c.dynamics.eps = o.eps;
    c.mask_prob = o.mask_prob;
    c.learning_rate = o.lr;
    c.epochs = o.epochs;
    c.batch_size = o.batch_size;
    c.tol = o.tol;
    c.patience = o.patience;
    c.seed = o.seed;
    if (o.k < 1) throw invalid_argument("--k must be >= 1 (got " + std::to_string(o.k) + ")");
    if (o.steps < 0)
        throw invalid_argument("--steps must be >= 0 (got " + std::to_string(o.steps) + ")");
    const auto positive = [](const char* opt, double v) {
        if (!(v > 0.0) || !std::isfinite(v))
            throw invalid_argument(std::string(opt) + " must be finite and > 0 (got " +
                                   detail::shortest(v) + ")");
    };
    positive("--alpha", o.alpha);
    positive("--lr", o.lr);
    if (!(o.eps >= 0.0) || !std::isfinite(o.eps))
        throw invalid_argument("--eps must be finite and >= 0 (got " + detail::shortest(o.eps) +
                               ")");
    if (!(o.mask_prob >= 0.0 && o.mask_prob <= 1.0))
        throw invalid_argument("--mask-prob must be in [0, 1] (got " +
                               detail::shortest(o.mask_prob) + ")");
    if (o.epochs < 1)
        throw invalid_argument("--epochs must be >= 1 (got " + std::to_string(o.epochs) + ")");
    if (o.batch_size < 1)
        throw invalid_argument("--batch-size must be >= 1 (got " + std::to_string(o.batch_size) +
                               ")");
    if (!(o.tol >= 0.0) || !std::isfinite(o.tol))
        throw invalid_argument("--tol must be finite and >= 0 (got " + detail::shortest(o.tol) +
                               ")");
    if (o.patience < 1)
        throw invalid_argument("--patience must be >= 1 (got " + std::to_string(o.patience) + ")");
    // Whatever the library still refuses is named as this command spells it.
    with_option_names({{"ClAM kernel", "--kernel"}}, [&] {
        clam_dynamics d = c.dynamics;
        if (!(d.beta > 0.0)) d.beta = 1.0;
        validate(d);
    });
    return c;
}

// Per-feature mean and scale (population standard deviation; 1 for a constant feature, whose
// standardized values are then exactly 0), and x standardized in place.
struct scaling {
    std::vector<double> mean, scale;
};
scaling standardize(std::vector<double>& x, std::int64_t n, std::int64_t d) {
    scaling s{std::vector<double>(static_cast<std::size_t>(d), 0.0),
              std::vector<double>(static_cast<std::size_t>(d), 1.0)};
    for (std::int64_t j = 0; j < d; ++j) {
        const auto at = [&](std::int64_t i) -> double& {
            return x[static_cast<std::size_t>(i * d + j)];
        };
        bool constant = true;
        double sum = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            sum += at(i);
            constant = constant && at(i) == at(0);
        }
        auto& mu = s.mean[static_cast<std::size_t>(j)];
        auto& sd = s.scale[static_cast<std::size_t>(j)];
        if (constant) {
            mu = at(0);
            for (std::int64_t i = 0; i < n; ++i) at(i) = 0.0;
            continue;
        }
        mu = sum / static_cast<double>(n);
        double ss = 0.0;
        for (std::int64_t i = 0; i < n; ++i) ss += (at(i) - mu) * (at(i) - mu);
        sd = std::sqrt(ss / static_cast<double>(n));
        for (std::int64_t i = 0; i < n; ++i) at(i) = (at(i) - mu) / sd;
    }
    return s;
}

int run(const cluster_cli& o) {
    const auto t_start = std::chrono::steady_clock::now();
    clam_options opt = make_options(o);
    exec_options ex = make_exec(o.threads);

    // Every file is checked before anything is read, computed or written.
    detail::file_plan files;
    files.input("--data", o.data);
    files.output("--out", o.out);
    if (!o.centers.empty()) files.output("--centers", o.centers);
    if (!o.json_out.empty()) files.output("--json", o.json_out);

    const loaded_matrix data = load_matrix(o.data, "--data");
    const std::int64_t n = data.rows(), d = data.cols();
    if (o.k > n)
        throw invalid_argument("--k " + std::to_string(o.k) + " exceeds the number of points in " +
                               "--data " + detail::in_quotes(o.data) + " (" + std::to_string(n) +
                               ")");
    // The unrolled steps are kept for the adjoint: (T + 1) states, T pulls and their k weights
    // per point being differentiated, on each thread.
    detail::require_memory(8.0 * (static_cast<double>(o.steps) + 1.0) *
                               static_cast<double>(2 * d + o.k + 8) *
                               static_cast<double>(resolved_threads(ex)),
                           "--steps " + std::to_string(o.steps) + " (the unrolled descent, " +
                               std::to_string(2 * d + o.k) + " numbers a step per thread)");
    std::vector<double> x = as_f64(data);
    scaling sc;
    if (o.standardize) sc = standardize(x, n, d);

    const bool show = !o.no_progress && (o.progress || isatty(STDERR_FILENO));
    progress_bar bar(show, opt.epochs, "epochs");
    opt.progress = [&](std::int64_t epoch, double loss) {
        bar.update(static_cast<double>(epoch), "loss " + detail::shortest(loss), true);
    };
    clam_result res;
    try {
        res = with_option_names(
            {{"n_clusters", "--k"},
             {"mask_prob", "--mask-prob"},
             {"learning_rate", "--lr"},
             {"batch_size", "--batch-size"}},
            [&] { return clam_fit(make_matrix_view<const double>(x.data(), n, d), opt, ex); });
    } catch (...) {
        bar.clear_line();  // the error message gets the line
        throw;
    }
    if (res.n_epochs < opt.epochs) {
        bar.set_total(res.n_epochs);
        bar.update(static_cast<double>(res.n_epochs), "stopped: loss plateau", true);
    }
    bar.finish();

    // The prototypes in the input's units.
    std::vector<double> centers = res.prototypes;
    if (o.standardize)
        for (std::int64_t m = 0; m < o.k; ++m)
            for (std::int64_t j = 0; j < d; ++j) {
                auto& c = centers[static_cast<std::size_t>(m * d + j)];
                c = c * sc.scale[static_cast<std::size_t>(j)] +
                    sc.mean[static_cast<std::size_t>(j)];
            }

    std::vector<std::int64_t> sizes(static_cast<std::size_t>(o.k), 0);
    for (auto l : res.labels) ++sizes[static_cast<std::size_t>(l)];
    std::int64_t best_epoch = 0;
    for (std::size_t e = 0; e < res.loss_history.size(); ++e)
        if (res.loss_history[e] == res.best_loss) {
            best_epoch = static_cast<std::int64_t>(e) + 1;
            break;
        }
    nlohmann::json curve = nlohmann::json::array();
    for (double l : res.loss_history) curve.push_back(detail::json_number(l));

    const std::int64_t shape_l[] = {n}, shape_c[] = {o.k, d};
    files.set(o.out, to_npy_bytes(std::span<const std::int64_t>(res.labels), shape_l));
    if (!o.centers.empty())
        files.set(o.centers, to_npy_bytes(std::span<const double>(centers), shape_c));
    nlohmann::json j = {
        {"data", o.data},
        {"n_points", n},
        {"dim", d},
        {"k", o.k},
        {"kernel", o.kernel},
        {"beta", res.beta},
        {"beta_auto", o.beta == "auto"},
        {"steps", opt.dynamics.steps},
        {"alpha", opt.dynamics.alpha},
        {"eps", opt.dynamics.eps},
        {"mask_prob", opt.mask_prob},
        {"lr", opt.learning_rate},
        {"epochs", opt.epochs},
        {"batch_size", opt.batch_size},
        {"tol", opt.tol},
        {"patience", opt.patience},
        {"seed", opt.seed},
        {"standardize", o.standardize},
        {"epochs_run", res.n_epochs},
        {"stopped_early", res.n_epochs < opt.epochs},
        {"loss_history", curve},
        {"best_loss", detail::json_number(res.best_loss)},
        {"best_epoch", best_epoch},
        {"cluster_sizes", sizes},
        {"out", o.out},
        {"seconds",
         std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count()}};
    if (!o.centers.empty()) j["centers"] = o.centers;
    if (!o.json_out.empty()) files.set(o.json_out, j.dump(2) + "\n");
    files.commit();  // every output, or none
    print_json(j);
    return exit_ok;
}

}  // namespace

run_fn add_cluster(CLI::App& sub) {
    auto o = std::make_shared<cluster_cli>();
    sub.add_option("--data,-x", o->data, "Points to cluster, .npy (n x d)")->required();
    sub.add_option("--k", o->k, "Number of clusters (prototypes), 1 <= k <= n")->required();
    sub.add_option("--kernel", o->kernel, "Energy: lse (softmax pull) or lsr (Epanechnikov)")
        ->capture_default_str();
    sub.add_option("--out,-o", o->out, "Write the labels here, .npy int64 (n,)")->required();
    sub.add_option("--centers",
                   o->centers,
                   "Write the prototypes here, .npy float64 (k x d), in the input's units");
    sub.add_option("--beta,-b",
                   o->beta,
                   "Inverse temperature beta > 0, or auto: 2 / (c r)^2 with r the median "
                   "distance of the points to their nearest initial prototype, c = 2 (lse) or 4 "
                   "(lsr)")
        ->capture_default_str();
    sub.add_option("--steps", o->steps, "T: unrolled energy-descent steps per point")
        ->capture_default_str();
    sub.add_option("--alpha", o->alpha, "Step size of the descent")->capture_default_str();
    sub.add_option(
           "--eps",
           o->eps,
           "lsr only: log(eps + sum relu(...)); eps > 0 bounds the pull at a support's edge")
        ->capture_default_str();
    sub.add_option("--mask-prob",
                   o->mask_prob,
                   "Probability that a coordinate is masked (filled with the feature mean) in "
                   "training")
        ->capture_default_str();
    sub.add_option("--lr", o->lr, "Adam learning rate")->capture_default_str();
    sub.add_option("--epochs", o->epochs, "Maximum number of epochs")->capture_default_str();
    sub.add_option("--batch-size", o->batch_size, "Points per Adam step")->capture_default_str();
    sub.add_option("--tol",
                   o->tol,
                   "Early stopping: relative improvement of the epoch loss that counts (0: run "
                   "every epoch)")
        ->capture_default_str();
    sub.add_option("--patience", o->patience, "Early stopping: epochs without improvement")
        ->capture_default_str();
    sub.add_option("--seed", o->seed, "Seed of the start, shuffles and masks")
        ->capture_default_str();
    sub.add_flag("--standardize",
                 o->standardize,
                 "Fit on standardized data (per-feature mean 0, std 1); --centers are mapped back");
    sub.add_option("--json", o->json_out, "Also write the JSON summary to this file");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: all cores)")->capture_default_str();
    sub.add_flag("--progress", o->progress, "Progress on stderr even when it is not a terminal");
    sub.add_flag("--no-progress", o->no_progress, "No progress on stderr");
    sub.footer(
        "Prints a JSON summary on stdout (epochs run, loss per epoch, best loss, beta used, "
        "cluster sizes, seconds). The same options and seed give the same files at any "
        "--threads. Exit codes: 0 ok, 1 runtime error, 2 bad input.\nExample:\n"
        "  denseam cluster --data X.npy --k 10 --kernel lsr --standardize --out labels.npy "
        "--centers C.npy");
    return [o]() { return run(*o); };
}

}  // namespace denseam::cli
