// SPDX-License-Identifier: MIT
// The C++ example of README.md, compiled and checked (keep the two in sync).
#include <gtest/gtest.h>

#include <denseam/retrieval.hpp>
#include <vector>

TEST(ReadmeExample, TwoPatternsAndTheEmergentMinimum) {
    // Two stored patterns in 1-D; LSR at beta = 0.9 keeps both and creates a third minimum at 0.
    std::vector<double> xi = {-1.0, 1.0}, x = {0.3, 0.6};
    denseam::energy_params p{.kernel = denseam::kernel_kind::lsr, .beta = 0.9};
    auto r = denseam::retrieve<double>(denseam::make_matrix_view<const double>(xi.data(), 2, 1),
                                       denseam::make_matrix_view<const double>(x.data(), 2, 1),
                                       p);
    // r.states == {0.0, 1.0}; r.support: {0, 1} and {1}; r.status: converged, converged
    EXPECT_EQ(r.states, (std::vector<double>{0.0, 1.0}));
    EXPECT_EQ(r.support.offsets, (std::vector<std::int64_t>{0, 2, 3}));
    EXPECT_EQ(r.support.indices, (std::vector<std::int64_t>{0, 1, 1}));
    EXPECT_EQ(r.status[0], denseam::retrieval_status::converged);
    EXPECT_EQ(r.status[1], denseam::retrieval_status::converged);
}
