// SPDX-License-Identifier: MIT
// denseam: the paper's experiments as library functions (the CLI, Python and tests run these).
#pragma once

#include <string>
#include <vector>

#include "denseam/minima_search.hpp"

namespace denseam {

/// One panel of the paper's Fig. 1 (paper.md section 3.1).
struct fig1_panel {
    std::string name;  ///< "1d-lsr", "1d-lse" or "2d-lsr"
    energy_params params;
    std::int64_t dim = 1;
    std::vector<double> patterns;  ///< (n_patterns x dim)
    search_result search;          ///< the minima found
    int paper_minima = 0;          ///< true minimum count stated in paper.md 3.1 / V1 / V3
    int paper_emergent = 0;        ///< of which emergent (LSR) / away from the patterns (LSE)
};

struct fig1_result {
    std::vector<fig1_panel> panels;
};

/// Fig. 1: the 1-D pair {-1, +1} (LSR at beta 0.4, 0.9, 2.1 with Fig. 1's eps = 1e-6; LSE at
/// beta 0.4, 1.5, 4.11) and the 2-D equilateral triangle (-1,0), (1,0), (0,-sqrt 3) (LSR at beta
/// 0.3, 0.6, 1.1, 2.1). Minima are found by retrieval from a dense grid of starts (2001 points on
/// [-2.1, 2.1]; 201 x 201 on [-3, 3] x [-3.5, 2]) and deduplication (search_minima), so each is
/// a true minimum, not a grid artefact. Cost: well under a second.
fig1_result run_fig1(const exec_options& exec = {});

/// The result as a JSON document (field names documented in docs/experiments.md).
std::string to_json(const fig1_result& r);

}  // namespace denseam
