// SPDX-License-Identifier: MIT
// LOGL0 (paper.md 3.3): are retrieved memories, emergent ones included, good samples of the
// distribution the patterns came from? Retrieval from shell queries around every pattern, then
// log-likelihood under the true Gaussian mixture, uniqueness, novelty and recoverability.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "denseam/retrieval.hpp"
#include "engine/distance.hpp"
#include "engine/resources.hpp"
#include "engine/rng.hpp"

namespace denseam {

namespace {

// Number of distinct rows (exact equality) of the n x d rows listed in `rows`.
std::int64_t count_distinct_rows(const std::vector<std::vector<double>>& rows) {
    std::vector<const std::vector<double>*> p;
    p.reserve(rows.size());
    for (const auto& r : rows) p.push_back(&r);
    std::sort(p.begin(), p.end(), [](const auto* a, const auto* b) { return *a < *b; });
    return static_cast<std::int64_t>(
        std::unique(p.begin(), p.end(), [](const auto* a, const auto* b) { return *a == *b; }) -
        p.begin());
}

void check_options(const logl0_options& o,
                   matrix_view<const double> patterns,
                   const gaussian_mixture& gmm) {
    if (o.energy != kernel_kind::lsr && o.energy != kernel_kind::lse)
        throw invalid_argument("logl0: energy must be lsr or lse (got " +
                               std::string(to_string(o.energy)) + ")");
    if (o.nbetas < 1)
        throw invalid_argument("logl0: nbetas must be >= 1 (got " + std::to_string(o.nbetas) + ")");
    if (o.n_queries < 1)
        throw invalid_argument("logl0: N (queries per pattern) must be >= 1 (got " +
                               std::to_string(o.n_queries) + ")");
    if (o.depth < 1)
        throw invalid_argument("logl0: depth must be >= 1 (got " + std::to_string(o.depth) + ")");
    if (!(std::isfinite(o.lr_start) && o.lr_start > 0.0 && std::isfinite(o.lr_end) &&
          o.lr_end > 0.0))
        throw invalid_argument("logl0: lr_start and lr_end must be finite and > 0");
    if (!(std::isfinite(o.tol) && o.tol >= 0.0))
        throw invalid_argument("logl0: tol must be finite and >= 0");
    if (!(o.novelty_threshold >= 0.0) || !(o.recover_distance >= 0.0) || !(o.dedup_tol >= 0.0))
        throw invalid_argument(
            "logl0: novelty_threshold, recover_distance and dedup_tol must be >= 0");
    if (gmm.dim != patterns.cols)
        throw invalid_argument("logl0: the mixture has dimension " + std::to_string(gmm.dim) +
                               " but the patterns " + std::to_string(patterns.cols));
    // The M N queries: unit offsets, start and final states (d doubles each, a few copies),
    // per-query status, energy and log-likelihood.
    const double n_total = static_cast<double>(patterns.rows) * static_cast<double>(o.n_queries);
    detail::require_memory(n_total * (40.0 * static_cast<double>(patterns.cols) + 64.0),
                           "logl0: N = " + std::to_string(o.n_queries) +
                               " queries per pattern (M = " + std::to_string(patterns.rows) +
                               ", d = " + std::to_string(patterns.cols) + ")");
}

}  // namespace

std::uint64_t logl0_pattern_seed(std::uint64_t seed) noexcept {
    return detail::splitmix64(seed + 1);
}
std::uint64_t logl0_query_seed(std::uint64_t seed) noexcept {
    return detail::splitmix64(seed + 2);
}

std::string_view logl0_precision_name(kernel_kind energy, gradient_precision p) noexcept {
    return energy == kernel_kind::lse && p == gradient_precision::single ? "single" : "double";
}

std::vector<logl0_row> run_logl0(matrix_view<const double> patterns,
                                 const gaussian_mixture& gmm,
                                 const logl0_options& o,
                                 const exec_options& exec) {
    const beta_range_result range = beta_range(patterns);  // validates the patterns
    check_options(o, patterns, gmm);
    gmm.validate();
    const std::vector<double> grid = lmin0_betas(range, o.nbetas, /*geometric=*/true);
    std::vector<int> idx = o.only;
    if (idx.empty())
        for (int i = 0; i < o.nbetas; ++i) idx.push_back(i);
    for (int i : idx)
        if (i < 0 || i >= o.nbetas)
            throw invalid_argument("logl0: beta index " + std::to_string(i) + " out of range [0, " +
                                   std::to_string(o.nbetas) + ")");

    const std::int64_t m = patterns.rows, d = patterns.cols;
    const std::int64_t n_total = m * o.n_queries;
    const bool lse = o.energy == kernel_kind::lse;
    // Unit-radius query offsets: sample_around's points of a center depend only on (seed, m)
    // and scale with R, so the queries of every beta are center + R * unit offset.
    std::vector<double> unit;
    {
        const std::vector<double> zero(static_cast<std::size_t>(m * d), 0.0);
        unit = sample_around(make_matrix_view<const double>(zero.data(), m, d),
                             o.n_queries,
                             1.0,
                             o.sampler,
                             o.query_seed);
    }

    std::vector<logl0_row> rows;
    for (int bi : idx) {
        const auto t0 = std::chrono::steady_clock::now();
        const double beta = grid[static_cast<std::size_t>(bi)];
        const double radius = std::sqrt(2.0 / beta);
        logl0_row r;
        r.beta = beta;
        r.beta_idx = bi;
        r.nbetas = o.nbetas;
        r.range = range;
        r.energy = std::string(to_string(o.energy));
        r.num_queries = n_total;
        r.dim = d;
        r.n_patterns = m;
        r.n_per_pattern = o.n_queries;
        r.depth = o.depth;
        r.lr_start = o.lr_start;
        r.lr_end = o.lr_end;
        r.tol = o.tol;
        r.precision = logl0_precision_name(o.energy, o.precision);
        r.sampler = std::string(to_string(o.sampler));

        energy_params ep;
        ep.kernel = o.energy;
        ep.beta = beta;
        ep.eps = 0.0;

        // M1: the energy gradient at every stored pattern.
        {
            std::vector<double> e(static_cast<std::size_t>(m)), g(static_cast<std::size_t>(m * d));
            energy_and_grad(patterns,
                            patterns,
                            ep,
                            std::span<double>(e),
                            make_matrix_view<double>(g.data(), m, d),
                            {},
                            exec);
            double sum = 0.0;
            std::int64_t loose = 0;
            for (std::int64_t i = 0; i < m; ++i) {
                double n2 = 0.0;
                for (std::int64_t j = 0; j < d; ++j)
                    n2 += g[static_cast<std::size_t>(i * d + j)] *
                          g[static_cast<std::size_t>(i * d + j)];
                n2 = std::sqrt(n2);
                sum += n2;
                if (n2 / std::sqrt(beta) < 0.1) ++loose;
            }
            r.og_mems_avg_gradnorm = sum / static_cast<double>(m);
            if (lse) {
                r.og_mems_recoverable = loose;
                // Sound: a true LSE minimum within recover_distance of the pattern, found by the
                // mean-shift fixed point (x <- softmax-weighted mean, whose step is -grad)
                // started at the pattern and converged to max|grad| < tol.
                retrieve_options ro;
                ro.method = retrieval_method::fixed_point;
                ro.max_steps = o.depth;
                ro.tol = o.tol > 0.0 ? o.tol : 1e-6;
                const auto fp = retrieve<double>(patterns, patterns, ep, ro, exec);
                std::int64_t sound = 0;
                for (std::int64_t i = 0; i < m; ++i) {
                    const double* x = &fp.states[static_cast<std::size_t>(i * d)];
                    if (fp.status[static_cast<std::size_t>(i)] == retrieval_status::converged &&
                        std::sqrt(detail::sq_dist(x, &patterns(i, 0), d)) <= o.recover_distance)
                        ++sound;
                }
                r.og_mems_recoverable_sound = sound;
            } else {
                // LSR exact: xi_mu is a minimum iff no other (distinct) pattern lies strictly
                // within R (the reference's ||grad|| < 1e-3 test says the same).
                std::int64_t rec = 0;
                for (std::int64_t i = 0; i < m; ++i) {
                    bool alone = true;
                    for (std::int64_t j = 0; j < m && alone; ++j) {
                        if (j == i) continue;
                        const double q = detail::sq_dist(&patterns(i, 0), &patterns(j, 0), d);
                        if (q > 0.0 && beta * q < 2.0) alone = false;
                    }
                    if (alone) ++rec;
                }
                r.og_mems_recoverable = rec;
                r.og_mems_recoverable_sound = rec;
            }
        }

        // Queries around every pattern at this R.
        std::vector<double> queries(static_cast<std::size_t>(n_total * d));
        for (std::int64_t i = 0; i < n_total; ++i) {
            const std::int64_t c = i / o.n_queries;
            for (std::int64_t j = 0; j < d; ++j)
                queries[static_cast<std::size_t>(i * d + j)] =
                    patterns(c, j) + radius * unit[static_cast<std::size_t>(i * d + j)];
        }
        retrieve_options ro;
        if (lse) {
            ro.method = retrieval_method::gradient;
            ro.max_steps = o.depth;
            ro.tol = o.tol;
            ro.precision = o.precision;
            ro.step_size = schedule::cosine(o.lr_start, o.lr_end);
        } else {
            ro.method = retrieval_method::fixed_point;
            ro.max_steps = 1000;
        }
        const auto res = retrieve<double>(
            patterns, make_matrix_view<const double>(queries.data(), n_total, d), ep, ro, exec);

        // Drop non-finite rows.
        std::vector<std::int64_t> kept;
        kept.reserve(static_cast<std::size_t>(n_total));
        double steps = 0.0;
        for (std::int64_t i = 0; i < n_total; ++i) {
            const auto st = res.status[static_cast<std::size_t>(i)];
            steps += static_cast<double>(res.steps[static_cast<std::size_t>(i)]);
            if (st == retrieval_status::converged) ++r.num_converged;
            if (st == retrieval_status::out_of_support) ++r.num_unsupported;
            bool finite = true;
            for (std::int64_t j = 0; j < d; ++j)
                finite = finite && std::isfinite(res.states[static_cast<std::size_t>(i * d + j)]);
            if (finite)
                kept.push_back(i);
            else
                ++r.num_dropped;
        }
        r.mean_steps = steps / static_cast<double>(n_total);
        const std::int64_t n = static_cast<std::int64_t>(kept.size());
        std::vector<double> x(static_cast<std::size_t>(n * d));
        for (std::int64_t a = 0; a < n; ++a)
            std::copy_n(
                &res.states[static_cast<std::size_t>(kept[static_cast<std::size_t>(a)] * d)],
                d,
                &x[static_cast<std::size_t>(a * d)]);

        // Novelty: distance to the nearest stored pattern.
        std::vector<std::uint8_t> novel(static_cast<std::size_t>(n));
        double nov_sum = 0.0;
        for (std::int64_t a = 0; a < n; ++a) {
            double best = std::numeric_limits<double>::infinity();
            for (std::int64_t c = 0; c < m; ++c)
                best = std::min(
                    best, detail::sq_dist(&x[static_cast<std::size_t>(a * d)], &patterns(c, 0), d));
            best = std::sqrt(best);
            nov_sum += best;
            novel[static_cast<std::size_t>(a)] = best > o.novelty_threshold ? 1 : 0;
            r.num_novel += novel[static_cast<std::size_t>(a)];
        }
        r.avg_novelty_distance =
            n > 0 ? nov_sum / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();

        // Log-likelihood under the true mixture.
        std::vector<double> logl(static_cast<std::size_t>(n));
        if (n > 0)
            gmm.log_density(make_matrix_view<const double>(x.data(), n, d),
                            std::span<double>(logl));
        double ll = 0.0;
        for (double v : logl) ll += v;
        r.avg_logl = n > 0 ? ll / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
        if (o.samples) {
            r.sample_logl.resize(logl.size());
            for (std::size_t a = 0; a < logl.size(); ++a)
                r.sample_logl[a] = std::round(logl[a] * 1e4) / 1e4;
            r.sample_is_novel = novel;
        }

        // Uniqueness.
        std::vector<std::vector<double>> pts(static_cast<std::size_t>(n));
        for (std::int64_t a = 0; a < n; ++a)
            pts[static_cast<std::size_t>(a)].assign(&x[static_cast<std::size_t>(a * d)],
                                                    &x[static_cast<std::size_t>(a * d)] + d);
        r.num_unique_points = count_distinct_rows(pts);
        if (lse) {
            // The reference's count: grid cells of side sqrt(2/beta), truncated toward zero.
            for (auto& p : pts)
                for (auto& v : p) v = std::trunc(v / radius);
            r.num_unique_retrievals = count_distinct_rows(pts);
            // Distinct minima: converged states, greedily merged within dedup_tol.
            std::vector<std::int64_t> reps;
            const double t2 = o.dedup_tol * o.dedup_tol;
            for (std::int64_t a = 0; a < n; ++a) {
                if (res.status[static_cast<std::size_t>(kept[static_cast<std::size_t>(a)])] !=
                    retrieval_status::converged)
                    continue;
                const double* p = &x[static_cast<std::size_t>(a * d)];
                bool seen = false;
                for (std::int64_t b : reps)
                    if (detail::sq_dist(p, &x[static_cast<std::size_t>(b * d)], d) <= t2) {
                        seen = true;
                        break;
                    }
                if (!seen) reps.push_back(a);
            }
            r.num_unique_minima = static_cast<std::int64_t>(reps.size());
        } else {
            // Distinct support sets reached (each is one exact minimum, its centroid).
            std::vector<std::vector<double>> sets;
            sets.reserve(static_cast<std::size_t>(n));
            for (std::int64_t a = 0; a < n; ++a) {
                const auto q = static_cast<std::size_t>(kept[static_cast<std::size_t>(a)]);
                std::vector<double> s;
                for (auto t = res.support.offsets[q]; t < res.support.offsets[q + 1]; ++t)
                    s.push_back(
                        static_cast<double>(res.support.indices[static_cast<std::size_t>(t)]));
                std::sort(s.begin(), s.end());
                sets.push_back(std::move(s));
            }
            r.num_unique_retrievals = count_distinct_rows(sets);
            r.num_unique_minima = r.num_unique_retrievals;
        }
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rows.push_back(std::move(r));
    }
    return rows;
}

std::string to_json(const logl0_row& r) {
    nlohmann::ordered_json j;
    const auto num = [](double v) -> nlohmann::ordered_json {
        if (std::isfinite(v)) return v;
        return nullptr;
    };
    j["beta"] = r.beta;
    j["beta_idx"] = r.beta_idx;
    j["beta_min"] = r.range.beta_min;
    j["beta_max"] = r.range.beta_max;
    j["og_mems_avg_gradnorm"] = num(r.og_mems_avg_gradnorm);
    j["og_mems_recoverable"] = r.og_mems_recoverable;
    j["og_mems_recoverable_sound"] = r.og_mems_recoverable_sound;
    j["avg_novelty_distance"] = num(r.avg_novelty_distance);
    j["num_unique_retrievals"] = r.num_unique_retrievals;
    j["num_unique_points"] = r.num_unique_points;
    j["num_unique_minima"] = r.num_unique_minima;
    j["num_novel"] = r.num_novel;
    j["avg_logl"] = num(r.avg_logl);
    j["sample_logl"] = r.sample_logl;
    j["sample_is_novel"] = nlohmann::ordered_json::array();
    for (auto v : r.sample_is_novel) j["sample_is_novel"].push_back(v != 0);
    // Arguments.
    j["d"] = r.dim;
    j["k"] = r.k;
    j["true_sigma"] = r.true_sigma;
    j["M"] = r.n_patterns;
    j["N"] = r.n_per_pattern;
    j["seed"] = r.seed;
    j["nbetas"] = r.nbetas;
    j["energy"] = r.energy;
    j["depth"] = r.depth;
    j["lr_start"] = r.lr_start;
    j["lr_end"] = r.lr_end;
    j["tol"] = r.tol;
    j["precision"] = r.precision;
    j["sampler"] = r.sampler;
    if (!r.patterns.empty()) j["patterns"] = r.patterns;
    if (!r.patterns_hash.empty()) j["patterns_hash"] = r.patterns_hash;
    // Ours.
    j["r_min"] = r.range.radius_min;
    j["num_queries"] = r.num_queries;
    j["num_dropped"] = r.num_dropped;
    j["num_converged"] = r.num_converged;
    j["num_unsupported"] = r.num_unsupported;
    j["mean_steps"] = r.mean_steps;
    j["seconds"] = r.seconds;
    return j.dump();
}

namespace {
std::string logl0_key(const std::string& patterns_hash,
                      std::int64_t k,
                      std::int64_t d,
                      std::int64_t m,
                      std::uint64_t seed,
                      double sigma,
                      const std::string& energy,
                      int nbetas,
                      int beta_idx,
                      std::int64_t n,
                      const std::string& sampler,
                      std::int64_t depth,
                      double lr_start,
                      double lr_end,
                      double tol,
                      const std::string& precision) {
    return nlohmann::json::array({patterns_hash,
                                  k,
                                  d,
                                  m,
                                  seed,
                                  sigma,
                                  energy,
                                  nbetas,
                                  beta_idx,
                                  n,
                                  sampler,
                                  depth,
                                  lr_start,
                                  lr_end,
                                  tol,
                                  precision})
        .dump();
}
}  // namespace

std::string resume_key(const logl0_row& r) {
    return logl0_key(r.patterns.empty() ? std::string() : r.patterns_hash,
                     r.k,
                     r.dim,
                     r.n_patterns,
                     r.seed,
                     r.true_sigma,
                     r.energy,
                     r.nbetas,
                     r.beta_idx,
                     r.n_per_pattern,
                     r.sampler,
                     r.depth,
                     r.lr_start,
                     r.lr_end,
                     r.tol,
                     r.precision);
}

std::string logl0_line_key(std::string_view line) {
    const nlohmann::json j = nlohmann::json::parse(line);
    if (!j.is_object()) throw invalid_argument("not a JSON object");
    try {
        const std::string patterns = j.value("patterns", std::string());
        return logl0_key(patterns.empty() ? std::string() : j.value("patterns_hash", std::string()),
                         j.at("k").get<std::int64_t>(),
                         j.at("d").get<std::int64_t>(),
                         j.at("M").get<std::int64_t>(),
                         j.at("seed").get<std::uint64_t>(),
                         j.at("true_sigma").get<double>(),
                         j.at("energy").get<std::string>(),
                         j.at("nbetas").get<int>(),
                         j.at("beta_idx").get<int>(),
                         j.at("N").get<std::int64_t>(),
                         j.at("sampler").get<std::string>(),
                         j.at("depth").get<std::int64_t>(),
                         j.at("lr_start").get<double>(),
                         j.at("lr_end").get<double>(),
                         j.at("tol").get<double>(),
                         j.value("precision", std::string("double")));
    } catch (const nlohmann::json::exception& e) {
        throw invalid_argument(e.what());
    }
}

logl0_sweep logl0_sweep_preset(std::string_view name) {
    logl0_sweep s;
    s.energies = {kernel_kind::lsr, kernel_kind::lse};
    s.seeds = {3, 4, 5, 6, 7};
    s.n_per_pattern = 500;
    s.nbetas = 20;
    if (name == "paper") {
        s.ks = {5, 10};
        s.ds = {8, 16};
        s.ms = {25, 100};
    } else if (name == "reduced") {
        // The paper's headline panel (Fig. 3 right, M = 25 column) at the paper's scale.
        s.ks = {10};
        s.ds = {8};
        s.ms = {25};
    } else {
        throw invalid_argument("unknown LOGL0 sweep '" + std::string(name) +
                               "' (choose paper or reduced)");
    }
    return s;
}

}  // namespace denseam
