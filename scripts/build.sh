#!/usr/bin/env bash
# Configures and builds one CMake preset (default: release). Usage: scripts/build.sh [preset]
set -euo pipefail
source "$(dirname "$0")/env.sh"
preset="${1:-release}"
cd "$DENSEAM_ROOT"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
