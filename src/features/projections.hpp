// SPDX-License-Identifier: MIT
// The random projections of the feature maps (internal): rows s_i ~ N(0, I_dim) regenerated from
// (seed, row) on demand, and the block layout every computation of src/features shares.
#pragma once

#include <cstdint>
#include <vector>

#include "denseam/features.hpp"

namespace denseam::detail {

/// Projection rows per block (plain maps); orthogonal maps use whole groups of dim rows, at
/// least this many rows per block. The block layout depends on (kind, Y, dim, orthogonal) only.
constexpr std::int64_t projection_block = 512;

/// Rows of one block of the map's projections.
std::int64_t block_rows(const feature_params& params, std::int64_t dim) noexcept;

/// Writes rows [first, first + rows) of the unscaled projections (float, N(0, 1) entries) into
/// out (rows x dim, leading dimension dim). For orthogonal maps `first` must be a multiple of
/// dim (blocks are made of whole groups). Pure: the same bits at every call.
void generate_projections(const feature_params& params,
                          std::int64_t dim,
                          std::int64_t first,
                          std::int64_t rows,
                          float* out);

/// fourier_phase: the phases b_i / (2 pi) in turns, [0, 1), in double; empty for other kinds.
std::vector<double> phase_turns(const feature_params& params);

}  // namespace denseam::detail

namespace denseam {

/// The projection cache of a distributed_memory: all n_projections x dim rows, float.
struct distributed_memory::projection_cache {
    std::vector<float> rows;
};

}  // namespace denseam
