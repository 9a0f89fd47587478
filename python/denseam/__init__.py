# SPDX-License-Identifier: MIT
"""denseam: Dense Associative Memories for NumPy users.

Energies, gradients and retrieval of DenseAMs with the log-sum-exp (Gaussian), log-sum-ReLU
(Epanechnikov) and other kernels, computed by the C++ library (tiled GEMM with fused kernel
epilogues, OpenMP threads, GIL released):

    energy(memories, queries, kernel="lsr", beta=..., eps=..., q="auto", degree=...) -> (B,)
    grad(...) -> (B, d);  energy_and_grad(...) -> ((B,), (B, d))
    retrieve(memories, queries, method="fixed-point" | "gradient", ...) -> RetrievalResult
    Memory(patterns, kernel=..., beta=...)  with .energy/.grad/.energy_and_grad/.retrieve

Every default is the C++ library's default (see each function's signature). float32 inputs
give float32 results; everything else is computed in float64. See docs/python.md.
"""
import enum as _enum
import os as _os
import sys as _sys


def _prefer_avx512_blas():
    """Debian's OpenBLAS picks AVX2 kernels on AVX-512 CPUs unless OPENBLAS_CORETYPE says
    otherwise (1.6x slower). The variable is read when OpenBLAS is loaded, i.e. when the
    extension below (or NumPy, which shares the library) is loaded first: set it if nobody did
    and nothing has loaded OpenBLAS yet. Export OPENBLAS_CORETYPE=SKYLAKEX yourself to be sure."""
    if "OPENBLAS_CORETYPE" in _os.environ or "numpy" in _sys.modules:
        return
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    if " avx512f" in line:
                        _os.environ["OPENBLAS_CORETYPE"] = "SKYLAKEX"
                    return
    except OSError:
        pass


_prefer_avx512_blas()

from . import _denseam  # noqa: E402  (after the BLAS choice above)
from ._denseam import (  # noqa: E402
    GaussianMixture,
    Memory,
    RetrievalResult,
    __version__,
    beta_range,
    choose_beta,
    emergence_window,
    energy,
    energy_and_grad,
    find_minima,
    grad,
    kernel_names,
    retrieve,
    sample_around,
)

#: The kernel names accepted by ``kernel=`` (from the C++ library).
KERNELS = tuple(kernel_names())

#: Codes of ``RetrievalResult.status`` (an IntEnum, so ``res.status == RetrievalStatus.converged``
#: works on the uint8 array). Names come from the C++ library ("max-steps" -> max_steps).
RetrievalStatus = _enum.IntEnum(
    "RetrievalStatus",
    [(name.replace("-", "_"), code) for code, name in enumerate(_denseam.retrieval_status_names())],
    module=__name__,
)
RetrievalStatus.__doc__ = "Per-query outcome of a retrieval (values of RetrievalResult.status)."

__all__ = [
    "GaussianMixture",
    "KERNELS",
    "Memory",
    "RetrievalResult",
    "RetrievalStatus",
    "__version__",
    "beta_range",
    "choose_beta",
    "emergence_window",
    "energy",
    "energy_and_grad",
    "find_minima",
    "grad",
    "kernel_names",
    "retrieve",
    "sample_around",
]
