// SPDX-License-Identifier: MIT
// The beta-VAE's layers (include/denseam/vae.hpp), each a forward and a backward function over
// row-major batches, for T = float (training) and double (finite-difference checks).
//
// Parallel work is split by shape only: products, BatchNorm and the elementwise steps in
// column blocks of nn_col_block (one single-threaded GEMM per block), every sum over rows in
// increasing order, the latent-sized steps on the calling thread. Results therefore do not
// depend on the thread count; small loops run on fewer threads (which never changes a bit).
// The model (vae_forward, vae_backward) fuses each Linear -> LeakyReLU -> BatchNorm block into
// one pass per column block. Backward functions overwrite their outputs unless they say
// otherwise.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "denseam/exec.hpp"
#include "denseam/matrix_view.hpp"
#include "denseam/vae.hpp"

namespace denseam::detail {

inline constexpr std::int64_t nn_col_block = 128;  ///< columns per GEMM / BatchNorm work item
inline constexpr std::int64_t nn_row_block = 32;   ///< rows per work item of sigmoid()

/// A small owning row-major matrix.
template <class T>
struct nn_matrix {
    std::vector<T> values;
    std::int64_t rows = 0, cols = 0;
    void resize(std::int64_t r, std::int64_t c) {
        rows = r;
        cols = c;
        values.assign(static_cast<std::size_t>(r * c), T(0));
    }
    T& operator()(std::int64_t i, std::int64_t j) {
        return values[static_cast<std::size_t>(i * cols + j)];
    }
    const T& operator()(std::int64_t i, std::int64_t j) const {
        return values[static_cast<std::size_t>(i * cols + j)];
    }
    matrix_view<T> view() { return {values.data(), rows, cols, cols}; }
    matrix_view<const T> view() const { return {values.data(), rows, cols, cols}; }
};

// ---- layers ----------------------------------------------------------------------------------

/// Linear: y = x w^T + b with x (n x in), w (out x in), b (out), y (n x out).
template <class T>
void linear_forward(
    matrix_view<const T> x, const T* w, const T* b, matrix_view<T> y, const exec_options& exec);

/// Linear backward: dw = dy^T x (out x in), db = column sums of dy (out), and dx = dy w
/// (n x in) unless dx is empty (dx.data == nullptr).
template <class T>
void linear_backward(matrix_view<const T> x,
                     matrix_view<const T> dy,
                     const T* w,
                     T* dw,
                     T* db,
                     matrix_view<T> dx,
                     const exec_options& exec);

/// LeakyReLU: y = x for x > 0, slope * x otherwise. y may alias x.
template <class T>
void leaky_relu_forward(matrix_view<const T> x,
                        T slope,
                        matrix_view<T> y,
                        const exec_options& exec);

/// dx = dy for x > 0, slope * dy otherwise (PyTorch's choice at 0). dx may alias dy.
template <class T>
void leaky_relu_backward(matrix_view<const T> x,
                         matrix_view<const T> dy,
                         T slope,
                         matrix_view<T> dx,
                         const exec_options& exec);

/// What BatchNorm's training-mode forward keeps for the backward pass and the running stats.
template <class T>
struct batchnorm_cache {
    nn_matrix<T> xhat;       ///< (x - mean) * inv_std, n x dim
    std::vector<T> mean;     ///< batch mean, dim
    std::vector<T> var;      ///< biased batch variance, dim
    std::vector<T> inv_std;  ///< 1 / sqrt(var + eps), dim
};

/// BatchNorm1d, training mode: y = gamma * (x - mean) / sqrt(var + eps) + beta with the batch
/// mean and biased variance of every column of x (n x dim, n >= 1), accumulated in double.
template <class T>
void batchnorm_forward_train(matrix_view<const T> x,
                             const T* gamma,
                             const T* beta,
                             double eps,
                             matrix_view<T> y,
                             batchnorm_cache<T>& cache,
                             const exec_options& exec);

/// BatchNorm1d, evaluation mode: the running mean and variance replace the batch statistics.
template <class T>
void batchnorm_forward_eval(matrix_view<const T> x,
                            const T* gamma,
                            const T* beta,
                            const T* running_mean,
                            const T* running_var,
                            double eps,
                            matrix_view<T> y,
                            const exec_options& exec);

/// BatchNorm1d backward (training mode): dbeta = sum_i dy, dgamma = sum_i dy xhat,
/// dx = gamma inv_std / n (n dy - dbeta - xhat dgamma).
template <class T>
void batchnorm_backward(matrix_view<const T> dy,
                        const T* gamma,
                        const batchnorm_cache<T>& cache,
                        T* dgamma,
                        T* dbeta,
                        matrix_view<T> dx,
                        const exec_options& exec);

/// running_mean = (1 - m) running_mean + m mean; running_var = (1 - m) running_var + m var
/// n / (n - 1) (the unbiased variance; n >= 2), as PyTorch.
template <class T>
void batchnorm_update_running(const batchnorm_cache<T>& cache,
                              std::int64_t n,
                              double momentum,
                              T* running_mean,
                              T* running_var);

/// Binary cross-entropy of sigmoid(logits) against targets x (both n x dim), summed:
/// sum_ij softplus(l_ij) - x_ij l_ij, computed stably; with dlogits non-empty also writes
/// dlogits = sigmoid(l) - x. Row sums in double, added in row order.
template <class T>
double bce_with_logits(matrix_view<const T> logits,
                       matrix_view<const T> x,
                       matrix_view<T> dlogits,
                       const exec_options& exec);

/// out = sigmoid(logits) (n x dim).
template <class T>
void sigmoid(matrix_view<const T> logits, matrix_view<T> out, const exec_options& exec);

/// KL(N(mu, exp(logvar)) || N(0, I)) summed: -0.5 sum_ij (1 + lv - mu^2 - exp(lv)). With dmu
/// non-empty ADDS scale * mu to dmu and scale * 0.5 (exp(lv) - 1) to dlogvar.
template <class T>
double kl_divergence(matrix_view<const T> mu,
                     matrix_view<const T> logvar,
                     T scale,
                     matrix_view<T> dmu,
                     matrix_view<T> dlogvar,
                     const exec_options& exec);

/// z = mu + exp(0.5 logvar) * eps (all n x latent); z = mu when eps is empty.
template <class T>
void reparameterize(matrix_view<const T> mu,
                    matrix_view<const T> logvar,
                    matrix_view<const T> eps,
                    matrix_view<T> z,
                    const exec_options& exec);

/// dmu = dz, dlogvar = dz * 0.5 exp(0.5 logvar) * eps (0 when eps is empty).
template <class T>
void reparameterize_backward(matrix_view<const T> dz,
                             matrix_view<const T> logvar,
                             matrix_view<const T> eps,
                             matrix_view<T> dmu,
                             matrix_view<T> dlogvar,
                             const exec_options& exec);

/// One Adam step (PyTorch's formula) on flat arrays, step = 1, 2, ...:
///   m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
///   p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).
template <class T>
void adam_step(std::span<T> params,
               std::span<const T> grads,
               std::span<T> m,
               std::span<T> v,
               std::int64_t step,
               double lr,
               double beta1,
               double beta2,
               double eps,
               const exec_options& exec);

// ---- the whole model -------------------------------------------------------------------------

/// Offsets of a Linear layer's tensors in the flat parameter array.
struct vae_linear_slot {
    std::int64_t in = 0, out = 0, weight = 0, bias = 0;
};
/// Offsets of a BatchNorm layer: weight and bias in the parameters, running stats in the buffers.
struct vae_bn_slot {
    std::int64_t dim = 0, weight = 0, bias = 0, running_mean = 0, running_var = 0;
};
/// One named tensor of the model: where its values live.
struct vae_tensor_slot {
    std::string name;
    std::vector<std::int64_t> shape;
    bool buffer = false;      ///< in the buffers (running statistics), else in the parameters
    std::int64_t offset = 0;  ///< first value
    std::int64_t size = 0;    ///< number of values
};

/// The flat layout of a model. fc_mu and fc_logvar are stored as one stacked Linear
/// `heads` (hidden -> 2 latent, mu rows first), so the heads are one product.
struct vae_layout {
    vae_config config;
    vae_linear_slot enc1, enc2, heads, dec1, dec2, dec3;
    vae_bn_slot enc_bn1, enc_bn2, dec_bn1, dec_bn2;
    std::int64_t n_params = 0, n_buffers = 0;
    std::vector<vae_tensor_slot> tensors;  ///< in beta_vae::tensors() order
};

/// The layout of `config`. @throws denseam::invalid_argument for a bad config.
vae_layout make_vae_layout(const vae_config& config);

/// Initial parameters and buffers (see the beta_vae constructor).
void vae_initialize(const vae_layout& layout,
                    std::uint64_t seed,
                    std::span<float> params,
                    std::span<float> buffers);

/// Activations of one batch, kept for the backward pass.
template <class T>
struct vae_workspace {
    std::int64_t n = 0;
    nn_matrix<T> a1, h1, b1, a2, h2, b2;  // encoder: pre-activation, LeakyReLU, BatchNorm
    nn_matrix<T> heads;                   // n x 2 latent: [mu | logvar]
    nn_matrix<T> z;
    nn_matrix<T> a3, h3, b3, a4, h4, b4;  // decoder hidden layers
    nn_matrix<T> logits;                  // n x input_dim
    batchnorm_cache<T> bn1, bn2, bn3, bn4;
    nn_matrix<T> d_logits, d_hid1, d_hid2, d_heads, d_z;  // backward scratch
    double bce = 0.0, kl = 0.0;                           // of the last forward
    void resize(const vae_layout& layout, std::int64_t rows);
    matrix_view<const T> mu() const;
    matrix_view<const T> logvar() const;
};

/// Forward pass of a batch x (n x input_dim; n >= 2 in training mode) with noise eps
/// (n x latent, or empty for z = mu). Returns BCE + beta_kl * KL (sums); ws.bce and ws.kl hold
/// the parts. Changes no running statistic (see vae_update_running_stats).
template <class T>
double vae_forward(const vae_layout& layout,
                   const T* params,
                   const T* buffers,
                   matrix_view<const T> x,
                   matrix_view<const T> eps,
                   bool training,
                   vae_workspace<T>& ws,
                   const exec_options& exec);

/// Gradient of the last training-mode vae_forward's loss w.r.t. every parameter, written
/// into grads (n_params, the parameter layout).
template <class T>
void vae_backward(const vae_layout& layout,
                  const T* params,
                  matrix_view<const T> x,
                  matrix_view<const T> eps,
                  vae_workspace<T>& ws,
                  T* grads,
                  const exec_options& exec);

/// The BatchNorm running-statistics update of the last training-mode vae_forward.
template <class T>
void vae_update_running_stats(const vae_layout& layout, const vae_workspace<T>& ws, T* buffers);

/// Parameters and buffers from named tensors (see beta_vae::from_tensors for the checks).
template <class T>
void vae_unpack_tensors(const vae_layout& layout,
                        const std::vector<named_tensor>& tensors,
                        std::vector<T>& params,
                        std::vector<T>& buffers);

}  // namespace denseam::detail
