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
#include "engine/resources.hpp"
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
    if (!(d.eps >= 0.0) || !std::isfinite(d.eps))
        throw invalid_argument("eps must be finite and >= 0 (got " + detail::shortest(d.eps) + ")");
    if (!(d.alpha > 0.0) || !std::isfinite(d.alpha))
        throw invalid_argument("alpha must be finite and > 0 (got " + detail::shortest(d.alpha) +
                               ")");
}

namespace detail {
namespace {

constexpr std::int64_t group_size = 16;  // points per parallel item
constexpr std::uint64_t salt_mask = 0x636c616d6d61736bULL;

// Only the masked coordinates A move, so a point's work runs on them: its prototypes gathered on A
// (k x |A|), the distance to each prototype as a constant part over the observed coordinates plus
// the part over A, and, in the adjoint, the observed coordinates' share of the prototype gradient
// (the same vector p_mu - x at every step) accumulated as one coefficient per prototype.
struct point_scratch {
    std::vector<std::int64_t> idx;  // A
    std::vector<double> pa;         // k x |A| prototypes on A
    std::vector<double> q0;         // k: squared distance over the observed coordinates
    std::vector<double> states;     // (T + 1) x |A|
    std::vector<double> gs;         // T x |A| pulls on A
    std::vector<double> ws;         // T x k weights (lse: softmax; lsr: 1/S inside, 0 outside)
    std::vector<double> ss, ins;    // T: S and the number inside (lsr)
    std::vector<double> lam, u, gma, coef, q;
};

// T steps of the masked point (x, mask) from v_0 = fill on A; fills s.idx, s.pa, s.q0, s.states,
// s.gs, s.ws, s.ss, s.ins. Returns |A|.
std::int64_t forward(const double* x,
                     const double* mask,
                     const double* fill,
                     const double* protos,
                     std::int64_t k,
                     std::int64_t d,
                     const clam_dynamics& dyn,
                     point_scratch& s) {
    s.idx.clear();
    for (std::int64_t j = 0; j < d; ++j)
        if (mask[j] != 0.0) s.idx.push_back(j);
    const auto na = static_cast<std::int64_t>(s.idx.size());
    const std::int64_t T = dyn.steps;
    s.pa.resize(static_cast<std::size_t>(k * na));
    s.q0.assign(static_cast<std::size_t>(k), 0.0);
    s.q.resize(static_cast<std::size_t>(k));
    for (std::int64_t mu = 0; mu < k; ++mu) {
        const double* p = protos + mu * d;
        double q0 = 0.0;
#pragma omp simd reduction(+ : q0)
        for (std::int64_t j = 0; j < d; ++j) {
            const double t = p[j] - x[j];
            q0 += (mask[j] != 0.0 ? 0.0 : t * t);
        }
        s.q0[static_cast<std::size_t>(mu)] = q0;
        double* pa = s.pa.data() + mu * na;
        for (std::int64_t a = 0; a < na; ++a) pa[a] = p[s.idx[static_cast<std::size_t>(a)]];
    }
    s.states.resize(static_cast<std::size_t>((T + 1) * na));
    s.gs.resize(static_cast<std::size_t>(T * na));
    s.ws.resize(static_cast<std::size_t>(T * k));
    s.ss.assign(static_cast<std::size_t>(T), 0.0);
    s.ins.assign(static_cast<std::size_t>(T), 0.0);
    for (std::int64_t a = 0; a < na; ++a)
        s.states[static_cast<std::size_t>(a)] = fill[s.idx[static_cast<std::size_t>(a)]];
    for (std::int64_t t = 0; t < T; ++t) {
        const double* v = s.states.data() + t * na;
        double* vn = s.states.data() + (t + 1) * na;
        double* g = s.gs.data() + t * na;
        double* w = s.ws.data() + t * k;
        for (std::int64_t mu = 0; mu < k; ++mu) {
            const double* pa = s.pa.data() + mu * na;
            double q = s.q0[static_cast<std::size_t>(mu)];
            double qa = 0.0;
#pragma omp simd reduction(+ : qa)
            for (std::int64_t a = 0; a < na; ++a) {
                const double r = pa[a] - v[a];
                qa += r * r;
            }
            w[mu] = q + qa;
        }
        if (dyn.kernel == kernel_kind::lse) {
            double amax = -std::numeric_limits<double>::infinity();
            for (std::int64_t mu = 0; mu < k; ++mu) {
                w[mu] = -0.5 * dyn.beta * w[mu];
                amax = std::max(amax, w[mu]);
            }
            double z = 0.0;
            for (std::int64_t mu = 0; mu < k; ++mu) {
                w[mu] = std::exp(w[mu] - amax);
                z += w[mu];
            }
            for (std::int64_t mu = 0; mu < k; ++mu) w[mu] /= z;
        } else {
            double sum = 0.0, n_in = 0.0;
            for (std::int64_t mu = 0; mu < k; ++mu) {
                const double h = 0.5 * dyn.beta * w[mu];
                const bool in = h < 1.0;
                sum += in ? 1.0 - h : 0.0;
                n_in += in ? 1.0 : 0.0;
                w[mu] = in ? 1.0 : 0.0;
            }
            // eps + S: with eps > 0 the pull stays bounded at a support's edge; outside every
            // support (n_in = 0) it is zero either way.
            const double den = n_in > 0.0 ? dyn.eps + sum : 0.0;
            for (std::int64_t mu = 0; mu < k; ++mu) w[mu] = den > 0.0 ? w[mu] / den : 0.0;
            s.ss[static_cast<std::size_t>(t)] = den;
            s.ins[static_cast<std::size_t>(t)] = n_in;
        }
        std::fill(g, g + na, 0.0);
        for (std::int64_t mu = 0; mu < k; ++mu) {
            const double wm = w[mu];
            if (wm == 0.0) continue;
            const double* pa = s.pa.data() + mu * na;
#pragma omp simd
            for (std::int64_t a = 0; a < na; ++a) g[a] += wm * (pa[a] - v[a]);
        }
#pragma omp simd
        for (std::int64_t a = 0; a < na; ++a) vn[a] = v[a] + dyn.alpha * g[a];
    }
    return na;
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
                  point_scratch& s) {
    const std::int64_t na = forward(x, mask, fill, protos, k, d, dyn, s);
    if (na == 0) return 0.0;
    const std::int64_t T = dyn.steps;
    const double* vT = s.states.data() + T * na;
    double loss = 0.0;
    for (std::int64_t a = 0; a < na; ++a) {
        const double e = vT[a] - x[s.idx[static_cast<std::size_t>(a)]];
        loss += e * e;
    }
    if (grad == nullptr) return loss;
    s.lam.resize(static_cast<std::size_t>(na));
    s.u.resize(static_cast<std::size_t>(na));
    s.gma.assign(static_cast<std::size_t>(k * na), 0.0);
    s.coef.assign(static_cast<std::size_t>(k), 0.0);
    double* lam = s.lam.data();
    double* u = s.u.data();
    for (std::int64_t a = 0; a < na; ++a)
        lam[a] = scale * 2.0 * (vT[a] - x[s.idx[static_cast<std::size_t>(a)]]);
    for (std::int64_t t = T - 1; t >= 0; --t) {
        const double* v = s.states.data() + t * na;
        const double* g = s.gs.data() + t * na;
        const double* w = s.ws.data() + t * k;
        double ug = 0.0;
#pragma omp simd reduction(+ : ug)
        for (std::int64_t a = 0; a < na; ++a) {
            u[a] = dyn.alpha * lam[a];
            ug += u[a] * g[a];
        }
        if (dyn.kernel == kernel_kind::lse) {
            for (std::int64_t a = 0; a < na; ++a) lam[a] -= u[a];
            for (std::int64_t mu = 0; mu < k; ++mu) {
                const double wm = w[mu];
                if (wm == 0.0) continue;
                const double* pa = s.pa.data() + mu * na;
                double ur = 0.0;
#pragma omp simd reduction(+ : ur)
                for (std::int64_t a = 0; a < na; ++a) ur += u[a] * (pa[a] - v[a]);
                const double am = dyn.beta * wm * ur;
                const double bm = dyn.beta * wm * (ur - ug);
                double* gm = s.gma.data() + mu * na;
#pragma omp simd
                for (std::int64_t a = 0; a < na; ++a) {
                    const double r = pa[a] - v[a];
                    lam[a] += am * (r - g[a]);
                    gm[a] += wm * u[a] - bm * r;
                }
                s.coef[static_cast<std::size_t>(mu)] -= bm;  // observed coordinates: -b (p - x)
            }
        } else if (s.ss[static_cast<std::size_t>(t)] > 0.0) {
            const double sum = s.ss[static_cast<std::size_t>(t)];
            const double c = s.ins[static_cast<std::size_t>(t)] / sum;
            const double cg = dyn.beta * ug;
#pragma omp simd
            for (std::int64_t a = 0; a < na; ++a) lam[a] -= c * u[a] + cg * g[a];
            const double inv_s = 1.0 / sum;
            for (std::int64_t mu = 0; mu < k; ++mu) {
                if (w[mu] == 0.0) continue;
                const double* pa = s.pa.data() + mu * na;
                double* gm = s.gma.data() + mu * na;
#pragma omp simd
                for (std::int64_t a = 0; a < na; ++a) gm[a] += inv_s * (u[a] + cg * (pa[a] - v[a]));
                s.coef[static_cast<std::size_t>(mu)] += inv_s * cg;  // observed: + c (p - x)
            }
        }
    }
    for (std::int64_t mu = 0; mu < k; ++mu) {
        const double cm = s.coef[static_cast<std::size_t>(mu)];
        const double* p = protos + mu * d;
        double* gm = grad + mu * d;
        if (cm != 0.0) {
#pragma omp simd
            for (std::int64_t j = 0; j < d; ++j) gm[j] += mask[j] != 0.0 ? 0.0 : cm * (p[j] - x[j]);
        }
        const double* ga = s.gma.data() + mu * na;
        for (std::int64_t a = 0; a < na; ++a) gm[s.idx[static_cast<std::size_t>(a)]] += ga[a];
    }
    return loss;
}

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
                l += point_loss(x.row(row), m.data(), fill, protos, k, d, dyn, scale, gp, s);
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

// Per thread, a point keeps its T + 1 states and T pulls: refuse what cannot fit before allocating.
void check_steps_memory(const clam_dynamics& dyn,
                        std::int64_t d,
                        std::int64_t k,
                        const exec_options& exec) {
    const double per_thread =
        8.0 * (2.0 * static_cast<double>(dyn.steps + 1) * static_cast<double>(d) +
               static_cast<double>(dyn.steps + 2) * static_cast<double>(k));
    require_memory(per_thread * std::max(1, resolved_threads(exec)),
                   "steps = " + std::to_string(dyn.steps) + " (the unrolled states of dimension " +
                       std::to_string(d) + ")");
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
    detail::check_steps_memory(dynamics, d, k, exec);
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
    detail::check_steps_memory(dynamics, d, k, exec);
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
        [] { return detail::point_scratch{}; },
        [&](detail::point_scratch& s, std::int64_t grp) {
            // Every coordinate moves: the whole point is "masked", starting from itself.
            const std::vector<double> all(static_cast<std::size_t>(d), 1.0);
            std::vector<double> v(static_cast<std::size_t>(d));
            const std::int64_t i1 = std::min(n, (grp + 1) * detail::group_size);
            for (std::int64_t i = grp * detail::group_size; i < i1; ++i) {
                detail::forward(x.row(i), all.data(), x.row(i), protos.data(), k, d, dynamics, s);
                std::copy(s.states.begin() + dynamics.steps * d,
                          s.states.begin() + (dynamics.steps + 1) * d,
                          v.begin());
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

// Greedy k-means++ (D^2 sampling with 2 + floor(ln k) candidates per center, the one that lowers
// the potential most kept), seeded; one start.
std::vector<double> kmeans_pp(matrix_view<const double> x, std::int64_t k, std::mt19937_64& rng) {
    const std::int64_t n = x.rows, d = x.cols;
    const std::int64_t trials = 2 + static_cast<std::int64_t>(std::log(static_cast<double>(k)));
    std::vector<double> c(static_cast<std::size_t>(k * d));
    std::vector<double> dist(static_cast<std::size_t>(n), std::numeric_limits<double>::infinity());
    std::vector<double> cand_dist(static_cast<std::size_t>(n)),
        best_dist(static_cast<std::size_t>(n));
    auto sq = [&](std::int64_t i, const double* cm) {
        const double* xi = x.row(i);
        double q = 0.0;
#pragma omp simd reduction(+ : q)
        for (std::int64_t j = 0; j < d; ++j) {
            const double t = xi[j] - cm[j];
            q += t * t;
        }
        return q;
    };
    std::int64_t pick = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
    for (std::int64_t i = 0; i < n; ++i) dist[static_cast<std::size_t>(i)] = sq(i, x.row(pick));
    std::copy(x.row(pick), x.row(pick) + d, c.begin());
    for (std::int64_t m = 1; m < k; ++m) {
        double total = 0.0;
        for (double v : dist) total += v;
        double best_pot = std::numeric_limits<double>::infinity();
        std::int64_t best = 0;
        for (std::int64_t trial = 0; trial < trials; ++trial) {
            std::int64_t cand = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(n));
            if (total > 0.0) {
                const double target = detail::unit_double(rng) * total;
                double acc = 0.0;
                cand = n - 1;
                for (std::int64_t i = 0; i < n; ++i) {
                    acc += dist[static_cast<std::size_t>(i)];
                    if (acc > target) {
                        cand = i;
                        break;
                    }
                }
            }
            double pot = 0.0;
            for (std::int64_t i = 0; i < n; ++i) {
                const double v = std::min(dist[static_cast<std::size_t>(i)], sq(i, x.row(cand)));
                cand_dist[static_cast<std::size_t>(i)] = v;
                pot += v;
            }
            if (pot < best_pot) {
                best_pot = pot;
                best = cand;
                best_dist.swap(cand_dist);
            }
        }
        std::copy(x.row(best), x.row(best) + d, c.begin() + m * d);
        dist.swap(best_dist);
        best_dist.resize(static_cast<std::size_t>(n));
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
    const bool auto_beta = dyn.beta == 0.0;
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
    if (!(o.lr_decay > 0.0 && o.lr_decay <= 1.0))
        throw invalid_argument("lr_decay must be in (0, 1] (got " + detail::shortest(o.lr_decay) +
                               ")");
    detail::check_steps_memory(dyn, d, k, exec);

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
        // beta = 2 / (c r)^2: sqrt(2/beta) = c times the median distance, c = 2 for lse (a soft
        // softmax), 4 for lsr (few points start near a support's edge, where the pull
        // sum (rho - v) / S grows without bound as S -> 0).
        const double c = dyn.kernel == kernel_kind::lsr ? 4.0 : 2.0;
        dyn.beta = r2 > 0.0 ? 2.0 / (c * c * r2) : 1.0;
    }
    res.beta = dyn.beta;
    // Adam state.
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    std::vector<double> m1(protos.size(), 0.0), m2(protos.size(), 0.0), grad(protos.size());
    std::vector<double> best = protos;
    double best_loss = std::numeric_limits<double>::infinity();
    std::int64_t stale = 0, adam_t = 0;
    double lr = o.learning_rate;
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    const std::uint64_t mask_key = detail::splitmix64(o.seed ^ detail::salt_mask);
    // The monitoring sample (at most 4,096 points, drawn once) and its fixed masks.
    std::vector<std::int64_t> monitor;
    {
        std::mt19937_64 mrng(detail::splitmix64(o.seed ^ 0x6d6f6e69746f72ULL));
        monitor = detail::draw_indices(n, std::min<std::int64_t>(n, 4096), false, mrng);
        std::sort(monitor.begin(), monitor.end());
    }
    const std::uint64_t monitor_key = detail::splitmix64(mask_key ^ 0x66697865646d61ULL);
    auto monitor_mask = [&](std::int64_t row, std::int64_t j) {
        const auto idx = static_cast<std::uint64_t>(row) * static_cast<std::uint64_t>(d) +
                         static_cast<std::uint64_t>(j);
        return detail::counter_uniform(monitor_key, idx) < o.mask_prob ? 1.0 : 0.0;
    };
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
                protos[e] -= lr * (m1[e] / c1) / (std::sqrt(m2[e] / c2) + eps);
            }
        }
        epoch_loss /= static_cast<double>(n) * static_cast<double>(d);
        res.train_loss_history.push_back(epoch_loss);
        // The epoch is judged on fixed masks of a fixed sample: the training loss moves more with
        // each epoch's new masks than with the prototypes once they settle.
        const double scale_m = 1.0 / (static_cast<double>(monitor.size()) * static_cast<double>(d));
        const double monitored = scale_m * detail::batch_loss(x,
                                                              monitor,
                                                              monitor_mask,
                                                              res.fill.data(),
                                                              protos.data(),
                                                              k,
                                                              dyn,
                                                              scale_m,
                                                              nullptr,
                                                              exec);
        res.loss_history.push_back(monitored);
        res.n_epochs = epoch + 1;
        if (o.progress) o.progress(epoch + 1, monitored);
        if (monitored < best_loss * (1.0 - o.tol) || !std::isfinite(best_loss)) {
            best_loss = monitored;
            best = protos;
            stale = 0;
        } else {
            if (monitored < best_loss) {  // better, but by less than tol: keep it, count it
                best_loss = monitored;
                best = protos;
            }
            lr *= o.lr_decay;  // the authors' plateau schedule
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
