// SPDX-License-Identifier: MIT
// Gaussian mixtures and query samplers (include/denseam/gmm.hpp): log-density against naive
// formulas and the worked case of paper.md 2.4, sampling moments against their standard errors,
// JSON round trips, sampler ranges/determinism/scaling, error paths. The distributional tests
// of the samplers (KS tests of the radius, direction uniformity) are in tests/python/test_gmm.py.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/gmm.hpp"
#include "expect.hpp"

using denseam::covariance_kind;
using denseam::gaussian_mixture;
using denseam::make_matrix_view;
using denseam::sampler_kind;

namespace {

std::vector<double> log_density(const gaussian_mixture& g, const std::vector<double>& x) {
    const auto n = static_cast<std::int64_t>(x.size()) / g.dim;
    std::vector<double> out(static_cast<std::size_t>(n));
    g.log_density(make_matrix_view(x.data(), n, g.dim), out);
    return out;
}

// A 3-component, 2-D full-covariance mixture and its densities by the textbook formula
// (explicit 2x2 inverse and determinant, no log-sum-exp shift).
gaussian_mixture full_2d() {
    gaussian_mixture g;
    g.k = 3;
    g.dim = 2;
    g.kind = covariance_kind::full;
    g.weights = {0.2, 0.5, 0.3};
    g.means = {0.0, 0.0, 1.0, -0.5, -0.3, 0.8};
    g.covariances = {1.0, 0.3, 0.3, 0.5, 0.2, -0.1, -0.1, 0.4, 2.0, 0.0, 0.0, 0.25};
    return g;
}

double naive_full_2d(const gaussian_mixture& g, double x0, double x1) {
    double p = 0.0;
    for (int i = 0; i < 3; ++i) {
        const double* s = g.covariances.data() + 4 * i;
        const double det = s[0] * s[3] - s[1] * s[2];
        const double a = x0 - g.means[2 * i], b = x1 - g.means[2 * i + 1];
        const double q = (s[3] * a * a - (s[1] + s[2]) * a * b + s[0] * b * b) / det;
        p += g.weights[i] * std::exp(-0.5 * q) / (2.0 * std::numbers::pi * std::sqrt(det));
    }
    return std::log(p);
}

}  // namespace

TEST(Gmm, WorkedCaseLogDensityAtTheMean) {
    // paper.md 2.4: log N(mu | mu, sigma^2 I_d) = -(d/2) log(2 pi sigma^2), whatever the storage.
    const double sigma = 0.1;
    for (std::int64_t d : {1, 2, 8, 16}) {
        const double expected =
            -0.5 * static_cast<double>(d) * std::log(2.0 * std::numbers::pi * sigma * sigma);
        const auto ud = static_cast<std::size_t>(d);
        gaussian_mixture g;
        g.k = 1;
        g.dim = d;
        g.weights = {1.0};
        g.means.assign(ud, 0.25);
        g.kind = covariance_kind::isotropic;
        g.covariances = {sigma * sigma};
        EXPECT_NEAR(log_density(g, g.means)[0], expected, 1e-12) << "isotropic d=" << d;
        g.kind = covariance_kind::diagonal;
        g.covariances.assign(ud, sigma * sigma);
        EXPECT_NEAR(log_density(g, g.means)[0], expected, 1e-12) << "diagonal d=" << d;
        g.kind = covariance_kind::full;
        g.covariances.assign(ud * ud, 0.0);
        for (std::size_t j = 0; j < ud; ++j) g.covariances[j * ud + j] = sigma * sigma;
        EXPECT_NEAR(log_density(g, g.means)[0], expected, 1e-12) << "full d=" << d;
    }
}

TEST(Gmm, FullCovarianceMatchesTheTextbookFormula) {
    const gaussian_mixture g = full_2d();
    const std::vector<double> x = {0.0, 0.0, 1.0, -0.5, 0.3, 0.7, -2.0, 1.5, 3.0, -3.0};
    const auto got = log_density(g, x);
    for (std::size_t r = 0; r < got.size(); ++r)
        EXPECT_NEAR(got[r], naive_full_2d(g, x[2 * r], x[2 * r + 1]), 1e-12) << "row " << r;
}

TEST(Gmm, IsotropicAndDiagonalMatchTheirClosedForms) {
    gaussian_mixture g;
    g.k = 2;
    g.dim = 3;
    g.weights = {0.4, 0.6};
    g.means = {0.0, 1.0, 2.0, -1.0, 0.5, 0.0};
    g.kind = covariance_kind::diagonal;
    g.covariances = {0.5, 1.0, 2.0, 0.1, 0.2, 0.3};
    const std::vector<double> x = {0.2, 0.9, 1.0, -0.5, 0.0, 0.5};
    auto naive = [&](const double* p) {
        double s = 0.0;
        for (int i = 0; i < 2; ++i) {
            double q = 0.0, det = 1.0;
            for (int j = 0; j < 3; ++j) {
                const double v = g.covariances[3 * i + j], t = p[j] - g.means[3 * i + j];
                q += t * t / v;
                det *= v;
            }
            s += g.weights[i] * std::exp(-0.5 * q) /
                 std::sqrt(std::pow(2.0 * std::numbers::pi, 3) * det);
        }
        return std::log(s);
    };
    auto got = log_density(g, x);
    EXPECT_NEAR(got[0], naive(x.data()), 1e-12);
    EXPECT_NEAR(got[1], naive(x.data() + 3), 1e-12);

    g.kind = covariance_kind::isotropic;
    g.covariances = {0.5, 0.3};
    gaussian_mixture as_diag = g;
    as_diag.kind = covariance_kind::diagonal;
    as_diag.covariances = {0.5, 0.5, 0.5, 0.3, 0.3, 0.3};
    got = log_density(g, x);
    const auto ref = log_density(as_diag, x);
    EXPECT_NEAR(got[0], ref[0], 1e-12);
    EXPECT_NEAR(got[1], ref[1], 1e-12);
}

TEST(Gmm, LogSumExpIsStableFarFromEveryComponent) {
    // 40 sigma away: every density underflows to 0 in a naive sum; the shifted form is exact.
    gaussian_mixture g;
    g.k = 2;
    g.dim = 1;
    g.kind = covariance_kind::isotropic;
    g.weights = {0.5, 0.5};
    g.means = {0.0, 1.0};
    g.covariances = {1e-4, 1e-4};
    const std::vector<double> x = {-0.4};
    const double expected = std::log(0.5) - 0.5 * std::log(2.0 * std::numbers::pi * 1e-4) -
                            0.5 * 0.16 / 1e-4 + std::log1p(std::exp(-0.5 * (1.96 - 0.16) / 1e-4));
    const double got = log_density(g, x)[0];
    ASSERT_TRUE(std::isfinite(got));
    EXPECT_NEAR(got, expected, 1e-9 * std::abs(expected));
}

TEST(Gmm, ZeroWeightComponentIsIgnored) {
    gaussian_mixture g;
    g.k = 2;
    g.dim = 2;
    g.kind = covariance_kind::isotropic;
    g.weights = {1.0, 0.0};
    g.means = {0.0, 0.0, 5.0, 5.0};
    g.covariances = {1.0, 1.0};
    gaussian_mixture one = g;
    one.k = 1;
    one.weights = {1.0};
    one.means = {0.0, 0.0};
    one.covariances = {1.0};
    const std::vector<double> x = {5.0, 5.0, 0.1, -0.2};
    const auto a = log_density(g, x), b = log_density(one, x);
    EXPECT_DOUBLE_EQ(a[0], b[0]);
    EXPECT_DOUBLE_EQ(a[1], b[1]);
    std::vector<std::int64_t> labels;
    (void)g.sample(1000, 3, &labels);
    for (auto l : labels) EXPECT_EQ(l, 0);
}

TEST(Gmm, SampleMomentsConvergeWithinStandardErrors) {
    // One full-covariance component: mean and covariance entries within 5 standard errors.
    gaussian_mixture g;
    g.k = 1;
    g.dim = 3;
    g.kind = covariance_kind::full;
    g.weights = {1.0};
    g.means = {1.0, -2.0, 0.5};
    g.covariances = {2.0, 0.6, -0.3, 0.6, 1.0, 0.2, -0.3, 0.2, 0.5};
    const std::int64_t n = 200000;
    const auto x = g.sample(n, 42);
    ASSERT_EQ(x.size(), static_cast<std::size_t>(n * 3));
    double mean[3] = {0, 0, 0}, cov[3][3] = {};
    for (std::int64_t s = 0; s < n; ++s)
        for (int j = 0; j < 3; ++j) mean[j] += x[static_cast<std::size_t>(s * 3 + j)];
    for (double& m : mean) m /= static_cast<double>(n);
    for (std::int64_t s = 0; s < n; ++s)
        for (int a = 0; a < 3; ++a)
            for (int b = 0; b < 3; ++b)
                cov[a][b] += (x[static_cast<std::size_t>(s * 3 + a)] - mean[a]) *
                             (x[static_cast<std::size_t>(s * 3 + b)] - mean[b]);
    const auto S = [&](int a, int b) { return g.covariances[static_cast<std::size_t>(3 * a + b)]; };
    for (int a = 0; a < 3; ++a) {
        EXPECT_NEAR(mean[a], g.means[static_cast<std::size_t>(a)], 5 * std::sqrt(S(a, a) / n));
        for (int b = 0; b < 3; ++b) {
            // Var of a sample covariance entry of a Gaussian: (S_aa S_bb + S_ab^2) / n.
            const double se = std::sqrt((S(a, a) * S(b, b) + S(a, b) * S(a, b)) / n);
            EXPECT_NEAR(cov[a][b] / static_cast<double>(n - 1), S(a, b), 5 * se) << a << "," << b;
        }
    }
}

TEST(Gmm, LabelsFollowTheWeightsAndPointsTheirComponent) {
    gaussian_mixture g;
    g.k = 3;
    g.dim = 2;
    g.kind = covariance_kind::diagonal;
    g.weights = {0.1, 0.6, 0.3};
    g.means = {-10.0, 0.0, 0.0, 10.0, 10.0, 0.0};
    g.covariances = {0.01, 0.04, 0.09, 0.01, 0.04, 0.04};
    const std::int64_t n = 100000;
    std::vector<std::int64_t> labels;
    const auto x = g.sample(n, 7, &labels);
    ASSERT_EQ(labels.size(), static_cast<std::size_t>(n));
    std::vector<double> count(3, 0.0);
    for (std::int64_t s = 0; s < n; ++s) {
        const auto l = static_cast<std::size_t>(labels[static_cast<std::size_t>(s)]);
        ASSERT_LT(l, 3u);
        count[l] += 1;
        // Every point lies within 8 sd of its own component's mean.
        for (std::size_t j = 0; j < 2; ++j)
            EXPECT_LT(std::abs(x[static_cast<std::size_t>(s) * 2 + j] - g.means[l * 2 + j]),
                      8 * std::sqrt(g.covariances[l * 2 + j]));
    }
    for (std::size_t i = 0; i < 3; ++i) {
        const double p = g.weights[i];
        EXPECT_NEAR(count[i] / n, p, 5 * std::sqrt(p * (1 - p) / n));
    }
}

TEST(Gmm, SamplingIsDeterministicPerSeed) {
    const gaussian_mixture g = full_2d();
    std::vector<std::int64_t> la, lb, lc;
    const auto a = g.sample(500, 11, &la), b = g.sample(500, 11, &lb), c = g.sample(500, 12, &lc);
    EXPECT_EQ(a, b);
    EXPECT_EQ(la, lb);
    EXPECT_NE(a, c);
    EXPECT_TRUE(g.sample(0, 1).empty());
}

TEST(Gmm, RandomIsTheReferenceConstruction) {
    const auto g = gaussian_mixture::random(5, 8, 0.1, 3);
    EXPECT_EQ(g.k, 5);
    EXPECT_EQ(g.dim, 8);
    EXPECT_EQ(g.kind, covariance_kind::isotropic);
    ASSERT_EQ(g.means.size(), 40u);
    for (double m : g.means) {
        EXPECT_GE(m, 0.0);
        EXPECT_LT(m, 1.0);
    }
    for (double w : g.weights) EXPECT_DOUBLE_EQ(w, 0.2);
    for (double c : g.covariances) EXPECT_DOUBLE_EQ(c, 0.1 * 0.1);
    EXPECT_EQ(gaussian_mixture::random(5, 8, 0.1, 3).means, g.means);
    EXPECT_NE(gaussian_mixture::random(5, 8, 0.1, 4).means, g.means);
    expect_invalid([] { (void)gaussian_mixture::random(0, 8, 0.1, 0); }, "k must be >= 1");
    expect_invalid([] { (void)gaussian_mixture::random(5, 0, 0.1, 0); }, "dim must be >= 1");
    expect_invalid([] { (void)gaussian_mixture::random(5, 8, 0.0, 0); }, "sigma");
    expect_invalid([] { (void)gaussian_mixture::random(5, 8, NAN, 0); }, "sigma");
}

TEST(Gmm, JsonRoundTripIsExact) {
    gaussian_mixture diag;
    diag.k = 2;
    diag.dim = 2;
    diag.kind = covariance_kind::diagonal;
    diag.weights = {0.25, 0.75};
    diag.means = {0.1, 1.0 / 3.0, -2.5e-7, 1e10};
    diag.covariances = {0.1, 0.2, std::sqrt(2.0), 7.0};
    for (const gaussian_mixture& g : {gaussian_mixture::random(4, 3, 0.1, 9), diag, full_2d()}) {
        const std::string text = g.to_json();
        const auto back = gaussian_mixture::from_json(text);
        EXPECT_EQ(back.k, g.k);
        EXPECT_EQ(back.dim, g.dim);
        EXPECT_EQ(back.kind, g.kind);
        EXPECT_EQ(back.weights, g.weights);
        EXPECT_EQ(back.means, g.means);
        EXPECT_EQ(back.covariances, g.covariances);
    }
    EXPECT_NE(full_2d().to_json().find("\"covariance\":\"full\""), std::string::npos);
    // Flat arrays are accepted too.
    const auto flat = gaussian_mixture::from_json(
        R"({"k":1,"dim":2,"covariance":"diagonal","weights":[1],"means":[0,1],)"
        R"("covariances":[1,2]})");
    EXPECT_EQ(flat.covariances, (std::vector<double>{1.0, 2.0}));
}

TEST(Gmm, FromJsonErrors) {
    using G = gaussian_mixture;
    expect_invalid([] { (void)G::from_json("{nope"); }, "cannot parse");
    expect_invalid([] { (void)G::from_json("[1]"); }, "expected an object");
    expect_invalid([] { (void)G::from_json(R"({"k":1})"); }, "missing field 'dim'");
    expect_invalid(
        [] {
            (void)G::from_json(R"({"k":1,"dim":1,"covariance":"round","weights":[1],)"
                               R"("means":[0],"covariances":[1]})");
        },
        "unknown covariance 'round'");
    expect_invalid(
        [] {
            (void)G::from_json(R"({"k":1,"dim":1,"covariance":"isotropic","weights":[1],)"
                               R"("means":["a"],"covariances":[1]})");
        },
        "'means' must hold numbers");
    expect_invalid(
        [] {
            (void)G::from_json(R"({"k":2,"dim":1,"covariance":"isotropic","weights":[1],)"
                               R"("means":[0],"covariances":[1]})");
        },
        "weights has 1 values, expected 2");
}

TEST(Gmm, ValidateNamesTheFieldAtFault) {
    auto base = [] {
        gaussian_mixture g;
        g.k = 2;
        g.dim = 2;
        g.kind = covariance_kind::full;
        g.weights = {0.5, 0.5};
        g.means = {0, 0, 1, 1};
        g.covariances = {1, 0, 0, 1, 1, 0, 0, 1};
        return g;
    };
    EXPECT_NO_THROW(base().validate());
    auto g = base();
    g.k = 0;
    expect_invalid([&] { g.validate(); }, "k must be >= 1");
    g = base();
    g.dim = 0;
    expect_invalid([&] { g.validate(); }, "dim must be >= 1");
    g = base();
    g.weights = {0.5, 0.6};
    expect_invalid([&] { g.validate(); }, "sum to 1");
    g = base();
    g.weights = {1.5, -0.5};
    expect_invalid([&] { g.validate(); }, "weights[1] is negative");
    g = base();
    g.means.pop_back();
    expect_invalid([&] { g.validate(); }, "means has 3 values, expected 4");
    g = base();
    g.means[2] = NAN;
    expect_invalid([&] { g.validate(); }, "means[2] is not finite");
    g = base();
    g.covariances.pop_back();
    expect_invalid([&] { g.validate(); }, "covariances has 7 values, expected 8");
    g = base();
    g.covariances[1] = 0.5;  // not symmetric
    expect_invalid([&] { g.validate(); }, "covariances[0] is not symmetric");
    g = base();
    g.covariances = {1, 0, 0, 1, 1, 2, 2, 1};  // symmetric, indefinite
    expect_invalid([&] { g.validate(); }, "covariances[1] is not positive definite");
    g = base();
    g.kind = covariance_kind::isotropic;
    g.covariances = {1.0, 0.0};
    expect_invalid([&] { g.validate(); }, "covariances[1] must be > 0");
    g = base();
    g.kind = covariance_kind::diagonal;
    g.covariances = {1.0, 1.0, -1.0, 1.0};
    expect_invalid([&] { g.validate(); }, "covariances[2] must be > 0");

    g = base();
    const std::vector<double> x = {0, 0, 0};
    std::vector<double> out(1);
    expect_invalid([&] { g.log_density(make_matrix_view(x.data(), 1, 3), out); },
                   "x has 3 columns");
    std::vector<double> out2(2);
    expect_invalid([&] { g.log_density(make_matrix_view(x.data(), 1, 2), out2); },
                   "out has 2 entries");
    expect_invalid([&] { (void)g.sample(-1, 0); }, "n must be >= 0");
}

// ---- samplers --------------------------------------------------------------------------------

namespace {

std::vector<double> around(const std::vector<double>& centers,
                           std::int64_t d,
                           std::int64_t n,
                           double radius,
                           sampler_kind kind,
                           std::uint64_t seed) {
    const auto m = static_cast<std::int64_t>(centers.size()) / d;
    return denseam::sample_around(make_matrix_view(centers.data(), m, d), n, radius, kind, seed);
}

}  // namespace

TEST(Samplers, NamesRoundTrip) {
    for (auto k : {sampler_kind::shell,
                   sampler_kind::ball,
                   sampler_kind::reference_shell,
                   sampler_kind::reference_ball})
        EXPECT_EQ(denseam::parse_sampler(denseam::to_string(k)), k);
    EXPECT_EQ(denseam::to_string(sampler_kind::reference_shell), "reference-shell");
    EXPECT_EQ(denseam::parse_sampler("reference_ball"), sampler_kind::reference_ball);
    expect_invalid([] { (void)denseam::parse_sampler("sphere"); }, "unknown sampler 'sphere'");
}

TEST(Samplers, RadiiLieInTheirRanges) {
    const std::int64_t d = 5, n = 2000;
    const std::vector<double> centers = {0, 0, 0, 0, 0, 1, 2, 3, 4, 5};
    const double R = 0.7;
    for (auto kind : {sampler_kind::shell,
                      sampler_kind::ball,
                      sampler_kind::reference_shell,
                      sampler_kind::reference_ball}) {
        const bool shell = kind == sampler_kind::shell || kind == sampler_kind::reference_shell;
        const auto x = around(centers, d, n, R, kind, 5);
        ASSERT_EQ(x.size(), static_cast<std::size_t>(2 * n * d));
        for (std::int64_t p = 0; p < 2 * n; ++p) {
            const double* c = centers.data() + (p / n) * d;
            double s = 0.0;
            for (std::int64_t j = 0; j < d; ++j) {
                const double t = x[static_cast<std::size_t>(p * d + j)] - c[j];
                s += t * t;
            }
            const double r = std::sqrt(s);
            if (shell) {
                EXPECT_GE(r, 0.98 * R * (1 - 1e-12));
                EXPECT_LE(r, 0.9999 * R * (1 + 1e-12));
            } else {
                EXPECT_LE(r, R * (1 + 1e-12));
            }
        }
    }
}

TEST(Samplers, VolumeUniformShellRadiusInHighDimension) {
    // d = 100000: 0.98^d underflows; the radius stays in the shell and, volume-uniform, piles up
    // at the outer edge (median of t^d: ((a^d + b^d)/2)^(1/d) ~ b * 2^(-1/d)).
    const std::int64_t d = 100000;
    const std::vector<double> center(static_cast<std::size_t>(d), 0.0);
    const auto x = around(center, d, 4, 1.0, sampler_kind::shell, 1);
    for (int p = 0; p < 4; ++p) {
        double s = 0.0;
        for (std::int64_t j = 0; j < d; ++j)
            s += x[static_cast<std::size_t>(p * d + j)] * x[static_cast<std::size_t>(p * d + j)];
        const double r = std::sqrt(s);
        ASSERT_TRUE(std::isfinite(r));
        EXPECT_GE(r, 0.9999 - 1e-3);  // P(r < 0.9999 - 1e-3) = exp(-~100) (volume-uniform)
        EXPECT_LE(r, 0.9999 * (1 + 1e-12));
    }
}

TEST(Samplers, DeterministicPerCenterAndScaledByRadius) {
    const std::int64_t d = 3, n = 50;
    const std::vector<double> three = {0, 0, 0, 1, 1, 1, 2, 2, 2};
    for (auto kind : {sampler_kind::shell,
                      sampler_kind::ball,
                      sampler_kind::reference_shell,
                      sampler_kind::reference_ball}) {
        const auto a = around(three, d, n, 0.5, kind, 77);
        EXPECT_EQ(a, around(three, d, n, 0.5, kind, 77));
        EXPECT_NE(a, around(three, d, n, 0.5, kind, 78));
        // The first center alone gives the same block; moving center 0 leaves center 1's offsets.
        const auto first = around({0, 0, 0}, d, n, 0.5, kind, 77);
        EXPECT_TRUE(std::equal(first.begin(), first.end(), a.begin()));
        std::vector<double> moved = three;
        moved[0] = -5.0;
        const auto b = around(moved, d, n, 0.5, kind, 77);
        for (std::size_t i = static_cast<std::size_t>(n * d); i < a.size(); ++i)
            EXPECT_EQ(a[i], b[i]);
        // Offsets scale with R (the same uniforms for every R).
        const auto big = around(three, d, n, 2.0, kind, 77);
        for (std::size_t i = 0; i < a.size(); ++i) {
            const double c = three[(i / static_cast<std::size_t>(n * d)) * 3 + i % 3];
            EXPECT_NEAR(big[i] - c, 4.0 * (a[i] - c), 1e-12);
        }
    }
}

TEST(Samplers, ErrorPaths) {
    const std::vector<double> c = {0.0, 0.0};
    expect_invalid([&] { (void)around(c, 2, 5, 0.0, sampler_kind::shell, 0); },
                   "radius must be finite and > 0");
    expect_invalid([&] { (void)around(c, 2, 5, INFINITY, sampler_kind::ball, 0); },
                   "radius must be finite and > 0");
    expect_invalid([&] { (void)around(c, 2, -1, 1.0, sampler_kind::ball, 0); },
                   "n_per_center must be >= 0");
    expect_invalid(
        [&] {
            (void)denseam::sample_around(
                make_matrix_view(c.data(), 0, 2), 5, 1.0, sampler_kind::shell, 0);
        },
        "centers must be a non-empty");
    const std::vector<double> bad = {0.0, NAN};
    expect_invalid([&] { (void)around(bad, 2, 5, 1.0, sampler_kind::shell, 0); },
                   "centers(0, 1) is not finite");
    EXPECT_TRUE(around(c, 2, 0, 1.0, sampler_kind::shell, 0).empty());
}
