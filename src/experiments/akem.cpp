// SPDX-License-Identifier: MIT
// AKEM (paper.md 3.4): the true minima of two kernel bumps at -1 and +1 for every kernel and
// half-width, from the exact 1-D analysis (no grid detector).
#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "denseam/energy.hpp"
#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "engine/resources.hpp"
#include "io/format.hpp"
#include "kernels/policies.hpp"

namespace denseam {

// The paper's name of a kernel ("Epanechnikov"), from its policy (src/kernels/policies.hpp).
std::string_view akem_kernel_name(kernel_kind k) noexcept {
    const auto* info = detail::find_kernel_info(k);
    return info ? info->paper_name : std::string_view("?");
}

akem_result run_akem(const akem_options& options, const exec_options& exec) {
    if (options.kernels.empty() || options.widths.empty())
        throw invalid_argument("akem: needs at least one kernel and one half-width");
    if (options.grid_points < 0 || options.grid_points == 1)
        throw invalid_argument("akem: grid_points must be 0 or >= 2");
    if (!(options.novelty_threshold >= 0.0))
        throw invalid_argument("akem: novelty_threshold must be >= 0");
    for (kernel_kind k : options.kernels)
        if (!uses_distance(k))
            throw invalid_argument("akem: kernel '" + std::string(to_string(k)) +
                                   "' has no half-width (distance kernels only)");
    for (double h : options.widths) {
        if (!(std::isfinite(h) && h > 0.0))
            throw invalid_argument(
                "akem: half-widths must be finite and > 0 (got h = " + detail::shortest(h) + ")");
        // beta = 2/h^2 must be a finite number too.
        if (!std::isfinite(2.0 / (h * h)))
            throw invalid_argument(
                "akem: half-width h = " + detail::shortest(h) +
                " is too small: beta = 2/h^2 overflows (h must be >= " +
                detail::shortest(std::sqrt(2.0 / std::numeric_limits<double>::max()) * 1.0000001) +
                ")");
    }
    // Every panel keeps its landscape (8 bytes a point) and the JSON text (~25 bytes a point).
    detail::require_memory(33.0 * static_cast<double>(options.grid_points) *
                               static_cast<double>(options.kernels.size() * options.widths.size()),
                           "akem: grid_points = " + std::to_string(options.grid_points) +
                               " (landscape points per panel)");

    akem_result r;
    r.n_kernels = static_cast<std::int64_t>(options.kernels.size());
    r.n_widths = static_cast<std::int64_t>(options.widths.size());
    const int n = options.grid_points;
    for (int i = 0; i < n; ++i) r.grid.push_back(i == n - 1 ? 2.0 : -2.0 + 4.0 * i / (n - 1));
    // Landscapes are tiny (2 patterns x 1000 points): threads cost more than they save.
    exec_options small = exec;
    if (small.n_threads == 0) small.n_threads = 1;
    minima_1d_options mo;
    mo.novelty_threshold = options.novelty_threshold;
    for (kernel_kind k : options.kernels)
        for (double h : options.widths) {
            akem_panel p;
            p.kernel = k;
            p.h = h;
            p.params.kernel = k;
            // Compact kernels: half-width R = sqrt(2/beta) = h. The one non-compact distance
            // kernel, the Gaussian exp(-u^2/(2h^2)): exp(-(beta/2) u^2) with beta = 1/h^2
            // (docs/numerics.md).
            p.params.beta = has_compact_support(k) ? 2.0 / (h * h) : 1.0 / (h * h);
            p.params.eps = 0.0;
            p.minima = find_minima_1d(r.centers, p.params, mo);
            std::vector<bool> kept(r.centers.size(), false);
            for (const auto& m : p.minima.minima) {
                (m.novel ? p.emergent : p.near_pattern)++;
                if (!m.novel && m.nearest >= 0) kept[static_cast<std::size_t>(m.nearest)] = true;
            }
            p.global_emergence =
                p.emergent > 0 && std::all_of(kept.begin(), kept.end(), [](bool b) { return b; });
            for (const auto& f : p.minima.flat) {
                if (f.is_minimum) ++p.flat_minima;
                p.flat_length += f.hi - f.lo;
            }
            if (n > 0) {
                p.energy.assign(static_cast<std::size_t>(n), 0.0);
                energy<double>(make_matrix_view<const double>(r.centers.data(), 2, 1),
                               make_matrix_view<const double>(r.grid.data(), n, 1),
                               p.params,
                               p.energy,
                               {},
                               small);
            }
            r.panels.push_back(std::move(p));
        }
    return r;
}

std::string to_json(const akem_result& r) {
    using oj = nlohmann::ordered_json;
    oj j;
    j["experiment"] = "akem";
    j["centers"] = r.centers;
    j["n_kernels"] = r.n_kernels;
    j["n_widths"] = r.n_widths;
    j["grid"] = r.grid;
    j["panels"] = oj::array();
    for (const auto& p : r.panels) {
        oj jp;
        jp["kernel"] = std::string(to_string(p.kernel));
        jp["name"] = std::string(akem_kernel_name(p.kernel));
        jp["h"] = p.h;
        jp["beta"] = p.params.beta;
        jp["beta_akem"] = 1.0 / (p.h * p.h);  // the reference's panel label
        jp["num_minima"] = p.minima.minima.size();
        jp["num_stored"] = p.minima.stored;  // exactly at a pattern
        jp["num_near_pattern"] = p.near_pattern;
        jp["num_emergent"] = p.emergent;
        jp["num_flat"] = p.minima.flat.size();
        jp["num_flat_minima"] = p.flat_minima;
        jp["flat_length"] = p.flat_length;
        jp["global_emergence"] = p.global_emergence;
        jp["minima"] = oj::array();
        for (const auto& m : p.minima.minima)
            jp["minima"].push_back({{"position", m.position},
                                    {"energy", m.energy},
                                    {"kind", m.novel ? "emergent" : "stored"},
                                    {"at_pattern", m.stored},
                                    {"nearest_pattern", m.nearest},
                                    {"distance_to_nearest", m.nearest_distance}});
        jp["flat"] = oj::array();
        for (const auto& f : p.minima.flat)
            jp["flat"].push_back(
                {{"lo", f.lo}, {"hi", f.hi}, {"energy", f.energy}, {"is_minimum", f.is_minimum}});
        oj e = oj::array();
        for (double v : p.energy) e.push_back(std::isfinite(v) ? oj(v) : oj());
        jp["energy"] = std::move(e);
        j["panels"].push_back(std::move(jp));
    }
    return j.dump() + "\n";
}

}  // namespace denseam
