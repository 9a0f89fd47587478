// SPDX-License-Identifier: MIT
// Property: every minimum reached by 10,000 random-start LSR fixed-point retrievals
// (denseam::retrieve, strict rule) is in the exactly enumerated set, at the same position.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "denseam/minima.hpp"
#include "denseam/retrieval.hpp"

namespace {

struct config {
    int M, d;
    double beta;
    std::uint64_t seed;
};

}  // namespace

class MinimaRetrieval : public ::testing::TestWithParam<config> {};

TEST_P(MinimaRetrieval, EveryRetrievedFixedPointIsEnumerated) {
    const auto [M, d, beta, seed] = GetParam();
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    std::vector<double> x(static_cast<std::size_t>(M) * d);
    for (auto& v : x) v = u(rng);
    const auto view = denseam::make_matrix_view(x.data(), M, d);
    const auto enumerated = denseam::find_lsr_minima(view, beta);
    ASSERT_EQ(enumerated.status, denseam::minima_status::complete);
    std::map<std::vector<std::int64_t>, const denseam::minimum*> by_support;
    for (const auto& m : enumerated.minima) by_support[m.support] = &m;

    // Half the starts uniform in the cube [0,1)^d widened by R, half a random pattern plus a
    // uniform offset in [-R, R]^d / sqrt(d) (in high d the first kind rarely lands in a support).
    const int n = 10000;
    const double r = std::sqrt(2.0 / beta);
    std::vector<double> q(static_cast<std::size_t>(n) * d);
    std::uniform_int_distribution<int> pick(0, M - 1);
    for (int i = 0; i < n; ++i) {
        const int mu = pick(rng);
        for (int j = 0; j < d; ++j)
            q[static_cast<std::size_t>(i) * d + j] =
                i % 2 == 0 ? -r + (1.0 + 2.0 * r) * u(rng)
                           : x[static_cast<std::size_t>(mu) * d + j] +
                                 r / std::sqrt(double(d)) * (2.0 * u(rng) - 1.0);
    }
    denseam::energy_params p;
    p.kernel = denseam::kernel_kind::lsr;
    p.beta = beta;
    const auto res = denseam::retrieve<double>(view, denseam::make_matrix_view(q.data(), n, d), p);
    int converged = 0;
    std::map<std::vector<std::int64_t>, int> reached;
    for (int i = 0; i < n; ++i) {
        if (res.status[i] != denseam::retrieval_status::converged) continue;
        ++converged;
        std::vector<std::int64_t> s(res.support.indices.begin() + res.support.offsets[i],
                                    res.support.indices.begin() + res.support.offsets[i + 1]);
        std::sort(s.begin(), s.end());
        const auto it = by_support.find(s);
        ASSERT_NE(it, by_support.end()) << "retrieval " << i << " reached a support of size "
                                        << s.size() << " that is not an enumerated minimum";
        for (int j = 0; j < d; ++j)
            EXPECT_NEAR(
                res.states[static_cast<std::size_t>(i) * d + j], it->second->position[j], 1e-12);
        ++reached[s];
    }
    EXPECT_GT(converged, n / 10);
    // The retrievals find a good share of the minima (they are a search, not an enumeration).
    EXPECT_GT(reached.size(), std::min<std::size_t>(enumerated.minima.size(), 5));
}

INSTANTIATE_TEST_SUITE_P(Configs,
                         MinimaRetrieval,
                         ::testing::Values(config{40, 2, 60.0, 1},
                                           config{25, 3, 12.0, 2},
                                           config{60, 2, 150.0, 3},
                                           config{15, 8, 3.0, 4}));
