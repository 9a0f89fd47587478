// SPDX-License-Identifier: MIT
// LMIN0 (paper.md 3.2): generators, beta grid, exact counts against a brute-force 2^M oracle,
// endpoints, coverage against a naive computation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"

namespace {

using denseam::lmin0_generator;
using denseam::make_matrix_view;

denseam::matrix_view<const double> view(const std::vector<double>& x, std::int64_t d) {
    return make_matrix_view<const double>(x.data(), static_cast<std::int64_t>(x.size()) / d, d);
}

// Brute force straight from paper.md 1.2: S is a minimum iff ||c_S - xi||^2 < R^2 for every
// member and > R^2 for every other pattern. Generic data: no two subsets share a centroid.
std::pair<std::int64_t, std::int64_t> oracle_counts(const std::vector<double>& x,
                                                    std::int64_t d,
                                                    double beta) {
    const std::int64_t m = static_cast<std::int64_t>(x.size()) / d;
    const double r2 = 2.0 / beta;
    std::int64_t stored = 0, emergent = 0;
    std::vector<double> c(static_cast<std::size_t>(d));
    for (std::uint32_t mask = 1; mask < (1u << m); ++mask) {
        std::fill(c.begin(), c.end(), 0.0);
        int k = 0;
        for (std::int64_t i = 0; i < m; ++i)
            if (mask >> i & 1u) {
                ++k;
                for (std::int64_t j = 0; j < d; ++j) c[j] += x[i * d + j];
            }
        for (double& v : c) v /= k;
        bool ok = true;
        for (std::int64_t i = 0; i < m && ok; ++i) {
            // Squared distances summed as the library defines them (one fma per coordinate, in
            // order): the last beta of the grid is 8 / r_min^2, where the closest pair's
            // midpoint lies exactly on both boundaries and rounding decides.
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) {
                const double t = c[j] - x[i * d + j];
                s = std::fma(t, t, s);
            }
            ok = (mask >> i & 1u) ? s < r2 : s > r2;
        }
        if (ok) ++(k == 1 ? stored : emergent);
    }
    return {stored, emergent};
}

TEST(Lmin0Generators, ReferenceIsSortedAndBiased) {
    const std::int64_t m = 200, d = 8;
    const auto x = denseam::generate_patterns(lmin0_generator::reference, m, d, 0);
    ASSERT_EQ(x.size(), static_cast<std::size_t>(m * d));
    double first_max = 0.0, other_max = 0.0;
    for (std::int64_t i = 0; i < m; ++i) {
        for (std::int64_t j = 0; j < d; ++j) {
            EXPECT_GE(x[i * d + j], 0.0);
            EXPECT_LT(x[i * d + j], 1.0);
            if (j > 0) other_max = std::max(other_max, x[i * d + j]);
        }
        first_max = std::max(first_max, x[i * d]);
        if (i > 0) {
            EXPECT_TRUE(std::lexicographical_compare(x.begin() + (i - 1) * d,
                                                     x.begin() + i * d,
                                                     x.begin() + i * d,
                                                     x.begin() + (i + 1) * d))
                << "rows " << i - 1 << ", " << i << " not in lexicographic order";
        }
    }
    // The M smallest first coordinates of 3M uniforms: the largest is about 1/3 (sd ~0.02).
    EXPECT_GT(first_max, 0.25);
    EXPECT_LT(first_max, 0.42);
    EXPECT_GT(other_max, 0.95);  // the other coordinates stay uniform on [0, 1)
    // Deterministic per seed, different across seeds.
    EXPECT_EQ(x, denseam::generate_patterns(lmin0_generator::reference, m, d, 0));
    EXPECT_NE(x, denseam::generate_patterns(lmin0_generator::reference, m, d, 42));
}

TEST(Lmin0Generators, UniformCoversTheCube) {
    const auto x = denseam::generate_patterns(lmin0_generator::uniform, 200, 8, 0);
    double first_max = 0.0, mean = 0.0;
    for (std::int64_t i = 0; i < 200; ++i) {
        first_max = std::max(first_max, x[i * 8]);
        mean += x[i * 8] / 200.0;
    }
    EXPECT_GT(first_max, 0.95);
    EXPECT_NEAR(mean, 0.5, 0.07);
    EXPECT_EQ(denseam::parse_lmin0_generator("uniform"), lmin0_generator::uniform);
    EXPECT_EQ(denseam::to_string(lmin0_generator::reference), "reference");
    EXPECT_THROW(denseam::parse_lmin0_generator("jax"), denseam::invalid_argument);
    EXPECT_THROW(denseam::generate_patterns(lmin0_generator::uniform, 0, 3, 0),
                 denseam::invalid_argument);
}

TEST(Lmin0Grid, LinearAndGeometricGrid) {
    // Closest pair at distance 0.5 (duplicates ignored): beta in [2/d, 8/0.25] = [1, 32].
    const std::vector<double> x = {0, 0, 0.3, 0.4, 0.3, 0.4, 1, 1};
    const auto r = denseam::beta_range(view(x, 2));
    EXPECT_DOUBLE_EQ(r.beta_min, 1.0);
    EXPECT_DOUBLE_EQ(r.beta_max, 32.0);
    const auto lin = denseam::lmin0_betas(r, 32, false);
    ASSERT_EQ(lin.size(), 32u);
    EXPECT_EQ(lin.front(), 1.0);
    EXPECT_EQ(lin.back(), 32.0);
    for (int i = 0; i < 32; ++i) EXPECT_NEAR(lin[i], 1.0 + i, 1e-12);
    const auto geo = denseam::lmin0_betas(r, 6, true);
    for (int i = 0; i < 6; ++i) EXPECT_NEAR(geo[i], std::pow(2.0, i), 1e-12);
    EXPECT_EQ(geo.back(), 32.0);
    EXPECT_EQ(denseam::lmin0_betas(r, 1, false), std::vector<double>{1.0});
    EXPECT_THROW(denseam::lmin0_betas(r, 0, false), denseam::invalid_argument);
    // The JSON line carries the reference's R_min = half the closest distance as r_min.
    denseam::lmin0_options o;
    o.nbetas = 3;
    o.vol_samples = 100;
    const auto rows = denseam::run_lmin0(view(x, 2), o);
    const std::string line = denseam::to_json(rows[1]);
    EXPECT_NE(line.find("\"beta\":16.5,"), std::string::npos) << line;
    EXPECT_NE(line.find("\"r_min\":0.25,"), std::string::npos) << line;
    EXPECT_NE(line.find("\"min_distance\":0.5,"), std::string::npos) << line;
    EXPECT_NE(line.find("\"beta_idx\":1,"), std::string::npos) << line;
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const std::vector<double> same = {1, 1, 1, 1};
    EXPECT_THROW(denseam::run_lmin0(view(same, 2), o), denseam::invalid_argument);
}

TEST(Lmin0, CountsMatchBruteForceOracle) {
    struct shape {
        std::int64_t m, d;
    };
    for (auto g : {lmin0_generator::reference, lmin0_generator::uniform})
        for (std::uint64_t seed : {0ull, 42ull, 88ull})
            for (shape sh : {shape{8, 4}, shape{11, 2}}) {
                const std::int64_t m = sh.m, d = sh.d;
                const auto x = denseam::generate_patterns(g, m, d, seed);
                denseam::lmin0_options o;
                o.nbetas = 50;
                o.vol_samples = 1000;
                const auto rows = denseam::run_lmin0(view(x, d), o);
                ASSERT_EQ(rows.size(), 50u);
                std::int64_t total_new = 0;
                for (const auto& r : rows) {
                    const auto [s, e] = oracle_counts(x, d, r.beta);
                    EXPECT_EQ(r.num_old_mems, s) << "seed " << seed << " beta " << r.beta;
                    EXPECT_EQ(r.num_new_mems, e) << "seed " << seed << " beta " << r.beta;
                    EXPECT_EQ(r.n_patterns, m);
                    EXPECT_EQ(r.dim, d);
                    EXPECT_EQ(r.nbetas, 50);
                    EXPECT_EQ(r.status, "complete");
                    total_new += e;
                }
                EXPECT_GT(total_new, 0);
                for (int i = 0; i < 50; ++i) EXPECT_EQ(rows[i].beta_idx, i);
            }
}

TEST(Lmin0, EndpointsAndExplicitBetas) {
    const std::int64_t m = 15, d = 8;
    const auto x = denseam::generate_patterns(lmin0_generator::reference, m, d, 0);
    const auto range = denseam::beta_range(view(x, d));
    denseam::lmin0_options o;
    o.betas = {range.beta_min,
               0.5 * (range.beta_min + range.beta_max),
               1.01 * range.beta_max,
               10 * range.beta_max};
    o.vol_samples = 20000;
    const auto rows = denseam::run_lmin0(view(x, d), o);
    ASSERT_EQ(rows.size(), 4u);
    // beta_min = 2/d: R = sqrt(d) covers the cube; one minimum, the global centroid.
    EXPECT_EQ(rows[0].num_old_mems, 0);
    EXPECT_EQ(rows[0].num_new_mems, 1);
    EXPECT_EQ(rows[0].vol_coverage, 1.0);
    EXPECT_EQ(rows[0].grid, "list");
    // Above 8/r_min^2 every ball is disjoint from the others: the M stored patterns only.
    for (int k : {2, 3}) {
        EXPECT_EQ(rows[k].num_old_mems, m);
        EXPECT_EQ(rows[k].num_new_mems, 0);
    }
    EXPECT_LT(rows[3].vol_coverage, rows[2].vol_coverage);
    // Only some indices (what a resumed sweep asks for).
    denseam::lmin0_options o2;
    o2.nbetas = 50;
    o2.only = {0, 49};
    o2.vol_samples = 0;
    const auto two = denseam::run_lmin0(view(x, d), o2);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[0].beta_idx, 0);
    EXPECT_EQ(two[1].beta_idx, 49);
    EXPECT_EQ(two[1].beta, range.beta_max);
    EXPECT_TRUE(std::isnan(two[0].vol_coverage));
    o2.only = {50};
    EXPECT_THROW(denseam::run_lmin0(view(x, d), o2), denseam::invalid_argument);
}

TEST(Lmin0Coverage, MatchesNaiveComputation) {
    // d = 1: exact (interval union), against a naive union written here.
    const std::vector<double> x1 = {0.1, 0.15, 0.7, 0.95};
    denseam::lmin0_options o1;
    o1.betas = {2.0 / 0.0009, 2.0 / 0.01, 2.0 / 0.04, 2.0 / 0.25, 2.0 / 4.0};
    const auto r1 = denseam::run_lmin0(view(x1, 1), o1);
    for (const auto& r : r1) {
        const double rad = std::sqrt(2.0 / r.beta);
        int inside = 0;
        const int n = 200000;
        for (int i = 0; i < n; ++i) {
            const double u = (i + 0.5) / n;
            bool in = false;
            for (double c : x1) in = in || std::abs(u - c) < rad;
            inside += in;
        }
        EXPECT_NEAR(r.vol_coverage, static_cast<double>(inside) / n, 1e-5) << r.beta;
    }
    EXPECT_DOUBLE_EQ(r1.back().vol_coverage, 1.0);
    // d = 3: Monte Carlo against an independent Monte Carlo (own generator), within 5 sigma.
    const std::int64_t d = 3;
    const auto x = denseam::generate_patterns(lmin0_generator::uniform, 7, d, 3);
    denseam::lmin0_options o;
    o.betas = {10.0, 30.0, 100.0};
    o.vol_samples = 100000;
    const auto rows = denseam::run_lmin0(view(x, d), o);
    std::mt19937_64 rng(12345);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int n = 100000;
    std::vector<double> nn(n);
    for (int s = 0; s < n; ++s) {
        double p[3] = {u(rng), u(rng), u(rng)}, best = INFINITY;
        for (int i = 0; i < 7; ++i) {
            double acc = 0.0;
            for (int j = 0; j < d; ++j) acc += (p[j] - x[i * d + j]) * (p[j] - x[i * d + j]);
            best = std::min(best, acc);
        }
        nn[s] = best;
    }
    for (const auto& r : rows) {
        int inside = 0;
        for (double v : nn) inside += v < 2.0 / r.beta;
        const double want = static_cast<double>(inside) / n;
        EXPECT_NEAR(r.vol_coverage, want, 5 * std::sqrt(2 * want * (1 - want) / n) + 1e-9)
            << r.beta;
        EXPECT_EQ(r.num_vol_samples, 100000);
    }
    // Results do not depend on the thread count.
    denseam::exec_options one;
    one.n_threads = 1;
    const auto rows1 = denseam::run_lmin0(view(x, d), o, one);
    for (std::size_t k = 0; k < rows.size(); ++k) {
        EXPECT_EQ(rows1[k].vol_coverage, rows[k].vol_coverage);
        EXPECT_EQ(rows1[k].num_new_mems, rows[k].num_new_mems);
    }
}

}  // namespace
