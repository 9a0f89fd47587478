# SPDX-License-Identifier: MIT
"""Clustering with associative memories (ClAM; Saha, Krotov, Zaki, Ram, ICML 2023) as a
scikit-learn estimator, on top of the C++ library (include/denseam/clam.hpp).

    ClAM(n_clusters=8, *, kernel="lse", beta="auto", ...).fit(X)  -> labels_, cluster_centers_
"""
import math
import numbers
import sys

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from . import _denseam

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # older scikit-learn: the estimator's own method

    def _validate_data(estimator, X, **kwargs):
        return estimator._validate_data(X, **kwargs)


__all__ = ["ClAM"]

# Every default but beta's is the C++ library's (clam_options{}), read once here.
_DEFAULTS = _denseam._clam_defaults()
_KERNELS = ("lse", "lsr")


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _check_int(name, value, low):
    if not _is_int(value) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _check_real(name, value, low, *, closed, high=None):
    """A finite real number > low (>= low when closed), <= high when given."""
    ok = _is_real(value) and math.isfinite(value)
    ok = ok and (value >= low if closed else value > low) and (high is None or value <= high)
    if not ok:
        interval = ("[" if closed else "(") + f"{low}, " + (f"{high}]" if high is not None
                                                          else "inf)")
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


class ClAM(ClusterMixin, BaseEstimator):
    """Clustering with associative memories (ClAM), a scikit-learn estimator.

    The k prototypes rho_1..rho_k are the memories of a Dense Associative Memory. Each point x
    gets a random share (mask_prob) of its coordinates masked (set to the feature mean) and
    descends the energy for T = steps steps, moving only the masked coordinates:

        v_{t+1} = v_t + alpha m (.) g(v_t),  r_mu = rho_mu - v
        lse: g = sum_mu softmax_mu(-beta/2 ||r_mu||^2) r_mu
        lsr: g = sum_{mu: beta/2 ||r_mu||^2 < 1} r_mu / (eps + sum_mu relu(1 - beta/2 ||r_mu||^2))
             (zero outside every support)

    The prototypes minimise the squared error of the masked coordinates after T steps,
    L = 1/(n d) sum_i sum_k m_ik (v_T,ik - x_ik)^2, by Adam on mini-batches with the exact
    gradient (the adjoint of the T steps), from a greedy k-means++ start. A point's cluster:
    T unmasked steps from the point, then the nearest prototype. Computed in float64 by the C++
    library, with the GIL released; results do not depend on n_threads.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of prototypes k, 1 <= k <= n_samples.
    kernel : {"lse", "lsr"}, default="lse"
        Separation function: log-sum-exp (softmax pull) or log-sum-ReLU (Epanechnikov pull).
    beta : "auto" or float > 0, default="auto"
        Inverse temperature. "auto": beta = 2 / (c r)^2 with r the median distance of the
        points to their nearest initial prototype, c = 2 for lse and 4 for lsr (the LSR support
        radius sqrt(2/beta) is 4 r, so few points start near a support's edge).
    steps : int >= 0, default=10
        T, the unrolled energy-descent steps.
    alpha : float > 0, default=0.1
        Step size of the dynamics.
    eps : float >= 0, default=0.0
        lsr only: the energy -(1/beta) log(eps + sum relu(...)); eps > 0 bounds the pull where
        the kernel sum goes to 0 at a support's edge (lse ignores it).
    mask_prob : float in [0, 1], default=0.2
        Probability that a coordinate is masked (independently per point, coordinate, epoch).
    lr : float > 0, default=0.01
        Adam's learning rate.
    epochs : int >= 1, default=100
        Maximum number of passes over the data.
    batch_size : int >= 1, default=64
        Points per Adam step.
    tol : float >= 0, default=1e-3
        Early stopping: stop once the monitored loss (loss_curve_) has not improved on the best
        by a relative tol for `patience` epochs in a row; 0 runs every epoch.
    patience : int >= 1, default=5
    random_state : int, numpy.random.RandomState or None, default=None
        Seeds the k-means++ start, the shuffles and the masks. An int is the library's seed
        (the CLI's --seed); None or a RandomState draws one (None: from NumPy's global RNG).
    n_threads : int >= 0, default=0
        OpenMP threads (0: OMP_NUM_THREADS or every core). Results do not depend on it.
    verbose : bool, default=False
        Print the mean training loss after each epoch.

    Attributes
    ----------
    cluster_centers_ : ndarray (n_clusters, n_features)
        The prototypes of the epoch with the lowest loss.
    labels_ : ndarray (n_samples,) int64
        The cluster of each training point (as predict(X) gives it).
    n_iter_ : int
        Epochs run.
    loss_curve_ : ndarray (n_iter_,)
        Mean training loss of each epoch.
    best_loss_ : float
        The lowest epoch loss (that of cluster_centers_).
    beta_ : float
        The beta used (chosen from the data when beta="auto").
    n_features_in_ : int
    feature_names_in_ : ndarray (n_features_in_,) of str
        Only when X has feature names that are all strings (e.g. a DataFrame).

    Examples
    --------
    >>> import numpy as np, denseam
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> model = denseam.ClAM(n_clusters=2, random_state=0).fit(X)
    >>> bool(model.labels_[0] == model.labels_[1] != model.labels_[2] == model.labels_[3])
    True
    """

    def __init__(
        self,
        n_clusters=_DEFAULTS["n_clusters"],
        *,
        kernel=_DEFAULTS["kernel"],
        beta="auto",
        steps=_DEFAULTS["steps"],
        alpha=_DEFAULTS["alpha"],
        eps=_DEFAULTS["eps"],
        mask_prob=_DEFAULTS["mask_prob"],
        lr=_DEFAULTS["lr"],
        epochs=_DEFAULTS["epochs"],
        batch_size=_DEFAULTS["batch_size"],
        tol=_DEFAULTS["tol"],
        patience=_DEFAULTS["patience"],
        random_state=None,
        n_threads=0,
        verbose=False,
    ):
        self.n_clusters = n_clusters
        self.kernel = kernel
        self.beta = beta
        self.steps = steps
        self.alpha = alpha
        self.eps = eps
        self.mask_prob = mask_prob
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.tol = tol
        self.patience = patience
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    # ---- validation ---------------------------------------------------------------------------

    def _checked_params(self):
        """The keyword arguments of the library's fit, or ValueError naming the parameter."""
        if not isinstance(self.kernel, str) or self.kernel not in _KERNELS:
            raise ValueError(f"kernel must be 'lse' or 'lsr', got {self.kernel!r}")
        if isinstance(self.beta, str) and self.beta == "auto":
            beta = 0.0  # the library chooses it from the data
        elif _is_real(self.beta) and math.isfinite(self.beta) and self.beta > 0:
            beta = float(self.beta)
        else:
            raise ValueError(f"beta must be 'auto' or a finite number > 0, got {self.beta!r}")
        if not isinstance(self.verbose, (bool, np.bool_)) and not _is_int(self.verbose):
            raise ValueError(f"verbose must be a bool, got {self.verbose!r}")
        return dict(
            n_clusters=_check_int("n_clusters", self.n_clusters, 1),
            kernel=self.kernel,
            beta=beta,
            steps=_check_int("steps", self.steps, 0),
            alpha=_check_real("alpha", self.alpha, 0.0, closed=False),
            eps=_check_real("eps", self.eps, 0.0, closed=True),
            mask_prob=_check_real("mask_prob", self.mask_prob, 0.0, closed=True, high=1.0),
            lr=_check_real("lr", self.lr, 0.0, closed=False),
            epochs=_check_int("epochs", self.epochs, 1),
            batch_size=_check_int("batch_size", self.batch_size, 1),
            tol=_check_real("tol", self.tol, 0.0, closed=True),
            patience=_check_int("patience", self.patience, 1),
            n_threads=_check_int("n_threads", self.n_threads, 0),
        )

    def _seed(self):
        """The library's seed: an int random_state as is, else drawn from the RandomState."""
        rs = self.random_state
        if _is_int(rs):
            if not 0 <= rs < 2**64:
                raise ValueError(f"random_state must be in [0, 2**64) when an int, got {rs!r}")
            return int(rs)
        # check_random_state raises ValueError for anything but None and a RandomState here.
        return int(check_random_state(rs).randint(np.iinfo(np.int32).max))

    # ---- scikit-learn API ---------------------------------------------------------------------

    def fit(self, X, y=None):
        """Fit the prototypes to X (n_samples, n_features); y is ignored. Returns self."""
        params = self._checked_params()
        X = _validate_data(self, X, dtype=np.float64, order="C")
        n_samples = X.shape[0]
        if params["n_clusters"] > n_samples:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={params['n_clusters']}.")
        seed = self._seed()
        progress = _print_epoch if self.verbose else None
        r = _denseam._clam_fit(X, seed=seed, progress=progress, **params)
        self.cluster_centers_ = r["prototypes"]
        self.labels_ = r["labels"]
        self.n_iter_ = int(r["n_epochs"])
        self.loss_curve_ = r["loss_history"]
        self.best_loss_ = float(r["best_loss"])
        self.beta_ = float(r["beta"])
        # The dynamics predict() runs: those of this fit, whatever set_params does later.
        self._dynamics = dict(kernel=params["kernel"], beta=self.beta_, steps=params["steps"],
                              alpha=params["alpha"], eps=params["eps"])
        return self

    def predict(self, X):
        """The cluster of each row of X (n_samples, n_features): T unmasked steps from the
        point, then the nearest prototype. Returns (n_samples,) int64."""
        check_is_fitted(self)
        X = _validate_data(self, X, dtype=np.float64, order="C", reset=False)
        n_threads = _check_int("n_threads", self.n_threads, 0)
        labels, _ = _denseam._clam_assign(X, self.cluster_centers_, n_threads=n_threads,
                                          **self._dynamics)
        return labels

    def fit_predict(self, X, y=None):
        """fit(X).labels_: the cluster of each training point. Returns (n_samples,) int64."""
        return self.fit(X).labels_


def _print_epoch(epoch, loss):
    print(f"ClAM epoch {epoch}: loss {loss:.6g}", file=sys.stdout, flush=True)
