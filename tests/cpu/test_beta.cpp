// SPDX-License-Identifier: MIT
// beta tools: LMIN0 range, the global-emergence window (checked against the exact minima),
// choose_beta against a direct neighbour count, and support coverage (exact in 1-D, Monte Carlo
// against closed forms in 2-D).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "denseam/beta.hpp"
#include "denseam/error.hpp"
#include "denseam/minima.hpp"
#include "expect.hpp"
#include "oracle.hpp"

using denseam::make_matrix_view;

namespace {

using oracle::uniform;  // uniform [0, 1) values of std::mt19937_64(seed)

// Reference's K(r): mean over patterns of #{nu : D < 2r}, self included.
double k_of_beta(const std::vector<double>& x, int M, int d, double beta) {
    const double r = std::sqrt(2.0 / beta);
    double total = 0;
    for (int a = 0; a < M; ++a)
        for (int b = 0; b < M; ++b) {
            double s = 0;
            for (int j = 0; j < d; ++j)
                s += (x[a * d + j] - x[b * d + j]) * (x[a * d + j] - x[b * d + j]);
            total += std::sqrt(s) < 2 * r;
        }
    return total / M;
}

}  // namespace

TEST(BetaRange, MatchesTheReferenceDefinition) {
    // (0,0) twice: the duplicate is ignored; the closest distinct pair is at distance 3.
    const std::vector<double> x = {0, 0, 3, 0, 0, 4, 0, 0};
    const auto r = denseam::beta_range(make_matrix_view(x.data(), 4, 2));
    EXPECT_DOUBLE_EQ(r.r_min, 3.0);
    EXPECT_DOUBLE_EQ(r.beta_min, 1.0);
    EXPECT_DOUBLE_EQ(r.beta_max, 8.0 / 9.0);
    EXPECT_DOUBLE_EQ(r.radius_min, 1.5);
    EXPECT_DOUBLE_EQ(r.radius_max, std::sqrt(2.0));
    const auto w = denseam::emergence_window(make_matrix_view(x.data(), 4, 2));
    EXPECT_DOUBLE_EQ(w.beta_lo, 8.0 / 27.0);
    EXPECT_DOUBLE_EQ(w.beta_hi, 8.0 / 9.0);
    EXPECT_EQ(w.first, 0);
    EXPECT_EQ(w.second, 1);
    // V3: the triangle of side 2 gives the window (2/3, 2).
    const double s3 = std::sqrt(3.0);
    const std::vector<double> tri = {-1.0, 0.0, 1.0, 0.0, 0.0, -s3};
    const auto w3 = denseam::emergence_window(make_matrix_view(tri.data(), 3, 2));
    EXPECT_NEAR(w3.beta_lo, 2.0 / 3.0, 1e-15);
    EXPECT_NEAR(w3.beta_hi, 2.0, 1e-15);
}

TEST(BetaRange, BadInput) {
    const std::vector<double> same = {1, 2, 1, 2};
    expect_invalid([&] { denseam::beta_range(make_matrix_view(same.data(), 2, 2)); },
                   "at least two distinct rows");
    expect_invalid([&] { denseam::beta_range(make_matrix_view(same.data(), 0, 2)); }, "non-empty");
    std::vector<double> nan = {1, 2, 3, NAN};
    expect_invalid([&] { denseam::emergence_window(make_matrix_view(nan.data(), 2, 2)); },
                   "non-finite");
}

TEST(EmergenceWindow, GlobalEmergenceHoldsInsideTheWindow) {
    for (std::uint64_t seed = 0; seed < 30; ++seed) {
        const int M = 8 + seed % 10, d = 1 + seed % 5;
        const auto x = uniform(M * d, 100 + seed);
        const auto view = make_matrix_view(x.data(), M, d);
        const auto w = denseam::emergence_window(view);
        for (double f : {0.001, 0.25, 0.5, 0.75, 0.999}) {
            const double beta = w.beta_lo * std::pow(w.beta_hi / w.beta_lo, f);
            const auto res = denseam::find_lsr_minima(view, beta);
            EXPECT_EQ(res.stored, M) << "seed " << seed << " beta " << beta;
            bool midpoint = false;
            for (const auto& m : res.minima)
                midpoint = midpoint || m.support == std::vector<std::int64_t>{w.first, w.second};
            EXPECT_TRUE(midpoint) << "seed " << seed << " beta " << beta;
        }
    }
}

TEST(ChooseBeta, ExactJumpOfTheNeighbourCount) {
    for (std::uint64_t seed = 0; seed < 12; ++seed) {
        const int M = 20 + 5 * (seed % 4), d = 2 + seed % 3;
        const auto x = uniform(M * d, 200 + seed);
        const auto view = make_matrix_view(x.data(), M, d);
        for (double target : {1.5, 2.0, 4.0, 7.3, static_cast<double>(M)}) {
            const auto r = denseam::choose_beta(view, target);
            ASSERT_TRUE(std::isfinite(r.beta_critical));
            EXPECT_LT(r.beta, r.beta_critical);
            EXPECT_GT(r.beta, r.beta_critical * (1 - 1e-5));
            const double k = k_of_beta(x, M, d, r.beta);
            EXPECT_GE(k, target) << seed << " " << target;
            EXPECT_DOUBLE_EQ(k, r.mean_neighbours);
            // Just past the jump the target is no longer reached.
            EXPECT_LT(k_of_beta(x, M, d, r.beta_critical * (1 + 1e-9)), target);
            EXPECT_NEAR(r.beta_critical,
                        8.0 / (r.critical_distance * r.critical_distance),
                        1e-12 * r.beta_critical);
        }
    }
}

TEST(ChooseBeta, DuplicatesAndErrors) {
    // Two identical pairs far apart: K = 2 at every beta from the duplicates alone.
    const std::vector<double> x = {0, 0, 10, 10};
    const auto r = denseam::choose_beta(make_matrix_view(x.data(), 4, 1), 2.0);
    EXPECT_TRUE(std::isinf(r.beta_critical));
    EXPECT_EQ(r.critical_distance, 0.0);
    EXPECT_DOUBLE_EQ(r.mean_neighbours, 2.0);
    EXPECT_GE(k_of_beta(x, 4, 1, r.beta), 2.0);
    expect_invalid([&] { denseam::choose_beta(make_matrix_view(x.data(), 4, 1), 1.0); },
                   "every pattern counts itself");
    expect_invalid([&] { denseam::choose_beta(make_matrix_view(x.data(), 4, 1), 4.5); },
                   "(1, M] = (1, 4]");
}

TEST(Coverage, ExactInOneDimension) {
    const std::vector<double> x = {0.0, 1.0};
    const double betas[] = {2.0 / 0.09, 2.0 / 0.36, 2.0 / 4.0};  // R = 0.3, 0.6, 2
    const auto c = denseam::support_coverage(make_matrix_view(x.data(), 2, 1), betas);
    EXPECT_TRUE(c.exact);
    EXPECT_EQ(c.n_samples, 0);
    EXPECT_NEAR(c.coverage[0], 0.6, 1e-15);
    EXPECT_NEAR(c.coverage[1], 1.0, 1e-15);
    EXPECT_NEAR(c.coverage[2], 1.0, 1e-15);
    denseam::coverage_options o;
    o.lo = {-1.0};
    o.hi = {3.0};
    const auto c2 = denseam::support_coverage(make_matrix_view(x.data(), 2, 1), betas, o);
    EXPECT_NEAR(c2.coverage[0], 1.2 / 4.0, 1e-15);
    EXPECT_NEAR(c2.coverage[1], 2.2 / 4.0, 1e-15);  // (-0.6, 1.6)
    EXPECT_NEAR(c2.coverage[2], 4.0 / 4.0, 1e-15);  // (-2, 3)
}

TEST(Coverage, MonteCarloMatchesDiscAreaAndIsThreadIndependent) {
    const std::vector<double> x = {0.5, 0.5};
    const double betas[] = {2.0 / 0.09, 2.0 / 0.04};  // R = 0.3, 0.2
    denseam::coverage_options o;
    o.unit_cube = true;
    o.n_samples = 400000;
    denseam::exec_options e1, e2;
    e1.n_threads = 1;
    e2.n_threads = 2;
    const auto c1 = denseam::support_coverage(make_matrix_view(x.data(), 1, 2), betas, o, e1);
    const auto c2 = denseam::support_coverage(make_matrix_view(x.data(), 1, 2), betas, o, e2);
    EXPECT_EQ(c1.coverage, c2.coverage);
    EXPECT_FALSE(c1.exact);
    const double se = 0.5 / std::sqrt(400000.0);
    EXPECT_NEAR(c1.coverage[0], std::numbers::pi * 0.09, 5 * se);
    EXPECT_NEAR(c1.coverage[1], std::numbers::pi * 0.04, 5 * se);
    o.seed = 7;
    const auto c3 = denseam::support_coverage(make_matrix_view(x.data(), 1, 2), betas, o);
    EXPECT_NE(c3.coverage[0], c1.coverage[0]);
    // Bounding box default: a single pattern gives a degenerate box, entirely covered.
    const auto c4 = denseam::support_coverage(make_matrix_view(x.data(), 1, 2), betas);
    EXPECT_EQ(c4.coverage[0], 1.0);
    o = {};
    o.lo = {0.0};
    expect_invalid([&] { denseam::support_coverage(make_matrix_view(x.data(), 1, 2), betas, o); },
                   "lo and hi must both have d = 2");
    const double bad[] = {-1.0};
    expect_invalid([&] { denseam::support_coverage(make_matrix_view(x.data(), 1, 2), bad); },
                   "beta");
}

TEST(Coverage, InterruptThrowsInterrupted) {
    const std::vector<double> x = {0.5, 0.5};
    const double betas[] = {20.0};
    denseam::coverage_options o;
    o.unit_cube = true;
    o.n_samples = 1000;
    denseam::exec_options ex;
    ex.interrupt = [] { return true; };
    EXPECT_THROW(denseam::support_coverage(make_matrix_view(x.data(), 1, 2), betas, o, ex),
                 denseam::interrupted);
    // A run of several seconds stops within moments of the interrupt, whichever thread holds
    // the samples left (the calling thread keeps polling).
    const int M = 4000, d = 4;
    const auto y = uniform(M * d, 61);
    o.n_samples = 1'000'000;
    // "Moments": CPU seconds of this process after the interrupt, which a busy machine does not
    // inflate (uninterrupted, the run takes tens of CPU seconds).
    for (int threads : {1, 2}) {
        ex.n_threads = threads;
        const auto t0 = std::chrono::steady_clock::now();
        std::clock_t fired = 0;
        ex.interrupt = [t0, &fired] {
            if (std::chrono::steady_clock::now() - t0 <= std::chrono::milliseconds(100))
                return false;
            if (fired == 0) fired = std::clock();
            return true;
        };
        EXPECT_THROW(denseam::support_coverage(make_matrix_view(y.data(), M, d), betas, o, ex),
                     denseam::interrupted);
        ASSERT_NE(fired, 0);
        const double cpu_after = static_cast<double>(std::clock() - fired) / CLOCKS_PER_SEC;
        EXPECT_LT(cpu_after, 5.0) << "threads " << threads;
    }
}
