// SPDX-License-Identifier: MIT
// Regenerated random projections (projections.hpp). A row is a pure function of (seed, row):
// a 64-bit key per row (splitmix64), then two counter hashes per pair of coordinates, then
// Box-Muller in float with the vectorised log and sincos of engine/fastmath.hpp.
#define EIGEN_DONT_PARALLELIZE  // one thread per group: the same bits at any thread count
#include "features/projections.hpp"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/fastmath.hpp"
#include "engine/rng.hpp"

namespace denseam::detail {

namespace {

// Streams of the map's randomness: the projections, the orthogonal groups' norms, the phases.
constexpr std::uint64_t salt_rows = 0x70726f6a65637473ULL;
constexpr std::uint64_t salt_norms = 0x6e6f726d73636869ULL;
constexpr std::uint64_t salt_phases = 0x7068617365737475ULL;

// A 32-bit bijective mixer (xorshift-multiply rounds); vectorises with 32-bit multiplies.
inline std::uint32_t mix32(std::uint32_t x) noexcept {
    x ^= x >> 16;
    x *= 0x21f0aaadu;
    x ^= x >> 15;
    x *= 0x735a2d97u;
    x ^= x >> 15;
    return x;
}

std::uint64_t row_key(std::uint64_t seed, std::uint64_t salt, std::int64_t row) noexcept {
    return splitmix64(splitmix64(seed ^ salt) ^ static_cast<std::uint64_t>(row));
}

// Two standard normals from pair j of a row's key (Box-Muller on two counter hashes).
inline void pair_normals(
    std::uint32_t j, std::uint32_t k0, std::uint32_t k1, float& zc, float& zs) {
    const std::uint32_t a = mix32(mix32(2u * j + k0) ^ k1);
    const std::uint32_t b = mix32(mix32(2u * j + 1u + k0) ^ k1);
    // u1 in (0, 1) (never 0: the log is finite), u2 in [0, 1).
    const float u1 =
        (static_cast<float>(static_cast<std::int32_t>(a >> 8)) + 0.5f) * 5.9604644775390625e-08f;
    const float u2 =
        static_cast<float>(static_cast<std::int32_t>(b >> 8)) * 5.9604644775390625e-08f;
    const float r = std::sqrt(-2.0f * fast_log(u1));
    float s, c;
    sincos_turns(u2, s, c);
    zc = r * c;
    zs = r * s;
}

// dim standard normals for one key: out[j] (j < half) from the cosine of pair j, out[half + j]
// from its sine, half = ceil(dim / 2).
void normal_row(std::uint64_t key, std::int64_t dim, float* out) {
    const auto k0 = static_cast<std::uint32_t>(key);
    const auto k1 = static_cast<std::uint32_t>(key >> 32);
    const std::int64_t half = (dim + 1) / 2;
    const std::int64_t n_sin = dim - half;  // half or half - 1
    float* zc = out;
    float* zs = out + half;
#pragma omp simd
    for (std::int64_t j = 0; j < n_sin; ++j)
        pair_normals(static_cast<std::uint32_t>(j), k0, k1, zc[j], zs[j]);
    if (n_sin < half) {
        float unused;
        pair_normals(static_cast<std::uint32_t>(n_sin), k0, k1, zc[n_sin], unused);
    }
}

// Rows [g dim, g dim + dim) of an orthogonal map: Haar-random orthonormal directions (QR of a
// Gaussian matrix, signs fixed by R's diagonal) times independent chi_dim norms.
void orthogonal_group(const feature_params& p, std::int64_t dim, std::int64_t g, float* out) {
    const auto n = static_cast<Eigen::Index>(dim);
    Eigen::MatrixXd gauss(n, n);
    std::vector<float> row(static_cast<std::size_t>(dim));
    std::vector<double> norms(static_cast<std::size_t>(dim));
    for (std::int64_t i = 0; i < dim; ++i) {
        normal_row(row_key(p.seed, salt_rows, g * dim + i), dim, row.data());
        for (std::int64_t k = 0; k < dim; ++k) gauss(i, k) = row[static_cast<std::size_t>(k)];
        normal_row(row_key(p.seed, salt_norms, g * dim + i), dim, row.data());
        double s = 0.0;
        for (float v : row) s += static_cast<double>(v) * v;
        norms[static_cast<std::size_t>(i)] = std::sqrt(s);
    }
    Eigen::HouseholderQR<Eigen::MatrixXd> qr(gauss);
    Eigen::MatrixXd q = qr.householderQ();
    for (Eigen::Index k = 0; k < n; ++k)
        if (qr.matrixQR()(k, k) < 0) q.col(k) = -q.col(k);
    for (std::int64_t i = 0; i < dim; ++i)
        for (std::int64_t k = 0; k < dim; ++k)
            out[i * dim + k] =
                static_cast<float>(norms[static_cast<std::size_t>(i)] *
                                   q(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)));
}

}  // namespace

std::int64_t block_rows(const feature_params& params, std::int64_t dim) noexcept {
    if (!params.orthogonal) return projection_block;
    return dim * std::max<std::int64_t>(1, (projection_block + dim - 1) / dim);
}

void generate_projections(const feature_params& params,
                          std::int64_t dim,
                          std::int64_t first,
                          std::int64_t rows,
                          float* out) {
    if (!params.orthogonal) {
        for (std::int64_t i = 0; i < rows; ++i)
            normal_row(row_key(params.seed, salt_rows, first + i), dim, out + i * dim);
        return;
    }
    std::vector<float> group;
    for (std::int64_t i = 0; i < rows;) {
        const std::int64_t row = first + i;
        const std::int64_t g = row / dim, in_group = row - g * dim;
        const std::int64_t take = std::min(rows - i, dim - in_group);
        if (in_group == 0 && take == dim) {
            orthogonal_group(params, dim, g, out + i * dim);
        } else {
            group.resize(static_cast<std::size_t>(dim * dim));
            orthogonal_group(params, dim, g, group.data());
            std::copy(group.begin() + in_group * dim,
                      group.begin() + (in_group + take) * dim,
                      out + i * dim);
        }
        i += take;
    }
}

std::vector<double> phase_turns(const feature_params& params) {
    if (params.kind != feature_kind::fourier_phase) return {};
    const std::int64_t n = n_projections(params);
    std::vector<double> b(static_cast<std::size_t>(n));
    const std::uint64_t key = splitmix64(params.seed ^ salt_phases);
    for (std::int64_t i = 0; i < n; ++i)
        b[static_cast<std::size_t>(i)] = counter_uniform(key, static_cast<std::uint64_t>(i));
    return b;
}

}  // namespace denseam::detail
