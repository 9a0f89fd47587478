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

#include "engine/rng.hpp"
#include "engine/tile_engine.hpp"
#include "kernels/policies.hpp"
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
    std::vector<T> xs, grad, e;
    std::vector<energy_status> st;
    const bool single = !std::is_same_v<T, float> && opt.precision == gradient_precision::single;
    std::vector<float> mem_f, xs_f, grad_f, e_f;
    if (single && !active.empty())
        for (std::int64_t m = 0; m < mem.rows; ++m)
            for (std::int64_t k = 0; k < dim; ++k) mem_f.push_back(static_cast<float>(mem(m, k)));
    for (std::int64_t t = 0; t < opt.max_steps && !active.empty(); ++t) {
        const auto na = static_cast<std::int64_t>(active.size());
        xs.resize(static_cast<std::size_t>(na * dim));
        grad.resize(xs.size());
        e.resize(static_cast<std::size_t>(na));
        st.resize(static_cast<std::size_t>(na));
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            std::copy(res.states.begin() + i * dim,
                      res.states.begin() + (i + 1) * dim,
                      xs.begin() + a * dim);
        }
        energy_params p = prm;
        if (use_beta_schedule) p.beta = opt.beta.at(t, opt.max_steps);
        const double alpha = opt.step_size.at(t, opt.max_steps);
        const double sigma = opt.noise.at(t, opt.max_steps);
        if (single) {
            // gradient_precision::single for T = double: the engine in float, the state in T.
            xs_f.assign(xs.begin(), xs.end());
            grad_f.resize(xs.size());
            e_f.resize(e.size());
            energy_unchecked(matrix_view<const float>(mem_f.data(), mem.rows, dim),
                             matrix_view<const float>(xs_f.data(), na, dim),
                             p,
                             std::span<float>(e_f),
                             matrix_view<float>(grad_f.data(), na, dim),
                             std::span(st),
                             exec);
            std::copy(grad_f.begin(), grad_f.end(), grad.begin());
            std::copy(e_f.begin(), e_f.end(), e.begin());
        } else {
            energy_unchecked(mem,
                             matrix_view<const T>(xs.data(), na, dim),
                             p,
                             std::span<T>(e),
                             matrix_view<T>(grad.data(), na, dim),
                             std::span(st),
                             exec);
        }
        std::vector<std::int64_t> still;
        still.reserve(active.size());
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            const auto si = static_cast<std::size_t>(i);
            T* g = grad.data() + a * dim;
            double gmax = 0.0;
            for (std::int64_t k = 0; k < dim; ++k) {
                if (clamped[static_cast<std::size_t>(k)]) g[k] = T(0);
                const double ag = std::abs(static_cast<double>(g[k]));
                gmax = (ag > gmax || ag != ag) ? ag : gmax;  // NaN must win
            }
            res.steps[si] = t;
            if (has_compact_support(prm.kernel) &&
                st[static_cast<std::size_t>(a)] == energy_status::unsupported) {
                res.status[si] = retrieval_status::out_of_support;
                continue;
            }
            if (!std::isfinite(gmax) ||
                !std::isfinite(static_cast<double>(e[static_cast<std::size_t>(a)]))) {
                res.status[si] = retrieval_status::non_finite;
                continue;
            }
            if (opt.tol > 0.0 && gmax < opt.tol) {
                res.status[si] = retrieval_status::converged;
                continue;
            }
            T* x = res.states.data() + i * dim;
            bool finite = true;
            for (std::int64_t k = 0; k < dim; ++k) {
                if (clamped[static_cast<std::size_t>(k)]) continue;
                double step = g[k];
                if (sigma != 0.0)
                    step += sigma * counter_normal(opt.seed,
                                                   static_cast<std::uint64_t>(i),
                                                   static_cast<std::uint64_t>(t),
                                                   static_cast<std::uint64_t>(k));
                x[k] = static_cast<T>(x[k] - alpha * step);
                finite = finite && std::isfinite(static_cast<double>(x[k]));
            }
            res.steps[si] = t + 1;
            if (!finite) {
                res.status[si] = retrieval_status::non_finite;
                continue;
            }
            still.push_back(i);
        }
        active.swap(still);
    }
    // Queries still active ran out of steps (status already max_steps).
    final_energies(mem, prm, res, exec);
    return res;
}

template retrieve_result<float> gradient_descent(const retrieval_call<float>&);
template retrieve_result<double> gradient_descent(const retrieval_call<double>&);

}  // namespace denseam::detail
