// SPDX-License-Identifier: MIT
#include "denseam/vae.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "denseam/error.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "nn/layers.hpp"

namespace denseam::detail {

namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
    return (a + b - 1) / b;
}

std::size_t sz(std::int64_t v) {
    return static_cast<std::size_t>(v);
}

// Flops worth one more thread: smaller loops run on fewer threads (a team member that has to be
// woken, or is descheduled on a busy machine, costs more than such a loop). The team size never
// changes a result.
constexpr double thread_grain = 1 << 23;

parallel_options sized(std::int64_t items, double flops_per_item) {
    parallel_options o;
    o.max_threads = std::max<std::int64_t>(
        1, static_cast<std::int64_t>(static_cast<double>(items) * flops_per_item / thread_grain));
    return o;
}

// body(c0, nc) on the fixed column blocks [c0, c0 + nc) of nn_col_block columns.
template <class F>
void for_col_blocks(std::int64_t cols,
                    double flops_per_column,
                    const exec_options& exec,
                    F&& body) {
    const std::int64_t blocks = ceil_div(cols, nn_col_block);
    parallel_for(blocks,
                 exec,
                 sized(blocks, flops_per_column * static_cast<double>(nn_col_block)),
                 [&](std::int64_t blk) {
                     const std::int64_t c0 = blk * nn_col_block;
                     body(c0, std::min(nn_col_block, cols - c0));
                 });
}

// body(r0, r1) on fixed blocks of nn_row_block rows.
template <class F>
void for_row_blocks(std::int64_t rows, double flops_per_row, const exec_options& exec, F&& body) {
    const std::int64_t blocks = ceil_div(rows, nn_row_block);
    parallel_for(blocks,
                 exec,
                 sized(blocks, flops_per_row * static_cast<double>(nn_row_block)),
                 [&](std::int64_t blk) {
                     const std::int64_t r0 = blk * nn_row_block;
                     body(r0, std::min(rows, r0 + nn_row_block));
                 });
}

// ---- column-block kernels: serial, each on the columns [c0, c0 + nc) of its output. The
// layer functions below run them block by block; the model fuses a Linear, its LeakyReLU and
// its BatchNorm into one pass per block, since every step is local to the block's columns.

// y[:, c0..] = x w[c0.., :]^T + b[c0..].
template <class T>
void linear_forward_cols(matrix_view<const T> x,
                         const T* w,
                         const T* b,
                         matrix_view<T> y,
                         std::int64_t c0,
                         std::int64_t nc) {
    const std::int64_t n = x.rows, in = x.cols;
    for (std::int64_t i = 0; i < n; ++i) std::copy(b + c0, b + c0 + nc, y.row(i) + c0);
    gemm<T>(gemm_op::transposed,
            n,
            nc,
            in,
            T(1),
            x.data,
            x.ld,
            w + c0 * in,
            in,
            T(1),
            y.data + c0,
            y.ld);
}

// Rows [c0, c0 + nc) of dw = dy^T x and of db = column sums of dy. dy's columns are transposed
// into scratch (nc x n) so that the product is a plain GEMM.
template <class T>
void linear_dw_cols(matrix_view<const T> x,
                    matrix_view<const T> dy,
                    T* dw,
                    T* db,
                    std::int64_t c0,
                    std::int64_t nc,
                    std::vector<T>& scratch) {
    const std::int64_t n = x.rows, in = x.cols;
    scratch.resize(sz(nc * n));
    for (std::int64_t j = 0; j < nc; ++j) {
        // Column by column: contiguous writes; the strided reads stay in cache across columns.
        T* t = scratch.data() + j * n;
        const T* src = dy.data + c0 + j;
        double sum = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            t[i] = src[i * dy.ld];
            sum += static_cast<double>(t[i]);
        }
        db[c0 + j] = static_cast<T>(sum);
    }
    gemm<T>(
        gemm_op::plain, nc, in, n, T(1), scratch.data(), n, x.data, x.ld, T(0), dw + c0 * in, in);
}

// Columns [c0, c0 + nc) of dx = dy w (w is dy.cols x in).
template <class T>
void linear_dx_cols(matrix_view<const T> dy,
                    const T* w,
                    std::int64_t in,
                    matrix_view<T> dx,
                    std::int64_t c0,
                    std::int64_t nc) {
    gemm<T>(gemm_op::plain,
            dy.rows,
            nc,
            dy.cols,
            T(1),
            dy.data,
            dy.ld,
            w + c0,
            in,
            T(0),
            dx.data + c0,
            dx.ld);
}

template <class T>
void leaky_cols(
    matrix_view<const T> x, T slope, matrix_view<T> y, std::int64_t c0, std::int64_t nc) {
    for (std::int64_t i = 0; i < x.rows; ++i) {
        const T* a = x.row(i) + c0;
        T* o = y.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j) o[j] = a[j] > T(0) ? a[j] : slope * a[j];
    }
}

template <class T>
void leaky_backward_cols(matrix_view<const T> x,
                         matrix_view<const T> dy,
                         T slope,
                         matrix_view<T> dx,
                         std::int64_t c0,
                         std::int64_t nc) {
    for (std::int64_t i = 0; i < x.rows; ++i) {
        const T* a = x.row(i) + c0;
        const T* g = dy.row(i) + c0;
        T* o = dx.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j) o[j] = a[j] > T(0) ? g[j] : slope * g[j];
    }
}

template <class T>
void prepare_cache(batchnorm_cache<T>& cache, std::int64_t n, std::int64_t dim) {
    if (cache.xhat.rows != n || cache.xhat.cols != dim) cache.xhat.resize(n, dim);
    cache.mean.resize(sz(dim));
    cache.var.resize(sz(dim));
    cache.inv_std.resize(sz(dim));
}

// Batch statistics in double: two passes (mean, then squared deviations), rows in order.
template <class T>
void bn_train_cols(matrix_view<const T> x,
                   const T* gamma,
                   const T* beta,
                   double eps,
                   matrix_view<T> y,
                   batchnorm_cache<T>& cache,
                   std::int64_t c0,
                   std::int64_t nc) {
    const std::int64_t n = x.rows, dim = x.cols;
    const double inv_n = 1.0 / static_cast<double>(n);
    std::array<double, nn_col_block> mean{}, ss{}, inv_std{};
    for (std::int64_t i = 0; i < n; ++i) {
        const T* r = x.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j) mean[sz(j)] += static_cast<double>(r[j]);
    }
    for (std::int64_t j = 0; j < nc; ++j) mean[sz(j)] *= inv_n;
    for (std::int64_t i = 0; i < n; ++i) {
        const T* r = x.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j) {
            const double d = static_cast<double>(r[j]) - mean[sz(j)];
            ss[sz(j)] += d * d;
        }
    }
    for (std::int64_t j = 0; j < nc; ++j) {
        const double var = ss[sz(j)] * inv_n;
        inv_std[sz(j)] = 1.0 / std::sqrt(var + eps);
        cache.mean[sz(c0 + j)] = static_cast<T>(mean[sz(j)]);
        cache.var[sz(c0 + j)] = static_cast<T>(var);
        cache.inv_std[sz(c0 + j)] = static_cast<T>(inv_std[sz(j)]);
    }
    for (std::int64_t i = 0; i < n; ++i) {
        const T* r = x.row(i) + c0;
        T* xh = cache.xhat.values.data() + i * dim + c0;
        T* o = y.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j) {
            const double h = (static_cast<double>(r[j]) - mean[sz(j)]) * inv_std[sz(j)];
            xh[j] = static_cast<T>(h);
            o[j] = static_cast<T>(static_cast<double>(gamma[c0 + j]) * h +
                                  static_cast<double>(beta[c0 + j]));
        }
    }
}

// y = x * scale + shift per column, scale = gamma / sqrt(running_var + eps).
template <class T>
void bn_eval_cols(matrix_view<const T> x,
                  const T* gamma,
                  const T* beta,
                  const T* running_mean,
                  const T* running_var,
                  double eps,
                  matrix_view<T> y,
                  std::int64_t c0,
                  std::int64_t nc) {
    std::array<double, nn_col_block> scale{}, shift{};
    for (std::int64_t j = 0; j < nc; ++j) {
        const std::int64_t c = c0 + j;
        scale[sz(j)] =
            static_cast<double>(gamma[c]) / std::sqrt(static_cast<double>(running_var[c]) + eps);
        shift[sz(j)] =
            static_cast<double>(beta[c]) - static_cast<double>(running_mean[c]) * scale[sz(j)];
    }
    for (std::int64_t i = 0; i < x.rows; ++i) {
        const T* r = x.row(i) + c0;
        T* o = y.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j)
            o[j] = static_cast<T>(static_cast<double>(r[j]) * scale[sz(j)] + shift[sz(j)]);
    }
}

template <class T>
void bn_backward_cols(matrix_view<const T> dy,
                      const T* gamma,
                      const batchnorm_cache<T>& cache,
                      T* dgamma,
                      T* dbeta,
                      matrix_view<T> dx,
                      std::int64_t c0,
                      std::int64_t nc) {
    const std::int64_t n = dy.rows, dim = dy.cols;
    const double dn = static_cast<double>(n);
    std::array<double, nn_col_block> sum_dy{}, sum_dy_xhat{}, coef{};
    for (std::int64_t i = 0; i < n; ++i) {
        const T* g = dy.row(i) + c0;
        const T* xh = cache.xhat.values.data() + i * dim + c0;
        for (std::int64_t j = 0; j < nc; ++j) {
            sum_dy[sz(j)] += static_cast<double>(g[j]);
            sum_dy_xhat[sz(j)] += static_cast<double>(g[j]) * static_cast<double>(xh[j]);
        }
    }
    for (std::int64_t j = 0; j < nc; ++j) {
        dbeta[c0 + j] = static_cast<T>(sum_dy[sz(j)]);
        dgamma[c0 + j] = static_cast<T>(sum_dy_xhat[sz(j)]);
        coef[sz(j)] = static_cast<double>(gamma[c0 + j]) *
                      static_cast<double>(cache.inv_std[sz(c0 + j)]) / dn;
    }
    for (std::int64_t i = 0; i < n; ++i) {
        const T* g = dy.row(i) + c0;
        const T* xh = cache.xhat.values.data() + i * dim + c0;
        T* o = dx.row(i) + c0;
        for (std::int64_t j = 0; j < nc; ++j)
            o[j] = static_cast<T>(coef[sz(j)] * (dn * static_cast<double>(g[j]) - sum_dy[sz(j)] -
                                                 static_cast<double>(xh[j]) * sum_dy_xhat[sz(j)]));
    }
}

// BCE terms of columns [c0, c0 + nc): row_sums[i] = sum_j softplus(l_ij) - x_ij l_ij (double),
// and dlogits = sigmoid(l) - x there when dlogits is not empty.
template <class T>
void bce_cols(matrix_view<const T> logits,
              matrix_view<const T> x,
              matrix_view<T> dlogits,
              std::int64_t c0,
              std::int64_t nc,
              double* row_sums) {
    const bool grad = dlogits.data != nullptr;
    for (std::int64_t i = 0; i < logits.rows; ++i) {
        const T* l = logits.row(i) + c0;
        const T* t = x.row(i) + c0;
        T* d = grad ? dlogits.row(i) + c0 : nullptr;
        double s = 0.0;
        for (std::int64_t j = 0; j < nc; ++j) {
            // softplus(l) = max(l, 0) + log1p(exp(-|l|)): no overflow for any l.
            const T e = std::exp(-std::abs(l[j]));
            const T softplus = std::max(l[j], T(0)) + std::log1p(e);
            s += static_cast<double>(softplus) -
                 static_cast<double>(t[j]) * static_cast<double>(l[j]);
            if (grad) d[j] = (l[j] >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e)) - t[j];
        }
        row_sums[i] = s;
    }
}

// Sum of the (blocks x n) partial sums of bce_cols: rows in order, each over its blocks in order.
double sum_blocks(const std::vector<double>& parts, std::int64_t blocks, std::int64_t n) {
    double total = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
        double row = 0.0;
        for (std::int64_t b = 0; b < blocks; ++b) row += parts[sz(b * n + i)];
        total += row;
    }
    return total;
}

// One block of an Adam step (a function of its own so that the loop vectorises).
template <class T>
void adam_block(T* p,
                const T* g,
                T* m,
                T* v,
                std::int64_t count,
                T step_size,
                T inv_sqrt_bc2,
                T b1,
                T b2,
                T eps) {
    for (std::int64_t k = 0; k < count; ++k) {
        const T mk = m[k] + (T(1) - b1) * (g[k] - m[k]);
        const T vk = b2 * v[k] + (T(1) - b2) * g[k] * g[k];
        m[k] = mk;
        v[k] = vk;
        p[k] -= step_size * mk / (std::sqrt(vk) * inv_sqrt_bc2 + eps);
    }
}

}  // namespace

// ---- layers ----------------------------------------------------------------------------------

template <class T>
void linear_forward(
    matrix_view<const T> x, const T* w, const T* b, matrix_view<T> y, const exec_options& exec) {
    if (x.rows == 0) return;
    for_col_blocks(
        y.cols,
        2.0 * static_cast<double>(x.rows * x.cols),
        exec,
        [&](std::int64_t c0, std::int64_t nc) { linear_forward_cols<T>(x, w, b, y, c0, nc); });
}

template <class T>
void linear_backward(matrix_view<const T> x,
                     matrix_view<const T> dy,
                     const T* w,
                     T* dw,
                     T* db,
                     matrix_view<T> dx,
                     const exec_options& exec) {
    const std::int64_t n = x.rows, in = x.cols, out = dy.cols;
    if (n == 0) {
        std::fill(dw, dw + out * in, T(0));
        std::fill(db, db + out, T(0));
        return;
    }
    // dw and dx depend on dy only: one loop over the row blocks of dw, then the column blocks
    // of dx.
    const std::int64_t w_blocks = ceil_div(out, nn_col_block);
    const std::int64_t x_blocks = dx.data != nullptr ? ceil_div(in, nn_col_block) : 0;
    parallel_for(
        w_blocks + x_blocks,
        exec,
        sized(w_blocks + x_blocks, 2.0 * static_cast<double>(n * nn_col_block * std::max(in, out))),
        [] { return std::vector<T>(); },
        [&](std::vector<T>& scratch, std::int64_t item) {
            if (item < w_blocks) {
                const std::int64_t c0 = item * nn_col_block;
                linear_dw_cols<T>(x, dy, dw, db, c0, std::min(nn_col_block, out - c0), scratch);
            } else {
                const std::int64_t c0 = (item - w_blocks) * nn_col_block;
                linear_dx_cols<T>(dy, w, in, dx, c0, std::min(nn_col_block, in - c0));
            }
        });
}

template <class T>
void leaky_relu_forward(matrix_view<const T> x,
                        T slope,
                        matrix_view<T> y,
                        const exec_options& exec) {
    for_col_blocks(
        x.cols, static_cast<double>(x.rows), exec, [&](std::int64_t c0, std::int64_t nc) {
            leaky_cols<T>(x, slope, y, c0, nc);
        });
}

template <class T>
void leaky_relu_backward(matrix_view<const T> x,
                         matrix_view<const T> dy,
                         T slope,
                         matrix_view<T> dx,
                         const exec_options& exec) {
    for_col_blocks(
        x.cols, static_cast<double>(x.rows), exec, [&](std::int64_t c0, std::int64_t nc) {
            leaky_backward_cols<T>(x, dy, slope, dx, c0, nc);
        });
}

template <class T>
void batchnorm_forward_train(matrix_view<const T> x,
                             const T* gamma,
                             const T* beta,
                             double eps,
                             matrix_view<T> y,
                             batchnorm_cache<T>& cache,
                             const exec_options& exec) {
    prepare_cache(cache, x.rows, x.cols);
    for_col_blocks(
        x.cols, 8.0 * static_cast<double>(x.rows), exec, [&](std::int64_t c0, std::int64_t nc) {
            bn_train_cols<T>(x, gamma, beta, eps, y, cache, c0, nc);
        });
}

template <class T>
void batchnorm_forward_eval(matrix_view<const T> x,
                            const T* gamma,
                            const T* beta,
                            const T* running_mean,
                            const T* running_var,
                            double eps,
                            matrix_view<T> y,
                            const exec_options& exec) {
    for_col_blocks(
        x.cols, 2.0 * static_cast<double>(x.rows), exec, [&](std::int64_t c0, std::int64_t nc) {
            bn_eval_cols<T>(x, gamma, beta, running_mean, running_var, eps, y, c0, nc);
        });
}

template <class T>
void batchnorm_backward(matrix_view<const T> dy,
                        const T* gamma,
                        const batchnorm_cache<T>& cache,
                        T* dgamma,
                        T* dbeta,
                        matrix_view<T> dx,
                        const exec_options& exec) {
    for_col_blocks(
        dy.cols, 8.0 * static_cast<double>(dy.rows), exec, [&](std::int64_t c0, std::int64_t nc) {
            bn_backward_cols<T>(dy, gamma, cache, dgamma, dbeta, dx, c0, nc);
        });
}

template <class T>
void batchnorm_update_running(const batchnorm_cache<T>& cache,
                              std::int64_t n,
                              double momentum,
                              T* running_mean,
                              T* running_var) {
    const double unbias = static_cast<double>(n) / static_cast<double>(n - 1);
    for (std::size_t j = 0; j < cache.mean.size(); ++j) {
        running_mean[j] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[j]) +
                                         momentum * static_cast<double>(cache.mean[j]));
        running_var[j] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[j]) +
                                        momentum * static_cast<double>(cache.var[j]) * unbias);
    }
}

template <class T>
double bce_with_logits(matrix_view<const T> logits,
                       matrix_view<const T> x,
                       matrix_view<T> dlogits,
                       const exec_options& exec) {
    const std::int64_t n = logits.rows, blocks = ceil_div(logits.cols, nn_col_block);
    std::vector<double> parts(sz(blocks * n));
    for_col_blocks(
        logits.cols, 40.0 * static_cast<double>(n), exec, [&](std::int64_t c0, std::int64_t nc) {
            bce_cols<T>(logits, x, dlogits, c0, nc, parts.data() + (c0 / nn_col_block) * n);
        });
    return sum_blocks(parts, blocks, n);
}

template <class T>
void sigmoid(matrix_view<const T> logits, matrix_view<T> out, const exec_options& exec) {
    for_row_blocks(logits.rows,
                   20.0 * static_cast<double>(logits.cols),
                   exec,
                   [&](std::int64_t r0, std::int64_t r1) {
                       for (std::int64_t i = r0; i < r1; ++i) {
                           const T* l = logits.row(i);
                           T* o = out.row(i);
                           for (std::int64_t j = 0; j < logits.cols; ++j) {
                               const T e = std::exp(-std::abs(l[j]));
                               o[j] = l[j] >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
                           }
                       }
                   });
}

// The latent-sized steps below are tiny (n x latent): they run on the calling thread.

template <class T>
double kl_divergence(matrix_view<const T> mu,
                     matrix_view<const T> logvar,
                     T scale,
                     matrix_view<T> dmu,
                     matrix_view<T> dlogvar,
                     const exec_options& exec) {
    validate(exec);
    const bool grad = dmu.data != nullptr;
    double total = 0.0;
    for (std::int64_t i = 0; i < mu.rows; ++i) {
        const T* m = mu.row(i);
        const T* lv = logvar.row(i);
        double s = 0.0;
        for (std::int64_t j = 0; j < mu.cols; ++j) {
            const T ev = std::exp(lv[j]);
            s += 1.0 + static_cast<double>(lv[j]) -
                 static_cast<double>(m[j]) * static_cast<double>(m[j]) - static_cast<double>(ev);
            if (grad) {
                dmu(i, j) += scale * m[j];
                dlogvar(i, j) += scale * T(0.5) * (ev - T(1));
            }
        }
        total += -0.5 * s;
    }
    return total;
}

template <class T>
void reparameterize(matrix_view<const T> mu,
                    matrix_view<const T> logvar,
                    matrix_view<const T> eps,
                    matrix_view<T> z,
                    const exec_options& exec) {
    validate(exec);
    const bool noise = eps.data != nullptr;
    for (std::int64_t i = 0; i < mu.rows; ++i)
        for (std::int64_t j = 0; j < mu.cols; ++j)
            z(i, j) = noise ? mu(i, j) + std::exp(T(0.5) * logvar(i, j)) * eps(i, j) : mu(i, j);
}

template <class T>
void reparameterize_backward(matrix_view<const T> dz,
                             matrix_view<const T> logvar,
                             matrix_view<const T> eps,
                             matrix_view<T> dmu,
                             matrix_view<T> dlogvar,
                             const exec_options& exec) {
    validate(exec);
    const bool noise = eps.data != nullptr;
    for (std::int64_t i = 0; i < dz.rows; ++i)
        for (std::int64_t j = 0; j < dz.cols; ++j) {
            dmu(i, j) = dz(i, j);
            dlogvar(i, j) =
                noise ? dz(i, j) * T(0.5) * std::exp(T(0.5) * logvar(i, j)) * eps(i, j) : T(0);
        }
}

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
               const exec_options& exec) {
    constexpr std::int64_t block = 16384;
    const auto t = static_cast<double>(step);
    const T step_size = static_cast<T>(lr / (1.0 - std::pow(beta1, t)));
    const T inv_sqrt_bc2 = static_cast<T>(1.0 / std::sqrt(1.0 - std::pow(beta2, t)));
    const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2), e = static_cast<T>(eps);
    const auto n = static_cast<std::int64_t>(params.size());
    const std::int64_t blocks = ceil_div(n, block);
    parallel_for(blocks, exec, sized(blocks, 12.0 * block), [&](std::int64_t blk) {
        const std::int64_t begin = blk * block;
        adam_block<T>(params.data() + begin,
                      grads.data() + begin,
                      m.data() + begin,
                      v.data() + begin,
                      std::min(n, begin + block) - begin,
                      step_size,
                      inv_sqrt_bc2,
                      b1,
                      b2,
                      e);
    });
}

// ---- the model -------------------------------------------------------------------------------

namespace {

void check_config(const vae_config& c) {
    auto bad = [](const std::string& what) { throw invalid_argument("vae_config: " + what); };
    if (c.input_dim < 1) bad("input_dim must be >= 1, got " + std::to_string(c.input_dim));
    if (c.hidden < 1) bad("hidden must be >= 1, got " + std::to_string(c.hidden));
    if (c.latent < 1) bad("latent must be >= 1, got " + std::to_string(c.latent));
    if (!(c.beta_kl >= 0.0) || !std::isfinite(c.beta_kl))
        bad("beta_kl must be finite and >= 0, got " + std::to_string(c.beta_kl));
    if (!std::isfinite(c.leaky_slope))
        bad("leaky_slope must be finite, got " + std::to_string(c.leaky_slope));
    if (!(c.bn_eps > 0.0) || !std::isfinite(c.bn_eps))
        bad("bn_eps must be finite and > 0, got " + std::to_string(c.bn_eps));
    if (!(c.bn_momentum >= 0.0 && c.bn_momentum <= 1.0))
        bad("bn_momentum must be in [0, 1], got " + std::to_string(c.bn_momentum));
}

}  // namespace

vae_layout make_vae_layout(const vae_config& config) {
    check_config(config);
    vae_layout L;
    L.config = config;
    const std::int64_t D = config.input_dim, H = config.hidden, Z = config.latent;
    auto add_param = [&](std::int64_t size) {
        const std::int64_t at = L.n_params;
        L.n_params += size;
        return at;
    };
    auto add_buffer = [&](std::int64_t size) {
        const std::int64_t at = L.n_buffers;
        L.n_buffers += size;
        return at;
    };
    auto entry =
        [&](std::string name, std::vector<std::int64_t> shape, bool buffer, std::int64_t offset) {
            std::int64_t size = 1;
            for (auto s : shape) size *= s;
            L.tensors.push_back({std::move(name), std::move(shape), buffer, offset, size});
        };
    auto linear = [&](const std::string& name, std::int64_t in, std::int64_t out) {
        vae_linear_slot s;
        s.in = in;
        s.out = out;
        s.weight = add_param(out * in);
        s.bias = add_param(out);
        entry(name + ".weight", {out, in}, false, s.weight);
        entry(name + ".bias", {out}, false, s.bias);
        return s;
    };
    auto batchnorm = [&](const std::string& name, std::int64_t dim) {
        vae_bn_slot s;
        s.dim = dim;
        s.weight = add_param(dim);
        s.bias = add_param(dim);
        s.running_mean = add_buffer(dim);
        s.running_var = add_buffer(dim);
        entry(name + ".weight", {dim}, false, s.weight);
        entry(name + ".bias", {dim}, false, s.bias);
        entry(name + ".running_mean", {dim}, true, s.running_mean);
        entry(name + ".running_var", {dim}, true, s.running_var);
        return s;
    };
    L.enc1 = linear("encoder.0", D, H);
    L.enc_bn1 = batchnorm("encoder.2", H);
    L.enc2 = linear("encoder.3", H, H);
    L.enc_bn2 = batchnorm("encoder.5", H);
    // The two heads, stacked: weight (2Z x H) = [mu rows; logvar rows], bias (2Z).
    L.heads.in = H;
    L.heads.out = 2 * Z;
    L.heads.weight = add_param(2 * Z * H);
    L.heads.bias = add_param(2 * Z);
    entry("fc_mu.weight", {Z, H}, false, L.heads.weight);
    entry("fc_mu.bias", {Z}, false, L.heads.bias);
    entry("fc_logvar.weight", {Z, H}, false, L.heads.weight + Z * H);
    entry("fc_logvar.bias", {Z}, false, L.heads.bias + Z);
    L.dec1 = linear("decoder.0", Z, H);
    L.dec_bn1 = batchnorm("decoder.2", H);
    L.dec2 = linear("decoder.3", H, H);
    L.dec_bn2 = batchnorm("decoder.5", H);
    L.dec3 = linear("decoder.6", H, D);
    return L;
}

void vae_initialize(const vae_layout& layout,
                    std::uint64_t seed,
                    std::span<float> params,
                    std::span<float> buffers) {
    std::mt19937_64 rng(seed);
    auto ends_with = [](const std::string& s, const std::string& tail) {
        return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
    };
    auto is_batchnorm = [&](const vae_tensor_slot& t) {
        // The BatchNorm tensors are exactly the 1-D ones next to a running_mean.
        const std::string base = t.name.substr(0, t.name.rfind('.'));
        for (const auto& u : layout.tensors)
            if (u.name == base + ".running_mean") return true;
        return false;
    };
    std::int64_t fan_in = 1;
    for (const auto& t : layout.tensors) {
        float* dst = t.buffer ? buffers.data() + t.offset : params.data() + t.offset;
        if (t.buffer) {
            std::fill(dst, dst + t.size, ends_with(t.name, ".running_var") ? 1.0f : 0.0f);
        } else if (is_batchnorm(t)) {
            std::fill(dst, dst + t.size, ends_with(t.name, ".weight") ? 1.0f : 0.0f);
        } else {
            if (t.shape.size() == 2) fan_in = t.shape[1];  // a weight; its bias follows it
            const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
            for (std::int64_t k = 0; k < t.size; ++k)
                dst[k] = static_cast<float>(-bound + 2.0 * bound * unit_double(rng));
        }
    }
}

template <class T>
void vae_workspace<T>::resize(const vae_layout& layout, std::int64_t rows) {
    if (rows == n && a1.rows == rows) return;
    n = rows;
    const std::int64_t D = layout.config.input_dim, H = layout.config.hidden,
                       Z = layout.config.latent;
    for (auto* m : {&a1, &h1, &b1, &a2, &h2, &b2, &a3, &h3, &b3, &a4, &h4, &b4}) m->resize(n, H);
    heads.resize(n, 2 * Z);
    z.resize(n, Z);
    logits.resize(n, D);
    // Backward scratch is sized on first use (vae_backward).
    for (auto* m : {&d_logits, &d_hid1, &d_hid2, &d_heads, &d_z}) m->resize(0, 0);
}

template <class T>
matrix_view<const T> vae_workspace<T>::mu() const {
    return {heads.values.data(), heads.rows, heads.cols / 2, heads.cols};
}

template <class T>
matrix_view<const T> vae_workspace<T>::logvar() const {
    return {heads.values.data() + heads.cols / 2, heads.rows, heads.cols / 2, heads.cols};
}

namespace {

// One Linear -> LeakyReLU -> BatchNorm block in one pass over the column blocks of its output:
// a = in w^T + b, h = leaky(a), out = bn(h).
template <class T>
void hidden_block(const vae_layout& layout,
                  const vae_linear_slot& lin,
                  const vae_bn_slot& bn,
                  const T* params,
                  const T* buffers,
                  matrix_view<const T> in,
                  bool training,
                  nn_matrix<T>& a,
                  nn_matrix<T>& h,
                  nn_matrix<T>& out,
                  batchnorm_cache<T>& cache,
                  const exec_options& exec) {
    const std::int64_t n = in.rows;
    if (training) prepare_cache(cache, n, lin.out);
    const T slope = static_cast<T>(layout.config.leaky_slope);
    const double eps = layout.config.bn_eps;
    const T* w = params + lin.weight;
    const T* b = params + lin.bias;
    const T* gamma = params + bn.weight;
    const T* beta = params + bn.bias;
    for_col_blocks(lin.out,
                   static_cast<double>(n) * (2.0 * static_cast<double>(lin.in) + 10.0),
                   exec,
                   [&](std::int64_t c0, std::int64_t nc) {
                       linear_forward_cols<T>(in, w, b, a.view(), c0, nc);
                       leaky_cols<T>(a.view(), slope, h.view(), c0, nc);
                       if (training)
                           bn_train_cols<T>(h.view(), gamma, beta, eps, out.view(), cache, c0, nc);
                       else
                           bn_eval_cols<T>(h.view(),
                                           gamma,
                                           beta,
                                           buffers + bn.running_mean,
                                           buffers + bn.running_var,
                                           eps,
                                           out.view(),
                                           c0,
                                           nc);
                   });
}

// Backward through hidden_block, from d_out (n x out): one pass over the output's column blocks
// (BatchNorm, LeakyReLU, the block's rows of dw and db; d_tmp holds dL/da), then, unless d_in is
// empty, one over the input's column blocks (d_in = dL/da w). d_in may alias d_out.
template <class T>
void hidden_block_backward(const vae_layout& layout,
                           const vae_linear_slot& lin,
                           const vae_bn_slot& bn,
                           const T* params,
                           T* grads,
                           matrix_view<const T> in,
                           const nn_matrix<T>& a,
                           const batchnorm_cache<T>& cache,
                           matrix_view<const T> d_out,
                           matrix_view<T> d_tmp,
                           matrix_view<T> d_in,
                           const exec_options& exec) {
    const std::int64_t n = in.rows;
    const T slope = static_cast<T>(layout.config.leaky_slope);
    const std::int64_t blocks = ceil_div(lin.out, nn_col_block);
    const double flops = static_cast<double>(n * nn_col_block) * (2.0 * lin.in + 12.0);
    parallel_for(
        blocks,
        exec,
        sized(blocks, flops),
        [] { return std::vector<T>(); },
        [&](std::vector<T>& scratch, std::int64_t blk) {
            const std::int64_t c0 = blk * nn_col_block, nc = std::min(nn_col_block, lin.out - c0);
            bn_backward_cols<T>(d_out,
                                params + bn.weight,
                                cache,
                                grads + bn.weight,
                                grads + bn.bias,
                                d_tmp,
                                c0,
                                nc);
            leaky_backward_cols<T>(a.view(), d_tmp, slope, d_tmp, c0, nc);
            linear_dw_cols<T>(in, d_tmp, grads + lin.weight, grads + lin.bias, c0, nc, scratch);
        });
    if (d_in.data == nullptr) return;
    for_col_blocks(lin.in,
                   2.0 * static_cast<double>(n * lin.out),
                   exec,
                   [&](std::int64_t c0, std::int64_t nc) {
                       linear_dx_cols<T>(d_tmp, params + lin.weight, lin.in, d_in, c0, nc);
                   });
}

// Encoder: fills ws.heads = [mu | logvar].
template <class T>
void vae_encode(const vae_layout& layout,
                const T* params,
                const T* buffers,
                matrix_view<const T> x,
                bool training,
                vae_workspace<T>& ws,
                const exec_options& exec) {
    hidden_block(layout,
                 layout.enc1,
                 layout.enc_bn1,
                 params,
                 buffers,
                 x,
                 training,
                 ws.a1,
                 ws.h1,
                 ws.b1,
                 ws.bn1,
                 exec);
    hidden_block(layout,
                 layout.enc2,
                 layout.enc_bn2,
                 params,
                 buffers,
                 matrix_view<const T>(ws.b1.view()),
                 training,
                 ws.a2,
                 ws.h2,
                 ws.b2,
                 ws.bn2,
                 exec);
    linear_forward<T>(ws.b2.view(),
                      params + layout.heads.weight,
                      params + layout.heads.bias,
                      ws.heads.view(),
                      exec);
}

// Decoder's hidden layers: ws.z -> ws.b4.
template <class T>
void vae_decode_hidden(const vae_layout& layout,
                       const T* params,
                       const T* buffers,
                       bool training,
                       vae_workspace<T>& ws,
                       const exec_options& exec) {
    hidden_block(layout,
                 layout.dec1,
                 layout.dec_bn1,
                 params,
                 buffers,
                 matrix_view<const T>(ws.z.view()),
                 training,
                 ws.a3,
                 ws.h3,
                 ws.b3,
                 ws.bn3,
                 exec);
    hidden_block(layout,
                 layout.dec2,
                 layout.dec_bn2,
                 params,
                 buffers,
                 matrix_view<const T>(ws.b3.view()),
                 training,
                 ws.a4,
                 ws.h4,
                 ws.b4,
                 ws.bn4,
                 exec);
}

// Decoder: ws.z -> ws.logits (evaluation calls).
template <class T>
void vae_decode_logits(const vae_layout& layout,
                       const T* params,
                       const T* buffers,
                       bool training,
                       vae_workspace<T>& ws,
                       const exec_options& exec) {
    vae_decode_hidden(layout, params, buffers, training, ws, exec);
    linear_forward<T>(ws.b4.view(),
                      params + layout.dec3.weight,
                      params + layout.dec3.bias,
                      ws.logits.view(),
                      exec);
}

}  // namespace

template <class T>
double vae_forward(const vae_layout& layout,
                   const T* params,
                   const T* buffers,
                   matrix_view<const T> x,
                   matrix_view<const T> eps,
                   bool training,
                   vae_workspace<T>& ws,
                   const exec_options& exec) {
    ws.resize(layout, x.rows);
    const std::int64_t n = ws.n, D = layout.config.input_dim;
    vae_encode(layout, params, buffers, x, training, ws, exec);
    reparameterize<T>(ws.mu(), ws.logvar(), eps, ws.z.view(), exec);
    vae_decode_hidden(layout, params, buffers, training, ws, exec);
    // The output layer and the BCE in one pass over column blocks; a training-mode pass also
    // keeps dL/dlogits for the backward pass (it shares the exponentials).
    if (training && ws.d_logits.rows != n) ws.d_logits.resize(n, D);
    const matrix_view<T> d_logits = training ? ws.d_logits.view() : matrix_view<T>();
    const std::int64_t blocks = ceil_div(D, nn_col_block);
    std::vector<double> parts(sz(blocks * n));
    const T* w = params + layout.dec3.weight;
    const T* b = params + layout.dec3.bias;
    for_col_blocks(
        D,
        static_cast<double>(n) * (2.0 * static_cast<double>(layout.dec3.in) + 40.0),
        exec,
        [&](std::int64_t c0, std::int64_t nc) {
            linear_forward_cols<T>(ws.b4.view(), w, b, ws.logits.view(), c0, nc);
            bce_cols<T>(
                ws.logits.view(), x, d_logits, c0, nc, parts.data() + (c0 / nn_col_block) * n);
        });
    ws.bce = sum_blocks(parts, blocks, n);
    ws.kl = kl_divergence<T>(ws.mu(), ws.logvar(), T(0), {}, {}, exec);
    return ws.bce + layout.config.beta_kl * ws.kl;
}

template <class T>
void vae_backward(const vae_layout& layout,
                  const T* params,
                  matrix_view<const T> x,
                  matrix_view<const T> eps,
                  vae_workspace<T>& ws,
                  T* grads,
                  const exec_options& exec) {
    const std::int64_t n = ws.n, H = layout.config.hidden, Z = layout.config.latent;
    if (ws.d_hid1.rows != n) {
        ws.d_hid1.resize(n, H);
        ws.d_hid2.resize(n, H);
        ws.d_heads.resize(n, 2 * Z);
        ws.d_z.resize(n, Z);
    }
    // Decoder.
    linear_backward<T>(ws.b4.view(),
                       ws.d_logits.view(),
                       params + layout.dec3.weight,
                       grads + layout.dec3.weight,
                       grads + layout.dec3.bias,
                       ws.d_hid1.view(),
                       exec);
    hidden_block_backward<T>(layout,
                             layout.dec2,
                             layout.dec_bn2,
                             params,
                             grads,
                             ws.b3.view(),
                             ws.a4,
                             ws.bn4,
                             ws.d_hid1.view(),
                             ws.d_hid2.view(),
                             ws.d_hid1.view(),
                             exec);
    hidden_block_backward<T>(layout,
                             layout.dec1,
                             layout.dec_bn1,
                             params,
                             grads,
                             ws.z.view(),
                             ws.a3,
                             ws.bn3,
                             ws.d_hid1.view(),
                             ws.d_hid2.view(),
                             ws.d_z.view(),
                             exec);
    // Reparameterisation and KL: the two heads' gradients, side by side in d_heads.
    const matrix_view<T> d_mu(ws.d_heads.values.data(), n, Z, 2 * Z);
    const matrix_view<T> d_logvar(ws.d_heads.values.data() + Z, n, Z, 2 * Z);
    reparameterize_backward<T>(ws.d_z.view(), ws.logvar(), eps, d_mu, d_logvar, exec);
    kl_divergence<T>(
        ws.mu(), ws.logvar(), static_cast<T>(layout.config.beta_kl), d_mu, d_logvar, exec);
    // Encoder.
    linear_backward<T>(ws.b2.view(),
                       ws.d_heads.view(),
                       params + layout.heads.weight,
                       grads + layout.heads.weight,
                       grads + layout.heads.bias,
                       ws.d_hid1.view(),
                       exec);
    hidden_block_backward<T>(layout,
                             layout.enc2,
                             layout.enc_bn2,
                             params,
                             grads,
                             ws.b1.view(),
                             ws.a2,
                             ws.bn2,
                             ws.d_hid1.view(),
                             ws.d_hid2.view(),
                             ws.d_hid1.view(),
                             exec);
    hidden_block_backward<T>(layout,
                             layout.enc1,
                             layout.enc_bn1,
                             params,
                             grads,
                             x,
                             ws.a1,
                             ws.bn1,
                             ws.d_hid1.view(),
                             ws.d_hid2.view(),
                             matrix_view<T>(),
                             exec);
}

template <class T>
void vae_update_running_stats(const vae_layout& layout, const vae_workspace<T>& ws, T* buffers) {
    const double m = layout.config.bn_momentum;
    const std::pair<const vae_bn_slot*, const batchnorm_cache<T>*> layers[] = {
        {&layout.enc_bn1, &ws.bn1},
        {&layout.enc_bn2, &ws.bn2},
        {&layout.dec_bn1, &ws.bn3},
        {&layout.dec_bn2, &ws.bn4}};
    for (const auto& [slot, cache] : layers)
        batchnorm_update_running<T>(
            *cache, ws.n, m, buffers + slot->running_mean, buffers + slot->running_var);
}

namespace {

std::string shape_string(const std::vector<std::int64_t>& shape) {
    std::ostringstream s;
    s << '[';
    for (std::size_t k = 0; k < shape.size(); ++k) s << (k ? ", " : "") << shape[k];
    s << ']';
    return s.str();
}

}  // namespace

template <class T>
void vae_unpack_tensors(const vae_layout& layout,
                        const std::vector<named_tensor>& tensors,
                        std::vector<T>& params,
                        std::vector<T>& buffers) {
    params.assign(sz(layout.n_params), T(0));
    buffers.assign(sz(layout.n_buffers), T(0));
    std::map<std::string, const vae_tensor_slot*> slots;
    for (const auto& s : layout.tensors) slots[s.name] = &s;
    std::map<std::string, bool> seen;
    const std::string tracked = ".num_batches_tracked";
    for (const auto& t : tensors) {
        if (t.name.size() >= tracked.size() &&
            t.name.compare(t.name.size() - tracked.size(), tracked.size(), tracked) == 0)
            continue;
        const auto it = slots.find(t.name);
        if (it == slots.end())
            throw invalid_argument("beta_vae::from_tensors: unknown tensor '" + t.name + "'");
        if (seen[t.name])
            throw invalid_argument("beta_vae::from_tensors: tensor '" + t.name + "' given twice");
        seen[t.name] = true;
        const vae_tensor_slot& s = *it->second;
        if (t.shape != s.shape)
            throw invalid_argument("beta_vae::from_tensors: tensor '" + t.name + "' has shape " +
                                   shape_string(t.shape) + ", expected " + shape_string(s.shape));
        if (static_cast<std::int64_t>(t.values.size()) != s.size)
            throw invalid_argument("beta_vae::from_tensors: tensor '" + t.name + "' has " +
                                   std::to_string(t.values.size()) + " values for shape " +
                                   shape_string(s.shape));
        const bool is_var = s.name.ends_with(".running_var");
        T* dst = s.buffer ? buffers.data() + s.offset : params.data() + s.offset;
        for (std::int64_t k = 0; k < s.size; ++k) {
            const float v = t.values[sz(k)];
            if (!std::isfinite(v) || (is_var && v < 0.0f))
                throw invalid_argument("beta_vae::from_tensors: tensor '" + t.name + "' value " +
                                       std::to_string(k) + " is " + std::to_string(v) +
                                       (is_var ? " (must be finite and >= 0)" : ""));
            dst[k] = static_cast<T>(v);
        }
    }
    for (const auto& s : layout.tensors)
        if (!seen[s.name])
            throw invalid_argument("beta_vae::from_tensors: missing tensor '" + s.name + "' " +
                                   shape_string(s.shape));
}

#define DENSEAM_NN_INSTANTIATE(T)                                                              \
    template void linear_forward<T>(                                                           \
        matrix_view<const T>, const T*, const T*, matrix_view<T>, const exec_options&);        \
    template void linear_backward<T>(matrix_view<const T>,                                     \
                                     matrix_view<const T>,                                     \
                                     const T*,                                                 \
                                     T*,                                                       \
                                     T*,                                                       \
                                     matrix_view<T>,                                           \
                                     const exec_options&);                                     \
    template void leaky_relu_forward<T>(                                                       \
        matrix_view<const T>, T, matrix_view<T>, const exec_options&);                         \
    template void leaky_relu_backward<T>(                                                      \
        matrix_view<const T>, matrix_view<const T>, T, matrix_view<T>, const exec_options&);   \
    template void batchnorm_forward_train<T>(matrix_view<const T>,                             \
                                             const T*,                                         \
                                             const T*,                                         \
                                             double,                                           \
                                             matrix_view<T>,                                   \
                                             batchnorm_cache<T>&,                              \
                                             const exec_options&);                             \
    template void batchnorm_forward_eval<T>(matrix_view<const T>,                              \
                                            const T*,                                          \
                                            const T*,                                          \
                                            const T*,                                          \
                                            const T*,                                          \
                                            double,                                            \
                                            matrix_view<T>,                                    \
                                            const exec_options&);                              \
    template void batchnorm_backward<T>(matrix_view<const T>,                                  \
                                        const T*,                                              \
                                        const batchnorm_cache<T>&,                             \
                                        T*,                                                    \
                                        T*,                                                    \
                                        matrix_view<T>,                                        \
                                        const exec_options&);                                  \
    template void batchnorm_update_running<T>(                                                 \
        const batchnorm_cache<T>&, std::int64_t, double, T*, T*);                              \
    template double bce_with_logits<T>(                                                        \
        matrix_view<const T>, matrix_view<const T>, matrix_view<T>, const exec_options&);      \
    template void sigmoid<T>(matrix_view<const T>, matrix_view<T>, const exec_options&);       \
    template double kl_divergence<T>(matrix_view<const T>,                                     \
                                     matrix_view<const T>,                                     \
                                     T,                                                        \
                                     matrix_view<T>,                                           \
                                     matrix_view<T>,                                           \
                                     const exec_options&);                                     \
    template void reparameterize<T>(matrix_view<const T>,                                      \
                                    matrix_view<const T>,                                      \
                                    matrix_view<const T>,                                      \
                                    matrix_view<T>,                                            \
                                    const exec_options&);                                      \
    template void reparameterize_backward<T>(matrix_view<const T>,                             \
                                             matrix_view<const T>,                             \
                                             matrix_view<const T>,                             \
                                             matrix_view<T>,                                   \
                                             matrix_view<T>,                                   \
                                             const exec_options&);                             \
    template void adam_step<T>(std::span<T>,                                                   \
                               std::span<const T>,                                             \
                               std::span<T>,                                                   \
                               std::span<T>,                                                   \
                               std::int64_t,                                                   \
                               double,                                                         \
                               double,                                                         \
                               double,                                                         \
                               double,                                                         \
                               const exec_options&);                                           \
    template struct vae_workspace<T>;                                                          \
    template double vae_forward<T>(const vae_layout&,                                          \
                                   const T*,                                                   \
                                   const T*,                                                   \
                                   matrix_view<const T>,                                       \
                                   matrix_view<const T>,                                       \
                                   bool,                                                       \
                                   vae_workspace<T>&,                                          \
                                   const exec_options&);                                       \
    template void vae_backward<T>(const vae_layout&,                                           \
                                  const T*,                                                    \
                                  matrix_view<const T>,                                        \
                                  matrix_view<const T>,                                        \
                                  vae_workspace<T>&,                                           \
                                  T*,                                                          \
                                  const exec_options&);                                        \
    template void vae_update_running_stats<T>(const vae_layout&, const vae_workspace<T>&, T*); \
    template void vae_unpack_tensors<T>(                                                       \
        const vae_layout&, const std::vector<named_tensor>&, std::vector<T>&, std::vector<T>&);

DENSEAM_NN_INSTANTIATE(float)
DENSEAM_NN_INSTANTIATE(double)
#undef DENSEAM_NN_INSTANTIATE

}  // namespace denseam::detail

// ---- beta_vae ----------------------------------------------------------------------------------

namespace denseam {

namespace {

using detail::nn_matrix;
using detail::vae_layout;
using detail::vae_workspace;

// Rows processed together by the evaluation-mode calls (rows are independent there).
constexpr std::int64_t eval_rows = 256;

// The key of the noise used by beta_vae::loss (fit uses the epoch number).
constexpr std::uint64_t loss_noise_key = std::numeric_limits<std::uint64_t>::max();

void check_shape(const char* fn,
                 const char* what,
                 std::int64_t rows,
                 std::int64_t cols,
                 std::int64_t want_rows,
                 std::int64_t want_cols) {
    if (rows != want_rows || cols != want_cols)
        throw invalid_argument(std::string("beta_vae::") + fn + ": " + what + " is (" +
                               std::to_string(rows) + " x " + std::to_string(cols) +
                               "), expected (" + std::to_string(want_rows) + " x " +
                               std::to_string(want_cols) + ")");
}

template <class T>
void check_view(const char* fn, const char* what, matrix_view<T> v) {
    if (v.rows < 0 || v.cols < 0 || v.ld < v.cols || (v.rows > 0 && v.cols > 0 && !v.data))
        throw invalid_argument(std::string("beta_vae::") + fn + ": " + what +
                               " is not a valid view (null data or row stride < cols)");
}

// Every value finite, and in [0, 1] when `unit` is set.
void check_values(const char* fn, const char* what, matrix_view<const float> x, bool unit) {
    for (std::int64_t i = 0; i < x.rows; ++i)
        for (std::int64_t j = 0; j < x.cols; ++j) {
            const float v = x(i, j);
            const bool ok = unit ? (v >= 0.0f && v <= 1.0f) : std::isfinite(v);
            if (!ok)
                throw invalid_argument(std::string("beta_vae::") + fn + ": " + what + "(" +
                                       std::to_string(i) + ", " + std::to_string(j) +
                                       ") = " + std::to_string(v) +
                                       (unit ? " is outside [0, 1]" : " is not finite"));
        }
}

void check_data(const char* fn, matrix_view<const float> x, const vae_config& c, bool need_two) {
    check_view(fn, "x", x);
    if (x.cols != c.input_dim)
        throw invalid_argument(std::string("beta_vae::") + fn + ": x has " +
                               std::to_string(x.cols) +
                               " columns, expected input_dim = " + std::to_string(c.input_dim));
    if (need_two && x.rows < 2)
        throw invalid_argument(std::string("beta_vae::") + fn +
                               ": training-mode BatchNorm needs at least 2 rows, got " +
                               std::to_string(x.rows));
    check_values(fn, "x", x, true);
}

void check_options(const vae_train_options& o) {
    auto bad = [](const std::string& what) { throw invalid_argument("beta_vae::fit: " + what); };
    if (o.epochs < 0) bad("epochs must be >= 0, got " + std::to_string(o.epochs));
    if (o.batch < 2)
        bad("batch must be >= 2 (BatchNorm needs two rows), got " + std::to_string(o.batch));
    if (!(o.lr > 0.0) || !std::isfinite(o.lr))
        bad("lr must be finite and > 0, got " + std::to_string(o.lr));
    if (!(o.adam_beta1 >= 0.0 && o.adam_beta1 < 1.0))
        bad("adam_beta1 must be in [0, 1), got " + std::to_string(o.adam_beta1));
    if (!(o.adam_beta2 >= 0.0 && o.adam_beta2 < 1.0))
        bad("adam_beta2 must be in [0, 1), got " + std::to_string(o.adam_beta2));
    if (!(o.adam_eps > 0.0) || !std::isfinite(o.adam_eps))
        bad("adam_eps must be finite and > 0, got " + std::to_string(o.adam_eps));
}

// eps(i, j) = counter_normal(seed, key, row_index(i), j).
template <class RowIndex>
void fill_noise(nn_matrix<float>& eps, std::uint64_t seed, std::uint64_t key, RowIndex row_index) {
    for (std::int64_t i = 0; i < eps.rows; ++i) {
        const auto r = static_cast<std::uint64_t>(row_index(i));
        for (std::int64_t j = 0; j < eps.cols; ++j)
            eps.values[static_cast<std::size_t>(i * eps.cols + j)] = static_cast<float>(
                detail::counter_normal(seed, key, r, static_cast<std::uint64_t>(j)));
    }
}

}  // namespace

beta_vae::beta_vae(const vae_config& config, std::uint64_t seed) : config_(config) {
    const vae_layout layout = detail::make_vae_layout(config);
    params_.assign(static_cast<std::size_t>(layout.n_params), 0.0f);
    buffers_.assign(static_cast<std::size_t>(layout.n_buffers), 0.0f);
    detail::vae_initialize(layout, seed, params_, buffers_);
}

vae_history beta_vae::fit(matrix_view<const float> x,
                          const vae_train_options& options,
                          const exec_options& exec) {
    validate(exec);
    check_options(options);
    check_data("fit", x, config_, true);
    const vae_layout layout = detail::make_vae_layout(config_);
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t n = x.rows, D = config_.input_dim, Z = config_.latent;

    // Train copies, so that an exception leaves the model as it was.
    std::vector<float> params = params_, buffers = buffers_;
    std::vector<float> grads(params.size()), adam_m(params.size(), 0.0f),
        adam_v(params.size(), 0.0f);
    vae_workspace<float> ws;
    nn_matrix<float> xb, eps;
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    const std::int64_t used = n % options.batch == 1 ? n - 1 : n;  // a lone last row is skipped
    std::int64_t step = 0;
    vae_history history;
    for (std::int64_t epoch = 0; epoch < options.epochs; ++epoch) {
        std::iota(order.begin(), order.end(), std::int64_t{0});
        std::mt19937_64 rng(detail::splitmix64(detail::splitmix64(options.seed) +
                                               static_cast<std::uint64_t>(epoch)));
        for (std::int64_t i = n - 1; i > 0; --i)
            std::swap(order[static_cast<std::size_t>(i)],
                      order[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(i + 1))]);
        double epoch_sum = 0.0;
        for (std::int64_t b0 = 0; b0 < used; b0 += options.batch) {
            const std::int64_t nb = std::min(options.batch, used - b0);
            const std::int64_t* rows = order.data() + b0;
            if (xb.rows != nb) {
                xb.resize(nb, D);
                eps.resize(nb, Z);
            }
            for (std::int64_t i = 0; i < nb; ++i)
                std::copy(x.row(rows[i]), x.row(rows[i]) + D, xb.values.data() + i * D);
            fill_noise(eps, options.seed, static_cast<std::uint64_t>(epoch), [&](std::int64_t i) {
                return rows[i];
            });
            epoch_sum += detail::vae_forward<float>(
                layout, params.data(), buffers.data(), xb.view(), eps.view(), true, ws, exec);
            detail::vae_update_running_stats<float>(layout, ws, buffers.data());
            detail::vae_backward<float>(
                layout, params.data(), xb.view(), eps.view(), ws, grads.data(), exec);
            detail::adam_step<float>(params,
                                     grads,
                                     adam_m,
                                     adam_v,
                                     ++step,
                                     options.lr,
                                     options.adam_beta1,
                                     options.adam_beta2,
                                     options.adam_eps,
                                     exec);
            if (options.progress)
                options.progress(epoch, b0 + nb, used, epoch_sum / static_cast<double>(b0 + nb));
        }
        history.epoch_loss.push_back(epoch_sum / static_cast<double>(used));
    }
    params_.swap(params);
    buffers_.swap(buffers);
    history.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return history;
}

void beta_vae::encode(matrix_view<const float> x,
                      matrix_view<float> mu,
                      matrix_view<float> logvar,
                      const exec_options& exec) const {
    validate(exec);
    check_view("encode", "x", x);
    check_view("encode", "mu", mu);
    check_view("encode", "logvar", logvar);
    check_shape("encode", "x", x.rows, x.cols, x.rows, config_.input_dim);
    check_shape("encode", "mu", mu.rows, mu.cols, x.rows, config_.latent);
    check_shape("encode", "logvar", logvar.rows, logvar.cols, x.rows, config_.latent);
    check_values("encode", "x", x, false);
    const vae_layout layout = detail::make_vae_layout(config_);
    vae_workspace<float> ws;
    const std::int64_t Z = config_.latent;
    for (std::int64_t r0 = 0; r0 < x.rows; r0 += eval_rows) {
        const std::int64_t nb = std::min(eval_rows, x.rows - r0);
        const matrix_view<const float> xb(x.row(r0), nb, x.cols, x.ld);
        ws.resize(layout, nb);
        detail::vae_encode<float>(layout, params_.data(), buffers_.data(), xb, false, ws, exec);
        for (std::int64_t i = 0; i < nb; ++i) {
            const float* h = ws.heads.values.data() + i * 2 * Z;
            std::copy(h, h + Z, mu.row(r0 + i));
            std::copy(h + Z, h + 2 * Z, logvar.row(r0 + i));
        }
    }
}

void beta_vae::decode(matrix_view<const float> z,
                      matrix_view<float> out,
                      const exec_options& exec) const {
    validate(exec);
    check_view("decode", "z", z);
    check_view("decode", "out", out);
    check_shape("decode", "z", z.rows, z.cols, z.rows, config_.latent);
    check_shape("decode", "out", out.rows, out.cols, z.rows, config_.input_dim);
    check_values("decode", "z", z, false);
    const vae_layout layout = detail::make_vae_layout(config_);
    vae_workspace<float> ws;
    for (std::int64_t r0 = 0; r0 < z.rows; r0 += eval_rows) {
        const std::int64_t nb = std::min(eval_rows, z.rows - r0);
        ws.resize(layout, nb);
        for (std::int64_t i = 0; i < nb; ++i)
            std::copy(z.row(r0 + i), z.row(r0 + i) + z.cols, ws.z.values.data() + i * z.cols);
        detail::vae_decode_logits<float>(layout, params_.data(), buffers_.data(), false, ws, exec);
        detail::sigmoid<float>(
            ws.logits.view(), matrix_view<float>(out.row(r0), nb, out.cols, out.ld), exec);
    }
}

double beta_vae::loss(matrix_view<const float> x,
                      bool training_mode_bn,
                      std::uint64_t noise_seed,
                      const exec_options& exec) const {
    validate(exec);
    check_data("loss", x, config_, training_mode_bn);
    const vae_layout layout = detail::make_vae_layout(config_);
    if (x.rows == 0) return 0.0;
    const std::int64_t block = training_mode_bn ? x.rows : eval_rows;
    vae_workspace<float> ws;
    nn_matrix<float> eps;
    double total = 0.0;
    for (std::int64_t r0 = 0; r0 < x.rows; r0 += block) {
        const std::int64_t nb = std::min(block, x.rows - r0);
        if (eps.rows != nb) eps.resize(nb, config_.latent);
        fill_noise(eps, noise_seed, loss_noise_key, [&](std::int64_t i) { return r0 + i; });
        const matrix_view<const float> xb(x.row(r0), nb, x.cols, x.ld);
        // A training-mode pass here only evaluates: the BCE gradient it keeps is not used.
        total += detail::vae_forward<float>(
            layout, params_.data(), buffers_.data(), xb, eps.view(), training_mode_bn, ws, exec);
    }
    return total / static_cast<double>(x.rows);
}

std::vector<named_tensor> beta_vae::tensors() const {
    const vae_layout layout = detail::make_vae_layout(config_);
    std::vector<named_tensor> out;
    out.reserve(layout.tensors.size());
    for (const auto& s : layout.tensors) {
        const float* src = (s.buffer ? buffers_.data() : params_.data()) + s.offset;
        out.push_back({s.name, s.shape, std::vector<float>(src, src + s.size)});
    }
    return out;
}

beta_vae beta_vae::from_tensors(const vae_config& config,
                                const std::vector<named_tensor>& tensors) {
    const vae_layout layout = detail::make_vae_layout(config);
    beta_vae m;
    m.config_ = config;
    detail::vae_unpack_tensors<float>(layout, tensors, m.params_, m.buffers_);
    return m;
}

}  // namespace denseam
