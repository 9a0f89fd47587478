// SPDX-License-Identifier: MIT
// Gradient descent x <- x - alpha_t (grad E(x; beta_t) + sigma_t n): small memory sets take the
// lane descent (lane_descent.cpp), larger ones the tiled engine, one engine call per step over
// the queries still descending.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "engine/tile_engine.hpp"
#include "kernels/policies.hpp"
#include "retrieval/descent_loop.hpp"
#include "retrieval/methods.hpp"

namespace denseam::detail {

template <class T>
retrieve_result<T> gradient_descent(const retrieval_call<T>& call) {
    const auto mem = call.memories, qry = call.queries;
    const auto& prm = call.params;
    const auto& opt = call.options;
    const auto& exec = call.exec;
    const std::int64_t n = qry.rows, dim = qry.cols;
    auto res = make_result<T>(n, dim);
    for (std::int64_t i = 0; i < n; ++i)
        std::copy(qry.row(i), qry.row(i) + dim, res.states.begin() + i * dim);
    std::vector<char> clamped(static_cast<std::size_t>(dim), 0);
    for (auto c : opt.clamp) clamped[static_cast<std::size_t>(c)] = 1;
    const bool use_beta_schedule = uses_beta_schedule(opt);

    std::vector<std::int64_t> active(static_cast<std::size_t>(n));
    if (mem.rows * dim <= small_descent_limit) {
        lane_descent(call, clamped, res);
        active.clear();  // every query is finished
    } else {
        for (std::int64_t i = 0; i < n; ++i) active[static_cast<std::size_t>(i)] = i;
    }
    const bool single = !std::is_same_v<T, float> && opt.precision == gradient_precision::single;
    std::vector<float> mem_f, xs_f, grad_f, e_f;
    if (single && !active.empty())
        for (std::int64_t m = 0; m < mem.rows; ++m)
            for (std::int64_t k = 0; k < dim; ++k) mem_f.push_back(static_cast<float>(mem(m, k)));
    auto evaluate = [&](std::int64_t t,
                        matrix_view<const T> xs,
                        std::span<T> e,
                        matrix_view<T> grad,
                        std::span<energy_status> st) {
        energy_params p = prm;
        if (use_beta_schedule) p.beta = opt.beta.at(t, opt.max_steps);
        if (!single) {
            energy_unchecked(mem, xs, p, e, grad, st, exec);
            return;
        }
        // gradient_precision::single for T = double: the engine in float, the state in T.
        const auto na = xs.rows;
        xs_f.assign(xs.data, xs.data + na * dim);
        grad_f.resize(xs_f.size());
        e_f.resize(e.size());
        energy_unchecked(matrix_view<const float>(mem_f.data(), mem.rows, dim),
                         matrix_view<const float>(xs_f.data(), na, dim),
                         p,
                         std::span<float>(e_f),
                         matrix_view<float>(grad_f.data(), na, dim),
                         st,
                         exec);
        std::copy(grad_f.begin(), grad_f.end(), grad.data);
        std::copy(e_f.begin(), e_f.end(), e.begin());
    };
    descent_loop(
        opt, clamped, has_compact_support(prm.kernel), std::move(active), dim, res, evaluate);
    // Queries still active ran out of steps (status already max_steps).
    final_energies(mem, prm, res, exec);
    return res;
}

template retrieve_result<float> gradient_descent(const retrieval_call<float>&);
template retrieve_result<double> gradient_descent(const retrieval_call<double>&);

}  // namespace denseam::detail
