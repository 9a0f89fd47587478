// SPDX-License-Identifier: MIT
// The C++ example of README.md ("Example (C++)"), built against an installed denseam
// (tests/install/run.sh): two patterns in 1-D, LSR at beta = 0.9, exact fixed-point retrieval.
// Exit 0 when the documented results come out, 1 (with a message) otherwise.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <denseam/retrieval.hpp>
#include <denseam/version.hpp>
#include <vector>

namespace {

int failures = 0;

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "denseam_consumer: FAILED: %s\n", what);
        ++failures;
    }
}

}  // namespace

int main() {
    check(std::strcmp(denseam::version_string, DENSEAM_PACKAGE_VERSION) == 0,
          "the headers' version is the package's (denseamConfigVersion.cmake)");

    // Two stored patterns in 1-D; LSR at beta = 0.9 keeps both and creates a third minimum at 0.
    std::vector<double> xi = {-1.0, 1.0}, x = {0.3, 0.6};
    denseam::energy_params p{.kernel = denseam::kernel_kind::lsr, .beta = 0.9};
    auto r = denseam::retrieve<double>(denseam::make_matrix_view<const double>(xi.data(), 2, 1),
                                       denseam::make_matrix_view<const double>(x.data(), 2, 1),
                                       p);
    // r.states == {0.0, 1.0}; r.support: {0, 1} and {1}; r.status: converged, converged
    check(r.states == std::vector<double>{0.0, 1.0}, "states == {0.0, 1.0}");
    check(r.support.offsets == std::vector<std::int64_t>{0, 2, 3} &&
              r.support.indices == std::vector<std::int64_t>{0, 1, 1},
          "supports {0, 1} and {1}");
    check(r.status.size() == 2 && r.status[0] == denseam::retrieval_status::converged &&
              r.status[1] == denseam::retrieval_status::converged,
          "statuses converged, converged");
    if (failures != 0) return 1;
    std::printf("denseam_consumer: README example OK with installed denseam %s (states %g %g)\n",
                denseam::version_string,
                r.states[0],
                r.states[1]);
    return 0;
}
