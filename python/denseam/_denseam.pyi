# SPDX-License-Identifier: MIT
# Type stubs of the compiled extension denseam._denseam (defaults live in the C++ library; the
# values are visible in each function's signature at runtime, e.g. help(denseam.energy)). beta
# is required wherever it is an energy parameter; the retrieve options that default to None
# take the library's value when not given (help(denseam.retrieve)).
from typing import Any, Literal, Sequence, Union, overload

import numpy as np
import numpy.typing as npt

_Kernel = Literal[
    "lse", "lsr", "triangle", "tophat", "cosine", "quartic", "triweight", "tricube", "poly"
]
_Q = Literal["auto", "log", "identity"]
_Method = Literal["fixed-point", "fixed_point", "gradient"]
_Precision = Literal["state", "single", "double", "float"]
_Index = Literal["auto", "automatic", "brute", "kdtree", "ball"]
_Schedule = Union[float, Sequence[float], npt.NDArray[np.floating]]
_Clamp = Union[None, Sequence[int], Sequence[bool], npt.NDArray[np.integer], npt.NDArray[np.bool_]]
_F32 = npt.NDArray[np.float32]
_Array = npt.NDArray[np.floating]

__version__: str

def kernel_names() -> list[str]: ...
def retrieval_status_names() -> list[str]: ...
@overload
def energy(
    memories: _F32, queries: _F32, *, kernel: _Kernel = ..., beta: float, eps: float = ...,
    q: _Q = ..., degree: int = ..., n_threads: int = ..., index: _Index = ...
) -> _F32: ...
@overload
def energy(
    memories: npt.ArrayLike, queries: npt.ArrayLike, *, kernel: _Kernel = ..., beta: float,
    eps: float = ..., q: _Q = ..., degree: int = ..., n_threads: int = ..., index: _Index = ...
) -> _Array: ...
def grad(
    memories: npt.ArrayLike, queries: npt.ArrayLike, *, kernel: _Kernel = ..., beta: float,
    eps: float = ..., q: _Q = ..., degree: int = ..., n_threads: int = ..., index: _Index = ...
) -> _Array: ...
def energy_and_grad(
    memories: npt.ArrayLike, queries: npt.ArrayLike, *, kernel: _Kernel = ..., beta: float,
    eps: float = ..., q: _Q = ..., degree: int = ..., n_threads: int = ..., index: _Index = ...
) -> tuple[_Array, _Array]: ...
def retrieve(
    memories: npt.ArrayLike, queries: npt.ArrayLike, *, kernel: _Kernel = ..., beta: float,
    eps: float = ..., q: _Q = ..., degree: int = ..., method: _Method = ..., steps: int = ...,
    lr: _Schedule | None = ..., lr_end: float | None = ..., tol: float | None = ...,
    clamp: _Clamp = ..., noise: _Schedule | None = ..., noise_end: float | None = ...,
    beta_schedule: _Schedule | None = ..., seed: int | None = ...,
    precision: _Precision | None = ..., n_threads: int = ..., index: _Index = ...
) -> RetrievalResult: ...

class RetrievalResult:
    @property
    def states(self) -> _Array: ...
    @property
    def energy(self) -> _Array: ...
    @property
    def status(self) -> npt.NDArray[np.uint8]: ...
    @property
    def steps(self) -> npt.NDArray[np.int64]: ...
    @property
    def method(self) -> str: ...
    @property
    def kernel(self) -> str: ...
    @property
    def support(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None: ...
    @property
    def support_offsets(self) -> npt.NDArray[np.int64] | None: ...
    @property
    def support_indices(self) -> npt.NDArray[np.int64] | None: ...
    @property
    def status_names(self) -> npt.NDArray[np.str_]: ...
    @property
    def converged(self) -> npt.NDArray[np.bool_]: ...
    def support_sets(self) -> list[npt.NDArray[np.int64]]: ...
    def status_counts(self) -> dict[str, int]: ...
    def __len__(self) -> int: ...

class Memory:
    def __init__(
        self, patterns: npt.ArrayLike, *, kernel: _Kernel = ..., beta: float,
        eps: float = ..., q: _Q = ..., degree: int = ..., index: _Index = ...
    ) -> None: ...
    @staticmethod
    def empty(
        dim: int, *, kernel: _Kernel = ..., beta: float, eps: float = ..., q: _Q = ...,
        degree: int = ..., dtype: Literal["float32", "f4", "float64", "f8"] = ...,
        index: _Index = ...
    ) -> Memory: ...
    @staticmethod
    def load(path: _PathLike) -> Memory: ...
    def save(self, path: _PathLike) -> None: ...
    def add(self, patterns: npt.ArrayLike, *, n_threads: int = ...) -> npt.NDArray[np.int64]: ...
    def remove(self, ids: npt.ArrayLike) -> None: ...
    def info(self) -> dict[str, Any]: ...
    @property
    def ids(self) -> npt.NDArray[np.int64]: ...
    @property
    def index(self) -> str: ...
    @property
    def patterns(self) -> _Array: ...
    @property
    def dim(self) -> int: ...
    @property
    def n_memories(self) -> int: ...
    @property
    def dtype(self) -> np.dtype[np.floating]: ...
    @property
    def kernel(self) -> str: ...
    @property
    def beta(self) -> float: ...
    @property
    def eps(self) -> float: ...
    @property
    def q(self) -> str: ...
    @property
    def degree(self) -> int: ...
    def __len__(self) -> int: ...
    def energy(self, queries: npt.ArrayLike, *, n_threads: int = ...) -> _Array: ...
    def grad(self, queries: npt.ArrayLike, *, n_threads: int = ...) -> _Array: ...
    def energy_and_grad(
        self, queries: npt.ArrayLike, *, n_threads: int = ...
    ) -> tuple[_Array, _Array]: ...
    def retrieve(
        self, queries: npt.ArrayLike, *, method: _Method = ..., steps: int = ...,
        lr: _Schedule | None = ..., lr_end: float | None = ..., tol: float | None = ...,
        clamp: _Clamp = ..., noise: _Schedule | None = ..., noise_end: float | None = ...,
        beta_schedule: _Schedule | None = ..., seed: int | None = ...,
        precision: _Precision | None = ..., n_threads: int = ...
    ) -> RetrievalResult: ...

# ---- minima and beta tools (minima_bindings.cpp) ------------------------------------------------
import types

def find_minima(
    patterns: npt.ArrayLike,
    *,
    beta: float,
    eps: float = 0.0,
    strategy: str = "auto",
    novelty_threshold: float = 0.1,
    max_candidates: int = 0,
    basin_radius: bool = True,
    n_threads: int = 0,
) -> types.SimpleNamespace: ...
def beta_range(patterns: npt.ArrayLike) -> types.SimpleNamespace: ...
def emergence_window(patterns: npt.ArrayLike) -> types.SimpleNamespace: ...
def choose_beta(patterns: npt.ArrayLike, target_k: float) -> types.SimpleNamespace: ...

# ---- Gaussian mixtures and query samplers (gmm_bindings.cpp) -----------------------------------
_CovarianceKind = Literal["isotropic", "diagonal", "full"]
_Sampler = Literal["shell", "ball", "reference-shell", "reference-ball"]

class GaussianMixture:
    def __init__(
        self, weights: npt.ArrayLike, means: npt.ArrayLike, covariances: npt.ArrayLike
    ) -> None: ...
    @staticmethod
    def random(k: int, dim: int, sigma: float, seed: int = 0) -> GaussianMixture: ...
    @property
    def k(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def covariance_kind(self) -> _CovarianceKind: ...
    @property
    def weights(self) -> _Array: ...
    @property
    def means(self) -> _Array: ...
    @property
    def covariances(self) -> _Array: ...
    def sample(self, n: int, seed: int = 0) -> tuple[_Array, npt.NDArray[np.int64]]: ...
    def log_density(self, X: npt.ArrayLike) -> _Array: ...
    def to_json(self) -> str: ...
    @staticmethod
    def from_json(text: str) -> GaussianMixture: ...

def sample_around(
    centers: npt.ArrayLike,
    n_per_center: int,
    radius: float,
    kind: _Sampler = "shell",
    seed: int = 0,
) -> _Array: ...

# ---- image data sets and the image experiments (image_bindings.cpp) ----------------------------
_Dataset = Literal["fashion-mnist", "mnist-digits", "sklearn-digits"]

def load_dataset(
    name: _Dataset, split: Literal["train", "test"] = "train"
) -> tuple[_Array, npt.NDArray[np.int64]]: ...
def read_idx(path: str) -> _Array: ...
def range_search(
    memories: npt.ArrayLike,
    queries: npt.ArrayLike,
    radius: float,
    *,
    index: str = "auto",
    n_threads: int = 0,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], str]: ...
def nearest_distinct_neighbours(patterns: npt.ArrayLike, *, n_threads: int = 0) -> dict[str, Any]: ...
def bstor(
    images: npt.ArrayLike,
    *,
    beta: float = 0.11,
    preserve: float = 0.5,
    seed_index: int = 38,
    sub_size: int = 16,
    seed: int = 10,
    with_replacement: bool = False,
    starts: int = 64,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def pxle(
    images: npt.ArrayLike,
    *,
    n_images: int = 8,
    seed: int = 2,
    with_replacement: bool = False,
    beta: float | None = None,
    beta_fraction: float = 0.4,
    n_threads: int = 0,
) -> dict[str, Any]: ...

# ---- the beta-VAE and QBVAE (vae_bindings.cpp) -----------------------------------------------

class BetaVAE:
    def __init__(
        self,
        *,
        input_dim: int = 784,
        hidden: int = 512,
        latent: int = 10,
        beta_kl: float = 4.0,
        seed: int = 0,
    ) -> None: ...
    def fit(
        self,
        x: npt.ArrayLike,
        *,
        epochs: int = 50,
        batch: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
        n_threads: int = 0,
    ) -> npt.NDArray[np.float64]: ...
    def encode(
        self, x: npt.ArrayLike, *, n_threads: int = 0
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]: ...
    def decode(self, z: npt.ArrayLike, *, n_threads: int = 0) -> npt.NDArray[np.float32]: ...
    def loss(self, x: npt.ArrayLike, *, noise_seed: int = 0) -> float: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> BetaVAE: ...
    @property
    def latent(self) -> int: ...
    @property
    def input_dim(self) -> int: ...

def qbvae(
    latents: npt.ArrayLike,
    *,
    n_mems: int = 24,
    seed: int = 8,
    target_k: float = 5.0,
    beta: float | None = None,
    lse_steps: int = 8000,
    lse_lr: float = 0.02,
    lse_random: int = 1000,
    n_threads: int = 0,
) -> dict[str, Any]: ...

# ---- random features and the distributed memory, DrDAM (features_bindings.cpp) -----------------
import os

_FeatureKind = Literal[
    "fourier", "fourier-phase", "fourier_phase", "positive", "sincos", "cos", "exp"
]
_PathLike = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]

class DistributedMemory:
    def __init__(
        self,
        dim: int,
        *,
        kind: _FeatureKind = "fourier",
        n_features: int = 65536,
        beta: float,
        seed: int = 0,
        orthogonal: bool = False,
        cache_projections: bool = False,
    ) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def n_features(self) -> int: ...
    @property
    def n_projections(self) -> int: ...
    @property
    def beta(self) -> float: ...
    @property
    def seed(self) -> int: ...
    @property
    def orthogonal(self) -> bool: ...
    @property
    def cache_projections(self) -> bool: ...
    @property
    def size(self) -> int: ...
    @property
    def features(self) -> npt.NDArray[np.float64]: ...
    @property
    def nbytes(self) -> int: ...
    def __len__(self) -> int: ...
    def add(self, patterns: npt.ArrayLike, *, n_threads: int = 0) -> None: ...
    def remove(self, patterns: npt.ArrayLike, *, n_threads: int = 0) -> None: ...
    def clear(self) -> None: ...
    @overload
    def energy(self, queries: _F32, *, n_threads: int = 0) -> _F32: ...
    @overload
    def energy(self, queries: npt.ArrayLike, *, n_threads: int = 0) -> _Array: ...
    def grad(self, queries: npt.ArrayLike, *, n_threads: int = 0) -> _Array: ...
    def energy_and_grad(
        self, queries: npt.ArrayLike, *, n_threads: int = 0
    ) -> tuple[_Array, _Array]: ...
    def retrieve(
        self, queries: npt.ArrayLike, *, method: Literal["gradient"] = "gradient",
        steps: int = ..., lr: _Schedule | None = ..., lr_end: float | None = ...,
        tol: float | None = ..., clamp: _Clamp = ..., noise: _Schedule | None = ...,
        noise_end: float | None = ..., beta_schedule: None = ..., seed: int | None = ...,
        precision: _Precision | None = ..., n_threads: int = ...
    ) -> RetrievalResult: ...
    def save(self, path: _PathLike) -> None: ...
    @staticmethod
    def load(path: _PathLike, *, cache_projections: bool = False) -> DistributedMemory: ...

def feature_map(
    x: npt.ArrayLike,
    *,
    kind: _FeatureKind = "fourier",
    n_features: int = 65536,
    beta: float,
    seed: int = 0,
    orthogonal: bool = False,
    n_threads: int = 0,
) -> npt.NDArray[np.float64]: ...
def random_projections(
    dim: int,
    first: int,
    rows: int,
    *,
    kind: _FeatureKind = "fourier",
    n_features: int = 65536,
    seed: int = 0,
    orthogonal: bool = False,
) -> npt.NDArray[np.float32]: ...
def feature_phases(
    *, kind: _FeatureKind = "fourier", n_features: int = 65536, seed: int = 0
) -> npt.NDArray[np.float64]: ...
def memory_footprint(
    n_patterns: int, dim: int, *, kind: _FeatureKind = "fourier", n_features: int = 65536
) -> dict[str, int]: ...

# ---- ClAM, clustering with associative memories (clam_bindings.cpp) ---------------------------
# Private: the estimator denseam.ClAM (cluster.py) is the public face. kernel: "lse" or "lsr".

def _clam_defaults() -> dict[str, Any]: ...
def _clam_fit(
    x: npt.ArrayLike,
    *,
    n_clusters: int = 8,
    kernel: _Kernel = "lse",
    beta: float = 0.0,
    steps: int = 10,
    alpha: float = 0.1,
    mask_prob: float = 0.2,
    lr: float = 0.01,
    epochs: int = 100,
    batch_size: int = 64,
    seed: int = 0,
    tol: float = 1e-4,
    patience: int = 5,
    progress: Any = None,
    n_threads: int = 0,
) -> dict[str, Any]: ...
def _clam_assign(
    x: npt.ArrayLike,
    prototypes: npt.ArrayLike,
    *,
    kernel: _Kernel = "lse",
    beta: float,
    steps: int = 10,
    alpha: float = 0.1,
    n_threads: int = 0,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]: ...
@overload
def _clam_loss(
    x: npt.ArrayLike,
    mask: npt.ArrayLike,
    fill: npt.ArrayLike,
    prototypes: npt.ArrayLike,
    *,
    kernel: _Kernel = "lse",
    beta: float,
    steps: int = 10,
    alpha: float = 0.1,
    grad: Literal[False] = False,
    n_threads: int = 0,
) -> float: ...
@overload
def _clam_loss(
    x: npt.ArrayLike,
    mask: npt.ArrayLike,
    fill: npt.ArrayLike,
    prototypes: npt.ArrayLike,
    *,
    kernel: _Kernel = "lse",
    beta: float,
    steps: int = 10,
    alpha: float = 0.1,
    grad: Literal[True],
    n_threads: int = 0,
) -> tuple[float, npt.NDArray[np.float64]]: ...
