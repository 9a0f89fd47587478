// SPDX-License-Identifier: MIT
// The distributed memory (include/denseam/features.hpp): T = sum phi(xi), energies and gradients
// of E~(x) = -(1/beta) log <phi(x), T> by blocks of regenerated projections.
//
// Per batch of queries, the projections are split into blocks of block_rows() rows and the blocks
// into a fixed number of chunks (a function of the shapes only). A chunk is one parallel item: for
// each of its blocks, U = sqrt(beta) X S_b^T (GEMM), a vectorised epilogue turns U into the
// block's share of <phi(x), T> and the coefficients G of the gradient, and G S_b (GEMM) adds to the
// chunk's gradient. The chunks' partial sums are merged in chunk order: the same bits at every
// thread count. Positive maps keep a running maximum per query (log domain), so that neither
// exp(-beta ||x||^2) nor the largest feature can underflow or overflow.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/features.hpp"
#include "engine/fastmath.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"
#include "engine/resources.hpp"
#include "engine/validate.hpp"
#include "features/projections.hpp"
#include "io/format.hpp"
#include "kernels/policies.hpp"
#include "retrieval/descent_loop.hpp"
#include "retrieval/methods.hpp"

namespace denseam {

std::string_view to_string(feature_kind k) noexcept {
    switch (k) {
        case feature_kind::fourier:
            return "fourier";
        case feature_kind::fourier_phase:
            return "fourier-phase";
        case feature_kind::positive:
            return "positive";
    }
    return "unknown";
}

feature_kind parse_feature_kind(std::string_view name) {
    if (name == "fourier" || name == "sincos") return feature_kind::fourier;
    if (name == "fourier-phase" || name == "fourier_phase" || name == "cos")
        return feature_kind::fourier_phase;
    if (name == "positive" || name == "exp") return feature_kind::positive;
    throw invalid_argument("unknown feature map " + detail::in_quotes(name) +
                           " (choose fourier, fourier-phase or positive)");
}

std::int64_t n_projections(const feature_params& params) noexcept {
    return params.kind == feature_kind::fourier ? params.n_features / 2 : params.n_features;
}

void validate(const feature_params& params, std::int64_t dim) {
    if (dim < 1) throw invalid_argument("dim must be >= 1 (got " + std::to_string(dim) + ")");
    if (params.kind != feature_kind::fourier && params.kind != feature_kind::fourier_phase &&
        params.kind != feature_kind::positive)
        throw invalid_argument("unknown feature map kind");
    constexpr std::int64_t y_max = std::int64_t(1) << 32;
    if (params.n_features < 1 || params.n_features > y_max)
        throw invalid_argument("the number of features Y must be in [1, 2^32] (got " +
                               std::to_string(params.n_features) + ")");
    if (params.kind == feature_kind::fourier && params.n_features % 2 != 0)
        throw invalid_argument("fourier features come in (cos, sin) pairs: Y must be even (got " +
                               std::to_string(params.n_features) + ")");
    if (!std::isfinite(params.beta) || !(params.beta > 0.0))
        throw invalid_argument("beta must be finite and > 0 (got " + detail::shortest(params.beta) +
                               ")");
    if (params.beta > 1e30)
        throw invalid_argument("beta = " + detail::shortest(params.beta) +
                               " is too large for random features (at most 1e30)");
}

memory_footprint footprint(std::int64_t n_patterns, std::int64_t dim, const feature_params& p) {
    validate(p, dim);
    if (n_patterns < 0)
        throw invalid_argument("n_patterns must be >= 0 (got " + std::to_string(n_patterns) + ")");
    memory_footprint f;
    f.explicit_bytes = 4 * n_patterns * dim;
    f.distributed_bytes = 8 * p.n_features;
    f.reference_bytes = 4 * n_projections(p) * dim + 4 * p.n_features;
    // 4 M dim > 8 Y  <=>  M > 2 Y / dim.
    f.break_even_patterns = 2 * p.n_features / dim + 1;
    return f;
}

namespace detail {
namespace {

constexpr double inv_two_pi = 0.15915494309189533576888376337251;

// Queries per batch of an evaluation, and the budget of the chunks' partial gradients.
constexpr std::int64_t query_batch = 1024;
constexpr double chunk_budget_bytes = 256.0 * 1024 * 1024;
constexpr std::int64_t max_chunks = 16;
// Multiply-adds per thread below which more threads cost more (waking a team) than they save;
// the team size never changes a result (the split is the shapes').
constexpr double work_per_thread = 4.0e6;

parallel_options team_for(double multiply_adds) {
    parallel_options o;
    o.max_threads =
        std::max<std::int64_t>(1, static_cast<std::int64_t>(multiply_adds / work_per_thread));
    return o;
}

// The projections of block b as T (rows x dim): from the cache, or regenerated into scratch.
template <class T>
struct block_reader {
    const feature_params& params;
    std::int64_t dim;
    const distributed_memory::projection_cache* cache;
    std::int64_t per_block, n_proj;

    std::int64_t n_blocks() const { return (n_proj + per_block - 1) / per_block; }
    std::int64_t first(std::int64_t b) const { return b * per_block; }
    std::int64_t rows(std::int64_t b) const { return std::min(per_block, n_proj - first(b)); }

    const T* read(std::int64_t b, std::vector<float>& f32, std::vector<T>& out) const {
        const std::int64_t r = rows(b);
        const float* src;
        if (cache) {
            src = cache->rows.data() + first(b) * dim;
        } else {
            f32.resize(static_cast<std::size_t>(per_block * dim));
            generate_projections(params, dim, first(b), r, f32.data());
            src = f32.data();
        }
        if constexpr (std::is_same_v<T, float>) {
            return src;
        } else {
            out.resize(static_cast<std::size_t>(r * dim));
            std::copy(src, src + r * dim, out.begin());
            return out.data();
        }
    }
};

// The feature values of rows U (n x nb, u = omega.x) of block b, written or accumulated by
// `sink(q, j_local, value_pair)`; fourier gives (cos, sin) pairs, the others one value (second
// ignored). sq_norms: beta ||x||^2 per row (positive maps).
template <class Sink>
void feature_values(const feature_params& p,
                    const std::vector<double>& phases,
                    std::int64_t first,
                    const double* u,
                    std::int64_t n,
                    std::int64_t nb,
                    const double* beta_sq_norms,
                    Sink&& sink) {
    const double y = static_cast<double>(p.n_features);
    const double c = std::sqrt(2.0 / y), inv_sqrt_y = 1.0 / std::sqrt(y);
    for (std::int64_t q = 0; q < n; ++q) {
        const double* uq = u + q * nb;
        switch (p.kind) {
            case feature_kind::fourier:
                for (std::int64_t j = 0; j < nb; ++j) {
                    double s, co;
                    sincos_turns(uq[j] * inv_two_pi, s, co);
                    sink(q, j, c * co, c * s);
                }
                break;
            case feature_kind::fourier_phase:
                for (std::int64_t j = 0; j < nb; ++j) {
                    double s, co;
                    sincos_turns(
                        uq[j] * inv_two_pi + phases[static_cast<std::size_t>(first + j)], s, co);
                    sink(q, j, c * co, 0.0);
                }
                break;
            case feature_kind::positive:
                for (std::int64_t j = 0; j < nb; ++j)
                    sink(q, j, inv_sqrt_y * std::exp(uq[j] - beta_sq_norms[q]), 0.0);
                break;
        }
    }
}

// Calls block_fn(b, first, nb, U) for every block of the map with U = sqrt(beta) X S_b^T
// (X: n x dim double), blocks in parallel (one item per block, U in the item's scratch).
template <class BlockFn>
void for_each_feature_block(const feature_params& p,
                            std::int64_t dim,
                            const distributed_memory::projection_cache* cache,
                            matrix_view<const double> x,
                            const exec_options& exec,
                            BlockFn&& block_fn) {
    const std::int64_t n = x.rows;
    std::vector<double> xs(static_cast<std::size_t>(n * dim));
    const double sb = std::sqrt(p.beta);
    for (std::int64_t q = 0; q < n; ++q)
        for (std::int64_t k = 0; k < dim; ++k)
            xs[static_cast<std::size_t>(q * dim + k)] = sb * x(q, k);
    const block_reader<double> reader{p, dim, cache, block_rows(p, dim), n_projections(p)};
    struct scratch {
        std::vector<float> f32;
        std::vector<double> s, u;
    };
    parallel_for(
        reader.n_blocks(),
        exec,
        team_for(static_cast<double>(n) * static_cast<double>(reader.n_proj) *
                 static_cast<double>(dim)),
        [] { return scratch{}; },
        [&](scratch& w, std::int64_t b) {
            const std::int64_t nb = reader.rows(b);
            const double* s = reader.read(b, w.f32, w.s);
            w.u.resize(static_cast<std::size_t>(n * nb));
            if (n > 0)
                gemm<double>(gemm_op::transposed,
                             n,
                             nb,
                             dim,
                             1.0,
                             xs.data(),
                             dim,
                             s,
                             dim,
                             0.0,
                             w.u.data(),
                             nb);
            block_fn(b, reader.first(b), nb, static_cast<const double*>(w.u.data()));
        });
}

template <class T>
std::vector<double> as_double(matrix_view<const T> x) {
    std::vector<double> out(static_cast<std::size_t>(x.rows * x.cols));
    for (std::int64_t i = 0; i < x.rows; ++i)
        for (std::int64_t k = 0; k < x.cols; ++k)
            out[static_cast<std::size_t>(i * x.cols + k)] = static_cast<double>(x(i, k));
    return out;
}

template <class T>
void check_rows(matrix_view<const T> x, std::int64_t dim, const char* what) {
    if (x.cols != dim)
        throw invalid_argument(std::string(what) + " have " + std::to_string(x.cols) +
                               " columns; the memory's dimension is " + std::to_string(dim));
    if (x.rows < 0 || (x.rows > 0 && x.data == nullptr))
        throw invalid_argument(std::string(what) + ": invalid array");
    check_finite(x, what);
}

}  // namespace

// ---- the evaluation ------------------------------------------------------------------------

template <class T>
void evaluate_features(const distributed_memory& mem,
                       const distributed_memory::projection_cache* cache,
                       matrix_view<const T> queries,
                       std::span<T> energy,
                       matrix_view<T> grad,
                       std::span<energy_status> status,
                       const exec_options& exec) {
    const auto& p = mem.params();
    const std::int64_t dim = mem.dim(), n = queries.rows;
    const bool want_grad = !grad.empty();
    const std::int64_t n_proj = n_projections(p);
    const double beta = p.beta, sqrt_beta = std::sqrt(beta);
    const double y = static_cast<double>(p.n_features);
    const auto feats = mem.features();
    // T's side in T's arithmetic: (cos, sin) coefficients, phases in turns, or log T.
    std::vector<T> ta(static_cast<std::size_t>(n_proj)), tb;
    if (p.kind == feature_kind::fourier) {
        tb.resize(ta.size());
        for (std::int64_t j = 0; j < n_proj; ++j) {
            ta[static_cast<std::size_t>(j)] =
                static_cast<T>(feats[static_cast<std::size_t>(2 * j)]);
            tb[static_cast<std::size_t>(j)] =
                static_cast<T>(feats[static_cast<std::size_t>(2 * j + 1)]);
        }
    } else if (p.kind == feature_kind::fourier_phase) {
        const auto ph = phase_turns(p);
        tb.resize(ta.size());
        for (std::int64_t j = 0; j < n_proj; ++j) {
            ta[static_cast<std::size_t>(j)] = static_cast<T>(feats[static_cast<std::size_t>(j)]);
            tb[static_cast<std::size_t>(j)] = static_cast<T>(ph[static_cast<std::size_t>(j)]);
        }
    } else {
        for (std::int64_t j = 0; j < n_proj; ++j) {
            const double t = feats[static_cast<std::size_t>(j)];
            ta[static_cast<std::size_t>(j)] =
                t > 0.0 ? static_cast<T>(std::log(t)) : -std::numeric_limits<T>::infinity();
        }
    }
    const block_reader<T> reader{p, dim, cache, block_rows(p, dim), n_proj};
    const std::int64_t n_blocks = reader.n_blocks();
    // The chunks depend on (Y, dim, T) only, not on the number of queries nor on whether the
    // gradient is wanted (so energies are the same bits with and without it; the BLAS kernels,
    // chosen by shape, may still change a query's last bits with the size of its batch).
    const double chunk_bytes = static_cast<double>(query_batch * dim) * sizeof(T);
    const std::int64_t n_chunks = std::max<std::int64_t>(
        1,
        std::min<std::int64_t>(
            {n_blocks, max_chunks, static_cast<std::int64_t>(chunk_budget_bytes / chunk_bytes)}));
    const bool positive = p.kind == feature_kind::positive;

    struct chunk_sums {
        std::vector<double> s, m;  // per query: sum (shifted by m for positive), running max
        std::vector<T> g;          // bq x dim gradient coefficients
    };
    std::vector<chunk_sums> parts(static_cast<std::size_t>(n_chunks));
    std::vector<T> xs;
    std::vector<double> sqn;
    for (std::int64_t q0 = 0; q0 < n; q0 += query_batch) {
        const std::int64_t bq = std::min(query_batch, n - q0);
        xs.resize(static_cast<std::size_t>(bq * dim));
        sqn.assign(static_cast<std::size_t>(bq), 0.0);
        for (std::int64_t q = 0; q < bq; ++q)
            for (std::int64_t k = 0; k < dim; ++k) {
                const double v = static_cast<double>(queries(q0 + q, k));
                xs[static_cast<std::size_t>(q * dim + k)] = static_cast<T>(sqrt_beta * v);
                sqn[static_cast<std::size_t>(q)] += v * v;
            }
        for (auto& c : parts) {
            c.s.assign(static_cast<std::size_t>(bq), 0.0);
            c.m.assign(static_cast<std::size_t>(bq),
                       positive ? -std::numeric_limits<double>::infinity() : 0.0);
            if (want_grad) c.g.assign(static_cast<std::size_t>(bq * dim), T(0));
        }
        struct scratch {
            std::vector<float> f32;
            std::vector<T> s, u;
        };
        parallel_for(
            n_chunks,
            exec,
            team_for(static_cast<double>(bq) * static_cast<double>(n_proj) *
                     static_cast<double>(dim) * (want_grad ? 2.0 : 1.0)),
            [] { return scratch{}; },
            [&](scratch& w, std::int64_t c, loop_control& ctl) {
                auto& part = parts[static_cast<std::size_t>(c)];
                const std::int64_t b0 = c * n_blocks / n_chunks, b1 = (c + 1) * n_blocks / n_chunks;
                for (std::int64_t b = b0; b < b1 && !ctl.poll(); ++b) {
                    const std::int64_t nb = reader.rows(b), j0 = reader.first(b);
                    const T* s = reader.read(b, w.f32, w.s);
                    w.u.resize(static_cast<std::size_t>(bq * nb));
                    T* u = w.u.data();
                    gemm<T>(gemm_op::transposed,
                            bq,
                            nb,
                            dim,
                            T(1),
                            xs.data(),
                            dim,
                            s,
                            dim,
                            T(0),
                            u,
                            nb);
                    const T* a = ta.data() + j0;
                    const T* bb = tb.empty() ? nullptr : tb.data() + j0;
                    for (std::int64_t q = 0; q < bq; ++q) {
                        T* uq = u + q * nb;
                        T acc = 0;
                        if (p.kind == feature_kind::fourier) {
#pragma omp simd reduction(+ : acc)
                            for (std::int64_t j = 0; j < nb; ++j) {
                                T sn, cs;
                                sincos_turns(uq[j] * T(inv_two_pi), sn, cs);
                                acc += cs * a[j] + sn * bb[j];
                                uq[j] = cs * bb[j] - sn * a[j];
                            }
                        } else if (p.kind == feature_kind::fourier_phase) {
#pragma omp simd reduction(+ : acc)
                            for (std::int64_t j = 0; j < nb; ++j) {
                                T sn, cs;
                                sincos_turns(uq[j] * T(inv_two_pi) + bb[j], sn, cs);
                                acc += cs * a[j];
                                uq[j] = -sn * a[j];
                            }
                        } else {
                            T bm = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : bm)
                            for (std::int64_t j = 0; j < nb; ++j) bm = std::max(bm, uq[j] + a[j]);
                            double& m = part.m[static_cast<std::size_t>(q)];
                            if (static_cast<double>(bm) > m) {
                                const double scale = std::exp(m - static_cast<double>(bm));
                                part.s[static_cast<std::size_t>(q)] *= scale;
                                if (want_grad)
                                    for (std::int64_t k = 0; k < dim; ++k)
                                        part.g[static_cast<std::size_t>(q * dim + k)] *=
                                            static_cast<T>(scale);
                                m = static_cast<double>(bm);
                            }
                            if (!(m > -std::numeric_limits<double>::infinity())) {
                                for (std::int64_t j = 0; j < nb; ++j) uq[j] = T(0);
                                continue;
                            }
                            const T mt = static_cast<T>(m);
#pragma omp simd reduction(+ : acc)
                            for (std::int64_t j = 0; j < nb; ++j) {
                                const T e =
                                    exp_nonpositive(uq[j] + a[j] - mt);  // <= 0: mt is the maximum
                                acc += e;
                                uq[j] = e;
                            }
                        }
                        part.s[static_cast<std::size_t>(q)] += static_cast<double>(acc);
                    }
                    if (want_grad)
                        gemm<T>(gemm_op::plain,
                                bq,
                                dim,
                                nb,
                                T(1),
                                u,
                                nb,
                                s,
                                dim,
                                T(1),
                                part.g.data(),
                                dim);
                }
            });
        // Merge the chunks in order, then the energies and gradients.
        const double c_fourier = std::sqrt(2.0 / y);
        std::vector<double> g(static_cast<std::size_t>(dim));
        for (std::int64_t q = 0; q < bq; ++q) {
            const auto sq = static_cast<std::size_t>(q);
            double m = positive ? -std::numeric_limits<double>::infinity() : 0.0;
            for (const auto& c : parts) m = std::max(m, c.m[sq]);
            double s = 0.0;
            std::fill(g.begin(), g.end(), 0.0);
            const bool any = !positive || m > -std::numeric_limits<double>::infinity();
            if (any)
                for (const auto& c : parts) {
                    const double w = positive ? std::exp(c.m[sq] - m) : 1.0;
                    s += w * c.s[sq];
                    if (want_grad)
                        for (std::int64_t k = 0; k < dim; ++k)
                            g[static_cast<std::size_t>(k)] +=
                                w *
                                static_cast<double>(c.g[sq * dim + static_cast<std::size_t>(k)]);
                }
            // log <phi(x), T> and the gradient factor.
            double log_s = 0.0, gscale = 0.0;
            bool ok = any && s > 0.0 && std::isfinite(s);
            if (ok) {
                if (positive) {
                    log_s = -beta * sqn[sq] + m + std::log(s) - 0.5 * std::log(y);
                    gscale = -1.0 / (sqrt_beta * s);
                } else {
                    log_s = std::log(c_fourier * s);
                    gscale = -1.0 / (sqrt_beta * s);  // (c/sqrt(beta)) G S / (c s)
                }
                ok = std::isfinite(log_s);
            }
            const std::int64_t i = q0 + q;
            if (!status.empty())
                status[static_cast<std::size_t>(i)] =
                    ok ? energy_status::ok : energy_status::unsupported;
            energy[static_cast<std::size_t>(i)] =
                ok ? static_cast<T>(-log_s / beta) : std::numeric_limits<T>::infinity();
            if (want_grad)
                for (std::int64_t k = 0; k < dim; ++k) {
                    double v = 0.0;
                    if (ok) {
                        v = gscale * g[static_cast<std::size_t>(k)];
                        if (positive) v += 2.0 * static_cast<double>(queries(i, k));
                    }
                    grad(i, k) = static_cast<T>(v);
                }
        }
    }
}

}  // namespace detail

// ---- distributed_memory --------------------------------------------------------------------

namespace {

std::shared_ptr<const distributed_memory::projection_cache> make_cache(const feature_params& p,
                                                                       std::int64_t dim,
                                                                       const exec_options& exec) {
    const std::int64_t n_proj = n_projections(p);
    detail::require_memory(4.0 * static_cast<double>(n_proj) * static_cast<double>(dim),
                           "the projection cache (" + std::to_string(n_proj) + " x " +
                               std::to_string(dim) + " floats)");
    auto cache = std::make_shared<distributed_memory::projection_cache>();
    cache->rows.resize(static_cast<std::size_t>(n_proj * dim));
    const std::int64_t per = detail::block_rows(p, dim);
    const std::int64_t n_blocks = (n_proj + per - 1) / per;
    detail::parallel_for(n_blocks, exec, [&](std::int64_t b) {
        const std::int64_t first = b * per, rows = std::min(per, n_proj - first);
        detail::generate_projections(p, dim, first, rows, cache->rows.data() + first * dim);
    });
    return cache;
}

}  // namespace

distributed_memory::distributed_memory(std::int64_t dim,
                                       const feature_params& params,
                                       const distributed_options& options)
    : dim_(dim), params_(params) {
    validate(params, dim);
    detail::require_memory(8.0 * static_cast<double>(params.n_features),
                           "Y = " + std::to_string(params.n_features) + " features");
    features_.assign(static_cast<std::size_t>(params.n_features), 0.0);
    set_options(options);
}

void distributed_memory::set_options(const distributed_options& options) {
    if (options.cache_projections && !cache_) cache_ = make_cache(params_, dim_, {});
    if (!options.cache_projections) cache_.reset();
    options_ = options;
}

std::int64_t distributed_memory::bytes() const noexcept {
    std::int64_t b = 8 * params_.n_features;
    if (cache_) b += static_cast<std::int64_t>(cache_->rows.size() * sizeof(float));
    return b;
}

void distributed_memory::clear() noexcept {
    std::fill(features_.begin(), features_.end(), 0.0);
    count_ = 0;
}

template <class T>
void distributed_memory::update(matrix_view<const T> patterns,
                                double sign,
                                const exec_options& exec) {
    detail::check_rows(patterns, dim_, "patterns");
    const std::int64_t n = patterns.rows;
    if (sign < 0 && n > count_)
        throw invalid_argument("cannot remove " + std::to_string(n) +
                               " patterns: the memory holds " + std::to_string(count_));
    const auto xd = detail::as_double(patterns);
    const matrix_view<const double> x(xd.data(), n, dim_);
    std::vector<double> beta_sq(static_cast<std::size_t>(n), 0.0);
    for (std::int64_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::int64_t k = 0; k < dim_; ++k) s += x(i, k) * x(i, k);
        beta_sq[static_cast<std::size_t>(i)] = params_.beta * s;
        if (params_.kind == feature_kind::positive &&
            !(beta_sq[static_cast<std::size_t>(i)] <= 700.0))
            throw invalid_argument("patterns row " + std::to_string(i) + ": beta ||x||^2 = " +
                                   detail::shortest(beta_sq[static_cast<std::size_t>(i)]) +
                                   " > 700, its positive features would underflow; use fourier "
                                   "features or center and scale the data");
    }
    if (n == 0) return;
    std::vector<double> delta(features_.size(), 0.0);
    const auto phases = detail::phase_turns(params_);
    const bool fourier = params_.kind == feature_kind::fourier;
    for (std::int64_t q0 = 0; q0 < n; q0 += detail::query_batch) {
        const std::int64_t bq = std::min(detail::query_batch, n - q0);
        const matrix_view<const double> xb(xd.data() + q0 * dim_, bq, dim_);
        detail::for_each_feature_block(
            params_,
            dim_,
            cache_.get(),
            xb,
            exec,
            [&](std::int64_t, std::int64_t first, std::int64_t nb, const double* u) {
                // Each block owns its slice of delta; patterns are summed in order.
                double* d = delta.data() + (fourier ? 2 * first : first);
                detail::feature_values(params_,
                                       phases,
                                       first,
                                       u,
                                       bq,
                                       nb,
                                       beta_sq.data() + q0,
                                       [&](std::int64_t, std::int64_t j, double v0, double v1) {
                                           if (fourier) {
                                               d[2 * j] += v0;
                                               d[2 * j + 1] += v1;
                                           } else {
                                               d[j] += v0;
                                           }
                                       });
            });
    }
    for (std::size_t j = 0; j < features_.size(); ++j) features_[j] += sign * delta[j];
    count_ += sign > 0 ? n : -n;
}

void distributed_memory::add(matrix_view<const double> patterns, const exec_options& exec) {
    update(patterns, 1.0, exec);
}
void distributed_memory::add(matrix_view<const float> patterns, const exec_options& exec) {
    update(patterns, 1.0, exec);
}
void distributed_memory::remove(matrix_view<const double> patterns, const exec_options& exec) {
    update(patterns, -1.0, exec);
}
void distributed_memory::remove(matrix_view<const float> patterns, const exec_options& exec) {
    update(patterns, -1.0, exec);
}

namespace {

template <class T>
void checked_evaluate(const distributed_memory& mem,
                      const distributed_memory::projection_cache* cache,
                      matrix_view<const T> queries,
                      std::span<T> energy,
                      matrix_view<T> grad,
                      std::span<energy_status> status,
                      const exec_options& exec) {
    detail::check_rows(queries, mem.dim(), "queries");
    if (static_cast<std::int64_t>(energy.size()) != queries.rows)
        throw invalid_argument("energy has " + std::to_string(energy.size()) + " entries for " +
                               std::to_string(queries.rows) + " queries");
    if (!grad.empty() && (grad.rows != queries.rows || grad.cols != mem.dim()))
        throw invalid_argument("grad must be " + std::to_string(queries.rows) + " x " +
                               std::to_string(mem.dim()));
    if (!status.empty() && static_cast<std::int64_t>(status.size()) != queries.rows)
        throw invalid_argument("status has " + std::to_string(status.size()) + " entries for " +
                               std::to_string(queries.rows) + " queries");
    validate(exec);
    detail::evaluate_features(mem, cache, queries, energy, grad, status, exec);
}

}  // namespace

void distributed_memory::energy_and_grad(matrix_view<const float> queries,
                                         std::span<float> energy,
                                         matrix_view<float> grad,
                                         std::span<energy_status> status,
                                         const exec_options& exec) const {
    checked_evaluate(*this, cache_.get(), queries, energy, grad, status, exec);
}

void distributed_memory::energy_and_grad(matrix_view<const double> queries,
                                         std::span<double> energy,
                                         matrix_view<double> grad,
                                         std::span<energy_status> status,
                                         const exec_options& exec) const {
    checked_evaluate(*this, cache_.get(), queries, energy, grad, status, exec);
}

template <class T>
retrieve_result<T> distributed_memory::retrieve(matrix_view<const T> queries,
                                                const retrieve_options& options,
                                                const exec_options& exec) const {
    detail::check_rows(queries, dim_, "queries");
    detail::check_retrieve_options(options, dim_);
    validate(exec);
    if (options.method != retrieval_method::gradient)
        throw invalid_argument(
            "the distributed memory retrieves by gradient descent only (method 'gradient')");
    if (detail::uses_beta_schedule(options))
        throw invalid_argument(
            "a beta schedule cannot be used with a distributed memory: beta "
            "is part of its feature map (beta = " +
            detail::shortest(params_.beta) + ")");
    if constexpr (std::is_same_v<T, double>)
        if (options.precision == gradient_precision::single)
            throw invalid_argument(
                "gradient precision 'single' is not offered by the distributed memory; pass "
                "float queries for float arithmetic");
    const std::int64_t n = queries.rows;
    auto res = detail::make_result<T>(n, dim_);
    for (std::int64_t i = 0; i < n; ++i)
        std::copy(queries.row(i), queries.row(i) + dim_, res.states.begin() + i * dim_);
    std::vector<char> clamped(static_cast<std::size_t>(dim_), 0);
    for (auto c : options.clamp) clamped[static_cast<std::size_t>(c)] = 1;
    std::vector<std::int64_t> active(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) active[static_cast<std::size_t>(i)] = i;
    const auto* cache = cache_.get();
    detail::descent_loop(options,
                         clamped,
                         true,
                         std::move(active),
                         dim_,
                         res,
                         [&](std::int64_t,
                             matrix_view<const T> xs,
                             std::span<T> e,
                             matrix_view<T> g,
                             std::span<energy_status> st) {
                             detail::evaluate_features(*this, cache, xs, e, g, st, exec);
                         });
    detail::final_energies_with(res, dim_, [&](matrix_view<const T> xs, std::span<T> e) {
        detail::evaluate_features(*this, cache, xs, e, matrix_view<T>{}, {}, exec);
    });
    return res;
}

template retrieve_result<float> distributed_memory::retrieve(matrix_view<const float>,
                                                             const retrieve_options&,
                                                             const exec_options&) const;
template retrieve_result<double> distributed_memory::retrieve(matrix_view<const double>,
                                                              const retrieve_options&,
                                                              const exec_options&) const;

// ---- free functions over a map ---------------------------------------------------------------

void projections(const feature_params& params,
                 std::int64_t dim,
                 std::int64_t first,
                 matrix_view<float> out) {
    validate(params, dim);
    if (out.cols != dim)
        throw invalid_argument("projections: out has " + std::to_string(out.cols) +
                               " columns for dim " + std::to_string(dim));
    const std::int64_t n_proj = n_projections(params);
    if (first < 0 || out.rows < 0 || first + out.rows > n_proj)
        throw invalid_argument("projections: rows [" + std::to_string(first) + ", " +
                               std::to_string(first + out.rows) + ") outside [0, " +
                               std::to_string(n_proj) + ")");
    if (!params.orthogonal) {  // rows are independent: straight into out
        for (std::int64_t i = 0; i < out.rows; ++i)
            detail::generate_projections(params, dim, first + i, 1, out.row(i));
        return;
    }
    // Generate whole groups (orthogonal) and copy: the rows equal the blocks' rows.
    const std::int64_t per = dim;
    const std::int64_t g0 = first / per * per;
    const std::int64_t g1 = std::min(n_proj, (first + out.rows + per - 1) / per * per);
    std::vector<float> buf(static_cast<std::size_t>((g1 - g0) * dim));
    if (g1 > g0) detail::generate_projections(params, dim, g0, g1 - g0, buf.data());
    for (std::int64_t i = 0; i < out.rows; ++i)
        std::copy(buf.begin() + (first - g0 + i) * dim,
                  buf.begin() + (first - g0 + i + 1) * dim,
                  out.row(i));
}

std::vector<double> phases(const feature_params& params) {
    validate(params, 1);
    std::vector<double> b = detail::phase_turns(params);
    for (auto& v : b) v *= 2.0 * std::numbers::pi;
    return b;
}

void feature_map(const feature_params& params,
                 matrix_view<const double> x,
                 matrix_view<double> out,
                 const exec_options& exec) {
    validate(params, x.cols);
    detail::check_finite(x, "x");
    if (out.rows != x.rows || out.cols != params.n_features)
        throw invalid_argument("feature_map: out must be " + std::to_string(x.rows) + " x " +
                               std::to_string(params.n_features));
    std::vector<double> beta_sq(static_cast<std::size_t>(x.rows), 0.0);
    for (std::int64_t i = 0; i < x.rows; ++i) {
        double s = 0.0;
        for (std::int64_t k = 0; k < x.cols; ++k) s += x(i, k) * x(i, k);
        beta_sq[static_cast<std::size_t>(i)] = params.beta * s;
    }
    const auto ph = detail::phase_turns(params);
    const bool fourier = params.kind == feature_kind::fourier;
    detail::for_each_feature_block(
        params,
        x.cols,
        nullptr,
        x,
        exec,
        [&](std::int64_t, std::int64_t first, std::int64_t nb, const double* u) {
            detail::feature_values(params,
                                   ph,
                                   first,
                                   u,
                                   x.rows,
                                   nb,
                                   beta_sq.data(),
                                   [&](std::int64_t q, std::int64_t j, double v0, double v1) {
                                       if (fourier) {
                                           out(q, 2 * (first + j)) = v0;
                                           out(q, 2 * (first + j) + 1) = v1;
                                       } else {
                                           out(q, first + j) = v0;
                                       }
                                   });
        });
}

}  // namespace denseam
