// SPDX-License-Identifier: MIT
// denseam: execution options shared by every compute call.
#pragma once

#include <cstdint>
#include <functional>

namespace denseam {

/// How the memories near a state are found; see include/denseam/index.hpp.
enum class index_kind : std::uint8_t { automatic = 0, brute = 1, kdtree = 2, ball = 3 };

/// How a call runs. None of these options changes a result: results are bitwise identical for
/// every thread count (the work is split by shape only, and partial sums are combined in a fixed
/// order). The one exception is `index`, which may change the rounding of an energy (never a
/// support set, fixed point or minimum).
///
/// Thread safety: every function of the library may be called from several threads at once on
/// shared read-only inputs (each call writes only its own outputs) and returns the bits of a
/// serial call. A call with a team of one thread sets only the calling thread's OpenMP thread
/// count while it runs (so that OpenBLAS's OpenMP build does not thread the tile GEMMs); no call
/// changes process-wide state such as OpenBLAS's global thread count.
struct exec_options {
    /// OpenMP threads; 0 uses the OpenMP default (OMP_NUM_THREADS or the number of cores).
    int n_threads = 0;
    /// Called from the calling thread at tile boundaries; returning true stops the call, which
    /// then throws denseam::interrupted. May be empty.
    std::function<bool()> interrupt;
    /// How the memories within a compact kernel's support are found (include/denseam/index.hpp):
    /// automatic, brute, kdtree or ball. It never changes a support set, a fixed point or a
    /// minimum; energies summed through an index (in double) may differ from the GEMM engine's:
    /// in the last bits in double, by up to a few 1e-3 in log Z for float at very large beta, where
    /// the engine's float tiles lose accuracy and the index does not (the only option here that
    /// can change bits of a result).
    index_kind index = index_kind::automatic;
};

/// Number of threads `opts` asks for (resolves 0).
int resolved_threads(const exec_options& opts) noexcept;

/// Throws denseam::invalid_argument unless opts.n_threads >= 0. Every parallel loop of the
/// library checks it before it starts.
void validate(const exec_options& opts);

}  // namespace denseam
