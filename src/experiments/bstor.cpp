// SPDX-License-Identifier: MIT
// BSTOR (paper.md 3.5): every image of a training set stored as one LSR memory. The preserved
// count is exact from one nearest-neighbour pass; the sub-memory's minima are checked against
// the full energy, and the full memory's own emergent minima near the seed are retrieved.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "denseam/error.hpp"
#include "denseam/experiments.hpp"
#include "denseam/neighbours.hpp"
#include "engine/distance.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "io/format.hpp"
#include "io/json.hpp"

namespace denseam {
namespace {

using detail::shortest;

/// The smallest double beta > 0 with 2 / beta <= m (an image whose nearest distinct image is at
/// squared distance m is preserved exactly for beta >= this). 0 for m = +inf.
double preserve_threshold(double m) {
    if (!std::isfinite(m)) return 0.0;
    double b = 2.0 / m;
    while (2.0 / b > m) b = std::nextafter(b, std::numeric_limits<double>::infinity());
    for (;;) {
        const double lower = std::nextafter(b, 0.0);
        if (lower > 0.0 && 2.0 / lower <= m)
            b = lower;
        else
            break;
    }
    return b;
}

bool same_row(matrix_view<const double> x, std::int64_t a, std::int64_t b) {
    if (a == b) return true;
    for (std::int64_t k = 0; k < x.cols; ++k)
        if (x(a, k) != x(b, k)) return false;
    return true;
}

/// Distinct images of a multiset of indices with their multiplicities (first index as the key).
/// Images without an exact duplicate (dups[i] == 0) are compared by index only.
std::vector<std::pair<std::int64_t, std::int64_t>> group_points(
    matrix_view<const double> x,
    const std::vector<std::int64_t>& dups,
    const std::vector<std::int64_t>& idx) {
    std::vector<std::pair<std::int64_t, std::int64_t>> g;
    std::map<std::int64_t, std::size_t> single;  // index -> group, for images without duplicates
    for (std::int64_t i : idx) {
        if (dups[static_cast<std::size_t>(i)] == 0) {
            const auto [it, fresh] = single.emplace(i, g.size());
            if (fresh)
                g.emplace_back(i, 1);
            else
                ++g[it->second].second;
            continue;
        }
        bool found = false;
        for (auto& [rep, count] : g)
            if (dups[static_cast<std::size_t>(rep)] > 0 && same_row(x, rep, i)) {
                ++count;
                found = true;
                break;
            }
        if (!found) g.emplace_back(i, 1);
    }
    return g;
}

/// True when two multisets of images have the same distinct images with proportional counts
/// (then their means coincide).
bool same_mean_support(matrix_view<const double> x,
                       const std::vector<std::int64_t>& dups,
                       const std::vector<std::int64_t>& a,
                       const std::vector<std::int64_t>& b) {
    const auto ga = group_points(x, dups, a), gb = group_points(x, dups, b);
    if (ga.size() != gb.size()) return false;
    std::map<std::int64_t, std::int64_t> count_b;  // representative -> count, by index
    for (const auto& [rep, cb] : gb) count_b[rep] = cb;
    for (const auto& [rep, ca] : ga) {
        std::int64_t cb = -1;
        if (const auto it = count_b.find(rep); it != count_b.end()) cb = it->second;
        if (cb < 0 && dups[static_cast<std::size_t>(rep)] > 0)
            for (const auto& [rep_b, c] : gb)
                if (same_row(x, rep, rep_b)) {
                    cb = c;
                    break;
                }
        // ca / |a| == cb / |b|
        if (cb < 0 ||
            ca * static_cast<std::int64_t>(b.size()) != cb * static_cast<std::int64_t>(a.size()))
            return false;
    }
    return true;
}

}  // namespace

std::int64_t bstor_result::preserved_at(double b) const noexcept {
    const auto it = std::upper_bound(curve_beta.begin(), curve_beta.end(), b);
    if (it == curve_beta.begin()) return curve_floor;
    return curve_count[static_cast<std::size_t>(it - curve_beta.begin() - 1)];
}

bstor_result run_bstor(matrix_view<const double> x,
                       const bstor_options& o,
                       const exec_options& exec) {
    const auto t0 = std::chrono::steady_clock::now();
    if (x.empty() || x.rows < 2 || x.cols < 1)
        throw invalid_argument("images: expected an (N x d) array with N >= 2");
    if (!(o.beta > 0.0) || !std::isfinite(o.beta))
        throw invalid_argument("beta must be finite and > 0, got " + shortest(o.beta));
    if (!(o.preserve > 0.0 && o.preserve <= 1.0))
        throw invalid_argument("preserve must be in (0, 1], got " + shortest(o.preserve));
    if (o.seed_index < -1 || o.seed_index >= x.rows)
        throw invalid_argument("seed_index " + std::to_string(o.seed_index) + " is outside [0, " +
                               std::to_string(x.rows) +
                               ") (or -1: a random image that is a fixed point)");
    if (o.sub_size < 1 || o.sub_size > 62)
        throw invalid_argument("sub_size must be in [1, 62], got " + std::to_string(o.sub_size));
    if (o.n_starts < 0 || o.n_starts > 100000)
        throw invalid_argument("n_starts must be in [0, 100000], got " +
                               std::to_string(o.n_starts));
    const std::int64_t n = x.rows, d = x.cols;
    bstor_result r;
    r.n = n;
    r.dim = d;
    r.beta = o.beta;
    const double r2 = 2.0 / o.beta;
    r.radius = std::sqrt(r2);

    // 1. The exact nearest distinct neighbour of every image.
    nearest_progress np;
    if (o.progress)
        np = [&](std::int64_t done, std::int64_t total) { o.progress("neighbours", done, total); };
    const nearest_result nn = nearest_distinct_neighbours(x, np, exec);
    r.seconds_neighbours = nn.seconds;
    r.nn_sq_distance = nn.sq_distance;
    r.duplicates = nn.duplicates;
    r.rechecked = nn.rechecked;
    for (auto c : nn.duplicates) r.with_duplicates += c > 0;

    // 2. The preserved curve: image i is preserved for beta >= preserve_threshold(m_i).
    std::vector<double> thr(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        thr[static_cast<std::size_t>(i)] =
            preserve_threshold(nn.sq_distance[static_cast<std::size_t>(i)]);
    std::sort(thr.begin(), thr.end());
    std::int64_t k = 0;
    while (k < n && thr[static_cast<std::size_t>(k)] == 0.0) ++k;
    r.curve_floor = k;
    for (; k < n; ++k) {
        const double b = thr[static_cast<std::size_t>(k)];
        if (!r.curve_beta.empty() && r.curve_beta.back() == b)
            r.curve_count.back() = k + 1;
        else {
            r.curve_beta.push_back(b);
            r.curve_count.push_back(k + 1);
        }
    }
    r.preserved = 0;
    for (std::int64_t i = 0; i < n; ++i)
        r.preserved += nn.sq_distance[static_cast<std::size_t>(i)] >= r2;
    r.preserved_fraction = double(r.preserved) / double(n);
    r.preserve = o.preserve;
    const auto need = static_cast<std::int64_t>(std::ceil(o.preserve * double(n) - 1e-9));
    r.beta_for_share = thr[static_cast<std::size_t>(std::clamp<std::int64_t>(need, 1, n) - 1)];

    // 3. The seed (-1: a preserved image drawn with `seed`, the paper's "random seed image") and
    // the images that interact with it (closer than 2R).
    std::int64_t seed_index = o.seed_index;
    if (seed_index < 0) {
        std::vector<std::int64_t> kept;
        for (std::int64_t i = 0; i < n; ++i)
            if (nn.sq_distance[static_cast<std::size_t>(i)] >= r2) kept.push_back(i);
        if (kept.empty())
            throw invalid_argument("seed_index -1: no image is preserved at beta " +
                                   shortest(o.beta) + " (give a seed index)");
        std::mt19937_64 pick(o.seed ^ 0x53454544ULL);
        seed_index = kept[static_cast<std::size_t>(pick() % kept.size())];
    }
    r.seed_index = seed_index;
    const double* seed = x.row(seed_index);
    r.seed_preserved = nn.sq_distance[static_cast<std::size_t>(seed_index)] >= r2;
    std::vector<double> seed_d2(static_cast<std::size_t>(n));
    detail::parallel_for(n, exec, [&](std::int64_t j) {
        seed_d2[static_cast<std::size_t>(j)] = detail::sq_dist(seed, x.row(j), d);
    });
    std::vector<std::int64_t> interacting;  // others, increasing index
    for (std::int64_t j = 0; j < n; ++j)
        if (j != seed_index && seed_d2[static_cast<std::size_t>(j)] < 4.0 * r2)
            interacting.push_back(j);
    r.seed_interacting = static_cast<std::int64_t>(interacting.size());

    // 4. The sub-memory: the seed and sub_size - 1 interacting images drawn with `seed`.
    std::mt19937_64 rng(o.seed);
    r.sub_indices = {seed_index};
    const std::int64_t want = o.sub_size - 1;
    {
        std::vector<std::int64_t> pool = interacting;
        if (o.with_replacement) {  // the reference's draw: the seed itself can be drawn again
            pool.push_back(seed_index);
            std::sort(pool.begin(), pool.end());
        }
        const auto size = static_cast<std::int64_t>(pool.size());
        const std::int64_t take = o.with_replacement ? want : std::min(want, size);
        if (size > 0)
            for (auto pick : detail::draw_indices(size, take, o.with_replacement, rng))
                r.sub_indices.push_back(pool[static_cast<std::size_t>(pick)]);
    }
    const auto m_sub = static_cast<std::int64_t>(r.sub_indices.size());
    std::vector<double> sub(static_cast<std::size_t>(m_sub * d));
    for (std::int64_t i = 0; i < m_sub; ++i)
        std::copy(x.row(r.sub_indices[static_cast<std::size_t>(i)]),
                  x.row(r.sub_indices[static_cast<std::size_t>(i)]) + d,
                  sub.begin() + i * d);
    minima_options mo;
    r.sub_minima =
        find_lsr_minima(matrix_view<const double>(sub.data(), m_sub, d), o.beta, 0.0, mo, exec);

    // 5. Each sub-memory minimum against the full memory: its strict support over all N.
    auto full_support = [&](const double* c, bool& boundary) {
        std::vector<double> dd(static_cast<std::size_t>(n));
        detail::parallel_for(n, exec, [&](std::int64_t j) {
            dd[static_cast<std::size_t>(j)] = detail::sq_dist(c, x.row(j), d);
        });
        std::vector<std::int64_t> t;
        boundary = false;
        for (std::int64_t j = 0; j < n; ++j) {
            const double v = dd[static_cast<std::size_t>(j)];
            if (v < r2) t.push_back(j);
            boundary = boundary || v == r2;
        }
        return t;
    };
    for (const minimum& m : r.sub_minima.minima) {
        bstor_sub_minimum s;
        s.m = m;
        for (auto i : m.support)
            s.support_images.push_back(r.sub_indices[static_cast<std::size_t>(i)]);
        s.full_support = full_support(m.position.data(), s.on_boundary);
        s.full_minimum =
            !s.on_boundary && same_mean_support(x, nn.duplicates, s.support_images, s.full_support);
        r.sub_full_minima += s.full_minimum;
        r.sub.push_back(std::move(s));
    }

    // 6. The full memory's emergent minima near the seed: exact fixed-point retrieval over all N
    // images from the sub-memory minima and from random points between the seed and an
    // interacting image.
    if (o.n_starts > 0 || !r.sub_minima.minima.empty()) {
        std::vector<double> starts = positions_of(r.sub_minima.minima);
        std::mt19937_64 srng(o.seed ^ 0x5354415254ULL);
        for (std::int64_t s = 0; s < o.n_starts && !interacting.empty(); ++s) {
            const std::int64_t j =
                interacting[static_cast<std::size_t>(srng() % interacting.size())];
            const double t = 0.2 + 0.6 * double(srng() >> 11) * 0x1.0p-53;
            for (std::int64_t c = 0; c < d; ++c)
                starts.push_back((1.0 - t) * seed[c] + t * x(j, c));
        }
        const auto n_starts = static_cast<std::int64_t>(starts.size()) / d;
        r.starts = n_starts;
        energy_params p;
        p.kernel = kernel_kind::lsr;
        p.beta = o.beta;
        p.eps = 0.0;
        retrieve_options ro;
        ro.method = retrieval_method::fixed_point;
        ro.max_steps = 1000;
        if (o.progress) o.progress("retrieval", 0, n_starts);
        const retrieve_result<double> rr =
            retrieve<double>(x, matrix_view<const double>(starts.data(), n_starts, d), p, ro, exec);
        if (o.progress) o.progress("retrieval", n_starts, n_starts);
        std::map<std::vector<std::int64_t>, std::int64_t> seen;  // support -> start
        for (std::int64_t q = 0; q < n_starts; ++q) {
            const auto st = rr.status[static_cast<std::size_t>(q)];
            if (st == retrieval_status::not_minimum) {
                ++r.starts_not_minimum;
                continue;
            }
            if (st != retrieval_status::converged) continue;
            std::vector<std::int64_t> supp(
                rr.support.indices.begin() + rr.support.offsets[static_cast<std::size_t>(q)],
                rr.support.indices.begin() + rr.support.offsets[static_cast<std::size_t>(q) + 1]);
            const auto g = group_points(x, nn.duplicates, supp);
            if (g.size() == 1) {
                ++r.starts_stored;
                continue;
            }
            if (!seen.emplace(supp, q).second) continue;
        }
        for (const auto& [supp, q] : seen) {
            minimum m;
            m.position.assign(rr.states.begin() + q * d, rr.states.begin() + (q + 1) * d);
            m.support = supp;
            m.energy = rr.energy[static_cast<std::size_t>(q)];
            // E = -(1/beta) log Z and the Hessian is (|S| / Z) I.
            m.hessian_scale = double(supp.size()) / std::exp(-o.beta * m.energy);
            m.stored = false;
            m.basin_radius = std::numeric_limits<double>::quiet_NaN();
            double best = std::numeric_limits<double>::infinity();
            for (std::int64_t j : supp) {
                const double v = detail::sq_dist(m.position.data(), x.row(j), d);
                if (v < best) {
                    best = v;
                    m.nearest = j;
                }
            }
            m.nearest_distance = std::sqrt(best);
            m.novel = m.nearest_distance >= 0.1;
            r.full_emergent.push_back(std::move(m));
        }
        std::stable_sort(
            r.full_emergent.begin(), r.full_emergent.end(), [](const minimum& a, const minimum& b) {
                return a.support.size() != b.support.size() ? a.support.size() < b.support.size()
                                                            : a.support < b.support;
            });
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

std::string to_json(const bstor_result& r) {
    using oj = nlohmann::ordered_json;
    using detail::json_number;
    oj j;
    j["experiment"] = "bstor";
    j["n"] = r.n;
    j["dim"] = r.dim;
    j["beta"] = r.beta;
    j["radius"] = r.radius;
    j["eps"] = 0.0;
    j["preserved"] = r.preserved;
    j["preserved_fraction"] = r.preserved_fraction;
    j["with_duplicates"] = r.with_duplicates;
    j["rechecked_rows"] = r.rechecked;
    j["preserve"] = r.preserve;
    j["beta_for_share"] = r.beta_for_share;
    j["radius_for_share"] = json_number(std::sqrt(2.0 / r.beta_for_share));
    j["curve"] = {{"beta", r.curve_beta},
                  {"preserved", r.curve_count},
                  {"floor", r.curve_floor},
                  {"note",
                   "preserved(beta) = preserved[k] for beta[k] <= beta < beta[k+1]; floor below "
                   "beta[0]"}};
    oj nn = oj::array();
    for (double v : r.nn_sq_distance) nn.push_back(oj(json_number(std::sqrt(v))));
    j["nn_distance"] = nn;
    j["seed_index"] = r.seed_index;
    j["seed_preserved"] = r.seed_preserved;
    j["seed_interacting"] = r.seed_interacting;
    j["sub_indices"] = r.sub_indices;
    j["sub_minima"] = {{"stored", r.sub_minima.stored},
                       {"emergent", r.sub_minima.emergent},
                       {"total", r.sub_minima.minima.size()},
                       {"full_minima", r.sub_full_minima},
                       {"status", std::string(to_string(r.sub_minima.status))}};
    oj subs = oj::array();
    for (const auto& s : r.sub) {
        subs.push_back({{"support", s.support_images},
                        {"stored", s.m.stored},
                        {"energy", oj(json_number(s.m.energy))},
                        {"full_support_size", s.full_support.size()},
                        {"full_support", s.full_support},
                        {"on_boundary", s.on_boundary},
                        {"full_minimum", s.full_minimum}});
    }
    j["sub"] = subs;
    oj full = oj::array();
    for (const auto& m : r.full_emergent)
        full.push_back({{"support", m.support},
                        {"energy", oj(json_number(m.energy))},
                        {"nearest", m.nearest},
                        {"nearest_distance", m.nearest_distance}});
    j["full_emergent"] = full;
    j["starts"] = r.starts;
    j["starts_stored"] = r.starts_stored;
    j["starts_not_minimum"] = r.starts_not_minimum;
    j["seconds_neighbours"] = r.seconds_neighbours;
    j["seconds"] = r.seconds;
    j["paper"] = {{"beta", 0.11},
                  {"preserved_fraction", 0.5},
                  {"seed_interacting", 7300},
                  {"data", "MNIST train, 60,000 images"}};
    return j.dump();
}

}  // namespace denseam
