// SPDX-License-Identifier: MIT
// LOGL0 (paper.md 3.3): exact LSR recoverable counts on hand-made pattern sets, LSR uniqueness =
// distinct support sets = distinct exact fixed points (each a true minimum), LSE early stopping,
// the loose vs the sound LSE recoverability, JSON fields, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"

namespace {

using denseam::kernel_kind;
using denseam::make_matrix_view;

denseam::matrix_view<const double> view(const std::vector<double>& x, std::int64_t d) {
    return make_matrix_view<const double>(x.data(), static_cast<std::int64_t>(x.size()) / d, d);
}

// Five 2-D points: a close pair, a loose triangle and an isolated point.
const std::vector<double> kPoints = {0.0, 0.0, 0.3, 0.0, 1.0, 1.0, 1.6, 1.0, 1.3, 1.5};

std::int64_t oracle_recoverable(const std::vector<double>& x, std::int64_t d, double beta) {
    const std::int64_t m = static_cast<std::int64_t>(x.size()) / d;
    std::int64_t n = 0;
    for (std::int64_t i = 0; i < m; ++i) {
        bool alone = true;
        for (std::int64_t j = 0; j < m; ++j) {
            if (i == j) continue;
            double q = 0.0;
            for (std::int64_t c = 0; c < d; ++c)
                q += (x[i * d + c] - x[j * d + c]) * (x[i * d + c] - x[j * d + c]);
            if (std::sqrt(q) < std::sqrt(2.0 / beta)) alone = false;
        }
        n += alone;
    }
    return n;
}

TEST(Logl0, LsrRecoverableExactAndUniqueSupports) {
    const auto gmm = denseam::gaussian_mixture::random(2, 2, 0.5, 1);
    denseam::logl0_options o;
    o.energy = kernel_kind::lsr;
    o.nbetas = 20;
    o.n_queries = 40;
    o.samples = true;
    const auto rows = denseam::run_logl0(view(kPoints, 2), gmm, o);
    ASSERT_EQ(rows.size(), 20u);
    const auto grid = denseam::lmin0_betas(denseam::beta_range(view(kPoints, 2)), 20, true);
    std::int64_t varied = 0;
    for (const auto& r : rows) {
        EXPECT_DOUBLE_EQ(r.beta, grid[static_cast<std::size_t>(r.beta_idx)]);
        EXPECT_EQ(r.og_mems_recoverable, oracle_recoverable(kPoints, 2, r.beta)) << r.beta;
        EXPECT_EQ(r.og_mems_recoverable_sound, r.og_mems_recoverable);
        // Each distinct support set is one exact minimum (its centroid): the counts agree.
        EXPECT_EQ(r.num_unique_retrievals, r.num_unique_points) << r.beta;
        EXPECT_GE(r.num_unique_retrievals, 1);
        // Never more than the true number of minima.
        const auto m = denseam::find_lsr_minima(view(kPoints, 2), r.beta);
        EXPECT_LE(r.num_unique_retrievals, static_cast<std::int64_t>(m.minima.size()));
        EXPECT_EQ(r.num_queries, 5 * 40);
        EXPECT_EQ(r.num_converged, 5 * 40);
        EXPECT_EQ(r.num_dropped, 0);
        EXPECT_EQ(r.sample_logl.size(), 200u);
        EXPECT_EQ(r.sample_is_novel.size(), 200u);
        std::int64_t nov = 0;
        for (auto v : r.sample_is_novel) nov += v;
        EXPECT_EQ(nov, r.num_novel);
        varied += r.og_mems_recoverable > 0 && r.og_mems_recoverable < 5;
    }
    EXPECT_EQ(rows.front().og_mems_recoverable, 0);
    EXPECT_EQ(rows.back().og_mems_recoverable, 5);  // beta_max: every support disjoint
    EXPECT_EQ(rows.back().num_unique_retrievals, 5);
    EXPECT_EQ(rows.back().num_novel, 0);
    EXPECT_GT(varied, 0);
}

// paper.md 7 V3: the equilateral triangle A(-1,0), B(1,0), C(0,-sqrt 3). Its grid is [2/d, 8/r^2]
// = [1, 2]: every pattern is a stored minimum (recoverable 3), and the minima are the 3 patterns,
// the 3 edge midpoints and, for beta < 1.5, the centroid: 7 minima below 1.5, 6 above.
TEST(Logl0, WorkedExampleTriangle) {
    const std::vector<double> tri = {-1.0, 0.0, 1.0, 0.0, 0.0, -std::sqrt(3.0)};
    const auto gmm = denseam::gaussian_mixture::random(3, 2, 0.1, 0);
    denseam::logl0_options o;
    o.energy = kernel_kind::lsr;
    o.nbetas = 9;
    o.only = {0, 1, 2, 3, 5, 6, 7};  // avoid beta = 1.5 (not on this grid) and the end point 2
    o.n_queries = 400;
    const auto rows = denseam::run_logl0(view(tri, 2), gmm, o);
    for (const auto& r : rows) {
        EXPECT_EQ(r.og_mems_recoverable, 3) << r.beta;
        EXPECT_EQ(r.num_unique_retrievals, r.num_unique_points);
        EXPECT_EQ(r.num_unique_retrievals, r.beta < 1.5 ? 7 : 6) << r.beta;
        EXPECT_EQ(r.num_converged, 3 * 400);
    }
}

TEST(Logl0, LseEarlyStoppingReportedAndSoundRecoverability) {
    const auto gmm = denseam::gaussian_mixture::random(2, 2, 0.5, 1);
    denseam::logl0_options o;
    o.energy = kernel_kind::lse;
    o.nbetas = 20;
    o.only = {0, 10, 19};
    o.n_queries = 4;
    o.depth = 13000;
    o.tol = 1e-6;
    auto rows = denseam::run_logl0(view(kPoints, 2), gmm, o);
    ASSERT_EQ(rows.size(), 3u);
    for (const auto& r : rows) {
        EXPECT_GT(r.num_converged, 0);
        EXPECT_LT(r.mean_steps, 13000.0);
        EXPECT_LE(r.num_unique_minima, r.num_converged);
        EXPECT_GE(r.num_unique_minima, 1);
    }
    // Lowest beta: one merged LSE minimum; highest beta: every pattern keeps one nearby.
    EXPECT_EQ(rows[0].num_unique_minima, 1);
    EXPECT_EQ(rows[0].og_mems_recoverable_sound, 0);
    EXPECT_EQ(rows[2].og_mems_recoverable_sound, 5);
    EXPECT_EQ(rows[2].num_unique_minima, 5);
    // Fixed depth: nobody stops early.
    o.tol = 0.0;
    o.depth = 200;
    o.only = {10};
    rows = denseam::run_logl0(view(kPoints, 2), gmm, o);
    EXPECT_EQ(rows[0].num_converged, 0);
    EXPECT_DOUBLE_EQ(rows[0].mean_steps, 200.0);
}

TEST(Logl0, JsonFieldNames) {
    const auto gmm = denseam::gaussian_mixture::random(2, 2, 0.5, 1);
    denseam::logl0_options o;
    o.only = {3};
    o.n_queries = 3;
    const auto rows = denseam::run_logl0(view(kPoints, 2), gmm, o);
    const auto j = nlohmann::json::parse(denseam::to_json(rows[0]));
    for (const char* f : {"beta",
                          "beta_idx",
                          "beta_min",
                          "beta_max",
                          "og_mems_avg_gradnorm",
                          "og_mems_recoverable",
                          "avg_novelty_distance",
                          "num_unique_retrievals",
                          "num_novel",
                          "avg_logl",
                          "sample_logl",
                          "sample_is_novel",
                          "d",
                          "k",
                          "true_sigma",
                          "M",
                          "N",
                          "seed",
                          "nbetas",
                          "energy",
                          "depth",
                          "og_mems_recoverable_sound",
                          "num_unique_minima",
                          "num_converged",
                          "mean_steps"})
        EXPECT_TRUE(j.contains(f)) << f;
    EXPECT_EQ(j["sample_logl"].size(), 15u);
}

TEST(Logl0, Errors) {
    const auto gmm = denseam::gaussian_mixture::random(2, 2, 0.5, 1);
    const auto gmm3 = denseam::gaussian_mixture::random(2, 3, 0.5, 1);
    denseam::logl0_options o;
    o.energy = kernel_kind::triangle;
    EXPECT_THROW(denseam::run_logl0(view(kPoints, 2), gmm, o), denseam::invalid_argument);
    o.energy = kernel_kind::lsr;
    EXPECT_THROW(denseam::run_logl0(view(kPoints, 2), gmm3, o), denseam::invalid_argument);
    o.only = {20};
    EXPECT_THROW(denseam::run_logl0(view(kPoints, 2), gmm, o), denseam::invalid_argument);
    o.only = {};
    o.n_queries = 0;
    EXPECT_THROW(denseam::run_logl0(view(kPoints, 2), gmm, o), denseam::invalid_argument);
}

}  // namespace
