// SPDX-License-Identifier: MIT
// The exact LSR minima with the enumeration shared by the ranks: every rank holds every pattern
// (the cliques span any split of them) and examines the cliques whose smallest member it owns;
// rank 0 gathers the minima, sorts them by support and counts them.
#include <algorithm>
#include <chrono>

#include "denseam/error.hpp"
#include "dist/comm.hpp"
#include "engine/validate.hpp"
#include "minima/lsr_common.hpp"

namespace denseam::dist {

minima_result find_lsr_minima(context& ctx,
                              matrix_view<const double> patterns,
                              double beta,
                              double eps,
                              const minima_options& options,
                              const exec_options& exec) {
    const auto t0 = std::chrono::steady_clock::now();
    minima_options opt = options;
    if (ctx.rank() != 0) opt.progress = nullptr;  // progress from rank 0 only
    // Bad input is found by every rank alike; anything else in the collective enumeration ends
    // the job (cli/distributed.cpp).
    ctx.agree([&] {
        if (options.max_candidates != 0)
            throw invalid_argument("--max-candidates is not available with --distributed");
        minima_detail::check_lsr_minima_call(beta, eps, options);
        if (patterns.rows < 1 || patterns.cols < 1)
            throw invalid_argument("the pattern set is empty");
        detail::check_finite(patterns, "patterns");
    });
    minima_detail::anchor_share share{ctx.rank(), ctx.size(), {}};
    // The interaction graph: each rank builds the rows it owns; one all-gather of
    // [row, length, neighbours...] completes it everywhere.
    share.complete_graph = [&ctx](std::vector<std::vector<std::int32_t>>& adj) {
        std::vector<double> rows;
        for (std::size_t i = static_cast<std::size_t>(ctx.rank()); i < adj.size();
             i += static_cast<std::size_t>(ctx.size())) {
            rows.push_back(static_cast<double>(i));
            rows.push_back(static_cast<double>(adj[i].size()));
            rows.insert(rows.end(), adj[i].begin(), adj[i].end());
        }
        std::vector<std::int64_t> counts;
        const std::vector<double> all = comm::allgatherv(ctx, rows, counts);
        for (std::size_t off = 0; off < all.size();) {
            auto& row = adj[static_cast<std::size_t>(all[off])];
            const auto len = static_cast<std::size_t>(all[off + 1]);
            row.resize(len);
            for (std::size_t k = 0; k < len; ++k)
                row[k] = static_cast<std::int32_t>(all[off + 2 + k]);
            off += 2 + len;
        }
    };
    const minima_result mine =
        minima_detail::find_lsr_minima_share(patterns, beta, eps, opt, exec, share);
    const std::int64_t dim = patterns.cols;
    // [|S|, energy, hessian_scale, stored, novel, basin_radius, nearest_distance, nearest,
    //  position (dim), support (|S|)] per minimum.
    std::vector<double> buf;
    for (const auto& m : mine.minima) {
        buf.insert(buf.end(),
                   {static_cast<double>(m.support.size()),
                    m.energy,
                    m.hessian_scale,
                    m.stored ? 1.0 : 0.0,
                    m.novel ? 1.0 : 0.0,
                    m.basin_radius,
                    m.nearest_distance,
                    static_cast<double>(m.nearest)});
        buf.insert(buf.end(), m.position.begin(), m.position.end());
        for (auto s : m.support) buf.push_back(static_cast<double>(s));
    }
    const std::int64_t candidates = comm::sum(ctx, mine.candidates);
    const std::int64_t incomplete = comm::sum(ctx, mine.status != minima_status::complete ? 1 : 0);
    std::vector<std::int64_t> counts;
    const std::vector<double> all = comm::gatherv(ctx, buf, counts);
    minima_result res;
    if (ctx.rank() != 0) return res;
    res.candidates = candidates;
    res.status = incomplete > 0 ? minima_status::interrupted : minima_status::complete;
    res.strategy_used = mine.strategy_used;
    const auto ud = static_cast<std::size_t>(dim);
    for (std::size_t off = 0; off < all.size();) {
        minimum m;
        const auto k = static_cast<std::size_t>(all[off]);
        m.energy = all[off + 1];
        m.hessian_scale = all[off + 2];
        m.stored = all[off + 3] != 0.0;
        m.novel = all[off + 4] != 0.0;
        m.basin_radius = all[off + 5];
        m.nearest_distance = all[off + 6];
        m.nearest = static_cast<std::int64_t>(all[off + 7]);
        m.position.assign(all.begin() + static_cast<std::ptrdiff_t>(off + 8),
                          all.begin() + static_cast<std::ptrdiff_t>(off + 8 + ud));
        for (std::size_t s = 0; s < k; ++s)
            m.support.push_back(static_cast<std::int64_t>(all[off + 8 + ud + s]));
        off += 8 + ud + k;
        res.minima.push_back(std::move(m));
    }
    minima_detail::sort_and_count(res);
    res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return res;
}

}  // namespace denseam::dist
