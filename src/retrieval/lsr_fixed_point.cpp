// SPDX-License-Identifier: MIT
// The exact LSR fixed point: paper Algorithm 1 with the strict boundary rule, distances and
// means in double (docs/numerics.md, Retrieval).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

#include "engine/distance.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"
#include "kernels/policies.hpp"
#include "retrieval/lsr_sets.hpp"
#include "retrieval/methods.hpp"

namespace denseam::detail {

namespace {

/// The strict active sets of a batch of states against a large memory set: squared distances
/// from a double GEMM (||x||^2 + ||xi||^2 - 2 x.xi) decide every pair farther than a rounding
/// bound from the boundary; the pairs within it are decided by sq_dist, like
/// lsr_active_set(). The members' q are then recomputed by sq_dist in index order, so the sets,
/// Z and `boundary` are bit for bit those of lsr_active_set().
void lsr_active_sets_gemm(matrix_view<const double> mem,
                          const std::vector<double>& mem_norm,
                          double mem_norm_max,
                          const std::vector<std::int64_t>& rows,
                          const std::vector<std::vector<double>>& xs,
                          double half_beta,
                          double eps,
                          std::vector<std::vector<std::int64_t>>& sets,
                          std::vector<double>& zs,
                          std::vector<std::uint8_t>& boundary,
                          const exec_options& exec) {
    constexpr std::int64_t chunk = 2048;
    const std::int64_t nq = static_cast<std::int64_t>(rows.size()), dim = mem.cols;
    const std::int64_t n_chunks = (mem.rows + chunk - 1) / chunk;
    const double r2 = 1.0 / half_beta;
    std::vector<double> xmat(static_cast<std::size_t>(nq * dim)),
        xnorm(static_cast<std::size_t>(nq));
    for (std::int64_t a = 0; a < nq; ++a) {
        const auto& x = xs[static_cast<std::size_t>(rows[static_cast<std::size_t>(a)])];
        std::copy(x.begin(), x.end(), xmat.begin() + a * dim);
        double s = 0.0;
        for (double v : x) s += v * v;
        xnorm[static_cast<std::size_t>(a)] = s;
    }
    // Candidates per (chunk, query): members for sure, and the pairs to decide exactly.
    std::vector<std::vector<std::int64_t>> cand(static_cast<std::size_t>(n_chunks * nq));
    // |GEMM d2 - sq_dist d2| <= (3 gamma_d + gamma_d) (|x|^2 + |xi|^2) with gamma_d ~ d 2^-53, and
    // sq_dist's own rounding (gamma_d d2 <= 2 gamma_d (|x|^2 + |xi|^2)): 8 (d + 8) 2^-53 covers
    // both.
    const double tau = 8.0 * double(dim + 8) * 0x1p-53;
    parallel_for(n_chunks, exec, [&](std::int64_t c) {
        const std::int64_t m0 = c * chunk, nm = std::min(chunk, mem.rows - m0);
        std::vector<double> g(static_cast<std::size_t>(nq * nm));
        gemm(gemm_op::transposed,
             nq,
             nm,
             dim,
             1.0,
             xmat.data(),
             dim,
             mem.row(m0),
             mem.ld,
             0.0,
             g.data(),
             nm);
        for (std::int64_t a = 0; a < nq; ++a) {
            const double xn = xnorm[static_cast<std::size_t>(a)];
            const double band = tau * (xn + mem_norm_max) + 1e-300;
            auto& out = cand[static_cast<std::size_t>(c * nq + a)];
            for (std::int64_t j = 0; j < nm; ++j) {
                const double d2 = xn + mem_norm[static_cast<std::size_t>(m0 + j)] -
                                  2.0 * g[static_cast<std::size_t>(a * nm + j)];
                if (d2 <= r2 + band) out.push_back(m0 + j);
            }
        }
    });
    parallel_for(nq, exec, [&](std::int64_t a) {
        const std::int64_t i = rows[static_cast<std::size_t>(a)];
        const double* x = xs[static_cast<std::size_t>(i)].data();
        auto& set = sets[static_cast<std::size_t>(i)];
        set.clear();
        bool b = false;
        double z = eps;
        for (std::int64_t c = 0; c < n_chunks; ++c)
            for (std::int64_t m : cand[static_cast<std::size_t>(c * nq + a)]) {
                const double q = half_beta * sq_dist(x, mem.row(m), dim);
                if (q < 1.0) {
                    set.push_back(m);
                    z += 1.0 - q;
                } else if (q == 1.0) {
                    b = true;
                }
            }
        zs[static_cast<std::size_t>(i)] = z;
        boundary[static_cast<std::size_t>(i)] = b;
    });
}

}  // namespace

template <class T>
retrieve_result<T> lsr_fixed_point(const retrieval_call<T>& call) {
    const auto mem = call.memories, qry = call.queries;
    const auto& prm = call.params;
    const auto& opt = call.options;
    const auto& exec = call.exec;
    const std::int64_t n = qry.rows, dim = qry.cols;
    auto res = make_result<T>(n, dim);
    const double half_beta = 0.5 * prm.beta;

    // Every query is a small state machine; all advance one support-set evaluation per round.
    // The active sets of a round come from lsr_active_set() per query, or, for large double
    // memory sets and several queries, from one GEMM over the round's queries (same sets).
    std::vector<std::vector<double>> xs(static_cast<std::size_t>(n));
    std::vector<std::vector<std::int64_t>> sets(static_cast<std::size_t>(n)),
        prevs(static_cast<std::size_t>(n));
    std::vector<double> zs(static_cast<std::size_t>(n), 0.0);
    std::vector<std::uint8_t> boundary(static_cast<std::size_t>(n), 0),
        have_prev(static_cast<std::size_t>(n), 0), done(static_cast<std::size_t>(n), 0);
    std::vector<retrieval_status> status(static_cast<std::size_t>(n), retrieval_status::max_steps);
    for (std::int64_t i = 0; i < n; ++i)
        xs[static_cast<std::size_t>(i)].assign(qry.row(i), qry.row(i) + dim);

    // A range index (the caller's or one built for the call) finds the sets when there is one.
    std::unique_ptr<range_index<T>> owned;
    const range_index<T>* index = call_index(call, owned);
    const double search_r2 = support_search_r2(prm.beta);
    auto active_set =
        [&](const double* x, std::vector<std::int64_t>& set, std::vector<double>& d2, bool& b) {
            return index != nullptr ? lsr_active_set_indexed(
                                          *index, x, half_beta, prm.eps, search_r2, set, d2, b)
                                    : lsr_active_set(mem, x, half_beta, prm.eps, set, b);
        };

    bool use_gemm = false;
    std::vector<double> mem_norm;
    double mem_norm_max = 0.0;
    if constexpr (std::is_same_v<T, double>) {
        use_gemm = index == nullptr && n >= 4 && mem.rows * dim >= (std::int64_t(1) << 22);
        if (use_gemm) {
            mem_norm.resize(static_cast<std::size_t>(mem.rows));
            for (std::int64_t m = 0; m < mem.rows; ++m) {
                double s = 0.0;
                for (std::int64_t k = 0; k < dim; ++k) s += mem(m, k) * mem(m, k);
                mem_norm[static_cast<std::size_t>(m)] = s;
                mem_norm_max = std::max(mem_norm_max, s);
            }
        }
    }

    // One support-set evaluation of query i (its set already in sets[i] when sets_done):
    // stop, or move x to the mean of the set.
    auto advance =
        [&](std::size_t i, bool sets_done, std::vector<double>& centroid, std::vector<double>& d2) {
            auto& set = sets[i];
            if (!sets_done) {
                bool b = false;
                zs[i] = active_set(xs[i].data(), set, d2, b);
                boundary[i] = b;
            }
            ++res.steps[i];
            if (lsr_stops(set, prevs[i], have_prev[i] != 0, boundary[i] != 0, status[i])) {
                done[i] = 1;
                return;
            }
            std::fill(centroid.begin(), centroid.end(), 0.0);
            for (std::int64_t m : set)
                for (std::int64_t k = 0; k < dim; ++k)
                    centroid[static_cast<std::size_t>(k)] += static_cast<double>(mem(m, k));
            for (auto& c : centroid) c /= static_cast<double>(set.size());
            xs[i] = centroid;
            std::swap(prevs[i], set);
            have_prev[i] = 1;
        };

    if (index != nullptr) {
        // Query by query to the end: the memories near a query stay in cache across its
        // iterations (every query is its own state machine, so the order changes nothing).
        const std::int64_t n_blocks = (n + query_block - 1) / query_block;
        parallel_for(n_blocks, exec, [&](std::int64_t blk, loop_control& ctl) {
            std::vector<double> centroid(static_cast<std::size_t>(dim)), d2;
            for (std::int64_t a = blk * query_block; a < std::min(n, (blk + 1) * query_block);
                 ++a) {
                if (ctl.poll()) return;
                const auto i = static_cast<std::size_t>(a);
                for (std::int64_t t = 0; t < opt.max_steps && !done[i]; ++t)
                    advance(i, false, centroid, d2);
            }
        });
    }
    for (std::int64_t round = 0; index == nullptr && round < opt.max_steps; ++round) {
        std::vector<std::int64_t> active;
        for (std::int64_t i = 0; i < n; ++i)
            if (!done[static_cast<std::size_t>(i)]) active.push_back(i);
        if (active.empty()) break;
        const auto n_act = static_cast<std::int64_t>(active.size());
        if constexpr (std::is_same_v<T, double>) {
            if (use_gemm && n_act >= 4)
                lsr_active_sets_gemm(mem,
                                     mem_norm,
                                     mem_norm_max,
                                     active,
                                     xs,
                                     half_beta,
                                     prm.eps,
                                     sets,
                                     zs,
                                     boundary,
                                     exec);
        }
        const bool sets_done = use_gemm && n_act >= 4;
        const std::int64_t n_blocks = (n_act + query_block - 1) / query_block;
        parallel_for(n_blocks, exec, [&](std::int64_t blk) {
            std::vector<double> centroid(static_cast<std::size_t>(dim)), d2;
            for (std::int64_t a = blk * query_block; a < std::min(n_act, (blk + 1) * query_block);
                 ++a)
                advance(static_cast<std::size_t>(active[static_cast<std::size_t>(a)]),
                        sets_done,
                        centroid,
                        d2);
        });
    }

    parallel_for(n, exec, [&](std::int64_t ii) {
        const auto i = static_cast<std::size_t>(ii);
        auto& x = xs[i];
        auto& set = sets[i];
        // At max_steps the last update moved x: its set is prevs (the set x is the mean of).
        if (!done[i] && have_prev[i]) std::swap(set, prevs[i]);
        // The state returned is x rounded to T; support and energy describe that state.
        std::vector<double> returned(static_cast<std::size_t>(dim));
        bool rounded = false;
        for (std::int64_t k = 0; k < dim; ++k) {
            const auto kk = static_cast<std::size_t>(k);
            returned[kk] = static_cast<double>(static_cast<T>(x[kk]));
            rounded = rounded || !(returned[kk] == x[kk]);
        }
        double z = zs[i];
        if (rounded || (status[i] == retrieval_status::max_steps && have_prev[i])) {
            // Recompute them when the last update moved x (max_steps) or the rounding did
            // (T = float; one O(M d) pass). A converged float state stays converged only if
            // the rounding kept its strict active set exactly S with no memory on the
            // boundary: then it lies in the open region where Z is the concave quadratic
            // of S, within rounding of its maximum. Otherwise the state returned is no
            // minimum: E falls at first order towards a memory gained or on the boundary,
            // and away from one lost (there Z = Z_S + (q - 1)). So the status is
            // not_minimum, with the support and energy of the state returned (the minimum
            // is at mean(S), but its rounding to T left the region of S).
            std::vector<std::int64_t> again;
            std::vector<double> d2;
            bool b = false;
            const double zr = active_set(returned.data(), again, d2, b);
            if (status[i] == retrieval_status::converged && (b || again != set))
                status[i] = retrieval_status::not_minimum;
            set.swap(again);
            z = zr;
        }
        for (std::int64_t k = 0; k < dim; ++k)
            res.states[i * static_cast<std::size_t>(dim) + static_cast<std::size_t>(k)] =
                static_cast<T>(x[static_cast<std::size_t>(k)]);
        res.energy[i] = static_cast<T>(log_energy(z, prm.beta));
        res.status[i] = status[i];
    });
    res.support.offsets.assign(1, 0);
    for (const auto& s : sets) {
        res.support.indices.insert(res.support.indices.end(), s.begin(), s.end());
        res.support.offsets.push_back(static_cast<std::int64_t>(res.support.indices.size()));
    }
    return res;
}

template retrieve_result<float> lsr_fixed_point(const retrieval_call<float>&);
template retrieve_result<double> lsr_fixed_point(const retrieval_call<double>&);

}  // namespace denseam::detail
