// SPDX-License-Identifier: MIT
// `denseam lmin0`: the LMIN0 experiment (paper.md 3.2) as JSON Lines, resumable.
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
#include <tuple>

#include "common.hpp"
#include "denseam/experiments.hpp"
#include "io/files.hpp"
#include "io/format.hpp"
#include "io/jsonl.hpp"
#include "plots.hpp"

namespace denseam::cli {

namespace {

struct lmin0_cli {
    std::vector<std::int64_t> ms = {25}, ds = {32};
    std::vector<std::uint64_t> seeds = {0, 42, 88};
    int nbetas = 50;
    std::string generator = "reference";
    std::string patterns;
    std::vector<double> betas;
    bool geometric = false;
    std::int64_t vol_samples = 1000000;
    std::uint64_t vol_seed = 0;
    std::int64_t max_candidates = 0;
    std::string out = "lmin0.jsonl";
    std::string plot;
    bool progress = false, no_progress = false, fresh = false;
    int threads = 0;
};

struct pattern_job {
    std::string generator, patterns_path, label;
    std::int64_t m = 0, d = 0;
    std::uint64_t seed = 0;
    std::vector<double> x;
    std::vector<double> betas;  // the full grid
    std::string grid, hash;
    std::vector<int> missing;
};

int run(const lmin0_cli& o) {
    if (o.nbetas < 1) throw invalid_argument("--nbetas must be >= 1");
    if (o.vol_samples < 0) throw invalid_argument("--vol-samples must be >= 0");
    if (o.max_candidates < 0) throw invalid_argument("--max-candidates must be >= 0");
    for (auto m : o.ms)
        if (m < 2)
            throw invalid_argument("--M values must be >= 2 (got " + std::to_string(m) + ")");
    for (auto d : o.ds)
        if (d < 1)
            throw invalid_argument("--d values must be >= 1 (got " + std::to_string(d) + ")");
    for (double b : o.betas)
        if (!(std::isfinite(b) && b > 0))
            throw invalid_argument("--betas must be finite and > 0 (got " + detail::shortest(b) +
                                   ")");
    exec_options ex = make_exec(o.threads);
    const auto t_start = std::chrono::steady_clock::now();

    // Every file is checked before anything is computed or touched.
    detail::file_plan files;
    if (!o.patterns.empty()) files.input("--patterns", o.patterns);
    files.external_output("--out", o.out);
    if (!o.plot.empty()) files.external_output("--plot", o.plot);
    std::set<std::string> have;
    detail::jsonl_results results(
        "--out", o.out, "LMIN0", [&](std::string_view line) { have.insert(lmin0_line_key(line)); });
    if (o.fresh) {
        results.clear();
        have.clear();
    }

    // Every pattern set and the betas of it still missing from the output.
    std::vector<pattern_job> jobs;
    const auto plan = [&](pattern_job j) {
        const auto view = make_matrix_view<const double>(j.x.data(), j.m, j.d);
        if (o.betas.empty()) {
            j.betas = lmin0_betas(beta_range(view), o.nbetas, o.geometric);
            j.grid = o.geometric ? "geometric" : "linear";
        } else {
            (void)beta_range(view);  // validates: two distinct patterns
            j.betas = o.betas;
            j.grid = "list";
        }
        lmin0_row key;
        key.generator = j.generator;
        key.patterns_hash = pattern_set_hash(view);
        key.n_patterns = j.m;
        key.dim = j.d;
        key.seed = j.seed;
        for (std::size_t i = 0; i < j.betas.size(); ++i) {
            key.beta = j.betas[i];
            if (!have.count(resume_key(key))) j.missing.push_back(static_cast<int>(i));
        }
        jobs.push_back(std::move(j));
    };
    if (!o.patterns.empty()) {
        const loaded_matrix lm = load_matrix(o.patterns, "patterns");
        pattern_job j;
        j.generator = "file";
        j.patterns_path = o.patterns;
        j.m = lm.rows();
        j.d = lm.cols();
        j.x = as_f64(lm);
        j.label = "M=" + std::to_string(j.m) + " d=" + std::to_string(j.d) + " " + o.patterns;
        plan(std::move(j));
    } else {
        const lmin0_generator g = parse_lmin0_generator(o.generator);
        for (auto m : o.ms)
            for (auto d : o.ds)
                for (auto seed : o.seeds) {
                    pattern_job j;
                    j.generator = std::string(to_string(g));
                    j.m = m;
                    j.d = d;
                    j.seed = seed;
                    j.x = generate_patterns(g, m, d, seed);
                    j.label = "M=" + std::to_string(m) + " d=" + std::to_string(d) +
                              " seed=" + std::to_string(seed);
                    plan(std::move(j));
                }
    }
    std::int64_t total = 0, skipped = 0;
    for (const auto& j : jobs) {
        total += static_cast<std::int64_t>(j.missing.size());
        skipped += static_cast<std::int64_t>(j.betas.size() - j.missing.size());
    }
    const bool show = !o.no_progress && (o.progress || isatty(STDERR_FILENO));
    progress_bar bar(show, total, "configs");
    std::int64_t done = 0, written = 0;
    std::printf("%-28s %6s %10s %12s %10s %9s %8s\n",
                "pattern set",
                "betas",
                "peak new",
                "at beta",
                "stored",
                "coverage",
                "seconds");
    for (const auto& j : jobs) {
        if (j.missing.empty()) continue;
        lmin0_options lo;
        lo.betas = j.betas;
        lo.only = j.missing;
        lo.vol_samples = o.vol_samples;
        lo.vol_seed = o.vol_seed;
        lo.max_candidates = o.max_candidates;
        const double n_here = static_cast<double>(j.missing.size());
        lo.progress = [&, n_here](std::int64_t k, std::int64_t n) {
            bar.update(static_cast<double>(done) + (n > 0 ? 0.95 * n_here * k / n : 0.0), j.label);
        };
        bar.update(static_cast<double>(done), j.label, true);
        std::vector<lmin0_row> rows =
            run_lmin0(make_matrix_view<const double>(j.x.data(), j.m, j.d), lo, ex);
        std::string text;
        const lmin0_row* peak = &rows.front();
        for (auto& r : rows) {
            r.generator = j.generator;
            r.patterns = j.patterns_path;
            r.seed = j.seed;
            r.grid = j.grid;
            text += to_json(r) + "\n";
            if (r.num_new_mems > peak->num_new_mems) peak = &r;
        }
        results.append(text);
        done += static_cast<std::int64_t>(rows.size());
        written += static_cast<std::int64_t>(rows.size());
        bar.update(static_cast<double>(done), j.label, true);
        if (show) std::fputs("\r\033[K", stderr);
        std::printf("%-28s %6zu %10lld %12.6g %6lld/%-3lld %9.4f %8.2f%s\n",
                    j.label.c_str(),
                    rows.size(),
                    static_cast<long long>(peak->num_new_mems),
                    peak->beta,
                    static_cast<long long>(peak->num_old_mems),
                    static_cast<long long>(j.m),
                    peak->vol_coverage,
                    rows.front().seconds,
                    rows.front().status == "complete" ? "" : ("  " + rows.front().status).c_str());
        std::fflush(stdout);
    }
    bar.finish();
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf("%lld configurations written, %lld already in %s (skipped), %.2f s\n",
                static_cast<long long>(written),
                static_cast<long long>(skipped),
                o.out.c_str(),
                secs);
    if (!o.plot.empty()) run_plot_script({"lmin0", o.out, files.target(o.plot)});
    return exit_ok;
}

}  // namespace

run_fn add_lmin0(CLI::App& sub) {
    auto o = std::make_shared<lmin0_cli>();
    auto* pm = sub.add_option("--M", o->ms, "Numbers of patterns (comma list)")
                   ->delimiter(',')
                   ->capture_default_str();
    auto* pd = sub.add_option("--d", o->ds, "Dimensions (comma list)")
                   ->delimiter(',')
                   ->capture_default_str();
    auto* ps = sub.add_option("--seeds", o->seeds, "Seeds of the generator (comma list)")
                   ->delimiter(',')
                   ->capture_default_str();
    auto* pg = sub.add_option("--generator",
                              o->generator,
                              "reference (the authors' biased draw, paper.md 2.3) or uniform")
                   ->capture_default_str();
    sub.add_option("--patterns", o->patterns, "Use this (M x d) .npy pattern set instead")
        ->excludes(pm)
        ->excludes(pd)
        ->excludes(ps)
        ->excludes(pg);
    auto* pn = sub.add_option("--nbetas", o->nbetas, "Betas on the grid [2/d, 8/r_min^2]")
                   ->capture_default_str();
    sub.add_option("--betas", o->betas, "Explicit betas (comma list) instead of the grid")
        ->delimiter(',')
        ->excludes(pn);
    sub.add_flag("--geometric", o->geometric, "Geometric grid (np.geomspace) instead of linear");
    sub.add_option(
           "--vol-samples", o->vol_samples, "Uniform samples of [0,1)^d for vol_coverage (0: skip)")
        ->capture_default_str();
    sub.add_option("--vol-seed", o->vol_seed, "Seed of the coverage samples (fixed for all betas)")
        ->capture_default_str();
    sub.add_option("--max-candidates",
                   o->max_candidates,
                   "Stop each exact pass after this many candidate subsets (0: no limit)")
        ->capture_default_str();
    sub.add_option(
           "--out,-o", o->out, "JSON Lines output; configurations already in it are skipped")
        ->capture_default_str();
    sub.add_flag("--fresh",
                 o->fresh,
                 "Empty --out first instead of resuming (only a file of LMIN0 lines is emptied)");
    sub.add_option("--plot", o->plot, "Also draw the Fig. 3-left style figure to this PNG");
    sub.add_flag(
        "--progress", o->progress, "Progress bar on stderr even when it is not a terminal");
    sub.add_flag("--no-progress", o->no_progress, "No progress bar");
    sub.add_option("--threads", o->threads, "OpenMP threads (0: default)")->capture_default_str();
    sub.footer(
        "One JSON line per (pattern set, beta) with the reference's fields (beta, beta_min, "
        "beta_max, r_min, r_max, num_old_mems, num_new_mems, num_mems, vol_coverage, "
        "num_vol_samples, nbetas, beta_idx, M, d, seed) plus generator, grid, candidates, "
        "status, seconds. Counts are exact (distinct points, strict support rule), from one "
        "pass over all subsets per pattern set. See docs/experiments.md.\nExample (the paper's "
        "sweep):\n  denseam lmin0 --M 5,15,25 --d 8,32 --seeds 0,42,88 --out lmin0.jsonl");
    return [o]() { return run(*o); };
}

}  // namespace denseam::cli
