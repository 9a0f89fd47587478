// SPDX-License-Identifier: MIT
// The exact LSR fixed point (paper Algorithm 1, strict boundary rule) over sharded memories.
// Each query of a batch is owned by one rank. Per round the owner sends the query's state only to
// the ranks whose shard's bounding box meets its support ball (radius R = sqrt(2/beta)); each
// answers with its members (global rows), their sum of (1 - q), whether a memory lies exactly on
// the boundary, and the sum of the members; the owner merges the answers in rank order and takes
// the same step as lsr_fixed_point.cpp. A box is skipped only when no point of it is within R.
#include <algorithm>
#include <cmath>
#include <string>

#include "denseam/error.hpp"
#include "dist/comm.hpp"
#include "dist/internal.hpp"
#include "engine/parallel.hpp"
#include "kernels/policies.hpp"
#include "retrieval/lsr_sets.hpp"
#include "retrieval/methods.hpp"

namespace denseam::dist::detail_dist {

namespace {

// Whether the ball (x, r2) meets rank r's box; generous by a relative 1e-9, so that rounding
// never skips a rank with a member.
bool meets(const std::vector<double>& boxes, int r, const double* x, std::int64_t d, double r2) {
    const double* lo = boxes.data() + static_cast<std::size_t>(r) * 2 * static_cast<std::size_t>(d);
    const double* hi = lo + d;
    double g2 = 0.0;
    for (std::int64_t k = 0; k < d; ++k) {
        const double gap = std::max({lo[k] - x[k], 0.0, x[k] - hi[k]});
        g2 += gap * gap;
        if (!(g2 <= r2 * (1.0 + 1e-9))) return false;
    }
    return true;
}

// One rank's answer for one query.
struct answer {
    std::vector<std::int64_t> ids;
    double z = 0.0;
    bool boundary = false;
    std::vector<double> sum;
};

}  // namespace

template <class T>
retrieve_result<T> fixed_point_batch(context& ctx,
                                     const shard<T>& mem,
                                     fixed_point_state<T>& fp,
                                     matrix_view<const T> xb,
                                     const energy_params& prm,
                                     const retrieve_options& opt,
                                     const exec_options& exec) {
    const int n = ctx.size(), me = ctx.rank();
    const std::int64_t nb = xb.rows, d = xb.cols;
    const auto ud = static_cast<std::size_t>(d);
    const double half_beta = 0.5 * prm.beta, r2 = 2.0 / prm.beta;
    const double search_r2 = detail::support_search_r2(prm.beta);
    if (!fp.built) {
        if (mem.size() > 0)
            fp.index = detail::index_for_call(mem.view(), prm, fp.n_queries, xb, exec);
        fp.built = true;
    }
    const std::int64_t lo = slice_begin(nb, me, n), cnt = slice_begin(nb, me + 1, n) - lo;
    const auto ucnt = static_cast<std::size_t>(cnt);

    // This rank's members of the ball of x: positions in the shard, then global rows
    // (thread-safe: its scratch is its own).
    auto local = [&](const double* x, answer& a) {
        std::vector<std::int64_t> pos;
        std::vector<double> d2;
        bool b = false;
        a.z = fp.index != nullptr ? detail::lsr_active_set_indexed(
                                        *fp.index, x, half_beta, 0.0, search_r2, pos, d2, b)
                                  : detail::lsr_active_set(mem.view(), x, half_beta, 0.0, pos, b);
        a.boundary = b;
        a.sum.assign(ud, 0.0);
        a.ids.resize(pos.size());
        for (std::size_t i = 0; i < pos.size(); ++i) {
            const T* row = mem.rows.data() + static_cast<std::size_t>(pos[i]) * ud;
            for (std::size_t k = 0; k < ud; ++k) a.sum[k] += static_cast<double>(row[k]);
            a.ids[i] = mem.ids[static_cast<std::size_t>(pos[i])];
        }
    };

    // The merged active sets of the owned queries `which` at the states xs[j] (collective):
    // sets (global rows, increasing), Z = eps + sum (1 - q), boundary flags, member sums.
    std::vector<std::vector<double>> xs(ucnt);
    std::vector<std::vector<std::int64_t>> sets(ucnt), prevs(ucnt);
    std::vector<double> zs(ucnt, 0.0);
    std::vector<std::uint8_t> boundary(ucnt, 0), have_prev(ucnt, 0), done(ucnt, 0);
    std::vector<std::vector<double>> sums(ucnt);
    auto evaluate = [&](const std::vector<std::int64_t>& which) {
        std::vector<std::vector<double>> req(static_cast<std::size_t>(n));
        std::vector<std::vector<answer>> parts(ucnt, std::vector<answer>());
        std::vector<std::int64_t> self;
        auto& t = ctx.local_traffic();
        for (auto j : which) {
            const double* x = xs[static_cast<std::size_t>(j)].data();
            for (int r = 0; r < n; ++r) {
                if (mem.sizes[static_cast<std::size_t>(r)] == 0 || !meets(mem.boxes, r, x, d, r2))
                    continue;
                if (r == me) {
                    self.push_back(j);
                    continue;
                }
                auto& q = req[static_cast<std::size_t>(r)];
                q.push_back(static_cast<double>(j));
                q.insert(q.end(), x, x + d);
                ++t.requests;
            }
            t.requests_broadcast += n - 1;
        }
        std::vector<double> send;
        std::vector<std::int64_t> sendcounts, recvcounts;
        for (auto& q : req) {
            sendcounts.push_back(static_cast<std::int64_t>(q.size()));
            send.insert(send.end(), q.begin(), q.end());
        }
        const std::vector<double> got = comm::alltoallv_counted(ctx, send, sendcounts, recvcounts);

        // Answer every request (in parallel, each into its own slot), then pack them source by
        // source: [j, |S|, boundary, z, sum (d), rows (|S|)].
        std::vector<std::size_t> req_off, req_src;
        {
            std::size_t off = 0;
            for (int r = 0; r < n; ++r) {
                const std::size_t end =
                    off + static_cast<std::size_t>(recvcounts[static_cast<std::size_t>(r)]);
                for (; off < end; off += 1 + ud) {
                    req_off.push_back(off);
                    req_src.push_back(static_cast<std::size_t>(r));
                }
            }
        }
        std::vector<answer> answers(req_off.size());
        detail::parallel_for(static_cast<std::int64_t>(answers.size()), exec, [&](std::int64_t a) {
            const auto ua = static_cast<std::size_t>(a);
            local(got.data() + req_off[ua] + 1, answers[ua]);
        });
        std::vector<std::vector<double>> rep(static_cast<std::size_t>(n));
        for (std::size_t a = 0; a < answers.size(); ++a) {
            const answer& x = answers[a];
            auto& o = rep[req_src[a]];
            o.push_back(got[req_off[a]]);
            o.push_back(static_cast<double>(x.ids.size()));
            o.push_back(x.boundary ? 1.0 : 0.0);
            o.push_back(x.z);
            o.insert(o.end(), x.sum.begin(), x.sum.end());
            for (auto id : x.ids) o.push_back(static_cast<double>(id));
        }
        // This rank's own queries in reach of its shard, also in parallel.
        std::vector<answer> own(self.size());
        detail::parallel_for(static_cast<std::int64_t>(own.size()), exec, [&](std::int64_t a) {
            const auto ua = static_cast<std::size_t>(a);
            local(xs[static_cast<std::size_t>(self[ua])].data(), own[ua]);
        });
        send.clear();
        sendcounts.clear();
        for (auto& o : rep) {
            sendcounts.push_back(static_cast<std::int64_t>(o.size()));
            send.insert(send.end(), o.begin(), o.end());
        }
        const std::vector<double> back = comm::alltoallv_counted(ctx, send, sendcounts, recvcounts);

        // Every query's answers in rank order (this rank's own at its place).
        std::size_t off = 0;
        auto take_self = [&] {
            for (std::size_t a = 0; a < self.size(); ++a) {
                const auto j = static_cast<std::size_t>(self[a]);
                parts[j].push_back(std::move(own[a]));
            }
        };
        for (int r = 0; r < n; ++r) {
            if (r == me) take_self();
            const std::size_t end =
                off + static_cast<std::size_t>(recvcounts[static_cast<std::size_t>(r)]);
            while (off < end) {
                const auto j = static_cast<std::size_t>(back[off]);
                const auto m = static_cast<std::size_t>(back[off + 1]);
                answer s;
                s.boundary = back[off + 2] != 0.0;
                s.z = back[off + 3];
                s.sum.assign(back.begin() + static_cast<std::ptrdiff_t>(off + 4),
                             back.begin() + static_cast<std::ptrdiff_t>(off + 4 + ud));
                for (std::size_t i = 0; i < m; ++i)
                    s.ids.push_back(static_cast<std::int64_t>(back[off + 4 + ud + i]));
                parts[j].push_back(std::move(s));
                off += 4 + ud + m;
            }
        }
        for (auto jj : which) {
            const auto j = static_cast<std::size_t>(jj);
            // Answers arrive grouped by source rank, in rank order, the own one at its place.
            auto& set = sets[j];
            set.clear();
            double z = prm.eps;
            bool b = false;
            sums[j].assign(ud, 0.0);
            for (const auto& p : parts[j]) {
                set.insert(set.end(), p.ids.begin(), p.ids.end());
                z += p.z;
                b = b || p.boundary;
                for (std::size_t k = 0; k < ud; ++k) sums[j][k] += p.sum[k];
            }
            if (!std::is_sorted(set.begin(), set.end())) std::sort(set.begin(), set.end());
            zs[j] = z;
            boundary[j] = b;
        }
    };

    retrieve_result<T> res = detail::make_result<T>(cnt, d);
    std::vector<retrieval_status> status(ucnt, retrieval_status::max_steps);
    for (std::size_t j = 0; j < ucnt; ++j)
        xs[j].assign(xb.row(lo + static_cast<std::int64_t>(j)),
                     xb.row(lo + static_cast<std::int64_t>(j)) + d);

    for (std::int64_t round = 0; round < opt.max_steps; ++round) {
        std::vector<std::int64_t> which;
        for (std::int64_t j = 0; j < cnt; ++j)
            if (!done[static_cast<std::size_t>(j)]) which.push_back(j);
        if (comm::sum(ctx, static_cast<std::int64_t>(which.size())) == 0) break;
        evaluate(which);
        for (auto jj : which) {
            const auto j = static_cast<std::size_t>(jj);
            auto& set = sets[j];
            ++res.steps[j];
            if (detail::lsr_stops(set, prevs[j], have_prev[j] != 0, boundary[j] != 0, status[j])) {
                done[j] = 1;
                continue;
            }
            for (auto& c : sums[j]) c /= static_cast<double>(set.size());
            xs[j] = sums[j];
            std::swap(prevs[j], set);
            have_prev[j] = 1;
        }
    }

    // The state returned is x rounded to T; its support and energy are recomputed where the last
    // update or the rounding moved it (as lsr_fixed_point.cpp does).
    std::vector<std::int64_t> recheck;
    std::vector<std::vector<std::int64_t>> kept(ucnt);
    std::vector<double> kept_z(ucnt);
    for (std::size_t j = 0; j < ucnt; ++j) {
        if (!done[j] && have_prev[j]) std::swap(sets[j], prevs[j]);
        bool rounded = false;
        for (std::size_t k = 0; k < ud; ++k) {
            const double v = static_cast<double>(static_cast<T>(xs[j][k]));
            rounded = rounded || !(v == xs[j][k]);
        }
        for (std::size_t k = 0; k < ud; ++k) res.states[j * ud + k] = static_cast<T>(xs[j][k]);
        if (rounded || (status[j] == retrieval_status::max_steps && have_prev[j])) {
            recheck.push_back(static_cast<std::int64_t>(j));
            kept[j] = sets[j];
            for (std::size_t k = 0; k < ud; ++k)
                xs[j][k] = static_cast<double>(res.states[j * ud + k]);
        }
    }
    if (comm::sum(ctx, static_cast<std::int64_t>(recheck.size())) > 0) evaluate(recheck);
    for (auto jj : recheck) {
        const auto j = static_cast<std::size_t>(jj);
        if (status[j] == retrieval_status::converged && (boundary[j] || sets[j] != kept[j]))
            status[j] = retrieval_status::not_minimum;
    }
    for (std::size_t j = 0; j < ucnt; ++j) {
        res.energy[j] = static_cast<T>(detail::log_energy(zs[j], prm.beta));
        res.status[j] = status[j];
    }

    // To rank 0: [status, steps, energy, |S|, state (d), rows (|S|)] per query, in query order.
    std::vector<double> mine;
    for (std::size_t j = 0; j < ucnt; ++j) {
        mine.push_back(static_cast<double>(static_cast<int>(res.status[j])));
        mine.push_back(static_cast<double>(res.steps[j]));
        mine.push_back(static_cast<double>(res.energy[j]));
        mine.push_back(static_cast<double>(sets[j].size()));
        for (std::size_t k = 0; k < ud; ++k)
            mine.push_back(static_cast<double>(res.states[j * ud + k]));
        for (auto id : sets[j]) mine.push_back(static_cast<double>(id));
    }
    std::vector<std::int64_t> counts;
    const std::vector<double> all = comm::gatherv(ctx, mine, counts);
    retrieve_result<T> out;
    if (me != 0) return out;
    out = detail::make_result<T>(nb, d);
    out.support.offsets.assign(1, 0);
    std::size_t off = 0;
    for (std::int64_t i = 0; i < nb; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        out.status[ui] = static_cast<retrieval_status>(static_cast<int>(all[off]));
        out.steps[ui] = static_cast<std::int64_t>(all[off + 1]);
        out.energy[ui] = static_cast<T>(all[off + 2]);
        const auto m = static_cast<std::size_t>(all[off + 3]);
        for (std::size_t k = 0; k < ud; ++k)
            out.states[ui * ud + k] = static_cast<T>(all[off + 4 + k]);
        for (std::size_t s = 0; s < m; ++s)
            out.support.indices.push_back(static_cast<std::int64_t>(all[off + 4 + ud + s]));
        out.support.offsets.push_back(static_cast<std::int64_t>(out.support.indices.size()));
        off += 4 + ud + m;
    }
    return out;
}

template retrieve_result<float> fixed_point_batch(context&,
                                                  const shard<float>&,
                                                  fixed_point_state<float>&,
                                                  matrix_view<const float>,
                                                  const energy_params&,
                                                  const retrieve_options&,
                                                  const exec_options&);
template retrieve_result<double> fixed_point_batch(context&,
                                                   const shard<double>&,
                                                   fixed_point_state<double>&,
                                                   matrix_view<const double>,
                                                   const energy_params&,
                                                   const retrieve_options&,
                                                   const exec_options&);

}  // namespace denseam::dist::detail_dist
