// SPDX-License-Identifier: MIT
// run_qbvae (QBVAE3 on latent codes): the draw, beta from choose_beta, the exact LSR minima and
// the LSE counts, each against an independent computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "denseam/beta.hpp"
#include "denseam/error.hpp"
#include "denseam/experiments.hpp"

namespace {

std::vector<double> latents(std::int64_t n, std::int64_t d, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0.0, 1.0);
    std::vector<double> z(static_cast<std::size_t>(n * d));
    for (auto& v : z) v = g(rng);
    return z;
}

}  // namespace

TEST(Qbvae, DrawBetaAndLsrMinimaMatchTheirDefinitions) {
    const std::int64_t n = 300, d = 4;
    const auto z = latents(n, d, 1);
    denseam::qbvae_options o;
    o.n_mems = 12;
    o.lse_steps = 400;
    o.lse_search_random = 50;
    const auto r = denseam::run_qbvae({z.data(), n, d}, o);
    ASSERT_EQ(r.indices.size(), 12u);
    EXPECT_EQ(std::set<std::int64_t>(r.indices.begin(), r.indices.end()).size(), 12u);
    for (std::size_t i = 0; i < r.indices.size(); ++i)
        for (std::int64_t k = 0; k < d; ++k)
            EXPECT_EQ(r.patterns[i * d + k], z[static_cast<std::size_t>(r.indices[i] * d + k)]);
    const denseam::matrix_view<const double> xi(r.patterns.data(), 12, d);
    const auto cb = denseam::choose_beta(xi, 5.0);
    EXPECT_EQ(r.beta, cb.beta);
    // The LSR minima are those of find_lsr_minima on the same latents and beta, and every one
    // satisfies the strict active-set rule (checked here from the patterns).
    const auto m = denseam::find_lsr_minima(xi, r.beta);
    ASSERT_EQ(r.lsr.minima.size(), m.minima.size());
    EXPECT_EQ(r.lsr.stored, m.stored);
    EXPECT_EQ(r.lsr.emergent, m.emergent);
    const double r2 = 2.0 / r.beta;
    for (const auto& mm : r.lsr.minima) {
        std::set<std::int64_t> s(mm.support.begin(), mm.support.end());
        for (std::int64_t i = 0; i < 12; ++i) {
            double d2 = 0.0;
            for (std::int64_t k = 0; k < d; ++k) {
                const double t = mm.position[static_cast<std::size_t>(k)] - r.patterns[i * d + k];
                d2 += t * t;
            }
            EXPECT_EQ(s.count(i) == 1, d2 < r2) << i;
        }
    }
    // LSE: the descent's distinct states are at most the starts, and every state the search
    // reports has a zero gradient (it is a converged stationary point with positive Hessian).
    EXPECT_GE(r.lse_unique_rounded, 1);
    EXPECT_LE(r.lse_unique_rounded, 12);
    EXPECT_LE(r.lse_unique_states, 12);
    EXPECT_GE(r.lse_search.minima.size(), 1u);
    for (const auto& f : r.lse_search.minima) EXPECT_GT(f.hessian_min_eigenvalue, 0.0);
    // Same options, same result; the JSON carries the counts.
    const auto again = denseam::run_qbvae({z.data(), n, d}, o);
    EXPECT_EQ(again.indices, r.indices);
    EXPECT_EQ(again.lse_states, r.lse_states);
    const std::string j = denseam::to_json(r);
    EXPECT_NE(j.find("\"emergent\":" + std::to_string(r.lsr.emergent)), std::string::npos) << j;
}

TEST(Qbvae, LseDescentFromEachPatternCountsDistinctStates) {
    // Two far-apart tight pairs at a small beta: LSE merges each pair into one minimum (at the
    // pair's midpoint, 0.1 and 10.1, well inside their 1-decimal rounding cells), so the four
    // descents end in two places.
    const std::vector<double> z = {0.0, 0.0, 0.2, 0.0, 10.0, 0.0, 10.2, 0.0};
    denseam::qbvae_options o;
    o.n_mems = 4;
    o.beta = 1.0;
    o.lse_steps = 4000;
    o.lse_step_size = 0.2;
    o.lse_search_random = 20;
    const auto r = denseam::run_qbvae({z.data(), 4, 2}, o);
    EXPECT_EQ(r.lse_unique_states, 2);
    EXPECT_EQ(r.lse_unique_rounded, 2);
    std::vector<double> xs;
    for (std::int64_t q = 0; q < 4; ++q)
        xs.push_back(r.lse_states[static_cast<std::size_t>(2 * q)]);
    std::sort(xs.begin(), xs.end());
    EXPECT_NEAR(xs[0], 0.1, 1e-6);
    EXPECT_NEAR(xs[3], 10.1, 1e-6);
    EXPECT_EQ(r.lse_search.minima.size(), 2u);
}

TEST(Qbvae, BadOptionsThrow) {
    const auto z = latents(10, 3, 2);
    denseam::qbvae_options o;
    o.n_mems = 11;
    EXPECT_THROW(denseam::run_qbvae({z.data(), 10, 3}, o), denseam::invalid_argument);
    o.n_mems = 1;
    EXPECT_THROW(denseam::run_qbvae({z.data(), 10, 3}, o), denseam::invalid_argument);
    o.n_mems = 5;
    o.beta = -1.0;
    EXPECT_THROW(denseam::run_qbvae({z.data(), 10, 3}, o), denseam::invalid_argument);
    o.beta = 0.0;
    o.lse_step_size = 0.0;
    EXPECT_THROW(denseam::run_qbvae({z.data(), 10, 3}, o), denseam::invalid_argument);
}
