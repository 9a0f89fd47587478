// SPDX-License-Identifier: MIT
// PXLE (paper.md 3.6): emergent memories of a few pixel-space images, exactly, with the beta
// intervals of global emergence from the exact count-vs-beta curve.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "engine/rng.hpp"
#include "io/format.hpp"
#include "io/json.hpp"

namespace denseam {

pxle_result run_pxle(matrix_view<const double> x, const pxle_options& o, const exec_options& exec) {
    using detail::shortest;
    if (x.empty() || x.cols < 1)
        throw invalid_argument("images: expected a non-empty (N x d) array");
    if (o.n_images < 2 || o.n_images > 30)
        throw invalid_argument("n_images must be in [2, 30], got " + std::to_string(o.n_images));
    if (!o.with_replacement && o.n_images > x.rows)
        throw invalid_argument("n_images = " + std::to_string(o.n_images) + " exceeds the " +
                               std::to_string(x.rows) + " images (or draw with replacement)");
    if (o.beta < 0.0 || !std::isfinite(o.beta))
        throw invalid_argument("beta must be finite and > 0 (0: use beta_fraction), got " +
                               shortest(o.beta));
    if (o.beta == 0.0 && !(o.beta_fraction > 0.0 && std::isfinite(o.beta_fraction)))
        throw invalid_argument("beta_fraction must be finite and > 0, got " +
                               shortest(o.beta_fraction));
    pxle_result r;
    r.dim = x.cols;
    std::mt19937_64 rng(o.seed);
    r.indices = detail::draw_indices(x.rows, o.n_images, o.with_replacement, rng);
    const auto m = static_cast<std::int64_t>(r.indices.size());
    r.patterns.resize(static_cast<std::size_t>(m * x.cols));
    for (std::int64_t i = 0; i < m; ++i)
        std::copy(x.row(r.indices[static_cast<std::size_t>(i)]),
                  x.row(r.indices[static_cast<std::size_t>(i)]) + x.cols,
                  r.patterns.begin() + i * x.cols);
    const matrix_view<const double> p(r.patterns.data(), m, x.cols);
    const beta_range_result br = beta_range(p);  // throws for fewer than two distinct images
    r.beta_max = br.beta_max;
    r.r_min = br.r_min;
    r.beta = o.beta > 0.0 ? o.beta : o.beta_fraction * r.beta_max;
    r.minima = find_lsr_minima(p, r.beta, 0.0, {}, exec);
    for (const minimum& mm : r.minima.minima) {
        std::string s;
        for (auto k : mm.support) s += static_cast<char>('A' + k);
        r.letters.push_back(s);
    }
    r.curve = lsr_minima_curve(p, {}, exec);
    // Distinct images: the stored count at the largest betas.
    const std::int64_t distinct = r.curve.stored.back();
    const std::size_t nint = r.curve.stored.size();
    for (std::size_t i = 0; i < nint; ++i) {
        if (r.curve.stored[i] != distinct || r.curve.emergent[i] < 1) continue;
        const double lo = i == 0 ? 0.0 : r.curve.breakpoints[i - 1];
        const double hi =
            i + 1 == nint ? std::numeric_limits<double>::infinity() : r.curve.breakpoints[i];
        // Adjacent intervals meet at a breakpoint where some support is degenerate (tangent):
        // they are merged, the breakpoints inside excluded.
        if (!r.global_emergence.empty() && r.global_emergence.back().second == lo)
            r.global_emergence.back().second = hi;
        else
            r.global_emergence.emplace_back(lo, hi);
    }
    r.global_emergence_at_beta = r.minima.stored == distinct && r.minima.emergent >= 1;
    return r;
}

std::string to_json(const pxle_result& r) {
    using oj = nlohmann::ordered_json;
    using detail::json_number;
    oj j;
    j["experiment"] = "pxle";
    j["indices"] = r.indices;
    j["n_images"] = r.indices.size();
    j["dim"] = r.dim;
    j["beta"] = r.beta;
    j["beta_max"] = r.beta_max;
    j["beta_fraction"] = r.beta / r.beta_max;
    j["r_min"] = r.r_min;
    j["radius"] = std::sqrt(2.0 / r.beta);
    j["stored"] = r.minima.stored;
    j["emergent"] = r.minima.emergent;
    j["total"] = r.minima.minima.size();
    j["global_emergence_at_beta"] = r.global_emergence_at_beta;
    oj mins = oj::array();
    for (std::size_t i = 0; i < r.minima.minima.size(); ++i) {
        const minimum& m = r.minima.minima[i];
        mins.push_back({{"support", m.support},
                        {"letters", r.letters[i]},
                        {"stored", m.stored},
                        {"energy", oj(json_number(m.energy))},
                        {"nearest", m.nearest},
                        {"nearest_distance", m.nearest_distance}});
    }
    j["minima"] = mins;
    oj ge = oj::array();
    for (const auto& [lo, hi] : r.global_emergence)
        ge.push_back(oj::array({oj(lo), oj(json_number(hi))}));
    j["global_emergence"] = ge;
    j["curve"] = {{"breakpoints", r.curve.breakpoints},
                  {"stored", r.curve.stored},
                  {"emergent", r.curve.emergent}};
    j["paper"] = {{"n_images", 8},
                  {"beta_fraction", 0.4},
                  {"claim", "number of emergent minima about the number of stored ones"}};
    return j.dump();
}

}  // namespace denseam
