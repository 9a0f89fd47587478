// SPDX-License-Identifier: MIT
// Retrieval: worked examples V5/V6 of paper.md, exactness of the LSR fixed point (converged
// iff a strict local minimum, issue 9), monotone energy, gradient descent options,
// determinism and bad input; both builds of the small-set lane descent (8 and 32 lanes).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/minima.hpp"
#include "denseam/retrieval.hpp"
#include "expect.hpp"
#include "oracle.hpp"
#include "retrieval/methods.hpp"  // the lane width override (internal)

using namespace denseam;

namespace {

using oracle::make;

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

// The same in float (T = float memories, queries and states).
retrieve_result<float> fp32(const std::vector<double>& mem,
                            std::int64_t d,
                            const std::vector<double>& q,
                            energy_params p,
                            retrieve_options o = {}) {
    const std::vector<float> m(mem.begin(), mem.end()), x(q.begin(), q.end());
    return retrieve<float>(make_matrix_view<const float>(m.data(), m.size() / d, d),
                           make_matrix_view<const float>(x.data(), x.size() / d, d),
                           p,
                           o);
}

template <class T>
std::vector<std::int64_t> support_of(const retrieve_result<T>& r, std::size_t i) {
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

// ---- when the LSR fixed point is a true minimum (issue 9) ------------------------------------

// The exactly enumerated LSR minima (denseam::find_lsr_minima, an independent algorithm) by
// support set.
std::map<std::vector<std::int64_t>, std::vector<double>> enumerated_minima(
    const std::vector<double>& mem, std::int64_t d, double beta) {
    const auto r = find_lsr_minima(
        make_matrix_view<const double>(mem.data(), static_cast<std::int64_t>(mem.size()) / d, d),
        beta);
    EXPECT_EQ(r.status, minima_status::complete);
    std::map<std::vector<std::int64_t>, std::vector<double>> out;
    for (const auto& m : r.minima) out[m.support] = m.position;
    return out;
}

template <class T>
std::vector<std::string> status_names(const retrieve_result<T>& r) {
    std::vector<std::string> out;
    for (auto st : r.status) out.emplace_back(to_string(st));
    return out;
}

// Probe points at distance h from x: +-each axis, towards and away from each memory (not at
// x), and `n_random` random directions.
std::vector<double> probes_around(const std::vector<double>& mem,
                                  std::int64_t d,
                                  const std::vector<double>& x,
                                  double h,
                                  int n_random,
                                  std::uint64_t seed) {
    std::vector<std::vector<double>> dirs;
    for (std::int64_t k = 0; k < d; ++k)
        for (double s : {-1.0, 1.0}) {
            std::vector<double> u(static_cast<std::size_t>(d), 0.0);
            u[static_cast<std::size_t>(k)] = s;
            dirs.push_back(u);
        }
    const auto M = static_cast<std::int64_t>(mem.size()) / d;
    for (std::int64_t m = 0; m < M; ++m) {
        std::vector<double> u(static_cast<std::size_t>(d));
        for (std::int64_t k = 0; k < d; ++k) u[k] = mem[m * d + k] - x[k];
        dirs.push_back(u);
        for (auto& v : u) v = -v;
        dirs.push_back(u);
    }
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    for (int j = 0; j < n_random; ++j) {
        std::vector<double> u(static_cast<std::size_t>(d));
        for (auto& v : u) v = g(rng);
        dirs.push_back(u);
    }
    std::vector<double> pts;
    for (const auto& u : dirs) {
        double n2 = 0;
        for (double v : u) n2 += v * v;
        if (n2 == 0.0) continue;
        for (std::int64_t k = 0; k < d; ++k) pts.push_back(x[k] + h * u[k] / std::sqrt(n2));
    }
    return pts;
}

// Number of probes at distance h from x (probes_around) whose energy, by the naive double
// oracle, is NOT above E(x): 0 for a strict local minimum (h below its margin to the boundary).
int probes_not_above(const std::vector<double>& mem,
                     std::int64_t d,
                     const std::vector<double>& x,
                     const energy_params& p,
                     double h,
                     std::uint64_t seed) {
    const auto M = static_cast<std::int64_t>(mem.size()) / d;
    const auto pts = probes_around(mem, d, x, h, 8, seed);
    const auto B = static_cast<std::int64_t>(pts.size()) / d;
    const double e0 = oracle::evaluate(mem, M, x, 1, d, p).energy[0];
    const auto e = oracle::evaluate(mem, M, pts, B, d, p).energy;
    return static_cast<int>(std::count_if(e.begin(), e.end(), [&](double v) { return !(v > e0); }));
}

// The example: {0, 2} at beta = 0.5, R = sqrt(2 / beta) = 2. From 0 the iteration
// stops at x = 0 with S = {0}, and the memory at 2 is exactly on the boundary (q = 1: outside
// S by the strict rule) but the energy falls towards it at first order; the only minimum is 1.
TEST(LsrFixedPoint, BoundaryMemoryIsNotAMinimum1d) {
    const std::vector<double> mem = {0, 2};
    const auto p = make(kernel_kind::lsr, 0.5);
    // The oracles: one minimum, at 1; E(0.001) < E(0) and E(1.999) < E(2).
    const auto mins = enumerated_minima(mem, 1, 0.5);
    ASSERT_EQ(mins.size(), 1u);
    EXPECT_EQ(mins.begin()->second, (std::vector<double>{1.0}));
    const auto e = oracle::evaluate(mem, 2, {0.0, 0.001, 2.0, 1.999}, 4, 1, p).energy;
    EXPECT_LT(e[1], e[0]);
    EXPECT_LT(e[3], e[2]);

    const std::vector<double> q = {0.0, -0.5, 2.5, 1.3};
    auto check = [&](const auto& r, const char* what) {
        SCOPED_TRACE(what);
        EXPECT_EQ(
            status_names(r),
            (std::vector<std::string>{"not-minimum", "not-minimum", "not-minimum", "converged"}));
        EXPECT_EQ(r.status[0], retrieval_status::not_minimum);
        const std::vector<double> states(r.states.begin(), r.states.end());
        EXPECT_EQ(states, (std::vector<double>{0.0, 0.0, 2.0, 1.0}));
        // Support and energy are those of the state returned (the boundary memory is outside).
        EXPECT_EQ(support_of(r, 0), (std::vector<std::int64_t>{0}));
        EXPECT_EQ(support_of(r, 2), (std::vector<std::int64_t>{1}));
        EXPECT_EQ(support_of(r, 3), (std::vector<std::int64_t>{0, 1}));
        EXPECT_EQ(r.energy[0], 0.0);  // -(1/beta) log 1
        EXPECT_EQ(r.steps[0], 2);
    };
    check(fp(mem, 1, q, p), "double");
    check(fp32(mem, 1, q, p), "float");
}

// A tangent case in 2-D: {(1,0), (-1,0), (3,4)} at beta = 0.08, R = 5. From (-0.5,-0.5) the
// iteration stops at (0,0) = mean of the first two, and (3,4) is at distance exactly 5
// ((beta/2) * 25 == 1 in double). From near (3,4) it reaches the true minimum (1, 4/3).
TEST(LsrFixedPoint, TangentMemoryIsNotAMinimum2d) {
    const std::vector<double> mem = {1, 0, -1, 0, 3, 4};
    const auto p = make(kernel_kind::lsr, 0.08);
    ASSERT_EQ(0.5 * p.beta * 25.0, 1.0);
    const auto mins = enumerated_minima(mem, 2, 0.08);
    EXPECT_EQ(mins.count({0, 1}), 0u);  // (0,0) is no minimum
    ASSERT_EQ(mins.count({0, 1, 2}), 1u);
    const auto e = oracle::evaluate(mem, 3, {0.0, 0.0, 0.6e-3, 0.8e-3}, 2, 2, p).energy;
    EXPECT_LT(e[1], e[0]);  // downhill towards (3,4)

    const std::vector<double> q = {-0.5, -0.5, 0.2, -0.3, 3.1, 4.0};
    auto check = [&](const auto& r, const char* what) {
        SCOPED_TRACE(what);
        EXPECT_EQ(r.status[0], retrieval_status::not_minimum);
        EXPECT_EQ(r.status[1], retrieval_status::not_minimum);
        EXPECT_EQ(r.status[2], retrieval_status::converged);
        for (int i : {0, 1}) {
            EXPECT_EQ(r.states[2 * i], 0.0);
            EXPECT_EQ(r.states[2 * i + 1], 0.0);
            EXPECT_EQ(support_of(r, i), (std::vector<std::int64_t>{0, 1}));
        }
        EXPECT_EQ(support_of(r, 2), (std::vector<std::int64_t>{0, 1, 2}));
        EXPECT_NEAR(r.states[4], 1.0, 1e-7);
        EXPECT_NEAR(r.states[5], 4.0 / 3.0, 1e-7);
    };
    check(fp(mem, 2, q, p), "double");
    check(fp32(mem, 2, q, p), "float");
}

// For T = float the state returned is mean(S) rounded to float, and rounding can move a memory
// across the boundary. {2, 2, 3, nu} at beta = 0.5 (R = 2), nu = 0.3333333134651184 (a float):
// in double the iteration from 3 converges at 7/3 with S = {0, 1, 2} and nu just outside
// (q = 1 + 2e-8), but float(7/3) = 2.3333332538604736 has nu inside (q = 1 - 6e-8). The float
// result must not claim a minimum; its support and energy are those of the float state.
TEST(LsrFixedPoint, FloatRoundingAcrossTheBoundaryIsNotAMinimum) {
    const double nu = 0.3333333134651184;
    ASSERT_EQ(static_cast<double>(static_cast<float>(nu)), nu);
    const std::vector<double> mem = {2, 2, 3, nu};
    const auto p = make(kernel_kind::lsr, 0.5);
    const auto d = fp(mem, 1, {3.0}, p);
    EXPECT_EQ(d.status[0], retrieval_status::converged);
    EXPECT_EQ(d.states[0], 7.0 / 3.0);
    EXPECT_EQ(support_of(d, 0), (std::vector<std::int64_t>{0, 1, 2}));
    const auto f = fp32(mem, 1, {3.0}, p);
    EXPECT_EQ(f.status[0], retrieval_status::not_minimum);
    EXPECT_EQ(f.states[0], static_cast<float>(7.0 / 3.0));
    EXPECT_EQ(support_of(f, 0), (std::vector<std::int64_t>{0, 1, 2, 3}));
    const double e =
        oracle::evaluate(mem, 4, {static_cast<double>(f.states[0])}, 1, 1, p).energy[0];
    EXPECT_NEAR(f.energy[0], e, 1e-6 * std::abs(e));
}

// Property: integer patterns in 1-D at beta = 0.5 (R = 2) give many fixed points with a
// pattern exactly on the boundary (and every tie is exact in double: it needs an integer mean;
// other distances miss R by at least 1/|S|). In double and float, every query reported
// converged is a strict local minimum by two independent oracles — the exact enumerator lists
// its support at that position, and the naive energy rises on both sides — and every query
// reported not_minimum has the energy falling on one side. Before issue 9's fix the ties were
// reported converged.
TEST(LsrFixedPoint, ConvergedIffStrictMinimumOnIntegerPatterns) {
    const auto p = make(kernel_kind::lsr, 0.5);
    int converged = 0, not_minimum = 0;
    for (std::uint64_t seed = 0; seed < 24; ++seed) {
        std::mt19937_64 rng(seed);
        const int M = 2 + static_cast<int>(seed % 7);
        std::uniform_int_distribution<int> pos(0, 8);
        std::vector<double> mem(static_cast<std::size_t>(M));
        for (auto& v : mem) v = pos(rng);
        const auto mins = enumerated_minima(mem, 1, p.beta);
        const auto q = oracle::uniform(200, seed + 100, -2.5, 10.5);
        auto check = [&](const auto& r, const char* what) {
            for (std::size_t i = 0; i < q.size(); ++i) {
                SCOPED_TRACE(::testing::Message() << what << " seed " << seed << " query " << i);
                const std::vector<double> x = {static_cast<double>(r.states[i])};
                if (r.status[i] == retrieval_status::converged) {
                    ++converged;
                    const auto it = mins.find(support_of(r, i));
                    ASSERT_TRUE(it != mins.end()) << "not an enumerated minimum: x = " << x[0];
                    EXPECT_NEAR(x[0], it->second[0], 1e-6);
                    EXPECT_EQ(probes_not_above(mem, 1, x, p, 1e-3, seed), 0) << "x = " << x[0];
                } else if (r.status[i] == retrieval_status::not_minimum) {
                    ++not_minimum;
                    EXPECT_GT(probes_not_above(mem, 1, x, p, 1e-3, seed), 0) << "x = " << x[0];
                } else {
                    EXPECT_EQ(r.status[i], retrieval_status::out_of_support);
                }
            }
        };
        check(fp(mem, 1, q, p), "double");
        check(fp32(mem, 1, q, p), "float");
    }
    EXPECT_GT(converged, 4000);
    EXPECT_GT(not_minimum, 500);
}

// Property on generic random sets in 2-D and 5-D, double and float: every converged state is
// an enumerated minimum (same support, same position) and the naive energy rises around it in
// every probed direction.
TEST(LsrFixedPoint, ConvergedStatesAreEnumeratedStrictMinima) {
    for (std::int64_t d : {2, 5}) {
        const auto s = make_set(24, d, 150, 40 + d);
        const double beta = 24.0 / d;
        const auto p = make(kernel_kind::lsr, beta);
        // float: the memories rounded to float are another set; enumerate that one.
        std::vector<double> mf(s.mem.size());
        for (std::size_t k = 0; k < mf.size(); ++k) mf[k] = static_cast<float>(s.mem[k]);
        auto check =
            [&](const auto& r, const std::vector<double>& mem, const char* what, double tol) {
                const auto mins = enumerated_minima(mem, d, beta);
                int converged = 0;
                for (std::size_t i = 0; i < 150; ++i) {
                    if (r.status[i] != retrieval_status::converged) continue;
                    SCOPED_TRACE(::testing::Message() << what << " d " << d << " query " << i);
                    ++converged;
                    const auto it = mins.find(support_of(r, i));
                    ASSERT_TRUE(it != mins.end()) << "not an enumerated minimum";
                    std::vector<double> x(static_cast<std::size_t>(d));
                    for (std::int64_t k = 0; k < d; ++k) {
                        x[k] = r.states[i * d + k];
                        EXPECT_NEAR(x[k], it->second[k], tol);
                    }
                    EXPECT_EQ(probes_not_above(mem, d, x, p, 1e-5, i), 0);
                }
                EXPECT_GT(converged, 80) << what;
            };
        check(fp(s.mem, d, s.q, p), s.mem, "double", 1e-14);
        check(fp32(mf, d, s.q, p), mf, "float", 1e-6);
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

namespace {

// Forces the lane width of the small-set descent for a scope. The automatic choice runs only
// one of its two builds on a given CPU (32 lanes where it has AVX-512, else 8).
struct forced_lanes {
    explicit forced_lanes(int lanes) { detail::set_lane_width_override(lanes); }
    ~forced_lanes() { detail::set_lane_width_override(0); }
    forced_lanes(const forced_lanes&) = delete;
    forced_lanes& operator=(const forced_lanes&) = delete;
};

// The lane widths this build and CPU can run: 8 always, 32 with the AVX-512 build.
std::vector<int> lane_widths() {
    std::vector<int> w = {8};
    if (detail::wide_lanes_available()) w.push_back(32);
    return w;
}

}  // namespace

TEST(LaneDescent, WidthOverrideIsCheckedAndReset) {
    const int automatic = detail::wide_lanes_available() ? 32 : 8;
    EXPECT_EQ(detail::lane_width(), automatic);
    {
        forced_lanes f(8);
        EXPECT_EQ(detail::lane_width(), 8);
    }
    EXPECT_EQ(detail::lane_width(), automatic);
    expect_invalid([] { detail::set_lane_width_override(16); }, "lane width must be 0");
    if (!detail::wide_lanes_available())
        expect_invalid([] { detail::set_lane_width_override(32); }, "lane width 32 needs");
    EXPECT_EQ(detail::lane_width(), automatic);
}

// Both builds of the small-set descent, forced in turn (the 8-lane one is otherwise never run
// on an AVX-512 CPU, and the 32-lane one only there), against the naive loop over the oracle's
// gradient (as BothPathsMatchANaiveLoop) and against each other: float64 (1e-10), float32
// states, and a float32 gradient with float64 states (gradient_precision::single). 300 queries
// are several work items of 8 lanes, each lane taking query after query; the large-beta case
// keeps neighbour lists and rebuilds them (as NeighbourListsMatchTheFullSum).
TEST(LaneDescent, EveryLaneWidthFollowsTheNaiveLoop) {
    const std::int64_t B = 300, steps = 40;
    for (auto [k, M, d, beta, lr, spread] :
         {std::tuple<kernel_kind, std::int64_t, std::int64_t, double, double, double>{
              kernel_kind::lse, 30, 3, 30.0, 0.01, 0.0},
          {kernel_kind::quartic, 30, 3, 8.0, 0.01, 0.0},  // every query in some support
          {kernel_kind::lse, 25, 8, 9.0, 0.05, 0.0},
          {kernel_kind::lse, 200, 3, 2000.0, 0.05, 0.1}}) {
        const auto mem = oracle::uniform(M * d, 61);
        const auto q = spread > 0.0 ? near_patterns(mem, d, B, spread, 62)
                                    : oracle::uniform(B * d, 62, 0.2, 0.8);
        const auto p = make(k, beta);
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = steps;
        o.tol = 0;
        o.step_size = schedule::cosine(lr, 1e-3 * lr);
        // The naive loops: float64 states, and float32 states (the oracle's gradient in double).
        auto x = q;
        std::vector<float> xf(q.begin(), q.end());
        for (std::int64_t t = 0; t < steps; ++t) {
            const double a = o.step_size.at(t, steps);
            const auto ref = oracle::evaluate(mem, M, x, B, d, p);
            for (std::int64_t j = 0; j < B * d; ++j) x[j] -= a * ref.grad[j];
            const auto ref_f =
                oracle::evaluate(mem, M, std::vector<double>(xf.begin(), xf.end()), B, d, p);
            for (std::int64_t j = 0; j < B * d; ++j)
                xf[j] = static_cast<float>(xf[j] - a * ref_f.grad[j]);
        }
        std::vector<double> first_d, first_s;
        std::vector<float> first_f;
        for (int lanes : lane_widths()) {
            forced_lanes f(lanes);
            const auto what = std::string(to_string(k)) + " beta " + std::to_string(beta) + ", " +
                              std::to_string(lanes) + " lanes";
            o.precision = gradient_precision::state;
            const auto got_d = fp(mem, d, q, p, o);
            const auto got_f = fp32(mem, d, q, p, o);
            o.precision = gradient_precision::single;
            const auto got_s = fp(mem, d, q, p, o);
            for (std::int64_t i = 0; i < B; ++i) {
                ASSERT_EQ(got_d.status[i], retrieval_status::max_steps) << what;
                ASSERT_EQ(got_f.status[i], retrieval_status::max_steps) << what;
                ASSERT_EQ(got_s.status[i], retrieval_status::max_steps) << what;
            }
            for (std::int64_t j = 0; j < B * d; ++j) {
                ASSERT_NEAR(got_d.states[j], x[j], 1e-10) << what;
                ASSERT_NEAR(got_s.states[j], x[j], 1e-6) << what;
                ASSERT_NEAR(got_f.states[j], xf[j], 1e-5) << what;
            }
            if (first_d.empty()) {
                first_d = got_d.states;
                first_s = got_s.states;
                first_f = got_f.states;
                continue;
            }
            for (std::int64_t j = 0; j < B * d; ++j) {
                ASSERT_NEAR(got_d.states[j], first_d[j], 1e-10) << what;
                ASSERT_NEAR(got_s.states[j], first_s[j], 1e-6) << what;
                ASSERT_NEAR(got_f.states[j], first_f[j], 1e-5) << what;
            }
        }
    }
}

// Early stopping at both widths: the lanes hold queries at different steps of the schedules
// (step size and beta), refilled as queries stop. Every width must stop each query with the
// same status, at the same step (or one apart: a gradient within rounding of tol, as in
// QueriesStoppingAtDifferentStepsFollowTheirOwnLoops, which checks the automatic width against
// the naive loop) and in the same state as the 8-lane build; in float64, float32 and with a
// float32 gradient.
TEST(LaneDescent, EveryLaneWidthStopsEachQueryAtTheSameStep) {
    const std::int64_t M = 30, d = 3, B = 200;
    const auto mem = oracle::uniform(M * d, 71);
    const auto q = oracle::uniform(B * d, 72, -0.2, 1.2);
    for (bool beta_schedule : {false, true}) {
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = 3000;
        o.tol = 1e-5;
        o.step_size = schedule::cosine(0.3, 0.003);
        if (beta_schedule) o.beta = schedule::cosine(40.0, 10.0);
        const auto p = make(kernel_kind::lse, 40.0);
        std::vector<retrieve_result<double>> first_d, first_s;
        std::vector<retrieve_result<float>> first_f;
        for (int lanes : lane_widths()) {
            forced_lanes f(lanes);
            o.precision = gradient_precision::state;
            const auto got_d = fp(mem, d, q, p, o);
            const auto got_f = fp32(mem, d, q, p, o);
            o.precision = gradient_precision::single;
            const auto got_s = fp(mem, d, q, p, o);
            const std::set<std::int64_t> distinct(got_d.steps.begin(), got_d.steps.end());
            EXPECT_GT(distinct.size(), 20u) << lanes << " lanes";  // lanes at different steps
            if (first_d.empty()) {
                first_d.push_back(got_d);
                first_s.push_back(got_s);
                first_f.push_back(got_f);
                continue;
            }
            const auto same = [&](const auto& got, const auto& ref, double tol, const char* what) {
                for (std::int64_t i = 0; i < B; ++i) {
                    EXPECT_EQ(got.status[i], ref.status[i]) << what << " query " << i;
                    EXPECT_NEAR(
                        static_cast<double>(got.steps[i]), static_cast<double>(ref.steps[i]), 1.0)
                        << what << " query " << i;
                    for (std::int64_t k = 0; k < d; ++k)
                        EXPECT_NEAR(got.states[i * d + k], ref.states[i * d + k], tol)
                            << what << " query " << i << ", " << lanes << " lanes";
                }
            };
            same(got_d, first_d[0], 1e-9, "float64");
            same(got_s, first_s[0], 1e-6, "single");
            same(got_f, first_f[0], 1e-5, "float32");
        }
    }
}
