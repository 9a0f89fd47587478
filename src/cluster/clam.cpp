// SPDX-License-Identifier: MIT
// ClAM (include/denseam/clam.hpp): T unrolled energy-descent steps per point, the loss of the
// masked coordinates, its exact gradient with respect to the prototypes by the adjoint of the
// steps, Adam, k-means++ start. Everything in double; points are processed in fixed groups whose
// partial gradients are summed in group order, so results do not depend on the thread count.
//
// Adjoint of v_{t+1} = v_t + alpha m (.) g(v_t), with r_mu = rho_mu - v, u = alpha m (.) lambda:
//   lse  g = sum w_mu r_mu, w = softmax(-beta/2 |r|^2)
//        u^T dg/dv      = -u + beta sum_mu w_mu (u.r_mu) (r_mu - g)
//        u^T dg/drho_mu = w_mu u - beta w_mu (u.r_mu - u.g) r_mu
//   lsr  g = sum_{in} r_mu / S, S = sum relu(1 - beta/2 |r_mu|^2)
//        u^T dg/dv      = -(n_in / S) u - beta (u.g) g
//        u^T dg/drho_mu = u / S + beta (u.g) r_mu / S          (mu inside)
#include "denseam/clam.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "engine/validate.hpp"
#include "io/format.hpp"

namespace denseam {

void validate(const clam_dynamics& d) {
    if (d.kernel != kernel_kind::lse && d.kernel != kernel_kind::lsr)
        throw invalid_argument("ClAM kernel must be lse or lsr (got " +
                               std::string(to_string(d.kernel)) + ")");
    if (!(d.beta > 0.0) || !std::isfinite(d.beta))
        throw invalid_argument("beta must be finite and > 0 (got " + detail::shortest(d.beta) +
                               ")");
    if (d.steps < 0)
        throw invalid_argument("steps must be >= 0 (got " + std::to_string(d.steps) + ")");
    if (!(d.alpha > 0.0) || !std::isfinite(d.alpha))
        throw invalid_argument("alpha must be finite and > 0 (got " + detail::shortest(d.alpha) +
                               ")");
}

namespace detail {
namespace {

constexpr std::int64_t group_size = 16;  // points per parallel item
constexpr std::uint64_t salt_mask = 0x636c616d6d61736bULL;

// The pull g(v) and what the adjoint needs of it: weights (lse: softmax; lsr: 1/S inside, 0
// outside), S and the number inside (lsr).
struct pull {
    std::vector<double> w;
    double s = 0.0;
    double n_in = 0.0;
};

void compute_pull(const double* v,
                  const double* protos,
                  std::int64_t k,
                  std::int64_t d,
                  const clam_dynamics& dyn,
                  pull& p,
                  double* g) {
    p.w.assign(static_cast<std::size_t>(k), 0.0);
    for (std::int64_t mu = 0; mu < k; ++mu) {
        const double* r = protos + mu * d;
        double q = 0.0;
#pragma omp simd reduction(+ : q)
        for (std::int64_t j = 0; j < d; ++j) {
            const double t = r[j] - v[j];
            q += t * t;
        }
        p.w[static_cast<std::size_t>(mu)] = q;
    }
    if (dyn.kernel == kernel_kind::lse) {
        double amax = -std::numeric_limits<double>::infinity();
        for (auto& q : p.w) {
            q = -0.5 * dyn.beta * q;
            amax = std::max(amax, q);
        }
        double z = 0.0;
        for (auto& a : p.w) {
            a = std::exp(a - amax);
            z += a;
        }
        for (auto& a : p.w) a /= z;
    } else {
        p.s = 0.0;
        p.n_in = 0.0;
        for (auto& q : p.w) {
            const double h = 0.5 * dyn.beta * q;
            if (h < 1.0) {
                p.s += 1.0 - h;
                p.n_in += 1.0;
                q = 1.0;
            } else {
                q = 0.0;
            }
        }
        for (auto& q : p.w) q = p.s > 0.0 ? q / p.s : 0.0;
    }
    std::fill(g, g + d, 0.0);
    for (std::int64_t mu = 0; mu < k; ++mu) {
        const double w = p.w[static_cast<std::size_t>(mu)];
        if (w == 0.0) continue;
        const double* r = protos + mu * d;
        for (std::int64_t j = 0; j < d; ++j) g[j] += w * (r[j] - v[j]);
    }
}

// Forward and (if grad) backward of one point; returns sum_j m_j (v_T,j - x_j)^2 and adds the
// point's share (times `scale`) of dL/drho to grad (k x d).
double point_loss(const double* x,
                  const double* mask,
                  const double* fill,
                  const double* protos,
                  std::int64_t k,
                  std::int64_t d,
                  const clam_dynamics& dyn,
                  double scale,
                  double* grad,
                  std::vector<double>& states,
                  std::vector<pull>& pulls,
                  std::vector<double>& gs,
                  std::vector<double>& work) {
    const std::int64_t T = dyn.steps;
    states.resize(static_cast<std::size_t>((T + 1) * d));
    gs.resize(static_cast<std::size_t>(std::max<std::int64_t>(T, 1) * d));
    if (static_cast<std::int64_t>(pulls.size()) < T) pulls.resize(static_cast<std::size_t>(T));
    double* v = states.data();
    for (std::int64_t j = 0; j < d; ++j) v[j] = mask[j] != 0.0 ? fill[j] : x[j];
    for (std::int64_t t = 0; t < T; ++t) {
        const double* vt = states.data() + t * d;
        double* vn = states.data() + (t + 1) * d;
        double* g = gs.data() + t * d;
        compute_pull(vt, protos, k, d, dyn, pulls[static_cast<std::size_t>(t)], g);
        for (std::int64_t j = 0; j < d; ++j) vn[j] = vt[j] + dyn.alpha * mask[j] * g[j];
    }
    const double* vT = states.data() + T * d;
    double loss = 0.0;
#pragma omp simd reduction(+ : loss)
    for (std::int64_t j = 0; j < d; ++j) {
        const double e = vT[j] - x[j];
        loss += mask[j] * e * e;
    }
    if (grad == nullptr) return loss;
    // lambda = dL/dv_T, then back through the steps.
    work.resize(static_cast<std::size_t>(2 * d));
    double* lam = work.data();
    double* u = work.data() + d;
    for (std::int64_t j = 0; j < d; ++j) lam[j] = scale * 2.0 * mask[j] * (vT[j] - x[j]);
    for (std::int64_t t = T - 1; t >= 0; --t) {
        const double* vt = states.data() + t * d;
        const double* g = gs.data() + t * d;
        const pull& p = pulls[static_cast<std::size_t>(t)];
        double ug = 0.0;
#pragma omp simd reduction(+ : ug)
        for (std::int64_t j = 0; j < d; ++j) {
            u[j] = dyn.alpha * mask[j] * lam[j];
            ug += u[j] * g[j];
        }
        if (dyn.kernel == kernel_kind::lse) {
            // lam += -u + beta sum_mu w_mu (u.r_mu)(r_mu - g); grad_mu += w_mu u - beta w_mu
            // (u.r_mu - u.g) r_mu.
            for (std::int64_t j = 0; j < d; ++j) lam[j] -= u[j];
            for (std::int64_t mu = 0; mu < k; ++mu) {
                const double w = p.w[static_cast<std::size_t>(mu)];
                if (w == 0.0) continue;
                const double* rho = protos + mu * d;
                double ur = 0.0;
#pragma omp simd reduction(+ : ur)
                for (std::int64_t j = 0; j < d; ++j) ur += u[j] * (rho[j] - vt[j]);
                const double a = dyn.beta * w * ur;
                const double b = dyn.beta * w * (ur - ug);
                double* gm = grad + mu * d;
                for (std::int64_t j = 0; j < d; ++j) {
                    const double r = rho[j] - vt[j];
                    lam[j] += a * (r - g[j]);
                    gm[j] += w * u[j] - b * r;
                }
            }
        } else if (p.s > 0.0) {
            const double c = p.n_in / p.s;
            for (std::int64_t j = 0; j < d; ++j) lam[j] -= c * u[j] + dyn.beta * ug * g[j];
            const double inv_s = 1.0 / p.s;
            for (std::int64_t mu = 0; mu < k; ++mu) {
                if (p.w[static_cast<std::size_t>(mu)] == 0.0) continue;
                const double* rho = protos + mu * d;
                double* gm = grad + mu * d;
                for (std::int64_t j = 0; j < d; ++j)
                    gm[j] += inv_s * (u[j] + dyn.beta * ug * (rho[j] - vt[j]));
            }
        }
    }
    return loss;
}

struct point_scratch {
    std::vector<double> states, gs, work;
    std::vector<pull> pulls;
};

// Loss and gradient over the rows `rows` of x (all rows when empty), masks from `mask_of(i, j)`
// written into a per-point buffer. Returns sum of point losses; grad (k x d) gets
// scale * dL/drho summed over the points in group order.
template <class MaskFn>
double batch_loss(matrix_view<const double> x,
                  const std::vector<std::int64_t>& rows,
                  MaskFn&& mask_of,
                  const double* fill,
                  const double* protos,
                  std::int64_t k,
                  const clam_dynamics& dyn,
                  double scale,
                  double* grad,
                  const exec_options& exec) {
    const std::int64_t d = x.cols;
    const auto n = static_cast<std::int64_t>(rows.size());
    const std::int64_t n_groups = (n + group_size - 1) / group_size;
    std::vector<double> losses(static_cast<std::size_t>(n_groups), 0.0);
    std::vector<double> partial(grad ? static_cast<std::size_t>(n_groups * k * d) : 0, 0.0);
    parallel_options po;
    po.max_threads = std::max<std::int64_t>(
        1,
        static_cast<std::int64_t>(static_cast<double>(n) * static_cast<double>(k * d) *
                                  static_cast<double>(std::max<std::int64_t>(dyn.steps, 1)) /
                                  2.0e6));
    parallel_for(
        n_groups,
        exec,
        po,
        [] { return point_scratch{}; },
        [&](point_scratch& s, std::int64_t grp) {
            std::vector<double> m(static_cast<std::size_t>(d));
            double* gp = grad ? partial.data() + grp * k * d : nullptr;
            double l = 0.0;
            const std::int64_t i1 = std::min(n, (grp + 1) * group_size);
            for (std::int64_t i = grp * group_size; i < i1; ++i) {
                const std::int64_t row = rows[static_cast<std::size_t>(i)];
                for (std::int64_t j = 0; j < d; ++j)
                    m[static_cast<std::size_t>(j)] = mask_of(row, j);
                l += point_loss(x.row(row),
                                m.data(),
                                fill,
                                protos,
                                k,
                                d,
                                dyn,
                                scale,
                                gp,
                                s.states,
                                s.pulls,
                                s.gs,
                                s.work);
            }
            losses[static_cast<std::size_t>(grp)] = l;
        });
    double total = 0.0;
    for (std::int64_t grp = 0; grp < n_groups; ++grp) {
        total += losses[static_cast<std::size_t>(grp)];
        if (grad)
            for (std::int64_t e = 0; e < k * d; ++e)
                grad[e] += partial[static_cast<std::size_t>(grp * k * d + e)];
    }
    return total;
}

void check_data(matrix_view<const double> x, const char* what) {
    if (x.rows < 1 || x.cols < 1 || x.data == nullptr)
        throw invalid_argument(std::string(what) + ": expected a non-empty 2-D array");
    check_finite(x, what);
}

}  // namespace
}  // namespace detail

double clam_loss(matrix_view<const double> x,
                 matrix_view<const double> mask,
                 std::span<const double> fill,
                 matrix_view<const double> prototypes,
                 const clam_dynamics& dynamics,
                 matrix_view<double> grad,
                 const exec_options& exec) {
    validate(dynamics);
    detail::check_data(x, "x");
    detail::check_data(prototypes, "prototypes");
    detail::check_finite(mask, "mask");
    const std::int64_t n = x.rows, d = x.cols, k = prototypes.rows;
    if (mask.rows != n || mask.cols != d || prototypes.cols != d ||
        static_cast<std::int64_t>(fill.size()) != d)
        throw invalid_argument(
            "clam_loss: x (n x d), mask (n x d), fill (d) and prototypes "
            "(k x d) must agree");
    if (!grad.empty() && (grad.rows != k || grad.cols != d))
        throw invalid_argument("clam_loss: grad must be k x d");
    for (double f : fill)
        if (!std::isfinite(f)) throw invalid_argument("clam_loss: fill must be finite");
    std::vector<double> protos(static_cast<std::size_t>(k * d)), g;
    for (std::int64_t i = 0; i < k; ++i)
        std::copy(prototypes.row(i), prototypes.row(i) + d, protos.begin() + i * d);
    if (!grad.empty()) g.assign(static_cast<std::size_t>(k * d), 0.0);
    std::vector<std::int64_t> rows(static_cast<std::size_t>(n));
    std::iota(rows.begin(), rows.end(), 0);
    const double scale = 1.0 / (static_cast<double>(n) * static_cast<double>(d));
    const double total = detail::batch_loss(
        x,
        rows,
        [&](std::int64_t i, std::int64_t j) { return mask(i, j); },
        fill.data(),
        protos.data(),
        k,
        dynamics,
        scale,
        grad.empty() ? nullptr : g.data(),
        exec);
    if (!grad.empty())
        for (std::int64_t i = 0; i < k; ++i)
            for (std::int64_t j = 0; j < d; ++j)
                grad(i, j) = g[static_cast<std::size_t>(i * d + j)];
    return total * scale;
}

clam_assignment clam_assign(matrix_view<const double> x,
                            matrix_view<const double> prototypes,
                            const clam_dynamics& dynamics,
                            const exec_options& exec) {
    validate(dynamics);
    detail::check_data(x, "x");
    detail::check_data(prototypes, "prototypes");
    const std::int64_t n = x.rows, d = x.cols, k = prototypes.rows;
    if (prototypes.cols != d)
        throw invalid_argument("x has " + std::to_string(d) + " features; the prototypes have " +
                               std::to_string(prototypes.cols));
    std::vector<double> protos(static_cast<std::size_t>(k * d));
    for (std::int64_t i = 0; i < k; ++i)
        std::copy(prototypes.row(i), prototypes.row(i) + d, protos.begin() + i * d);
    clam_assignment out;
    out.labels.resize(static_cast<std::size_t>(n));
    out.states.resize(static_cast<std::size_t>(n * d));
    const std::int64_t n_groups = (n + detail::group_size - 1) / detail::group_size;
    detail::parallel_options po;
    po.max_threads = std::max<std::int64_t>(
        1,
        static_cast<std::int64_t>(static_cast<double>(n * k * d) *
                                  static_cast<double>(dynamics.steps + 1) / 2.0e6));
    detail::parallel_for(
        n_groups,
        exec,
        po,
        [] { return detail::pull{}; },
        [&](detail::pull& p, std::int64_t grp) {
            std::vector<double> g(static_cast<std::size_t>(d)), v(static_cast<std::size_t>(d));
            const std::int64_t i1 = std::min(n, (grp + 1) * detail::group_size);
            for (std::int64_t i = grp * detail::group_size; i < i1; ++i) {
                std::copy(x.row(i), x.row(i) + d, v.begin());
                for (std::int64_t t = 0; t < dynamics.steps; ++t) {
                    detail::compute_pull(v.data(), protos.data(), k, d, dynamics, p, g.data());
                    for (std::int64_t j = 0; j < d; ++j)
                        v[static_cast<std::size_t>(j)] +=
                            dynamics.alpha * g[static_cast<std::size_t>(j)];
                }
                std::int64_t best = 0;
                double bd = std::numeric_limits<double>::infinity();
                for (std::int64_t mu = 0; mu < k; ++mu) {
                    double q = 0.0;
                    const double* pm = protos.data() + mu * d;
                    const double* vv = v.data();
#pragma omp simd reduction(+ : q)
                    for (std::int64_t j = 0; j < d; ++j) {
                        const double t = pm[j] - vv[j];
                        q += t * t;
                    }
                    if (q < bd) {
                        bd = q;
                        best = mu;
                    }
                }
                out.labels[static_cast<std::size_t>(i)] = best;
                std::copy(v.begin(), v.end(), out.states.begin() + i * d);
            }
        });
    return out;
}

namespace {

// k-means++ (D^2 sampling), seeded.
std::vector<double> kmeans_pp(matrix_view<const double> x, std::int64_t k, std::mt19937_64& rng) {
    const std::int64_t n = x.rows, d = x.cols;
    std::vector<double> c(static_cast<std::size_t>(k * d));
    std::vector<double> dist(static_cast<std::size_t>(n), std::numeric_limits<double>::infinity());
    std::int64_t pick = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
    for (std::int64_t m = 0; m < k; ++m) {
        std::copy(x.row(pick), x.row(pick) + d, c.begin() + m * d);
        double total = 0.0;
        for (std::int64_t i = 0; i < n; ++i) {
            double q = 0.0;
            const double* xi = x.row(i);
            const double* cm = c.data() + m * d;
#pragma omp simd reduction(+ : q)
            for (std::int64_t j = 0; j < d; ++j) {
                const double t = xi[j] - cm[j];
                q += t * t;
            }
            auto& di = dist[static_cast<std::size_t>(i)];
            di = std::min(di, q);
            total += di;
        }
        if (m + 1 == k) break;
        if (!(total > 0.0)) {  // every point on a center: any further pick is a duplicate
            pick = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
            continue;
        }
        const double target = detail::unit_double(rng) * total;
        double acc = 0.0;
        pick = n - 1;
        for (std::int64_t i = 0; i < n; ++i) {
            acc += dist[static_cast<std::size_t>(i)];
            if (acc > target) {
                pick = i;
                break;
            }
        }
    }
    return c;
}

}  // namespace

clam_result clam_fit(matrix_view<const double> x, const clam_options& o, const exec_options& exec) {
    detail::check_data(x, "X");
    const std::int64_t n = x.rows, d = x.cols, k = o.n_clusters;
    if (k < 1 || k > n)
        throw invalid_argument("n_clusters must be in [1, n_samples = " + std::to_string(n) +
                               "] (got " + std::to_string(k) + ")");
    clam_dynamics dyn = o.dynamics;
    const bool auto_beta = !(dyn.beta > 0.0);
    if (auto_beta) dyn.beta = 1.0;  // validated below with a placeholder, chosen after the start
    validate(dyn);
    if (!(o.mask_prob >= 0.0 && o.mask_prob <= 1.0))
        throw invalid_argument("mask_prob must be in [0, 1] (got " + detail::shortest(o.mask_prob) +
                               ")");
    if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate))
        throw invalid_argument("learning_rate must be finite and > 0 (got " +
                               detail::shortest(o.learning_rate) + ")");
    if (o.epochs < 1)
        throw invalid_argument("epochs must be >= 1 (got " + std::to_string(o.epochs) + ")");
    if (o.batch_size < 1)
        throw invalid_argument("batch_size must be >= 1 (got " + std::to_string(o.batch_size) +
                               ")");
    if (!(o.tol >= 0.0) || !std::isfinite(o.tol))
        throw invalid_argument("tol must be finite and >= 0");
    if (o.patience < 1) throw invalid_argument("patience must be >= 1");

    clam_result res;
    res.fill.assign(static_cast<std::size_t>(d), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < d; ++j) res.fill[static_cast<std::size_t>(j)] += x(i, j);
    for (auto& f : res.fill) f /= static_cast<double>(n);
    std::mt19937_64 rng(o.seed);
    std::vector<double> protos = kmeans_pp(x, k, rng);
    if (auto_beta) {
        std::vector<double> near(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) {
            double best = std::numeric_limits<double>::infinity();
            for (std::int64_t m = 0; m < k; ++m) {
                double q = 0.0;
                const double* xi = x.row(i);
                const double* pm = protos.data() + m * d;
#pragma omp simd reduction(+ : q)
                for (std::int64_t j = 0; j < d; ++j) {
                    const double t = xi[j] - pm[j];
                    q += t * t;
                }
                best = std::min(best, q);
            }
            near[static_cast<std::size_t>(i)] = best;
        }
        std::nth_element(near.begin(), near.begin() + n / 2, near.end());
        const double r2 = near[static_cast<std::size_t>(n / 2)];
        // beta = 2 / (2 r)^2: the support radius sqrt(2/beta) is twice the median distance.
        dyn.beta = r2 > 0.0 ? 0.5 / r2 : 1.0;
    }
    res.beta = dyn.beta;
    // Adam state.
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    std::vector<double> m1(protos.size(), 0.0), m2(protos.size(), 0.0), grad(protos.size());
    std::vector<double> best = protos;
    double best_loss = std::numeric_limits<double>::infinity();
    std::int64_t stale = 0, adam_t = 0;
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const std::uint64_t mask_key = detail::splitmix64(o.seed ^ detail::salt_mask);
    for (std::int64_t epoch = 0; epoch < o.epochs; ++epoch) {
        for (std::int64_t i = n - 1; i > 0; --i)
            std::swap(order[static_cast<std::size_t>(i)],
                      order[static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(i + 1))]);
        const std::uint64_t epoch_key =
            detail::splitmix64(mask_key ^ static_cast<std::uint64_t>(epoch));
        auto mask_of = [&](std::int64_t row, std::int64_t j) {
            const auto idx = static_cast<std::uint64_t>(row) * static_cast<std::uint64_t>(d) +
                             static_cast<std::uint64_t>(j);
            return detail::counter_uniform(epoch_key, idx) < o.mask_prob ? 1.0 : 0.0;
        };
        double epoch_loss = 0.0;
        std::vector<std::int64_t> rows;
        for (std::int64_t b0 = 0; b0 < n; b0 += o.batch_size) {
            const std::int64_t b1i = std::min(n, b0 + o.batch_size);
            rows.assign(order.begin() + b0, order.begin() + b1i);
            const auto bn = static_cast<double>(b1i - b0);
            const double scale = 1.0 / (bn * static_cast<double>(d));
            std::fill(grad.begin(), grad.end(), 0.0);
            const double l = detail::batch_loss(
                x, rows, mask_of, res.fill.data(), protos.data(), k, dyn, scale, grad.data(), exec);
            epoch_loss += l;
            ++adam_t;
            const double c1 = 1.0 - std::pow(b1, static_cast<double>(adam_t));
            const double c2 = 1.0 - std::pow(b2, static_cast<double>(adam_t));
            for (std::size_t e = 0; e < protos.size(); ++e) {
                m1[e] = b1 * m1[e] + (1.0 - b1) * grad[e];
                m2[e] = b2 * m2[e] + (1.0 - b2) * grad[e] * grad[e];
                protos[e] -= o.learning_rate * (m1[e] / c1) / (std::sqrt(m2[e] / c2) + eps);
            }
        }
        epoch_loss /= static_cast<double>(n) * static_cast<double>(d);
        res.loss_history.push_back(epoch_loss);
        res.n_epochs = epoch + 1;
        if (o.progress) o.progress(epoch + 1, epoch_loss);
        if (epoch_loss < best_loss * (1.0 - o.tol) || !std::isfinite(best_loss)) {
            best_loss = epoch_loss;
            best = protos;
            stale = 0;
        } else {
            if (epoch_loss < best_loss) {  // better, but by less than tol: keep it, count it
                best_loss = epoch_loss;
                best = protos;
            }
            if (o.tol > 0.0 && ++stale >= o.patience) break;
        }
    }
    res.prototypes = best;
    res.best_loss = best_loss;
    const auto a = clam_assign(x, matrix_view<const double>(best.data(), k, d), dyn, exec);
    res.labels = a.labels;
    return res;
}

}  // namespace denseam
