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
                    const exec_options& exec,
                    const range_index<T>* index) {
    final_energies_with(res, mem.cols, [&](matrix_view<const T> xs, std::span<T> e) {
        if (index != nullptr)
            energy_with_index(*index, xs, prm, e, matrix_view<T>{}, {}, exec);
        else
            energy_unchecked(mem, xs, prm, e, matrix_view<T>{}, {}, exec);
    });
}

#define DENSEAM_INSTANTIATE(T)                         \
    template void final_energies(matrix_view<const T>, \
                                 const energy_params&, \
                                 retrieve_result<T>&,  \
                                 const exec_options&,  \
                                 const range_index<T>*);
DENSEAM_INSTANTIATE(float)
DENSEAM_INSTANTIATE(double)
#undef DENSEAM_INSTANTIATE

}  // namespace denseam::detail
