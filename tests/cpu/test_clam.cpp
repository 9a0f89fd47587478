// SPDX-License-Identifier: MIT
// ClAM (include/denseam/clam.hpp) against oracles written here from the header's formulas, with
// no code shared with src/cluster: a naive loop of the T masked steps and the reconstruction
// loss; the adjoint gradient against central finite differences of clam_loss (LSE and LSR, T in
// {0, 1, 3, 10}, several beta; LSR configurations kept only where no state comes near a support
// boundary, so the loss is smooth there); the degenerate cases (no mask: loss and gradient 0;
// T = 0: the plain reconstruction error of the fill); recovery of well-separated blobs (ARI from
// its contingency-table formula); determinism in the seed and the thread count; clam_assign on
// the training data reproducing the labels (and a naive loop of the assignment); bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "denseam/clam.hpp"
#include "denseam/error.hpp"
#include "expect.hpp"

using namespace denseam;

namespace {

using dvec = std::vector<double>;
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

matrix_view<const double> view(const dvec& v, std::int64_t rows, std::int64_t cols) {
    return make_matrix_view<const double>(v.data(), rows, cols);
}

clam_dynamics dynamics(kernel_kind k, double beta, std::int64_t steps, double alpha = 0.1) {
    clam_dynamics d;
    d.kernel = k;
    d.beta = beta;
    d.steps = steps;
    d.alpha = alpha;
    return d;
}

// The pull g(v) of the header: lse sum_mu softmax_mu(-beta/2 |v - rho_mu|^2) (rho_mu - v);
// lsr sum_{mu: beta/2 |v - rho_mu|^2 < 1} (rho_mu - v) / sum_mu relu(1 - beta/2 |v - rho_mu|^2),
// 0 outside every support. Also returns, through `margin`, the smallest |beta/2 |v - rho|^2 - 1|
// seen (the distance of the LSR state to a support boundary).
dvec naive_pull(
    const dvec& v, const dvec& protos, std::int64_t k, const clam_dynamics& dyn, double& margin) {
    const std::size_t d = v.size();
    dvec q(static_cast<std::size_t>(k), 0.0), g(d, 0.0);
    for (std::int64_t m = 0; m < k; ++m)
        for (std::size_t j = 0; j < d; ++j) {
            const double r = protos[static_cast<std::size_t>(m) * d + j] - v[j];
            q[static_cast<std::size_t>(m)] += r * r;
        }
    dvec w(static_cast<std::size_t>(k), 0.0);
    if (dyn.kernel == kernel_kind::lse) {
        double top = -INFINITY;
        for (double qm : q) top = std::max(top, -dyn.beta / 2 * qm);
        double z = 0.0;
        for (std::int64_t m = 0; m < k; ++m) z += std::exp(-dyn.beta / 2 * q[m] - top);
        for (std::int64_t m = 0; m < k; ++m) w[m] = std::exp(-dyn.beta / 2 * q[m] - top) / z;
    } else {
        double s = 0.0;
        for (std::int64_t m = 0; m < k; ++m) {
            const double h = dyn.beta / 2 * q[m];
            margin = std::min(margin, std::abs(h - 1.0));
            if (h < 1.0) s += 1.0 - h;
        }
        for (std::int64_t m = 0; m < k; ++m)
            w[m] = (dyn.beta / 2 * q[m] < 1.0 && s > 0.0) ? 1.0 / s : 0.0;
    }
    for (std::int64_t m = 0; m < k; ++m)
        for (std::size_t j = 0; j < d; ++j)
            g[j] += w[m] * (protos[static_cast<std::size_t>(m) * d + j] - v[j]);
    return g;
}

// L = 1/(n d) sum_i sum_j m_ij (v_T,ij - x_ij)^2 from v_0 = m ? fill : x and
// v_{t+1} = v_t + alpha m (.) g(v_t).
double naive_loss(const dvec& x,
                  const dvec& mask,
                  const dvec& fill,
                  const dvec& protos,
                  std::int64_t n,
                  std::int64_t d,
                  std::int64_t k,
                  const clam_dynamics& dyn,
                  double* margin = nullptr) {
    double total = 0.0, mg = INFINITY;
    for (std::int64_t i = 0; i < n; ++i) {
        dvec v(static_cast<std::size_t>(d));
        for (std::int64_t j = 0; j < d; ++j) v[j] = mask[i * d + j] != 0.0 ? fill[j] : x[i * d + j];
        for (std::int64_t t = 0; t < dyn.steps; ++t) {
            const dvec g = naive_pull(v, protos, k, dyn, mg);
            for (std::int64_t j = 0; j < d; ++j) v[j] += dyn.alpha * mask[i * d + j] * g[j];
        }
        for (std::int64_t j = 0; j < d; ++j) {
            const double e = v[j] - x[i * d + j];
            total += mask[i * d + j] * e * e;
        }
    }
    if (margin) *margin = mg;
    return total / static_cast<double>(n * d);
}

// Labels by T unmasked steps from each point, then the nearest prototype.
std::vector<std::int64_t> naive_assign(const dvec& x,
                                       const dvec& protos,
                                       std::int64_t n,
                                       std::int64_t d,
                                       std::int64_t k,
                                       const clam_dynamics& dyn) {
    std::vector<std::int64_t> labels(static_cast<std::size_t>(n));
    double unused = INFINITY;
    for (std::int64_t i = 0; i < n; ++i) {
        dvec v(x.begin() + i * d, x.begin() + (i + 1) * d);
        for (std::int64_t t = 0; t < dyn.steps; ++t) {
            const dvec g = naive_pull(v, protos, k, dyn, unused);
            for (std::int64_t j = 0; j < d; ++j) v[j] += dyn.alpha * g[j];
        }
        double best = INFINITY;
        for (std::int64_t m = 0; m < k; ++m) {
            double q = 0.0;
            for (std::int64_t j = 0; j < d; ++j) {
                const double r = protos[m * d + j] - v[j];
                q += r * r;
            }
            if (q < best) {
                best = q;
                labels[i] = m;
            }
        }
    }
    return labels;
}

// Adjusted Rand index (Hubert and Arabie) from the contingency table of two labelings.
double ari(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
    std::map<std::pair<std::int64_t, std::int64_t>, double> table;
    std::map<std::int64_t, double> rows, cols;
    for (std::size_t i = 0; i < a.size(); ++i) {
        table[{a[i], b[i]}] += 1;
        rows[a[i]] += 1;
        cols[b[i]] += 1;
    }
    const auto c2 = [](double v) { return v * (v - 1) / 2; };
    double index = 0, sa = 0, sb = 0;
    for (const auto& [key, v] : table) index += c2(v);
    for (const auto& [key, v] : rows) sa += c2(v);
    for (const auto& [key, v] : cols) sb += c2(v);
    const double expected = sa * sb / c2(static_cast<double>(a.size()));
    const double max_index = (sa + sb) / 2;
    return (index - expected) / (max_index - expected);
}

dvec uniform(std::size_t n, std::mt19937_64& rng, double lo = 0.0, double hi = 1.0) {
    std::uniform_real_distribution<double> u(lo, hi);
    dvec v(n);
    for (auto& e : v) e = u(rng);
    return v;
}

// n points around `centers` (k x d) with standard deviation sd, cluster i % k.
struct blobs {
    dvec x;
    std::vector<std::int64_t> labels;
};
blobs make_blobs(const dvec& centers,
                 std::int64_t k,
                 std::int64_t d,
                 std::int64_t n,
                 double sd,
                 std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> z(0.0, sd);
    blobs b;
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t c = i % k;
        b.labels.push_back(c);
        for (std::int64_t j = 0; j < d; ++j) b.x.push_back(centers[c * d + j] + z(rng));
    }
    return b;
}

// k well-separated centers in d dimensions: +-10 along the axes.
dvec axis_centers(std::int64_t k, std::int64_t d) {
    dvec c(static_cast<std::size_t>(k * d), 0.0);
    for (std::int64_t m = 0; m < k; ++m) c[m * d + (m / 2) % d] = m % 2 ? -10.0 : 10.0;
    return c;
}

TEST(ClamOracle, AriOfThisFileIsRight) {
    // Relabelling does not matter; a worked example: a = {0,0,1,1}, b = {0,0,0,1}:
    // index 1, sum_a 2, sum_b 3, expected 2*3/6 = 1, max 2.5: ARI = 0.
    EXPECT_DOUBLE_EQ(ari({0, 0, 1, 1, 2, 2}, {5, 5, 3, 3, 9, 9}), 1.0);
    EXPECT_NEAR(ari({0, 0, 1, 1}, {0, 0, 0, 1}), 0.0, 1e-15);
    // a = {0,0,0,1,1,1}, b = {0,0,1,1,2,2}: index 2, sum_a 6, sum_b 3, expected 18/15,
    // max 4.5: ARI = (2 - 1.2) / (4.5 - 1.2).
    EXPECT_NEAR(ari({0, 0, 0, 1, 1, 1}, {0, 0, 1, 1, 2, 2}), 0.8 / 3.3, 1e-15);
}

// A random configuration: n points (uniform in [0, 1]^d), prototypes near some of them, a 0/1
// mask with at least one masked coordinate per point, the fill = the points' mean.
struct config {
    std::int64_t n, d, k;
    dvec x, mask, fill, protos;
};
config random_config(
    std::int64_t n, std::int64_t d, std::int64_t k, std::uint64_t seed, double mask_prob = 0.5) {
    std::mt19937_64 rng(seed);
    config c{n, d, k, uniform(static_cast<std::size_t>(n * d), rng), {}, {}, {}};
    std::uniform_real_distribution<double> u(0.0, 1.0);
    c.mask.assign(static_cast<std::size_t>(n * d), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
        for (std::int64_t j = 0; j < d; ++j) c.mask[i * d + j] = u(rng) < mask_prob ? 1.0 : 0.0;
        c.mask[i * d + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(d))] = 1.0;
    }
    c.fill.assign(static_cast<std::size_t>(d), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < d; ++j) c.fill[j] += c.x[i * d + j] / static_cast<double>(n);
    c.protos = uniform(static_cast<std::size_t>(k * d), rng, 0.1, 0.9);
    return c;
}

double loss_of(const config& c,
               const dvec& protos,
               const clam_dynamics& dyn,
               dvec* grad = nullptr,
               int threads = 1) {
    exec_options ex;
    ex.n_threads = threads;
    return clam_loss(
        view(c.x, c.n, c.d),
        view(c.mask, c.n, c.d),
        c.fill,
        view(protos, c.k, c.d),
        dyn,
        grad ? make_matrix_view<double>(grad->data(), c.k, c.d) : matrix_view<double>{},
        ex);
}

// max |adjoint - central difference| / max |adjoint| over every prototype coordinate, with the
// fourth-order central stencil (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / (12 h): truncation
// O(h^4), rounding O(eps L / h), both far below the 1e-7 asked for at h = 1e-4 (1e-5 for LSR,
// whose pull 1/S has large higher derivatives where S is small).
double fd_error(const config& c, const clam_dynamics& dyn, double h, double& gmax) {
    dvec grad(c.protos.size());
    loss_of(c, c.protos, dyn, &grad);
    const auto at = [&](std::size_t e, double delta) {
        dvec p = c.protos;
        p[e] += delta;
        return loss_of(c, p, dyn);
    };
    double err = 0.0;
    gmax = 0.0;
    for (std::size_t e = 0; e < c.protos.size(); ++e) {
        const double fd = (at(e, -2 * h) - 8 * at(e, -h) + 8 * at(e, h) - at(e, 2 * h)) / (12 * h);
        err = std::max(err, std::abs(fd - grad[e]));
        gmax = std::max(gmax, std::abs(grad[e]));
    }
    return gmax > 0 ? err / gmax : err;
}

TEST(ClamLoss, AdjointMatchesFiniteDifferencesLse) {
    int checked = 0;
    for (double beta : {0.5, 2.0, 8.0, 30.0})
        for (std::int64_t steps : {0, 1, 3, 10})
            for (double alpha : {0.1, 0.5}) {
                const config c = random_config(7, 4, 3, 100 + checked);
                const auto dyn = dynamics(kernel_kind::lse, beta, steps, alpha);
                double gmax = 0.0;
                const double rel = fd_error(c, dyn, 1e-4, gmax);
                SCOPED_TRACE("beta " + std::to_string(beta) + " T " + std::to_string(steps) +
                             " alpha " + std::to_string(alpha));
                if (steps == 0) {
                    EXPECT_EQ(gmax, 0.0);  // nothing moves: the prototypes do not matter
                } else {
                    EXPECT_GT(gmax, 1e-6);
                    EXPECT_LT(rel, 1e-7);
                }
                ++checked;
            }
}

TEST(ClamLoss, AdjointMatchesFiniteDifferencesLsrAwayFromSupportBoundaries) {
    int inside = 0;
    for (double beta : {1.0, 3.0, 8.0, 20.0})
        for (std::int64_t steps : {0, 1, 3, 10}) {
            const auto dyn = dynamics(kernel_kind::lsr, beta, steps, 0.1);
            // Draw configurations until every state of the T steps is at least 0.01 away from
            // every support boundary (in beta/2 |v - rho|^2), far more than the prototype
            // perturbations of the differences (2e-5) can move it.
            config c{};
            double margin = 0.0;
            std::uint64_t seed = 1000 * static_cast<std::uint64_t>(beta) + steps;
            for (int tries = 0; tries < 200 && margin < 1e-2; ++tries, ++seed) {
                c = random_config(6, 3, 3, seed);
                naive_loss(c.x, c.mask, c.fill, c.protos, c.n, c.d, c.k, dyn, &margin);
            }
            ASSERT_GE(margin, 1e-2) << "beta " << beta << " T " << steps;
            double gmax = 0.0;
            const double rel = fd_error(c, dyn, 1e-5, gmax);
            SCOPED_TRACE("beta " + std::to_string(beta) + " T " + std::to_string(steps));
            if (steps == 0) {
                EXPECT_EQ(gmax, 0.0);
            } else if (gmax > 0.0) {
                EXPECT_LT(rel, 1e-7);
                ++inside;
            }
        }
    EXPECT_GE(inside, 10);  // most configurations have points inside some support
}

TEST(ClamLoss, NaiveForwardGivesTheSameLoss) {
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr})
        for (double beta : {0.7, 4.0})
            for (std::int64_t steps : {1, 3, 10}) {
                const config c = random_config(9, 5, 4, 7 + steps);
                const auto dyn = dynamics(kernel, beta, steps, 0.2);
                const double want = naive_loss(c.x, c.mask, c.fill, c.protos, c.n, c.d, c.k, dyn);
                const double got = loss_of(c, c.protos, dyn);
                EXPECT_NEAR(got, want, 1e-12 * std::max(1.0, want))
                    << to_string(kernel) << " beta " << beta << " T " << steps;
                EXPECT_GT(want, 0.0);
            }
}

TEST(ClamLoss, WithoutMaskNothingMovesAndLossIsZero) {
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr})
        for (std::int64_t steps : {0, 5}) {
            config c = random_config(8, 4, 3, 3);
            std::fill(c.mask.begin(), c.mask.end(), 0.0);
            dvec grad(c.protos.size(), 1.0);
            const double l = loss_of(c, c.protos, dynamics(kernel, 2.0, steps), &grad);
            EXPECT_EQ(l, 0.0);
            for (double g : grad) EXPECT_EQ(g, 0.0);
        }
}

TEST(ClamLoss, ZeroStepsIsThePlainReconstructionErrorOfTheFill) {
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr}) {
        const config c = random_config(10, 6, 3, 11, 0.3);
        double want = 0.0;
        for (std::int64_t i = 0; i < c.n; ++i)
            for (std::int64_t j = 0; j < c.d; ++j) {
                const double e = c.fill[j] - c.x[i * c.d + j];
                want += c.mask[i * c.d + j] * e * e;
            }
        want /= static_cast<double>(c.n * c.d);
        dvec grad(c.protos.size(), 1.0);
        const double got = loss_of(c, c.protos, dynamics(kernel, 2.0, 0), &grad);
        EXPECT_NEAR(got, want, 1e-15);
        EXPECT_GT(want, 0.0);
        for (double g : grad) EXPECT_EQ(g, 0.0);
    }
}

TEST(ClamLoss, ThreadCountDoesNotChangeTheBits) {
    // Enough work that the library splits it over 3 threads (it caps the team at
    // n k d T / 2e6 = 7.2 here).
    const config c = random_config(600, 100, 12, 21, 0.2);
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr}) {
        const auto dyn = dynamics(kernel, 0.05, 10);
        dvec g1(c.protos.size()), g2(c.protos.size()), g3(c.protos.size());
        const double l1 = loss_of(c, c.protos, dyn, &g1, 1);
        const double l2 = loss_of(c, c.protos, dyn, &g2, 2);
        const double l3 = loss_of(c, c.protos, dyn, &g3, 3);
        EXPECT_EQ(l1, l2);
        EXPECT_EQ(l1, l3);
        EXPECT_EQ(g1, g2);
        EXPECT_EQ(g1, g3);
    }
}

TEST(ClamAssign, MatchesANaiveLoop) {
    std::mt19937_64 rng(5);
    const std::int64_t n = 200, d = 3, k = 5;
    const dvec x = uniform(static_cast<std::size_t>(n * d), rng, -2, 2);
    const dvec protos = uniform(static_cast<std::size_t>(k * d), rng, -2, 2);
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr})
        for (std::int64_t steps : {0, 10, 30}) {
            const auto dyn = dynamics(kernel, 1.0, steps, 0.3);
            const auto a = clam_assign(view(x, n, d), view(protos, k, d), dyn);
            EXPECT_EQ(a.labels, naive_assign(x, protos, n, d, k, dyn));
            ASSERT_EQ(a.states.size(), static_cast<std::size_t>(n * d));
            if (steps == 0) {
                EXPECT_EQ(a.states, x);
            }
        }
}

// ---- clam_fit --------------------------------------------------------------------------------

clam_result fit(const dvec& x, std::int64_t n, std::int64_t d, clam_options o, int threads = 1) {
    exec_options ex;
    ex.n_threads = threads;
    return clam_fit(view(x, n, d), o, ex);
}

clam_options options(kernel_kind kernel, std::int64_t k, std::uint64_t seed) {
    clam_options o;
    o.n_clusters = k;
    o.dynamics.kernel = kernel;
    o.dynamics.beta = 0.0;  // auto
    o.seed = seed;
    return o;
}

TEST(ClamFit, RecoversWellSeparatedBlobs) {
    const std::int64_t k = 4, d = 5, n = 300;
    const blobs b = make_blobs(axis_centers(k, d), k, d, n, 0.5, 42);
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr})
        for (std::uint64_t seed : {0, 1, 2}) {
            const clam_result r = fit(b.x, n, d, options(kernel, k, seed));
            EXPECT_GE(ari(b.labels, r.labels), 0.99) << to_string(kernel) << " seed " << seed;
            ASSERT_EQ(r.prototypes.size(), static_cast<std::size_t>(k * d));
            EXPECT_GT(r.beta, 0.0);
            EXPECT_GE(r.n_epochs, 1);
            ASSERT_EQ(r.loss_history.size(), static_cast<std::size_t>(r.n_epochs));
            EXPECT_EQ(r.best_loss, *std::min_element(r.loss_history.begin(), r.loss_history.end()));
            // The fill is the feature mean.
            for (std::int64_t j = 0; j < d; ++j) {
                double mean = 0.0;
                for (std::int64_t i = 0; i < n; ++i) mean += b.x[i * d + j];
                EXPECT_NEAR(r.fill[j], mean / n, 1e-12);
            }
        }
}

TEST(ClamFit, PredictOnTrainingDataReproducesTheLabels) {
    const std::int64_t k = 5, d = 3, n = 250;
    std::mt19937_64 rng(8);
    const dvec centers = uniform(static_cast<std::size_t>(k * d), rng, -4, 4);
    const blobs b = make_blobs(centers, k, d, n, 1.0, 9);  // overlapping: the dynamics matter
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr}) {
        clam_options o = options(kernel, k, 3);
        o.epochs = 20;
        const clam_result r = fit(b.x, n, d, o);
        clam_dynamics dyn = o.dynamics;
        dyn.beta = r.beta;
        const auto a = clam_assign(view(b.x, n, d), view(r.prototypes, k, d), dyn);
        EXPECT_EQ(a.labels, r.labels) << to_string(kernel);
        EXPECT_EQ(naive_assign(b.x, r.prototypes, n, d, k, dyn), r.labels) << to_string(kernel);
    }
}

TEST(ClamFit, GivenBetaIsUsedAndToleranceZeroRunsEveryEpoch) {
    const std::int64_t k = 3, d = 4, n = 90;
    const blobs b = make_blobs(axis_centers(k, d), k, d, n, 0.5, 1);
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr}) {
        clam_options o = options(kernel, k, 0);
        o.dynamics.beta = 0.02;
        o.epochs = 6;
        o.tol = 0.0;
        std::vector<std::pair<std::int64_t, double>> seen;
        o.progress = [&](std::int64_t e, double l) { seen.emplace_back(e, l); };
        const clam_result r = fit(b.x, n, d, o);
        EXPECT_EQ(r.beta, 0.02);
        EXPECT_EQ(r.n_epochs, 6);
        ASSERT_EQ(seen.size(), 6u);
        for (std::size_t e = 0; e < seen.size(); ++e) {
            EXPECT_EQ(seen[e].first, static_cast<std::int64_t>(e) + 1);
            EXPECT_EQ(seen[e].second, r.loss_history[e]);
            EXPECT_TRUE(std::isfinite(seen[e].second));
        }
    }
}

TEST(ClamFit, SameSeedSamePrototypesAtAnyThreadCount) {
    // One batch of every point, large enough that the library uses 3 threads (it caps the team
    // at n k d T / 2e6 = 7.2 here).
    const std::int64_t k = 10, d = 120, n = 600;
    std::mt19937_64 rng(13);
    const dvec centers = uniform(static_cast<std::size_t>(k * d), rng, -3, 3);
    const blobs b = make_blobs(centers, k, d, n, 1.0, 14);
    for (auto kernel : {kernel_kind::lse, kernel_kind::lsr}) {
        clam_options o = options(kernel, k, 7);
        o.epochs = 3;
        o.tol = 0.0;
        o.batch_size = n;
        const clam_result r1 = fit(b.x, n, d, o, 1);
        const clam_result r2 = fit(b.x, n, d, o, 2);
        const clam_result r3 = fit(b.x, n, d, o, 3);
        const clam_result again = fit(b.x, n, d, o, 1);
        EXPECT_EQ(r1.prototypes, again.prototypes);
        EXPECT_EQ(r1.prototypes, r2.prototypes);
        EXPECT_EQ(r1.prototypes, r3.prototypes);
        EXPECT_EQ(r1.labels, r2.labels);
        EXPECT_EQ(r1.labels, r3.labels);
        EXPECT_EQ(r1.loss_history, r2.loss_history);
        EXPECT_EQ(r1.loss_history, r3.loss_history);
        EXPECT_EQ(r1.beta, r3.beta);
        o.seed = 8;
        EXPECT_NE(fit(b.x, n, d, o, 1).prototypes, r1.prototypes);
    }
}

// ---- bad input -------------------------------------------------------------------------------

TEST(ClamErrors, DynamicsAreValidated) {
    expect_invalid([] { validate(dynamics(kernel_kind::poly, 1.0, 10)); }, "lse or lsr");
    expect_invalid([] { validate(dynamics(kernel_kind::tophat, 1.0, 10)); }, "tophat");
    for (double beta : {0.0, -1.0, inf, nan})
        expect_invalid([&] { validate(dynamics(kernel_kind::lse, beta, 10)); }, "beta");
    expect_invalid([] { validate(dynamics(kernel_kind::lsr, 1.0, -1)); }, "steps");
    for (double alpha : {0.0, -0.5, nan, inf})
        expect_invalid([&] { validate(dynamics(kernel_kind::lse, 1.0, 3, alpha)); }, "alpha");
    EXPECT_NO_THROW(validate(dynamics(kernel_kind::lsr, 1.0, 0)));
}

TEST(ClamErrors, LossAndAssignRefuseBadInput) {
    const config c = random_config(5, 3, 2, 1);
    const auto ok = dynamics(kernel_kind::lse, 1.0, 2);
    expect_invalid([&] { loss_of(c, c.protos, dynamics(kernel_kind::poly, 1.0, 2)); }, "lse");
    expect_invalid([&] { loss_of(c, c.protos, dynamics(kernel_kind::lse, -1.0, 2)); }, "beta");
    config bad = c;
    bad.x[4] = NAN;
    expect_invalid([&] { loss_of(bad, c.protos, ok); }, "x");
    bad = c;
    bad.fill.pop_back();
    expect_invalid([&] { loss_of(bad, c.protos, ok); }, "agree");
    bad = c;
    bad.mask.resize(4 * 3);
    bad.n = 5;
    expect_invalid(
        [&] { clam_loss(view(c.x, 5, 3), view(bad.mask, 4, 3), c.fill, view(c.protos, 2, 3), ok); },
        "agree");
    dvec g(3);
    expect_invalid(
        [&] {
            clam_loss(view(c.x, 5, 3),
                      view(c.mask, 5, 3),
                      c.fill,
                      view(c.protos, 2, 3),
                      ok,
                      make_matrix_view<double>(g.data(), 1, 3));
        },
        "grad");
    expect_invalid([&] { clam_assign(view(c.x, 5, 3), view(c.x, 2, 2), ok); }, "features");
    expect_invalid(
        [&] {
            clam_assign(view(c.x, 5, 3), view(c.protos, 2, 3), dynamics(kernel_kind::lsr, 1, -2));
        },
        "steps");
}

TEST(ClamErrors, FitRefusesBadOptionsAndData) {
    const std::int64_t n = 20, d = 3;
    std::mt19937_64 rng(2);
    const dvec x = uniform(static_cast<std::size_t>(n * d), rng);
    const auto with = [&](auto change) {
        clam_options o = options(kernel_kind::lse, 3, 0);
        o.epochs = 2;
        change(o);
        return [&x, o] { fit(x, n, d, o); };
    };
    expect_invalid(with([](clam_options& o) { o.dynamics.kernel = kernel_kind::poly; }), "lse");
    expect_invalid(with([](clam_options& o) { o.dynamics.beta = INFINITY; }), "beta");
    expect_invalid(with([](clam_options& o) { o.dynamics.steps = -1; }), "steps");
    expect_invalid(with([](clam_options& o) { o.dynamics.alpha = 0.0; }), "alpha");
    expect_invalid(with([](clam_options& o) { o.n_clusters = 0; }), "n_clusters");
    expect_invalid(with([](clam_options& o) { o.n_clusters = n + 1; }), "n_clusters");
    for (double p : {-0.1, 1.5, nan})
        expect_invalid(with([p](clam_options& o) { o.mask_prob = p; }), "mask_prob");
    expect_invalid(with([](clam_options& o) { o.learning_rate = 0.0; }), "learning_rate");
    expect_invalid(with([](clam_options& o) { o.epochs = 0; }), "epochs");
    expect_invalid(with([](clam_options& o) { o.batch_size = 0; }), "batch_size");
    expect_invalid(with([](clam_options& o) { o.tol = -1.0; }), "tol");
    expect_invalid(with([](clam_options& o) { o.patience = 0; }), "patience");
    dvec bad = x;
    bad[7] = NAN;
    expect_invalid([&] { fit(bad, n, d, options(kernel_kind::lsr, 3, 0)); }, "X");
    bad[7] = INFINITY;
    expect_invalid([&] { fit(bad, n, d, options(kernel_kind::lsr, 3, 0)); }, "X");
    expect_invalid([&] { clam_fit(matrix_view<const double>{}, options(kernel_kind::lse, 1, 0)); },
                   "X");
    // Limits that are fine: k = n, k = 1, mask_prob 0 and 1, a batch larger than n.
    for (auto change : {+[](clam_options& o) { o.n_clusters = 20; },
                        +[](clam_options& o) { o.n_clusters = 1; },
                        +[](clam_options& o) { o.mask_prob = 0.0; },
                        +[](clam_options& o) { o.mask_prob = 1.0; },
                        +[](clam_options& o) { o.batch_size = 1000; }}) {
        clam_options o = options(kernel_kind::lsr, 3, 0);
        o.epochs = 2;
        change(o);
        EXPECT_NO_THROW(fit(x, n, d, o));
    }
}

}  // namespace
