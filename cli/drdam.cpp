// SPDX-License-Identifier: MIT
// denseam drdam: the distributed memory from the command line (placeholder until filled in).
#include "common.hpp"

namespace denseam::cli {

run_fn add_drdam(CLI::App& sub) {
    (void)sub;
    return [] { return exit_ok; };
}

}  // namespace denseam::cli
