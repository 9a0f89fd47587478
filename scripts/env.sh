# Sourced by the scripts: the environment denseam's programs run best in.
# OpenBLAS picks its kernels when it is loaded and misses AVX-512 on recent AMD CPUs unless told
# (1.6x on SGEMM); it must be set before the process starts.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=SKYLAKEX
fi
export DENSEAM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
