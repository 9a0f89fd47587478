// SPDX-License-Identifier: MIT
// The strict LSR active set of a state (internal): by a scan or through a range index, the same
// set, boundary flag and Z bit for bit. Used by the exact fixed point (lsr_fixed_point.cpp) and by
// each shard of an MPI-sharded memory (src/dist).
#pragma once

#include <cstdint>
#include <vector>

#include "denseam/matrix_view.hpp"
#include "denseam/retrieval.hpp"
#include "engine/distance.hpp"
#include "index/range_index.hpp"

namespace denseam::detail {

// The strict LSR active set of x, S = {mu : (beta/2) ||x - xi_mu||^2 < 1} decided in double
// (the energy's rule), into `set`; returns Z = eps + sum_S (1 - q). `boundary` tells whether a
// memory lies exactly on the boundary (q == 1): outside S, and the reason a fixed point
// x = mean(S) can fail to be a minimum (lsr_fixed_point).
template <class T>
inline double lsr_active_set(matrix_view<const T> mem,
                             const double* x,
                             double half_beta,
                             double eps,
                             std::vector<std::int64_t>& set,
                             bool& boundary) {
    set.clear();
    boundary = false;
    double z = eps;
    for (std::int64_t m = 0; m < mem.rows; ++m) {
        const double q = half_beta * sq_dist(x, mem.row(m), mem.cols);
        if (q < 1.0) {
            set.push_back(m);
            z += 1.0 - q;
        } else if (q == 1.0) {
            boundary = true;
        }
    }
    return z;
}

/// lsr_active_set() through a range index: the same set, boundary flag and Z bit for bit (the
/// index reports sq_dist(x, row) of every row within a radius just beyond the support, in
/// position order, and the rule q < 1 is applied here as there).
template <class T>
inline double lsr_active_set_indexed(const range_index<T>& index,
                                     const double* x,
                                     double half_beta,
                                     double eps,
                                     double search_r2,
                                     std::vector<std::int64_t>& set,
                                     std::vector<double>& d2,
                                     bool& boundary) {
    set.clear();
    d2.clear();
    boundary = false;
    index.within(x, search_r2, set, &d2);
    double z = eps;
    std::size_t kept = 0;
    for (std::size_t a = 0; a < set.size(); ++a) {
        const double q = half_beta * d2[a];
        if (q < 1.0) {
            set[kept++] = set[a];
            z += 1.0 - q;
        } else if (q == 1.0) {
            boundary = true;
        }
    }
    set.resize(kept);
    return z;
}

/// Algorithm 1's test after a support-set evaluation of a query whose strict active set is
/// `set` (with `boundary`), `prev` being the set its state is the mean of (when have_prev): true
/// when the query stops, with its status. An empty set: out_of_support. The set repeating:
/// x = mean(S) and S is the strict active set of x. Near x the members stay inside and the
/// memories with q > 1 outside, so Z = eps + sum_S (1 - q), a concave quadratic with its maximum
/// at mean(S) = x: a strict local minimum of E (converged), unless a memory lies exactly on the
/// boundary (q == 1). Its term (1 - q)_+ is 0 at x but grows linearly along the direction
/// towards it, while the S part falls only quadratically: E decreases at first order and x is
/// no minimum (not_minimum; issue 9). Shared by the single-process and the sharded fixed point.
inline bool lsr_stops(const std::vector<std::int64_t>& set,
                      const std::vector<std::int64_t>& prev,
                      bool have_prev,
                      bool boundary,
                      retrieval_status& status) {
    if (set.empty()) {
        status = retrieval_status::out_of_support;
        return true;
    }
    if (have_prev && set == prev) {
        status = boundary ? retrieval_status::not_minimum : retrieval_status::converged;
        return true;
    }
    return false;
}

}  // namespace denseam::detail
