// SPDX-License-Identifier: MIT
// Fig. 1 of the paper (paper.md 3.1) as a library function.
#include <cmath>
#include <nlohmann/json.hpp>

#include "denseam/experiments.hpp"

namespace denseam {

namespace {

std::vector<double> grid_1d(double lo, double hi, int n) {
    std::vector<double> s(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) s[static_cast<std::size_t>(i)] = lo + (hi - lo) * i / (n - 1);
    return s;
}

std::vector<double> grid_2d(double x0, double x1, double y0, double y1, int n) {
    std::vector<double> s;
    s.reserve(static_cast<std::size_t>(2 * n * n));
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            s.push_back(x0 + (x1 - x0) * j / (n - 1));
            s.push_back(y0 + (y1 - y0) * i / (n - 1));
        }
    return s;
}

fig1_panel panel(const char* name,
                 kernel_kind k,
                 double beta,
                 double eps,
                 std::int64_t dim,
                 std::vector<double> patterns,
                 const std::vector<double>& starts,
                 int paper_minima,
                 int paper_emergent,
                 const exec_options& exec) {
    fig1_panel p;
    p.name = name;
    p.params.kernel = k;
    p.params.beta = beta;
    p.params.eps = eps;
    p.dim = dim;
    p.patterns = std::move(patterns);
    p.paper_minima = paper_minima;
    p.paper_emergent = paper_emergent;
    search_options o;
    o.starts = starts;
    o.tol = 1e-13;
    o.max_steps = 200000;
    p.search = search_minima(
        make_matrix_view<const double>(
            p.patterns.data(), static_cast<std::int64_t>(p.patterns.size()) / dim, dim),
        p.params,
        o,
        exec);
    return p;
}

}  // namespace

fig1_result run_fig1(const exec_options& exec) {
    fig1_result r;
    const auto s1 = grid_1d(-2.1, 2.1, 2001);
    const std::vector<double> pair = {-1.0, 1.0};
    // paper.md V1: beta < 0.5 -> {0}; 0.5 < beta < 2 -> {-1, 0, +1}; beta > 2 -> {-1, +1}.
    r.panels.push_back(panel("1d-lsr", kernel_kind::lsr, 0.4, 1e-6, 1, pair, s1, 1, 1, exec));
    r.panels.push_back(panel("1d-lsr", kernel_kind::lsr, 0.9, 1e-6, 1, pair, s1, 3, 1, exec));
    r.panels.push_back(panel("1d-lsr", kernel_kind::lsr, 2.1, 1e-6, 1, pair, s1, 2, 0, exec));
    // LSE merges instead: one minimum at 0 for beta < 1, two near +-1 (never at them) above.
    r.panels.push_back(panel("1d-lse", kernel_kind::lse, 0.4, 0.0, 1, pair, s1, 1, 1, exec));
    r.panels.push_back(panel("1d-lse", kernel_kind::lse, 1.5, 0.0, 1, pair, s1, 2, 2, exec));
    r.panels.push_back(panel("1d-lse", kernel_kind::lse, 4.11, 0.0, 1, pair, s1, 2, 0, exec));
    // paper.md V3: 1, 4, 7, 3 minima of which 1, 1, 4, 0 emergent.
    const double s3 = std::sqrt(3.0);
    const std::vector<double> tri = {-1, 0, 1, 0, 0, -s3};
    const auto s2 = grid_2d(-3, 3, -3.5, 2, 201);
    const std::vector<std::tuple<double, int, int>> tri_cases = {
        {0.3, 1, 1}, {0.6, 4, 1}, {1.1, 7, 4}, {2.1, 3, 0}};
    for (auto [beta, n, ne] : tri_cases)
        r.panels.push_back(panel("2d-lsr", kernel_kind::lsr, beta, 1e-6, 2, tri, s2, n, ne, exec));
    return r;
}

std::string to_json(const fig1_result& r) {
    nlohmann::json j;
    j["experiment"] = "fig1";
    j["panels"] = nlohmann::json::array();
    for (const auto& p : r.panels) {
        nlohmann::json jp;
        jp["name"] = p.name;
        jp["kernel"] = std::string(to_string(p.params.kernel));
        jp["beta"] = p.params.beta;
        jp["eps"] = p.params.eps;
        jp["dim"] = p.dim;
        jp["patterns"] = p.patterns;
        jp["n_starts"] = p.search.n_starts;
        jp["n_converged"] = p.search.n_converged;
        int stored = 0, emergent = 0;
        jp["minima"] = nlohmann::json::array();
        for (const auto& m : p.search.minima) {
            nlohmann::json jm;
            jm["position"] = m.position;
            jm["energy"] = m.energy;
            jm["kind"] = m.stored ? "stored" : "emergent";
            if (!m.support.empty()) jm["support"] = m.support;
            jm["nearest_pattern"] = m.nearest_pattern;
            jm["distance_to_nearest"] = m.distance_to_nearest;
            jm["hessian_min_eigenvalue"] = m.hessian_min_eigenvalue;
            jm["basin_fraction"] =
                static_cast<double>(m.hits) / static_cast<double>(p.search.n_starts);
            (m.stored ? stored : emergent)++;
            jp["minima"].push_back(jm);
        }
        jp["num_minima"] = p.search.minima.size();
        jp["num_stored"] = stored;
        jp["num_emergent"] = emergent;
        jp["paper_minima"] = p.paper_minima;
        jp["paper_emergent"] = p.paper_emergent;
        jp["matches_paper"] = static_cast<int>(p.search.minima.size()) == p.paper_minima &&
                              emergent == p.paper_emergent;
        j["panels"].push_back(jp);
    }
    return j.dump(2) + "\n";
}

}  // namespace denseam
