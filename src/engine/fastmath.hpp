// SPDX-License-Identifier: MIT
// Branch-free elementary functions that GCC vectorises inside `omp simd` loops (the C library's
// sin, cos and log are scalar calls without -ffast-math; exp of a non-positive argument is
// exp_nonpositive in kernels/policies.hpp, where the kernels need it). Same code, same bits on
// every machine; accuracy a few ulps of T (float: ~1e-7 relative, double: ~1e-15) over the ranges
// stated. Used where millions of values are needed per call (random-feature maps and their
// projections); exactness decisions never use them.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace denseam::detail {

/// x rounded to the nearest integer (ties to even), as T, for |x| < 2^22 (float) / 2^51
/// (double): the add-and-subtract trick, which compilers keep without -ffast-math.
template <class T>
inline T round_small(T x) noexcept {
    constexpr T magic = std::is_same_v<T, float> ? T(12582912.0f)          // 1.5 * 2^23
                                                 : T(6755399441055744.0);  // 1.5 * 2^52
    return (x + magic) - magic;
}

/// sin(2 pi t) and cos(2 pi t) ("t in turns"). The angle is reduced to [-1/4, 1/4] turn exactly
/// (t - round(t) and a reflection are exact in T), then Taylor polynomials of degree 15/14
/// (float) or 23/22 (double) on [-pi/2, pi/2]. For |t| < 2^22 (float) / 2^51 (double).
template <class T>
inline void sincos_turns(T t, T& s, T& c) noexcept {
    T f = t - round_small(t);  // [-1/2, 1/2]
    // Fold into [-1/4, 1/4]: sin(pi - a) = sin a, cos(pi - a) = -cos a.
    const bool hi = f > T(0.25), lo = f < T(-0.25);
    f = hi ? T(0.5) - f : (lo ? T(-0.5) - f : f);
    const T sign = (hi || lo) ? T(-1) : T(1);
    const T x = f * T(6.283185307179586476925286766559);
    const T x2 = x * x;
    T ps, pc;
    if constexpr (std::is_same_v<T, float>) {
        ps = T(-1.0 / 1307674368000.0);
        ps = ps * x2 + T(1.0 / 6227020800.0);
        ps = ps * x2 + T(-1.0 / 39916800.0);
        ps = ps * x2 + T(1.0 / 362880.0);
        ps = ps * x2 + T(-1.0 / 5040.0);
        ps = ps * x2 + T(1.0 / 120.0);
        ps = ps * x2 + T(-1.0 / 6.0);
        pc = T(1.0 / 87178291200.0);
        pc = pc * x2 + T(-1.0 / 479001600.0);
        pc = pc * x2 + T(1.0 / 3628800.0);
        pc = pc * x2 + T(-1.0 / 40320.0);
        pc = pc * x2 + T(1.0 / 720.0);
        pc = pc * x2 + T(-1.0 / 24.0);
        pc = pc * x2 + T(0.5);
    } else {
        ps = T(-1.0 / 25852016738884976640000.0);        // -1/23!
        ps = ps * x2 + T(1.0 / 51090942171709440000.0);  // 1/21!
        ps = ps * x2 + T(-1.0 / 121645100408832000.0);   // -1/19!
        ps = ps * x2 + T(1.0 / 355687428096000.0);       // 1/17!
        ps = ps * x2 + T(-1.0 / 1307674368000.0);        // -1/15!
        ps = ps * x2 + T(1.0 / 6227020800.0);            // 1/13!
        ps = ps * x2 + T(-1.0 / 39916800.0);             // -1/11!
        ps = ps * x2 + T(1.0 / 362880.0);                // 1/9!
        ps = ps * x2 + T(-1.0 / 5040.0);                 // -1/7!
        ps = ps * x2 + T(1.0 / 120.0);                   // 1/5!
        ps = ps * x2 + T(-1.0 / 6.0);                    // -1/3!
        pc = T(1.0 / 1124000727777607680000.0);          // 1/22!
        pc = pc * x2 + T(-1.0 / 2432902008176640000.0);  // -1/20!
        pc = pc * x2 + T(1.0 / 6402373705728000.0);      // 1/18!
        pc = pc * x2 + T(-1.0 / 20922789888000.0);       // -1/16!
        pc = pc * x2 + T(1.0 / 87178291200.0);           // 1/14!
        pc = pc * x2 + T(-1.0 / 479001600.0);            // -1/12!
        pc = pc * x2 + T(1.0 / 3628800.0);               // 1/10!
        pc = pc * x2 + T(-1.0 / 40320.0);                // -1/8!
        pc = pc * x2 + T(1.0 / 720.0);                   // 1/6!
        pc = pc * x2 + T(-1.0 / 24.0);                   // -1/4!
        pc = pc * x2 + T(0.5);                           // 1/2!
    }
    s = x + x * x2 * ps;
    c = sign * (T(1) - x2 * pc);
}

/// log(u) for u in [2^-126, +inf) float (normal numbers): exponent from the bits, mantissa m
/// in [sqrt(1/2), sqrt(2)), log m = 2 atanh(z), z = (m - 1)/(m + 1), series to z^9.
inline float fast_log(float u) noexcept {
    const auto bits = std::bit_cast<std::uint32_t>(u);
    auto e = static_cast<std::int32_t>(bits >> 23) - 127;
    float m = std::bit_cast<float>((bits & 0x7fffffu) | 0x3f800000u);  // [1, 2)
    const bool big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e = big ? e + 1 : e;
    const float z = (m - 1.0f) / (m + 1.0f);
    const float z2 = z * z;
    float p = 1.0f / 9.0f;
    p = p * z2 + 1.0f / 7.0f;
    p = p * z2 + 1.0f / 5.0f;
    p = p * z2 + 1.0f / 3.0f;
    p = p * z2 + 1.0f;
    return static_cast<float>(e) * 0.693147180559945309f + 2.0f * z * p;
}

}  // namespace denseam::detail
