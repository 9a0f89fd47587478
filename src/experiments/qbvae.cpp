// SPDX-License-Identifier: MIT
// QBVAE3 (paper.md 3.7) on latent codes: the stored latents, their exact LSR minima, and LSE at
// the same beta by the reference's descent and by the multi-start minima search.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "engine/rng.hpp"
#include "io/format.hpp"
#include "io/json.hpp"

namespace denseam {

qbvae_result run_qbvae(matrix_view<const double> z,
                       const qbvae_options& o,
                       const exec_options& exec) {
    using detail::shortest;
    if (z.empty() || z.cols < 1)
        throw invalid_argument("latents: expected a non-empty (N x d) array");
    if (o.n_mems < 2 || o.n_mems > z.rows)
        throw invalid_argument("n_mems must be in [2, " + std::to_string(z.rows) + "] (the " +
                               std::to_string(z.rows) + " latents), got " +
                               std::to_string(o.n_mems));
    if (o.beta < 0.0 || !std::isfinite(o.beta))
        throw invalid_argument("beta must be finite and > 0 (0: choose_beta), got " +
                               shortest(o.beta));
    if (o.lse_steps < 0 || o.lse_search_random < 0)
        throw invalid_argument("lse_steps and lse_search_random must be >= 0");
    if (!(o.lse_step_size > 0.0) || !std::isfinite(o.lse_step_size))
        throw invalid_argument("lse_step_size must be finite and > 0, got " +
                               shortest(o.lse_step_size));
    qbvae_result r;
    r.dim = z.cols;
    std::mt19937_64 rng(o.seed);
    r.indices = detail::draw_indices(z.rows, o.n_mems, false, rng);
    r.patterns.resize(static_cast<std::size_t>(o.n_mems * z.cols));
    for (std::int64_t i = 0; i < o.n_mems; ++i)
        std::copy(z.row(r.indices[static_cast<std::size_t>(i)]),
                  z.row(r.indices[static_cast<std::size_t>(i)]) + z.cols,
                  r.patterns.begin() + i * z.cols);
    const matrix_view<const double> xi(r.patterns.data(), o.n_mems, z.cols);
    if (o.beta > 0.0) {
        r.beta = o.beta;
    } else {
        r.chosen = choose_beta(xi, o.target_k);
        r.beta = r.chosen.beta;
    }
    r.lsr = find_lsr_minima(xi, r.beta, 0.0, {}, exec);

    energy_params lse;
    lse.kernel = kernel_kind::lse;
    lse.beta = r.beta;
    retrieve_options ro;
    ro.method = retrieval_method::gradient;
    ro.max_steps = o.lse_steps;
    ro.tol = 0.0;  // the reference's fixed depth
    ro.step_size = schedule::constant(o.lse_step_size);
    const retrieve_result<double> d = retrieve<double>(xi, xi, lse, ro, exec);
    r.lse_states = d.states;
    const std::int64_t dim = z.cols;
    std::set<std::vector<double>> rounded;
    std::vector<std::vector<double>> distinct;
    for (std::int64_t q = 0; q < o.n_mems; ++q) {
        const double* s = d.states.data() + q * dim;
        std::vector<double> key(static_cast<std::size_t>(dim));
        for (std::int64_t k = 0; k < dim; ++k)
            key[static_cast<std::size_t>(k)] = std::nearbyint(s[k] * 10.0) / 10.0 + 0.0;
        rounded.insert(key);
        bool same = false;
        for (const auto& v : distinct) {
            double m = 0.0;
            for (std::int64_t k = 0; k < dim; ++k)
                m = std::max(m, std::abs(v[static_cast<std::size_t>(k)] - s[k]));
            same = same || m <= 1e-6;
        }
        if (!same) distinct.emplace_back(s, s + dim);
    }
    r.lse_unique_rounded = static_cast<std::int64_t>(rounded.size());
    r.lse_unique_states = static_cast<std::int64_t>(distinct.size());

    search_options so;
    so.n_random = o.lse_search_random;
    so.seed = o.seed;
    r.lse_search = search_minima(xi, lse, so, exec);
    return r;
}

std::string to_json(const qbvae_result& r) {
    using oj = nlohmann::ordered_json;
    using detail::json_number;
    oj j;
    j["experiment"] = "qbvae";
    j["indices"] = r.indices;
    j["n_mems"] = r.indices.size();
    j["dim"] = r.dim;
    j["beta"] = r.beta;
    j["choose_beta"] = {{"beta_critical", json_number(r.chosen.beta_critical)},
                        {"critical_distance", r.chosen.critical_distance},
                        {"mean_neighbours", r.chosen.mean_neighbours}};
    j["lsr"] = {{"stored", r.lsr.stored},
                {"emergent", r.lsr.emergent},
                {"total", r.lsr.minima.size()},
                {"status", std::string(to_string(r.lsr.status))}};
    oj mins = oj::array();
    for (const auto& m : r.lsr.minima)
        mins.push_back({{"support", m.support},
                        {"stored", m.stored},
                        {"energy", oj(json_number(m.energy))},
                        {"nearest", m.nearest},
                        {"nearest_distance", m.nearest_distance}});
    j["lsr_minima"] = mins;
    std::int64_t lse_stored = 0;
    for (const auto& m : r.lse_search.minima) lse_stored += m.stored;
    j["lse"] = {{"descent_unique_rounded", r.lse_unique_rounded},
                {"descent_unique_states", r.lse_unique_states},
                {"search_minima", r.lse_search.minima.size()},
                {"search_near_pattern", lse_stored},
                {"search_starts", r.lse_search.n_starts}};
    j["paper"] = {{"config", "mnist10"},
                  {"n_mems", 24},
                  {"lsr_preserved", 22},
                  {"lsr_emergent", 46},
                  {"lse_max", 24}};
    return j.dump();
}

}  // namespace denseam
