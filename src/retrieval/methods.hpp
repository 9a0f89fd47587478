// SPDX-License-Identifier: MIT
// The retrieval methods (internal), one file each, called by retrieve() (retrieve.cpp) after
// validation, and the helpers they share (common.cpp):
//   lsr_fixed_point.cpp   exact LSR support-set iteration (paper Algorithm 1, strict rule)
//   mean_shift.cpp        fixed point x <- sum w xi / sum w for the other distance kernels
//   gradient_descent.cpp  gradient descent: the tiled engine for large memory sets, the lane
//                         descent (lane_descent.hpp/.cpp, one build per instruction set) for
//                         small ones
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "denseam/retrieval.hpp"
#include "index/range_index.hpp"

namespace denseam::detail {

/// One validated call of retrieve(): what every method reads.
template <class T>
struct retrieval_call {
    matrix_view<const T> memories, queries;
    const energy_params& params;
    const retrieve_options& options;
    const exec_options& exec;
    /// An index over `memories` (positions = rows) kept by the caller, or null: the method
    /// then builds one when exec.index asks for it or the automatic choice picks one.
    const range_index<T>* index = nullptr;
};

/// retrieve() with an index over the memories kept by the caller (the memory store): the same
/// validation, dispatch and results; `index` may be null.
template <class T>
retrieve_result<T> retrieve_indexed(matrix_view<const T> memories,
                                    matrix_view<const T> queries,
                                    const energy_params& params,
                                    const retrieve_options& options,
                                    const exec_options& exec,
                                    const range_index<T>* index);

template <class T>
retrieve_result<T> lsr_fixed_point(const retrieval_call<T>& call);
template <class T>
retrieve_result<T> mean_shift(const retrieval_call<T>& call);
template <class T>
retrieve_result<T> gradient_descent(const retrieval_call<T>& call);

// ---- the lane descent (lane_descent.cpp) --------------------------------------------------

/// Memory sets with M * dim up to this take the lane descent in gradient_descent.
constexpr std::int64_t small_descent_limit = std::int64_t(1) << 14;

/// Gradient descent of every query in res.states (the queries on entry) for a small memory
/// set: the queries descend in lanes, vectorised across the lanes, with no engine call per step.
/// Writes res.states, res.status and res.steps; the energies are the caller's (final_energies).
template <class T>
void lane_descent(const retrieval_call<T>& call,
                  const std::vector<char>& clamped,
                  retrieve_result<T>& res);

/// The lane widths built: 32 (AVX-512, x86-64-v4; GCC on x86-64 without AddressSanitizer) and
/// 8 (the x86-64-v3 baseline, always). Whether the 32-lane build exists and this CPU runs it.
bool wide_lanes_available();

/// Forces the lane width of later lane descents (for tests: the 8-lane build is otherwise never
/// run on an AVX-512 CPU): 0 = automatic (32 where wide_lanes_available(), else 8), 8, or 32.
/// Throws invalid_argument for another value, and for 32 where wide_lanes_available() is
/// false. Process-wide (an atomic): set it only where no other descent runs concurrently.
void set_lane_width_override(int lanes);

/// The lane width the next lane descent uses (the override, else automatic).
int lane_width();

// ---- shared helpers (final_energies in common.cpp)
// ----------------------------------------------------------

/// Queries per parallel work item of the fixed-point iterations.
constexpr std::int64_t query_block = 64;

/// A result for n queries of dimension dim: states and energies sized, every status max_steps,
/// every step count 0.
template <class T>
retrieve_result<T> make_result(std::int64_t n, std::int64_t dim) {
    retrieve_result<T> r;
    r.states.resize(static_cast<std::size_t>(n * dim));
    r.energy.resize(static_cast<std::size_t>(n));
    r.status.assign(static_cast<std::size_t>(n), retrieval_status::max_steps);
    r.steps.assign(static_cast<std::size_t>(n), 0);
    return r;
}

/// Validates the options every retrieval shares (max_steps, tol, clamped coordinates in
/// [0, dim), finite schedules, positive beta schedule values); throws invalid_argument.
void check_retrieve_options(const retrieve_options& options, std::int64_t dim);

/// Whether gradient descent follows options.beta (else the energy's beta throughout).
inline bool uses_beta_schedule(const retrieve_options& opt) {
    return !(opt.beta.type == schedule::kind::constant && !(opt.beta.start > 0.0));
}

/// res.energy of the final states res.states (n x dim): NaN where the status is non_finite or the
/// state is not finite, else energy(xs, e) over the rows that need it (xs: nr x dim, e: nr), one
/// call. Shared by the explicit memories (final_energies) and the distributed memory.
template <class T, class Energy>
void final_energies_with(retrieve_result<T>& res, std::int64_t dim, Energy&& energy) {
    const std::int64_t n = static_cast<std::int64_t>(res.status.size());
    res.energy.assign(static_cast<std::size_t>(n), std::numeric_limits<T>::quiet_NaN());
    std::vector<std::int64_t> rows;
    for (std::int64_t i = 0; i < n; ++i) {
        if (res.status[static_cast<std::size_t>(i)] == retrieval_status::non_finite) continue;
        bool finite = true;
        for (std::int64_t k = 0; k < dim; ++k)
            finite = finite && std::isfinite(static_cast<double>(
                                   res.states[static_cast<std::size_t>(i * dim + k)]));
        if (finite) rows.push_back(i);
    }
    if (rows.empty()) return;
    const auto nr = static_cast<std::int64_t>(rows.size());
    std::vector<T> x(static_cast<std::size_t>(nr * dim)), e(static_cast<std::size_t>(nr));
    for (std::int64_t a = 0; a < nr; ++a)
        std::copy(res.states.begin() + rows[static_cast<std::size_t>(a)] * dim,
                  res.states.begin() + (rows[static_cast<std::size_t>(a)] + 1) * dim,
                  x.begin() + a * dim);
    energy(matrix_view<const T>(x.data(), nr, dim), std::span<T>(e));
    for (std::int64_t a = 0; a < nr; ++a)
        res.energy[static_cast<std::size_t>(rows[static_cast<std::size_t>(a)])] =
            e[static_cast<std::size_t>(a)];
}

/// The energies of the final states: NaN where the status is non_finite (the state is not
/// trustworthy, and its energy may not be computable), the engine's value elsewhere. Internal
/// states are not user input: no validation, and one engine call over the rows that need it.
template <class T>
void final_energies(matrix_view<const T> mem,
                    const energy_params& prm,
                    retrieve_result<T>& res,
                    const exec_options& exec,
                    const range_index<T>* index = nullptr);

/// The index a fixed-point method uses: the caller's (call.index), else one built for the call
/// (index_for_call, probed with the queries) into `owned`; null for the scan.
template <class T>
const range_index<T>* call_index(const retrieval_call<T>& call,
                                 std::unique_ptr<range_index<T>>& owned) {
    if (call.index != nullptr) return call.index;
    owned = index_for_call(call.memories, call.params, call.queries.rows, call.queries, call.exec);
    return owned.get();
}

}  // namespace denseam::detail
