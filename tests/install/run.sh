#!/usr/bin/env bash
# The installed package, end to end: `cmake --install` of a build tree into a fresh prefix, then
#  - the installed CMake files export only what a consumer needs (no source-tree paths, no
#    header-only or build-only dependencies; BLAS::BLAS and ZLIB::ZLIB (gzip data sets) as
#    link-only dependencies, found again by denseamConfig.cmake);
#  - tests/install (find_package(denseam CONFIG REQUIRED), denseam::denseam) configures, builds
#    and runs README.md's C++ example against that prefix;
#  - the installed CLI reports the version of include/denseam/version.hpp and finds its plotting
#    script in <prefix>/share/denseam (fig1 with its figure; --no-plot without matplotlib).
# Usage: bash tests/install/run.sh [BUILD_DIR]  (default build/ci). A BUILD_DIR without a CMake
# cache is configured with the ci preset; only the targets denseam and denseam_cli are built.
# The build must be without sanitizers (the ci or release preset). A step of scripts/test.sh.
set -euo pipefail
source "$(dirname "$0")/../../scripts/env.sh"
cd "$DENSEAM_ROOT"
build="${1:-build/ci}"
case "$build" in /*) ;; *) build="$DENSEAM_ROOT/$build" ;; esac
start_ns=$(date +%s%N)

fail() { echo "install test: FAILED: $*" >&2; exit 1; }
quiet() {  # quiet LOG CMD...: run CMD with its output in LOG, shown only if it fails
  local log="$1"; shift
  "$@" >"$log" 2>&1 || { cat "$log" >&2; fail "$*"; }
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/denseam-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tmp=$(cd "$tmp" && pwd -P)  # the path the CLI sees (it resolves its own location)
prefix="$tmp/prefix"

# ---- the build tree: the library and the CLI ----------------------------------------------
if [ ! -f "$build/CMakeCache.txt" ]; then
  quiet "$tmp/configure.log" cmake --preset ci -B "$build"
fi
if grep -q '^DENSEAM_SANITIZE:STRING=.' "$build/CMakeCache.txt"; then
  fail "$build is built with sanitizers; use a ci or release build"
fi
quiet "$tmp/build.log" cmake --build "$build" --target denseam denseam_cli -j "$(nproc)"

# ---- install into a fresh prefix -------------------------------------------------------------
quiet "$tmp/install.log" cmake --install "$build" --prefix "$prefix" --component library
quiet "$tmp/install-cli.log" cmake --install "$build" --prefix "$prefix" --component cli
config_dir=$(dirname "$(find "$prefix" -name denseamConfig.cmake -print -quit)")
[ -f "$config_dir/denseamTargets.cmake" ] || fail "no denseamTargets.cmake under $prefix"
[ -f "$config_dir/denseamConfigVersion.cmake" ] || fail "no denseamConfigVersion.cmake"
[ -f "$prefix/include/denseam/version.hpp" ] || fail "headers not installed"
if grep -n -E 'Eigen3|nlohmann|rapidcheck|denseam_flags' "$config_dir"/denseam*.cmake; then
  fail "the installed package names a build-only dependency (lines above)"
fi
if grep -n -F "$DENSEAM_ROOT" "$config_dir"/denseam*.cmake; then
  fail "the installed package points into the source or build tree (lines above)"
fi
grep -q '\$<LINK_ONLY:BLAS::BLAS>' "$config_dir/denseamTargets.cmake" ||
  fail "denseam::denseam does not carry BLAS::BLAS as a link-only dependency"
grep -q '\$<LINK_ONLY:ZLIB::ZLIB>' "$config_dir/denseamTargets.cmake" ||
  fail "denseam::denseam does not carry ZLIB::ZLIB as a link-only dependency"
grep -q 'find_dependency(ZLIB)' "$config_dir/denseamConfig.cmake" ||
  fail "denseamConfig.cmake does not find ZLIB again"

# ---- a consumer project against the prefix ----------------------------------------------------
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
quiet "$tmp/consumer-configure.log" cmake -S tests/install -B "$tmp/consumer" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release ${cxx:+-DCMAKE_CXX_COMPILER="$cxx"} \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
found=$(sed -n 's/^denseam_DIR:PATH=//p' "$tmp/consumer/CMakeCache.txt")
[ "$found" = "$config_dir" ] || fail "the consumer found denseam in '$found', not in $config_dir"
quiet "$tmp/consumer-build.log" cmake --build "$tmp/consumer"
"$tmp/consumer/denseam_consumer" || fail "the README example against the installed package"

# ---- the installed CLI -------------------------------------------------------------------------
version=$(sed -n 's/^#define DENSEAM_VERSION_STRING "\(.*\)"$/\1/p' include/denseam/version.hpp)
got=$("$prefix/bin/denseam" --version) || fail "denseam --version exited with $?"
[ "$got" = "denseam $version" ] || fail "denseam --version says '$got', not 'denseam $version'"
echo "installed CLI: $got"

[ -f "$prefix/share/denseam/plots.py" ] || fail "plots.py not installed in $prefix/share/denseam"
plot=()
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  echo "install test: matplotlib missing under /usr/bin/python3: fig1 --no-plot" >&2
  plot=(--no-plot)
fi
quiet "$tmp/fig1.log" env -u DENSEAM_PLOTS "$prefix/bin/denseam" fig1 --out "$tmp/fig1" "${plot[@]}"
[ -s "$tmp/fig1/fig1.json" ] || fail "denseam fig1 wrote no fig1.json"
if [ ${#plot[@]} -eq 0 ]; then
  [ -s "$tmp/fig1/fig1.png" ] || fail "denseam fig1 wrote no fig1.png"
fi
# Which script the CLI ran: one that fails names itself in the CLI's error.
mv "$prefix/share/denseam/plots.py" "$tmp/plots.py"
printf 'import sys\nsys.exit("stub plots.py")\n' > "$prefix/share/denseam/plots.py"
if env -u DENSEAM_PLOTS "$prefix/bin/denseam" fig1 --out "$tmp/fig1-stub" >"$tmp/stub.log" 2>&1
then
  fail "fig1 with a failing plots.py exited 0"
fi
grep -q -F "$prefix/share/denseam/plots.py" "$tmp/stub.log" || {
  cat "$tmp/stub.log" >&2
  fail "the installed CLI did not run $prefix/share/denseam/plots.py"
}
echo "installed CLI: fig1 ${plot[*]:-with its figure}, plotting script from <prefix>/share/denseam"

ms=$((($(date +%s%N) - start_ns) / 1000000))
printf 'install test: OK (%d.%d s)\n' $((ms / 1000)) $((ms % 1000 / 100))
