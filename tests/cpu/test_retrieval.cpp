// SPDX-License-Identifier: MIT
// Retrieval: worked examples V5/V6 of paper.md, exactness of the LSR fixed point, monotone
// energy, gradient descent options, determinism and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/retrieval.hpp"
#include "expect.hpp"
#include "oracle.hpp"

using namespace denseam;

namespace {

energy_params make(kernel_kind k, double beta) {
    energy_params p;
    p.kernel = k;
    p.beta = beta;
    return p;
}

retrieve_result<double> fp(const std::vector<double>& mem,
                           std::int64_t d,
                           const std::vector<double>& q,
                           energy_params p,
                           retrieve_options o = {}) {
    return retrieve<double>(make_matrix_view<const double>(mem.data(), mem.size() / d, d),
                            make_matrix_view<const double>(q.data(), q.size() / d, d),
                            p,
                            o);
}

std::vector<std::int64_t> support_of(const retrieve_result<double>& r, std::size_t i) {
    return {r.support.indices.begin() + r.support.offsets[i],
            r.support.indices.begin() + r.support.offsets[i + 1]};
}

// paper.md V6 (a): {-1, +1}, beta = 0.9 (R = 1.490712).
TEST(WorkedExamples, V6aCentroidTraces) {
    auto r = fp({-1, 1}, 1, {0.3, 0.45, 0.6, 3.0}, make(kernel_kind::lsr, 0.9));
    EXPECT_EQ(r.states[0], 0.0);
    EXPECT_EQ(r.steps[0], 2);
    EXPECT_EQ(r.states[1], 0.0);
    EXPECT_EQ(r.steps[1], 2);
    EXPECT_EQ(r.states[2], 1.0);
    EXPECT_EQ(r.steps[2], 2);
    EXPECT_EQ(support_of(r, 2), (std::vector<std::int64_t>{1}));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r.status[i], retrieval_status::converged);
    // Unsupported start: returned unchanged with a status (the reference returns NaN).
    EXPECT_EQ(r.status[3], retrieval_status::out_of_support);
    EXPECT_EQ(r.states[3], 3.0);
    EXPECT_TRUE(std::isinf(r.energy[3]));
    EXPECT_TRUE(support_of(r, 3).empty());
}

// paper.md V6 (b): {0, 1}, R = 1.2: the active set changes twice before settling at 0.5.
TEST(WorkedExamples, V6bTwoChanges) {
    auto r = fp({0, 1}, 1, {-0.3}, make(kernel_kind::lsr, 2.0 / 1.44));
    EXPECT_DOUBLE_EQ(r.states[0], 0.5);
    EXPECT_EQ(r.steps[0], 3);
    EXPECT_EQ(support_of(r, 0), (std::vector<std::int64_t>{0, 1}));
}

// paper.md V5: from (0.6, 0.8) the centroid iteration returns (0, 0) in niter = 2, and one
// gradient step of size 0.75 (= eps + kernel value) lands on it too.
TEST(WorkedExamples, V5SingleStepRetrieval) {
    const std::vector<double> mem = {0, 0, 3, 0, 0, 4};
    auto r = fp(mem, 2, {0.6, 0.8}, make(kernel_kind::lsr, 0.5));
    EXPECT_EQ(r.states[0], 0.0);
    EXPECT_EQ(r.states[1], 0.0);
    EXPECT_EQ(r.steps[0], 2);
    retrieve_options o;
    o.method = retrieval_method::gradient;
    o.max_steps = 1;
    o.step_size = schedule::constant(0.75);
    auto g = fp(mem, 2, {0.6, 0.8}, make(kernel_kind::lsr, 0.5), o);
    EXPECT_NEAR(g.states[0], 0.0, 1e-15);
    EXPECT_NEAR(g.states[1], 0.0, 1e-15);
}

struct random_set {
    std::int64_t M, d;
    std::vector<double> mem, q;
};

random_set make_set(std::int64_t M, std::int64_t d, std::int64_t B, std::uint64_t seed) {
    return {M, d, oracle::uniform(M * d, seed), oracle::uniform(B * d, seed + 7, -0.2, 1.2)};
}

// Every converged LSR state is a true minimum: x = mean(S) and S is exactly the strict active
// set of x (checked with direct double distances), and the returned energy is the oracle's.
TEST(LsrFixedPoint, ConvergedStatesAreExactMinima) {
    for (std::int64_t d : {1, 2, 5, 16}) {
        auto s = make_set(40, d, 300, 10 + d);
        const double beta = (d == 16 ? 6.0 : 24.0) / d, R2 = 2.0 / beta;
        auto r = fp(s.mem, d, s.q, make(kernel_kind::lsr, beta));
        auto ref = oracle::evaluate(s.mem, s.M, r.states, 300, d, make(kernel_kind::lsr, beta));
        int converged = 0;
        for (std::size_t i = 0; i < 300; ++i) {
            if (r.status[i] != retrieval_status::converged) {
                EXPECT_EQ(r.status[i], retrieval_status::out_of_support);
                continue;
            }
            ++converged;
            auto S = support_of(r, i);
            std::vector<std::int64_t> active;
            for (std::int64_t m = 0; m < s.M; ++m) {
                double d2 = 0;
                for (std::int64_t k = 0; k < d; ++k)
                    d2 += std::pow(r.states[i * d + k] - s.mem[m * d + k], 2);
                if (d2 < R2) active.push_back(m);
            }
            EXPECT_EQ(S, active);
            for (std::int64_t k = 0; k < d; ++k) {
                double c = 0;
                for (auto m : S) c += s.mem[m * d + k];
                EXPECT_NEAR(r.states[i * d + k], c / S.size(), 1e-14);
            }
            EXPECT_NEAR(r.energy[i], ref.energy[i], 1e-12);
        }
        EXPECT_GT(converged, 100);
    }
}

// The energy never increases along the fixed-point iteration (paper.md 1.4): compare the state
// after k iterations with the state after k + 1.
TEST(LsrFixedPoint, EnergyNeverIncreases) {
    auto s = make_set(60, 3, 200, 3);
    const auto p = make(kernel_kind::lsr, 6.0);
    std::vector<double> prev;
    for (int k = 1; k <= 8; ++k) {
        retrieve_options o;
        o.max_steps = k;
        auto r = fp(s.mem, 3, s.q, p, o);
        if (!prev.empty())
            for (std::size_t i = 0; i < prev.size(); ++i) {
                if (std::isfinite(prev[i])) {
                    EXPECT_LE(r.energy[i], prev[i] + 1e-12) << i << " k=" << k;
                }
            }
        prev = r.energy;
    }
}

TEST(LseFixedPoint, ConvergesToAStationaryPoint) {
    auto s = make_set(30, 2, 50, 4);
    auto p = make(kernel_kind::lse, 20.0);
    retrieve_options o;
    o.tol = 1e-13;
    o.max_steps = 100000;
    auto r = fp(s.mem, 2, s.q, p, o);
    auto ref = oracle::evaluate(s.mem, 30, r.states, 50, 2, p);
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(r.status[i], retrieval_status::converged);
        EXPECT_LT(std::hypot(ref.grad[2 * i], ref.grad[2 * i + 1]), 1e-10);
    }
}

TEST(GradientDescent, ReachesTheFixedPointAndStopsEarly) {
    auto s = make_set(30, 2, 40, 5);
    auto p = make(kernel_kind::lse, 20.0);
    retrieve_options fpo;
    fpo.tol = 1e-14;
    fpo.max_steps = 100000;
    auto a = fp(s.mem, 2, s.q, p, fpo);
    retrieve_options o;
    o.method = retrieval_method::gradient;
    o.max_steps = 20000;
    o.step_size = schedule::constant(0.5);
    o.tol = 1e-10;
    auto b = fp(s.mem, 2, s.q, p, o);
    for (int i = 0; i < 40; ++i) {
        ASSERT_EQ(b.status[i], retrieval_status::converged);
        EXPECT_LT(b.steps[i], 20000);
        EXPECT_NEAR(b.states[2 * i], a.states[2 * i], 1e-8);
        EXPECT_NEAR(b.states[2 * i + 1], a.states[2 * i + 1], 1e-8);
    }
}

TEST(GradientDescent, ClampedCoordinatesStayPut) {
    auto s = make_set(20, 4, 10, 6);
    retrieve_options o;
    o.method = retrieval_method::gradient;
    o.max_steps = 200;
    o.step_size = schedule::constant(0.05);
    o.clamp = {0, 2};
    auto r = fp(s.mem, 4, s.q, make(kernel_kind::lse, 10.0), o);
    int moved = 0;
    for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(r.states[4 * i + 0], s.q[4 * i + 0]);
        EXPECT_EQ(r.states[4 * i + 2], s.q[4 * i + 2]);
        moved += r.states[4 * i + 1] != s.q[4 * i + 1];
    }
    EXPECT_GT(moved, 5);
}

TEST(GradientDescent, EnergyDecreasesForSmallSteps) {
    auto s = make_set(25, 3, 30, 8);
    auto p = make(kernel_kind::lse, 8.0);
    std::vector<double> prev;
    for (int k : {0, 1, 2, 5, 10, 50}) {
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = k;
        o.tol = 0;
        o.step_size = schedule::constant(0.05);  // < 1 / (largest Hessian eigenvalue) here
        auto r = fp(s.mem, 3, s.q, p, o);
        if (!prev.empty()) {
            for (int i = 0; i < 30; ++i) EXPECT_LE(r.energy[i], prev[i] + 1e-12);
        }
        prev = r.energy;
    }
}

TEST(GradientDescent, NoiseIsDeterministicAndThreadIndependent) {
    auto s = make_set(50, 3, 300, 9);
    retrieve_options o;
    o.method = retrieval_method::gradient;
    o.max_steps = 30;
    o.noise = schedule::constant(0.1);
    o.seed = 42;
    o.step_size = schedule::cosine(0.1, 0.001);
    const auto p = make(kernel_kind::lse, 10.0);
    exec_options one, two;
    one.n_threads = 1;
    two.n_threads = 2;
    auto mv = make_matrix_view<const double>(s.mem.data(), 50, 3);
    auto qv = make_matrix_view<const double>(s.q.data(), 300, 3);
    auto a = retrieve<double>(mv, qv, p, o, one);
    auto b = retrieve<double>(mv, qv, p, o, two);
    EXPECT_EQ(a.states, b.states);
    auto c = retrieve<double>(mv, qv, make(kernel_kind::lsr, 10.0), {}, one);
    auto e = retrieve<double>(mv, qv, make(kernel_kind::lsr, 10.0), {}, two);
    EXPECT_EQ(c.states, e.states);
    EXPECT_EQ(c.support.indices, e.support.indices);
    o.seed = 43;
    auto f = retrieve<double>(mv, qv, p, o, one);
    EXPECT_NE(a.states, f.states);
}

// Both descent paths (per-query for small memory sets, M * d <= 16384; the tiled engine above
// that) against a naive loop over the oracle's gradient.
TEST(GradientDescent, BothPathsMatchANaiveLoop) {
    for (auto [M, k] : {std::pair<std::int64_t, kernel_kind>{30, kernel_kind::lse},
                        {30, kernel_kind::quartic},
                        {6000, kernel_kind::lse},
                        {6000, kernel_kind::lsr}}) {
        const std::int64_t d = 3, B = 7, steps = 40;
        auto mem = oracle::uniform(M * d, 21);
        auto q = oracle::uniform(B * d, 22, 0.2, 0.8);
        const auto p = make(k, M == 30 ? 30.0 : 300.0);
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = steps;
        o.tol = 0;
        o.step_size = schedule::cosine(0.01, 0.001);
        auto got = fp(mem, d, q, p, o);
        auto x = q;
        for (std::int64_t t = 0; t < steps; ++t) {
            auto ref = oracle::evaluate(mem, M, x, B, d, p);
            const double a = o.step_size.at(t, steps);
            for (std::int64_t j = 0; j < B * d; ++j) x[j] -= a * ref.grad[j];
        }
        for (std::int64_t j = 0; j < B * d; ++j)
            EXPECT_NEAR(got.states[j], x[j], 1e-10) << "M " << M << " " << to_string(k);
    }
}

TEST(Schedules, CosineMatchesTheReferenceFormula) {
    auto s = schedule::cosine(0.01, 1e-5);
    EXPECT_DOUBLE_EQ(s.at(0, 13000), 0.01);
    EXPECT_NEAR(s.at(13000, 13000), 1e-5, 1e-18);
    const double t = 4321, a = 1e-3;
    EXPECT_NEAR(
        s.at(4321, 13000), 0.01 * ((1 - a) * 0.5 * (1 + std::cos(M_PI * t / 13000)) + a), 1e-17);
    auto v = schedule::from_values({3, 2, 1});
    EXPECT_EQ(v.at(0, 10), 3);
    EXPECT_EQ(v.at(2, 10), 1);
    EXPECT_EQ(v.at(9, 10), 1);
}

TEST(RetrievalErrors, BadOptionsAreRejected) {
    const std::vector<double> mem = {0, 1}, q = {0.5};
    auto call = [&](energy_params p, retrieve_options o) { fp(mem, 1, q, p, o); };
    retrieve_options o;
    expect_invalid([&] { call(make(kernel_kind::poly, 1), o); }, "no fixed-point iteration");
    expect_invalid([&] { call(make(kernel_kind::tophat, 1), o); }, "no fixed-point iteration");
    o.tol = -1;
    expect_invalid([&] { call(make(kernel_kind::lsr, 1), o); }, "tol must be");
    o = {};
    o.max_steps = -5;
    expect_invalid([&] { call(make(kernel_kind::lsr, 1), o); }, "max_steps");
    o = {};
    o.method = retrieval_method::gradient;
    o.clamp = {3};
    expect_invalid([&] { call(make(kernel_kind::lsr, 1), o); }, "clamped coordinate 3");
    o = {};
    o.method = retrieval_method::gradient;
    o.step_size = schedule::constant(NAN);
    expect_invalid([&] { call(make(kernel_kind::lsr, 1), o); }, "step size schedule");
    expect_invalid([&] { parse_method("newton"); }, "unknown retrieval method 'newton'");
    expect_invalid([&] { call(make(kernel_kind::lsr, 0), {}); }, "beta");
}

}  // namespace

namespace {

// Queries near the patterns: pattern i % M plus a uniform offset in [-spread, spread]^d.
std::vector<double> near_patterns(
    const std::vector<double>& mem, std::int64_t d, std::int64_t n, double spread, unsigned seed) {
    const auto m = static_cast<std::int64_t>(mem.size()) / d;
    auto off = oracle::uniform(n * d, seed, -spread, spread);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t k = 0; k < d; ++k) off[i * d + k] += mem[(i % m) * d + k];
    return off;
}

}  // namespace

// The small-set descent keeps per-block neighbour lists at large beta (patterns whose weight
// is below e^-(40 + ln M) of the nearest, or exactly 0 for compact kernels, anywhere within
// the skin). With 200 patterns in the unit cube at beta = 2000 most patterns are left out and
// the queries move farther than the skin (several rebuilds); the states must still follow
// the full sum of the naive oracle. The last case starts the queries 0.8 outside a corner of
// the cube: at first only a few patterns are in reach, and the queries only end right if the
// lists are rebuilt as they travel into the set (without rebuilds this case fails).
TEST(GradientDescent, NeighbourListsMatchTheFullSum) {
    const std::int64_t M = 200, d = 3, B = 40, steps = 150;
    const auto mem = oracle::uniform(M * d, 31);
    for (auto [k, beta, spread, lr, outside] :
         {std::tuple{kernel_kind::lse, 2000.0, 0.1, 0.05, 0.0},
          std::tuple{kernel_kind::lse, 300.0, 0.2, 0.05, 0.0},
          std::tuple{kernel_kind::quartic, 2000.0, 0.012, 0.02, 0.0},
          std::tuple{kernel_kind::lse, 2000.0, 0.1, 0.05, 0.8}}) {
        auto q = near_patterns(mem, d, B, spread, 32);
        for (auto& v : q) v = outside > 0.0 ? 1.0 + outside + 0.1 * v : v;
        const auto p = make(k, beta);
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = steps;
        o.tol = 0;
        o.step_size = schedule::cosine(lr, 1e-3 * lr);
        auto got = fp(mem, d, q, p, o);
        auto x = q;
        double moved = 0.0;
        for (std::int64_t t = 0; t < steps; ++t) {
            auto ref = oracle::evaluate(mem, M, x, B, d, p);
            const double a = o.step_size.at(t, steps);
            for (std::int64_t j = 0; j < B * d; ++j) x[j] -= a * ref.grad[j];
        }
        for (std::int64_t i = 0; i < B; ++i) {
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) s += std::pow(x[i * d + j] - q[i * d + j], 2);
            moved = std::max(moved, std::sqrt(s));
        }
        // Farther than the skin (half of sqrt(2 / beta)): the lists were rebuilt.
        EXPECT_GT(moved, 0.5 * std::sqrt(2.0 / beta)) << to_string(k) << " beta " << beta;
        for (std::int64_t j = 0; j < B * d; ++j)
            ASSERT_NEAR(got.states[j], x[j], 1e-10) << to_string(k) << " beta " << beta;
        for (std::int64_t i = 0; i < B; ++i) EXPECT_EQ(got.status[i], retrieval_status::max_steps);
    }
}

// gradient_precision::single: a float32 gradient with float64 states. On both paths (small
// sets and the tiled engine) the descent ends where the float64 one does, to float accuracy
// of the distances, and stops early at tol = 1e-6 for the same queries.
TEST(GradientDescent, SinglePrecisionGradientFollowsTheDoubleOne) {
    for (auto [M, d, beta] :
         {std::tuple<std::int64_t, std::int64_t, double>{40, 4, 30.0}, {6000, 3, 4000.0}}) {
        const std::int64_t B = 64, steps = 3000;
        const auto mem = oracle::uniform(M * d, 41);
        const auto q = near_patterns(mem, d, B, 0.1, 42);
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = steps;
        o.tol = 1e-6;
        o.step_size = schedule::cosine(0.2, 2e-3);
        const auto p = make(kernel_kind::lse, beta);
        const auto ref = fp(mem, d, q, p, o);
        o.precision = gradient_precision::single;
        const auto got = fp(mem, d, q, p, o);
        int same_status = 0, converged = 0;
        double worst = 0.0;
        for (std::int64_t i = 0; i < B; ++i) {
            same_status += got.status[i] == ref.status[i];
            converged += ref.status[i] == retrieval_status::converged;
            for (std::int64_t k = 0; k < d; ++k)
                worst = std::max(worst, std::abs(got.states[i * d + k] - ref.states[i * d + k]));
            EXPECT_NEAR(got.energy[i], ref.energy[i], 1e-6 * (1.0 + std::abs(ref.energy[i])));
        }
        EXPECT_GE(converged, B / 2) << "M " << M;  // the test exercises early stopping
        // Small sets form distances from differences (measured worst 2.3e-7); the tiled engine
        // forms them by float GEMM, |x|^2 - 2 x.xi + |xi|^2, whose rounding (2^-24 of |x|^2)
        // times beta = 4000 moves the weights by ~1e-4 relative (measured worst 1.4e-4).
        EXPECT_LT(worst, M * d <= 16384 ? 1e-6 : 5e-4) << "M " << M;
        EXPECT_GE(same_status, B - 2) << "M " << M;
    }
    expect_invalid([] { parse_precision("half"); }, "unknown gradient precision 'half'");
    EXPECT_EQ(parse_precision("float"), gradient_precision::single);
    EXPECT_EQ(to_string(gradient_precision::state), "state");
}

// Queries that stop at different steps: the small-set path refills a lane as soon as its query
// stops, so lanes hold queries at different steps of the schedules (step size and beta). Each
// query must still follow its own naive loop, stop at the same step and end in the same state.
TEST(GradientDescent, QueriesStoppingAtDifferentStepsFollowTheirOwnLoops) {
    const std::int64_t M = 30, d = 3, B = 100, steps = 3000;
    const auto mem = oracle::uniform(M * d, 51);
    const auto q = oracle::uniform(B * d, 52, -0.2, 1.2);
    for (bool beta_schedule : {false, true}) {
        const auto p = make(kernel_kind::lse, 40.0);
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = steps;
        o.tol = 1e-5;
        o.step_size = schedule::cosine(0.3, 0.003);
        if (beta_schedule) o.beta = schedule::cosine(40.0, 10.0);
        const auto got = fp(mem, d, q, p, o);
        std::set<std::int64_t> distinct_steps;
        for (std::int64_t i = 0; i < B; ++i) {
            std::vector<double> x(q.begin() + i * d, q.begin() + (i + 1) * d);
            std::int64_t t = 0;
            retrieval_status st = retrieval_status::max_steps;
            for (; t < steps; ++t) {
                auto pt = p;
                if (beta_schedule) pt.beta = o.beta.at(t, steps);
                const auto ref = oracle::evaluate(mem, M, x, 1, d, pt);
                double gmax = 0.0;
                for (double v : ref.grad) gmax = std::max(gmax, std::abs(v));
                if (gmax < o.tol) {
                    st = retrieval_status::converged;
                    break;
                }
                for (std::int64_t k = 0; k < d; ++k) x[k] -= o.step_size.at(t, steps) * ref.grad[k];
            }
            distinct_steps.insert(t);
            EXPECT_EQ(got.status[i], st) << "query " << i;
            // A query whose gradient lands within rounding of tol may stop one step apart.
            EXPECT_NEAR(static_cast<double>(got.steps[i]), static_cast<double>(t), 1.0) << i;
            for (std::int64_t k = 0; k < d; ++k)
                EXPECT_NEAR(got.states[i * d + k], x[k], 1e-9) << "query " << i;
        }
        EXPECT_GT(distinct_steps.size(), 20u);  // the lanes really were at different steps
    }
}
