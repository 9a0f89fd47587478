// SPDX-License-Identifier: MIT
// Mean-shift, the fixed point x <- sum w xi / sum w of the distance kernels other than LSR
// (Q = log), stopping when max |dx| < tol.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "kernels/policies.hpp"
#include "retrieval/methods.hpp"

namespace denseam::detail {

template <class T>
retrieve_result<T> mean_shift(const retrieval_call<T>& call) {
    const auto mem = call.memories, qry = call.queries;
    const auto& prm = call.params;
    const auto& opt = call.options;
    const auto& exec = call.exec;
    const std::int64_t n = qry.rows, dim = qry.cols, n_mem = mem.rows;
    auto res = make_result<T>(n, dim);
    const double half_beta = 0.5 * prm.beta;
    const bool is_exp = prm.kernel == kernel_kind::lse;
    const std::int64_t n_blocks = (n + query_block - 1) / query_block;
    // Compact kernels: only the memories within the support radius have a weight, found by the
    // range index when there is one (the same weights, summed in the same order).
    std::unique_ptr<range_index<T>> owned;
    const range_index<T>* index = is_exp ? nullptr : call_index(call, owned);
    const double search_r2 = support_search_r2(prm.beta);
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        std::vector<double> x(static_cast<std::size_t>(dim)), next(static_cast<std::size_t>(dim));
        std::vector<double> q(static_cast<std::size_t>(index != nullptr ? 0 : n_mem));
        std::vector<std::int64_t> pos;
        std::vector<double> d2;
        for (std::int64_t i = blk * query_block; i < std::min(n, (blk + 1) * query_block); ++i) {
            for (std::int64_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(k)] = qry(i, k);
            retrieval_status status = retrieval_status::max_steps;
            std::int64_t iter = 0;
            while (iter < opt.max_steps) {
                double sw = 0.0;
                std::fill(next.begin(), next.end(), 0.0);
                auto accumulate = [&](double w, const T* xi) {
                    if (w == 0.0) return;
                    sw += w;
                    for (std::int64_t k = 0; k < dim; ++k)
                        next[static_cast<std::size_t>(k)] += w * static_cast<double>(xi[k]);
                };
                if (index != nullptr) {
                    pos.clear();
                    d2.clear();
                    index->within(x.data(), search_r2, pos, &d2);
                    for (std::size_t a = 0; a < pos.size(); ++a)
                        accumulate(kernel_weight(prm, half_beta * d2[a]), index->row(pos[a]));
                } else {
                    double qmin = std::numeric_limits<double>::infinity();
                    for (std::int64_t m = 0; m < n_mem; ++m) {
                        q[static_cast<std::size_t>(m)] =
                            half_beta * sq_dist(x.data(), mem.row(m), dim);
                        qmin = std::min(qmin, q[static_cast<std::size_t>(m)]);
                    }
                    for (std::int64_t m = 0; m < n_mem; ++m) {
                        const double qm = q[static_cast<std::size_t>(m)];
                        accumulate(is_exp ? std::exp(-(qm - qmin)) : kernel_weight(prm, qm),
                                   mem.row(m));
                    }
                }
                if (sw == 0.0) {
                    status = retrieval_status::out_of_support;
                    break;
                }
                ++iter;
                double change = 0.0;
                for (std::int64_t k = 0; k < dim; ++k) {
                    const double v = next[static_cast<std::size_t>(k)] / sw;
                    change = std::max(change, std::abs(v - x[static_cast<std::size_t>(k)]));
                    x[static_cast<std::size_t>(k)] = v;
                }
                if (!std::isfinite(change)) {
                    status = retrieval_status::non_finite;
                    break;
                }
                if (change < opt.tol) {
                    status = retrieval_status::converged;
                    break;
                }
            }
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>(i * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)]);
            res.status[static_cast<std::size_t>(i)] = status;
            res.steps[static_cast<std::size_t>(i)] = iter;
        }
    });
    final_energies(mem, prm, res, exec, index);
    return res;
}

template retrieve_result<float> mean_shift(const retrieval_call<float>&);
template retrieve_result<double> mean_shift(const retrieval_call<double>&);

}  // namespace denseam::detail
