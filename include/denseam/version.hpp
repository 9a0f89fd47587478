// SPDX-License-Identifier: MIT
// denseam: the version of the library. This header is the one place the version is written: the
// top-level CMakeLists.txt reads it from here (project version, denseamConfigVersion.cmake), the
// CLI prints it for --version and the Python module exposes it as __version__. CHANGELOG.md says
// what each version changed.
#pragma once

/// Major version: incremented for incompatible API changes (find_package(denseam 1) accepts any
/// 1.x, SameMajorVersion).
#define DENSEAM_VERSION_MAJOR 0
/// Minor version: incremented for added functionality.
#define DENSEAM_VERSION_MINOR 1
/// Patch version: incremented for fixes.
#define DENSEAM_VERSION_PATCH 0
/// "MAJOR.MINOR.PATCH" (CMake checks that it agrees with the three numbers above).
#define DENSEAM_VERSION_STRING "0.1.0"
/// One integer for preprocessor comparisons: MAJOR * 10000 + MINOR * 100 + PATCH.
#define DENSEAM_VERSION \
    (DENSEAM_VERSION_MAJOR * 10000 + DENSEAM_VERSION_MINOR * 100 + DENSEAM_VERSION_PATCH)

namespace denseam {

/// The version of these headers, "MAJOR.MINOR.PATCH" (DENSEAM_VERSION_STRING).
inline constexpr const char* version_string = DENSEAM_VERSION_STRING;

}  // namespace denseam
