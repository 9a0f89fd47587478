// SPDX-License-Identifier: MIT
// The names of the partitions (no MPI: compiled with or without it).
#include <string>

#include "denseam/error.hpp"
#include "dist/dist.hpp"

namespace denseam::dist {

std::string_view to_string(partition p) noexcept {
    return p == partition::cells ? "cells" : "rows";
}

partition parse_partition(std::string_view name) {
    if (name == "rows") return partition::rows;
    if (name == "cells") return partition::cells;
    throw invalid_argument("unknown --partition '" + std::string(name) + "' (rows or cells)");
}

}  // namespace denseam::dist
