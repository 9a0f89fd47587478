# SPDX-License-Identifier: MIT
"""NumPy oracles shared by the Python and CLI tests (tests/python, tests/cli): naive formulas,
no denseam code. Both conftest.py files put this folder on sys.path."""
import numpy as np


def sq_dists(a, b):
    """Squared distances between the rows of a (n x d) and b (m x d): (n x m)."""
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def lsr_energy(mem, q, beta):
    """E(x) = -(1/beta) log sum_mu relu(1 - beta/2 |x - xi_mu|^2) (+inf outside every support)."""
    z = np.maximum(1.0 - beta / 2 * sq_dists(q, mem), 0.0).sum(1)
    with np.errstate(divide="ignore"):
        return -np.log(z) / beta


def lsr_supports(mem, x, beta):
    """The strict support set of each state: {mu : |x - xi_mu|^2 < 2 / beta}, increasing."""
    return [np.flatnonzero(row < 2.0 / beta) for row in sq_dists(x, mem)]
