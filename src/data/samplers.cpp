// SPDX-License-Identifier: MIT
// Query samplers around stored patterns (include/denseam/gmm.hpp, paper.md 2.2).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <sstream>
#include <string>

#include "denseam/error.hpp"
#include "denseam/gmm.hpp"
#include "engine/rng.hpp"

namespace denseam {

namespace {

// The shell [0.98 R, 0.9999 R] of paper.md 2.2, as fractions of R.
constexpr double shell_lo = 0.98;
constexpr double shell_hi = 0.9999;

// One independent stream per center, a function of (seed, m) only.
std::uint64_t center_seed(std::uint64_t seed, std::int64_t m) {
    return detail::splitmix64(detail::splitmix64(seed) ^
                              detail::splitmix64(static_cast<std::uint64_t>(m) + 1));
}

// Unit vector into dir. Correct: a normalised standard Gaussian (uniform on the sphere).
// Reference: a uniform point of [-1, 1]^d normalised (biased toward the cube's diagonals).
// A zero vector (probability ~0) is redrawn.
void draw_direction(std::span<double> dir, bool reference, std::mt19937_64& rng) {
    detail::normal_stream normal(rng);
    for (;;) {
        double s = 0.0;
        for (double& v : dir) {
            v = reference ? 2.0 * detail::unit_double(rng) - 1.0 : normal();
            s += v * v;
        }
        if (s > 0.0 && std::isfinite(s)) {
            const double inv = 1.0 / std::sqrt(s);
            for (double& v : dir) v *= inv;
            return;
        }
    }
}

// Radius as a fraction t of R, from one uniform u in [0, 1).
//   shell: volume-uniform on [a, b]: t^d = a^d + u (b^d - a^d). Written as
//          log t = log b + (1/d) log(u + (1 - u) (a/b)^d), with the sum as a log-add-exp, so it
//          neither underflows (a^d -> 0 for large d) nor cancels.
//   ball: t = u^(1/d) (volume-uniform in the ball).
//   reference_shell / reference_ball: t uniform on [a, b] / [0, 1] (not volume-uniform).
double radius_fraction(sampler_kind kind, double u, double d) {
    switch (kind) {
        case sampler_kind::shell: {
            const double log_ratio = d * std::log(shell_lo / shell_hi);  // <= 0
            const double la = u > 0.0 ? std::log(u) : -std::numeric_limits<double>::infinity();
            const double lb = std::log1p(-u) + log_ratio;
            const double hi = std::max(la, lb), lo = std::min(la, lb);
            const double lse = hi + std::log1p(std::exp(lo - hi));
            const double t = shell_hi * std::exp(lse / d);
            return std::clamp(t, shell_lo, shell_hi);
        }
        case sampler_kind::ball:
            return u > 0.0 ? std::exp(std::log(u) / d) : 0.0;
        case sampler_kind::reference_shell:
            return shell_lo + u * (shell_hi - shell_lo);
        case sampler_kind::reference_ball:
            return u;
    }
    return 0.0;
}

std::string num(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
}

}  // namespace

std::string_view to_string(sampler_kind s) noexcept {
    switch (s) {
        case sampler_kind::shell:
            return "shell";
        case sampler_kind::ball:
            return "ball";
        case sampler_kind::reference_shell:
            return "reference-shell";
        case sampler_kind::reference_ball:
            return "reference-ball";
    }
    return "shell";
}

sampler_kind parse_sampler(std::string_view name) {
    if (name == "shell") return sampler_kind::shell;
    if (name == "ball") return sampler_kind::ball;
    if (name == "reference-shell" || name == "reference_shell")
        return sampler_kind::reference_shell;
    if (name == "reference-ball" || name == "reference_ball") return sampler_kind::reference_ball;
    throw invalid_argument("unknown sampler '" + std::string(name) +
                           "' (choose shell, ball, reference-shell or reference-ball)");
}

std::vector<double> sample_around(matrix_view<const double> centers,
                                  std::int64_t n_per_center,
                                  double radius,
                                  sampler_kind kind,
                                  std::uint64_t seed) {
    if (centers.rows < 1 || centers.cols < 1 || centers.data == nullptr)
        throw invalid_argument("sample_around: centers must be a non-empty (M x d) matrix (got " +
                               std::to_string(centers.rows) + " x " + std::to_string(centers.cols) +
                               ")");
    if (centers.ld < centers.cols)
        throw invalid_argument("sample_around: centers row stride " + std::to_string(centers.ld) +
                               " is smaller than its " + std::to_string(centers.cols) + " columns");
    if (n_per_center < 0)
        throw invalid_argument("sample_around: n_per_center must be >= 0 (got " +
                               std::to_string(n_per_center) + ")");
    if (!std::isfinite(radius) || !(radius > 0.0))
        throw invalid_argument("sample_around: radius must be finite and > 0 (got " + num(radius) +
                               ")");
    for (std::int64_t m = 0; m < centers.rows; ++m)
        for (std::int64_t j = 0; j < centers.cols; ++j)
            if (!std::isfinite(centers(m, j)))
                throw invalid_argument("sample_around: centers(" + std::to_string(m) + ", " +
                                       std::to_string(j) + ") is not finite (" +
                                       num(centers(m, j)) + ")");

    const auto d = static_cast<std::size_t>(centers.cols);
    const auto n = static_cast<std::size_t>(n_per_center);
    const bool reference =
        kind == sampler_kind::reference_shell || kind == sampler_kind::reference_ball;
    std::vector<double> out(static_cast<std::size_t>(centers.rows) * n * d);
    std::vector<double> dir(d);
    for (std::int64_t m = 0; m < centers.rows; ++m) {
        std::mt19937_64 rng(center_seed(seed, m));
        const double* c = centers.row(m);
        for (std::size_t s = 0; s < n; ++s) {
            draw_direction(dir, reference, rng);
            const double r =
                radius * radius_fraction(kind, detail::unit_double(rng), static_cast<double>(d));
            double* row = out.data() + (static_cast<std::size_t>(m) * n + s) * d;
            for (std::size_t j = 0; j < d; ++j) row[j] = c[j] + r * dir[j];
        }
    }
    return out;
}

}  // namespace denseam
