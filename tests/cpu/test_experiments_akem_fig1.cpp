// SPDX-License-Identifier: MIT
// AKEM (paper.md 3.4) against an independent derivative-sign oracle and analytic facts, and
// Fig. 1 (paper.md 3.1, V1, V3) counts, positions and landscapes.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"

namespace {

using denseam::kernel_kind;

// d/dx of the kernel bump K((x - c)/h) (up to the positive factor 1/h), written from the
// textbook kernel shapes, not from the library's q-parametrisation.
double bump_slope(kernel_kind k, double x, double c, double h) {
    const double s = (x - c) / h, a = std::abs(s), sg = s > 0 ? 1.0 : (s < 0 ? -1.0 : 0.0);
    if (k == kernel_kind::lse) return -s * std::exp(-0.5 * s * s);
    if (a >= 1.0) return 0.0;
    switch (k) {
        case kernel_kind::lsr:
            return -2.0 * s;
        case kernel_kind::cosine:
            return -0.5 * std::numbers::pi * std::sin(0.5 * std::numbers::pi * a) * sg;
        case kernel_kind::quartic:
            return -4.0 * s * (1 - s * s);
        case kernel_kind::triweight:
            return -6.0 * s * (1 - s * s) * (1 - s * s);
        case kernel_kind::tricube:
            return -9.0 * a * a * sg * (1 - a * a * a) * (1 - a * a * a);
        default:
            return NAN;
    }
}

// Maxima of Z = K(x+1) + K(x-1) (minima of E) = sign changes of Z' from + to - on a fine grid.
std::vector<double> oracle_minima(kernel_kind k, double h) {
    std::vector<double> out;
    const double lo = -1 - h - 0.5, hi = 1 + h + 0.5, step = 1e-4;
    int last = 0;
    double last_x = lo;
    for (double x = lo; x <= hi; x += step) {
        const double g = bump_slope(k, x, -1, h) + bump_slope(k, x, 1, h);
        const int sign = g > 0 ? 1 : (g < 0 ? -1 : 0);
        if (sign == 0) continue;
        if (last == 1 && sign == -1) out.push_back(0.5 * (last_x + x));
        last = sign;
        last_x = x;
    }
    return out;
}

const denseam::akem_panel& panel(const denseam::akem_result& r, kernel_kind k, double h) {
    for (const auto& p : r.panels)
        if (p.kernel == k && p.h == h) return p;
    throw std::runtime_error("no panel");
}

TEST(Akem, SmoothKernelsMatchDerivativeOracle) {
    const denseam::akem_result r = denseam::run_akem();
    ASSERT_EQ(r.n_kernels, 8);
    ASSERT_EQ(r.n_widths, 7);
    ASSERT_EQ(r.panels.size(), 56u);
    ASSERT_EQ(r.grid.size(), 1000u);
    for (kernel_kind k : {kernel_kind::lse,
                          kernel_kind::lsr,
                          kernel_kind::cosine,
                          kernel_kind::quartic,
                          kernel_kind::triweight,
                          kernel_kind::tricube})
        for (double h : {0.2, 0.5, 1.5, 1.9, 2.0, 2.3, 3.0}) {
            const auto& p = panel(r, k, h);
            const auto want = oracle_minima(k, h);
            ASSERT_EQ(p.minima.minima.size(), want.size()) << denseam::to_string(k) << " h=" << h;
            for (std::size_t i = 0; i < want.size(); ++i)
                EXPECT_NEAR(p.minima.minima[i].position, want[i], 2e-4)
                    << denseam::to_string(k) << " h=" << h;
            EXPECT_TRUE(p.minima.flat.empty()) << denseam::to_string(k) << " h=" << h;
            EXPECT_EQ(p.energy.size(), 1000u);
        }
}

TEST(Akem, PaperFindings) {
    const denseam::akem_result r = denseam::run_akem();
    // Epanechnikov h = 1.5 (LSR beta = 2/h^2): the stored patterns and one emergent at 0.
    const auto& e = panel(r, kernel_kind::lsr, 1.5);
    ASSERT_EQ(e.minima.minima.size(), 3u);
    EXPECT_DOUBLE_EQ(e.minima.minima[0].position, -1.0);
    EXPECT_NEAR(e.minima.minima[1].position, 0.0, 1e-12);
    EXPECT_DOUBLE_EQ(e.minima.minima[2].position, 1.0);
    EXPECT_TRUE(e.minima.minima[0].stored && e.minima.minima[2].stored);
    EXPECT_TRUE(e.minima.minima[1].novel);
    EXPECT_EQ(e.near_pattern, 2);
    EXPECT_EQ(e.emergent, 1);
    EXPECT_TRUE(e.global_emergence);
    EXPECT_DOUBLE_EQ(e.params.beta, 2.0 / 2.25);
    // Triweight: never emergence (paper C); two minima near +-1, then one merged minimum.
    for (double h : {0.2, 0.5, 1.5, 1.9, 2.0, 2.3, 3.0}) {
        const auto& t = panel(r, kernel_kind::triweight, h);
        EXPECT_FALSE(t.global_emergence) << h;
        if (h <= 2.0) {
            EXPECT_EQ(t.near_pattern, 2) << h;
            EXPECT_EQ(t.emergent, 0) << h;
        } else {
            ASSERT_EQ(t.minima.minima.size(), 1u) << h;
            EXPECT_NEAR(t.minima.minima[0].position, 0.0, 1e-9);
        }
    }
    // Gaussian (LSE, beta = 1/h^2): never emergence (paper Prop. 1).
    for (double h : {0.2, 0.5, 1.5, 1.9, 2.0, 2.3, 3.0})
        EXPECT_FALSE(panel(r, kernel_kind::lse, h).global_emergence) << h;
    EXPECT_DOUBLE_EQ(panel(r, kernel_kind::lse, 2.0).params.beta, 0.25);
    // Triangle h = 2.0: Z = 2 - 2/h = 1 on all of [-1, 1] and lower outside: a flat minimum,
    // reported as one interval, not as hundreds of minima; no strict minimum.
    const auto& tr = panel(r, kernel_kind::triangle, 2.0);
    EXPECT_TRUE(tr.minima.minima.empty());
    ASSERT_EQ(tr.flat_minima, 1);
    bool found = false;
    for (const auto& f : tr.minima.flat)
        if (f.is_minimum) {
            EXPECT_NEAR(f.lo, -1.0, 1e-9);
            EXPECT_NEAR(f.hi, 1.0, 1e-9);
            found = true;
        }
    EXPECT_TRUE(found);
    // Triangle h = 1.5: cusp minima at the patterns, a flat non-minimum plateau [-0.5, 0.5]
    // (Z = 2 - 2/1.5 = 2/3 there, rising to 1 at the patterns).
    const auto& t15 = panel(r, kernel_kind::triangle, 1.5);
    ASSERT_EQ(t15.minima.minima.size(), 2u);
    EXPECT_DOUBLE_EQ(t15.minima.minima[0].position, -1.0);
    EXPECT_DOUBLE_EQ(t15.minima.minima[1].position, 1.0);
    EXPECT_EQ(t15.flat_minima, 0);
    EXPECT_NEAR(t15.flat_length, 1.0, 1e-9);
    // Uniform: zero gradient almost everywhere, no strict minimum anywhere.
    for (double h : {0.2, 0.5, 1.5, 1.9, 2.0, 2.3, 3.0})
        EXPECT_TRUE(panel(r, kernel_kind::tophat, h).minima.minima.empty()) << h;
}

TEST(Akem, OptionsAndErrors) {
    denseam::akem_options o;
    o.kernels = {kernel_kind::lsr};
    o.widths = {0.5, 1.5};
    o.grid_points = 0;
    const auto r = denseam::run_akem(o);
    ASSERT_EQ(r.panels.size(), 2u);
    EXPECT_TRUE(r.panels[0].energy.empty());
    EXPECT_EQ(denseam::akem_kernel_name(kernel_kind::lsr), "Epanechnikov");
    o.kernels = {kernel_kind::poly};
    EXPECT_THROW(denseam::run_akem(o), denseam::invalid_argument);
    o.kernels = {kernel_kind::lsr};
    o.widths = {-1.0};
    EXPECT_THROW(denseam::run_akem(o), denseam::invalid_argument);
    const std::string j = denseam::to_json(denseam::run_akem());
    EXPECT_NE(j.find("\"global_emergence\":true"), std::string::npos);
}

TEST(Fig1, ExactCountsAndLandscapes) {
    denseam::fig1_options o;
    o.landscapes = true;
    o.n_2d = 60;
    const denseam::fig1_result r = denseam::run_fig1(o);
    ASSERT_EQ(r.panels.size(), 10u);
    const int want_n[] = {1, 3, 2, 1, 2, 2, 1, 4, 7, 3};
    const int want_e[] = {1, 1, 0, 1, 2, 0, 1, 1, 4, 0};
    for (std::size_t i = 0; i < 10; ++i) {
        const auto& p = r.panels[i];
        int emergent = 0;
        for (const auto& m : p.search.minima) emergent += m.stored ? 0 : 1;
        EXPECT_EQ(static_cast<int>(p.search.minima.size()), want_n[i])
            << p.name << " " << p.params.beta;
        EXPECT_EQ(emergent, want_e[i]) << p.name << " " << p.params.beta;
        EXPECT_EQ(p.paper_minima, want_n[i]);
        const std::size_t n = p.dim == 1 ? 200u : 3600u;
        EXPECT_EQ(p.energy.size(), n);
        EXPECT_EQ(p.unsupported.size(), n);
    }
    // V1: beta = 0.9, E(0) = -(1/beta) log(2 - beta + eps).
    const auto& v1 = r.panels[1];
    EXPECT_EQ(v1.method, "exact-lsr");
    EXPECT_NEAR(v1.search.minima[1].energy, -std::log(1.1 + 1e-6) / 0.9, 1e-12);
    EXPECT_NEAR(v1.search.minima[1].position[0], 0.0, 1e-15);
    // LSE beta = 1.5: x = tanh(1.5 x) at +-0.8586 (farther than 0.1 from the patterns).
    const auto& lse = r.panels[4];
    EXPECT_EQ(lse.method, "exact-1d");
    for (const auto& m : lse.search.minima) {
        EXPECT_NEAR(m.position[0], std::tanh(1.5 * m.position[0]), 1e-9);
        EXPECT_GT(m.hessian_min_eigenvalue, 0.0);
    }
    // beta = 2.1 (eps = 1e-6): the gap around 0 is the unsupported plateau -(1/beta) log eps.
    const auto& gap = r.panels[2];
    bool plateau = false;
    for (std::size_t i = 0; i < gap.energy.size(); ++i)
        if (gap.unsupported[i]) {
            EXPECT_NEAR(gap.energy[i], -std::log(1e-6) / 2.1, 1e-9);
            plateau = true;
        }
    EXPECT_TRUE(plateau);
    // V3 at beta = 1.1: midpoints 0.0957823, centroid 0.2028578; Thm. 2 radius of a midpoint.
    const auto& tri = r.panels[8];
    EXPECT_EQ(tri.grid_y.size(), 60u);
    int mids = 0;
    for (std::size_t i = 0; i < tri.search.minima.size(); ++i) {
        const auto& m = tri.search.minima[i];
        if (m.support.size() == 2) {
            ++mids;
            EXPECT_NEAR(m.energy, 0.0957823, 2e-6);
            EXPECT_NEAR(tri.basin_radius[i], 0.221966, 1e-5);
        }
        if (m.support.size() == 3) {
            EXPECT_NEAR(m.energy, 0.2028578, 2e-6);
        }
    }
    EXPECT_EQ(mids, 3);
    // Without landscapes (what `denseam demo` runs) the document stays small.
    const auto plain = denseam::run_fig1();
    EXPECT_TRUE(plain.panels[0].energy.empty());
    EXPECT_EQ(denseam::to_json(plain).find("grid_x"), std::string::npos);
}

}  // namespace
