# SPDX-License-Identifier: MIT
"""denseam: Dense Associative Memories for NumPy users.

Energies, gradients and retrieval of DenseAMs with the log-sum-exp (Gaussian), log-sum-ReLU
(Epanechnikov) and other kernels, computed by the C++ library (tiled GEMM with fused kernel
epilogues, OpenMP threads, GIL released):

    energy(memories, queries, kernel="lsr", beta=..., eps=..., q="auto", degree=...) -> (B,)
    grad(...) -> (B, d);  energy_and_grad(...) -> ((B,), (B, d))
    retrieve(memories, queries, beta=..., method="fixed-point" | "gradient", ...)
        -> RetrievalResult
    Memory(patterns, kernel=..., beta=...)  with .energy/.grad/.energy_and_grad/.retrieve, a live
        store: .add/.remove/.ids/.save/.load (stable ids, range index, crash-safe files)
    range_search(memories, queries, radius, index="auto")  every memory within radius, exactly
    DistributedMemory(dim, kind="fourier", n_features=..., beta=...)  the same energy (lse) from
        Y random features: .add/.remove/.energy/.energy_and_grad/.retrieve/.save/.load
    feature_map, random_projections, feature_phases, memory_footprint  (the random features)
    ClAM(n_clusters=8, kernel="lse" | "lsr", ...)  clustering with associative memories, a
        scikit-learn estimator (.fit/.predict/.fit_predict; needs scikit-learn, imported on
        first use of denseam.ClAM)

beta is a required keyword wherever it is an energy parameter. Every other default is the C++
library's default (see each function's signature and docstring). float32 inputs give float32
results; everything else is computed in float64. See docs/python.md.
"""
import ast as _ast
import difflib as _difflib
import enum as _enum
import functools as _functools
import inspect as _inspect
import os as _os
import re as _re
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
    BetaVAE,
    DistributedMemory,
    GaussianMixture,
    Memory,
    RetrievalResult,
    __version__,
    beta_range,
    bstor,
    choose_beta,
    emergence_window,
    energy,
    energy_and_grad,
    feature_map,
    feature_phases,
    find_minima,
    grad,
    kernel_names,
    load_dataset,
    memory_footprint,
    nearest_distinct_neighbours,
    pxle,
    qbvae,
    random_projections,
    range_search,
    read_idx,
    retrieve,
    sample_around,
)


# ---- keyword errors that name the keyword ------------------------------------------------------
# pybind11 answers a misspelt or missing keyword with a generic "incompatible function arguments"
# TypeError. The public callables are wrapped so that, only when a call raises TypeError, the
# keywords are checked against the signature line(s) that pybind11 puts at the top of each
# docstring (parsed once, here) and the error says which keyword is wrong.


class _Param:
    __slots__ = ("name", "annotation", "default", "kind")

    def __init__(self, name, annotation, default, kind):
        self.name, self.annotation, self.default, self.kind = name, annotation, default, kind

    @property
    def required(self):
        return self.default is None


class _DefaultText:
    """A default value shown as pybind11 wrote it (when it is not a Python literal)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def _split_top_level(text):
    """Split a parameter list at the commas outside brackets and quotes."""
    parts, depth, quote, start, escaped = [], 0, None, 0, False
    for i, ch in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_PARAM = _re.compile(r"^(\*{0,2}\w+)\s*(?::\s*([^=]*?))?\s*(?:=\s*(.*))?$", _re.S)


def _parse_params(params_text):
    """[_Param] of one pybind11 signature's parameter list, or None if it is not understood."""
    out, kind = [], _inspect.Parameter.POSITIONAL_OR_KEYWORD
    for part in _split_top_level(params_text):
        if part == "*":
            kind = _inspect.Parameter.KEYWORD_ONLY
            continue
        if part == "/":
            for p in out:
                p.kind = _inspect.Parameter.POSITIONAL_ONLY
            continue
        m = _PARAM.match(part)
        if not m:
            return None
        name, annotation, default = m.groups()
        if name.startswith("**"):
            out.append(_Param(name[2:], annotation, None, _inspect.Parameter.VAR_KEYWORD))
        elif name.startswith("*"):
            out.append(_Param(name[1:], annotation, None, _inspect.Parameter.VAR_POSITIONAL))
            kind = _inspect.Parameter.KEYWORD_ONLY
        else:
            out.append(_Param(name, annotation, None if default is None else default.strip(),
                              kind))
    return out


def _signatures(fn, name):
    """The parameter lists of the pybind11 signature line(s) of fn's docstring (one per
    overload; "1. name(...)" lines for overloaded functions)."""
    pattern = _re.compile(r"^(?:\d+\. )?" + _re.escape(name) + r"\((.*)\)(?: -> .*)?$")
    out = []
    for line in (getattr(fn, "__doc__", None) or "").splitlines():
        m = pattern.match(line.strip())
        if m:
            params = _parse_params(m.group(1))
            if params is not None:
                out.append(params)
    return out


def _call_error(title, overloads, args, kwargs):
    """The message of a TypeError naming the keyword at fault in fn(*args, **kwargs), or None
    when the keywords fit (the original error then stands)."""
    K = _inspect.Parameter
    if not any(p.kind == K.VAR_KEYWORD for params in overloads for p in params):
        accepted = sorted({p.name for params in overloads for p in params
                           if p.kind in (K.POSITIONAL_OR_KEYWORD, K.KEYWORD_ONLY)})
        for key in kwargs:
            if key not in accepted:
                close = _difflib.get_close_matches(key, accepted, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                return f"{title}() got an unexpected keyword argument '{key}'{hint}"
    if len(overloads) != 1:
        return None
    params = overloads[0]
    if any(p.kind == K.VAR_POSITIONAL for p in params):
        return None
    positional = [p for p in params if p.kind in (K.POSITIONAL_ONLY, K.POSITIONAL_OR_KEYWORD)]
    if len(args) > len(positional):
        return None
    for p in positional[:len(args)]:
        if p.kind == K.POSITIONAL_OR_KEYWORD and p.name in kwargs:
            return f"{title}() got multiple values for argument '{p.name}'"
    for i, p in enumerate(params):
        if not p.required or p.kind == K.VAR_KEYWORD:
            continue
        if p.kind == K.KEYWORD_ONLY:
            if p.name not in kwargs:
                return f"{title}() missing required keyword argument '{p.name}'"
        elif i >= len(args) and (p.kind == K.POSITIONAL_ONLY or p.name not in kwargs):
            return f"{title}() missing required argument '{p.name}'"
    return None


def _signature_object(params):
    """An inspect.Signature for help() and inspect.signature, from one pybind11 signature."""
    def default(text):
        if text is None:
            return _inspect.Parameter.empty
        try:
            return _ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return _DefaultText(text)

    try:
        return _inspect.Signature([
            _inspect.Parameter(p.name, p.kind, default=default(p.default),
                               annotation=p.annotation or _inspect.Parameter.empty)
            for p in params])
    except (ValueError, TypeError):
        return None


def _checked(fn, name, title, qualname, module):
    """fn wrapped so that a TypeError from a bad keyword names it; the successful path costs
    one Python call."""
    overloads = _signatures(fn, name)

    def diagnose(args, kwargs):
        return _call_error(title, overloads, args, kwargs) if overloads else None

    if name == "__init__":
        @_functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BaseException as error:
                message = diagnose(args, kwargs) if isinstance(error, TypeError) else None
                # The instance (args[0]) is not constructed after a failed __init__: take it out
                # of this frame, whose locals tracebacks may show (pytest does): a pybind11
                # object that was never constructed must not be repr'd or used.
                del args
                if message is None:
                    raise
            raise TypeError(message)
    else:
        @_functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except TypeError:
                message = diagnose(args, kwargs)
                if message is None:
                    raise
            raise TypeError(message)

    wrapper.__qualname__ = qualname
    wrapper.__module__ = module
    if len(overloads) == 1:
        signature = _signature_object(overloads[0])
        if signature is not None:
            wrapper.__signature__ = signature
    return wrapper


def _check_keywords_of_function(fn):
    return _checked(fn, fn.__name__, fn.__name__, fn.__name__, __name__)


def _check_keywords_of_methods(cls, names):
    """Replace the methods `names` of the pybind11 class cls by checked wrappers (in place:
    cls is the class the extension returns and pickles)."""
    for name in names:
        raw = cls.__dict__[name]
        static = isinstance(raw, staticmethod)
        fn = raw.__func__ if hasattr(raw, "__func__") else raw
        if hasattr(fn, "__wrapped__"):  # already checked (the package was reloaded)
            continue
        title = cls.__name__ if name == "__init__" else f"{cls.__name__}.{name}"
        wrapped = _checked(fn, name, title, f"{cls.__name__}.{name}", cls.__module__)
        setattr(cls, name, staticmethod(wrapped) if static else wrapped)


energy = _check_keywords_of_function(energy)
grad = _check_keywords_of_function(grad)
energy_and_grad = _check_keywords_of_function(energy_and_grad)
retrieve = _check_keywords_of_function(retrieve)
find_minima = _check_keywords_of_function(find_minima)
beta_range = _check_keywords_of_function(beta_range)
choose_beta = _check_keywords_of_function(choose_beta)
emergence_window = _check_keywords_of_function(emergence_window)
sample_around = _check_keywords_of_function(sample_around)
load_dataset = _check_keywords_of_function(load_dataset)
read_idx = _check_keywords_of_function(read_idx)
nearest_distinct_neighbours = _check_keywords_of_function(nearest_distinct_neighbours)
bstor = _check_keywords_of_function(bstor)
pxle = _check_keywords_of_function(pxle)
qbvae = _check_keywords_of_function(qbvae)
feature_map = _check_keywords_of_function(feature_map)
random_projections = _check_keywords_of_function(random_projections)
feature_phases = _check_keywords_of_function(feature_phases)
memory_footprint = _check_keywords_of_function(memory_footprint)
_check_keywords_of_methods(BetaVAE, ["__init__", "fit", "encode", "decode", "loss"])
_check_keywords_of_methods(Memory, ["__init__", "energy", "grad", "energy_and_grad", "retrieve",
                                    "add", "remove", "save", "load", "empty"])
_check_keywords_of_methods(DistributedMemory,
                           ["__init__", "add", "remove", "energy", "grad", "energy_and_grad",
                            "retrieve", "save", "load"])
_check_keywords_of_methods(GaussianMixture,
                           ["__init__", "random", "sample", "log_density", "from_json"])

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


def __getattr__(name):
    """denseam.ClAM, imported on first use: it needs scikit-learn, the rest of the package
    does not."""
    if name == "ClAM":
        from .cluster import ClAM

        globals()["ClAM"] = ClAM
        return ClAM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | {"ClAM"})


__all__ = [
    "BetaVAE",
    "ClAM",
    "DistributedMemory",
    "GaussianMixture",
    "KERNELS",
    "Memory",
    "RetrievalResult",
    "RetrievalStatus",
    "__version__",
    "beta_range",
    "bstor",
    "choose_beta",
    "emergence_window",
    "energy",
    "energy_and_grad",
    "feature_map",
    "feature_phases",
    "find_minima",
    "grad",
    "kernel_names",
    "load_dataset",
    "memory_footprint",
    "nearest_distinct_neighbours",
    "pxle",
    "qbvae",
    "random_projections",
    "range_search",
    "read_idx",
    "retrieve",
    "sample_around",
]
