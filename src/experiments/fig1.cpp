// SPDX-License-Identifier: MIT
// Fig. 1 of the paper (paper.md 3.1) as a library function: exact minima and landscapes.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <tuple>

#include "denseam/energy.hpp"
#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "engine/resources.hpp"

namespace denseam {

namespace {

// np.linspace(lo, hi, n)
std::vector<double> linspace(double lo, double hi, int n) {
    std::vector<double> s(static_cast<std::size_t>(n));
    const double step = n > 1 ? (hi - lo) / (n - 1) : 0.0;
    for (int i = 0; i < n; ++i) s[static_cast<std::size_t>(i)] = lo + i * step;
    if (n > 1) s.back() = hi;
    return s;
}

// E'' of the 1-D LSE energy: 1 - beta Var_p(xi), p = softmax(-(beta/2)(x - xi)^2).
double lse_curvature(std::span<const double> xi, double beta, double x) {
    double mx = -INFINITY;
    for (double c : xi) mx = std::max(mx, -0.5 * beta * (x - c) * (x - c));
    double z = 0.0, m1 = 0.0, m2 = 0.0;
    for (double c : xi) {
        const double p = std::exp(-0.5 * beta * (x - c) * (x - c) - mx);
        z += p;
        m1 += p * c;
        m2 += p * c * c;
    }
    m1 /= z;
    m2 /= z;
    return 1.0 - beta * (m2 - m1 * m1);
}

void exact_minima(fig1_panel& p) {
    const std::int64_t n = static_cast<std::int64_t>(p.patterns.size()) / p.dim;
    const auto view = make_matrix_view<const double>(p.patterns.data(), n, p.dim);
    p.search = search_result{};
    if (p.params.kernel == kernel_kind::lsr) {
        p.method = "exact-lsr";
        minima_options o;
        o.novelty_threshold = 0.1;
        const minima_result r = find_lsr_minima(view, p.params.beta, p.params.eps, o);
        std::vector<std::size_t> order(r.minima.size());
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
            return r.minima[a].position < r.minima[b].position;
        });
        for (std::size_t i : order) {
            const minimum& m = r.minima[i];
            found_minimum f;
            f.position = m.position;
            f.energy = m.energy;
            f.support = m.support;
            f.stored = m.stored;
            f.nearest_pattern = m.nearest;
            f.distance_to_nearest = m.nearest_distance;
            f.hessian_min_eigenvalue = m.hessian_scale;
            p.search.minima.push_back(std::move(f));
            p.basin_radius.push_back(m.basin_radius);
        }
    } else {
        if (p.dim != 1) throw invalid_argument("fig1: non-LSR panels must be 1-D");
        p.method = "exact-1d";
        minima_1d_options o;
        o.novelty_threshold = 0.1;
        const minima_1d_result r = find_minima_1d(p.patterns, p.params, o);
        for (const minimum_1d& m : r.minima) {
            found_minimum f;
            f.position = {m.position};
            f.energy = m.energy;
            // The reference's "preserved": within 0.1 of a pattern (LSE is never exact).
            f.stored = !m.novel;
            f.nearest_pattern = m.nearest;
            f.distance_to_nearest = m.nearest_distance;
            f.hessian_min_eigenvalue = p.params.kernel == kernel_kind::lse
                                           ? lse_curvature(p.patterns, p.params.beta, m.position)
                                           : NAN;
            p.search.minima.push_back(std::move(f));
        }
        p.flat = r.flat;
    }
}

void landscape(fig1_panel& p, int n1, int n2, const exec_options& exec) {
    std::vector<double> q;
    if (p.dim == 1) {
        p.grid_x = linspace(-2.1, 2.1, n1);
        q = p.grid_x;
    } else {
        p.grid_x = linspace(-3.0, 3.0, n2);
        p.grid_y = linspace(-3.5, 2.0, n2);
        q.reserve(p.grid_x.size() * p.grid_y.size() * 2);
        for (double y : p.grid_y)
            for (double x : p.grid_x) {
                q.push_back(x);
                q.push_back(y);
            }
    }
    const std::int64_t nq = static_cast<std::int64_t>(q.size()) / p.dim;
    const std::int64_t np = static_cast<std::int64_t>(p.patterns.size()) / p.dim;
    p.energy.assign(static_cast<std::size_t>(nq), 0.0);
    std::vector<energy_status> st(static_cast<std::size_t>(nq));
    energy<double>(make_matrix_view<const double>(p.patterns.data(), np, p.dim),
                   make_matrix_view<const double>(q.data(), nq, p.dim),
                   p.params,
                   p.energy,
                   st,
                   exec);
    p.unsupported.resize(st.size());
    for (std::size_t i = 0; i < st.size(); ++i)
        p.unsupported[i] = st[i] == energy_status::unsupported ? 1 : 0;
}

fig1_panel panel(const char* name,
                 kernel_kind k,
                 double beta,
                 double eps,
                 std::int64_t dim,
                 std::vector<double> patterns,
                 int paper_minima,
                 int paper_emergent) {
    fig1_panel p;
    p.name = name;
    p.params.kernel = k;
    p.params.beta = beta;
    p.params.eps = eps;
    p.dim = dim;
    p.patterns = std::move(patterns);
    p.paper_minima = paper_minima;
    p.paper_emergent = paper_emergent;
    exact_minima(p);
    return p;
}

}  // namespace

fig1_result run_fig1(const exec_options& exec) {
    return run_fig1(fig1_options{}, exec);
}

fig1_result run_fig1(const fig1_options& options, const exec_options& exec) {
    if (options.landscapes && (options.n_1d < 2 || options.n_2d < 2))
        throw invalid_argument("fig1: grids need at least 2 points per axis");
    if (options.landscapes) {
        // Each landscape point: 8 bytes of energy, 1 of flag, ~30 of JSON text.
        detail::require_memory(
            39.0 * 6.0 * options.n_1d,
            "fig1: n_1d = " + std::to_string(options.n_1d) + " (points of the 1-D landscapes)");
        detail::require_memory(39.0 * 4.0 * static_cast<double>(options.n_2d) * options.n_2d,
                               "fig1: n_2d = " + std::to_string(options.n_2d) +
                                   " (points per axis of the 2-D landscapes)");
    }
    fig1_result r;
    const std::vector<double> pair = {-1.0, 1.0};
    // paper.md V1: beta < 0.5 -> {0}; 0.5 < beta < 2 -> {-1, 0, +1}; beta > 2 -> {-1, +1}.
    r.panels.push_back(panel("1d-lsr", kernel_kind::lsr, 0.4, 1e-6, 1, pair, 1, 1));
    r.panels.push_back(panel("1d-lsr", kernel_kind::lsr, 0.9, 1e-6, 1, pair, 3, 1));
    r.panels.push_back(panel("1d-lsr", kernel_kind::lsr, 2.1, 1e-6, 1, pair, 2, 0));
    // LSE merges instead: one minimum at 0 for beta < 1, two near +-1 (never at them) above;
    // "emergent" = farther than 0.1 from both patterns (+-0.8586 at beta 1.5, +-0.9995 at 4.11).
    r.panels.push_back(panel("1d-lse", kernel_kind::lse, 0.4, 0.0, 1, pair, 1, 1));
    r.panels.push_back(panel("1d-lse", kernel_kind::lse, 1.5, 0.0, 1, pair, 2, 2));
    r.panels.push_back(panel("1d-lse", kernel_kind::lse, 4.11, 0.0, 1, pair, 2, 0));
    // paper.md V3: 1, 4, 7, 3 minima of which 1, 1, 4, 0 emergent.
    const double s3 = std::sqrt(3.0);
    const std::vector<double> tri = {-1, 0, 1, 0, 0, -s3};
    const std::vector<std::tuple<double, int, int>> tri_cases = {
        {0.3, 1, 1}, {0.6, 4, 1}, {1.1, 7, 4}, {2.1, 3, 0}};
    for (auto [beta, n, ne] : tri_cases)
        r.panels.push_back(panel("2d-lsr", kernel_kind::lsr, beta, 1e-6, 2, tri, n, ne));
    // At most 40,000 points x 3 patterns per panel: threads cost more than they save.
    exec_options small = exec;
    if (small.n_threads == 0) small.n_threads = 1;
    if (options.landscapes)
        for (auto& p : r.panels) landscape(p, options.n_1d, options.n_2d, small);
    return r;
}

std::string to_json(const fig1_result& r) {
    nlohmann::ordered_json j;
    j["experiment"] = "fig1";
    j["panels"] = nlohmann::ordered_json::array();
    for (const auto& p : r.panels) {
        nlohmann::ordered_json jp;
        jp["name"] = p.name;
        jp["kernel"] = std::string(to_string(p.params.kernel));
        jp["beta"] = p.params.beta;
        jp["eps"] = p.params.eps;
        jp["dim"] = p.dim;
        jp["patterns"] = p.patterns;
        jp["method"] = p.method;
        int stored = 0, emergent = 0;
        jp["minima"] = nlohmann::ordered_json::array();
        for (std::size_t i = 0; i < p.search.minima.size(); ++i) {
            const auto& m = p.search.minima[i];
            nlohmann::ordered_json jm;
            jm["position"] = m.position;
            jm["energy"] = m.energy;
            jm["kind"] = m.stored ? "stored" : "emergent";
            if (!m.support.empty()) jm["support"] = m.support;
            jm["nearest_pattern"] = m.nearest_pattern;
            jm["distance_to_nearest"] = m.distance_to_nearest;
            jm["hessian_min_eigenvalue"] = m.hessian_min_eigenvalue;
            if (i < p.basin_radius.size()) jm["basin_radius"] = p.basin_radius[i];
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
        if (p.dim == 1) {
            jp["flat"] = nlohmann::ordered_json::array();
            for (const auto& f : p.flat)
                jp["flat"].push_back({{"lo", f.lo},
                                      {"hi", f.hi},
                                      {"energy", f.energy},
                                      {"is_minimum", f.is_minimum}});
        }
        if (!p.energy.empty()) {
            jp["grid_x"] = p.grid_x;
            if (!p.grid_y.empty()) jp["grid_y"] = p.grid_y;
            nlohmann::ordered_json e = nlohmann::ordered_json::array();
            for (double v : p.energy)
                e.push_back(std::isfinite(v) ? nlohmann::ordered_json(v)
                                             : nlohmann::ordered_json());
            jp["energy"] = std::move(e);
            jp["unsupported"] = p.unsupported;
        }
        j["panels"].push_back(jp);
    }
    // Landscapes make the document large: compact then, readable otherwise.
    const bool big = !r.panels.empty() && !r.panels.front().energy.empty();
    return (big ? j.dump() : j.dump(2)) + "\n";
}

}  // namespace denseam
