// SPDX-License-Identifier: MIT
// denseam: the beta-VAE of the latent-space experiment (paper.md 3.7), trained on the CPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"

namespace denseam {

/// Shape and constants of the model (paper.md 3.7, the reference's MNIST model by default):
///   encoder  Linear(input_dim -> hidden), LeakyReLU(leaky_slope), BatchNorm1d(hidden),
///            Linear(hidden -> hidden), LeakyReLU(leaky_slope), BatchNorm1d(hidden);
///   heads    mu = Linear(hidden -> latent), logvar = Linear(hidden -> latent);
///   decoder  Linear(latent -> hidden), LeakyReLU, BatchNorm1d, Linear(hidden -> hidden),
///            LeakyReLU, BatchNorm1d, Linear(hidden -> input_dim), Sigmoid.
/// BatchNorm1d as PyTorch's: training mode normalises with the batch mean and biased variance
/// (plus bn_eps) and updates running_stat = (1 - bn_momentum) running_stat + bn_momentum
/// batch_stat with the unbiased batch variance; evaluation mode uses the running statistics.
struct vae_config {
    std::int64_t input_dim = 784;  ///< pixels per image, values in [0, 1]
    std::int64_t hidden = 512;     ///< width of every hidden layer
    std::int64_t latent = 10;      ///< latent dimension d
    double beta_kl = 4.0;          ///< weight of the KL term (beta of the beta-VAE)
    double leaky_slope = 0.2;      ///< LeakyReLU negative slope
    double bn_eps = 1e-5;          ///< BatchNorm epsilon
    double bn_momentum = 0.1;      ///< BatchNorm running-statistics momentum
};

/// How beta_vae::fit trains (the reference's settings by default): Adam with PyTorch's bias
/// correction on every parameter (BatchNorm affine parameters included), mini-batches of
/// `batch` rows of a fresh permutation each epoch.
struct vae_train_options {
    std::int64_t epochs = 50;
    std::int64_t batch = 128;  ///< rows per mini-batch, >= 2
    double lr = 1e-3;
    double adam_beta1 = 0.9;
    double adam_beta2 = 0.999;
    double adam_eps = 1e-8;
    /// Seeds the shuffles and the reparameterisation noise (the initial weights come from the
    /// constructor's seed).
    std::uint64_t seed = 0;
    /// Called on the calling thread after every mini-batch: epoch (0-based), rows done in this
    /// epoch, rows per epoch, and the mean loss per row so far in this epoch. An exception from
    /// it stops fit() and leaves the model unchanged. May be empty.
    std::function<void(std::int64_t epoch, std::int64_t done, std::int64_t total, double mean_loss)>
        progress;
};

/// What beta_vae::fit reports.
struct vae_history {
    /// Mean loss per row of each epoch: the sum over the epoch's mini-batches of
    /// BCE + beta_kl * KL (training-mode BatchNorm, weights as they were for that batch) divided
    /// by the rows used.
    std::vector<double> epoch_loss;
    double seconds = 0.0;  ///< wall-clock time of the training loop
};

/// One named tensor: shape in C order and float values (row-major).
struct named_tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> values;
};

/// A beta-VAE with float parameters (paper.md 3.7; see vae_config for the layers).
///
/// Loss of a batch of n rows x (values in [0, 1]), summed over the batch as the reference does:
///   loss = BCE + beta_kl * KL,
///   BCE  = sum_ij softplus(l_ij) - x_ij l_ij   (binary cross-entropy of sigmoid(l) against x,
///          computed from the decoder's logits l),
///   KL   = -0.5 sum_ij (1 + logvar_ij - mu_ij^2 - exp(logvar_ij)),
/// with the decoder fed z = mu + exp(logvar / 2) * eps, eps ~ N(0, I). (The reference applies
/// the BCE to the sigmoid outputs, with log clamped at -100; from the logits it is the same
/// value without the clamp and never overflows.)
///
/// Reproducibility: the same constructor seed, data and options give bit-identical weights with
/// the same BLAS on the same kind of CPU. Every matrix product is split into fixed column blocks,
/// each one single-threaded GEMM, and every reduction runs in a fixed order, so the bits do not
/// depend on the thread count either (tested for 1, 2 and 3 threads with OpenBLAS).
///
/// A value type: const member functions may be called from several threads at once.
class beta_vae {
  public:
    /// A model with PyTorch's default initialisation: every Linear's weight and bias uniform in
    /// [-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from std::mt19937_64(seed) as 53-bit unit
    /// doubles, layer by layer in the order of tensors() (weight before bias, row-major);
    /// BatchNorm weight 1, bias 0, running mean 0, running variance 1.
    /// @throws denseam::invalid_argument for a dimension < 1, beta_kl < 0, bn_eps <= 0,
    ///         bn_momentum outside [0, 1] or a non-finite constant.
    beta_vae(const vae_config& config, std::uint64_t seed);

    const vae_config& config() const noexcept { return config_; }

    /// Trains on the rows of x (n x input_dim, values in [0, 1], n >= 2) with Adam.
    /// Epoch e draws a permutation by Fisher-Yates from std::mt19937_64(splitmix64(
    /// splitmix64(seed) + e)) and cuts it into batches of options.batch rows, the last one
    /// partial (PyTorch's DataLoader with shuffle=True, drop_last=False), except that a last
    /// batch of a single row is skipped: BatchNorm's batch variance needs two rows. The noise of
    /// row i (its index in x) in epoch e is eps_ij = counter_normal(seed, e, i, j), so it does
    /// not depend on the batching. Cost per epoch: about 2 n hidden (5 input_dim + 6 hidden +
    /// 9 latent) flops (7.3 Mflop per row for the reference's 784 / 512 / 10), in GEMMs.
    /// On an exception (bad input, the progress callback, denseam::interrupted from
    /// exec.interrupt) the model is left as it was.
    /// @throws denseam::invalid_argument for a shape other than (n x input_dim), n < 2, a value
    ///         outside [0, 1] or NaN, epochs < 0, batch < 2, lr <= 0, Adam betas outside
    ///         [0, 1) or adam_eps <= 0.
    vae_history fit(matrix_view<const float> x,
                    const vae_train_options& options,
                    const exec_options& exec = {});

    /// Encoder outputs in evaluation mode (BatchNorm running statistics): mu and logvar
    /// (n x latent each) for the rows of x (n x input_dim). Rows are independent.
    /// @throws denseam::invalid_argument for mismatched shapes or non-finite values.
    void encode(matrix_view<const float> x,
                matrix_view<float> mu,
                matrix_view<float> logvar,
                const exec_options& exec = {}) const;

    /// Decoder outputs sigmoid(l) in (0, 1) (n x input_dim) for latent rows z (n x latent), in
    /// evaluation mode. Rows are independent.
    /// @throws denseam::invalid_argument for mismatched shapes or non-finite values.
    void decode(matrix_view<const float> z,
                matrix_view<float> out,
                const exec_options& exec = {}) const;

    /// The loss (see the class comment) per row of x (n x input_dim, values in [0, 1]) with
    /// noise eps_ij = counter_normal(noise_seed, 2^64 - 1, i, j). Evaluation mode
    /// (training_mode_bn = false) gives a one-sample estimate of the negative ELBO of a test
    /// set (with beta_kl = 1; rows independent, computed in blocks of 256); training mode
    /// normalises with the statistics of all n rows as one batch (n >= 2) and changes no running
    /// statistic.
    /// @throws denseam::invalid_argument as fit() for x.
    double loss(matrix_view<const float> x,
                bool training_mode_bn,
                std::uint64_t noise_seed,
                const exec_options& exec = {}) const;

    /// Parameters and BatchNorm running statistics, named as the reference's PyTorch state_dict
    /// (nn.Sequential indices: 0 Linear, 1 LeakyReLU, 2 BatchNorm1d, 3 Linear, ...), in this
    /// order (D = input_dim, H = hidden, L = latent):
    ///   encoder.0.{weight (H x D), bias (H)}
    ///   encoder.2.{weight, bias, running_mean, running_var} (H each)
    ///   encoder.3.{weight (H x H), bias (H)}
    ///   encoder.5.{weight, bias, running_mean, running_var} (H each)
    ///   fc_mu.{weight (L x H), bias (L)}, fc_logvar.{weight (L x H), bias (L)}
    ///   decoder.0.{weight (H x L), bias (H)}
    ///   decoder.2.{weight, bias, running_mean, running_var} (H each)
    ///   decoder.3.{weight (H x H), bias (H)}
    ///   decoder.5.{weight, bias, running_mean, running_var} (H each)
    ///   decoder.6.{weight (D x H), bias (D)}
    /// Linear weights are (out x in) as in PyTorch. PyTorch's integer num_batches_tracked
    /// buffers are not produced (unused with a fixed momentum).
    std::vector<named_tensor> tensors() const;

    /// The model whose tensors() are `tensors` (any order; *.num_batches_tracked entries are
    /// ignored). @throws denseam::invalid_argument naming a missing, repeated, unknown or
    /// mis-shaped tensor, a value count that does not match its shape, a non-finite value or a
    /// negative running variance.
    static beta_vae from_tensors(const vae_config& config,
                                 const std::vector<named_tensor>& tensors);

  private:
    beta_vae() = default;
    vae_config config_;
    std::vector<float> params_;   // trainable parameters, flat (layout in src/nn/layers.hpp)
    std::vector<float> buffers_;  // BatchNorm running statistics, flat
};

/// Save a model as a safetensors file (atomically): its tensors() as F32, and the vae_config in
/// the metadata ("input_dim", "hidden", "latent", "beta_kl", "leaky_slope", "bn_eps",
/// "bn_momentum", plus "format": "denseam-beta-vae") together with `metadata` (e.g. the training
/// settings). PyTorch loads it with safetensors.torch.load_file.
/// @throws as write_safetensors.
void save_vae(const std::string& path,
              const beta_vae& model,
              const std::map<std::string, std::string>& metadata = {});

/// What save_vae writes, as bytes.
std::vector<std::byte> vae_to_bytes(const beta_vae& model,
                                    const std::map<std::string, std::string>& metadata = {});

/// Load a model saved by save_vae (the config from the metadata; a file without it needs the
/// reference's 784-512-10 shapes). @throws denseam::invalid_argument naming the file: not a
/// safetensors file, a bad config value, a missing or mis-shaped tensor.
beta_vae load_vae(const std::string& path);

/// The metadata of a file saved by save_vae (empty for none). @throws as read_safetensors.
std::map<std::string, std::string> vae_metadata(const std::string& path);

}  // namespace denseam
