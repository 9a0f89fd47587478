// SPDX-License-Identifier: MIT
// Retrieval on the CPU: exact LSR support-set iteration (paper Algorithm 1 with the strict
// boundary rule), mean-shift for the other distance kernels, and gradient descent.
#include "cpu/retrieval_cpu.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

#include "cpu/parallel.hpp"
#include "cpu/tile_engine.hpp"
#include "kernels/policies.hpp"

namespace denseam::detail {

namespace {

constexpr std::int64_t query_block = 64;  // queries per parallel work item

template <class T>
retrieve_result<T> make_result(std::int64_t n, std::int64_t dim) {
    retrieve_result<T> r;
    r.states.resize(static_cast<std::size_t>(n * dim));
    r.energy.resize(static_cast<std::size_t>(n));
    r.status.assign(static_cast<std::size_t>(n), retrieval_status::max_steps);
    r.steps.assign(static_cast<std::size_t>(n), 0);
    return r;
}

template <class T>
double sq_dist(const double* x, const T* xi, std::int64_t dim) {
    double s = 0.0;
    for (std::int64_t k = 0; k < dim; ++k) {
        const double d = x[k] - static_cast<double>(xi[k]);
        s += d * d;
    }
    return s;
}

std::uint64_t splitmix(std::uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

}  // namespace

double counter_normal(std::uint64_t seed, std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    const std::uint64_t h1 = splitmix(splitmix(splitmix(seed ^ 0x5eedULL) ^ a) ^ b);
    const std::uint64_t u1bits = splitmix(h1 ^ (2 * c));
    const std::uint64_t u2bits = splitmix(h1 ^ (2 * c + 1));
    const double u1 = (static_cast<double>(u1bits >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
    const double u2 = static_cast<double>(u2bits >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

template <class T>
retrieve_result<T> lsr_fixed_point(matrix_view<const T> mem,
                                   matrix_view<const T> qry,
                                   const energy_params& prm,
                                   const retrieve_options& opt,
                                   const exec_options& exec) {
    const std::int64_t n = qry.rows, dim = qry.cols, n_mem = mem.rows;
    auto res = make_result<T>(n, dim);
    std::vector<std::vector<std::int64_t>> supports(static_cast<std::size_t>(n));
    const double half_beta = 0.5 * prm.beta;
    const std::int64_t n_blocks = (n + query_block - 1) / query_block;
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        std::vector<double> x(static_cast<std::size_t>(dim)),
            centroid(static_cast<std::size_t>(dim));
        std::vector<std::int64_t> set, prev;
        for (std::int64_t i = blk * query_block; i < std::min(n, (blk + 1) * query_block); ++i) {
            const auto si = static_cast<std::size_t>(i);
            for (std::int64_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(k)] = qry(i, k);
            retrieval_status status = retrieval_status::max_steps;
            std::int64_t iter = 0;
            double z = 0.0;
            prev.clear();
            bool have_prev = false;
            while (iter < opt.max_steps) {
                // Strict active set of x: (beta/2) ||x - xi||^2 < 1, the engine's rule.
                set.clear();
                z = prm.eps;
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    const double q = half_beta * sq_dist(x.data(), mem.row(m), dim);
                    if (q < 1.0) {
                        set.push_back(m);
                        z += 1.0 - q;
                    }
                }
                ++iter;
                if (set.empty()) {
                    status = retrieval_status::out_of_support;
                    break;
                }
                if (have_prev && set == prev) {
                    status = retrieval_status::converged;
                    break;
                }
                std::fill(centroid.begin(), centroid.end(), 0.0);
                for (std::int64_t m : set)
                    for (std::int64_t k = 0; k < dim; ++k)
                        centroid[static_cast<std::size_t>(k)] += static_cast<double>(mem(m, k));
                for (auto& c : centroid) c /= static_cast<double>(set.size());
                x = centroid;
                std::swap(prev, set);
                have_prev = true;
            }
            if (status == retrieval_status::max_steps && have_prev) {
                // The last update moved x; report the energy and support of where it is now.
                set.clear();
                z = prm.eps;
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    const double q = half_beta * sq_dist(x.data(), mem.row(m), dim);
                    if (q < 1.0) {
                        set.push_back(m);
                        z += 1.0 - q;
                    }
                }
            }
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>(i * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)]);
            res.energy[si] = static_cast<T>(z > 0.0 ? -std::log(z) / prm.beta
                                                    : std::numeric_limits<double>::infinity());
            res.status[si] = status;
            res.steps[si] = iter;
            supports[si] = set;
        }
    });
    res.support.offsets.assign(1, 0);
    for (const auto& s : supports) {
        res.support.indices.insert(res.support.indices.end(), s.begin(), s.end());
        res.support.offsets.push_back(static_cast<std::int64_t>(res.support.indices.size()));
    }
    return res;
}

template <class T>
retrieve_result<T> mean_shift(matrix_view<const T> mem,
                              matrix_view<const T> qry,
                              const energy_params& prm,
                              const retrieve_options& opt,
                              const exec_options& exec) {
    const std::int64_t n = qry.rows, dim = qry.cols, n_mem = mem.rows;
    auto res = make_result<T>(n, dim);
    const double half_beta = 0.5 * prm.beta;
    const bool is_exp = prm.kernel == kernel_kind::lse;
    const std::int64_t n_blocks = (n + query_block - 1) / query_block;
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        std::vector<double> x(static_cast<std::size_t>(dim)), next(static_cast<std::size_t>(dim));
        std::vector<double> q(static_cast<std::size_t>(n_mem));
        for (std::int64_t i = blk * query_block; i < std::min(n, (blk + 1) * query_block); ++i) {
            for (std::int64_t k = 0; k < dim; ++k) x[static_cast<std::size_t>(k)] = qry(i, k);
            retrieval_status status = retrieval_status::max_steps;
            std::int64_t iter = 0;
            while (iter < opt.max_steps) {
                double qmin = std::numeric_limits<double>::infinity();
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    q[static_cast<std::size_t>(m)] = half_beta * sq_dist(x.data(), mem.row(m), dim);
                    qmin = std::min(qmin, q[static_cast<std::size_t>(m)]);
                }
                double sw = 0.0;
                std::fill(next.begin(), next.end(), 0.0);
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    const double qm = q[static_cast<std::size_t>(m)];
                    const double w = is_exp ? std::exp(-(qm - qmin)) : kernel_weight(prm, qm);
                    if (w == 0.0) continue;
                    sw += w;
                    for (std::int64_t k = 0; k < dim; ++k)
                        next[static_cast<std::size_t>(k)] += w * static_cast<double>(mem(m, k));
                }
                if (sw == 0.0) {
                    status = retrieval_status::out_of_support;
                    break;
                }
                ++iter;
                double change = 0.0;
                for (std::int64_t k = 0; k < dim; ++k) {
                    const double v = next[static_cast<std::size_t>(k)] / sw;
                    change = std::max(change, std::abs(v - x[static_cast<std::size_t>(k)]));
                    x[static_cast<std::size_t>(k)] = v;
                }
                if (!std::isfinite(change)) {
                    status = retrieval_status::non_finite;
                    break;
                }
                if (change < opt.tol) {
                    status = retrieval_status::converged;
                    break;
                }
            }
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>(i * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)]);
            res.status[static_cast<std::size_t>(i)] = status;
            res.steps[static_cast<std::size_t>(i)] = iter;
        }
    });
    std::vector<T> e(static_cast<std::size_t>(n));
    energy_and_grad(mem,
                    matrix_view<const T>(res.states.data(), n, dim),
                    prm,
                    std::span<T>(e),
                    matrix_view<T>{},
                    {},
                    exec);
    res.energy = std::move(e);
    return res;
}

// Gradient descent for small memory sets (M * dim <= small_descent_limit): no engine call (and
// no GEMM) per step. Queries descend in blocks of `lanes`, in double, vectorised across the
// block (memory sets of a few dozen patterns are too small to vectorise over); a query that
// stops is frozen while the others go on. Same update, stopping rule and statuses as the tiled
// path; the kernel math comes from the same policies and assemble_scale.
constexpr std::int64_t small_descent_limit = 1 << 14;
constexpr int lanes = 8;

template <class P, class T>
void small_descent(matrix_view<const T> mem,
                   const energy_params& prm,
                   const retrieve_options& opt,
                   const std::vector<char>& clamped,
                   retrieve_result<T>& res,
                   const exec_options& exec) {
    const std::int64_t n_mem = mem.rows, dim = mem.cols;
    const auto n = static_cast<std::int64_t>(res.steps.size());
    std::vector<double> memd(static_cast<std::size_t>(n_mem * dim));
    for (std::int64_t m = 0; m < n_mem; ++m)
        for (std::int64_t k = 0; k < dim; ++k)
            memd[static_cast<std::size_t>(m * dim + k)] = static_cast<double>(mem(m, k));
    const bool use_beta_schedule =
        !(opt.beta.type == schedule::kind::constant && !(opt.beta.start > 0.0));
    const bool log_q = resolved_q(prm) == q_kind::log;
    std::vector<double> alpha(static_cast<std::size_t>(opt.max_steps)),
        betas(static_cast<std::size_t>(opt.max_steps)),
        sigma(static_cast<std::size_t>(opt.max_steps));
    for (std::int64_t t = 0; t < opt.max_steps; ++t) {
        const auto st = static_cast<std::size_t>(t);
        alpha[st] = opt.step_size.at(t, opt.max_steps);
        betas[st] = use_beta_schedule ? opt.beta.at(t, opt.max_steps) : prm.beta;
        sigma[st] = opt.noise.at(t, opt.max_steps);
    }
    const std::int64_t n_blocks = (n + lanes - 1) / lanes;
    parallel_for(n_blocks, exec, [&](std::int64_t blk) {
        using lane_t = std::array<double, lanes>;
        const std::int64_t i0 = blk * lanes;
        const int nl = static_cast<int>(std::min<std::int64_t>(lanes, n - i0));
        std::vector<lane_t> x(static_cast<std::size_t>(dim)), g(static_cast<std::size_t>(dim)),
            q(static_cast<std::size_t>(n_mem)), w(static_cast<std::size_t>(n_mem));
        lane_t active{}, shift{}, z{}, sw{}, scale{}, gmax{};
        std::array<retrieval_status, lanes> status;
        std::array<std::int64_t, lanes> steps{};
        status.fill(retrieval_status::max_steps);
        for (int l = 0; l < lanes; ++l) {
            active[static_cast<std::size_t>(l)] = l < nl ? 1.0 : 0.0;
            for (std::int64_t k = 0; k < dim; ++k)
                x[static_cast<std::size_t>(k)][static_cast<std::size_t>(l)] =
                    l < nl ? static_cast<double>(
                                 res.states[static_cast<std::size_t>((i0 + l) * dim + k)])
                           : 0.0;
        }
        int n_active = nl;
        for (std::int64_t t = 0; t < opt.max_steps && n_active > 0; ++t) {
            const auto st = static_cast<std::size_t>(t);
            const double beta = betas[st];
            for (std::int64_t m = 0; m < n_mem; ++m) {
                const double* xi = memd.data() + m * dim;
                lane_t acc{};
                for (std::int64_t k = 0; k < dim; ++k) {
                    const lane_t& xk = x[static_cast<std::size_t>(k)];
                    const double c = xi[k];
#pragma omp simd
                    for (int l = 0; l < lanes; ++l) {
                        if constexpr (P::distance) {
                            const double diff = xk[l] - c;
                            acc[l] += diff * diff;
                        } else {
                            acc[l] += xk[l] * c;
                        }
                    }
                }
                q[static_cast<std::size_t>(m)] = acc;
            }
            for (int l = 0; l < lanes; ++l) {
                shift[l] = P::exp_type ? INFINITY : 0.0;
                z[l] = 0.0;
                sw[l] = 0.0;
            }
            const double hb = 0.5 * beta;
            if constexpr (P::exp_type) {
                for (std::int64_t m = 0; m < n_mem; ++m)
#pragma omp simd
                    for (int l = 0; l < lanes; ++l)
                        shift[l] = std::min(shift[l], hb * q[static_cast<std::size_t>(m)][l]);
            }
            for (std::int64_t m = 0; m < n_mem; ++m) {
                lane_t& qm = q[static_cast<std::size_t>(m)];
                lane_t& wm = w[static_cast<std::size_t>(m)];
#pragma omp simd
                for (int l = 0; l < lanes; ++l) {
                    double v, ww;
                    if constexpr (P::distance) {
                        const double a = hb * qm[l] - shift[l];
                        v = P::value(a);
                        ww = P::weight(a);
                    } else {
                        v = P::value(beta * qm[l], prm.degree);
                        ww = P::weight(beta * qm[l], prm.degree);
                    }
                    z[l] += v;
                    sw[l] += ww;
                    wm[l] = ww;
                }
            }
            for (int l = 0; l < lanes; ++l)
                scale[l] = assemble_scale(shift[l], z[l], beta, prm.eps, log_q);
            for (std::int64_t k = 0; k < dim; ++k) {
                lane_t acc{};
                for (std::int64_t m = 0; m < n_mem; ++m) {
                    const lane_t& wm = w[static_cast<std::size_t>(m)];
                    const double c = memd[static_cast<std::size_t>(m * dim + k)];
#pragma omp simd
                    for (int l = 0; l < lanes; ++l) acc[l] += wm[l] * c;
                }
                g[static_cast<std::size_t>(k)] = acc;
            }
            gmax.fill(0.0);
            for (std::int64_t k = 0; k < dim; ++k) {
                lane_t& gk = g[static_cast<std::size_t>(k)];
                const lane_t& xk = x[static_cast<std::size_t>(k)];
                const double keep = clamped[static_cast<std::size_t>(k)] ? 0.0 : 1.0;
#pragma omp simd
                for (int l = 0; l < lanes; ++l) {
                    const double self = P::distance ? sw[l] * xk[l] : 0.0;
                    gk[l] = keep * scale[l] * (self - gk[l]);
                    // NaN must win (std::max would drop it and report convergence).
                    const double ag = std::abs(gk[l]);
                    gmax[l] = (ag > gmax[l] || ag != ag) ? ag : gmax[l];
                }
            }
            for (int l = 0; l < nl; ++l) {
                if (active[static_cast<std::size_t>(l)] == 0.0) continue;
                retrieval_status stop = retrieval_status::max_steps;
                bool stopped = true;
                if (P::compact && z[l] == 0.0)
                    stop = retrieval_status::out_of_support;
                else if (!std::isfinite(gmax[l]))
                    stop = retrieval_status::non_finite;
                else if (opt.tol > 0.0 && gmax[l] < opt.tol)
                    stop = retrieval_status::converged;
                else
                    stopped = false;
                if (stopped) {
                    status[static_cast<std::size_t>(l)] = stop;
                    steps[static_cast<std::size_t>(l)] = t;
                    active[static_cast<std::size_t>(l)] = 0.0;
                    --n_active;
                    continue;
                }
                bool finite = true;
                for (std::int64_t k = 0; k < dim; ++k) {
                    if (clamped[static_cast<std::size_t>(k)]) continue;
                    double step = g[static_cast<std::size_t>(k)][l];
                    if (sigma[st] != 0.0)
                        step += sigma[st] * counter_normal(opt.seed,
                                                           static_cast<std::uint64_t>(i0 + l),
                                                           static_cast<std::uint64_t>(t),
                                                           static_cast<std::uint64_t>(k));
                    // The state lives in T between steps, as on the tiled path.
                    double& xv = x[static_cast<std::size_t>(k)][l];
                    const T v = static_cast<T>(static_cast<T>(xv) - alpha[st] * step);
                    xv = static_cast<double>(v);
                    finite = finite && std::isfinite(xv);
                }
                steps[static_cast<std::size_t>(l)] = t + 1;
                if (!finite) {
                    status[static_cast<std::size_t>(l)] = retrieval_status::non_finite;
                    active[static_cast<std::size_t>(l)] = 0.0;
                    --n_active;
                }
            }
        }
        for (int l = 0; l < nl; ++l) {
            const auto si = static_cast<std::size_t>(i0 + l);
            for (std::int64_t k = 0; k < dim; ++k)
                res.states[static_cast<std::size_t>((i0 + l) * dim + k)] =
                    static_cast<T>(x[static_cast<std::size_t>(k)][static_cast<std::size_t>(l)]);
            res.status[si] = status[static_cast<std::size_t>(l)];
            res.steps[si] = steps[static_cast<std::size_t>(l)];
        }
    });
}

template <class T>
retrieve_result<T> gradient_descent(matrix_view<const T> mem,
                                    matrix_view<const T> qry,
                                    const energy_params& prm,
                                    const retrieve_options& opt,
                                    const exec_options& exec) {
    const std::int64_t n = qry.rows, dim = qry.cols;
    auto res = make_result<T>(n, dim);
    for (std::int64_t i = 0; i < n; ++i)
        std::copy(qry.row(i), qry.row(i) + dim, res.states.begin() + i * dim);
    std::vector<char> clamped(static_cast<std::size_t>(dim), 0);
    for (auto c : opt.clamp) clamped[static_cast<std::size_t>(c)] = 1;
    const bool use_beta_schedule =
        !(opt.beta.type == schedule::kind::constant && !(opt.beta.start > 0.0));

    std::vector<std::int64_t> active(static_cast<std::size_t>(n));
    if (mem.rows * dim <= small_descent_limit) {
        with_kernel(prm.kernel, [&](auto policy) {
            small_descent<decltype(policy), T>(mem, prm, opt, clamped, res, exec);
        });
        active.clear();  // every query is finished
    }
    for (std::int64_t i = 0; i < n; ++i) active[static_cast<std::size_t>(i)] = i;
    std::vector<T> xs, grad, e;
    std::vector<energy_status> st;
    for (std::int64_t t = 0; t < opt.max_steps && !active.empty(); ++t) {
        const auto na = static_cast<std::int64_t>(active.size());
        xs.resize(static_cast<std::size_t>(na * dim));
        grad.resize(xs.size());
        e.resize(static_cast<std::size_t>(na));
        st.resize(static_cast<std::size_t>(na));
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            std::copy(res.states.begin() + i * dim,
                      res.states.begin() + (i + 1) * dim,
                      xs.begin() + a * dim);
        }
        energy_params p = prm;
        if (use_beta_schedule) p.beta = opt.beta.at(t, opt.max_steps);
        const double alpha = opt.step_size.at(t, opt.max_steps);
        const double sigma = opt.noise.at(t, opt.max_steps);
        energy_unchecked(mem,
                         matrix_view<const T>(xs.data(), na, dim),
                         p,
                         std::span<T>(e),
                         matrix_view<T>(grad.data(), na, dim),
                         std::span(st),
                         exec);
        std::vector<std::int64_t> still;
        still.reserve(active.size());
        for (std::int64_t a = 0; a < na; ++a) {
            const auto i = active[static_cast<std::size_t>(a)];
            const auto si = static_cast<std::size_t>(i);
            T* g = grad.data() + a * dim;
            double gmax = 0.0;
            for (std::int64_t k = 0; k < dim; ++k) {
                if (clamped[static_cast<std::size_t>(k)]) g[k] = T(0);
                const double ag = std::abs(static_cast<double>(g[k]));
                gmax = (ag > gmax || ag != ag) ? ag : gmax;  // NaN must win
            }
            res.steps[si] = t;
            if (has_compact_support(prm.kernel) &&
                st[static_cast<std::size_t>(a)] == energy_status::unsupported) {
                res.status[si] = retrieval_status::out_of_support;
                continue;
            }
            if (!std::isfinite(gmax) ||
                !std::isfinite(static_cast<double>(e[static_cast<std::size_t>(a)]))) {
                res.status[si] = retrieval_status::non_finite;
                continue;
            }
            if (opt.tol > 0.0 && gmax < opt.tol) {
                res.status[si] = retrieval_status::converged;
                continue;
            }
            T* x = res.states.data() + i * dim;
            bool finite = true;
            for (std::int64_t k = 0; k < dim; ++k) {
                if (clamped[static_cast<std::size_t>(k)]) continue;
                double step = g[k];
                if (sigma != 0.0)
                    step += sigma * counter_normal(opt.seed,
                                                   static_cast<std::uint64_t>(i),
                                                   static_cast<std::uint64_t>(t),
                                                   static_cast<std::uint64_t>(k));
                x[k] = static_cast<T>(x[k] - alpha * step);
                finite = finite && std::isfinite(static_cast<double>(x[k]));
            }
            res.steps[si] = t + 1;
            if (!finite) {
                res.status[si] = retrieval_status::non_finite;
                continue;
            }
            still.push_back(i);
        }
        active.swap(still);
    }
    // Queries still active ran out of steps (status already max_steps).
    std::vector<T> ef(static_cast<std::size_t>(n));
    std::vector<energy_status> stf(static_cast<std::size_t>(n));
    bool all_finite = true;
    for (auto v : res.states) all_finite = all_finite && std::isfinite(static_cast<double>(v));
    if (all_finite) {
        energy_and_grad(mem,
                        matrix_view<const T>(res.states.data(), n, dim),
                        prm,
                        std::span<T>(ef),
                        matrix_view<T>{},
                        std::span(stf),
                        exec);
    } else {
        for (std::int64_t i = 0; i < n; ++i) {
            bool ok = true;
            for (std::int64_t k = 0; k < dim; ++k)
                ok = ok && std::isfinite(static_cast<double>(
                               res.states[static_cast<std::size_t>(i * dim + k)]));
            if (!ok) {
                ef[static_cast<std::size_t>(i)] = std::numeric_limits<T>::quiet_NaN();
                continue;
            }
            T v;
            energy_and_grad(mem,
                            matrix_view<const T>(res.states.data() + i * dim, 1, dim),
                            prm,
                            std::span<T>(&v, 1),
                            matrix_view<T>{},
                            {},
                            exec);
            ef[static_cast<std::size_t>(i)] = v;
        }
    }
    res.energy = std::move(ef);
    return res;
}

#define DENSEAM_INSTANTIATE(T)                                            \
    template retrieve_result<T> lsr_fixed_point(matrix_view<const T>,     \
                                                matrix_view<const T>,     \
                                                const energy_params&,     \
                                                const retrieve_options&,  \
                                                const exec_options&);     \
    template retrieve_result<T> mean_shift(matrix_view<const T>,          \
                                           matrix_view<const T>,          \
                                           const energy_params&,          \
                                           const retrieve_options&,       \
                                           const exec_options&);          \
    template retrieve_result<T> gradient_descent(matrix_view<const T>,    \
                                                 matrix_view<const T>,    \
                                                 const energy_params&,    \
                                                 const retrieve_options&, \
                                                 const exec_options&);
DENSEAM_INSTANTIATE(float)
DENSEAM_INSTANTIATE(double)
#undef DENSEAM_INSTANTIATE

}  // namespace denseam::detail
