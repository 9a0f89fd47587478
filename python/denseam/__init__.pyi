# SPDX-License-Identifier: MIT
import enum

from ._denseam import Memory as Memory
from ._denseam import RetrievalResult as RetrievalResult
from ._denseam import __version__ as __version__
from ._denseam import energy as energy
from ._denseam import energy_and_grad as energy_and_grad
from ._denseam import grad as grad
from ._denseam import kernel_names as kernel_names
from ._denseam import retrieve as retrieve
from ._denseam import find_minima as find_minima
from ._denseam import beta_range as beta_range
from ._denseam import choose_beta as choose_beta
from ._denseam import emergence_window as emergence_window
from ._denseam import GaussianMixture as GaussianMixture
from ._denseam import sample_around as sample_around
from ._denseam import load_dataset as load_dataset
from ._denseam import read_idx as read_idx
from ._denseam import nearest_distinct_neighbours as nearest_distinct_neighbours
from ._denseam import bstor as bstor
from ._denseam import pxle as pxle
from ._denseam import qbvae as qbvae
from ._denseam import BetaVAE as BetaVAE
from ._denseam import DistributedMemory as DistributedMemory
from ._denseam import feature_map as feature_map
from ._denseam import random_projections as random_projections
from ._denseam import feature_phases as feature_phases
from ._denseam import memory_footprint as memory_footprint
from .cluster import ClAM as ClAM

KERNELS: tuple[str, ...]

class RetrievalStatus(enum.IntEnum):
    converged = 0
    max_steps = 1
    out_of_support = 2
    non_finite = 3
    not_minimum = 4
