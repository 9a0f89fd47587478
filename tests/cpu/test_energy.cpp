// SPDX-License-Identifier: MIT
// Energies and gradients of every kernel against the naive oracle, finite differences, the
// worked examples of paper.md section 7, bad input, and thread-count independence.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <thread>
#include <tuple>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/error.hpp"
#include "engine/sums.hpp"
#include "engine/tile_engine.hpp"
#include "engine/validate.hpp"
#include "expect.hpp"
#include "kernels/policies.hpp"
#include "oracle.hpp"

using denseam::energy_params;
using denseam::energy_status;
using denseam::kernel_kind;
using denseam::make_matrix_view;
using denseam::q_kind;

namespace {

template <class T>
struct computed {
    std::vector<T> e, g;
    std::vector<energy_status> st;
};

template <class T>
computed<T> run(const std::vector<double>& mem,
                std::int64_t M,
                const std::vector<double>& q,
                std::int64_t B,
                std::int64_t d,
                const energy_params& p,
                int threads = 0) {
    std::vector<T> mt(mem.begin(), mem.end()), qt(q.begin(), q.end());
    computed<T> c{std::vector<T>(B), std::vector<T>(B * d), std::vector<energy_status>(B)};
    denseam::exec_options ex;
    ex.n_threads = threads;
    denseam::energy_and_grad(make_matrix_view<const T>(mt.data(), M, d),
                             make_matrix_view<const T>(qt.data(), B, d),
                             p,
                             std::span<T>(c.e),
                             make_matrix_view(c.g.data(), B, d),
                             std::span(c.st),
                             ex);
    return c;
}

// Test data: memories uniform in [0,1)^d; queries = a random memory + N(0, sigma^2) noise,
// so that compact kernels see zero, one and several supporting memories.
struct problem {
    std::int64_t B, M, d;
    std::vector<double> mem, q;
};

problem make_problem(
    std::int64_t B, std::int64_t M, std::int64_t d, std::uint64_t seed, double sigma) {
    problem pr{B, M, d, oracle::uniform(M * d, seed), std::vector<double>(B * d)};
    std::mt19937_64 rng(seed + 1);
    std::normal_distribution<double> n01(0.0, 1.0);
    std::uniform_int_distribution<std::int64_t> pick(0, M - 1);
    for (std::int64_t b = 0; b < B; ++b) {
        const std::int64_t m = pick(rng);
        for (std::int64_t k = 0; k < d; ++k) pr.q[b * d + k] = pr.mem[m * d + k] + sigma * n01(rng);
    }
    return pr;
}

energy_params params_for(kernel_kind k, std::int64_t d) {
    energy_params p;
    p.kernel = k;
    // R^2 = d/6 is the mean squared distance of two uniform points: supports overlap often.
    p.beta = k == kernel_kind::poly ? 2.0 / d : 12.0 / d;
    return p;
}

// Tolerances: double 1e-10 and float 1e-4 relative, measured against the natural scale of each
// quantity: 1/beta for energies (E = -(1/beta) log Z moves by (1/beta) dZ/Z), and the largest
// single-memory gradient term for gradients (the sum may cancel to far below its terms).
template <class T>
constexpr double tol() {
    return sizeof(T) == 8 ? 1e-10 : 1e-4;
}

template <class T>
void expect_matches_oracle(const problem& pr, const energy_params& p) {
    const auto ref = oracle::evaluate(pr.mem, pr.M, pr.q, pr.B, pr.d, p);
    const auto got = run<T>(pr.mem, pr.M, pr.q, pr.B, pr.d, p);
    const bool log_q = denseam::resolved_q(p) == q_kind::log;
    int checked = 0;
    for (std::int64_t b = 0; b < pr.B; ++b) {
        SCOPED_TRACE("query " + std::to_string(b));
        if (std::isinf(ref.energy[b])) {
            EXPECT_TRUE(std::isinf(got.e[b]) && got.e[b] > 0);
            EXPECT_EQ(got.st[b], energy_status::unsupported);
            for (std::int64_t k = 0; k < pr.d; ++k) EXPECT_EQ(got.g[b * pr.d + k], T(0));
            continue;
        }
        ++checked;
        const double escale = log_q ? std::max(std::abs(ref.energy[b]), 1.0 / p.beta)
                                    : std::max(std::abs(ref.energy[b]), 1.0);
        EXPECT_LE(std::abs(got.e[b] - ref.energy[b]), tol<T>() * escale)
            << "E=" << got.e[b] << " oracle=" << ref.energy[b];
        const double gscale = std::max(ref.gscale[b], 1e-300);  // sum of |terms|
        for (std::int64_t k = 0; k < pr.d; ++k)
            ASSERT_LE(std::abs(got.g[b * pr.d + k] - ref.grad[b * pr.d + k]), tol<T>() * gscale)
                << "component " << k << " got " << got.g[b * pr.d + k] << " oracle "
                << ref.grad[b * pr.d + k];
    }
    EXPECT_GT(checked, 0);
}

const std::vector<kernel_kind> all_kernels = {kernel_kind::lse,
                                              kernel_kind::lsr,
                                              kernel_kind::triangle,
                                              kernel_kind::tophat,
                                              kernel_kind::cosine,
                                              kernel_kind::quartic,
                                              kernel_kind::triweight,
                                              kernel_kind::tricube,
                                              kernel_kind::poly};

// Shapes straddling the engine's tiles (QB = 512 queries, MT = 256, MC = 8192 memories).
const std::vector<std::tuple<int, int, int>> shapes = {
    {1, 1, 1}, {3, 255, 5}, {513, 257, 7}, {512, 256, 3}, {130, 8193, 2}, {17, 1025, 40}};

class EnergyOracle : public ::testing::TestWithParam<kernel_kind> {};

TEST_P(EnergyOracle, DoubleMatchesNaiveOracle) {
    for (auto [B, M, d] : shapes) {
        SCOPED_TRACE("B=" + std::to_string(B) + " M=" + std::to_string(M) +
                     " d=" + std::to_string(d));
        auto pr = make_problem(B, M, d, 1000 + B + M + d, 0.05);
        expect_matches_oracle<double>(pr, params_for(GetParam(), d));
    }
}

TEST_P(EnergyOracle, FloatMatchesNaiveOracle) {
    for (auto [B, M, d] : shapes) {
        SCOPED_TRACE("B=" + std::to_string(B) + " M=" + std::to_string(M) +
                     " d=" + std::to_string(d));
        auto pr = make_problem(B, M, d, 2000 + B + M + d, 0.05);
        // The oracle sees exactly the float-rounded inputs.
        for (auto& v : pr.mem) v = static_cast<float>(v);
        for (auto& v : pr.q) v = static_cast<float>(v);
        expect_matches_oracle<float>(pr, params_for(GetParam(), d));
    }
}

TEST_P(EnergyOracle, IdentityQAndEpsMatchOracle) {
    auto pr = make_problem(40, 700, 6, 77, 0.05);
    auto p = params_for(GetParam(), 6);
    p.q = q_kind::identity;
    p.eps = 0.25;
    expect_matches_oracle<double>(pr, p);
    p.q = q_kind::log;
    expect_matches_oracle<double>(pr, p);
}

// Central finite differences of the library's own energy, at points away from the support
// boundaries (where compact kernels are not differentiable).
TEST_P(EnergyOracle, GradientMatchesFiniteDifferences) {
    const kernel_kind k = GetParam();
    const std::int64_t M = 40, d = 3, B = 30;
    auto pr = make_problem(B, M, d, 5, 0.1);
    auto p = params_for(k, d);
    const double R = std::sqrt(2.0 / p.beta);
    const auto got = run<double>(pr.mem, M, pr.q, B, d, p);
    int checked = 0;
    for (std::int64_t b = 0; b < B; ++b) {
        if (!std::isfinite(got.e[b])) continue;
        bool near_kink = false;
        for (std::int64_t m = 0; m < M; ++m) {
            double d2 = 0;
            for (std::int64_t j = 0; j < d; ++j)
                d2 += std::pow(pr.q[b * d + j] - pr.mem[m * d + j], 2);
            const double t = std::sqrt(d2) / R;
            if (std::abs(t - 1) < 1e-2 || t < 1e-2) near_kink = true;
        }
        if (near_kink && k != kernel_kind::lse && k != kernel_kind::poly) continue;
        for (std::int64_t j = 0; j < d; ++j) {
            const double h = 1e-6;
            auto qp = pr.q, qm = pr.q;
            qp[b * d + j] += h;
            qm[b * d + j] -= h;
            const auto ep = run<double>(pr.mem, M, qp, B, d, p).e[b];
            const auto em = run<double>(pr.mem, M, qm, B, d, p).e[b];
            const double fd = (ep - em) / (2 * h);
            EXPECT_NEAR(got.g[b * d + j], fd, 1e-6 * std::max(1.0, std::abs(fd)))
                << "query " << b << " coordinate " << j;
        }
        ++checked;
    }
    EXPECT_GT(checked, 5);
}

INSTANTIATE_TEST_SUITE_P(AllKernels,
                         EnergyOracle,
                         ::testing::ValuesIn(all_kernels),
                         [](const auto& param_info) {
                             return std::string(denseam::to_string(param_info.param));
                         });

double energy1(const std::vector<double>& mem,
               std::int64_t d,
               std::vector<double> x,
               energy_params p,
               std::vector<double>* grad = nullptr,
               energy_status* st = nullptr) {
    auto c = run<double>(mem, static_cast<std::int64_t>(mem.size()) / d, x, 1, d, p);
    if (grad) *grad = c.g;
    if (st) *st = c.st[0];
    return c.e[0];
}

energy_params lsr(double beta, double eps = 0.0) {
    energy_params p;
    p.kernel = kernel_kind::lsr;
    p.beta = beta;
    p.eps = eps;
    return p;
}

// paper.md V1: 1-D pair {-1, +1}; E(0) = -(1/beta) log(2 - beta), E(+-1) = 0 for beta > 0.5.
TEST(WorkedExamples, V1Pair) {
    const std::vector<double> mem = {-1.0, 1.0};
    // paper.md lists -1.175017 for beta = 0.4; the formula it states gives -log(1.6)/0.4 =
    // -1.175009 (the other four values agree with the formula to the digits shown).
    const std::vector<std::pair<double, double>> cases = {
        {0.4, -1.175009}, {0.6, -0.560787}, {0.9, -0.105900}, {1.0, 0.0}, {1.5, 0.462098}};
    for (auto [beta, e0] : cases) {
        EXPECT_NEAR(energy1(mem, 1, {0.0}, lsr(beta)), e0, 5e-7) << "beta " << beta;
        EXPECT_NEAR(energy1(mem, 1, {0.0}, lsr(beta)), -std::log(2 - beta) / beta, 1e-12);
        if (beta > 0.5) {
            EXPECT_EQ(energy1(mem, 1, {1.0}, lsr(beta)), 0.0);
        }
    }
    // With Fig. 1's eps = 1e-6 the unsupported plateau at beta = 2.1 is 6.5788, gradient 0.
    std::vector<double> g;
    energy_status st;
    EXPECT_NEAR(energy1(mem, 1, {0.0}, lsr(2.1, 1e-6), &g, &st), 6.5788, 5e-5);
    EXPECT_EQ(g[0], 0.0);
    EXPECT_EQ(st, energy_status::unsupported);  // no memory supports x = 0 (eps only)
    // Without eps the same point is +inf, with a status and a zero gradient (never NaN).
    EXPECT_TRUE(std::isinf(energy1(mem, 1, {0.0}, lsr(2.1), &g, &st)));
    EXPECT_EQ(st, energy_status::unsupported);
    EXPECT_EQ(g[0], 0.0);
}

// paper.md V3: equilateral triangle of side 2 at beta = 1.1.
TEST(WorkedExamples, V3Triangle) {
    const double s3 = std::sqrt(3.0);
    const std::vector<double> mem = {-1, 0, 1, 0, 0, -s3};
    std::vector<double> g;
    EXPECT_NEAR(energy1(mem, 2, {-1, 0}, lsr(1.1), &g), 0.0, 1e-15);
    EXPECT_NEAR(energy1(mem, 2, {0, 0}, lsr(1.1), &g), 0.0957823, 5e-8);
    EXPECT_NEAR(std::hypot(g[0], g[1]), 0.0, 1e-14);
    EXPECT_NEAR(energy1(mem, 2, {0, -1 / s3}, lsr(1.1), &g), 0.2028578, 5e-8);
    EXPECT_NEAR(std::hypot(g[0], g[1]), 0.0, 1e-14);
}

// paper.md V5: single-step retrieval; E(x) = 0.575364, grad = (0.8, 1.066667), and one step of
// size eps + kernel value (0.75) lands exactly on the stored pattern.
TEST(WorkedExamples, V5SingleStep) {
    const std::vector<double> mem = {0, 0, 3, 0, 0, 4};
    std::vector<double> g;
    EXPECT_NEAR(energy1(mem, 2, {0.6, 0.8}, lsr(0.5), &g), 0.575364, 5e-7);
    EXPECT_NEAR(g[0], 0.8, 1e-12);
    EXPECT_NEAR(g[1], 1.066667, 5e-7);
    EXPECT_NEAR(0.6 - 0.75 * g[0], 0.0, 1e-12);
    EXPECT_NEAR(0.8 - 0.75 * g[1], 0.0, 1e-12);
}

// A memory at distance exactly R is outside the support (zero weight).
TEST(BoundaryRule, MemoryAtExactlyRIsOutside) {
    energy_status st;
    std::vector<double> g;
    // beta = 2 -> R = 1.
    EXPECT_TRUE(std::isinf(energy1({1.0}, 1, {0.0}, lsr(2.0), &g, &st)));
    EXPECT_EQ(st, energy_status::unsupported);
    // Just inside: supported.
    EXPECT_TRUE(std::isfinite(energy1({std::nextafter(1.0, 0.0)}, 1, {0.0}, lsr(2.0), &g, &st)));
}

// In float, a pair 1e-6 (relative) inside the boundary is decided exactly even where the GEMM
// expansion ||x||^2 - 2 x.xi + ||xi||^2 cannot resolve it.
TEST(BoundaryRule, FloatDecidedInDoubleNearBoundary) {  // NOLINT
    const std::int64_t d = 64;
    auto base = oracle::uniform(d, 9, 5.0, 6.0);  // large norms: strong cancellation
    std::vector<float> x(base.begin(), base.end());
    std::vector<float> mem(2 * d);
    std::mt19937_64 rng(3);
    std::normal_distribution<double> n01;
    std::vector<double> dir(d);
    double nrm = 0;
    for (auto& v : dir) {
        v = n01(rng);
        nrm += v * v;
    }
    for (auto& v : dir) v /= std::sqrt(nrm);
    for (std::int64_t k = 0; k < d; ++k) {
        mem[k] = static_cast<float>(x[k] + 0.7 * dir[k]);
        mem[d + k] = static_cast<float>(x[k] + 0.3 * dir[k]);
    }
    // Exact double distance of the first memory (after rounding to float); R^2 just above it.
    double d2 = 0;
    for (std::int64_t k = 0; k < d; ++k) d2 += std::pow(double(mem[k]) - double(x[k]), 2);
    for (double rel : {1 + 1e-6, 1 - 1e-6}) {
        energy_params p = lsr(2.0 / (d2 * rel));
        std::vector<float> e(1), g(d);
        std::vector<energy_status> st(1);
        denseam::energy_and_grad(make_matrix_view<const float>(mem.data(), 2, d),
                                 make_matrix_view<const float>(x.data(), 1, d),
                                 p,
                                 std::span(e),
                                 make_matrix_view(g.data(), 1, d),
                                 std::span(st));
        // Oracle in double on the same float data.
        std::vector<double> md(mem.begin(), mem.end()), xd(x.begin(), x.end());
        auto ref = oracle::evaluate(md, 2, xd, 1, d, p);
        // Norms here are ~60x the distances, so float GEMM distances carry a cancellation error
        // of about eps_f (beta/2)(|x|^2 + |xi|^2) in each q (how much depends on the BLAS
        // kernel's summation order): the energy and the gradient are only that accurate (8x
        // margin); the support decision is exact.
        double cancel = 0.0;
        for (std::int64_t j = 0; j < 2; ++j)
            for (std::int64_t k = 0; k < d; ++k)
                cancel += 0.5 * p.beta * std::numeric_limits<float>::epsilon() *
                          (double(x[k]) * x[k] + double(mem[j * d + k]) * mem[j * d + k]);
        const double z_ref = std::exp(-p.beta * ref.energy[0]);
        EXPECT_NEAR(e[0], ref.energy[0], 8 * cancel / (p.beta * z_ref)) << "rel " << rel;
        // Inside the boundary the first memory contributes 1 - q > 0 to Z, outside nothing; the
        // gradient weight (count of supporting memories) tells which side was chosen.
        double gx = 0, gref = 0;
        for (std::int64_t k = 0; k < d; ++k) {
            gx += g[k] * dir[k];
            gref += ref.grad[k] * dir[k];
        }
        // The two sides differ by a factor of about 3 (support count 2 vs 1 over Z).
        EXPECT_NEAR(gx, gref, 8 * cancel / z_ref * std::abs(gref)) << "rel " << rel;
        EXPECT_LT(8 * cancel / z_ref, 0.5);
    }
}

TEST(Stability, LseFarQueriesStayFinite) {
    // All squared distances ~ 1e4 * beta: a naive sum of exp underflows to 0 (E = +inf).
    std::vector<double> mem = {0.0, 1.0, 2.0}, q = {150.0};
    energy_params p;
    p.kernel = kernel_kind::lse;
    p.beta = 1.0;
    auto ref = oracle::evaluate(mem, 3, q, 1, 1, p);
    auto got = run<double>(mem, 3, q, 1, 1, p);
    EXPECT_TRUE(std::isfinite(got.e[0]));
    EXPECT_NEAR(got.e[0], ref.energy[0], 1e-10 * std::abs(ref.energy[0]));
    EXPECT_NEAR(got.g[0], ref.grad[0], 1e-10 * std::abs(ref.grad[0]));
    auto gotf = run<float>(mem, 3, q, 1, 1, p);
    EXPECT_NEAR(gotf.e[0], ref.energy[0], 1e-4 * std::abs(ref.energy[0]));
}

TEST(Threads, ResultsIdenticalForOneAndTwoThreads) {
    // The second shape has one memory chunk: with one thread per item OpenBLAS would otherwise
    // thread the tile GEMMs itself when denseam's own team has a single thread.
    for (auto [kk, M] :
         {std::pair{0, 20000}, std::pair{1, 3000}, std::pair{2, 3000}, std::pair{0, 3000}}) {
        const kernel_kind k = std::array{kernel_kind::lse, kernel_kind::lsr, kernel_kind::poly}[kk];
        auto pr = make_problem(300, M, 16, 11, 0.05);
        auto p = params_for(k, 16);
        auto a = run<float>(pr.mem, pr.M, pr.q, pr.B, pr.d, p, 1);
        auto b = run<float>(pr.mem, pr.M, pr.q, pr.B, pr.d, p, 2);
        EXPECT_EQ(a.e, b.e) << denseam::to_string(k);
        EXPECT_EQ(a.g, b.g) << denseam::to_string(k);
        auto c = run<double>(pr.mem, pr.M, pr.q, pr.B, pr.d, p, 1);
        auto e = run<double>(pr.mem, pr.M, pr.q, pr.B, pr.d, p, 2);
        EXPECT_EQ(c.e, e.e);
        EXPECT_EQ(c.g, e.g);
    }
}

// Error paths: the exception type and a message fragment naming what is wrong.
TEST(Threads, ConcurrentCallsFromSeveralThreadsMatchSerial) {
    // Four threads each making single-threaded calls at once (issue 9 item 1): every result is the
    // serial one, bit for bit. A team of one used to change OpenBLAS's global thread count, which
    // freed the buffers of GEMMs other threads were running.
    auto pr = make_problem(700, 3000, 16, 21, 0.05);
    for (kernel_kind k : {kernel_kind::lsr, kernel_kind::cosine, kernel_kind::lse}) {
        auto p = params_for(k, 16);
        const auto ref = run<double>(pr.mem, pr.M, pr.q, pr.B, pr.d, p, 1);
        std::atomic<int> mismatches{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                for (int c = 0; c < 8; ++c) {
                    const auto got = run<double>(pr.mem, pr.M, pr.q, pr.B, pr.d, p, t == 3 ? 2 : 1);
                    if (got.e != ref.e || got.g != ref.g) ++mismatches;
                }
            });
        for (auto& th : threads) th.join();
        EXPECT_EQ(mismatches.load(), 0) << denseam::to_string(k);
    }
}

TEST(EnergyErrors, BadInputIsRejectedWithAMessage) {
    std::vector<double> mem = {0, 1, 2, 3}, q = {0.5, 0.5};
    std::vector<double> e(1), g(2);
    auto call = [&](std::vector<double> m,
                    std::int64_t M,
                    std::int64_t dm,
                    std::vector<double> x,
                    std::int64_t dq,
                    energy_params p) {
        std::vector<double> out(x.size() / std::max<std::int64_t>(dq, 1));
        denseam::energy(
            make_matrix_view<const double>(m.data(), M, dm),
            make_matrix_view<const double>(x.data(), static_cast<std::int64_t>(out.size()), dq),
            p,
            std::span(out));
    };
    expect_invalid([&] { call({}, 0, 2, q, 2, lsr(1)); }, "memory set is empty");
    expect_invalid([&] { call(mem, 2, 2, {0.5, 0.5, 0.5}, 3, lsr(1)); }, "dimension 3");
    expect_invalid(
        [&] {
            call(mem, 2, 2, {NAN, 0.5}, 2, lsr(1));
        },
        "queries contains a non-finite");
    expect_invalid([&] { call({0, INFINITY, 2, 3}, 2, 2, q, 2, lsr(1)); }, "memories contains");
    expect_invalid([&] { call(mem, 2, 2, q, 2, lsr(0)); }, "beta must be finite and > 0");
    expect_invalid([&] { call(mem, 2, 2, q, 2, lsr(-1)); }, "beta");
    expect_invalid([&] { call(mem, 2, 2, q, 2, lsr(NAN)); }, "beta");
    expect_invalid([&] { call(mem, 2, 2, q, 2, lsr(INFINITY)); }, "beta");
    expect_invalid([&] { call(mem, 2, 2, q, 2, lsr(1, -1)); }, "eps");
    energy_params p = lsr(1);
    p.kernel = kernel_kind::poly;
    p.degree = 0;
    expect_invalid([&] { call(mem, 2, 2, q, 2, p); }, "degree");
    expect_invalid([&] { denseam::parse_kernel("gauss"); }, "unknown kernel 'gauss'");
    expect_invalid(
        [&] {
            std::vector<double> out(3);
            denseam::energy(make_matrix_view<const double>(mem.data(), 2, 2),
                            make_matrix_view<const double>(q.data(), 1, 2),
                            lsr(1),
                            std::span(out));
        },
        "energy output has 3 entries");
}

TEST(Interrupt, CallbackStopsTheCall) {
    auto pr = make_problem(1000, 20000, 8, 1, 0.05);
    std::vector<double> e(1000);
    denseam::exec_options ex;
    ex.interrupt = [] { return true; };
    EXPECT_THROW(denseam::energy(make_matrix_view<const double>(pr.mem.data(), pr.M, pr.d),
                                 make_matrix_view<const double>(pr.q.data(), pr.B, pr.d),
                                 lsr(1.0),
                                 std::span(e),
                                 {},
                                 ex),
                 denseam::interrupted);
}

TEST(ExpPolynomial, MatchesStdExpWithinTwoUlp) {
    // The branch-free exp used by the engine's epilogue, across its whole range.
    for (double x = -708.0; x <= 0; x += 0.0137) {
        const double ref = std::exp(x);
        EXPECT_NEAR(denseam::detail::exp_nonpositive(x), ref, 4e-16 * ref) << x;
    }
    for (float x = -87.0f; x <= 0; x += 0.00731f) {
        const double ref = std::exp(static_cast<double>(x));
        EXPECT_NEAR(denseam::detail::exp_nonpositive(x), ref, 2.5e-7 * ref) << x;
    }
    EXPECT_EQ(denseam::detail::exp_nonpositive(-1000.0), 0.0);
    EXPECT_EQ(denseam::detail::exp_nonpositive(-100.0f), 0.0f);
    EXPECT_EQ(denseam::detail::exp_nonpositive(0.0), 1.0);
}

}  // namespace

// The input scan (one vectorised pass: max |x|, NaN and infinities) against naive loops: every
// position of a row whose length is not a multiple of any vector width, in float and double,
// with a row stride larger than the row (the padding holds a NaN that must not count).
template <class T>
void check_input_scan() {
    const T nan = std::numeric_limits<T>::quiet_NaN(), inf = std::numeric_limits<T>::infinity();
    const std::int64_t rows = 3, cols = 37, ld = 40;
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u(-5.0, 5.0);
    std::vector<T> a(static_cast<std::size_t>(rows * ld));
    for (auto& v : a) v = static_cast<T>(u(rng));
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = cols; j < ld; ++j) a[static_cast<std::size_t>(i * ld + j)] = nan;
    const denseam::matrix_view<const T> m(a.data(), rows, cols, ld);
    double naive = 0.0;
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
            naive = std::max(
                naive, std::abs(static_cast<double>(a[static_cast<std::size_t>(i * ld + j)])));
    EXPECT_EQ(denseam::detail::max_abs(m), naive);
    EXPECT_EQ(denseam::detail::check_memories_queries(m, m), naive);
    for (std::int64_t i = 0; i < rows; ++i)
        for (std::int64_t j = 0; j < cols; ++j)
            for (T bad : {nan, inf, -inf}) {
                auto& slot = a[static_cast<std::size_t>(i * ld + j)];
                const T keep = slot;
                slot = bad;
                const double got = denseam::detail::max_abs(m);
                if (bad != bad)
                    EXPECT_TRUE(std::isnan(got)) << i << ", " << j;
                else
                    EXPECT_EQ(got, std::numeric_limits<double>::infinity()) << i << ", " << j;
                expect_invalid([&] { denseam::detail::check_memories_queries(m, m); },
                               "memories contains a non-finite value (" +
                                   std::to_string(static_cast<double>(bad)) + ") at row " +
                                   std::to_string(i) + ", column " + std::to_string(j));
                slot = keep;
            }
}

TEST(Validation, InputScanFindsTheLargestAndEveryNonFiniteEntry) {
    check_input_scan<float>();
    check_input_scan<double>();
}

// ---- the sums of a shard of the memories, merged (what the MPI-sharded memory exchanges) ----

TEST(Sums, ShardsMergedInOrderEqualTheWholeSetAndTheNaiveOracle) {
    // Memories split into uneven shards, one of them empty; each shard's sums from the engine,
    // merged in shard order and finished, against the naive oracle (1e-12) and, for one shard,
    // against the engine on the whole set (bit for bit: the merge of one part is the identity).
    const std::int64_t M = 301, B = 9, d = 5;
    const auto mem = oracle::uniform(M * d, 11, -1, 1), qry = oracle::uniform(B * d, 12, -1, 1);
    const std::vector<std::int64_t> cuts = {0, 120, 120, 250, 301};  // shard 1 is empty
    for (auto k : {kernel_kind::lse, kernel_kind::lsr, kernel_kind::cosine, kernel_kind::poly}) {
        energy_params p = oracle::make(k, k == kernel_kind::poly ? 2.0 : 1.5);
        if (k == kernel_kind::poly) p.degree = 3;
        if (k == kernel_kind::lsr) p.eps = 0.25;
        const auto [exp_type, distance] = denseam::detail::sums_traits(k);
        const auto want = oracle::evaluate(mem, M, qry, B, d, p);
        const auto qv = make_matrix_view<const double>(qry.data(), B, d);
        for (std::size_t n_parts : {std::size_t{1}, cuts.size() - 1}) {
            struct part {
                std::vector<double> shift, z, sw, g;
            };
            std::vector<part> parts(n_parts);
            for (std::size_t s = 0; s < n_parts; ++s) {
                const std::int64_t m0 = n_parts == 1 ? 0 : cuts[s],
                                   m1 = n_parts == 1 ? M : cuts[s + 1];
                auto& pt = parts[s];
                pt.shift.resize(B);
                pt.z.resize(B);
                pt.sw.resize(B);
                pt.g.resize(B * d);
                denseam::detail::energy_sums(
                    make_matrix_view<const double>(mem.data() + m0 * d, m1 - m0, d),
                    qv,
                    p,
                    denseam::detail::query_sums_out{pt.shift, pt.z, pt.sw, pt.g.data()},
                    {});
            }
            std::vector<double> e(B), g(B * d), gsum(d);
            std::vector<energy_status> st(B);
            for (std::int64_t i = 0; i < B; ++i) {
                const auto s = denseam::detail::merge_sums(
                    exp_type,
                    static_cast<std::int64_t>(n_parts),
                    [&](std::int64_t c) {
                        const part& pt = parts[static_cast<std::size_t>(c)];
                        return denseam::detail::sums_part<double>{
                            pt.shift[i], pt.z[i], pt.sw[i], pt.g.data() + i * d};
                    },
                    std::span<double>(gsum));
                denseam::detail::finish_query<double>(
                    exp_type, distance, s, gsum.data(), qv.row(i), d, p, e[i], &g[i * d], &st[i]);
            }
            for (std::int64_t i = 0; i < B; ++i) {
                EXPECT_NEAR(e[i], want.energy[i], 1e-12 * (1 + std::abs(want.energy[i])))
                    << to_string(k) << " parts " << n_parts << " query " << i;
                for (std::int64_t c = 0; c < d; ++c)
                    EXPECT_NEAR(g[i * d + c], want.grad[i * d + c], 1e-12 * (1 + want.gscale[i]))
                        << to_string(k) << " parts " << n_parts;
            }
            if (n_parts == 1) {
                std::vector<double> e1(B), g1(B * d);
                std::vector<energy_status> st1(B);
                denseam::energy_and_grad(make_matrix_view<const double>(mem.data(), M, d),
                                         qv,
                                         p,
                                         std::span<double>(e1),
                                         make_matrix_view<double>(g1.data(), B, d),
                                         std::span<energy_status>(st1),
                                         {});
                EXPECT_EQ(e, e1) << to_string(k);
                EXPECT_EQ(g, g1) << to_string(k);
                EXPECT_EQ(st, st1) << to_string(k);
            }
        }
    }
}
