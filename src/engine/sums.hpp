// SPDX-License-Identifier: MIT
// The sums of one query over a set of memories, their exact merge and how they become an energy
// and a gradient (internal). One home for both merges of the library: the engine merges its
// memory chunks with it in chunk order (tile_engine.hpp), the MPI-sharded memory merges its ranks
// with it in rank order (src/dist). For a set of memories and a query x:
//
//   shift  exp-type kernels: every term is exp(-(q - shift)), shift = the smallest q of the set
//          (+inf for an empty set); 0 for the other kernels
//   z      sum of the (shifted) kernel values F
//   sw     sum of the (shifted) gradient weights w
//   g      sum of the (shifted) w_mu xi_mu (dim values; only for the gradient)
//
// Two sets merge exactly: shift = min(shift_a, shift_b), and each set's sums are scaled by
// exp(shift - shift_set) (1 for non-exp kernels): LSE's (max, shifted sum) pairs, plain sums for
// compact kernels.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <utility>

#include "denseam/energy.hpp"
#include "kernels/policies.hpp"

namespace denseam::detail {

/// The merged scalar sums of one query.
struct query_sums {
    double shift = 0.0, z = 0.0, sw = 0.0;
};

/// One set's sums of one query, with its gradient sums `g` (dim values of G, or null).
template <class G>
struct sums_part {
    double shift = 0.0, z = 0.0, sw = 0.0;
    const G* g = nullptr;
};

/// Where energy_sums (tile_engine.hpp) writes the sums of n queries: shift, z, sw (n each) and,
/// unless g is null, the gradient sums g (n x dim, row-major).
struct query_sums_out {
    std::span<double> shift, z, sw;
    double* g = nullptr;
};

/// The sums with nothing in them (an empty set of memories).
inline query_sums empty_sums(bool exp_type) {
    return {exp_type ? std::numeric_limits<double>::infinity() : 0.0, 0.0, 0.0};
}

/// Merges the parts get(0), ..., get(k - 1), in that order, into one; the gradient sums go to
/// `gsum` (dim values, overwritten; empty to skip them).
template <class Get>
query_sums merge_sums(bool exp_type, std::int64_t k, Get&& get, std::span<double> gsum) {
    query_sums s = empty_sums(exp_type);
    if (exp_type)
        for (std::int64_t c = 0; c < k; ++c) s.shift = std::min(s.shift, get(c).shift);
    std::fill(gsum.begin(), gsum.end(), 0.0);
    const std::size_t dim = gsum.size();
    for (std::int64_t c = 0; c < k; ++c) {
        const auto part = get(c);
        double f = 1.0;
        if (exp_type) f = std::isinf(part.shift) ? 0.0 : std::exp(s.shift - part.shift);
        s.z += f * part.z;
        s.sw += f * part.sw;
        if (dim != 0 && f != 0.0 && part.g != nullptr)
            for (std::size_t j = 0; j < dim; ++j) gsum[j] += f * static_cast<double>(part.g[j]);
    }
    return s;
}

/// The energy, gradient (`g`: dim values, or null) and status (or null) of the query `x` from
/// its merged sums `s` and gradient sums `gsum`.
template <class T>
void finish_query(bool exp_type,
                  bool distance,
                  const query_sums& s,
                  const double* gsum,
                  const T* x,
                  std::int64_t dim,
                  const energy_params& prm,
                  T& e,
                  T* g,
                  energy_status* st) {
    const bool log_q = resolved_q(prm) == q_kind::log;
    const auto [energy, scale] = assemble_row(s.shift, s.z, prm.beta, prm.eps, log_q);
    e = static_cast<T>(energy);
    if (st != nullptr)
        *st = !exp_type && s.z == 0.0 ? energy_status::unsupported : energy_status::ok;
    if (g == nullptr) return;
    for (std::int64_t k = 0; k < dim; ++k) {
        const double self = distance ? s.sw * static_cast<double>(x[k]) : 0.0;
        g[k] = static_cast<T>(scale * (self - gsum[k]));
    }
}

/// (exp_type, distance) of a kernel known at run time.
inline std::pair<bool, bool> sums_traits(kernel_kind k) {
    return with_kernel(k, [](auto p) {
        using P = decltype(p);
        return std::pair<bool, bool>{P::exp_type, P::distance};
    });
}

}  // namespace denseam::detail
