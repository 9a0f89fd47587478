// SPDX-License-Identifier: MIT
// The separation functions F of the energy family, written once for every backend.
//
// Distance kernels are functions of q = (beta/2) ||x - xi||^2 (so t = sqrt(q) = ||x - xi|| / R,
// R = sqrt(2/beta)). Each policy gives the kernel value K(q) and the gradient weight
// w(q) = -dK/dq >= 0, from which
//     grad_x Z = -beta * sum_mu w_mu (x - xi_mu),    Z = eps + sum_mu K(q_mu).
// The dot-product kernel (poly) is a function of z = beta x.xi with value f(z) and weight
// w = f'(z), so grad_x Z = beta * sum_mu w_mu xi_mu. Compact kernels vanish for q >= 1 (the
// boundary rule: distance exactly R is outside the support).
//
// A policy is the one place where a kernel is known (docs/adding_a_kernel.md). Besides value()
// and weight() every policy carries:
//   kind          its enumerator in include/denseam/kernels.hpp
//   name          the spelling of the CLI and Python ("lsr"); kernel_names() lists these
//   paper_name    the name of the paper's AKEM figure ("Epanechnikov")
//   distance      a function of q (squared distance) rather than of z = beta x.xi
//   compact       vanishes for q >= 1
//   exp_type      values are max-shifted exponentials (online log-sum-exp)
//   slope_degree  for the exact 1-D analysis (src/minima/minima_1d.cpp): in one dimension, with
//                 u = x - xi, dK/du is a polynomial in u of this degree on every piece between
//                 the breakpoints (the pattern and the support edges xi +- R); -1 where it is
//                 not a polynomial (lse, cosine) or the kernel is not a distance kernel (poly).
// Code that holds a kernel_kind at run time reads these through with_kernel() or the derived
// table kernel_table below, never through a list of its own.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <string_view>
#include <type_traits>

#include "denseam/kernels.hpp"

#if defined(__CUDACC__)
#define DENSEAM_HD __host__ __device__
#else
#define DENSEAM_HD
#endif

namespace denseam::detail {

/// exp(x) for x <= 0, branch-free so that loops over it vectorise (glibc's exp does not without
/// -ffast-math, which we must not use). Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a
/// Taylor polynomial for e^r (relative error < 2 ulp for float at degree 7 and double at degree
/// 13), then 2^k added to the exponent bits. Inputs below -87 (float) / -708 (double) return
/// exactly 0: above those bounds the result is a normal number, so the exponent add is exact.
template <class U>
DENSEAM_HD inline U exp_nonpositive(U x) noexcept {
    constexpr bool is_float = sizeof(U) == 4;
    using I = std::conditional_t<is_float, std::int32_t, std::int64_t>;
    constexpr U lo = is_float ? U(-87.0) : U(-708.0);
    const bool under = x < lo;
    x = under ? lo : x;
    constexpr U log2e = U(1.4426950408889634);
    constexpr U ln2_hi = is_float ? U(0.693145751953125) : U(0.693147180369123816490);
    constexpr U ln2_lo = is_float ? U(1.428606765330187045e-06) : U(1.90821492927058770002e-10);
    // Round to nearest with the 1.5 * 2^mantissa trick (vectorises; no -ffast-math needed).
    constexpr U round_magic = is_float ? U(12582912.0f) : U(6755399441055744.0);
    const U shifted = x * log2e + round_magic;  // = round_magic + k exactly
    const U kf = shifted - round_magic;
    const U r = (x - kf * ln2_hi) - kf * ln2_lo;
    U p;
    if constexpr (is_float) {
        p = U(1.0 / 5040);
        p = p * r + U(1.0 / 720);
        p = p * r + U(1.0 / 120);
        p = p * r + U(1.0 / 24);
        p = p * r + U(1.0 / 6);
        p = p * r + U(0.5);
        p = p * r + U(1);
        p = p * r + U(1);
    } else {
        p = U(1.0 / 6227020800.0);
        p = p * r + U(1.0 / 479001600.0);
        p = p * r + U(1.0 / 39916800.0);
        p = p * r + U(1.0 / 3628800.0);
        p = p * r + U(1.0 / 362880.0);
        p = p * r + U(1.0 / 40320.0);
        p = p * r + U(1.0 / 5040.0);
        p = p * r + U(1.0 / 720.0);
        p = p * r + U(1.0 / 120.0);
        p = p * r + U(1.0 / 24.0);
        p = p * r + U(1.0 / 6.0);
        p = p * r + U(0.5);
        p = p * r + U(1);
        p = p * r + U(1);
    }
    constexpr int mant = is_float ? 23 : 52;
    // k from the bits of `shifted` (no float -> int64 conversion, which AVX2 cannot vectorise).
    using UI = std::make_unsigned_t<I>;
    const UI k_bits =
        static_cast<UI>(std::bit_cast<I>(shifted)) - static_cast<UI>(std::bit_cast<I>(round_magic));
    const UI scale = k_bits << mant;
    const I bits = static_cast<I>(static_cast<UI>(std::bit_cast<I>(p)) + scale);
    const U res = std::bit_cast<U>(bits);
    return under ? U(0) : res;
}

// ---- distance kernels: K(q), w(q) = -dK/dq ------------------------------------------------

struct lse_kernel {
    static constexpr kernel_kind kind = kernel_kind::lse;
    static constexpr std::string_view name = "lse";
    static constexpr std::string_view paper_name = "Gaussian";
    static constexpr bool distance = true;
    static constexpr bool compact = false;
    static constexpr bool exp_type = true;  ///< values are max-shifted: K = exp(-(q - shift))
    static constexpr int slope_degree = -1;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        return exp_nonpositive(-q);
    }
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        return exp_nonpositive(-q);
    }
};

struct lsr_kernel {
    static constexpr kernel_kind kind = kernel_kind::lsr;
    static constexpr std::string_view name = "lsr";
    static constexpr std::string_view paper_name = "Epanechnikov";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = 1;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        return q < U(1) ? U(1) - q : U(0);
    }
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        return q < U(1) ? U(1) : U(0);
    }
};

struct triangle_kernel {
    static constexpr kernel_kind kind = kernel_kind::triangle;
    static constexpr std::string_view name = "triangle";
    static constexpr std::string_view paper_name = "Triangle";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = 0;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        return q < U(1) ? U(1) - std::sqrt(q) : U(0);
    }
    // dK/dq = -1 / (2 sqrt q): the kernel has a cusp at the pattern, where we take w = 0.
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        return (q < U(1) && q > U(0)) ? U(0.5) / std::sqrt(q) : U(0);
    }
};

struct tophat_kernel {
    static constexpr kernel_kind kind = kernel_kind::tophat;
    static constexpr std::string_view name = "tophat";
    static constexpr std::string_view paper_name = "Uniform";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = 0;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        return q < U(1) ? U(1) : U(0);
    }
    template <class U>
    DENSEAM_HD static U weight(U) noexcept {
        return U(0);
    }
};

struct cosine_kernel {
    static constexpr kernel_kind kind = kernel_kind::cosine;
    static constexpr std::string_view name = "cosine";
    static constexpr std::string_view paper_name = "Cosine";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = -1;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        return q < U(1) ? std::cos(U(std::numbers::pi / 2) * std::sqrt(q)) : U(0);
    }
    // -dK/dq = (pi/4) sin(pi t / 2) / t, whose limit at t -> 0 is pi^2 / 8.
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        if (!(q < U(1))) return U(0);
        const U a = U(std::numbers::pi / 2) * std::sqrt(q);
        const U sinc = a < U(1e-4) ? U(1) - a * a / U(6) : std::sin(a) / a;
        return U(std::numbers::pi * std::numbers::pi / 8) * sinc;
    }
};

struct quartic_kernel {
    static constexpr kernel_kind kind = kernel_kind::quartic;
    static constexpr std::string_view name = "quartic";
    static constexpr std::string_view paper_name = "Quartic";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = 3;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        const U u = q < U(1) ? U(1) - q : U(0);
        return u * u;
    }
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        return q < U(1) ? U(2) * (U(1) - q) : U(0);
    }
};

struct triweight_kernel {
    static constexpr kernel_kind kind = kernel_kind::triweight;
    static constexpr std::string_view name = "triweight";
    static constexpr std::string_view paper_name = "Triweight";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = 5;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        const U u = q < U(1) ? U(1) - q : U(0);
        return u * u * u;
    }
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        const U u = q < U(1) ? U(1) - q : U(0);
        return U(3) * u * u;
    }
};

struct tricube_kernel {
    static constexpr kernel_kind kind = kernel_kind::tricube;
    static constexpr std::string_view name = "tricube";
    static constexpr std::string_view paper_name = "Tricube";
    static constexpr bool distance = true;
    static constexpr bool compact = true;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = 8;
    template <class U>
    DENSEAM_HD static U value(U q) noexcept {
        const U u = q < U(1) ? U(1) - q * std::sqrt(q) : U(0);
        return u * u * u;
    }
    // K = (1 - q^{3/2})^3, dK/dq = -(9/2) q^{1/2} (1 - q^{3/2})^2.
    template <class U>
    DENSEAM_HD static U weight(U q) noexcept {
        if (!(q < U(1))) return U(0);
        const U s = std::sqrt(q);
        const U u = U(1) - q * s;
        return U(4.5) * s * u * u;
    }
};

// ---- dot-product kernel: f(z) = max(z, 0)^n, w = f'(z) --------------------------------------

struct poly_kernel {
    static constexpr kernel_kind kind = kernel_kind::poly;
    static constexpr std::string_view name = "poly";
    static constexpr std::string_view paper_name = "Polynomial";
    static constexpr bool distance = false;
    static constexpr bool compact = false;
    static constexpr bool exp_type = false;
    static constexpr int slope_degree = -1;
    template <class U>
    DENSEAM_HD static U value(U z, int n) noexcept {
        if (!(z > U(0))) return U(0);
        U r = U(1);
        for (int i = 0; i < n; ++i) r *= z;
        return r;
    }
    template <class U>
    DENSEAM_HD static U weight(U z, int n) noexcept {
        if (!(z > U(0))) return U(0);
        U r = U(n);
        for (int i = 1; i < n; ++i) r *= z;
        return r;
    }
};

/// The one runtime -> compile-time switch over kernels: calls f(policy{}) for `k` (the one list
/// of kernels; -Wswitch flags an enumerator without a case). An invalid `k` gets lsr_kernel.
template <class Fn>
constexpr decltype(auto) with_kernel(kernel_kind k, Fn&& f) {
    switch (k) {
        case kernel_kind::lse:
            return f(lse_kernel{});
        case kernel_kind::lsr:
            return f(lsr_kernel{});
        case kernel_kind::triangle:
            return f(triangle_kernel{});
        case kernel_kind::tophat:
            return f(tophat_kernel{});
        case kernel_kind::cosine:
            return f(cosine_kernel{});
        case kernel_kind::quartic:
            return f(quartic_kernel{});
        case kernel_kind::triweight:
            return f(triweight_kernel{});
        case kernel_kind::tricube:
            return f(tricube_kernel{});
        case kernel_kind::poly:
            return f(poly_kernel{});
    }
    return f(lsr_kernel{});
}

/// A policy's traits as a value, for code that holds a kernel_kind at run time.
struct kernel_info {
    kernel_kind kind;
    std::string_view name;
    std::string_view paper_name;
    bool distance;
    bool compact;
    bool exp_type;
    int slope_degree;
};

template <class P>
constexpr kernel_info info_of() noexcept {
    return {P::kind, P::name, P::paper_name, P::distance, P::compact, P::exp_type, P::slope_degree};
}

/// Number of kernels: the enumerators 0, 1, ... that with_kernel maps to their own policy (the
/// first value past the last enumerator falls through to lsr_kernel, whose kind differs).
inline constexpr std::size_t kernel_count = [] {
    std::size_t n = 0;
    while (with_kernel(static_cast<kernel_kind>(n), [](auto pol) { return decltype(pol)::kind; }) ==
           static_cast<kernel_kind>(n))
        ++n;
    return n;
}();

/// Every kernel's traits, in enum order (kernel_table[i].kind == kernel_kind(i)).
inline constexpr std::array<kernel_info, kernel_count> kernel_table = [] {
    std::array<kernel_info, kernel_count> t{};
    for (std::size_t i = 0; i < kernel_count; ++i)
        t[i] = with_kernel(static_cast<kernel_kind>(i),
                           [](auto pol) { return info_of<decltype(pol)>(); });
    return t;
}();

static_assert(
    [] {
        for (std::size_t i = 0; i < kernel_count; ++i)
            for (std::size_t j = 0; j < i; ++j)
                if (kernel_table[i].name == kernel_table[j].name ||
                    kernel_table[i].paper_name == kernel_table[j].paper_name)
                    return false;
        return true;
    }(),
    "every kernel needs its own name and paper_name");
static_assert(
    [] {
        for (const auto& k : kernel_table)
            if (k.name.empty() || k.paper_name.empty() || (k.compact && !k.distance) ||
                (k.exp_type && k.compact) || (!k.distance && k.slope_degree >= 0))
                return false;
        return true;
    }(),
    "inconsistent kernel traits (compact and slope_degree need a distance kernel; exp-type "
    "kernels have unbounded support)");

/// The traits of kernel `k`; nullptr for a value outside the enumeration.
constexpr const kernel_info* find_kernel_info(kernel_kind k) noexcept {
    const auto i = static_cast<std::size_t>(k);
    return i < kernel_count ? &kernel_table[i] : nullptr;
}

/// Scalar kernel value K and weight w for any kernel, in double (used by exact paths, tests
/// and the 1-D analysis). For distance kernels `arg` is q, for poly it is z.
inline double kernel_value(const energy_params& p, double arg) {
    return with_kernel(p.kernel, [&](auto pol) -> double {
        using P = decltype(pol);
        if constexpr (P::distance)
            return P::value(arg);
        else
            return P::value(arg, p.degree);
    });
}
inline double kernel_weight(const energy_params& p, double arg) {
    return with_kernel(p.kernel, [&](auto pol) -> double {
        using P = decltype(pol);
        if constexpr (P::distance)
            return P::weight(arg);
        else
            return P::weight(arg, p.degree);
    });
}

/// Energy and gradient scale of one query from its kernel sums, for every backend.
/// With z = sum of (shifted) kernel values, Z = eps + exp(-shift) z (shift = 0 for non-exp
/// kernels):
///   Q = log:      E = -(1/beta) log Z,  grad = (1/Z) exp(-shift) (c sw x - sum w xi)
///   Q = identity: E = -Z,               grad = beta exp(-shift) (c sw x - sum w xi)
/// where sw and sum w xi use the same shift and c = 1 for distance kernels, 0 for poly.
/// Z = 0 with Q = log and eps = 0 gives E = +inf and a zero gradient (never NaN).
struct row_energy {
    double energy;
    double scale;  ///< multiplies (c sw x - sum w xi)
};

inline row_energy assemble_row(double shift, double z, double beta, double eps, bool log_q) {
    const bool empty = z == 0.0;
    if (!log_q) {
        const double e_shift = std::exp(-shift);
        return {-(eps + e_shift * z), beta * e_shift};
    }
    if (empty && eps == 0.0) return {INFINITY, 0.0};
    double log_z;
    if (empty)
        log_z = std::log(eps);
    else if (eps == 0.0)
        log_z = std::log(z) - shift;
    else {
        const double a = std::log(z) - shift, b = std::log(eps);
        log_z = std::max(a, b) + std::log1p(std::exp(-std::abs(a - b)));
    }
    return {-log_z / beta, empty ? 0.0 : std::exp(-shift - log_z)};
}

/// The log energy from its sum: E = -(1/beta) log z for z = eps + sum_mu F > 0, +inf for z = 0
/// (outside every support with eps = 0). "+ 0.0": E = 0 is written 0, never -0.
inline double log_energy(double z, double beta) {
    return z > 0.0 ? -std::log(z) / beta + 0.0 : INFINITY;
}

/// Only the gradient scale of assemble_row (no logarithm in the common case Q = log, eps = 0,
/// where it is exactly 1/z).
inline double assemble_scale(double shift, double z, double beta, double eps, bool log_q) {
    if (log_q && eps == 0.0) return z > 0.0 ? 1.0 / z : 0.0;
    return assemble_row(shift, z, beta, eps, log_q).scale;
}

}  // namespace denseam::detail
