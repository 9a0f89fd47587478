// SPDX-License-Identifier: MIT
// LMIN0 (paper.md 3.2): exact minima counts of random pattern sets over a beta grid, and the
// share of the unit cube the supports cover.
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "io/format.hpp"

namespace denseam {

std::vector<double> lmin0_betas(const beta_range_result& range, int n, bool geometric) {
    if (n < 1) throw invalid_argument("lmin0: nbetas must be >= 1 (got " + std::to_string(n) + ")");
    std::vector<double> b(static_cast<std::size_t>(n));
    const double lo = range.beta_min, hi = range.beta_max;
    if (n == 1) {
        b[0] = lo;
        return b;
    }
    // As np.linspace / np.geomspace: start + i * step, the end points exact.
    if (geometric) {
        const double l0 = std::log(lo), step = (std::log(hi) - l0) / (n - 1);
        for (int i = 0; i < n; ++i) b[static_cast<std::size_t>(i)] = std::exp(l0 + i * step);
    } else {
        const double step = (hi - lo) / (n - 1);
        for (int i = 0; i < n; ++i) b[static_cast<std::size_t>(i)] = lo + i * step;
    }
    b.front() = lo;
    b.back() = hi;
    return b;
}

std::vector<lmin0_row> run_lmin0(matrix_view<const double> patterns,
                                 const lmin0_options& options,
                                 const exec_options& exec) {
    const auto t0 = std::chrono::steady_clock::now();
    const beta_range_result range = beta_range(patterns);  // validates the patterns
    const std::string hash = pattern_set_hash(patterns);
    if (options.vol_samples < 0)
        throw invalid_argument("lmin0: vol_samples must be >= 0 (got " +
                               std::to_string(options.vol_samples) + ")");
    if (options.max_candidates < 0) throw invalid_argument("lmin0: max_candidates must be >= 0");
    std::vector<double> grid;
    std::string grid_kind;
    if (options.betas.empty()) {
        grid = lmin0_betas(range, options.nbetas, options.geometric);
        grid_kind = options.geometric ? "geometric" : "linear";
    } else {
        grid = options.betas;
        grid_kind = "list";
        for (double b : grid)
            if (!(std::isfinite(b) && b > 0.0))
                throw invalid_argument("lmin0: every beta must be finite and > 0 (got " +
                                       detail::shortest(b) + ")");
    }
    std::vector<int> idx = options.only;
    if (idx.empty()) {
        idx.resize(grid.size());
        for (std::size_t i = 0; i < grid.size(); ++i) idx[i] = static_cast<int>(i);
    }
    std::vector<double> betas;
    for (int i : idx) {
        if (i < 0 || i >= static_cast<int>(grid.size()))
            throw invalid_argument("lmin0: beta index " + std::to_string(i) + " out of range [0, " +
                                   std::to_string(grid.size()) + ")");
        betas.push_back(grid[static_cast<std::size_t>(i)]);
    }

    minima_options mo;
    mo.basin_radius = false;
    mo.max_candidates = options.max_candidates;
    mo.progress = options.progress;
    const minima_counts counts = count_lsr_minima_at(patterns, betas, mo, exec);
    std::vector<double> coverage(betas.size(), std::numeric_limits<double>::quiet_NaN());
    if (options.vol_samples > 0) {
        // The reference samples [0,1)^d with a fixed key for every beta: one nearest-pattern
        // pass serves all betas.
        coverage_options co;
        co.unit_cube = true;
        co.n_samples = options.vol_samples;
        co.seed = options.vol_seed;
        coverage = support_coverage(patterns, betas, co, exec).coverage;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::vector<lmin0_row> rows(betas.size());
    for (std::size_t k = 0; k < betas.size(); ++k) {
        lmin0_row& r = rows[k];
        r.beta = betas[k];
        r.range = range;
        r.num_old_mems = counts.stored[k];
        r.num_new_mems = counts.emergent[k];
        r.vol_coverage = coverage[k];
        r.num_vol_samples = options.vol_samples;
        r.n_patterns = patterns.rows;
        r.dim = patterns.cols;
        r.nbetas = static_cast<int>(grid.size());
        r.beta_idx = idx[k];
        r.grid = grid_kind;
        r.candidates = counts.candidates;
        r.status = std::string(to_string(counts.status));
        r.seconds = seconds;
        r.patterns_hash = hash;
    }
    return rows;
}

std::string to_json(const lmin0_row& r) {
    nlohmann::ordered_json j;
    j["beta"] = r.beta;
    j["beta_min"] = r.range.beta_min;
    j["beta_max"] = r.range.beta_max;
    j["r_min"] = r.range.radius_min;  // the reference's R_min: half the closest distance
    j["r_max"] = r.range.radius_max;  // sqrt(d)
    j["num_old_mems"] = r.num_old_mems;
    j["num_new_mems"] = r.num_new_mems;
    j["num_mems"] = r.num_old_mems + r.num_new_mems;
    if (std::isfinite(r.vol_coverage))
        j["vol_coverage"] = r.vol_coverage;
    else
        j["vol_coverage"] = nullptr;
    j["num_vol_samples"] = r.num_vol_samples;
    j["nbetas"] = r.nbetas;
    j["beta_idx"] = r.beta_idx;
    j["M"] = r.n_patterns;
    j["d"] = r.dim;
    j["seed"] = r.seed;
    j["generator"] = r.generator;
    if (!r.patterns.empty()) j["patterns"] = r.patterns;
    if (!r.patterns_hash.empty()) j["patterns_hash"] = r.patterns_hash;
    j["grid"] = r.grid;
    j["min_distance"] = r.range.r_min;
    j["candidates"] = r.candidates;
    j["status"] = r.status;
    j["seconds"] = r.seconds;
    return j.dump();
}

namespace {
std::string lmin0_key(const std::string& generator,
                      const std::string& hash,
                      std::int64_t m,
                      std::int64_t d,
                      std::uint64_t seed,
                      double beta) {
    // Generated sets are fixed by (generator, M, d, seed); a file's set by its content.
    return nlohmann::json::array({generator, generator == "file" ? hash : "", m, d, seed, beta})
        .dump();
}
}  // namespace

std::string resume_key(const lmin0_row& r) {
    return lmin0_key(r.generator, r.patterns_hash, r.n_patterns, r.dim, r.seed, r.beta);
}

std::string lmin0_line_key(std::string_view line) {
    const nlohmann::json j = nlohmann::json::parse(line);  // parse_error names the position
    if (!j.is_object()) throw invalid_argument("not a JSON object");
    try {
        return lmin0_key(j.value("generator", std::string("reference")),
                         j.value("patterns_hash", std::string()),
                         j.at("M").get<std::int64_t>(),
                         j.at("d").get<std::int64_t>(),
                         j.at("seed").get<std::uint64_t>(),
                         j.at("beta").get<double>());
    } catch (const nlohmann::json::exception& e) {
        throw invalid_argument(e.what());
    }
}

}  // namespace denseam
