// SPDX-License-Identifier: MIT
// denseam: execution options shared by every compute call.
#pragma once

#include <cstdint>
#include <functional>

namespace denseam {

/// How a call runs. None of these options changes a result: results are bitwise identical for
/// every thread count (the work is split by shape only, and partial sums are combined in a fixed
/// order).
struct exec_options {
    /// OpenMP threads; 0 uses the OpenMP default (OMP_NUM_THREADS or the number of cores).
    int n_threads = 0;
    /// Called from the calling thread at tile boundaries; returning true stops the call, which
    /// then throws denseam::interrupted. May be empty.
    std::function<bool()> interrupt;
};

/// Number of threads `opts` asks for (resolves 0).
int resolved_threads(const exec_options& opts) noexcept;

}  // namespace denseam
