// SPDX-License-Identifier: MIT
// The exact LSR fixed point: paper Algorithm 1 with the strict boundary rule, distances and
// means in double (docs/numerics.md, Retrieval).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "kernels/policies.hpp"
#include "retrieval/methods.hpp"

namespace denseam::detail {

namespace {

// The strict LSR active set of x, S = {mu : (beta/2) ||x - xi_mu||^2 < 1} decided in double
// (the energy's rule), into `set`; returns Z = eps + sum_S (1 - q). `boundary` tells whether a
// memory lies exactly on the boundary (q == 1): outside S, and the reason a fixed point
// x = mean(S) can fail to be a minimum (lsr_fixed_point).
template <class T>
double lsr_active_set(matrix_view<const T> mem,
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

}  // namespace

template <class T>
retrieve_result<T> lsr_fixed_point(const retrieval_call<T>& call) {
    const auto mem = call.memories, qry = call.queries;
    const auto& prm = call.params;
    const auto& opt = call.options;
    const auto& exec = call.exec;
    const std::int64_t n = qry.rows, dim = qry.cols;
    auto res = make_result<T>(n, dim);
    std::vector<std::vector<std::int64_t>> supports(static_cast<std::size_t>(n));
    const double half_beta = 0.5 * prm.beta;
    const std::int64_t n_blocks = (n + query_block - 1) / query_block;
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        std::vector<double> x(static_cast<std::size_t>(dim)),
            centroid(static_cast<std::size_t>(dim)), returned(static_cast<std::size_t>(dim));
        std::vector<std::int64_t> set, prev;
        for (std::int64_t i = blk * query_block; i < std::min(n, (blk + 1) * query_block); ++i) {
            const auto si = static_cast<std::size_t>(i);
            for (std::int64_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(k)] = qry(i, k);
            retrieval_status status = retrieval_status::max_steps;
            std::int64_t iter = 0;
            double z = 0.0;
            bool boundary = false;
            prev.clear();
            bool have_prev = false;
            while (iter < opt.max_steps) {
                z = lsr_active_set(mem, x.data(), half_beta, prm.eps, set, boundary);
                ++iter;
                if (set.empty()) {
                    status = retrieval_status::out_of_support;
                    break;
                }
                if (have_prev && set == prev) {
                    // x = mean(S) and S is the strict active set of x. Near x the members stay
                    // inside and the memories with q > 1 outside, so Z = eps + sum_S (1 - q), a
                    // concave quadratic with its maximum at mean(S) = x: a strict local minimum
                    // of E, unless a memory lies exactly on the boundary (q == 1). Its term
                    // (1 - q)_+ is 0 at x but grows linearly along the direction towards it,
                    // while the S part falls only quadratically: E decreases at first order
                    // and x is no minimum (issue 9).
                    status = boundary ? retrieval_status::not_minimum : retrieval_status::converged;
                    break;
                }
                std::fill(centroid.begin(), centroid.end(), 0.0);
                for (std::int64_t m : set)
                    for (std::int64_t k = 0; k < dim; ++k)
                        centroid[static_cast<std::size_t>(k)] += static_cast<double>(mem(m, k));
                for (auto& c : centroid) c /= static_cast<double>(set.size());
                x = centroid;
                std::swap(prev, set);
                have_prev = true;
            }
            // The state returned is x rounded to T; support and energy describe that state.
            bool rounded = false;
            for (std::int64_t k = 0; k < dim; ++k) {
                const auto kk = static_cast<std::size_t>(k);
                returned[kk] = static_cast<double>(static_cast<T>(x[kk]));
                rounded = rounded || !(returned[kk] == x[kk]);
            }
            if (rounded || (status == retrieval_status::max_steps && have_prev)) {
                // Recompute them when the last update moved x (max_steps) or the rounding did
                // (T = float; one O(M d) pass). A converged float state stays converged only if
                // the rounding kept its strict active set exactly S with no memory on the
                // boundary: then it lies in the open region where Z is the concave quadratic
                // of S, within rounding of its maximum. Otherwise the state returned is no
                // minimum: E falls at first order towards a memory gained or on the boundary,
                // and away from one lost (there Z = Z_S + (q - 1)). So the status is
                // not_minimum, with the support and energy of the state returned (the minimum
                // is at mean(S), but its rounding to T left the region of S).
                const double zr =
                    lsr_active_set(mem, returned.data(), half_beta, prm.eps, prev, boundary);
                if (status == retrieval_status::converged && (boundary || prev != set))
                    status = retrieval_status::not_minimum;
                std::swap(set, prev);
                z = zr;
            }
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>(i * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)]);
            res.energy[si] = static_cast<T>(log_energy(z, prm.beta));
            res.status[si] = status;
            res.steps[si] = iter;
            supports[si] = set;
        }
    });
    res.support.offsets.assign(1, 0);
    for (const auto& s : supports) {
        res.support.indices.insert(res.support.indices.end(), s.begin(), s.end());
        res.support.offsets.push_back(static_cast<std::int64_t>(res.support.indices.size()));
    }
    return res;
}

template retrieve_result<float> lsr_fixed_point(const retrieval_call<float>&);
template retrieve_result<double> lsr_fixed_point(const retrieval_call<double>&);

}  // namespace denseam::detail
