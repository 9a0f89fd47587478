// SPDX-License-Identifier: MIT
// Exact 1-D minima of every kernel: the AKEM pair {-1, +1} (paper.md 3.4) with closed-form
// answers, LSR against the exact enumerator, and random sets against a fine-grid oracle built
// from tests/common/oracle.hpp's kernel formulas.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/minima.hpp"
#include "oracle.hpp"

using denseam::energy_params;
using denseam::find_minima_1d;
using denseam::kernel_kind;

namespace {

energy_params compact(kernel_kind k, double h, double eps = 0.0) {
    energy_params p;
    p.kernel = k;
    p.beta = 2.0 / (h * h);  // half-width R = h
    p.eps = eps;
    return p;
}

// Z(x) - eps from the oracle's kernels (t = |x - xi| / R; the Gaussian uses exp(-t^2)).
double zsum(const std::vector<double>& xs, const energy_params& p, double x) {
    const double r = std::sqrt(2.0 / p.beta);
    double s = 0;
    for (double xi : xs) {
        double K, dK;
        oracle::kernel_t(p.kernel, std::abs(x - xi) / r, K, dK);
        s += K;
    }
    return s;
}

// Strict maxima of Z on a fine grid (supported points only).
std::vector<double> grid_maxima(
    const std::vector<double>& xs, const energy_params& p, double lo, double hi, int n) {
    std::vector<double> z(n + 1), out;
    for (int i = 0; i <= n; ++i) z[i] = zsum(xs, p, lo + (hi - lo) * i / n);
    for (int i = 1; i < n; ++i)
        if (z[i] > 0 && z[i] > z[i - 1] && z[i] > z[i + 1]) out.push_back(lo + (hi - lo) * i / n);
    return out;
}

}  // namespace

TEST(Minima1d, AkemPairClosedForms) {
    const std::vector<double> xs = {-1.0, 1.0};
    const double hs[] = {0.2, 0.5, 1.5, 1.9, 2.0, 2.3, 3.0};
    // Epanechnikov = LSR: stored iff h < 2 (the other pattern outside the support), the
    // midpoint iff h > 1.
    for (double h : hs) {
        const auto r = find_minima_1d(xs, compact(kernel_kind::lsr, h));
        EXPECT_EQ(r.stored, h < 2 ? 2 : 0) << h;
        EXPECT_EQ(r.emergent, h > 1 ? 1 : 0) << h;
        EXPECT_TRUE(r.flat.empty());
        // Same answer as the d-dimensional enumerator.
        const auto e =
            denseam::find_lsr_minima(denseam::make_matrix_view(xs.data(), 2, 1), 2.0 / (h * h));
        EXPECT_EQ(e.stored, r.stored);
        EXPECT_EQ(e.emergent, r.emergent);
        for (std::size_t i = 0; i < r.minima.size(); ++i) {
            EXPECT_NEAR(r.minima[i].position, e.minima[i].position[0], 1e-12);
            EXPECT_NEAR(r.minima[i].energy, e.minima[i].energy, 1e-12);
        }
    }
    // Gaussian exp(-s^2/2), s = u/h (beta_lse = 1/h^2): two modes iff h < 1.
    for (double h : hs) {
        energy_params p;
        p.kernel = kernel_kind::lse;
        p.beta = 1.0 / (h * h);
        const auto r = find_minima_1d(xs, p);
        ASSERT_EQ(r.minima.size(), h < 1 ? 2u : 1u) << h;
        // LSE never has a minimum exactly at a pattern (Prop. 1); at h = 0.2 the offset,
        // about 2 exp(-50), is below double resolution.
        if (h >= 0.5) {
            EXPECT_EQ(r.stored, 0) << h;
        }
        if (h >= 1) {
            EXPECT_NEAR(r.minima[0].position, 0.0, 1e-12);
        }
    }
    // Triangle: cusps at the patterns while the supports do not reach the other pattern;
    // the overlap between the patterns is flat; a flat minimum once it is the top level.
    for (double h : hs) {
        const auto r = find_minima_1d(xs, compact(kernel_kind::triangle, h));
        EXPECT_EQ(r.stored, h < 2 ? 2 : 0) << h;
        EXPECT_EQ(r.emergent, 0) << h;
        if (h <= 1) {
            EXPECT_TRUE(r.flat.empty()) << h;
        } else {
            ASSERT_EQ(r.flat.size(), 1u) << h;
            const double a = std::min(h - 1, 1.0);
            EXPECT_NEAR(r.flat[0].lo, -a, 1e-12);
            EXPECT_NEAR(r.flat[0].hi, a, 1e-12);
            EXPECT_EQ(r.flat[0].is_minimum, h >= 2) << h;
        }
    }
    // Tophat: flat everywhere; the highest level is the flat minimum.
    for (double h : hs) {
        const auto r = find_minima_1d(xs, compact(kernel_kind::tophat, h));
        EXPECT_TRUE(r.minima.empty());
        int flat_minima = 0;
        for (const auto& f : r.flat) flat_minima += f.is_minimum;
        EXPECT_EQ(flat_minima, h < 1 ? 2 : 1) << h;
        EXPECT_EQ(r.flat.size(), h < 1 ? 2u : 3u) << h;
    }
    // Triweight: stored while the other pattern is outside the support; no emergent minimum
    // at these widths (the paper's finding).
    for (double h : {0.2, 0.5, 1.5, 1.9}) {
        const auto r = find_minima_1d(xs, compact(kernel_kind::triweight, h));
        EXPECT_EQ(r.stored, 2) << h;
        EXPECT_EQ(r.emergent, 0) << h;
    }
    // Wide supports: every kernel merges into one minimum at 0.
    for (auto k : {kernel_kind::cosine,
                   kernel_kind::quartic,
                   kernel_kind::triweight,
                   kernel_kind::tricube,
                   kernel_kind::lsr}) {
        const auto r = find_minima_1d(xs, compact(k, 6.0));
        ASSERT_EQ(r.minima.size(), 1u) << denseam::to_string(k);
        EXPECT_NEAR(r.minima[0].position, 0.0, 1e-12);
    }
}

TEST(Minima1d, RandomSetsAgainstFineGrid) {
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<double> u(0.0, 4.0), hw(0.3, 2.0);
    int compared = 0;
    for (auto k : {kernel_kind::lsr,
                   kernel_kind::quartic,
                   kernel_kind::triweight,
                   kernel_kind::tricube,
                   kernel_kind::cosine,
                   kernel_kind::lse}) {
        for (int trial = 0; trial < 12; ++trial) {
            std::vector<double> xs(3 + trial % 4);
            for (auto& x : xs) x = u(rng);
            energy_params p = compact(k, hw(rng));
            const double r = std::sqrt(2.0 / p.beta);
            const auto res = find_minima_1d(xs, p);
            const int n = 400000;
            const double lo = -r - 0.1, hi = 4.0 + r + 0.1, dx = (hi - lo) / n;
            const auto grid = grid_maxima(xs, p, lo, hi, n);
            const std::string what =
                std::string(denseam::to_string(k)) + " trial " + std::to_string(trial);
            ASSERT_EQ(res.minima.size(), grid.size()) << what;
            for (std::size_t i = 0; i < grid.size(); ++i)
                EXPECT_NEAR(res.minima[i].position, grid[i], 2 * dx) << what;
            ++compared;
        }
    }
    EXPECT_EQ(compared, 72);
}

TEST(Minima1d, EnergiesNoveltyAndErrors) {
    const std::vector<double> xs = {-1.0, 1.0};
    energy_params p = compact(kernel_kind::lsr, std::sqrt(2.0 / 0.9), 1e-6);
    const auto r = find_minima_1d(xs, p);
    ASSERT_EQ(r.minima.size(), 3u);
    EXPECT_NEAR(r.minima[1].energy, -std::log(1e-6 + 2 - 0.9) / 0.9, 1e-12);
    EXPECT_NEAR(r.minima[0].energy, -std::log(1 + 1e-6) / 0.9, 1e-12);
    EXPECT_TRUE(r.minima[0].stored);
    EXPECT_TRUE(r.minima[1].novel);
    EXPECT_EQ(r.novel, 1);
    denseam::minima_1d_options o;
    o.novelty_threshold = 2.0;
    EXPECT_EQ(find_minima_1d(xs, p, o).novel, 0);
    // Identity Q: same positions, E = -Z.
    p.q = denseam::q_kind::identity;
    const auto ri = find_minima_1d(xs, p);
    ASSERT_EQ(ri.minima.size(), 3u);
    EXPECT_NEAR(ri.minima[1].energy, -(1e-6 + 2 - 0.9), 1e-12);
    // poly: concave energy, no minima.
    p.kernel = kernel_kind::poly;
    p.q = denseam::q_kind::automatic;
    EXPECT_TRUE(find_minima_1d(xs, p).minima.empty());
    p.kernel = kernel_kind::lsr;
    EXPECT_THROW(find_minima_1d(std::vector<double>{}, p), denseam::invalid_argument);
    EXPECT_THROW(find_minima_1d(std::vector<double>{0.0, NAN}, p), denseam::invalid_argument);
    p.beta = -1;
    EXPECT_THROW(find_minima_1d(xs, p), denseam::invalid_argument);
}
