// SPDX-License-Identifier: MIT
// Random-feature maps and the distributed memory (DrDAM): the maps against their formulas
// evaluated here from projections() and phases() with std:: functions in double (no shared code
// with src/features), unbiasedness and the 1/sqrt(Y) error law over many seeds, add/remove,
// gradients by central differences, convergence to the exact lse energy and to its descent as Y
// grows (tolerances from the estimator's own standard error), determinism across thread counts
// and the projection cache, save/load, bad input, the footprint formulas and engine/fastmath.hpp.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "denseam/energy.hpp"
#include "denseam/error.hpp"
#include "denseam/features.hpp"
#include "denseam/retrieval.hpp"
#include "denseam/safetensors.hpp"
#include "engine/fastmath.hpp"
#include "expect.hpp"
#include "oracle.hpp"
#include "temp_dir.hpp"

using namespace denseam;
namespace fs = std::filesystem;

namespace {

using dvec = std::vector<double>;

constexpr feature_kind all_kinds[] = {
    feature_kind::fourier, feature_kind::fourier_phase, feature_kind::positive};

feature_params map_params(
    feature_kind kind, std::int64_t y, double beta, std::uint64_t seed, bool orthogonal = false) {
    feature_params p;
    p.kind = kind;
    p.n_features = y;
    p.beta = beta;
    p.seed = seed;
    p.orthogonal = orthogonal;
    return p;
}

std::string label(const feature_params& p) {
    return std::string(to_string(p.kind)) + (p.orthogonal ? " orthogonal" : "") +
           " Y=" + std::to_string(p.n_features) + " beta=" + std::to_string(p.beta);
}

// Many small calls run on one thread (the thread count never changes a result, which
// BitIdenticalAcrossThreadsAndCache checks): no parallel-region overhead on a busy machine.
const exec_options one_thread{1, {}};

matrix_view<const double> view(const dvec& v, std::int64_t d) {
    return make_matrix_view<const double>(v.data(), static_cast<std::int64_t>(v.size()) / d, d);
}

double sq_norm(const double* x, std::int64_t d) {
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) s += x[k] * x[k];
    return s;
}

double sq_dist(const double* x, const double* y, std::int64_t d) {
    double s = 0;
    for (std::int64_t k = 0; k < d; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
    return s;
}

/// n x d values, N(0, sd^2), from mt19937_64(seed).
dvec gaussian_points(std::int64_t n, std::int64_t d, std::uint64_t seed, double sd) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z(0.0, sd);
    dvec v(static_cast<std::size_t>(n * d));
    for (auto& x : v) x = z(rng);
    return v;
}

/// A random unit vector of R^d.
dvec unit_vector(std::int64_t d, std::mt19937_64& rng) {
    std::normal_distribution<double> z;
    dvec v(static_cast<std::size_t>(d));
    for (auto& x : v) x = z(rng);
    const double n = std::sqrt(sq_norm(v.data(), d));
    for (auto& x : v) x /= n;
    return v;
}

// ---- the independent oracle of a map -------------------------------------------------------

/// The map straight from the formulas of features.hpp: the projections read once through
/// projections() (as double), the phases through phases(), features with std::cos/sin/exp.
struct naive_map {
    feature_params p;
    std::int64_t d = 0, n_proj = 0;
    dvec s;      // n_proj x d, unscaled
    dvec phase;  // fourier_phase: radians

    naive_map(const feature_params& params, std::int64_t dim) : p(params), d(dim) {
        n_proj = p.kind == feature_kind::fourier ? p.n_features / 2 : p.n_features;
        std::vector<float> f(static_cast<std::size_t>(n_proj * d));
        projections(p, d, 0, make_matrix_view<float>(f.data(), n_proj, d));
        s.assign(f.begin(), f.end());
        phase = phases(p);
    }

    /// u_j = sqrt(beta) s_j . x
    dvec u(const double* x) const {
        dvec out(static_cast<std::size_t>(n_proj));
        const double sb = std::sqrt(p.beta);
        for (std::int64_t j = 0; j < n_proj; ++j) {
            double a = 0;
            for (std::int64_t k = 0; k < d; ++k) a += s[j * d + k] * x[k];
            out[j] = sb * a;
        }
        return out;
    }

    dvec phi(const double* x) const {
        const double y = static_cast<double>(p.n_features);
        const dvec uj = u(x);
        dvec out(static_cast<std::size_t>(p.n_features));
        for (std::int64_t j = 0; j < n_proj; ++j) {
            switch (p.kind) {
                case feature_kind::fourier:
                    out[2 * j] = std::sqrt(2 / y) * std::cos(uj[j]);
                    out[2 * j + 1] = std::sqrt(2 / y) * std::sin(uj[j]);
                    break;
                case feature_kind::fourier_phase:
                    out[j] = std::sqrt(2 / y) * std::cos(uj[j] + phase[j]);
                    break;
                case feature_kind::positive:
                    out[j] = std::exp(uj[j] - p.beta * sq_norm(x, d)) / std::sqrt(y);
                    break;
            }
        }
        return out;
    }

    /// T = sum of phi over the rows of `patterns`.
    dvec memory(const dvec& patterns) const {
        dvec t(static_cast<std::size_t>(p.n_features), 0.0);
        for (std::size_t i = 0; i * d < patterns.size(); ++i) {
            const dvec f = phi(patterns.data() + i * d);
            for (std::size_t j = 0; j < t.size(); ++j) t[j] += f[j];
        }
        return t;
    }

    /// S = <phi(x), T> and its gradient dS/dx (d values into grad).
    double inner(const double* x, const dvec& t, double* grad) const {
        const double y = static_cast<double>(p.n_features), sb = std::sqrt(p.beta);
        const dvec uj = u(x);
        double sum = 0;
        std::fill(grad, grad + d, 0.0);
        for (std::int64_t j = 0; j < n_proj; ++j) {
            double val = 0, du = 0;  // this projection's share of S and of dS/du_j
            switch (p.kind) {
                case feature_kind::fourier: {
                    const double c = std::sqrt(2 / y);
                    val = c * (std::cos(uj[j]) * t[2 * j] + std::sin(uj[j]) * t[2 * j + 1]);
                    du = c * (-std::sin(uj[j]) * t[2 * j] + std::cos(uj[j]) * t[2 * j + 1]);
                    break;
                }
                case feature_kind::fourier_phase:
                    val = std::sqrt(2 / y) * std::cos(uj[j] + phase[j]) * t[j];
                    du = -std::sqrt(2 / y) * std::sin(uj[j] + phase[j]) * t[j];
                    break;
                case feature_kind::positive:
                    val = std::exp(uj[j] - p.beta * sq_norm(x, d)) / std::sqrt(y) * t[j];
                    du = val;
                    break;
            }
            sum += val;
            for (std::int64_t k = 0; k < d; ++k) grad[k] += du * sb * s[j * d + k];
            if (p.kind == feature_kind::positive)
                for (std::int64_t k = 0; k < d; ++k) grad[k] -= val * 2 * p.beta * x[k];
        }
        return sum;
    }

    /// E~ = -(1/beta) log S and its gradient -(1/beta) dS/S (+inf, 0 where S <= 0).
    double energy(const double* x, const dvec& t, double* grad) const {
        const double sv = inner(x, t, grad);
        if (!(sv > 0)) {
            std::fill(grad, grad + d, 0.0);
            return INFINITY;
        }
        for (std::int64_t k = 0; k < d; ++k) grad[k] *= -1 / (p.beta * sv);
        return -std::log(sv) / p.beta;
    }

    /// The estimator as a mean over the projections: S~ = mean_j f_j and dS~/dx = mean_j g_j for
    /// the memory of `patterns` (f: n_proj values, g: n_proj x d). The f_j are i.i.d. over j
    /// (plain maps), which gives the estimator's standard error.
    void terms(const double* x, const dvec& patterns, dvec& f, dvec& g) const {
        const std::int64_t m = static_cast<std::int64_t>(patterns.size()) / d;
        const double sb = std::sqrt(p.beta);
        f.assign(static_cast<std::size_t>(n_proj), 0.0);
        g.assign(static_cast<std::size_t>(n_proj * d), 0.0);
        const dvec ux = u(x);
        for (std::int64_t mu = 0; mu < m; ++mu) {
            const double* xi = patterns.data() + mu * d;
            const dvec ui = u(xi);
            for (std::int64_t j = 0; j < n_proj; ++j) {
                double val = 0, du = 0;
                switch (p.kind) {
                    case feature_kind::fourier:
                        val = std::cos(ux[j] - ui[j]);
                        du = -std::sin(ux[j] - ui[j]);
                        break;
                    case feature_kind::fourier_phase:
                        val = 2 * std::cos(ux[j] + phase[j]) * std::cos(ui[j] + phase[j]);
                        du = -2 * std::sin(ux[j] + phase[j]) * std::cos(ui[j] + phase[j]);
                        break;
                    case feature_kind::positive:
                        val = std::exp(ux[j] + ui[j] - p.beta * (sq_norm(x, d) + sq_norm(xi, d)));
                        du = val;
                        break;
                }
                f[j] += val;
                for (std::int64_t k = 0; k < d; ++k) {
                    g[j * d + k] += du * sb * s[j * d + k];
                    if (p.kind == feature_kind::positive) g[j * d + k] -= val * 2 * p.beta * x[k];
                }
            }
        }
    }
};

/// The exact lse energies and gradients of the library (explicit memories).
void exact_lse(
    const dvec& patterns, const dvec& queries, std::int64_t d, double beta, dvec& e, dvec& g) {
    e.assign(queries.size() / d, 0.0);
    g.assign(queries.size(), 0.0);
    energy_and_grad(view(patterns, d),
                    view(queries, d),
                    oracle::make(kernel_kind::lse, beta),
                    std::span<double>(e),
                    make_matrix_view<double>(g.data(), static_cast<std::int64_t>(e.size()), d));
}

/// energy_and_grad of a distributed memory, outputs pre-filled with garbage.
template <class T>
struct eval_result {
    std::vector<T> e, g;
    std::vector<energy_status> st;
};

template <class T>
eval_result<T> evaluate(const distributed_memory& mem,
                        const std::vector<T>& q,
                        const exec_options& exec = {}) {
    const std::int64_t d = mem.dim(), n = static_cast<std::int64_t>(q.size()) / d;
    eval_result<T> r;
    r.e.assign(static_cast<std::size_t>(n), T(-7));
    r.g.assign(static_cast<std::size_t>(n * d), T(-7));  // must be overwritten
    r.st.assign(static_cast<std::size_t>(n), energy_status::unsupported);
    mem.energy_and_grad(make_matrix_view<const T>(q.data(), n, d),
                        std::span<T>(r.e),
                        make_matrix_view<T>(r.g.data(), n, d),
                        std::span<energy_status>(r.st),
                        exec);
    return r;
}

/// Equal bit for bit (so NaN == NaN, 0 != -0).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    using bits = std::conditional_t<sizeof(T) == 8, std::uint64_t, std::uint32_t>;
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::bit_cast<bits>(a[i]) != std::bit_cast<bits>(b[i])) return false;
    return true;
}

double max_abs(const dvec& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::abs(x));
    return m;
}

using test_support::temp_dir;

// ---- the map against its formulas ------------------------------------------------------------

// feature_map() equals the formulas evaluated from projections() and phases(), for every kind,
// plain and orthogonal, with a Y that leaves a partial block and a partial orthogonal group.
TEST(FeatureMap, MatchesTheFormulas) {
    const std::int64_t d = 7;
    const dvec x = gaussian_points(5, d, 11, 0.5);
    for (auto kind : all_kinds)
        for (bool orth : {false, true}) {
            const auto p = map_params(kind, 1300, 0.8, 42, orth);
            const naive_map ref(p, d);
            dvec out(static_cast<std::size_t>(5 * p.n_features));
            feature_map(p, view(x, d), make_matrix_view<double>(out.data(), 5, p.n_features));
            double err = 0;
            for (std::int64_t i = 0; i < 5; ++i) {
                const dvec f = ref.phi(x.data() + i * d);
                for (std::int64_t j = 0; j < p.n_features; ++j)
                    err = std::max(err, std::abs(out[i * p.n_features + j] - f[j]));
            }
            // Features are O(Y^-1/2) = 0.03; the vectorised sin/cos/exp are good to ~1e-16.
            EXPECT_LT(err, 1e-14) << label(p);
            if (kind == feature_kind::fourier_phase) {
                ASSERT_EQ(ref.phase.size(), 1300u);
                for (double b : ref.phase) {
                    EXPECT_GE(b, 0.0);
                    EXPECT_LT(b, 2 * std::numbers::pi);
                }
            } else {
                EXPECT_TRUE(ref.phase.empty());
            }
        }
}

// The acceptance criterion: E <phi(x), phi(y)> = exp(-beta/2 ||x - y||^2): the mean over 200
// seeds is within 3 standard errors, for every kind, plain and orthogonal, d = 4..16,
// beta = 0.5 and 2.
TEST(FeatureMap, InnerProductIsUnbiased) {
    const int n_seeds = 200;
    const std::int64_t y = 128;
    for (auto kind : all_kinds)
        for (bool orth : {false, true})
            for (double beta : {0.5, 2.0})
                for (std::int64_t d : {4, 9, 16}) {
                    // x = c + delta/2, y = c - delta/2: ||delta||^2 = 1.6 (k = 0.67 for
                    // beta = 0.5, 0.20 for beta = 2), ||c|| = 0.3 (so that positive features
                    // are not trivial: they are constant over seeds when x + y = 0).
                    std::mt19937_64 rng(100 + d);
                    const dvec c = unit_vector(d, rng), delta = unit_vector(d, rng);
                    dvec xy(static_cast<std::size_t>(2 * d));
                    for (std::int64_t k = 0; k < d; ++k) {
                        const double ck = 0.3 * c[k], dk = std::sqrt(1.6) * delta[k];
                        xy[k] = ck + dk / 2;
                        xy[d + k] = ck - dk / 2;
                    }
                    const double k_true =
                        std::exp(-beta / 2 * sq_dist(xy.data(), xy.data() + d, d));
                    double sum = 0, sum2 = 0;
                    dvec out(static_cast<std::size_t>(2 * y));
                    for (int s = 0; s < n_seeds; ++s) {
                        const auto p =
                            map_params(kind, y, beta, 7919 * s + 100 * d + (beta > 1), orth);
                        feature_map(
                            p, view(xy, d), make_matrix_view<double>(out.data(), 2, y), one_thread);
                        double dot = 0;
                        for (std::int64_t j = 0; j < y; ++j) dot += out[j] * out[y + j];
                        sum += dot;
                        sum2 += dot * dot;
                    }
                    const double mean = sum / n_seeds;
                    const double var = (sum2 - n_seeds * mean * mean) / (n_seeds - 1);
                    const double se = std::sqrt(var / n_seeds);
                    const auto p = map_params(kind, y, beta, 0, orth);
                    EXPECT_LE(std::abs(mean - k_true), 3 * se)
                        << label(p) << " d=" << d << " mean " << mean << " k " << k_true << " se "
                        << se;
                    // The check has teeth: a standard error well below the value.
                    EXPECT_GT(se, 0.0);
                    EXPECT_LT(se, 0.1 * k_true) << label(p) << " d=" << d;
                }
}

// The error of <phi(x), phi(y)> at fixed pairs shrinks like Y^-1/2: RMS over seeds and pairs at
// Y = 256 .. 16384; least-squares slope of log(rms) against log(Y) in [-0.6, -0.4].
TEST(FeatureMap, ErrorShrinksLikeInverseSqrtY) {
    const std::int64_t d = 8;
    const double beta = 1.0;
    const int n_seeds = 64, n_pairs = 3;
    const std::vector<std::int64_t> ys = {256, 1024, 4096, 16384};
    for (auto kind : {feature_kind::fourier, feature_kind::positive}) {
        std::vector<double> lx, ly;
        for (auto y : ys) {
            double sq = 0;
            dvec out(static_cast<std::size_t>(2 * y));
            for (int pr = 0; pr < n_pairs; ++pr) {
                std::mt19937_64 rng(500 + pr);
                const dvec c = unit_vector(d, rng), delta = unit_vector(d, rng);
                dvec xy(static_cast<std::size_t>(2 * d));
                for (std::int64_t k = 0; k < d; ++k) {
                    xy[k] = 0.3 * c[k] + 0.5 * (0.8 + 0.3 * pr) * delta[k];
                    xy[d + k] = 0.3 * c[k] - 0.5 * (0.8 + 0.3 * pr) * delta[k];
                }
                const double k_true = std::exp(-beta / 2 * sq_dist(xy.data(), xy.data() + d, d));
                for (int s = 0; s < n_seeds; ++s) {
                    const auto p = map_params(kind, y, beta, 1000 * pr + s);
                    feature_map(
                        p, view(xy, d), make_matrix_view<double>(out.data(), 2, y), one_thread);
                    double dot = 0;
                    for (std::int64_t j = 0; j < y; ++j) dot += out[j] * out[y + j];
                    sq += (dot - k_true) * (dot - k_true);
                }
            }
            lx.push_back(std::log(static_cast<double>(y)));
            ly.push_back(std::log(std::sqrt(sq / (n_seeds * n_pairs))));
        }
        const double mx = (lx[0] + lx[1] + lx[2] + lx[3]) / 4;
        const double my = (ly[0] + ly[1] + ly[2] + ly[3]) / 4;
        double sxy = 0, sxx = 0;
        for (int i = 0; i < 4; ++i) {
            sxy += (lx[i] - mx) * (ly[i] - my);
            sxx += (lx[i] - mx) * (lx[i] - mx);
        }
        const double slope = sxy / sxx;
        EXPECT_GE(slope, -0.6) << to_string(kind);
        EXPECT_LE(slope, -0.4) << to_string(kind);
    }
}

// ---- the projections -------------------------------------------------------------------------

// The same rows at every call; a sub-range equals the rows of a bigger call, also starting and
// ending inside an orthogonal group; another seed gives other rows.
TEST(Projections, RegeneratedIdenticallyAndBySubRange) {
    for (bool orth : {false, true})
        for (std::int64_t d : {5, 16}) {
            const auto p = map_params(feature_kind::positive, 1200, 1.0, 3, orth);
            std::vector<float> all(static_cast<std::size_t>(1200 * d)), again(all.size());
            projections(p, d, 0, make_matrix_view<float>(all.data(), 1200, d));
            projections(p, d, 0, make_matrix_view<float>(again.data(), 1200, d));
            EXPECT_TRUE(same_bits(all, again));
            for (auto [first, rows] : {std::pair<std::int64_t, std::int64_t>{0, 1},
                                       {3, 7},
                                       {511, 3},
                                       {d + 2, 2 * d + 1},
                                       {1100, 100},
                                       {1199, 1}}) {
                std::vector<float> part(static_cast<std::size_t>(rows * d));
                projections(p, d, first, make_matrix_view<float>(part.data(), rows, d));
                const std::vector<float> expect(all.begin() + first * d,
                                                all.begin() + (first + rows) * d);
                EXPECT_TRUE(same_bits(part, expect))
                    << (orth ? "orthogonal" : "plain") << " d=" << d << " first " << first;
            }
            auto other = p;
            other.seed = 4;
            projections(other, d, 0, make_matrix_view<float>(again.data(), 1200, d));
            int equal = 0;
            for (std::size_t i = 0; i < all.size(); ++i) equal += all[i] == again[i];
            EXPECT_LT(equal, 5);
        }
}

// The rows are N(0, I): entries with mean 0, variance 1 and kurtosis 3, uncorrelated
// coordinates; squared row norms are chi^2_dim (mean dim, variance 2 dim), for the orthogonal
// maps too (their rows get independent chi norms, not a common one).
TEST(Projections, EntriesAreStandardNormal) {
    for (bool orth : {false, true}) {
        const std::int64_t d = 8, n = 16384;
        const auto p = map_params(feature_kind::positive, n, 2.0, 17, orth);
        std::vector<float> s(static_cast<std::size_t>(n * d));
        projections(p, d, 0, make_matrix_view<float>(s.data(), n, d));
        const double count = static_cast<double>(n * d);
        double m1 = 0, m2 = 0, m4 = 0, cross = 0, r1 = 0, r2 = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            double row2 = 0;
            for (std::int64_t k = 0; k < d; ++k) {
                const double v = s[i * d + k];
                m1 += v;
                m2 += v * v;
                m4 += v * v * v * v;
                cross += v * s[i * d + (k + 1) % d];
                row2 += v * v;
            }
            r1 += row2;
            r2 += row2 * row2;
        }
        m1 /= count;
        m2 /= count;
        m4 /= count;
        cross /= count;
        r1 /= static_cast<double>(n);
        const double row_var = r2 / static_cast<double>(n) - r1 * r1;
        // Standard errors: mean 1/sqrt(n), variance sqrt(2/n), 4th moment sqrt(96/n).
        EXPECT_LT(std::abs(m1), 5 / std::sqrt(count));
        EXPECT_LT(std::abs(m2 - 1), 5 * std::sqrt(2 / count));
        EXPECT_LT(std::abs(m4 - 3), 5 * std::sqrt(96 / count));
        EXPECT_LT(std::abs(cross), 5 / std::sqrt(count));
        EXPECT_NEAR(r1, static_cast<double>(d), 5 * std::sqrt(2.0 * d / n));
        // Var of the sample variance of chi^2_d: (mu4 - sigma^4)/n = (12 d (d + 4) - 4 d^2)/n.
        EXPECT_NEAR(row_var, 2.0 * d, 5 * std::sqrt((12.0 * d * (d + 4) - 4.0 * d * d) / n))
            << (orth ? "orthogonal" : "plain");
    }
}

// Orthogonal maps: the rows of a group of dim rows are mutually orthogonal; rows of different
// groups are not.
TEST(Projections, OrthogonalGroupsAreOrthogonal) {
    for (std::int64_t d : {3, 8, 16}) {
        const std::int64_t n = 8 * d;
        const auto p = map_params(feature_kind::fourier_phase, n, 1.0, 9, true);
        std::vector<float> s(static_cast<std::size_t>(n * d));
        projections(p, d, 0, make_matrix_view<float>(s.data(), n, d));
        auto cosine = [&](std::int64_t a, std::int64_t b) {
            double ab = 0, aa = 0, bb = 0;
            for (std::int64_t k = 0; k < d; ++k) {
                ab += double(s[a * d + k]) * s[b * d + k];
                aa += double(s[a * d + k]) * s[a * d + k];
                bb += double(s[b * d + k]) * s[b * d + k];
            }
            return std::abs(ab) / std::sqrt(aa * bb);
        };
        double within = 0, across = 0;
        for (std::int64_t a = 0; a < n; ++a)
            for (std::int64_t b = a + 1; b < n; ++b) {
                if (a / d == b / d)
                    within = std::max(within, cosine(a, b));
                else
                    across = std::max(across, cosine(a, b));
            }
        EXPECT_LT(within, 1e-6) << "d=" << d;  // float rows of an exactly orthogonal basis
        EXPECT_GT(across, 0.3) << "d=" << d;
    }
}

// ---- the memory ----------------------------------------------------------------------------

// T is the sum of the patterns' features; energies and gradients are the formulas evaluated on
// T, for every kind, plain and orthogonal (Y spans several blocks and a partial one).
TEST(DistributedMemory, MatchesNaiveOracle) {
    const std::int64_t d = 6;
    const dvec xi = gaussian_points(9, d, 21, 0.6);
    dvec q = gaussian_points(7, d, 22, 0.2);
    for (std::int64_t i = 0; i < 7; ++i)
        for (std::int64_t k = 0; k < d; ++k) q[i * d + k] += xi[(i % 9) * d + k];
    for (auto kind : all_kinds)
        for (bool orth : {false, true}) {
            const auto p = map_params(kind, 2600, 1.3, 5, orth);
            const naive_map ref(p, d);
            distributed_memory mem(d, p);
            mem.add(view(xi, d));
            EXPECT_EQ(mem.size(), 9);
            const dvec t = ref.memory(xi);
            const auto feats = mem.features();
            ASSERT_EQ(feats.size(), t.size());
            double terr = 0;
            for (std::size_t j = 0; j < t.size(); ++j)
                terr = std::max(terr, std::abs(feats[j] - t[j]));
            EXPECT_LT(terr, 1e-13 * (1 + max_abs(t))) << label(p);

            const auto r = evaluate(mem, q);
            dvec g(static_cast<std::size_t>(d));
            for (std::int64_t i = 0; i < 7; ++i) {
                const double e = ref.energy(q.data() + i * d, t, g.data());
                ASSERT_TRUE(std::isfinite(e)) << label(p);
                EXPECT_EQ(r.st[i], energy_status::ok);
                EXPECT_NEAR(r.e[i], e, 1e-13 * (1 + std::abs(e))) << label(p) << " query " << i;
                for (std::int64_t k = 0; k < d; ++k)
                    EXPECT_NEAR(r.g[i * d + k], g[k], 1e-12 * (1 + max_abs(g)))
                        << label(p) << " query " << i << " k " << k;
            }
            // An energy-only call agrees with the energy of the gradient call.
            dvec e_only(7);
            mem.energy_and_grad(view(q, d), std::span<double>(e_only), matrix_view<double>{});
            EXPECT_TRUE(same_bits(e_only, r.e)) << label(p);
        }
}

// add then remove returns T to its previous value; size() counts; removing more than held and
// every failed add/remove leave T and size unchanged.
TEST(DistributedMemory, AddRemoveAndFailedUpdates) {
    const std::int64_t d = 5;
    const dvec a = gaussian_points(6, d, 31, 0.5), b = gaussian_points(4, d, 32, 0.5);
    for (auto kind : all_kinds) {
        const auto p = map_params(kind, 2048, 1.0, 8);
        distributed_memory mem(d, p);
        EXPECT_EQ(mem.size(), 0);
        mem.add(view(a, d));
        EXPECT_EQ(mem.size(), 6);
        const dvec t0(mem.features().begin(), mem.features().end());
        mem.add(view(b, d));
        EXPECT_EQ(mem.size(), 10);
        const dvec tab(mem.features().begin(), mem.features().end());
        mem.remove(view(b, d));
        EXPECT_EQ(mem.size(), 6);
        double diff = 0;
        for (std::size_t j = 0; j < t0.size(); ++j)
            diff = std::max(diff, std::abs(mem.features()[j] - t0[j]));
        EXPECT_LE(diff, 1e-12 * max_abs(tab)) << to_string(kind);
        EXPECT_GT(max_abs(t0), 0.0);

        const dvec t1(mem.features().begin(), mem.features().end());
        auto unchanged = [&](const char* what) {
            EXPECT_TRUE(same_bits(dvec(mem.features().begin(), mem.features().end()), t1))
                << to_string(kind) << ": " << what;
            EXPECT_EQ(mem.size(), 6) << to_string(kind) << ": " << what;
        };
        const dvec seven = gaussian_points(7, d, 33, 0.5);
        expect_throw_msg<denseam::invalid_argument>([&] { mem.remove(view(seven, d)); },
                                                    {"cannot remove 7", "holds 6"});
        unchanged("remove of 7");
        dvec bad = b;
        bad[2 * d + 3] = std::numeric_limits<double>::quiet_NaN();
        expect_throw_msg<denseam::invalid_argument>([&] { mem.add(view(bad, d)); },
                                                    {"non-finite", "row 2", "column 3"});
        unchanged("add with NaN");
        bad[2 * d + 3] = INFINITY;
        expect_invalid([&] { mem.remove(view(bad, d)); }, "non-finite");
        unchanged("remove with inf");
        expect_invalid([&] { mem.add(make_matrix_view<const double>(b.data(), 5, 4)); },
                       "4 columns");
        unchanged("add with 4 columns");
        if (kind == feature_kind::positive) {
            dvec big = b;
            big[1 * d] = 30.0;  // beta ||x||^2 > 900
            expect_throw_msg<denseam::invalid_argument>([&] { mem.add(view(big, d)); },
                                                        {"row 1", "700"});
            unchanged("add of an underflowing positive pattern");
        }
        // Empty updates change nothing.
        mem.add(make_matrix_view<const double>(b.data(), 0, d));
        unchanged("add of 0 rows");

        // float patterns give the bits of the same values in double.
        const std::vector<float> af(a.begin(), a.end());
        const dvec ad(af.begin(), af.end());
        distributed_memory mf(d, p), md(d, p);
        mf.add(make_matrix_view<const float>(af.data(), 6, d));
        md.add(view(ad, d));
        EXPECT_TRUE(same_bits(dvec(mf.features().begin(), mf.features().end()),
                              dvec(md.features().begin(), md.features().end())));
        mf.remove(make_matrix_view<const float>(af.data(), 6, d));
        EXPECT_EQ(mf.size(), 0);
        EXPECT_LE(max_abs(dvec(mf.features().begin(), mf.features().end())),
                  1e-12 * max_abs(dvec(md.features().begin(), md.features().end())));

        mem.clear();
        EXPECT_EQ(mem.size(), 0);
        EXPECT_EQ(max_abs(dvec(mem.features().begin(), mem.features().end())), 0.0);
    }
}

// The gradient is the derivative of the energy: central differences in double, every kind,
// plain and orthogonal; positive queries with large norms, where the +2x term of the gradient
// (from exp(-beta ||x||^2)) is most of it.
TEST(DistributedMemory, GradientMatchesFiniteDifferences) {
    const std::int64_t d = 6;
    const double beta = 1.5;
    const dvec xi = gaussian_points(5, d, 41, 0.5);
    for (auto kind : all_kinds)
        for (bool orth : {false, true}) {
            const auto p = map_params(kind, 2048, beta, 12, orth);
            distributed_memory mem(d, p);
            mem.add(view(xi, d));
            dvec q = gaussian_points(4, d, 42, kind == feature_kind::positive ? 0.5 : 0.15);
            for (std::int64_t i = 0; i < 4; ++i)
                for (std::int64_t k = 0; k < d; ++k) q[i * d + k] += xi[i * d + k];
            const auto r = evaluate(mem, q);
            // All 2 x 4 x d shifted queries in one call.
            const double h = 1e-5;
            dvec shifted;
            for (std::int64_t i = 0; i < 4; ++i)
                for (std::int64_t k = 0; k < d; ++k)
                    for (double sign : {1.0, -1.0}) {
                        dvec x(q.begin() + i * d, q.begin() + (i + 1) * d);
                        x[k] += sign * h;
                        shifted.insert(shifted.end(), x.begin(), x.end());
                    }
            dvec es(shifted.size() / d);
            mem.energy_and_grad(view(shifted, d), std::span<double>(es), {});
            double without_2x = 0;  // the positive gradient's error if its 2x term were dropped
            for (std::int64_t i = 0; i < 4; ++i) {
                ASSERT_EQ(r.st[i], energy_status::ok) << label(p);
                for (std::int64_t k = 0; k < d; ++k) {
                    const double fd = (es[2 * (i * d + k)] - es[2 * (i * d + k) + 1]) / (2 * h);
                    EXPECT_NEAR(r.g[i * d + k], fd, 1e-8 * (1 + std::abs(fd)))
                        << label(p) << " query " << i << " k " << k;
                    without_2x =
                        std::max(without_2x, std::abs(r.g[i * d + k] - 2 * q[i * d + k] - fd));
                }
            }
            if (kind == feature_kind::positive) {
                EXPECT_GT(without_2x, 0.1) << label(p);
            }
        }
}

// Energies and gradients of float queries agree with the double evaluation to float accuracy.
TEST(DistributedMemory, FloatAgreesWithDouble) {
    const std::int64_t d = 8;
    const dvec xi = gaussian_points(12, d, 51, 0.6);
    std::vector<float> qf(static_cast<std::size_t>(10 * d));
    const dvec noise = gaussian_points(10, d, 52, 0.2);
    for (std::size_t i = 0; i < qf.size(); ++i)
        qf[i] = static_cast<float>(xi[i % xi.size()] + noise[i]);
    const dvec qd(qf.begin(), qf.end());
    for (auto kind : all_kinds)
        for (bool orth : {false, true}) {
            const auto p = map_params(kind, 8192, 1.0, 6, orth);
            distributed_memory mem(d, p);
            mem.add(view(xi, d));
            const auto rd = evaluate(mem, qd);
            const auto rf = evaluate(mem, qf);
            const double gscale = max_abs(rd.g);
            for (std::int64_t i = 0; i < 10; ++i) {
                EXPECT_EQ(rf.st[i], energy_status::ok);
                // Float phases u = sqrt(beta) s.x and float block sums: ~1e-6 relative at most
                // (measured: 3e-7 for the energies, 7e-7 for the gradients).
                EXPECT_NEAR(rf.e[i], rd.e[i], 5e-6 * (1 + std::abs(rd.e[i]))) << label(p);
                for (std::int64_t k = 0; k < d; ++k)
                    EXPECT_NEAR(rf.g[i * d + k], rd.g[i * d + k], 1e-5 * (1 + gscale))
                        << label(p) << " query " << i;
            }
        }
}

// Determinism: energies and gradients (double and float) are bit-identical at 1, 2 and 3
// threads and with the projection cache on or off; add() gives the same T at any thread count;
// feature_map() too.
TEST(DistributedMemory, BitIdenticalAcrossThreadsAndCache) {
    const std::int64_t d = 8;
    const dvec xi = gaussian_points(30, d, 61, 0.6);
    dvec q = gaussian_points(40, d, 62, 0.3);
    for (std::size_t i = 0; i < q.size(); ++i) q[i] += xi[i % xi.size()];
    const std::vector<float> qf(q.begin(), q.end());
    for (auto kind : all_kinds)
        for (bool orth : {false, true}) {
            const auto p = map_params(kind, 12288, 0.9, 77, orth);
            distributed_memory mem(d, p);
            mem.add(view(xi, d), exec_options{1, {}});
            for (int threads : {2, 3}) {
                distributed_memory other(d, p);
                other.add(view(xi, d), exec_options{threads, {}});
                EXPECT_TRUE(same_bits(dvec(mem.features().begin(), mem.features().end()),
                                      dvec(other.features().begin(), other.features().end())))
                    << label(p) << " add with " << threads << " threads";
            }
            const auto ref = evaluate(mem, q, exec_options{1, {}});
            const auto reff = evaluate(mem, qf, exec_options{1, {}});
            for (bool cache : {false, true}) {
                mem.set_options(distributed_options{cache});
                EXPECT_EQ(mem.bytes(), 8 * p.n_features + (cache ? 4 * n_projections(p) * d : 0));
                for (int threads : {1, 2, 3}) {
                    const auto r = evaluate(mem, q, exec_options{threads, {}});
                    EXPECT_TRUE(same_bits(r.e, ref.e) && same_bits(r.g, ref.g))
                        << label(p) << " threads " << threads << " cache " << cache;
                    const auto rf = evaluate(mem, qf, exec_options{threads, {}});
                    EXPECT_TRUE(same_bits(rf.e, reff.e) && same_bits(rf.g, reff.g))
                        << label(p) << " float, threads " << threads << " cache " << cache;
                }
            }
            // Built with the cache from the start: the same T and energies.
            distributed_memory cached(d, p, distributed_options{true});
            cached.add(view(xi, d), exec_options{2, {}});
            EXPECT_TRUE(same_bits(dvec(mem.features().begin(), mem.features().end()),
                                  dvec(cached.features().begin(), cached.features().end())));
            const auto rc = evaluate(cached, q, exec_options{2, {}});
            EXPECT_TRUE(same_bits(rc.e, ref.e) && same_bits(rc.g, ref.g)) << label(p);

            const auto small = map_params(kind, 2048, 0.9, 77, orth);
            dvec f1(static_cast<std::size_t>(40 * 2048)), f3(f1.size());
            feature_map(small, view(q, d), make_matrix_view<double>(f1.data(), 40, 2048), {1, {}});
            feature_map(small, view(q, d), make_matrix_view<double>(f3.data(), 40, 2048), {3, {}});
            EXPECT_TRUE(same_bits(f1, f3)) << label(small);
        }
}

// The energies are the same bits with or without the gradient, and a query alone agrees with the
// same query inside a batch of 1,100 (more than one internal query batch) to rounding: only the
// BLAS kernels, which OpenBLAS picks by shape, may differ in the last bits.
TEST(DistributedMemory, QueryResultDoesNotDependOnItsBatch) {
    const std::int64_t d = 64, m = 30, n = 1100;
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal(0.0, 0.3);
    dvec pats(static_cast<std::size_t>(m * d)), qs(static_cast<std::size_t>(n * d));
    for (auto& v : pats) v = normal(rng);
    for (auto& v : qs) v = normal(rng);
    for (auto kind : {feature_kind::fourier, feature_kind::positive}) {
        feature_params p;
        p.kind = kind;
        p.n_features = 16384;
        p.beta = 1.5;
        p.seed = 4;
        distributed_memory mem(d, p);
        mem.add(matrix_view<const double>(pats.data(), m, d));
        dvec e_all(static_cast<std::size_t>(n)), g_all(qs.size()),
            e_only(static_cast<std::size_t>(n));
        mem.energy_and_grad(matrix_view<const double>(qs.data(), n, d),
                            std::span(e_all),
                            matrix_view<double>(g_all.data(), n, d));
        mem.energy_and_grad(
            matrix_view<const double>(qs.data(), n, d), std::span(e_only), matrix_view<double>{});
        for (std::int64_t i : {std::int64_t(0), std::int64_t(700), std::int64_t(1050)}) {
            double e1 = 0.0;
            dvec g1(static_cast<std::size_t>(d));
            mem.energy_and_grad(matrix_view<const double>(qs.data() + i * d, 1, d),
                                std::span(&e1, 1),
                                matrix_view<double>(g1.data(), 1, d));
            const auto si = static_cast<std::size_t>(i);
            EXPECT_EQ(std::bit_cast<std::uint64_t>(e_all[si]),
                      std::bit_cast<std::uint64_t>(e_only[si]));
            EXPECT_NEAR(e1, e_all[si], 1e-12 * std::abs(e_all[si]));
            double gmax = 0.0;
            for (std::int64_t k = 0; k < d; ++k)
                gmax = std::max(gmax, std::abs(g_all[si * d + static_cast<std::size_t>(k)]));
            for (std::int64_t k = 0; k < d; ++k)
                EXPECT_NEAR(g1[static_cast<std::size_t>(k)],
                            g_all[si * d + static_cast<std::size_t>(k)],
                            1e-12 * gmax);
        }
    }
}

// As Y grows the energy and gradient converge to the exact lse energy: at Y = 2^16 the
// difference is within 5 standard errors of the estimator, computed here from the spread of its
// per-projection terms (the error law ~ 1/sqrt(Y)), and those bounds are tight. Positive
// features need data near the origin (their variance grows like exp(4 beta x.xi)): scale 0.2.
TEST(DistributedMemory, ApproachesExactLseEnergy) {
    const std::int64_t d = 8, n_pat = 6, n_q = 6;
    const double beta = 1.0, z = 5.0;
    for (auto kind : all_kinds) {
        const double scale = kind == feature_kind::positive ? 0.2 : 0.8;
        const dvec xi = gaussian_points(n_pat, d, 71, scale);
        dvec q = gaussian_points(n_q, d, 72, 0.15);
        for (std::int64_t i = 0; i < n_q; ++i)
            for (std::int64_t k = 0; k < d; ++k) q[i * d + k] += xi[i * d + k];
        dvec e_exact, g_exact;
        exact_lse(xi, q, d, beta, e_exact, g_exact);
        const auto p = map_params(kind, 65536, beta, 2024);
        distributed_memory mem(d, p, distributed_options{true});
        mem.add(view(xi, d));
        const auto r = evaluate(mem, q);
        const naive_map ref(p, d);
        dvec f, g;
        double max_etol = 0, max_gtol = 0;
        for (std::int64_t i = 0; i < n_q; ++i) {
            ref.terms(q.data() + i * d, xi, f, g);
            const double np = static_cast<double>(ref.n_proj);
            double fm = 0, fv = 0;
            for (double v : f) fm += v;
            fm /= np;
            for (double v : f) fv += (v - fm) * (v - fm);
            const double se_f = std::sqrt(fv / (np - 1) / np);
            const double s_exact = std::exp(-beta * e_exact[i]);
            ASSERT_LT(z * se_f, 0.5 * s_exact) << label(p);
            // The library's energy is -(1/beta) log of the mean of the terms.
            EXPECT_NEAR(r.e[i], -std::log(fm) / beta, 1e-10) << label(p);
            const double e_tol =
                std::max(std::log1p(z * se_f / s_exact), -std::log1p(-z * se_f / s_exact)) / beta;
            EXPECT_NEAR(r.e[i], e_exact[i], e_tol) << label(p) << " query " << i;
            max_etol = std::max(max_etol, e_tol);
            for (std::int64_t k = 0; k < d; ++k) {
                double gm = 0, gv = 0;
                for (std::int64_t j = 0; j < ref.n_proj; ++j) gm += g[j * d + k];
                gm /= np;
                for (std::int64_t j = 0; j < ref.n_proj; ++j)
                    gv += (g[j * d + k] - gm) * (g[j * d + k] - gm);
                const double se_g = std::sqrt(gv / (np - 1) / np);
                // grad E~ - grad E = -(1/beta) (dS~/S~ - dS/S), with |dS~ - dS| <= z se_g and
                // |S~ - S| <= z se_f.
                const double g_tol =
                    z * se_g / (beta * fm) + std::abs(g_exact[i * d + k]) * z * se_f / fm;
                EXPECT_NEAR(r.g[i * d + k], g_exact[i * d + k], g_tol)
                    << label(p) << " query " << i << " k " << k;
                EXPECT_NEAR(r.g[i * d + k], -gm / (beta * fm), 1e-9 * (1 + std::abs(gm / fm)));
                max_gtol = std::max(max_gtol, g_tol);
            }
        }
        // The bounds are tight enough to mean something at Y = 2^16.
        EXPECT_LT(max_etol, 0.08) << label(p);
        EXPECT_LT(max_gtol, 0.2 * max_abs(g_exact)) << label(p);
    }
}

// Where <phi(x), T> <= 0 the energy is +inf with status unsupported and a zero gradient: an
// empty memory (every kind, float and double), and fourier queries far from the only pattern
// whose sign the oracle decides; retrieve() stops such queries with out_of_support.
TEST(DistributedMemory, UnsupportedWhereInnerProductIsNotPositive) {
    const std::int64_t d = 4;
    const dvec q = gaussian_points(3, d, 81, 1.0);
    const std::vector<float> qf(q.begin(), q.end());
    for (auto kind : all_kinds) {
        const distributed_memory empty(d, map_params(kind, 512, 1.0, 1));
        const auto r = evaluate(empty, q);
        const auto rf = evaluate(empty, qf);
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(r.st[i], energy_status::unsupported);
            EXPECT_EQ(rf.st[i], energy_status::unsupported);
            EXPECT_TRUE(std::isinf(r.e[i]) && r.e[i] > 0);
            EXPECT_TRUE(std::isinf(rf.e[i]) && rf.e[i] > 0);
        }
        EXPECT_EQ(max_abs(r.g), 0.0);
        for (float v : rf.g) EXPECT_EQ(v, 0.0f);
    }

    // One pattern at the origin, queries at distance 6 (kernel exp(-18), far below the
    // estimator's noise): the sign of <phi(x), T> is that of the oracle's sum.
    for (auto kind : {feature_kind::fourier, feature_kind::fourier_phase}) {
        const auto p = map_params(kind, 256, 1.0, 3);
        const naive_map ref(p, d);
        distributed_memory mem(d, p);
        const dvec origin(static_cast<std::size_t>(d), 0.0);
        mem.add(view(origin, d));
        const dvec t = ref.memory(origin);
        std::mt19937_64 rng(83);
        dvec far;
        int n_neg = 0, n_pos = 0;
        std::vector<bool> negative;
        dvec g(static_cast<std::size_t>(d));
        while (far.size() < 60 * static_cast<std::size_t>(d)) {
            const dvec u = unit_vector(d, rng);
            dvec x(static_cast<std::size_t>(d));
            for (std::int64_t k = 0; k < d; ++k) x[k] = 6.0 * u[k];
            const double s = ref.inner(x.data(), t, g.data());
            if (std::abs(s) < 1e-6) continue;  // too close to 0 to be decided
            far.insert(far.end(), x.begin(), x.end());
            negative.push_back(s < 0);
            (s < 0 ? n_neg : n_pos)++;
        }
        ASSERT_GT(n_neg, 5) << to_string(kind);
        ASSERT_GT(n_pos, 5) << to_string(kind);
        const auto r = evaluate(mem, far);
        for (std::size_t i = 0; i < negative.size(); ++i) {
            if (negative[i]) {
                EXPECT_EQ(r.st[i], energy_status::unsupported) << to_string(kind) << " " << i;
                EXPECT_EQ(r.e[i], INFINITY);
                for (std::int64_t k = 0; k < d; ++k) EXPECT_EQ(r.g[i * d + k], 0.0);
            } else {
                EXPECT_EQ(r.st[i], energy_status::ok) << to_string(kind) << " " << i;
                EXPECT_TRUE(std::isfinite(r.e[i]));
            }
        }
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = 5;
        const auto rr = mem.retrieve(view(far, d), o);
        for (std::size_t i = 0; i < negative.size(); ++i) {
            if (!negative[i]) continue;
            EXPECT_EQ(rr.status[i], retrieval_status::out_of_support);
            EXPECT_EQ(rr.steps[i], 0);
            EXPECT_EQ(rr.energy[i], INFINITY);
            for (std::int64_t k = 0; k < d; ++k) EXPECT_EQ(rr.states[i * d + k], far[i * d + k]);
        }
    }

    // A memory built from parts with T = -phi(x0): <phi(x0), T> = -||phi(x0)||^2 < 0.
    const auto p = map_params(feature_kind::fourier, 128, 2.0, 5);
    const naive_map ref(p, d);
    dvec t = ref.phi(q.data());
    for (auto& v : t) v = -v;
    const auto mem = distributed_memory::from_parts(d, p, t, 1);
    const dvec x0(q.begin(), q.begin() + d);
    const auto r = evaluate(mem, x0);
    EXPECT_EQ(r.st[0], energy_status::unsupported);
    EXPECT_EQ(r.e[0], INFINITY);
    EXPECT_EQ(max_abs(r.g), 0.0);
}

// ---- retrieval -------------------------------------------------------------------------------

// Clamped coordinates never move; the others do, and the energy goes down.
TEST(DistributedRetrieve, ClampedCoordinatesNeverMove) {
    const std::int64_t d = 6;
    const dvec xi = gaussian_points(8, d, 91, 0.7);
    dvec q = gaussian_points(5, d, 92, 0.3);
    for (std::int64_t i = 0; i < 5; ++i)
        for (std::int64_t k = 0; k < d; ++k) q[i * d + k] += xi[i * d + k];
    for (auto kind : all_kinds) {
        const auto p = map_params(kind, 4096, 1.0, 4);
        distributed_memory mem(d, p);
        mem.add(view(xi, d));
        retrieve_options o;
        o.method = retrieval_method::gradient;
        o.max_steps = 40;
        o.step_size = schedule::constant(0.2);
        o.clamp = {0, 3};
        const auto r = mem.retrieve(view(q, d), o, one_thread);
        const auto start = evaluate(mem, q);
        for (std::int64_t i = 0; i < 5; ++i) {
            EXPECT_EQ(r.status[i], retrieval_status::max_steps) << to_string(kind);
            EXPECT_EQ(r.steps[i], 40);
            EXPECT_EQ(r.states[i * d + 0], q[i * d + 0]);
            EXPECT_EQ(r.states[i * d + 3], q[i * d + 3]);
            double moved = 0;
            for (std::int64_t k : {1, 2, 4, 5})
                moved = std::max(moved, std::abs(r.states[i * d + k] - q[i * d + k]));
            EXPECT_GT(moved, 1e-3) << to_string(kind) << " query " << i;
            EXPECT_LT(r.energy[i], start.e[i]) << to_string(kind) << " query " << i;
            // The returned energy is that of the final state.
            const dvec x(r.states.begin() + i * d, r.states.begin() + (i + 1) * d);
            EXPECT_EQ(evaluate(mem, x).e[0], r.energy[i]);
        }
        // float states, with noise: the clamped coordinates still keep their bits.
        const std::vector<float> qf(q.begin(), q.end());
        o.noise = schedule::constant(0.05);
        o.seed = 5;
        const auto rf = mem.retrieve(make_matrix_view<const float>(qf.data(), 5, d), o, one_thread);
        for (std::int64_t i = 0; i < 5; ++i) {
            EXPECT_EQ(rf.status[i], retrieval_status::max_steps) << to_string(kind);
            for (std::int64_t k = 0; k < d; ++k) {
                if (k == 0 || k == 3) {
                    EXPECT_EQ(rf.states[i * d + k], qf[i * d + k]) << to_string(kind);
                } else {
                    EXPECT_NE(rf.states[i * d + k], qf[i * d + k]) << to_string(kind);
                }
            }
        }
    }
}

// As Y grows, DrDAM descent converges to the exact descent on the lse energy of the explicit
// memories (same options): the final-state distance falls with Y and is small at Y = 2^16.
TEST(DistributedRetrieve, ConvergesToExactDescent) {
    const std::int64_t d = 8, n_pat = 10, n_q = 12;
    const double beta = 2.0;
    retrieve_options o;
    o.method = retrieval_method::gradient;
    o.max_steps = 60;
    o.tol = 0;
    o.step_size = schedule::constant(0.4);
    for (auto kind : all_kinds) {
        // Positive features need data near the origin (variance ~ exp(4 beta x.xi)).
        const double scale = kind == feature_kind::positive ? 0.15 : 0.7;
        const dvec xi = gaussian_points(n_pat, d, 101, scale);
        dvec q = gaussian_points(n_q, d, 102, 0.3 * scale);
        for (std::int64_t i = 0; i < n_q; ++i)
            for (std::int64_t k = 0; k < d; ++k) q[i * d + k] += xi[(i % n_pat) * d + k];
        const auto exact =
            retrieve<double>(view(xi, d), view(q, d), oracle::make(kernel_kind::lse, beta), o);
        double moved = 0;
        for (std::int64_t i = 0; i < n_q; ++i)
            moved += sq_dist(q.data() + i * d, exact.states.data() + i * d, d);
        moved = std::sqrt(moved / n_q);
        std::vector<double> rms;
        for (std::int64_t y : {1 << 10, 1 << 13, 1 << 16}) {
            distributed_memory mem(d, map_params(kind, y, beta, 31), distributed_options{true});
            mem.add(view(xi, d));
            const auto r = mem.retrieve(view(q, d), o, one_thread);
            double s = 0;
            for (std::int64_t i = 0; i < n_q; ++i) {
                EXPECT_EQ(r.status[i], retrieval_status::max_steps);
                s += sq_dist(r.states.data() + i * d, exact.states.data() + i * d, d);
            }
            rms.push_back(std::sqrt(s / n_q));
        }
        EXPECT_LT(rms[1], rms[0]) << to_string(kind);
        EXPECT_LT(rms[2], rms[1]) << to_string(kind);
        // ~ 1/sqrt(Y): a factor 8 in Y is a factor 2.8 in the distance.
        EXPECT_LT(rms[2], 0.6 * rms[1]) << to_string(kind);
        // Small at 2^16: a few percent of how far the exact descent moved the queries.
        EXPECT_LT(rms[2], 0.1 * moved) << to_string(kind) << " rms " << rms[0] << " " << rms[1]
                                       << " " << rms[2] << ", moved " << moved;
    }
}

// ---- files ------------------------------------------------------------------------------------

TEST(DistributedFiles, SaveLoadRoundTripIsBitIdentical) {
    temp_dir dir;
    const std::int64_t d = 5;
    const dvec xi = gaussian_points(7, d, 111, 0.5);
    const dvec q = gaussian_points(3, d, 112, 0.5);
    for (auto kind : all_kinds)
        for (bool orth : {false, true}) {
            auto p = map_params(kind, 1000, 0.7, 0xfedcba9876543210ULL, orth);
            distributed_memory mem(d, p);
            mem.add(view(xi, d));
            mem.remove(make_matrix_view<const double>(xi.data(), 2, d));
            const std::string path = dir.file(std::string(to_string(kind)) + ".safetensors");
            mem.save(path);
            for (bool cache : {false, true}) {
                const auto back = distributed_memory::load(path, distributed_options{cache});
                EXPECT_EQ(back.dim(), d);
                EXPECT_EQ(back.size(), 5);
                EXPECT_EQ(back.params().kind, kind);
                EXPECT_EQ(back.params().n_features, 1000);
                EXPECT_EQ(std::bit_cast<std::uint64_t>(back.params().beta),
                          std::bit_cast<std::uint64_t>(0.7));
                EXPECT_EQ(back.params().seed, 0xfedcba9876543210ULL);
                EXPECT_EQ(back.params().orthogonal, orth);
                EXPECT_EQ(back.options().cache_projections, cache);
                EXPECT_TRUE(same_bits(dvec(back.features().begin(), back.features().end()),
                                      dvec(mem.features().begin(), mem.features().end())));
                const auto a = evaluate(mem, q), b = evaluate(back, q);
                EXPECT_TRUE(same_bits(a.e, b.e) && same_bits(a.g, b.g)) << label(p);
            }
            // from_parts gives the same memory.
            const auto parts = distributed_memory::from_parts(
                d, p, dvec(mem.features().begin(), mem.features().end()), 5);
            EXPECT_TRUE(same_bits(evaluate(parts, q).e, evaluate(mem, q).e));
        }
}

// Truncated, foreign and inconsistent files: denseam::invalid_argument naming the file.
TEST(DistributedFiles, BadFilesAreRejectedNamingTheFile) {
    temp_dir dir;
    const std::int64_t d = 3;
    const auto p = map_params(feature_kind::fourier, 64, 1.5, 2);
    distributed_memory mem(d, p);
    const dvec xi = gaussian_points(2, d, 121, 0.5);
    mem.add(view(xi, d));
    const std::string good = dir.file("good.safetensors");
    mem.save(good);

    // Truncated.
    std::ifstream in(good, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string cut = dir.file("cut.safetensors");
    {
        std::ofstream out(cut, std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 100));
    }
    expect_invalid([&] { (void)distributed_memory::load(cut); }, cut);
    expect_invalid([&] { (void)distributed_memory::load(dir.file("missing.safetensors")); },
                   "missing.safetensors");

    // The saved metadata, read back, then altered one key at a time.
    const st_file f = read_safetensors(good);
    const auto meta = f.metadata;
    EXPECT_EQ(meta.at("format"), "denseam-distributed-memory");
    EXPECT_EQ(meta.at("kind"), "fourier");
    EXPECT_EQ(meta.at("n_features"), "64");
    EXPECT_EQ(meta.at("beta"), "1.5");
    EXPECT_EQ(meta.at("seed"), "2");
    EXPECT_EQ(meta.at("dim"), "3");
    EXPECT_EQ(meta.at("count"), "2");
    EXPECT_EQ(meta.at("orthogonal"), "false");
    st_tensor features;
    features.name = "features";
    features.dtype = "F64";
    features.shape = {64};
    features.f64.assign(mem.features().begin(), mem.features().end());

    int n_file = 0;
    auto check = [&](std::vector<st_tensor> tensors,
                     std::map<std::string, std::string> md,
                     const std::string& fragment) {
        const std::string path = dir.file("bad" + std::to_string(n_file++) + ".safetensors");
        write_safetensors(path, tensors, md);
        expect_throw_msg<denseam::invalid_argument>([&] { (void)distributed_memory::load(path); },
                                                    {path, fragment});
    };
    auto with = [&](const std::string& key, const std::string& value) {
        auto m = meta;
        m[key] = value;
        return m;
    };
    auto without = [&](const std::string& key) {
        auto m = meta;
        m.erase(key);
        return m;
    };
    // Sanity: the unaltered parts load.
    {
        const std::string path = dir.file("rewritten.safetensors");
        write_safetensors(path, {features}, meta);
        EXPECT_EQ(distributed_memory::load(path).size(), 2);
    }
    check({features}, {{"format", "pt"}}, "not a denseam distributed memory");
    check({features}, {}, "not a denseam distributed memory");
    check({features}, with("version", "2"), "version");
    check({features}, with("kind", "gaussian"), "unknown feature map");
    check({features}, without("kind"), "kind");
    check({features}, with("n_features", "65"), "[65]");
    check({features}, with("beta", "-1"), "beta");
    check({features}, with("beta", "abc"), "beta");
    check({features}, with("seed", "-1"), "seed");
    check({features}, with("seed", "12x"), "seed");
    check({features}, with("orthogonal", "yes"), "orthogonal");
    check({features}, with("dim", "0"), "dim");
    check({features}, without("count"), "count");
    check({features}, with("count", "-3"), "count");
    check({}, meta, "features");
    auto other = features;
    other.name = "other";
    check({features, other}, meta, "exactly one tensor");
    auto f32 = features;
    f32.dtype = "F32";
    f32.f32.assign(f32.f64.begin(), f32.f64.end());
    f32.f64.clear();
    check({f32}, meta, "F64");
    auto nan = features;
    nan.f64[10] = std::numeric_limits<double>::quiet_NaN();
    check({nan}, meta, "not finite");
    // An odd Y for a fourier map (the tensor's shape agrees).
    auto odd = features;
    odd.shape = {63};
    odd.f64.resize(63);
    check({odd}, with("n_features", "63"), "even");
}

// ---- bad input -------------------------------------------------------------------------------

TEST(FeatureErrors, ParseAndValidate) {
    EXPECT_EQ(parse_feature_kind("fourier"), feature_kind::fourier);
    EXPECT_EQ(parse_feature_kind("sincos"), feature_kind::fourier);
    EXPECT_EQ(parse_feature_kind("fourier-phase"), feature_kind::fourier_phase);
    EXPECT_EQ(parse_feature_kind("fourier_phase"), feature_kind::fourier_phase);
    EXPECT_EQ(parse_feature_kind("cos"), feature_kind::fourier_phase);
    EXPECT_EQ(parse_feature_kind("positive"), feature_kind::positive);
    EXPECT_EQ(parse_feature_kind("exp"), feature_kind::positive);
    for (auto k : all_kinds) EXPECT_EQ(parse_feature_kind(to_string(k)), k);
    expect_throw_msg<denseam::invalid_argument>([] { (void)parse_feature_kind("Fourier"); },
                                                {"'Fourier'", "fourier", "positive"});
    expect_invalid([] { (void)parse_feature_kind(""); }, "unknown feature map");

    EXPECT_EQ(n_projections(map_params(feature_kind::fourier, 100, 1, 0)), 50);
    EXPECT_EQ(n_projections(map_params(feature_kind::fourier_phase, 100, 1, 0)), 100);
    EXPECT_EQ(n_projections(map_params(feature_kind::positive, 99, 1, 0)), 99);

    validate(map_params(feature_kind::positive, 1, 1e-3, 0), 1);  // the smallest valid
    expect_invalid([] { validate(map_params(feature_kind::fourier, 101, 1, 0), 3); }, "101");
    expect_invalid([] { validate(map_params(feature_kind::fourier, 101, 1, 0), 3); }, "even");
    expect_invalid([] { validate(map_params(feature_kind::positive, 0, 1, 0), 3); }, "Y");
    expect_invalid([] { validate(map_params(feature_kind::positive, -4, 1, 0), 3); }, "-4");
    for (double beta : {0.0,
                        -1.0,
                        std::numeric_limits<double>::quiet_NaN(),
                        std::numeric_limits<double>::infinity()})
        expect_invalid([&] { validate(map_params(feature_kind::positive, 8, beta, 0), 3); },
                       "beta");
    expect_invalid([] { validate(map_params(feature_kind::positive, 8, 1, 0), 0); }, "dim");
    expect_invalid([] { validate(map_params(feature_kind::positive, 8, 1, 0), -2); }, "-2");
    expect_invalid([] { distributed_memory(0, map_params(feature_kind::fourier, 8, 1, 0)); },
                   "dim");
    expect_invalid([] { distributed_memory(3, map_params(feature_kind::fourier, 7, 1, 0)); },
                   "even");
    expect_invalid([] { distributed_memory(3, map_params(feature_kind::fourier, 8, 0, 0)); },
                   "beta");
    auto bad_kind = map_params(feature_kind::fourier, 8, 1, 0);
    bad_kind.kind = static_cast<feature_kind>(9);
    expect_invalid([&] { validate(bad_kind, 3); }, "kind");

    // from_parts checks the parts.
    const auto p = map_params(feature_kind::positive, 8, 1, 0);
    expect_invalid([&] { (void)distributed_memory::from_parts(3, p, dvec(7, 0.1), 1); }, "Y = 8");
    expect_invalid([&] { (void)distributed_memory::from_parts(3, p, dvec(8, 0.1), -1); }, "count");
    dvec inf(8, 0.1);
    inf[5] = INFINITY;
    expect_invalid([&] { (void)distributed_memory::from_parts(3, p, inf, 1); }, "features[5]");
}

TEST(FeatureErrors, BadShapesAndNonFiniteQueries) {
    const std::int64_t d = 4;
    const auto p = map_params(feature_kind::fourier_phase, 64, 1, 0);
    distributed_memory mem(d, p);
    const dvec xi = gaussian_points(2, d, 131, 0.3);
    mem.add(view(xi, d));
    dvec q = gaussian_points(3, d, 132, 0.3), e(3), g(3 * d);
    std::vector<energy_status> st(3);
    expect_invalid(
        [&] {
            mem.energy_and_grad(
                make_matrix_view<const double>(q.data(), 2, 6), std::span<double>(e).first(2), {});
        },
        "6 columns");
    expect_invalid([&] { mem.energy_and_grad(view(q, d), std::span<double>(e).first(2), {}); },
                   "energy");
    expect_invalid(
        [&] {
            mem.energy_and_grad(
                view(q, d), std::span<double>(e), make_matrix_view<double>(g.data(), 2, d));
        },
        "grad");
    expect_invalid(
        [&] {
            mem.energy_and_grad(view(q, d),
                                std::span<double>(e),
                                make_matrix_view<double>(g.data(), 3, d),
                                std::span<energy_status>(st).first(1));
        },
        "status");
    q[1 * d + 2] = std::numeric_limits<double>::quiet_NaN();
    expect_throw_msg<denseam::invalid_argument>(
        [&] { mem.energy_and_grad(view(q, d), std::span<double>(e), {}); },
        {"queries", "non-finite", "row 1", "column 2"});
    std::vector<float> qf(q.begin(), q.end()), ef(3);
    qf[1 * d + 2] = -INFINITY;
    expect_invalid(
        [&] {
            mem.energy_and_grad(
                make_matrix_view<const float>(qf.data(), 3, d), std::span<float>(ef), {});
        },
        "non-finite");
    retrieve_options o;
    o.method = retrieval_method::gradient;
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "non-finite");

    // feature_map and projections shapes.
    q[1 * d + 2] = 0.5;
    dvec out(3 * 64);
    expect_invalid([&] { feature_map(p, view(q, d), make_matrix_view<double>(out.data(), 3, 63)); },
                   "3 x 64");
    expect_invalid([&] { feature_map(p, view(q, d), make_matrix_view<double>(out.data(), 2, 64)); },
                   "3 x 64");
    q[0] = INFINITY;
    expect_invalid([&] { feature_map(p, view(q, d), make_matrix_view<double>(out.data(), 3, 64)); },
                   "non-finite");
    std::vector<float> rows(10 * d);
    expect_invalid([&] { projections(p, d, 0, make_matrix_view<float>(rows.data(), 10, 3)); },
                   "columns");
    expect_invalid([&] { projections(p, d, 60, make_matrix_view<float>(rows.data(), 5, d)); },
                   "outside [0, 64)");
    expect_invalid([&] { projections(p, d, -1, make_matrix_view<float>(rows.data(), 5, d)); },
                   "outside");
    auto fourier = map_params(feature_kind::fourier, 64, 1, 0);
    expect_invalid([&] { projections(fourier, d, 30, make_matrix_view<float>(rows.data(), 3, d)); },
                   "outside [0, 32)");
}

TEST(FeatureErrors, RetrieveOptions) {
    const std::int64_t d = 3;
    distributed_memory mem(d, map_params(feature_kind::positive, 64, 2.5, 0));
    const dvec xi = gaussian_points(2, d, 141, 0.3);
    mem.add(view(xi, d));
    const dvec q = gaussian_points(2, d, 142, 0.3);
    retrieve_options o;  // the default method is fixed_point
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "gradient");
    o.method = retrieval_method::gradient;
    o.beta = schedule::constant(1.0);
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "beta schedule");
    o.beta = schedule::cosine(0.5, 2.0);
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "beta = 2.5");
    o.beta = schedule::constant(0.0);
    o.clamp = {3};
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "clamped coordinate 3");
    o.clamp = {};
    o.precision = gradient_precision::single;
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "single");
    o.precision = gradient_precision::state;
    o.max_steps = -1;
    expect_invalid([&] { (void)mem.retrieve(view(q, d), o); }, "max_steps");
    o.max_steps = 3;
    const auto r = mem.retrieve(view(q, d), o);  // and the valid options run
    EXPECT_EQ(r.states.size(), q.size());
}

// ---- footprint --------------------------------------------------------------------------------

TEST(Footprint, NumbersAndBreakEven) {
    for (auto kind : all_kinds)
        for (std::int64_t y : {2, 64, 1000, 65536})
            for (std::int64_t d : {1, 3, 784}) {
                const auto p = map_params(kind, y, 1.0, 0);
                const std::int64_t pr = kind == feature_kind::fourier ? y / 2 : y;
                for (std::int64_t m : {0, 1, 17, 100000}) {
                    const auto f = footprint(m, d, p);
                    EXPECT_EQ(f.explicit_bytes, 4 * m * d);
                    EXPECT_EQ(f.distributed_bytes, 8 * y);
                    EXPECT_EQ(f.reference_bytes, 4 * pr * d + 4 * y);
                }
                // The smallest M with 4 M d > 8 Y, by search.
                std::int64_t m = 0;
                while (4 * m * d <= 8 * y) ++m;
                const auto f = footprint(1, d, p);
                EXPECT_EQ(f.break_even_patterns, m) << "Y=" << y << " d=" << d;
                EXPECT_GT(footprint(m, d, p).explicit_bytes, f.distributed_bytes);
                EXPECT_LE(footprint(m - 1, d, p).explicit_bytes, f.distributed_bytes);
            }
    // bytes() of a memory: T only, whatever it holds.
    distributed_memory mem(4, map_params(feature_kind::fourier, 256, 1.0, 0));
    EXPECT_EQ(mem.bytes(), 8 * 256);
    const dvec xi = gaussian_points(50, 4, 151, 0.5);
    mem.add(view(xi, 4));
    EXPECT_EQ(mem.bytes(), 8 * 256);
}

// ---- engine/fastmath.hpp --------------------------------------------------------------------

template <class T>
void check_sincos(double max_t, int n, double tol_abs, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(-max_t, max_t);
    double worst = 0;
    for (int i = 0; i < n; ++i) {
        const T t = static_cast<T>(u(rng));
        T s, c;
        denseam::detail::sincos_turns(t, s, c);
        // sin(2 pi t) = sin(2 pi (t - round(t))); the reduction is exact in long double.
        const long double f =
            static_cast<long double>(t) - std::nearbyint(static_cast<long double>(t));
        const long double a = 2 * std::numbers::pi_v<long double> * f;
        worst = std::max({worst,
                          static_cast<double>(std::abs(s - std::sin(a))),
                          static_cast<double>(std::abs(c - std::cos(a)))});
    }
    EXPECT_LT(worst, tol_abs) << "max |t| " << max_t;
}

TEST(FastMath, SincosTurns) {
    for (double range : {0.25, 1.0, 100.0, 1e5}) {
        check_sincos<float>(range, 200000, 3.0e-7, 1);
        check_sincos<double>(range, 200000, 6.0e-16, 2);
    }
    // Exact at quarter turns, odd/even symmetry, relative accuracy of sin near 0.
    for (double t : {0.0, 0.25, 0.5, -0.25, 1.0, 3.5}) {
        double s, c;
        denseam::detail::sincos_turns(t, s, c);
        EXPECT_NEAR(s, std::sin(2 * std::numbers::pi * t), 1e-15);
        EXPECT_NEAR(c, std::cos(2 * std::numbers::pi * t), 1e-15);
    }
    for (double t : {1e-9, 3e-6, 1e-3}) {
        double s, c, sm, cm;
        denseam::detail::sincos_turns(t, s, c);
        denseam::detail::sincos_turns(-t, sm, cm);
        EXPECT_EQ(s, -sm);
        EXPECT_EQ(c, cm);
        const double ref = std::sin(2 * std::numbers::pi * t);
        EXPECT_LT(std::abs(s - ref) / ref, 4e-16) << t;
        float sf, cf;
        denseam::detail::sincos_turns(static_cast<float>(t), sf, cf);
        const double reff = std::sin(2 * std::numbers::pi * static_cast<double>(float(t)));
        EXPECT_LT(std::abs(sf - reff) / reff, 3e-7) << t;
    }
}

TEST(FastMath, Log) {
    std::mt19937_64 rng(3);
    // fast_log over the normal floats: log-uniform samples and values near 1.
    double worst = 0;
    std::uniform_real_distribution<double> e(-125.9, 127.9), m(0.99, 1.01);
    for (int i = 0; i < 400000; ++i) {
        const float x = static_cast<float>(i % 2 ? std::exp2(e(rng)) : m(rng));
        const double ref = std::log(static_cast<double>(x));
        const double err = std::abs(denseam::detail::fast_log(x) - ref);
        worst = std::max(worst, err / std::max(1.0, std::abs(ref)));
    }
    EXPECT_LT(worst, 2e-7);
    EXPECT_EQ(denseam::detail::fast_log(1.0f), 0.0f);
    EXPECT_NEAR(denseam::detail::fast_log(std::numeric_limits<float>::min()), -87.33654475, 2e-5);
    EXPECT_NEAR(denseam::detail::fast_log(std::numeric_limits<float>::max()), 88.72283906, 2e-5);
}

}  // namespace
