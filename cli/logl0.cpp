// SPDX-License-Identifier: MIT
// `denseam logl0`: the LOGL0 experiment (paper.md 3.3) as JSON Lines, resumable, with the
// paper's sweep (--sweep paper) and a reduced one (--sweep reduced).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "common.hpp"
#include "denseam/experiments.hpp"
#include "io/files.hpp"
#include "io/jsonl.hpp"
#include "plots.hpp"

namespace denseam::cli {

namespace {

struct logl0_cli {
    std::vector<std::int64_t> ks = {5}, ds = {8}, ms = {25};
    std::vector<std::uint64_t> seeds = {3};
    std::vector<std::string> energies = {"lsr", "lse"};
    double true_sigma = 0.1;
    std::int64_t n = 500;
    int nbetas = 20;
    std::vector<int> beta_idx;
    std::int64_t depth = 13000;
    double lr_start = 0.01, lr_end = 1e-5, tol = 1e-6;
    std::string precision = "single";
    std::string sampler = "shell";
    std::string patterns, gmm;
    std::string sweep;
    std::string out = "logl0.jsonl";
    std::string plot;
    bool no_samples = false, fresh = false, progress = false, no_progress = false;
    int threads = 0;
    // Which sweep-shaped options were given (they override --sweep's preset).
    bool given_k = false, given_d = false, given_m = false, given_seeds = false,
         given_energy = false, given_n = false, given_nbetas = false;
};

struct job {
    std::int64_t k = 0, d = 0, m = 0;
    std::uint64_t seed = 0;
    std::string energy, label, hash;
    std::shared_ptr<gaussian_mixture> gmm;
    std::shared_ptr<std::vector<double>> x;
    std::vector<int> missing;
};

int run(logl0_cli o) {
    if (!o.sweep.empty()) {
        // The preset fills the sweep's shape; options given explicitly take precedence.
        const logl0_sweep s = with_option_names({{"LOGL0 sweep", "--sweep"}},
                                                [&] { return logl0_sweep_preset(o.sweep); });
        if (!o.given_k) o.ks = s.ks;
        if (!o.given_d) o.ds = s.ds;
        if (!o.given_m) o.ms = s.ms;
        if (!o.given_seeds) o.seeds = s.seeds;
        if (!o.given_energy) {
            o.energies.clear();
            for (kernel_kind e : s.energies) o.energies.emplace_back(to_string(e));
        }
        if (!o.given_n) o.n = s.n_per_pattern;
        if (!o.given_nbetas) o.nbetas = s.nbetas;
    }
    if (o.nbetas < 1) throw invalid_argument("--nbetas must be >= 1");
    if (o.n < 1) throw invalid_argument("--N must be >= 1");
    if (o.depth < 1) throw invalid_argument("--depth must be >= 1");
    if (!(o.true_sigma > 0.0 && std::isfinite(o.true_sigma)))
        throw invalid_argument("--true-sigma must be finite and > 0");
    for (auto k : o.ks)
        if (k < 1) throw invalid_argument("--k values must be >= 1");
    for (auto d : o.ds)
        if (d < 1) throw invalid_argument("--d values must be >= 1");
    for (auto m : o.ms)
        if (m < 2) throw invalid_argument("--M values must be >= 2");
    for (int b : o.beta_idx)
        if (b < 0 || b >= o.nbetas)
            throw invalid_argument("--beta-idx " + std::to_string(b) + " out of range [0, " +
                                   std::to_string(o.nbetas) + ")");
    std::vector<kernel_kind> kinds;
    for (const auto& e : o.energies) {
        if (e != "lsr" && e != "lse")
            throw invalid_argument("--energy must be lsr or lse (got '" + e + "')");
        kinds.push_back(parse_kernel(e));
    }
    const sampler_kind sampler = parse_sampler(o.sampler);
    const std::string sampler_name(to_string(sampler));
    const gradient_precision precision = parse_precision(o.precision);
    exec_options ex = make_exec(o.threads);
    const auto t_start = std::chrono::steady_clock::now();

    // Every file is checked before anything is computed or touched.
    detail::file_plan files;
    if (!o.patterns.empty()) files.input("--patterns", o.patterns);
    if (!o.gmm.empty()) files.input("--gmm", o.gmm);
    files.external_output("--out", o.out);
    if (!o.plot.empty()) {
        // A prefix: the figures are <prefix>_k<k>_d<d>.png beside it.
        const std::string probe = o.plot + "_k1_d1.png";
        files.external_output("--plot", probe);
    }
    std::set<std::string> have;
    detail::jsonl_results results(
        "--out", o.out, "LOGL0", [&](std::string_view line) { have.insert(logl0_line_key(line)); });
    if (o.fresh) {
        results.clear();
        have.clear();
    }
    std::vector<int> all_idx = o.beta_idx;
    if (all_idx.empty())
        for (int i = 0; i < o.nbetas; ++i) all_idx.push_back(i);

    std::vector<job> jobs;
    std::int64_t total = 0, skipped = 0;
    const auto plan = [&](job j) {
        logl0_row key;
        key.patterns = o.patterns;
        key.patterns_hash = j.hash;
        key.k = j.k;
        key.dim = j.d;
        key.n_patterns = j.m;
        key.seed = j.seed;
        key.true_sigma = o.true_sigma;
        key.energy = j.energy;
        key.nbetas = o.nbetas;
        key.n_per_pattern = o.n;
        key.sampler = sampler_name;
        key.depth = o.depth;
        key.lr_start = o.lr_start;
        key.lr_end = o.lr_end;
        key.tol = o.tol;
        key.precision = std::string(logl0_precision_name(parse_kernel(j.energy), precision));
        for (int i : all_idx) {
            key.beta_idx = i;
            if (have.count(resume_key(key)))
                ++skipped;
            else
                j.missing.push_back(i);
        }
        total += static_cast<std::int64_t>(j.missing.size());
        jobs.push_back(std::move(j));
    };
    if (!o.patterns.empty()) {
        if (o.ds.size() != 1 || o.ms.size() != 1 || o.ks.size() != 1 || o.seeds.size() != 1)
            throw invalid_argument("--patterns takes a single --k and --seed");
        const loaded_matrix lm = load_matrix(o.patterns, "patterns");
        auto x = std::make_shared<std::vector<double>>(as_f64(lm));
        std::string hash =
            pattern_set_hash(make_matrix_view<const double>(x->data(), lm.rows(), lm.cols()));
        auto g = std::make_shared<gaussian_mixture>();
        if (!o.gmm.empty()) {
            std::ifstream in(o.gmm);
            if (!in) throw invalid_argument("--gmm: cannot read '" + o.gmm + "'");
            std::stringstream ss;
            ss << in.rdbuf();
            const std::string text = ss.str();
            *g = gaussian_mixture::from_json(text);
            // The true mixture changes every log-likelihood: it is part of the resume key.
            hash += "-" +
                    detail::hex64(detail::fnv1a64(detail::fnv1a64_init, text.data(), text.size()));
        } else {
            *g = gaussian_mixture::random(o.ks[0], lm.cols(), o.true_sigma, o.seeds[0]);
        }
        if (g->dim != lm.cols())
            throw invalid_argument("--gmm has dimension " + std::to_string(g->dim) +
                                   " but --patterns " + std::to_string(lm.cols()));
        for (const auto& e : o.energies) {
            job j;
            j.k = g->k;
            j.d = lm.cols();
            j.m = lm.rows();
            j.seed = o.seeds[0];
            j.energy = e;
            j.gmm = g;
            j.x = x;
            j.hash = hash;
            j.label = e + " " + o.patterns;
            plan(std::move(j));
        }
    } else {
        for (auto k : o.ks)
            for (auto d : o.ds)
                for (auto m : o.ms)
                    for (auto seed : o.seeds) {
                        auto g = std::make_shared<gaussian_mixture>(
                            gaussian_mixture::random(k, d, o.true_sigma, seed));
                        auto x = std::make_shared<std::vector<double>>(
                            g->sample(m, logl0_pattern_seed(seed)));
                        for (const auto& e : o.energies) {
                            job j;
                            j.k = k;
                            j.d = d;
                            j.m = m;
                            j.seed = seed;
                            j.energy = e;
                            j.gmm = g;
                            j.x = x;
                            j.label = e + " k=" + std::to_string(k) + " d=" + std::to_string(d) +
                                      " M=" + std::to_string(m) + " seed=" + std::to_string(seed);
                            plan(std::move(j));
                        }
                    }
    }

    const bool show = !o.no_progress && (o.progress || isatty(STDERR_FILENO));
    progress_bar bar(show, total, "rows");
    std::int64_t done = 0;
    std::printf("%-36s %5s %9s %9s %8s %8s %7s %8s\n",
                "configuration",
                "betas",
                "max uniq",
                "avg logl",
                "early",
                "steps",
                "dropped",
                "seconds");
    for (const auto& j : jobs) {
        if (j.missing.empty()) continue;
        const auto t0 = std::chrono::steady_clock::now();
        bar.update(static_cast<double>(done), j.label, true);
        logl0_options lo;
        lo.energy = parse_kernel(j.energy);
        lo.nbetas = o.nbetas;
        lo.only = j.missing;
        lo.n_queries = o.n;
        lo.sampler = sampler;
        lo.query_seed = logl0_query_seed(j.seed);
        lo.depth = o.depth;
        lo.lr_start = o.lr_start;
        lo.lr_end = o.lr_end;
        lo.tol = o.tol;
        lo.precision = precision;
        lo.samples = !o.no_samples;
        std::vector<logl0_row> rows =
            run_logl0(make_matrix_view<const double>(j.x->data(), j.m, j.d), *j.gmm, lo, ex);
        std::string text;
        std::int64_t max_unique = 0, early = 0, queries = 0, dropped = 0;
        double ll = 0.0, steps = 0.0;
        for (auto& r : rows) {
            r.k = j.k;
            r.true_sigma = o.true_sigma;
            r.seed = j.seed;
            r.patterns = o.patterns;
            r.patterns_hash = j.hash;
            text += to_json(r) + "\n";
            max_unique = std::max(max_unique, r.num_unique_retrievals);
            early += r.num_converged;
            queries += r.num_queries;
            dropped += r.num_dropped;
            ll += r.avg_logl;
            steps += r.mean_steps;
        }
        results.append(text);
        done += static_cast<std::int64_t>(rows.size());
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        bar.clear_line();
        std::printf("%-36s %5zu %9lld %9.3f %7.1f%% %8.1f %7lld %8.2f\n",
                    j.label.c_str(),
                    rows.size(),
                    static_cast<long long>(max_unique),
                    ll / static_cast<double>(rows.size()),
                    100.0 * static_cast<double>(early) / static_cast<double>(queries),
                    steps / static_cast<double>(rows.size()),
                    static_cast<long long>(dropped),
                    secs);
        std::fflush(stdout);
        bar.update(static_cast<double>(done), j.label, true);
    }
    bar.finish();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf("%lld rows written, %lld already in %s (skipped), %.2f s\n",
                static_cast<long long>(done),
                static_cast<long long>(skipped),
                o.out.c_str(),
                secs);
    if (!o.plot.empty()) run_plot_script({"logl0", o.out, o.plot});
    return exit_ok;
}

}  // namespace

run_fn add_logl0(CLI::App& sub) {
    auto o = std::make_shared<logl0_cli>();
    auto* od = sub.add_option("--d", o->ds, "Dimensions (comma list)")
                   ->delimiter(',')
                   ->capture_default_str();
    auto* ok = sub.add_option("--k", o->ks, "Mixture components (comma list)")
                   ->delimiter(',')
                   ->capture_default_str();
    sub.add_option("--true-sigma", o->true_sigma, "Standard deviation of every component")
        ->capture_default_str();
    auto* om =
        sub.add_option("--M", o->ms, "Stored patterns, sampled from the mixture (comma list)")
            ->delimiter(',')
            ->capture_default_str();
    auto* on = sub.add_option("--N", o->n, "Queries per stored pattern")->capture_default_str();
    auto* os = sub.add_option("--seed,--seeds", o->seeds, "Seeds (comma list)")
                   ->delimiter(',')
                   ->capture_default_str();
    auto* ob = sub.add_option("--nbetas", o->nbetas, "Betas on the geometric grid [2/d, 8/r_min^2]")
                   ->capture_default_str();
    sub.add_option("--beta-idx", o->beta_idx, "Grid indices to run (comma list; omit: all)")
        ->delimiter(',');
    auto* oe =
        sub.add_option("--energy", o->energies, "lsr (exact fixed point), lse (descent) or both")
            ->delimiter(',')
            ->capture_default_str();
    sub.add_option("--depth", o->depth, "LSE gradient steps (the cosine schedule's length)")
        ->capture_default_str();
    sub.add_option("--lr-start", o->lr_start, "LSE step size at t = 0")->capture_default_str();
    sub.add_option("--lr-end", o->lr_end, "LSE step size at t = depth")->capture_default_str();
    sub.add_option("--tol", o->tol, "LSE: a query stops once max|grad| < tol (0: full depth)")
        ->capture_default_str();
    sub.add_option("--precision",
                   o->precision,
                   "LSE gradient arithmetic: single (float32, like the reference; states in "
                   "float64) or double")
        ->capture_default_str();
    sub.add_option("--sampler",
                   o->sampler,
                   "shell | ball | reference-shell | reference-ball (paper.md 2.2)")
        ->capture_default_str();
    auto* pp =
        sub.add_option("--patterns", o->patterns, "Use this (M x d) .npy pattern set instead");
    sub.add_option(
           "--gmm", o->gmm, "With --patterns: the true mixture (JSON; default: from --seed)")
        ->needs(pp);
    sub.add_option("--sweep",
                   o->sweep,
                   "paper (1,600 runs) or reduced (the main job's 200): sets --k --d --M --seeds "
                   "--energy --N --nbetas, except those given explicitly");
    sub.add_option("--out,-o", o->out, "JSON Lines output; configurations in it are skipped")
        ->capture_default_str();
    sub.add_flag("--fresh",
                 o->fresh,
                 "Empty --out first instead of resuming (only a file of LOGL0 lines is emptied)");
    sub.add_flag("--no-samples",
                 o->no_samples,
                 "Leave sample_logl / sample_is_novel empty (the full sweep: ~1 GB less)");
    sub.add_option("--plot", o->plot, "Also draw the Figs. 7-8 style figures (PNG path prefix)");
    sub.add_flag("--progress", o->progress, "Progress bar on stderr even when not a terminal");
    sub.add_flag("--no-progress", o->no_progress, "No progress bar");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    sub.footer(
        "One JSON line per (pattern set, energy, beta) with the reference's fields (beta, "
        "beta_idx, beta_min, beta_max, og_mems_avg_gradnorm, og_mems_recoverable, "
        "avg_novelty_distance, num_unique_retrievals, num_novel, avg_logl, sample_logl, "
        "sample_is_novel and the arguments) plus sound metrics (og_mems_recoverable_sound, "
        "num_unique_minima, num_unique_points, num_converged, mean_steps). See "
        "docs/experiments.md.\nExample (the paper's sweep):\n  denseam logl0 --sweep paper "
        "--no-samples --out logl0.jsonl --plot logl0");
    return [o, od, ok, om, on, os, ob, oe]() {
        o->given_d = od->count() > 0;
        o->given_k = ok->count() > 0;
        o->given_m = om->count() > 0;
        o->given_n = on->count() > 0;
        o->given_seeds = os->count() > 0;
        o->given_nbetas = ob->count() > 0;
        o->given_energy = oe->count() > 0;
        return run(*o);
    };
}

}  // namespace denseam::cli
