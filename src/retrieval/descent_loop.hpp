// SPDX-License-Identifier: MIT
// The gradient-descent loop shared by every energy that can report a gradient (internal):
// x <- x - alpha_t (grad E(x) + sigma_t n) over the queries still descending, with clamped
// coordinates, the tolerance test and the per-query statuses. The energy is a callback, so the
// explicit memories (gradient_descent.cpp) and the distributed memory (src/features) descend
// with the same code.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "denseam/retrieval.hpp"
#include "engine/rng.hpp"

namespace denseam::detail {

/// Runs the descent of the queries listed in `active` (indices into res.states, n x dim) for up
/// to opt.max_steps steps. `evaluate(t, xs, e, grad, st)` fills the energies, gradients and
/// statuses of the states xs (na x dim) at step t. A query stops with out_of_support when its
/// status is unsupported and `unsupported_stops`; non_finite on a non-finite gradient, energy or
/// state; converged once max |grad| < tol (tol > 0). Writes res.states, res.status (those still
/// descending at the end keep max_steps) and res.steps; not res.energy. `first_query`: the
/// number of the first row of res among all the queries of the call (a batch's offset), which
/// seeds the noise, so that the noise of a query does not depend on the batching.
template <class T, class Evaluate>
void descent_loop(const retrieve_options& opt,
                  const std::vector<char>& clamped,
                  bool unsupported_stops,
                  std::vector<std::int64_t> active,
                  std::int64_t dim,
                  retrieve_result<T>& res,
                  Evaluate&& evaluate,
                  std::int64_t first_query = 0) {
    std::vector<T> xs, grad, e;
    std::vector<energy_status> st;
    for (std::int64_t t = 0; t < opt.max_steps && !active.empty(); ++t) {
        const auto na = static_cast<std::int64_t>(active.size());
        xs.resize(static_cast<std::size_t>(na * dim));
        grad.resize(xs.size());
        e.resize(static_cast<std::size_t>(na));
        st.assign(static_cast<std::size_t>(na), energy_status::ok);
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            std::copy(res.states.begin() + i * dim,
                      res.states.begin() + (i + 1) * dim,
                      xs.begin() + a * dim);
        }
        evaluate(t,
                 matrix_view<const T>(xs.data(), na, dim),
                 std::span<T>(e),
                 matrix_view<T>(grad.data(), na, dim),
                 std::span<energy_status>(st));
        const double alpha = opt.step_size.at(t, opt.max_steps);
        const double sigma = opt.noise.at(t, opt.max_steps);
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
            if (unsupported_stops &&
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
                                                   static_cast<std::uint64_t>(first_query + i),
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
}

}  // namespace denseam::detail
