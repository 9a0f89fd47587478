// SPDX-License-Identifier: MIT
// The exact nearest distinct neighbour of every pattern: float GEMM tiles over the pairs i < j
// find candidates, double precision decides (include/denseam/neighbours.hpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "denseam/error.hpp"
#include "denseam/neighbours.hpp"
#include "engine/distance.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"
#include "engine/resources.hpp"
#include "engine/validate.hpp"

namespace denseam {
namespace {

constexpr int K = 8;              // float candidates kept per row
constexpr std::int64_t TB = 512;  // rows and columns of a tile
constexpr float kInf = std::numeric_limits<float>::infinity();

struct cand {
    float v;
    std::int32_t j;
};
inline bool before(cand a, cand b) noexcept {
    return a.v < b.v || (a.v == b.v && a.j < b.j);
}

/// One thread's candidates: the K smallest (v, j) seen for every row, in order.
struct thread_state {
    std::vector<float> thr;         // per row: the K-th smallest v so far (inf until K are held)
    std::vector<cand> buf;          // N x K
    std::vector<std::uint8_t> cnt;  // per row: candidates held
    std::vector<float> tile;        // TB x TB
    std::vector<float> ga, gb;      // gathered rows of a partial tile
    std::vector<std::int64_t> ri, cj, rest, all_i, all_j;
    explicit thread_state(std::int64_t n)
        : thr(static_cast<std::size_t>(n), kInf),
          buf(static_cast<std::size_t>(n * K)),
          cnt(static_cast<std::size_t>(n), 0),
          tile(static_cast<std::size_t>(TB * TB)) {}

    void insert(std::int64_t row, float v, std::int32_t j) noexcept {
        cand* b = buf.data() + row * K;
        const int c = cnt[static_cast<std::size_t>(row)];
        const cand x{v, j};
        int p;
        if (c < K) {
            p = c;
            cnt[static_cast<std::size_t>(row)] = static_cast<std::uint8_t>(c + 1);
        } else {
            if (!before(x, b[K - 1])) return;
            p = K - 1;
        }
        while (p > 0 && before(x, b[p - 1])) {
            b[p] = b[p - 1];
            --p;
        }
        b[p] = x;
        if (cnt[static_cast<std::size_t>(row)] == K)
            thr[static_cast<std::size_t>(row)] = b[K - 1].v;
    }
};

}  // namespace

nearest_result nearest_distinct_neighbours(matrix_view<const double> x,
                                           const nearest_progress& progress,
                                           const exec_options& exec) {
    const auto t_start = std::chrono::steady_clock::now();
    validate(exec);
    if (x.empty() || x.cols < 1)
        throw invalid_argument("patterns: expected a non-empty (N x d) array");
    detail::check_finite(x, "patterns");
    const std::int64_t n = x.rows, d = x.cols;
    if (n >= (std::int64_t(1) << 31) - 1)
        throw invalid_argument("patterns: at most 2^31 - 2 rows (got " + std::to_string(n) + ")");
    const int threads = std::max(1, resolved_threads(exec));
    detail::require_memory(4.0 * double(n) * double(d) +
                               double(threads) * (double(n) * (K * 8.0 + 5.0) + 4.0 * TB * TB),
                           "the nearest-neighbour pass over " + std::to_string(n) + " x " +
                               std::to_string(d) + " patterns");

    // Rows are processed in order of increasing norm (pos -> original index `perm`), so that a
    // tile of rows far apart in norm can be skipped: ||x_i - x_j|| >= | ||x_i|| - ||x_j|| |.
    std::vector<double> norm_d(static_cast<std::size_t>(n));
    detail::parallel_for(n, exec, [&](std::int64_t i) {
        double s = 0.0;
        for (std::int64_t k = 0; k < d; ++k) s += x(i, k) * x(i, k);
        norm_d[static_cast<std::size_t>(i)] = s;
    });
    std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
    std::sort(perm.begin(), perm.end(), [&](std::int64_t a, std::int64_t b) {
        const double na = norm_d[static_cast<std::size_t>(a)],
                     nb = norm_d[static_cast<std::size_t>(b)];
        return na < nb || (na == nb && a < b);
    });
    // float copy and float norms (of the float values) in that order, for the GEMM distances.
    std::vector<float> xf(static_cast<std::size_t>(n * d));
    std::vector<float> norm_f(static_cast<std::size_t>(n));
    detail::parallel_for(n, exec, [&](std::int64_t p) {
        const std::int64_t i = perm[static_cast<std::size_t>(p)];
        float* r = xf.data() + p * d;
        double sf = 0.0;
        for (std::int64_t k = 0; k < d; ++k) {
            r[k] = static_cast<float>(x(i, k));
            sf += double(r[k]) * r[k];
        }
        norm_f[static_cast<std::size_t>(p)] = static_cast<float>(sf);
    });
    const double norm_max = *std::max_element(norm_d.begin(), norm_d.end());
    std::vector<double> nrm(static_cast<std::size_t>(n));  // ||x|| in processing order
    for (std::int64_t p = 0; p < n; ++p)
        nrm[static_cast<std::size_t>(p)] =
            std::sqrt(norm_d[static_cast<std::size_t>(perm[static_cast<std::size_t>(p)])]);
    // |float GEMM distance - exact squared distance| <= tau (|x_i|^2 + |x_j|^2): the float
    // conversion, the dot product (gamma_d), the norms and the final sums, with a factor 2.
    const double tau = 2.0 * double(d + 16) * 0x1p-24;
    const double err_max = 2.0 * tau * norm_max;

    // The tiles (I, J), J >= I, in a fixed order: by distance from the diagonal, so that the
    // tiles of similar norms, which hold the nearest neighbours, set the thresholds first.
    const std::int64_t nb = (n + TB - 1) / TB;
    std::vector<double> block_lo(static_cast<std::size_t>(nb)),
        block_hi(static_cast<std::size_t>(nb));
    for (std::int64_t b = 0; b < nb; ++b) {
        block_lo[static_cast<std::size_t>(b)] =
            std::sqrt(norm_d[static_cast<std::size_t>(perm[static_cast<std::size_t>(b * TB)])]);
        block_hi[static_cast<std::size_t>(b)] = std::sqrt(norm_d[static_cast<std::size_t>(
            perm[static_cast<std::size_t>(std::min(n, (b + 1) * TB) - 1)])]);
    }
    std::vector<std::pair<std::int32_t, std::int32_t>> items;
    items.reserve(static_cast<std::size_t>(nb * (nb + 1) / 2));
    for (std::int64_t delta = 0; delta < nb; ++delta)
        for (std::int64_t bi = 0; bi + delta < nb; ++bi)
            items.emplace_back(static_cast<std::int32_t>(bi),
                               static_cast<std::int32_t>(bi + delta));

    std::vector<std::unique_ptr<thread_state>> states(static_cast<std::size_t>(threads));
    std::atomic<int> next_state{0};
    std::atomic<std::int64_t> skipped{0}, partial{0};
    detail::parallel_options popt;
    if (progress) {
        popt.progress = progress;
        popt.progress_total = static_cast<std::int64_t>(items.size());
    }
    detail::parallel_for(
        static_cast<std::int64_t>(items.size()),
        exec,
        popt,
        [&]() {
            const int s = next_state.fetch_add(1);
            states[static_cast<std::size_t>(s)] = std::make_unique<thread_state>(n);
            return states[static_cast<std::size_t>(s)].get();
        },
        [&](thread_state* st, std::int64_t item, detail::loop_control& ctl) {
            ctl.add_done(1);
            const auto [bi, bj] = items[static_cast<std::size_t>(item)];
            const std::int64_t i0 = bi * TB, j0 = bj * TB;
            const std::int64_t ni = std::min(TB, n - i0), nj = std::min(TB, n - j0);
            // A pair (i, j) can enter row i's K kept only if its float distance is <= row i's
            // threshold; it is at least (||x_j|| - ||x_i||)^2 - err_max (norms in double, a
            // relative 1e-9 spared). Rows of I that cannot gain from any j of J, and rows of J
            // that cannot gain from any i of I, need no product between them: the tile is
            // skipped, or only the rows that can gain are multiplied. (A thread's threshold of
            // a row is never below the final K-th smallest over all threads, so the kept
            // candidates and the certificate below are the same as without skipping.)
            float* tile = st->tile.data();
            auto scan_rows = [&](const std::int64_t* ri,
                                 std::int64_t nri,
                                 const std::int64_t* cj,
                                 std::int64_t ncj,
                                 bool diagonal,
                                 std::int64_t ldt) {
                for (std::int64_t a = 0; a < nri; ++a) {
                    float* c = tile + a * ldt;
                    const std::int64_t row = ri[a];
                    const std::int64_t jb = diagonal ? a + 1 : 0;
                    const float nfi = norm_f[static_cast<std::size_t>(row)];
                    for (std::int64_t b = jb; b < ncj; ++b)
                        c[b] = (nfi + norm_f[static_cast<std::size_t>(cj[b])]) - 2.0f * c[b];
                    float ti = st->thr[static_cast<std::size_t>(row)];
                    for (std::int64_t b = jb; b < ncj; ++b) {
                        const float v = c[b];
                        const std::int64_t col = cj[b];
                        if (v <= ti) {
                            st->insert(row, v, static_cast<std::int32_t>(col));
                            ti = st->thr[static_cast<std::size_t>(row)];
                        }
                        if (v <= st->thr[static_cast<std::size_t>(col)])
                            st->insert(col, v, static_cast<std::int32_t>(row));
                    }
                }
            };
            std::vector<std::int64_t>& ri = st->ri;
            std::vector<std::int64_t>& cj = st->cj;
            ri.clear();
            cj.clear();
            const double lo_j = block_lo[static_cast<std::size_t>(bj)];
            const double hi_i = block_hi[static_cast<std::size_t>(bi)];
            if (bi != bj && lo_j > hi_i) {
                for (std::int64_t i = i0; i < i0 + ni; ++i) {
                    const double g = lo_j - nrm[static_cast<std::size_t>(i)];
                    if (double(st->thr[static_cast<std::size_t>(i)]) >=
                        g * g * (1.0 - 1e-9) - err_max)
                        ri.push_back(i);
                }
                for (std::int64_t j = j0; j < j0 + nj; ++j) {
                    const double g = nrm[static_cast<std::size_t>(j)] - hi_i;
                    if (double(st->thr[static_cast<std::size_t>(j)]) >=
                        g * g * (1.0 - 1e-9) - err_max)
                        cj.push_back(j);
                }
                if (ri.empty() && cj.empty()) {
                    skipped.fetch_add(1, std::memory_order_relaxed);
                    return;
                }
                if (static_cast<std::int64_t>(ri.size() + cj.size()) * 4 < ni + nj) {
                    // Rows ri of I against all of J, then the other rows of I against cj.
                    auto gather =
                        [&](const std::int64_t* idx, std::int64_t cnt, std::vector<float>& buf) {
                            buf.resize(static_cast<std::size_t>(cnt * d));
                            for (std::int64_t a = 0; a < cnt; ++a)
                                std::copy(xf.data() + idx[a] * d,
                                          xf.data() + (idx[a] + 1) * d,
                                          buf.begin() + a * d);
                        };
                    std::vector<std::int64_t>& all_j = st->all_j;
                    all_j.resize(static_cast<std::size_t>(nj));
                    for (std::int64_t j = 0; j < nj; ++j)
                        all_j[static_cast<std::size_t>(j)] = j0 + j;
                    if (!ri.empty()) {
                        gather(ri.data(), static_cast<std::int64_t>(ri.size()), st->ga);
                        detail::gemm(detail::gemm_op::transposed,
                                     static_cast<std::int64_t>(ri.size()),
                                     nj,
                                     d,
                                     1.0f,
                                     st->ga.data(),
                                     d,
                                     xf.data() + j0 * d,
                                     d,
                                     0.0f,
                                     tile,
                                     TB);
                        scan_rows(ri.data(),
                                  static_cast<std::int64_t>(ri.size()),
                                  all_j.data(),
                                  nj,
                                  false,
                                  TB);
                    }
                    if (!cj.empty()) {
                        std::vector<std::int64_t>& rest = st->rest;
                        rest.clear();
                        std::size_t k = 0;
                        for (std::int64_t i = i0; i < i0 + ni; ++i) {
                            if (k < ri.size() && ri[k] == i)
                                ++k;
                            else
                                rest.push_back(i);
                        }
                        if (!rest.empty()) {
                            gather(cj.data(), static_cast<std::int64_t>(cj.size()), st->gb);
                            gather(rest.data(), static_cast<std::int64_t>(rest.size()), st->ga);
                            detail::gemm(detail::gemm_op::transposed,
                                         static_cast<std::int64_t>(rest.size()),
                                         static_cast<std::int64_t>(cj.size()),
                                         d,
                                         1.0f,
                                         st->ga.data(),
                                         d,
                                         st->gb.data(),
                                         d,
                                         0.0f,
                                         tile,
                                         TB);
                            scan_rows(rest.data(),
                                      static_cast<std::int64_t>(rest.size()),
                                      cj.data(),
                                      static_cast<std::int64_t>(cj.size()),
                                      false,
                                      TB);
                        }
                    }
                    partial.fetch_add(1, std::memory_order_relaxed);
                    return;
                }
            }
            detail::gemm(detail::gemm_op::transposed,
                         ni,
                         nj,
                         d,
                         1.0f,
                         xf.data() + i0 * d,
                         d,
                         xf.data() + j0 * d,
                         d,
                         0.0f,
                         tile,
                         TB);
            std::vector<std::int64_t>& all_i = st->all_i;
            std::vector<std::int64_t>& all_j = st->all_j;
            all_i.resize(static_cast<std::size_t>(ni));
            all_j.resize(static_cast<std::size_t>(nj));
            for (std::int64_t i = 0; i < ni; ++i) all_i[static_cast<std::size_t>(i)] = i0 + i;
            for (std::int64_t j = 0; j < nj; ++j) all_j[static_cast<std::size_t>(j)] = j0 + j;
            scan_rows(all_i.data(), ni, all_j.data(), nj, bi == bj, TB);
        });

    // Merge: the K smallest (v, j) of every row over all threads (a set that does not depend on
    // the thread count), recomputed in double; rows that cannot be certified are scanned.
    nearest_result res;
    res.sq_distance.assign(static_cast<std::size_t>(n), std::numeric_limits<double>::infinity());
    res.index.assign(static_cast<std::size_t>(n), -1);
    res.duplicates.assign(static_cast<std::size_t>(n), 0);
    std::vector<std::uint8_t> scan(static_cast<std::size_t>(n), 0);
    detail::parallel_for(n, exec, [&](std::int64_t pr) {
        const std::int64_t r = perm[static_cast<std::size_t>(pr)];
        std::vector<cand> all;
        for (const auto& s : states) {
            if (!s) continue;
            const int c = s->cnt[static_cast<std::size_t>(pr)];
            const cand* b = s->buf.data() + pr * K;
            all.insert(all.end(), b, b + c);
        }
        std::sort(all.begin(), all.end(), before);
        const int m = static_cast<int>(all.size());
        const int keep = std::min(m, K);
        double best = std::numeric_limits<double>::infinity();
        std::int64_t best_j = -1, dups = 0;
        for (int k = 0; k < keep; ++k) {
            const std::int64_t j = perm[static_cast<std::size_t>(all[k].j)];
            const double e = detail::sq_dist(x.row(r), x.row(j), d);
            if (e == 0.0)
                ++dups;
            else if (e < best || (e == best && j < best_j)) {
                best = e;
                best_j = j;
            }
        }
        // A thread drops a pair only once it holds K with smaller (v, j), so every pair not among
        // the K kept has a float distance >= all[K-1].v, hence an exact one >=
        // all[K-1].v - tau (|x_r|^2 + |x_j|^2). With fewer than K, no pair was dropped. A pattern
        // with |x_j|^2 > S = (|x_r| + sqrt(best))^2 (1 + 1e-6) is farther than best anyway
        // (||x_r - x_j|| >= |x_j| - |x_r|), so the bound only needs |x_j|^2 <= min(S, max).
        bool certified = m < K;
        if (!certified && std::isfinite(best)) {
            const double nr = norm_d[static_cast<std::size_t>(r)];
            const double reach = std::sqrt(nr) + std::sqrt(best);
            const double s_cap = std::min(norm_max, reach * reach * (1.0 + 1e-6));
            certified = double(all[K - 1].v) - tau * (nr + s_cap) > best;
        }
        if (certified) {
            res.sq_distance[static_cast<std::size_t>(r)] = best;
            res.index[static_cast<std::size_t>(r)] = best_j;
            res.duplicates[static_cast<std::size_t>(r)] = dups;
        } else {
            scan[static_cast<std::size_t>(r)] = 1;
        }
    });
    std::vector<std::int64_t> rows;
    for (std::int64_t r = 0; r < n; ++r)
        if (scan[static_cast<std::size_t>(r)]) rows.push_back(r);
    res.rechecked = static_cast<std::int64_t>(rows.size());
    res.tiles = static_cast<std::int64_t>(items.size());
    res.tiles_skipped = skipped.load();
    res.tiles_partial = partial.load();
    detail::parallel_for(static_cast<std::int64_t>(rows.size()), exec, [&](std::int64_t k) {
        const std::int64_t r = rows[static_cast<std::size_t>(k)];
        double best = std::numeric_limits<double>::infinity();
        std::int64_t best_j = -1, dups = 0;
        for (std::int64_t j = 0; j < n; ++j) {
            if (j == r) continue;
            const double e = detail::sq_dist(x.row(r), x.row(j), d);
            if (e == 0.0)
                ++dups;
            else if (e < best) {
                best = e;
                best_j = j;
            }
        }
        res.sq_distance[static_cast<std::size_t>(r)] = best;
        res.index[static_cast<std::size_t>(r)] = best_j;
        res.duplicates[static_cast<std::size_t>(r)] = dups;
    });
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    return res;
}

}  // namespace denseam
