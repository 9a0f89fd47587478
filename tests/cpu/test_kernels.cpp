// SPDX-License-Identifier: MIT
// The kernel list and the kernel facts derived from the policies (src/kernels/policies.hpp):
// names round-trip through to_string / parse_kernel, and every derived flag matches the table
// of docs/numerics.md and include/denseam/kernels.hpp, written out here by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <string>
#include <string_view>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "denseam/kernels.hpp"
#include "kernels/policies.hpp"

using denseam::kernel_kind;
using denseam::q_kind;

namespace {

struct expected_kernel {
    kernel_kind kind;
    std::string_view name;        // CLI / Python spelling (docs/numerics.md, first column)
    std::string_view paper_name;  // docs/experiments.md, AKEM
    bool distance;                // F of q = (beta/2) ||x - xi||^2 (all but poly)
    bool compact;                 // F = 0 for t >= 1 (all but lse and poly)
    bool exp_type;                // exp(-q) (lse only)
    q_kind automatic_q;           // log for distance kernels, identity for poly
    int slope_degree;             // degree of dK/du on a piece in 1-D; -1 = not polynomial
};

// clang-format off
constexpr std::array<expected_kernel, 9> expected = {{
    //  kind                     name         paper name      dist   compact exp    Q auto            slope
    {kernel_kind::lse,       "lse",       "Gaussian",     true,  false,  true,  q_kind::log,      -1},
    {kernel_kind::lsr,       "lsr",       "Epanechnikov", true,  true,   false, q_kind::log,       1},
    {kernel_kind::triangle,  "triangle",  "Triangle",     true,  true,   false, q_kind::log,       0},
    {kernel_kind::tophat,    "tophat",    "Uniform",      true,  true,   false, q_kind::log,       0},
    {kernel_kind::cosine,    "cosine",    "Cosine",       true,  true,   false, q_kind::log,      -1},
    {kernel_kind::quartic,   "quartic",   "Quartic",      true,  true,   false, q_kind::log,       3},
    {kernel_kind::triweight, "triweight", "Triweight",    true,  true,   false, q_kind::log,       5},
    {kernel_kind::tricube,   "tricube",   "Tricube",      true,  true,   false, q_kind::log,       8},
    {kernel_kind::poly,      "poly",      "Polynomial",   false, false,  false, q_kind::identity, -1},
}};
// clang-format on

}  // namespace

TEST(Kernels, ListMatchesTheDocumentedTable) {
    const std::vector<std::string> names = denseam::kernel_names();
    ASSERT_EQ(names.size(), expected.size());
    ASSERT_EQ(denseam::detail::kernel_count, expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(static_cast<std::size_t>(expected[i].kind), i) << "enum order";
        EXPECT_EQ(names[i], expected[i].name);
        EXPECT_EQ(denseam::detail::kernel_table[i].kind, expected[i].kind);
    }
}

TEST(Kernels, EveryKindRoundTripsThroughItsName) {
    for (const auto& e : expected) {
        SCOPED_TRACE(std::string(e.name));
        EXPECT_EQ(denseam::to_string(e.kind), e.name);
        EXPECT_EQ(denseam::parse_kernel(denseam::to_string(e.kind)), e.kind);
        EXPECT_EQ(denseam::parse_kernel(e.name), e.kind);
        const denseam::energy_params p = denseam::make_energy_params(e.name, 1.0, 0.0, "auto", 3);
        EXPECT_EQ(p.kernel, e.kind);
    }
}

TEST(Kernels, DerivedFlagsMatchTheDocumentedTable) {
    for (const auto& e : expected) {
        SCOPED_TRACE(std::string(e.name));
        EXPECT_EQ(denseam::uses_distance(e.kind), e.distance);
        EXPECT_EQ(denseam::has_compact_support(e.kind), e.compact);
        denseam::energy_params p;
        p.kernel = e.kind;
        EXPECT_EQ(denseam::resolved_q(p), e.automatic_q);
        EXPECT_EQ(denseam::akem_kernel_name(e.kind), e.paper_name);
        // The same facts straight from the policy type.
        denseam::detail::with_kernel(e.kind, [&](auto pol) {
            using P = decltype(pol);
            EXPECT_EQ(P::kind, e.kind);
            EXPECT_EQ(P::name, e.name);
            EXPECT_EQ(P::paper_name, e.paper_name);
            EXPECT_EQ(P::distance, e.distance);
            EXPECT_EQ(P::compact, e.compact);
            EXPECT_EQ(P::exp_type, e.exp_type);
            EXPECT_EQ(P::slope_degree, e.slope_degree);
        });
        const auto* info = denseam::detail::find_kernel_info(e.kind);
        ASSERT_NE(info, nullptr);
        EXPECT_EQ(info->name, e.name);
        EXPECT_EQ(info->slope_degree, e.slope_degree);
    }
}

// A compact kernel vanishes from q = 1 on (the boundary rule); the others do not.
TEST(Kernels, CompactFlagMatchesTheValues) {
    for (const auto& e : expected) {
        if (!e.distance) continue;
        SCOPED_TRACE(std::string(e.name));
        denseam::energy_params p;
        p.kernel = e.kind;
        EXPECT_GT(denseam::detail::kernel_value(p, 0.5), 0.0);
        EXPECT_EQ(denseam::detail::kernel_value(p, 1.0) == 0.0, e.compact);
        EXPECT_EQ(denseam::detail::kernel_value(p, 2.0) == 0.0, e.compact);
        EXPECT_EQ(denseam::detail::kernel_weight(p, 1.0), e.compact ? 0.0 : std::exp(-1.0));
    }
}

// slope_degree is what the exact 1-D analysis relies on: with beta = 2 (R = 1, q = u^2), the
// slope dK/du = -2u w(u^2) on 0 < u < 1 is a polynomial of exactly that degree.
TEST(Kernels, SlopeDegreeIsTheDegreeOfTheSlope) {
    auto slope = [](const denseam::energy_params& p, double u) {
        return -2.0 * u * denseam::detail::kernel_weight(p, u * u);
    };
    // Residual at off-node points of the interpolant of degree `deg` through Chebyshev nodes.
    auto misfit = [&](const denseam::energy_params& p, int deg) {
        const int n = deg + 1;
        std::vector<double> s(n), v(n);
        for (int k = 0; k < n; ++k) {
            s[k] = 0.5 + 0.45 * std::cos(std::numbers::pi * (2.0 * k + 1.0) / (2.0 * n));
            v[k] = slope(p, s[k]);
        }
        double worst = 0.0;
        for (double x = 0.07; x < 0.95; x += 0.0731) {
            double lag = 0.0;  // Lagrange form
            for (int i = 0; i < n; ++i) {
                double li = 1.0;
                for (int j = 0; j < n; ++j)
                    if (j != i) li *= (x - s[j]) / (s[i] - s[j]);
                lag += v[i] * li;
            }
            worst = std::max(worst, std::abs(lag - slope(p, x)));
        }
        return worst;
    };
    for (const auto& e : expected) {
        if (e.slope_degree < 0) continue;
        SCOPED_TRACE(std::string(e.name));
        denseam::energy_params p;
        p.kernel = e.kind;
        p.beta = 2.0;
        EXPECT_LT(misfit(p, e.slope_degree), 1e-9);
        if (e.slope_degree >= 1) {
            EXPECT_GT(misfit(p, e.slope_degree - 1), 1e-6);
        }
    }
}

TEST(Kernels, UnknownNamesAndValuesAreRejected) {
    try {
        (void)denseam::parse_kernel("gaussian");
        FAIL() << "no exception";
    } catch (const denseam::invalid_argument& ex) {
        EXPECT_EQ(std::string(ex.what()),
                  "unknown kernel 'gaussian' (choose one of: lse, lsr, triangle, tophat, cosine, "
                  "quartic, triweight, tricube, poly)");
    }
    const auto past_end = static_cast<kernel_kind>(expected.size());
    EXPECT_EQ(denseam::detail::find_kernel_info(past_end), nullptr);
    EXPECT_EQ(denseam::to_string(past_end), "?");
    EXPECT_EQ(denseam::akem_kernel_name(past_end), "?");
    denseam::energy_params p;
    p.kernel = past_end;
    EXPECT_THROW(denseam::validate(p), denseam::invalid_argument);
}
