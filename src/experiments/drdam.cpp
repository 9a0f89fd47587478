// SPDX-License-Identifier: MIT
// The DrDAM study (docs/drdam.md): (a) energy and gradient error of the distributed memory vs Y
// against the exact lse engine, (b) completion of occluded images by both memories, (c) bytes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "denseam/energy.hpp"
#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "denseam/features.hpp"
#include "denseam/retrieval.hpp"
#include "engine/rng.hpp"
#include "io/format.hpp"
#include "io/json.hpp"

namespace denseam {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Least squares y = a x + b.
std::pair<double, double> fit_line(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = static_cast<double>(x.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
    }
    const double den = n * sxx - sx * sx;
    if (!(den > 0.0)) return {std::numeric_limits<double>::quiet_NaN(), 0.0};
    const double a = (n * sxy - sx * sy) / den;
    return {a, (sy - a * sx) / n};
}

void require_list(bool empty, const char* what) {
    if (empty) throw invalid_argument(std::string(what) + " must not be empty");
}

// The nearest row of `pats` (m x d) to x, by squared distance in double.
std::int64_t nearest_row(const std::vector<double>& pats,
                         std::int64_t m,
                         std::int64_t d,
                         const double* x) {
    std::int64_t best = 0;
    double bd = std::numeric_limits<double>::infinity();
    for (std::int64_t i = 0; i < m; ++i) {
        double s = 0.0;
        for (std::int64_t k = 0; k < d; ++k) {
            const double t = x[k] - pats[static_cast<std::size_t>(i * d + k)];
            s += t * t;
        }
        if (s < bd) {
            bd = s;
            best = i;
        }
    }
    return best;
}

// Every feature map the lists make, checked up front, the message naming the field and value.
void check_maps(const std::vector<double>& betas,
                const std::vector<std::int64_t>& n_features,
                const std::vector<feature_kind>& kinds) {
    for (double beta : betas)
        for (std::int64_t y : n_features)
            for (feature_kind kind : kinds) {
                feature_params fp;
                fp.kind = kind;
                fp.n_features = y;
                fp.beta = beta;
                try {
                    validate(fp, 1);
                } catch (const invalid_argument& e) {
                    const std::string what = e.what();
                    if (what.rfind("beta", 0) == 0) throw invalid_argument("betas: " + what);
                    throw invalid_argument("n_features = " + std::to_string(y) + ": " + what);
                }
            }
}

}  // namespace

void validate(const drdam_error_options& o) {
    require_list(o.dims.empty(), "dims");
    require_list(o.betas.empty(), "betas");
    require_list(o.n_features.empty(), "n_features");
    require_list(o.kinds.empty(), "kinds");
    if (o.n_patterns < 1 || o.n_queries < 1 || o.n_queries > o.n_patterns)
        throw invalid_argument(
            "need 1 <= n_queries <= n_patterns (got n_queries = " + std::to_string(o.n_queries) +
            ", n_patterns = " + std::to_string(o.n_patterns) + ")");
    if (o.n_seeds < 1)
        throw invalid_argument("n_seeds must be >= 1 (got " + std::to_string(o.n_seeds) + ")");
    for (auto d : o.dims)
        if (d < 1) throw invalid_argument("dims must be >= 1 (got " + std::to_string(d) + ")");
    if (!(o.query_noise >= 0.0) || !std::isfinite(o.query_noise))
        throw invalid_argument("query_noise must be finite and >= 0");
    check_maps(o.betas, o.n_features, o.kinds);
}

drdam_error_result run_drdam_error(const drdam_error_options& o, const exec_options& exec) {
    validate(o);
    drdam_error_result res;
    const std::int64_t total = static_cast<std::int64_t>(o.dims.size() * o.betas.size() *
                                                         o.kinds.size() * o.n_features.size()) *
                               o.n_seeds;
    std::int64_t done = 0;
    for (std::int64_t d : o.dims) {
        // Patterns in {0, 1/sqrt(d)}, queries = noisy copies of the first n_queries.
        std::mt19937_64 rng(detail::splitmix64(o.seed ^ static_cast<std::uint64_t>(d)));
        detail::normal_stream normal(rng);
        const double v = 1.0 / std::sqrt(static_cast<double>(d));
        std::vector<double> pats(static_cast<std::size_t>(o.n_patterns * d));
        for (auto& x : pats) x = (rng() >> 63) ? v : 0.0;
        std::vector<double> qs(static_cast<std::size_t>(o.n_queries * d));
        for (std::size_t i = 0; i < qs.size(); ++i) qs[i] = pats[i] + o.query_noise * v * normal();
        const matrix_view<const double> P(pats.data(), o.n_patterns, d);
        const matrix_view<const double> Q(qs.data(), o.n_queries, d);
        for (double beta : o.betas) {
            energy_params ep;
            ep.kernel = kernel_kind::lse;
            ep.beta = beta;
            std::vector<double> e(static_cast<std::size_t>(o.n_queries)), g(qs.size());
            energy_and_grad(
                P, Q, ep, std::span(e), matrix_view<double>(g.data(), o.n_queries, d), {}, exec);
            double gscale = 0.0;
            for (double x : g) gscale += std::abs(x);
            gscale /= static_cast<double>(g.size());
            for (feature_kind kind : o.kinds) {
                std::vector<double> logy, loge, logg;
                for (std::int64_t y : o.n_features) {
                    drdam_error_row row;
                    row.dim = d;
                    row.beta = beta;
                    row.kind = kind;
                    row.n_features = y;
                    row.grad_norm_mean = gscale;
                    const auto t0 = std::chrono::steady_clock::now();
                    double se = 0.0, sr = 0.0, sg = 0.0;
                    std::int64_t n_ok = 0;
                    for (std::int64_t s = 0; s < o.n_seeds; ++s) {
                        feature_params fp;
                        fp.kind = kind;
                        fp.n_features = y;
                        fp.beta = beta;
                        fp.seed =
                            detail::splitmix64(o.seed + 1000003ULL * static_cast<std::uint64_t>(s));
                        distributed_memory mem(d, fp);
                        mem.add(P, exec);
                        std::vector<double> ea(e.size()), ga(g.size());
                        std::vector<energy_status> st(e.size());
                        mem.energy_and_grad(Q,
                                            std::span(ea),
                                            matrix_view<double>(ga.data(), o.n_queries, d),
                                            std::span(st),
                                            exec);
                        for (std::int64_t q = 0; q < o.n_queries; ++q) {
                            const auto sq = static_cast<std::size_t>(q);
                            if (st[sq] != energy_status::ok) {
                                ++row.unsupported;
                                continue;
                            }
                            ++n_ok;
                            se += std::abs(ea[sq] - e[sq]);
                            sr += std::abs(std::expm1(-beta * (ea[sq] - e[sq])));
                            double gq = 0.0;
                            for (std::int64_t k = 0; k < d; ++k)
                                gq += std::abs(ga[sq * static_cast<std::size_t>(d) +
                                                  static_cast<std::size_t>(k)] -
                                               g[sq * static_cast<std::size_t>(d) +
                                                 static_cast<std::size_t>(k)]);
                            sg += gq / static_cast<double>(d);
                        }
                        if (o.progress) o.progress(++done, total);
                    }
                    const double nn = n_ok > 0 ? static_cast<double>(n_ok)
                                               : std::numeric_limits<double>::quiet_NaN();
                    row.energy_mae = se / nn;
                    row.energy_rel_mae = sr / nn;
                    row.grad_mae = sg / nn;
                    row.seconds = seconds_since(t0);
                    if (n_ok > 0 && row.energy_mae > 0.0 && row.grad_mae > 0.0) {
                        logy.push_back(std::log(static_cast<double>(y)));
                        loge.push_back(std::log(row.energy_mae));
                        logg.push_back(std::log(row.grad_mae));
                    }
                    res.rows.push_back(row);
                }
                drdam_error_fit f;
                f.dim = d;
                f.beta = beta;
                f.kind = kind;
                if (logy.size() >= 2) {
                    std::tie(f.slope, f.intercept) = fit_line(logy, loge);
                    f.grad_slope = fit_line(logy, logg).first;
                } else {
                    f.slope = f.grad_slope = std::numeric_limits<double>::quiet_NaN();
                }
                res.fits.push_back(f);
            }
        }
    }
    return res;
}

void validate(const drdam_retrieval_options& o, std::int64_t n_images, std::int64_t dim) {
    require_list(o.betas.empty(), "betas");
    require_list(o.n_features.empty(), "n_features");
    require_list(o.kinds.empty(), "kinds");
    if (o.height < 2 || o.width < 1 || dim != o.height * o.width)
        throw invalid_argument("images: expected (N x " + std::to_string(o.height * o.width) +
                               ") for " + std::to_string(o.height) + " x " +
                               std::to_string(o.width) + " images (at least 2 rows), got " +
                               std::to_string(n_images) + " x " + std::to_string(dim));
    if (o.n_patterns < 1 || o.n_patterns > n_images)
        throw invalid_argument("n_patterns must be in [1, " + std::to_string(n_images) + "] (got " +
                               std::to_string(o.n_patterns) + ")");
    if (!(o.occlude > 0.0 && o.occlude < 1.0))
        throw invalid_argument("occlude must be in (0, 1) (got " + detail::shortest(o.occlude) +
                               ")");
    if (o.steps < 0)
        throw invalid_argument("steps must be >= 0 (got " + std::to_string(o.steps) + ")");
    if (!(o.step_size > 0.0) || !std::isfinite(o.step_size))
        throw invalid_argument("step_size must be finite and > 0 (got " +
                               detail::shortest(o.step_size) + ")");
    check_maps(o.betas, o.n_features, o.kinds);
}

drdam_retrieval_result run_drdam_retrieval(matrix_view<const double> images,
                                           const drdam_retrieval_options& o,
                                           const exec_options& exec) {
    if (images.empty()) throw invalid_argument("images: expected a non-empty (N x d) array");
    validate(o, images.rows, images.cols);
    drdam_retrieval_result r;
    const std::int64_t d = images.cols, m = o.n_patterns;
    r.dim = d;
    r.betas = o.betas;
    std::mt19937_64 rng(o.seed);
    r.indices = detail::draw_indices(images.rows, m, false, rng);
    r.patterns.resize(static_cast<std::size_t>(m * d));
    for (std::int64_t i = 0; i < m; ++i) {
        const double* x = images.row(r.indices[static_cast<std::size_t>(i)]);
        double s = 0.0;
        for (std::int64_t k = 0; k < d; ++k) s += x[k] * x[k];
        if (!(s > 0.0))
            throw invalid_argument("image " +
                                   std::to_string(r.indices[static_cast<std::size_t>(i)]) +
                                   " is all zeros: it cannot be scaled to unit norm");
        const double inv = 1.0 / std::sqrt(s);
        for (std::int64_t k = 0; k < d; ++k)
            r.patterns[static_cast<std::size_t>(i * d + k)] = x[k] * inv;
    }
    const auto hidden_rows =
        static_cast<std::int64_t>(std::llround(o.occlude * static_cast<double>(o.height)));
    const std::int64_t visible =
        (o.height - std::clamp<std::int64_t>(hidden_rows, 1, o.height - 1)) * o.width;
    for (std::int64_t k = 0; k < visible; ++k) r.clamped.push_back(k);
    r.queries = r.patterns;
    for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t k = visible; k < d; ++k)
            r.queries[static_cast<std::size_t>(i * d + k)] = 0.0;
    const matrix_view<const double> P(r.patterns.data(), m, d), Q(r.queries.data(), m, d);
    retrieve_options ro;
    ro.method = retrieval_method::gradient;
    ro.max_steps = o.steps;
    ro.step_size = schedule::constant(o.step_size);
    ro.tol = 0.0;
    ro.clamp = r.clamped;
    const std::int64_t total =
        static_cast<std::int64_t>(o.betas.size() * (1 + o.kinds.size() * o.n_features.size()));
    std::int64_t done = 0;
    for (double beta : o.betas) {
        energy_params ep;
        ep.kernel = kernel_kind::lse;
        ep.beta = beta;
        const auto exact = retrieve(P, Q, ep, ro, exec);
        r.mrdam_states.insert(r.mrdam_states.end(), exact.states.begin(), exact.states.end());
        std::int64_t right = 0;
        std::vector<std::int64_t> exact_near(static_cast<std::size_t>(m));
        for (std::int64_t i = 0; i < m; ++i) {
            exact_near[static_cast<std::size_t>(i)] =
                nearest_row(r.patterns, m, d, exact.states.data() + i * d);
            right += exact_near[static_cast<std::size_t>(i)] == i;
        }
        r.mrdam_correct.push_back(static_cast<double>(right) / static_cast<double>(m));
        if (o.progress) o.progress(++done, total);
        for (feature_kind kind : o.kinds)
            for (std::int64_t y : o.n_features) {
                const auto t0 = std::chrono::steady_clock::now();
                feature_params fp;
                fp.kind = kind;
                fp.n_features = y;
                fp.beta = beta;
                fp.seed = detail::splitmix64(o.seed ^ 0xd7daULL);
                distributed_options dop;
                dop.cache_projections = true;  // many steps over a small batch
                distributed_memory mem(d, fp, dop);
                mem.add(P, exec);
                const auto approx = mem.retrieve(Q, ro, exec);
                drdam_retrieval_row row;
                row.beta = beta;
                row.kind = kind;
                row.n_features = y;
                row.state_offset = static_cast<std::int64_t>(r.drdam_states.size()) / d;
                std::int64_t agree = 0, correct = 0;
                double sum = 0.0;
                for (std::int64_t i = 0; i < m; ++i) {
                    double s = 0.0;
                    for (std::int64_t k = 0; k < d; ++k) {
                        const double t = approx.states[static_cast<std::size_t>(i * d + k)] -
                                         exact.states[static_cast<std::size_t>(i * d + k)];
                        s += t * t;
                    }
                    const double dist = std::sqrt(s);
                    sum += dist;
                    row.distance_max = std::max(row.distance_max, dist);
                    const std::int64_t near =
                        nearest_row(r.patterns, m, d, approx.states.data() + i * d);
                    agree += near == exact_near[static_cast<std::size_t>(i)];
                    correct += near == i;
                    row.out_of_support += approx.status[static_cast<std::size_t>(i)] ==
                                          retrieval_status::out_of_support;
                }
                row.distance_mean = sum / static_cast<double>(m);
                row.agree = static_cast<double>(agree) / static_cast<double>(m);
                row.correct = static_cast<double>(correct) / static_cast<double>(m);
                row.seconds = seconds_since(t0);
                r.drdam_states.insert(
                    r.drdam_states.end(), approx.states.begin(), approx.states.end());
                r.rows.push_back(row);
                if (o.progress) o.progress(++done, total);
            }
    }
    return r;
}

std::vector<drdam_bytes_row> drdam_bytes(const std::vector<std::int64_t>& n_patterns,
                                         const std::vector<std::int64_t>& dims,
                                         const feature_params& params) {
    std::vector<drdam_bytes_row> out;
    for (auto d : dims) {
        validate(params, d);
        for (auto m : n_patterns) {
            if (m < 0) throw invalid_argument("n_patterns must be >= 0");
            out.push_back({m, d, params.n_features, footprint(m, d, params)});
        }
    }
    return out;
}

namespace {

using oj = nlohmann::ordered_json;
using detail::json_number;

oj json_of(const drdam_error_row& r) {
    oj j;
    j["experiment"] = "drdam-error";
    j["dim"] = r.dim;
    j["beta"] = json_number(r.beta);
    j["features"] = std::string(to_string(r.kind));
    j["Y"] = r.n_features;
    j["energy_mae"] = json_number(r.energy_mae);
    j["energy_rel_mae"] = json_number(r.energy_rel_mae);
    j["grad_mae"] = json_number(r.grad_mae);
    j["grad_abs_mean"] = json_number(r.grad_norm_mean);
    j["unsupported"] = r.unsupported;
    j["seconds"] = json_number(r.seconds);
    return j;
}

oj json_of(const drdam_error_fit& f) {
    oj j;
    j["dim"] = f.dim;
    j["beta"] = json_number(f.beta);
    j["features"] = std::string(to_string(f.kind));
    j["energy_slope"] = json_number(f.slope);
    j["energy_intercept"] = json_number(f.intercept);
    j["grad_slope"] = json_number(f.grad_slope);
    return j;
}

oj json_of(const drdam_retrieval_row& r) {
    oj j;
    j["experiment"] = "drdam-retrieval";
    j["beta"] = json_number(r.beta);
    j["features"] = std::string(to_string(r.kind));
    j["Y"] = r.n_features;
    j["distance_mean"] = json_number(r.distance_mean);
    j["distance_max"] = json_number(r.distance_max);
    j["agree"] = json_number(r.agree);
    j["correct"] = json_number(r.correct);
    j["out_of_support"] = r.out_of_support;
    j["seconds"] = json_number(r.seconds);
    j["state_offset"] = r.state_offset;
    return j;
}

oj json_of(const drdam_bytes_row& r) {
    oj j;
    j["experiment"] = "drdam-bytes";
    j["M"] = r.n_patterns;
    j["dim"] = r.dim;
    j["Y"] = r.n_features;
    j["explicit_bytes"] = r.bytes.explicit_bytes;
    j["distributed_bytes"] = r.bytes.distributed_bytes;
    j["reference_bytes"] = r.bytes.reference_bytes;
    j["break_even_M"] = r.bytes.break_even_patterns;
    return j;
}

template <class Rows>
std::string lines(const Rows& rows) {
    std::string s;
    for (const auto& r : rows) s += json_of(r).dump() + "\n";
    return s;
}

}  // namespace

std::string to_jsonl(const drdam_error_result& r) {
    return lines(r.rows);
}
std::string to_jsonl(const drdam_retrieval_result& r) {
    return lines(r.rows);
}
std::string to_jsonl(const std::vector<drdam_bytes_row>& rows) {
    return lines(rows);
}

std::string drdam_summary_json(const drdam_error_result* error,
                               const drdam_retrieval_result* retrieval,
                               const std::vector<drdam_bytes_row>* bytes) {
    oj j;
    j["experiment"] = "drdam";
    if (error) {
        oj fits = oj::array();
        for (const auto& f : error->fits) fits.push_back(json_of(f));
        j["error_fits"] = fits;
    }
    if (retrieval) {
        oj rj;
        rj["indices"] = retrieval->indices;
        rj["dim"] = retrieval->dim;
        rj["n_patterns"] = retrieval->indices.size();
        rj["visible"] = retrieval->clamped.size();
        oj betas = oj::array();
        const std::size_t nb = retrieval->mrdam_correct.size();
        for (std::size_t b = 0; b < nb; ++b) {
            oj e;
            e["beta"] = json_number(retrieval->betas[b]);
            e["mrdam_correct"] = json_number(retrieval->mrdam_correct[b]);
            betas.push_back(e);
        }
        rj["mrdam"] = betas;
        oj rows = oj::array();
        for (const auto& r : retrieval->rows) rows.push_back(json_of(r));
        rj["rows"] = rows;
        j["retrieval"] = rj;
    }
    if (bytes) {
        oj rows = oj::array();
        for (const auto& r : *bytes) rows.push_back(json_of(r));
        j["bytes"] = rows;
    }
    j["paper"] = {
        {"error_slope", -0.5},
        {"claim",
         "energy and gradient errors of DrDAM fall like 1/sqrt(Y); DrDAM retrieval follows MrDAM "
         "near the memories and at moderate beta, and breaks down far from them and at high beta"}};
    return j.dump(2) + "\n";
}

}  // namespace denseam
