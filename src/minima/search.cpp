// SPDX-License-Identifier: MIT
// Multi-start minima search (include/denseam/minima_search.hpp).
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "denseam/error.hpp"
#include "denseam/minima_search.hpp"
#include "engine/validate.hpp"

namespace denseam {

namespace {

std::vector<double> default_starts(matrix_view<const double> pat,
                                   const energy_params& p,
                                   const search_options& o) {
    const std::int64_t M = pat.rows, d = pat.cols;
    std::vector<double> s;
    for (std::int64_t i = 0; i < M; ++i) s.insert(s.end(), pat.row(i), pat.row(i) + d);
    if (M <= 200)
        for (std::int64_t i = 0; i < M; ++i)
            for (std::int64_t j = i + 1; j < M; ++j)
                for (std::int64_t k = 0; k < d; ++k) s.push_back(0.5 * (pat(i, k) + pat(j, k)));
    const double R = std::sqrt(2.0 / p.beta);
    std::vector<double> lo(static_cast<std::size_t>(d), INFINITY),
        hi(static_cast<std::size_t>(d), -INFINITY);
    for (std::int64_t i = 0; i < M; ++i)
        for (std::int64_t k = 0; k < d; ++k) {
            lo[static_cast<std::size_t>(k)] = std::min(lo[static_cast<std::size_t>(k)], pat(i, k));
            hi[static_cast<std::size_t>(k)] = std::max(hi[static_cast<std::size_t>(k)], pat(i, k));
        }
    std::mt19937_64 rng(o.seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (std::int64_t r = 0; r < o.n_random; ++r)
        for (std::int64_t k = 0; k < d; ++k)
            s.push_back(lo[static_cast<std::size_t>(k)] - R +
                        u(rng) * (hi[static_cast<std::size_t>(k)] -
                                  lo[static_cast<std::size_t>(k)] + 2 * R));
    return s;
}

// Smallest eigenvalue of the Hessian at x by central differences of the library's gradient.
double fd_hessian_min_eig(matrix_view<const double> pat,
                          const energy_params& p,
                          const std::vector<double>& x,
                          const exec_options& exec) {
    const std::int64_t d = pat.cols;
    const double h = 1e-5 * std::max(1.0, std::sqrt(2.0 / p.beta));
    std::vector<double> pts(static_cast<std::size_t>(2 * d * d));
    for (std::int64_t j = 0; j < d; ++j)
        for (int s = 0; s < 2; ++s)
            for (std::int64_t k = 0; k < d; ++k)
                pts[static_cast<std::size_t>((2 * j + s) * d + k)] =
                    x[static_cast<std::size_t>(k)] + (k == j ? (s ? -h : h) : 0.0);
    std::vector<double> e(static_cast<std::size_t>(2 * d)), g(pts.size());
    energy_and_grad(pat,
                    make_matrix_view<const double>(pts.data(), 2 * d, d),
                    p,
                    std::span(e),
                    make_matrix_view(g.data(), 2 * d, d),
                    {},
                    exec);
    Eigen::MatrixXd H(d, d);
    for (std::int64_t j = 0; j < d; ++j)
        for (std::int64_t k = 0; k < d; ++k)
            H(k, j) = (g[static_cast<std::size_t>(2 * j * d + k)] -
                       g[static_cast<std::size_t>((2 * j + 1) * d + k)]) /
                      (2 * h);
    const Eigen::MatrixXd S = 0.5 * (H + H.transpose());
    return Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(S, Eigen::EigenvaluesOnly)
        .eigenvalues()
        .minCoeff();
}

}  // namespace

search_result search_minima(matrix_view<const double> pat,
                            const energy_params& p,
                            const search_options& o,
                            const exec_options& exec) {
    validate(p);
    const std::int64_t d = pat.cols;
    detail::check_memories_queries(pat, matrix_view<const double>(pat.data, 0, d));  // one scan
    if (!o.starts.empty() && o.starts.size() % static_cast<std::size_t>(d) != 0)
        throw invalid_argument("search starts have " + std::to_string(o.starts.size()) +
                               " values, not a multiple of dim = " + std::to_string(d));
    if (!(o.dedup_tol > 0.0) || !(o.novelty_threshold >= 0.0))
        throw invalid_argument("dedup_tol must be > 0 and novelty_threshold >= 0");
    const std::vector<double> starts = o.starts.empty() ? default_starts(pat, p, o) : o.starts;
    const auto n = static_cast<std::int64_t>(starts.size()) / d;

    retrieve_options ro;
    ro.method = o.method;
    ro.max_steps = o.max_steps;
    ro.tol = o.tol;
    ro.step_size = schedule::constant(o.step_size);
    auto r =
        retrieve<double>(pat, make_matrix_view<const double>(starts.data(), n, d), p, ro, exec);

    search_result out;
    out.n_starts = n;
    const bool exact = p.kernel == kernel_kind::lsr && o.method == retrieval_method::fixed_point;
    // Group converged states: LSR by support set (exact), others by position within dedup_tol.
    std::map<std::vector<std::int64_t>, std::pair<std::int64_t, std::int64_t>> by_support;
    std::vector<std::pair<std::int64_t, std::int64_t>> groups;  // (representative, hits)
    for (std::int64_t i = 0; i < n; ++i) {
        const auto si = static_cast<std::size_t>(i);
        if (r.status[si] == retrieval_status::out_of_support) ++out.n_unsupported;
        if (r.status[si] != retrieval_status::converged) continue;
        ++out.n_converged;
        if (exact) {
            std::vector<std::int64_t> S(r.support.indices.begin() + r.support.offsets[si],
                                        r.support.indices.begin() + r.support.offsets[si + 1]);
            auto [it, inserted] = by_support.try_emplace(S, i, 0);
            ++it->second.second;
            continue;
        }
        bool merged = false;
        for (auto& [rep, hits] : groups) {
            double dist = 0;
            for (std::int64_t k = 0; k < d; ++k)
                dist = std::max(dist,
                                std::abs(r.states[static_cast<std::size_t>(rep * d + k)] -
                                         r.states[static_cast<std::size_t>(i * d + k)]));
            if (dist < o.dedup_tol) {
                ++hits;
                merged = true;
                break;
            }
        }
        if (!merged) groups.emplace_back(i, 1);
    }
    if (exact)
        for (auto& [S, rep_hits] : by_support) groups.push_back(rep_hits);

    for (auto [rep, hits] : groups) {
        found_minimum m;
        m.position.assign(r.states.begin() + rep * d, r.states.begin() + (rep + 1) * d);
        m.energy = r.energy[static_cast<std::size_t>(rep)];
        m.hits = hits;
        m.distance_to_nearest = INFINITY;
        for (std::int64_t j = 0; j < pat.rows; ++j) {
            double s = 0;
            for (std::int64_t k = 0; k < d; ++k)
                s += std::pow(m.position[static_cast<std::size_t>(k)] - pat(j, k), 2);
            if (std::sqrt(s) < m.distance_to_nearest) {
                m.distance_to_nearest = std::sqrt(s);
                m.nearest_pattern = j;
            }
        }
        if (exact) {
            const auto si = static_cast<std::size_t>(rep);
            m.support.assign(r.support.indices.begin() + r.support.offsets[si],
                             r.support.indices.begin() + r.support.offsets[si + 1]);
            // Hessian = |S| / Z * I at an LSR minimum (paper.md 1.2); Z = exp(-beta E).
            m.hessian_min_eigenvalue =
                static_cast<double>(m.support.size()) * std::exp(p.beta * m.energy);
            m.stored = m.support.size() == 1;
        } else {
            m.hessian_min_eigenvalue = fd_hessian_min_eig(pat, p, m.position, exec);
            if (!(m.hessian_min_eigenvalue > 1e-7)) {
                ++out.n_not_minima;
                continue;
            }
            m.stored = m.distance_to_nearest < o.novelty_threshold;
        }
        out.minima.push_back(std::move(m));
    }
    std::sort(
        out.minima.begin(), out.minima.end(), [](const found_minimum& a, const found_minimum& b) {
            return a.position < b.position;
        });
    return out;
}

}  // namespace denseam
