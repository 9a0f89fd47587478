// SPDX-License-Identifier: MIT
// Internals of the LSR enumerators (src/minima/lsr_common.hpp): deduplication, the clique
// counter, and the clique pass with and without its per-anchor row cache.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "minima/lsr_common.hpp"
#include "oracle.hpp"

using namespace denseam::minima_detail;

namespace {
using oracle::uniform;  // uniform [0, 1) values of std::mt19937_64(seed)
}  // namespace

TEST(MinimaInternal, PatternSetGroupsIdenticalRows) {
    const std::vector<double> x = {1, 2, 0, 0, 1, 2, -0.0, 0, 5, 5};
    const auto ps = make_pattern_set(denseam::make_matrix_view(x.data(), 5, 2));
    ASSERT_EQ(ps.n, 3);
    EXPECT_EQ(ps.n_original, 5);
    EXPECT_EQ(ps.w, (std::vector<double>{2, 2, 1}));
    EXPECT_EQ(ps.group_offsets, (std::vector<std::int64_t>{0, 2, 4, 5}));
    EXPECT_EQ(ps.group_members, (std::vector<std::int64_t>{0, 2, 1, 3, 4}));
    EXPECT_EQ(ps.row(1)[0], 0.0);
}

TEST(MinimaInternal, CliqueCounterMatchesBruteForce) {
    for (std::uint64_t seed = 0; seed < 20; ++seed) {
        const int n = 6 + seed % 12;
        const auto x = uniform(n * 2, 300 + seed);
        const auto ps = make_pattern_set(denseam::make_matrix_view(x.data(), n, 2));
        const double r2 = 0.02 + 0.01 * seed;
        const auto adj = interaction_graph(ps, r2, {});
        std::int64_t brute = 0;
        for (std::uint64_t mask = 1; mask < (std::uint64_t{1} << n); ++mask) {
            bool clique = true;
            for (int a = 0; a < n && clique; ++a)
                for (int b = a + 1; b < n && clique; ++b)
                    if (((mask >> a) & 1) && ((mask >> b) & 1))
                        clique = std::find(adj[a].begin(), adj[a].end(), b) != adj[a].end();
            brute += clique;
        }
        EXPECT_EQ(count_cliques_capped(adj, 1 << 20), brute);
        EXPECT_EQ(count_cliques_capped(adj, brute - 1), brute);  // cap exceeded: cap + 1
    }
}

TEST(MinimaInternal, CliquePassWithoutRowCacheIsIdentical) {
    const int n = 300;
    const auto x = uniform(n * 3, 400);
    const auto ps = make_pattern_set(denseam::make_matrix_view(x.data(), n, 3));
    const double r2 = 2.0 / 150.0;
    const auto adj = interaction_graph(ps, r2, {});
    const auto cached = clique_pass(ps, r2, adj, 0, {}, {}, 3000);
    const auto uncached = clique_pass(ps, r2, adj, 0, {}, {}, 0);
    EXPECT_EQ(cached.candidates, uncached.candidates);
    EXPECT_EQ(cached.offsets, uncached.offsets);
    EXPECT_EQ(cached.indices, uncached.indices);
    EXPECT_GT(cached.offsets.size(), static_cast<std::size_t>(n / 2));
}
