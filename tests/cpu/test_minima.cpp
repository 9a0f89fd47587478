// SPDX-License-Identifier: MIT
// Exact LSR minima: every strategy against a brute-force 2^M double-precision oracle written
// here from the characterisation of paper.md 1.2, the worked examples V1 and V3, symmetric sets
// with coincident centroids, the count-versus-beta curve, thread-count independence, bad input
// and the candidate limit, interrupts and progress.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/minima.hpp"
#include "expect.hpp"
#include "oracle.hpp"

using denseam::find_lsr_minima;
using denseam::make_matrix_view;
using denseam::minima_options;
using denseam::minima_status;
using denseam::minima_strategy;

namespace {

struct oracle_minimum {
    std::vector<std::int64_t> support;
    std::vector<double> position;
    std::vector<double> first_row;  // the first member's pattern
    const std::vector<double>* x = nullptr;
    bool support_rows_equal(std::int64_t m) const {
        const std::size_t d = first_row.size();
        return std::equal(first_row.begin(), first_row.end(), x->begin() + m * d);
    }
};

// Every non-empty subset S of the M patterns: c = mean(S); a minimum iff every member is
// strictly closer than R and every other pattern strictly farther (squared distances in double).
std::vector<oracle_minimum> brute_force(const std::vector<double>& x, int M, int d, double beta) {
    const double r2 = 2.0 / beta;
    std::vector<oracle_minimum> out;
    std::vector<double> c(d);
    for (std::uint64_t mask = 1; mask < (std::uint64_t{1} << M); ++mask) {
        std::fill(c.begin(), c.end(), 0.0);
        int k = 0;
        for (int m = 0; m < M; ++m)
            if ((mask >> m) & 1u) {
                for (int j = 0; j < d; ++j) c[j] += x[m * d + j];
                ++k;
            }
        for (int j = 0; j < d; ++j) c[j] /= k;
        bool ok = true;
        for (int m = 0; m < M && ok; ++m) {
            double s = 0;
            for (int j = 0; j < d; ++j) s += (c[j] - x[m * d + j]) * (c[j] - x[m * d + j]);
            const bool member = (mask >> m) & 1u;
            ok = member ? s < r2 : s > r2;
        }
        if (!ok) continue;
        oracle_minimum om;
        for (int m = 0; m < M; ++m)
            if ((mask >> m) & 1u) om.support.push_back(m);
        om.position = c;
        om.first_row.assign(x.begin() + om.support[0] * d, x.begin() + (om.support[0] + 1) * d);
        om.x = &x;
        out.push_back(om);
    }
    std::sort(out.begin(), out.end(), [](const oracle_minimum& a, const oracle_minimum& b) {
        return a.support < b.support;
    });
    return out;
}

using oracle::uniform;  // uniform [0, 1) values of std::mt19937_64(seed)

double min_max_pair(const std::vector<double>& x, int M, int d, bool want_max) {
    double best = want_max ? 0.0 : 1e300;
    for (int a = 0; a < M; ++a)
        for (int b = a + 1; b < M; ++b) {
            double s = 0;
            for (int j = 0; j < d; ++j)
                s += (x[a * d + j] - x[b * d + j]) * (x[a * d + j] - x[b * d + j]);
            best = want_max ? std::max(best, std::sqrt(s)) : std::min(best, std::sqrt(s));
        }
    return best;
}

denseam::minima_result run(const std::vector<double>& x,
                           int M,
                           int d,
                           double beta,
                           minima_strategy s,
                           double eps = 0.0,
                           int threads = 0) {
    minima_options o;
    o.strategy = s;
    denseam::exec_options ex;
    ex.n_threads = threads;
    return find_lsr_minima(make_matrix_view(x.data(), M, d), beta, eps, o, ex);
}

void expect_same(const std::vector<oracle_minimum>& want,
                 const denseam::minima_result& got,
                 const std::string& what) {
    ASSERT_EQ(got.status, minima_status::complete) << what;
    ASSERT_EQ(want.size(), got.minima.size()) << what;
    std::int64_t stored = 0;
    for (std::size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(want[i].support, got.minima[i].support) << what << " minimum " << i;
        ASSERT_EQ(want[i].position.size(), got.minima[i].position.size());
        for (std::size_t j = 0; j < want[i].position.size(); ++j)
            EXPECT_NEAR(want[i].position[j], got.minima[i].position[j], 1e-12) << what;
        // Stored: the support is one pattern (or identical copies of it).
        bool one_point = true;
        for (auto m : want[i].support) one_point = one_point && want[i].support_rows_equal(m);
        EXPECT_EQ(got.minima[i].stored, one_point);
        stored += one_point;
    }
    EXPECT_EQ(got.stored, stored);
    EXPECT_EQ(got.emergent, static_cast<std::int64_t>(want.size()) - stored);
}

}  // namespace

// ---- exactness against the brute-force oracle ----------------------------------------------

struct random_case {
    int M, d;
    std::uint64_t seed;
};

class MinimaOracle : public ::testing::TestWithParam<random_case> {};

TEST_P(MinimaOracle, EveryStrategyMatchesBruteForceAcrossBetas) {
    const auto [M, d, seed] = GetParam();
    const auto x = uniform(M * d, seed);
    const double rmin = min_max_pair(x, M, d, false), diam = min_max_pair(x, M, d, true);
    // Geometric betas from below 2/diam^2 (one minimum) to above 8/rmin^2 (all stored).
    const double blo = 0.5 * 2.0 / (diam * diam), bhi = 2.0 * 8.0 / (rmin * rmin);
    const int nb = 9;
    for (int i = 0; i < nb; ++i) {
        const double beta = blo * std::pow(bhi / blo, i / double(nb - 1));
        const auto want = brute_force(x, M, d, beta);
        for (auto s :
             {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
            const std::string what = "M=" + std::to_string(M) + " d=" + std::to_string(d) +
                                     " beta=" + std::to_string(beta) +
                                     " strategy=" + std::string(denseam::to_string(s));
            expect_same(want, run(x, M, d, beta, s), what);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(RandomSets,
                         MinimaOracle,
                         ::testing::Values(random_case{6, 1, 1},
                                           random_case{12, 1, 2},
                                           random_case{10, 2, 3},
                                           random_case{14, 2, 4},
                                           random_case{12, 3, 5},
                                           random_case{14, 8, 6},
                                           random_case{18, 8, 7},
                                           random_case{12, 32, 8},
                                           random_case{16, 32, 9},
                                           random_case{17, 3, 10}));

TEST(Minima, DuplicatePatternsAreOnePointWithWeight) {
    // Rows 0 and 3 are identical, as are 1 and 5: supports always hold both copies.
    std::vector<double> x = {0.0, 0.0, 1.0, 0.0, 0.4, 0.9, 0.0, 0.0, 0.5, 0.4, 1.0, 0.0};
    const int M = 6, d = 2;
    for (double beta : {0.5, 2.0, 3.0, 5.0, 9.0, 30.0, 60.0}) {
        const auto want = brute_force(x, M, d, beta);
        for (auto s : {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique})
            expect_same(want, run(x, M, d, beta, s), "duplicates beta=" + std::to_string(beta));
    }
    // At large beta the duplicated points are stored memories whose support has two rows.
    const auto r = run(x, M, d, 60.0, minima_strategy::automatic);
    ASSERT_EQ(r.minima.size(), 4u);
    EXPECT_EQ(r.minima[0].support, (std::vector<std::int64_t>{0, 3}));
    EXPECT_TRUE(r.minima[0].stored);
    EXPECT_EQ(r.stored, 4);
    EXPECT_DOUBLE_EQ(r.minima[0].hessian_scale, 2.0 / 2.0);
}

// ---- worked examples of paper.md section 7 -------------------------------------------------

TEST(Minima, WorkedExampleV1Pair) {
    const std::vector<double> x = {-1.0, 1.0};
    struct row {
        double beta;
        int stored, emergent;
        double e0;
    };
    // paper.md V1 lists -1.175017 for beta = 0.4; -(1/0.4) log(1.6) = -1.1750091 (a typo there).
    for (const row& r : {row{0.4, 0, 1, -1.175009},
                         row{0.6, 2, 1, -0.560787},
                         row{0.9, 2, 1, -0.105900},
                         row{1.0, 2, 1, 0.0},
                         row{1.5, 2, 1, 0.462098},
                         row{2.5, 2, 0, 0.0}}) {
        for (auto s :
             {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
            const auto res = run(x, 2, 1, r.beta, s);
            EXPECT_EQ(res.stored, r.stored) << r.beta;
            EXPECT_EQ(res.emergent, r.emergent) << r.beta;
            for (const auto& m : res.minima) {
                if (m.stored) {
                    EXPECT_NEAR(m.energy, 0.0, 1e-15);
                    EXPECT_NEAR(m.hessian_scale, 1.0, 1e-15);
                    EXPECT_EQ(m.nearest_distance, 0.0);
                    EXPECT_FALSE(m.novel);
                } else {
                    EXPECT_NEAR(m.position[0], 0.0, 1e-15);
                    EXPECT_NEAR(m.energy, r.e0, 5e-7) << r.beta;
                    EXPECT_NEAR(m.hessian_scale, 2.0 / (2.0 - r.beta), 1e-12);
                    EXPECT_NEAR(m.nearest_distance, 1.0, 1e-15);
                    EXPECT_TRUE(m.novel);
                }
            }
        }
    }
    // eps changes the energy and the Hessian scale, not the minima.
    const auto res = run(x, 2, 1, 0.9, minima_strategy::automatic, 1e-6);
    ASSERT_EQ(res.minima.size(), 3u);
    EXPECT_NEAR(res.minima[0].energy, -std::log(1.0 + 1e-6) / 0.9, 1e-15);
}

TEST(Minima, WorkedExampleV3Triangle) {
    const double s3 = std::sqrt(3.0);
    const std::vector<double> x = {-1.0, 0.0, 1.0, 0.0, 0.0, -s3};
    struct row {
        double beta;
        int stored, emergent;
    };
    for (const row& r :
         {row{0.3, 0, 1}, row{0.6, 3, 1}, row{1.1, 3, 4}, row{1.7, 3, 3}, row{2.1, 3, 0}})
        for (auto s :
             {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
            const auto res = run(x, 3, 2, r.beta, s);
            EXPECT_EQ(res.stored, r.stored) << r.beta;
            EXPECT_EQ(res.emergent, r.emergent) << r.beta;
        }
    const auto res = run(x, 3, 2, 1.1, minima_strategy::automatic);
    ASSERT_EQ(res.minima.size(), 7u);
    for (const auto& m : res.minima) {
        const std::size_t k = m.support.size();
        if (k == 1) {
            EXPECT_NEAR(m.energy, 0.0, 1e-15);
            EXPECT_NEAR(m.hessian_scale, 1.0, 1e-15);
        } else if (k == 2) {
            EXPECT_NEAR(m.energy, 0.0957823, 5e-8);
            EXPECT_NEAR(m.hessian_scale, 2.0 / 0.9, 1e-12);
        } else {
            EXPECT_NEAR(m.energy, 0.2028578, 5e-8);
            EXPECT_NEAR(m.hessian_scale, 3.75, 1e-12);
            EXPECT_NEAR(m.position[0], 0.0, 1e-15);
            EXPECT_NEAR(m.position[1], -1.0 / s3, 1e-15);
        }
        if (m.support == std::vector<std::int64_t>{0, 1}) {
            EXPECT_NEAR(m.position[0], 0.0, 1e-15);
            EXPECT_NEAR(m.position[1], 0.0, 1e-15);
            EXPECT_NEAR(m.basin_radius, 0.221966, 5e-7);
            EXPECT_NEAR(m.nearest_distance, 1.0, 1e-15);
            EXPECT_EQ(m.nearest, 0);
        }
    }
    // The basin radius is a valid lower bound: starts within r* keep the active set.
    minima_options o;
    o.basin_radius = false;
    const auto nb = find_lsr_minima(make_matrix_view(x.data(), 3, 2), 1.1, 0.0, o);
    EXPECT_TRUE(std::isnan(nb.minima[0].basin_radius));
}

// ---- coincident centroids are one point ----------------------------------------------------

TEST(Minima, GridWithCoincidentCentroidsCountedOnce) {
    std::vector<double> x;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            x.push_back(i);
            x.push_back(j);
        }
    const double beta = 2.0 / (0.8 * 0.8);
    for (auto s : {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
        const auto res = run(x, 9, 2, beta, s);
        EXPECT_EQ(res.minima.size(), 41u) << denseam::to_string(s);
        EXPECT_EQ(res.stored, 9);
        // Distinct points.
        for (std::size_t a = 0; a < res.minima.size(); ++a)
            for (std::size_t b = a + 1; b < res.minima.size(); ++b)
                EXPECT_NE(res.minima[a].position, res.minima[b].position);
    }
    const std::vector<double> line = {0.0, 1.0, 2.0};
    for (auto s : {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
        const auto res = run(line, 3, 1, 2.0 / (1.2 * 1.2), s);
        ASSERT_EQ(res.minima.size(), 3u);
        EXPECT_EQ(res.minima[0].support, (std::vector<std::int64_t>{0, 1}));
        EXPECT_EQ(res.minima[1].support, (std::vector<std::int64_t>{0, 1, 2}));
        EXPECT_EQ(res.minima[2].support, (std::vector<std::int64_t>{1, 2}));
    }
}

TEST(Minima, BoundaryRuleDistanceExactlyROutside) {
    // 1-D pair at distance 2 with R = 1 exactly (beta = 2): the midpoint has both patterns at
    // distance exactly R, outside the support: no emergent minimum; the stored ones remain.
    const std::vector<double> x = {0.0, 2.0};
    for (auto s : {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
        const auto res = run(x, 2, 1, 2.0, s);
        EXPECT_EQ(res.stored, 2);
        EXPECT_EQ(res.emergent, 0);
    }
    // R = 2 exactly (beta = 0.5): each pattern sees the other at distance exactly R. It has
    // zero weight there, but it enters the support with a weight growing linearly as x moves
    // toward it, so the stored patterns are not minima (non-members need distance > R); the
    // midpoint is.
    for (auto s : {minima_strategy::automatic, minima_strategy::gray, minima_strategy::clique}) {
        const auto res = run(x, 2, 1, 0.5, s);
        EXPECT_EQ(res.stored, 0);
        EXPECT_EQ(res.emergent, 1);
    }
}

TEST(Minima, SingleCentroidShortcut) {
    const auto x = uniform(40 * 3, 11);
    // R far beyond the diameter of [0,1)^3.
    const auto res = run(x, 40, 3, 0.01, minima_strategy::automatic);
    EXPECT_EQ(res.strategy_used, "centroid");
    ASSERT_EQ(res.minima.size(), 1u);
    EXPECT_EQ(res.minima[0].support.size(), 40u);
    const auto few = run(x, 12, 3, 0.01, minima_strategy::automatic);
    EXPECT_EQ(few.strategy_used, "centroid");
    for (auto s : {minima_strategy::gray, minima_strategy::clique}) {
        const auto ref = run(x, 12, 3, 0.01, s);
        ASSERT_EQ(ref.minima.size(), 1u);
        EXPECT_EQ(ref.minima[0].support, few.minima[0].support);
        for (int j = 0; j < 3; ++j)
            EXPECT_NEAR(ref.minima[0].position[j], few.minima[0].position[j], 1e-15);
    }
    // One pattern: a stored minimum at every beta.
    const std::vector<double> one = {0.3, -0.2};
    for (double beta : {1e-3, 1.0, 1e3}) {
        const auto r1 = run(one, 1, 2, beta, minima_strategy::automatic);
        ASSERT_EQ(r1.minima.size(), 1u);
        EXPECT_TRUE(r1.minima[0].stored);
    }
}

// ---- curve and multi-beta counts -----------------------------------------------------------

TEST(MinimaCurve, AgreesWithPerBetaCountsBetweenBreakpoints) {
    for (auto [M, d, seed] :
         {random_case{9, 2, 21}, random_case{12, 8, 22}, random_case{10, 1, 23}}) {
        const auto x = uniform(M * d, seed);
        const auto view = make_matrix_view(x.data(), M, d);
        const auto curve = denseam::lsr_minima_curve(view);
        ASSERT_EQ(curve.status, minima_status::complete);
        ASSERT_EQ(curve.candidates, (std::int64_t{1} << M) - 1);
        ASSERT_EQ(curve.stored.size(), curve.breakpoints.size() + 1);
        ASSERT_TRUE(std::is_sorted(curve.breakpoints.begin(), curve.breakpoints.end()));
        EXPECT_EQ(curve.stored.front() + curve.emergent.front(), 1);
        EXPECT_EQ(curve.stored.back(), M);
        EXPECT_EQ(curve.emergent.back(), 0);
        std::vector<double> mids;
        const auto& bp = curve.breakpoints;
        mids.push_back(bp.front() * 0.5);
        for (std::size_t i = 0; i + 1 < bp.size(); ++i)
            mids.push_back(std::sqrt(bp[i] * bp[i + 1]));
        mids.push_back(bp.back() * 2.0);
        const auto counts = denseam::count_lsr_minima_at(view, mids);
        ASSERT_EQ(counts.strategy_used, "gray");
        for (std::size_t i = 0; i < mids.size(); ++i) {
            EXPECT_EQ(curve.interval(mids[i]), i);
            EXPECT_EQ(counts.stored[i], curve.stored[i]) << i;
            EXPECT_EQ(counts.emergent[i], curve.emergent[i]) << i;
        }
        // Independent check at a subset of the midpoints against the oracle.
        for (std::size_t i = 0; i < mids.size(); i += std::max<std::size_t>(1, mids.size() / 7)) {
            const auto want = brute_force(x, M, d, mids[i]);
            std::int64_t st = 0;
            for (const auto& w : want) st += w.support.size() == 1;
            EXPECT_EQ(curve.stored[i], st);
            EXPECT_EQ(curve.emergent[i], static_cast<std::int64_t>(want.size()) - st);
        }
        // Per-beta counts with the clique strategy agree too.
        minima_options o;
        o.strategy = minima_strategy::clique;
        const auto by_clique = denseam::count_lsr_minima_at(view, mids, o);
        EXPECT_EQ(by_clique.stored, counts.stored);
        EXPECT_EQ(by_clique.emergent, counts.emergent);
    }
}

TEST(MinimaCurve, WorkedExamplesV1V3) {
    const std::vector<double> pair = {-1.0, 1.0};
    const auto c1 = denseam::lsr_minima_curve(make_matrix_view(pair.data(), 2, 1));
    ASSERT_EQ(c1.breakpoints.size(), 2u);
    EXPECT_NEAR(c1.breakpoints[0], 0.5, 1e-14);
    EXPECT_NEAR(c1.breakpoints[1], 2.0, 1e-14);
    EXPECT_EQ(c1.stored, (std::vector<std::int64_t>{0, 2, 2}));
    EXPECT_EQ(c1.emergent, (std::vector<std::int64_t>{1, 1, 0}));
    const double s3 = std::sqrt(3.0);
    const std::vector<double> tri = {-1.0, 0.0, 1.0, 0.0, 0.0, -s3};
    const auto c3 = denseam::lsr_minima_curve(make_matrix_view(tri.data(), 3, 2));
    ASSERT_EQ(c3.breakpoints.size(), 4u);
    const double want_bp[] = {0.5, 2.0 / 3.0, 1.5, 2.0};
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(c3.breakpoints[i], want_bp[i], 1e-13);
    EXPECT_EQ(c3.stored, (std::vector<std::int64_t>{0, 3, 3, 3, 3}));
    EXPECT_EQ(c3.emergent, (std::vector<std::int64_t>{1, 1, 4, 3, 0}));
}

TEST(MinimaCurve, GridCurveMatchesDistinctCounts) {
    std::vector<double> x;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) {
            x.push_back(i);
            x.push_back(j);
        }
    const auto view = make_matrix_view(x.data(), 9, 2);
    const auto curve = denseam::lsr_minima_curve(view);
    const double beta = 2.0 / 0.64;
    const auto i = curve.interval(beta);
    EXPECT_EQ(curve.stored[i] + curve.emergent[i], 41);
    const double betas[] = {beta};
    const auto counts = denseam::count_lsr_minima_at(view, betas);
    EXPECT_EQ(counts.stored[0] + counts.emergent[0], 41);
}

// ---- determinism, errors, limits ------------------------------------------------------------

TEST(Minima, ThreadCountIndependent) {
    const int M = 300, d = 3;
    const auto x = uniform(M * d, 31);
    for (auto s : {minima_strategy::clique}) {
        const auto a = run(x, M, d, 150.0, s, 0.0, 1);
        const auto b = run(x, M, d, 150.0, s, 0.0, 2);
        ASSERT_EQ(a.minima.size(), b.minima.size());
        EXPECT_GT(a.emergent, 0);
        EXPECT_EQ(a.candidates, b.candidates);
        for (std::size_t i = 0; i < a.minima.size(); ++i) {
            EXPECT_EQ(a.minima[i].support, b.minima[i].support);
            EXPECT_EQ(a.minima[i].position, b.minima[i].position);
            EXPECT_EQ(a.minima[i].energy, b.minima[i].energy);
            EXPECT_EQ(a.minima[i].basin_radius, b.minima[i].basin_radius);
        }
    }
    const auto y = uniform(20 * 4, 32);
    const auto view = make_matrix_view(y.data(), 20, 4);
    denseam::exec_options e1, e2;
    e1.n_threads = 1;
    e2.n_threads = 2;
    const auto c1 = denseam::lsr_minima_curve(view, {}, e1);
    const auto c2 = denseam::lsr_minima_curve(view, {}, e2);
    EXPECT_EQ(c1.breakpoints, c2.breakpoints);
    EXPECT_EQ(c1.stored, c2.stored);
    EXPECT_EQ(c1.emergent, c2.emergent);
    minima_options g;
    g.strategy = minima_strategy::gray;
    const auto g1 = find_lsr_minima(view, 3.0, 0.0, g, e1);
    const auto g2 = find_lsr_minima(view, 3.0, 0.0, g, e2);
    ASSERT_EQ(g1.minima.size(), g2.minima.size());
    for (std::size_t i = 0; i < g1.minima.size(); ++i)
        EXPECT_EQ(g1.minima[i].position, g2.minima[i].position);
}

namespace {}  // namespace

TEST(Minima, BadInputThrowsInvalidArgument) {
    const std::vector<double> x = {0.0, 1.0, 2.0, 3.0};
    const auto v = make_matrix_view(x.data(), 2, 2);
    expect_invalid([&] { find_lsr_minima(v, 0.0); }, "beta must be finite and > 0");
    expect_invalid([&] { find_lsr_minima(v, -1.0); }, "beta");
    expect_invalid([&] { find_lsr_minima(v, std::nan("")); }, "beta");
    expect_invalid([&] { find_lsr_minima(v, INFINITY); }, "beta");
    expect_invalid([&] { find_lsr_minima(v, 1.0, -1.0); }, "eps must be finite and >= 0");
    expect_invalid([&] { find_lsr_minima(make_matrix_view(x.data(), 0, 2), 1.0); }, "non-empty");
    std::vector<double> bad = x;
    bad[3] = NAN;
    expect_invalid([&] { find_lsr_minima(make_matrix_view(bad.data(), 2, 2), 1.0); },
                   "non-finite value at (1, 1)");
    minima_options o;
    o.novelty_threshold = -1;
    expect_invalid([&] { find_lsr_minima(v, 1.0, 0.0, o); }, "novelty_threshold");
    o = {};
    o.max_candidates = -5;
    expect_invalid([&] { find_lsr_minima(v, 1.0, 0.0, o); }, "max_candidates");
    const double betas[] = {1.0, 0.0};
    expect_invalid([&] { denseam::count_lsr_minima_at(v, betas); }, "beta");
    o = {};
    o.strategy = minima_strategy::clique;
    expect_invalid([&] { denseam::lsr_minima_curve(v, o); }, "strategy");
    const auto big = uniform(70 * 2, 3);
    o.strategy = minima_strategy::gray;
    expect_invalid([&] { find_lsr_minima(make_matrix_view(big.data(), 70, 2), 1.0, 0.0, o); },
                   "M <= 62");
    expect_invalid([] { denseam::parse_minima_strategy("fast"); }, "auto, gray, clique");
    EXPECT_EQ(denseam::parse_minima_strategy("clique"), minima_strategy::clique);
    EXPECT_EQ(denseam::to_string(minima_status::candidate_limit), "candidate_limit");
}

TEST(Minima, CandidateLimitStopsCleanlyAndDeterministically) {
    const int M = 400, d = 3;
    const auto x = uniform(M * d, 41);
    const auto full = run(x, M, d, 150.0, minima_strategy::clique);
    ASSERT_EQ(full.status, minima_status::complete);
    ASSERT_GT(full.candidates, 2000);
    minima_options o;
    o.strategy = minima_strategy::clique;
    o.max_candidates = full.candidates / 3;
    denseam::exec_options e1, e2;
    e1.n_threads = 1;
    e2.n_threads = 2;
    const auto p1 = find_lsr_minima(make_matrix_view(x.data(), M, d), 150.0, 0.0, o, e1);
    const auto p2 = find_lsr_minima(make_matrix_view(x.data(), M, d), 150.0, 0.0, o, e2);
    EXPECT_EQ(p1.status, minima_status::candidate_limit);
    EXPECT_LE(p1.candidates, o.max_candidates);
    EXPECT_LT(p1.minima.size(), full.minima.size());
    EXPECT_EQ(p1.candidates, p2.candidates);
    ASSERT_EQ(p1.minima.size(), p2.minima.size());
    // Partial results are true minima.
    for (std::size_t i = 0; i < p1.minima.size(); ++i) {
        EXPECT_EQ(p1.minima[i].support, p2.minima[i].support);
        EXPECT_TRUE(std::binary_search(
            full.minima.begin(), full.minima.end(), p1.minima[i], [](const auto& a, const auto& b) {
                return a.support < b.support;
            }));
    }
    // Gray: the limit cuts the subset sequence exactly.
    const auto y = uniform(16 * 2, 42);
    o.strategy = minima_strategy::gray;
    o.max_candidates = 1000;
    const auto g = find_lsr_minima(make_matrix_view(y.data(), 16, 2), 5.0, 0.0, o);
    EXPECT_EQ(g.status, minima_status::candidate_limit);
    EXPECT_EQ(g.candidates, 1000);
}

TEST(Minima, InterruptAndProgress) {
    const int M = 400, d = 3;
    const auto x = uniform(M * d, 51);
    minima_options o;
    o.strategy = minima_strategy::clique;
    std::int64_t last_done = -1, last_total = -1;
    o.progress = [&](std::int64_t done, std::int64_t total) {
        last_done = done;
        last_total = total;
    };
    const auto full = find_lsr_minima(make_matrix_view(x.data(), M, d), 150.0, 0.0, o);
    EXPECT_EQ(last_total, M);
    EXPECT_EQ(last_done, M);

    // Runs that could not finish in years stop within moments of the interrupt, whichever
    // thread holds the long piece of work (the calling thread keeps polling). "Moments" are
    // counted in CPU time of this process after the interrupt (a busy machine's other processes
    // and a sanitizer build's slowdown of the waiting do not count; without polling the work
    // would go on for years).
    const auto y = uniform(3000 * 2, 52);
    for (auto s : {minima_strategy::clique, minima_strategy::gray}) {
        const int m = s == minima_strategy::gray ? 48 : 3000;
        for (int threads : {1, 2}) {
            denseam::exec_options ex;
            ex.n_threads = threads;
            const auto t0 = std::chrono::steady_clock::now();
            std::clock_t fired = 0;
            ex.interrupt = [t0, &fired] {
                if (std::chrono::steady_clock::now() - t0 <= std::chrono::milliseconds(300))
                    return false;
                if (fired == 0) fired = std::clock();
                return true;
            };
            minima_options oi;
            oi.strategy = s;
            const auto r = find_lsr_minima(make_matrix_view(y.data(), m, 2), 0.5, 0.0, oi, ex);
            const double cpu_after = static_cast<double>(std::clock() - fired) / CLOCKS_PER_SEC;
            EXPECT_EQ(r.status, minima_status::interrupted) << denseam::to_string(s);
            EXPECT_NE(fired, 0);
            EXPECT_LT(cpu_after, 10.0) << denseam::to_string(s) << " threads " << threads;
        }
    }
    // A throwing callback propagates its exception.
    o.progress = [](std::int64_t, std::int64_t) { throw std::runtime_error("stop from progress"); };
    EXPECT_THROW(find_lsr_minima(make_matrix_view(y.data(), 3000, 2), 0.5, 0.0, o),
                 std::runtime_error);
}

TEST(Minima, InterruptBeforeAnyWorkReturnsInterruptedWithNothingExamined) {
    // An interrupt that is already set stops every strategy before its first candidate (the
    // clique strategy while it builds the interaction graph): status interrupted, no candidate,
    // no minimum, no exception, and one final progress report of nothing done.
    const auto x = uniform(300 * 2, 53);
    struct run_case {
        minima_strategy s;
        int m;
        std::int64_t total;
    };
    for (const run_case c : {run_case{minima_strategy::clique, 300, 300},
                             run_case{minima_strategy::automatic, 300, 300},
                             run_case{minima_strategy::gray, 20, (1 << 20) - 1}}) {
        for (int threads : {1, 2}) {
            denseam::exec_options ex;
            ex.n_threads = threads;
            ex.interrupt = [] { return true; };
            minima_options o;
            o.strategy = c.s;
            std::int64_t last_done = -1, last_total = -1;
            o.progress = [&](std::int64_t done, std::int64_t total) {
                last_done = done;
                last_total = total;
            };
            const auto r = find_lsr_minima(make_matrix_view(x.data(), c.m, 2), 50.0, 0.0, o, ex);
            const std::string what =
                std::string(denseam::to_string(c.s)) + " threads " + std::to_string(threads);
            EXPECT_EQ(r.status, minima_status::interrupted) << what;
            EXPECT_EQ(r.candidates, 0) << what;
            EXPECT_TRUE(r.minima.empty()) << what;
            EXPECT_EQ(last_done, 0) << what;
            EXPECT_EQ(last_total, c.total) << what;
        }
    }
    denseam::exec_options ex;
    ex.interrupt = [] { return true; };
    const auto curve = denseam::lsr_minima_curve(make_matrix_view(x.data(), 20, 2), {}, ex);
    EXPECT_EQ(curve.status, minima_status::interrupted);
    EXPECT_EQ(curve.candidates, 0);
}

TEST(Minima, NoveltyThreshold) {
    const std::vector<double> x = {0.0, 0.1};
    minima_options o;
    o.novelty_threshold = 0.1;
    const auto r = find_lsr_minima(make_matrix_view(x.data(), 2, 1), 1.0, 0.0, o);
    ASSERT_EQ(r.minima.size(), 1u);  // R = 1.414: one emergent minimum at 0.05
    EXPECT_FALSE(r.minima[0].stored);
    EXPECT_FALSE(r.minima[0].novel);
    EXPECT_EQ(r.novel, 0);
    o.novelty_threshold = 0.04;
    const auto r2 = find_lsr_minima(make_matrix_view(x.data(), 2, 1), 1.0, 0.0, o);
    EXPECT_TRUE(r2.minima[0].novel);
    EXPECT_EQ(r2.novel, 1);
}
