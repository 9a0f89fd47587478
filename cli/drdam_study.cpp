// SPDX-License-Identifier: MIT
// denseam drdam-study: the DrDAM experiments (placeholder until filled in).
#include "common.hpp"

namespace denseam::cli {

run_fn add_drdam_study(CLI::App& sub) {
    (void)sub;
    return [] { return exit_ok; };
}

}  // namespace denseam::cli
