// SPDX-License-Identifier: MIT
// The energies of the retrieval methods' final states (methods.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/tile_engine.hpp"
#include "retrieval/methods.hpp"

namespace denseam::detail {

template <class T>
void final_energies(matrix_view<const T> mem,
                    const energy_params& prm,
                    retrieve_result<T>& res,
                    const exec_options& exec) {
    const std::int64_t n = static_cast<std::int64_t>(res.status.size());
    const std::int64_t dim = mem.cols;
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
    energy_unchecked(mem,
                     matrix_view<const T>(x.data(), nr, dim),
                     prm,
                     std::span<T>(e),
                     matrix_view<T>{},
                     {},
                     exec);
    for (std::int64_t a = 0; a < nr; ++a)
        res.energy[static_cast<std::size_t>(rows[static_cast<std::size_t>(a)])] =
            e[static_cast<std::size_t>(a)];
}

#define DENSEAM_INSTANTIATE(T)    \
    template void final_energies( \
        matrix_view<const T>, const energy_params&, retrieve_result<T>&, const exec_options&);
DENSEAM_INSTANTIATE(float)
DENSEAM_INSTANTIATE(double)
#undef DENSEAM_INSTANTIATE

}  // namespace denseam::detail
