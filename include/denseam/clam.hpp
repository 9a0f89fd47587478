// SPDX-License-Identifier: MIT
// denseam: clustering with associative memories (ClAM; Saha, Krotov, Zaki, Ram, ICML 2023).
//
// The k prototypes rho_1..rho_k are the memories of a DenseAM. A point x with a random share of its
// coordinates masked (set to the feature mean) descends the energy for T steps, moving only the
// masked coordinates:
//
//   v_0 = x with masked coordinates filled,  v_{t+1} = v_t - alpha m (.) grad_v E(v_t; rho)
//   lse: -grad E = sum_mu softmax_mu(-beta/2 ||v - rho_mu||^2) (rho_mu - v)
//   lsr: -grad E = sum_{mu in S(v)} (rho_mu - v) / (eps + sum_mu relu(1 - beta/2 ||v -
//   rho_mu||^2)),
//        S(v) = {mu : beta/2 ||v - rho_mu||^2 < 1}; zero outside every support
//
// and the prototypes minimise the reconstruction error of the masked coordinates,
// L = 1/(B d) sum_points sum_k m_k (v_T,k - x_k)^2, by Adam with the exact gradient through the T
// steps (a hand-written adjoint). A point's cluster: T unmasked steps from it, then the nearest
// prototype. docs/clam.md has the derivation.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/kernels.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// The dynamics of ClAM: kernel (lse or lsr), beta > 0, T = steps >= 0, alpha > 0.
struct clam_dynamics {
    kernel_kind kernel = kernel_kind::lse;
    double beta = 1.0;
    std::int64_t steps = 10;
    double alpha = 0.1;
    /// lsr only: the energy -(1/beta) log(eps + sum relu(...)), eps >= 0 (the library's lsr eps):
    /// the pull sum_in (rho - v) / (eps + S) stays bounded where S -> 0 at a support's edge.
    double eps = 0.0;
};

/// Throws denseam::invalid_argument for a kernel other than lse/lsr, beta <= 0 or not finite,
/// steps < 0, alpha <= 0 or not finite, eps < 0 or not finite.
void validate(const clam_dynamics& d);

/// The loss L of the points x (n x d) under `mask` (n x d, 1 = masked: the coordinate starts at
/// fill[k] and moves; 0 = observed and clamped) and prototypes (k x d), and optionally its gradient
/// with respect to the prototypes (k x d; empty view to skip), by the adjoint of the T steps.
/// L = 1/(n d) sum_i sum_k mask_ik (v_T,ik - x_ik)^2. Pure; thread-count independent.
/// @throws denseam::invalid_argument on shape mismatch or non-finite values.
double clam_loss(matrix_view<const double> x,
                 matrix_view<const double> mask,
                 std::span<const double> fill,
                 matrix_view<const double> prototypes,
                 const clam_dynamics& dynamics,
                 matrix_view<double> grad = {},
                 const exec_options& exec = {});

/// Final states of T unmasked steps from each point (n x d) and the nearest prototype of each.
struct clam_assignment {
    std::vector<std::int64_t> labels;  ///< (n)
    std::vector<double> states;        ///< (n x d)
};
clam_assignment clam_assign(matrix_view<const double> x,
                            matrix_view<const double> prototypes,
                            const clam_dynamics& dynamics,
                            const exec_options& exec = {});

/// Options of clam_fit(); defaults are the library's (the Python estimator takes its own from
/// here).
struct clam_options {
    std::int64_t n_clusters = 8;
    /// The dynamics; beta = 0 (the default here) chooses beta from the data, see below.
    clam_dynamics dynamics{kernel_kind::lse, 0.0, 10, 0.1, 0.0};
    /// beta = 0 in dynamics means: choose it from the data, beta = 2 / r^2 where r is the median
    /// distance of the points to their nearest initial prototype times 2 for lse (the softmax is
    /// neither uniform nor hard) and times 4 for lsr (few points start near a support's edge,
    /// where the pull grows without bound). The result reports the beta used.
    double mask_prob = 0.2;
    double learning_rate = 0.01;  ///< Adam
    std::int64_t epochs = 100;
    std::int64_t batch_size = 64;
    std::uint64_t seed = 0;
    /// Early stopping: stop once the monitored loss has not improved on the best by a relative
    /// tol for `patience` epochs in a row. tol = 0: run every epoch.
    double tol = 1e-3;
    std::int64_t patience = 5;
    /// The learning rate is multiplied by this after every epoch that does not improve on the best
    /// (the authors' plateau schedule); 1 keeps it constant.
    double lr_decay = 0.8;
    /// Called after each epoch (epoch index from 1, its monitored loss: see clam_result).
    std::function<void(std::int64_t epoch, double loss)> progress;
};

struct clam_result {
    std::vector<double> prototypes;  ///< (n_clusters x d): those of the best epoch
    std::vector<std::int64_t> labels;
    /// Per epoch, the loss after it on a fixed sample (at most 4,096 points, drawn once from the
    /// seed) with fixed masks: what early stopping, the learning-rate cuts and the best epoch
    /// use (the training loss moves with each epoch's new masks).
    std::vector<double> loss_history;
    std::vector<double> train_loss_history;  ///< mean training loss of each epoch's batches
    std::int64_t n_epochs = 0;               ///< epochs run
    double best_loss = 0.0;                  ///< the lowest of loss_history: the kept epoch's
    double beta = 0.0;         ///< the beta used (chosen from the data when the option was <= 0)
    std::vector<double> fill;  ///< (d) the feature means used to fill masked coordinates
};

/// Fit k prototypes to x (n x d, finite, n >= n_clusters >= 1): greedy k-means++ start (seeded;
/// 2 + ln k candidates per center, like scikit-learn's), then
/// epochs of shuffled mini-batches, each point masked independently per coordinate with
/// probability mask_prob (counter-based: the same masks at any thread count), Adam on the
/// exact gradient; the prototypes of the best epoch are kept and labels assigned with them.
/// @throws denseam::invalid_argument naming the bad value; denseam::interrupted.
clam_result clam_fit(matrix_view<const double> x,
                     const clam_options& options = {},
                     const exec_options& exec = {});

}  // namespace denseam
