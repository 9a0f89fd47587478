// SPDX-License-Identifier: MIT
// Placeholder until filled in.
#include "common.hpp"

namespace denseam::cli {

run_fn add_clam_bench(CLI::App& sub) {
    (void)sub;
    return [] { return exit_ok; };
}

}  // namespace denseam::cli
