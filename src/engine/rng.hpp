// SPDX-License-Identifier: MIT
// The library's random numbers, in one place. Bit-reproducible everywhere: the standard library's
// distributions are not specified bit for bit, so uniforms and normals are made here from raw bits.
//   - counter-based draws (splitmix64 of keys): a value depends only on its keys (seed, query,
//     step, coordinate...), never on batching or threads;
//   - stream draws from std::mt19937_64 (fully specified by the standard) for sequential samplers.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <vector>

namespace denseam::detail {

/// SplitMix64's output function (Steele, Lea, Flood 2014): a bijective 64-bit mixer.
constexpr std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/// The top 53 bits of `bits` as a double in [0, 1).
constexpr double unit_double(std::uint64_t bits) noexcept {
    return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

/// A uniform double in [0, 1) from a 64-bit generator.
inline double unit_double(std::mt19937_64& rng) {
    return unit_double(rng());
}

/// Uniform in [0, 1) that depends only on (seed, index).
inline double counter_uniform(std::uint64_t seed, std::uint64_t index) noexcept {
    return unit_double(splitmix64(splitmix64(seed) ^ index));
}

/// A standard normal draw that depends only on (seed, a, b, c) (Box-Muller on two counter-based
/// uniforms): the noise of query a at step b, coordinate c does not depend on batching or threads.
inline double counter_normal(std::uint64_t seed,
                             std::uint64_t a,
                             std::uint64_t b,
                             std::uint64_t c) noexcept {
    const std::uint64_t h1 = splitmix64(splitmix64(splitmix64(seed ^ 0x5eedULL) ^ a) ^ b);
    const std::uint64_t u1bits = splitmix64(h1 ^ (2 * c));
    const std::uint64_t u2bits = splitmix64(h1 ^ (2 * c + 1));
    const double u1 = (static_cast<double>(u1bits >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    const double u2 = unit_double(u2bits);
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

/// Standard normals from a std::mt19937_64 stream, two per pair of uniforms (Box-Muller).
class normal_stream {
  public:
    explicit normal_stream(std::mt19937_64& rng) : rng_(rng) {}
    double operator()() {
        if (has_spare_) {
            has_spare_ = false;
            return spare_;
        }
        const double u1 = 1.0 - unit_double(rng_);  // (0, 1]: the log is finite
        const double u2 = unit_double(rng_);
        const double r = std::sqrt(-2.0 * std::log(u1));
        const double a = 2.0 * std::numbers::pi * u2;
        spare_ = r * std::sin(a);
        has_spare_ = true;
        return r * std::cos(a);
    }

  private:
    std::mt19937_64& rng_;
    double spare_ = 0.0;
    bool has_spare_ = false;
};

/// k indices drawn from [0, n): distinct (Floyd's algorithm, O(k^2), in draw order) or, with
/// `with_replacement`, independently uniform. k <= n without replacement. The draws of the
/// experiments (PXLE images, BSTOR's sub-memory, QBVAE's stored latents) all come from here.
inline std::vector<std::int64_t> draw_indices(std::int64_t n,
                                              std::int64_t k,
                                              bool with_replacement,
                                              std::mt19937_64& rng) {
    std::vector<std::int64_t> out;
    if (with_replacement) {
        for (std::int64_t i = 0; i < k; ++i)
            out.push_back(static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n)));
        return out;
    }
    for (std::int64_t j = n - k; j < n; ++j) {
        const auto t = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(j + 1));
        bool seen = false;
        for (auto c : out) seen = seen || c == t;
        out.push_back(seen ? j : t);
    }
    return out;
}

}  // namespace denseam::detail
