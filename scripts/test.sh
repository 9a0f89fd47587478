#!/usr/bin/env bash
# The whole test suite: install, build (Release with -Werror, and Debug with ASan+UBSan), run the
# C++ tests (ctest) under both, the Python and CLI tests (pytest), the installed package
# (tests/install/run.sh) and the format check.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$DENSEAM_ROOT"
bash scripts/setup.sh
status=0
step() { echo; echo "== $*"; }

step "build (ci preset: Release, warnings as errors)"
bash scripts/build.sh ci

step "C++ tests (Release)"
ctest --test-dir build/ci --output-on-failure -j "$(nproc)" || status=1

step "Python and CLI tests (pytest)"
export DENSEAM_BIN="$DENSEAM_ROOT/build/ci/bin/denseam"
PYTHONPATH="$DENSEAM_ROOT/build/ci/python${PYTHONPATH:+:$PYTHONPATH}" \
  /usr/bin/python3 -m pytest -q tests/python tests/cli || status=1

step "installed package (cmake --install, a find_package consumer, the installed CLI)"
bash tests/install/run.sh build/ci || status=1

step "build (debug preset: AddressSanitizer + UBSan)"
bash scripts/build.sh debug

step "C++ tests under AddressSanitizer + UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/debug --output-on-failure -j "$(nproc)" || status=1

step "format check (clang-format)"
files=$(git ls-files '*.cpp' '*.hpp' '*.cu' '*.cuh' 2>/dev/null || true)
if [ -n "$files" ] && ! clang-format --dry-run --Werror $files; then
  echo "format check failed: run clang-format -i on the files above"
  status=1
fi

if [ $status -ne 0 ]; then echo "TESTS FAILED"; else echo "ALL TESTS PASSED"; fi
exit $status
