// SPDX-License-Identifier: MIT
// Squared Euclidean distance from the rows themselves, in double: the exact reference every
// boundary decision falls back to (the engine forms distances from a GEMM instead).
#pragma once

#include <cmath>
#include <cstdint>

namespace denseam::detail {

/// ||a - b||^2 over `dim` coordinates, accumulated in double (A and B may be float or double).
/// Each step is one explicit fused multiply-add, s = fma(t, t, s), in coordinate order: the same
/// bits wherever the function is inlined (with floating-point contraction on, a plain t * t + s
/// may or may not be fused depending on the loop around it).
template <class A, class B>
inline double sq_dist(const A* a, const B* b, std::int64_t dim) noexcept {
    double s = 0.0;
    for (std::int64_t k = 0; k < dim; ++k) {
        const double t = static_cast<double>(a[k]) - static_cast<double>(b[k]);
        s = std::fma(t, t, s);
    }
    return s;
}

}  // namespace denseam::detail
