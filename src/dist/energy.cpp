// SPDX-License-Identifier: MIT
// Energies, gradients and gradient-descent retrieval over sharded memories. Per batch of queries
// (on every rank): each rank computes its shard's sums per query with the engine (energy_sums),
// sends them to the rank owning that slice of the batch (one all-to-all: a reduce-scatter), the
// owner merges them in rank order (merge_sums: LSE as (shift, shifted sums), compact kernels as
// plain sums) and finishes each query (finish_query), and the finished rows are gathered.
#include <algorithm>
#include <cstring>
#include <string>

#include "denseam/error.hpp"
#include "dist/comm.hpp"
#include "dist/internal.hpp"
#include "engine/sums.hpp"
#include "engine/tile_engine.hpp"
#include "engine/validate.hpp"
#include "kernels/policies.hpp"
#include "retrieval/descent_loop.hpp"
#include "retrieval/methods.hpp"

namespace denseam::dist {

namespace detail_dist {

template <class T>
void batch_energy(context& ctx,
                  const shard<T>& mem,
                  matrix_view<const T> qry,
                  const energy_params& prm,
                  bool want_grad,
                  bool to_all,
                  const exec_options& exec,
                  std::vector<T>& e,
                  std::vector<T>& g,
                  std::vector<energy_status>& st) {
    const int n = ctx.size(), me = ctx.rank();
    const std::int64_t nb = qry.rows, d = qry.cols;
    const auto [exp_type, distance] = detail::sums_traits(prm.kernel);
    const std::int64_t gd = want_grad ? d : 0;
    const auto per = static_cast<std::size_t>(3 + gd);
    const auto unb = static_cast<std::size_t>(nb);

    // This shard's sums of every query of the batch.
    std::vector<double> shift(unb), z(unb), sw(unb), gs(unb * static_cast<std::size_t>(gd));
    if (mem.size() > 0 && nb > 0) {
        detail::energy_sums(mem.view(),
                            qry,
                            prm,
                            detail::query_sums_out{shift, z, sw, want_grad ? gs.data() : nullptr},
                            exec);
    } else {
        const detail::query_sums none = detail::empty_sums(exp_type);
        std::fill(shift.begin(), shift.end(), none.shift);
    }
    // To the owners of the slices: [shift, z, sw, g...] per query, in query order.
    std::vector<double> send(unb * per);
    for (std::size_t i = 0; i < unb; ++i) {
        double* p = send.data() + i * per;
        p[0] = shift[i];
        p[1] = z[i];
        p[2] = sw[i];
        if (gd > 0) std::copy_n(gs.data() + i * static_cast<std::size_t>(d), d, p + 3);
    }
    std::vector<std::int64_t> sendcounts(static_cast<std::size_t>(n)),
        recvcounts(static_cast<std::size_t>(n));
    const std::int64_t lo = slice_begin(nb, me, n), cnt = slice_begin(nb, me + 1, n) - lo;
    for (int r = 0; r < n; ++r) {
        sendcounts[static_cast<std::size_t>(r)] =
            (slice_begin(nb, r + 1, n) - slice_begin(nb, r, n)) * static_cast<std::int64_t>(per);
        recvcounts[static_cast<std::size_t>(r)] = cnt * static_cast<std::int64_t>(per);
    }
    const std::vector<double> recv = comm::alltoallv(ctx, send, sendcounts, recvcounts);

    // Merge in rank order and finish: [e, status, g...] per query of the slice.
    const auto fper = static_cast<std::size_t>(2 + gd);
    std::vector<double> fin(static_cast<std::size_t>(cnt) * fper),
        gsum(static_cast<std::size_t>(gd));
    std::vector<T> grow(static_cast<std::size_t>(gd));
    for (std::int64_t j = 0; j < cnt; ++j) {
        const detail::query_sums s = detail::merge_sums(
            exp_type,
            n,
            [&](std::int64_t r) {
                const double* p = recv.data() + static_cast<std::size_t>(r * cnt + j) * per;
                return detail::sums_part<double>{p[0], p[1], p[2], gd > 0 ? p + 3 : nullptr};
            },
            std::span<double>(gsum));
        T ev{};
        energy_status sv{};
        detail::finish_query<T>(exp_type,
                                distance,
                                s,
                                gsum.data(),
                                qry.row(lo + j),
                                d,
                                prm,
                                ev,
                                gd > 0 ? grow.data() : nullptr,
                                &sv);
        double* f = fin.data() + static_cast<std::size_t>(j) * fper;
        f[0] = static_cast<double>(ev);
        f[1] = static_cast<double>(static_cast<int>(sv));
        for (std::int64_t k = 0; k < gd; ++k)
            f[2 + k] = static_cast<double>(grow[static_cast<std::size_t>(k)]);
    }
    std::vector<std::int64_t> counts;
    const std::vector<double> all =
        to_all ? comm::allgatherv(ctx, fin, counts) : comm::gatherv(ctx, fin, counts);
    if (!to_all && me != 0) return;
    e.resize(unb);
    st.resize(unb);
    g.resize(unb * static_cast<std::size_t>(gd));
    for (std::size_t i = 0; i < unb; ++i) {
        const double* f = all.data() + i * fper;
        e[i] = static_cast<T>(f[0]);
        st[i] = static_cast<energy_status>(static_cast<int>(f[1]));
        for (std::int64_t k = 0; k < gd; ++k)
            g[i * static_cast<std::size_t>(d) + static_cast<std::size_t>(k)] =
                static_cast<T>(f[2 + k]);
    }
}

template <class T>
std::int64_t share_query_shape(context& ctx, matrix_view<const T> queries) {
    std::vector<std::int64_t> head{queries.rows, queries.cols};
    ctx.broadcast(head);
    return head[0];
}

template <class T>
void check_inputs(context& ctx,
                  const shard<T>& mem,
                  matrix_view<const T> queries,
                  const energy_params& params,
                  std::int64_t batch,
                  const exec_options& exec) {
    ctx.agree([&] {
        validate(params);
        validate(exec);
        if (batch < 1)
            throw invalid_argument("--batch must be >= 1 (got " + std::to_string(batch) + ")");
        if (queries.cols != mem.dim)
            throw invalid_argument("queries have dimension " + std::to_string(queries.cols) +
                                   " but memories have dimension " + std::to_string(mem.dim));
        if (ctx.rank() == 0) detail::check_finite(queries, "queries");
    });
    double a = 0.0;
    if (mem.size() > 0) a = detail::max_abs(mem.view());
    if (ctx.rank() == 0 && queries.rows > 0) a = std::max(a, detail::max_abs(queries));
    const double amax = comm::max(ctx, a);
    ctx.agree([&] {
        detail::check_energy_range(
            matrix_view<const T>(nullptr, mem.total_rows, mem.dim, mem.dim), amax, params);
    });
}

template <class T>
std::vector<T> share_batch(
    context& ctx, matrix_view<const T> queries, std::int64_t b0, std::int64_t nb, std::int64_t d) {
    std::vector<std::byte> bytes;
    if (ctx.rank() == 0) {
        bytes.resize(static_cast<std::size_t>(nb * d) * sizeof(T));
        for (std::int64_t i = 0; i < nb; ++i)
            std::memcpy(bytes.data() + static_cast<std::size_t>(i * d) * sizeof(T),
                        queries.row(b0 + i),
                        static_cast<std::size_t>(d) * sizeof(T));
    }
    ctx.broadcast(bytes);
    std::vector<T> x(static_cast<std::size_t>(nb * d));
    if (!x.empty()) std::memcpy(x.data(), bytes.data(), bytes.size());
    return x;
}

template void batch_energy(context&,
                           const shard<float>&,
                           matrix_view<const float>,
                           const energy_params&,
                           bool,
                           bool,
                           const exec_options&,
                           std::vector<float>&,
                           std::vector<float>&,
                           std::vector<energy_status>&);
template void batch_energy(context&,
                           const shard<double>&,
                           matrix_view<const double>,
                           const energy_params&,
                           bool,
                           bool,
                           const exec_options&,
                           std::vector<double>&,
                           std::vector<double>&,
                           std::vector<energy_status>&);
template std::int64_t share_query_shape(context&, matrix_view<const float>);
template std::int64_t share_query_shape(context&, matrix_view<const double>);
template void check_inputs(context&,
                           const shard<float>&,
                           matrix_view<const float>,
                           const energy_params&,
                           std::int64_t,
                           const exec_options&);
template void check_inputs(context&,
                           const shard<double>&,
                           matrix_view<const double>,
                           const energy_params&,
                           std::int64_t,
                           const exec_options&);
template std::vector<float> share_batch(
    context&, matrix_view<const float>, std::int64_t, std::int64_t, std::int64_t);
template std::vector<double> share_batch(
    context&, matrix_view<const double>, std::int64_t, std::int64_t, std::int64_t);

}  // namespace detail_dist

using namespace detail_dist;

template <class T>
void energy_and_grad(context& ctx,
                     const shard<T>& mem,
                     matrix_view<const T> queries,
                     const energy_params& params,
                     std::span<T> energy,
                     matrix_view<T> grad,
                     std::span<energy_status> status,
                     bool want_grad,
                     std::int64_t batch,
                     const exec_options& exec) {
    const std::int64_t n = share_query_shape(ctx, queries), d = mem.dim;
    check_inputs(ctx, mem, queries, params, batch, exec);
    std::vector<T> e, g;
    std::vector<energy_status> st;
    for (std::int64_t b0 = 0; b0 < n; b0 += batch) {
        const std::int64_t nb = std::min(batch, n - b0);
        const std::vector<T> x = share_batch(ctx, queries, b0, nb, d);
        batch_energy(ctx,
                     mem,
                     matrix_view<const T>(x.data(), nb, d, d),
                     params,
                     want_grad,
                     false,
                     exec,
                     e,
                     g,
                     st);
        if (ctx.rank() != 0) continue;
        std::copy(e.begin(), e.end(), energy.begin() + b0);
        if (!status.empty()) std::copy(st.begin(), st.end(), status.begin() + b0);
        if (want_grad)
            for (std::int64_t i = 0; i < nb; ++i)
                std::copy_n(g.data() + i * d, d, grad.row(b0 + i));
    }
}

template <class T>
retrieve_result<T> gradient_batch(context& ctx,
                                  const shard<T>& mem,
                                  matrix_view<const T> xb,
                                  const energy_params& prm,
                                  const retrieve_options& opt,
                                  std::int64_t first_query,
                                  const exec_options& exec) {
    const std::int64_t nb = xb.rows, d = xb.cols;
    auto res = detail::make_result<T>(nb, d);
    for (std::int64_t i = 0; i < nb; ++i) std::copy_n(xb.row(i), d, res.states.begin() + i * d);
    std::vector<char> clamped(static_cast<std::size_t>(d), 0);
    for (auto c : opt.clamp) clamped[static_cast<std::size_t>(c)] = 1;
    const bool use_beta_schedule = detail::uses_beta_schedule(opt);
    std::vector<std::int64_t> active(static_cast<std::size_t>(nb));
    for (std::int64_t i = 0; i < nb; ++i) active[static_cast<std::size_t>(i)] = i;
    std::vector<T> ev, gv;
    std::vector<energy_status> sv;
    detail::descent_loop(
        opt,
        clamped,
        has_compact_support(prm.kernel),
        std::move(active),
        d,
        res,
        [&](std::int64_t t,
            matrix_view<const T> xs,
            std::span<T> e,
            matrix_view<T> grad,
            std::span<energy_status> st) {
            energy_params p = prm;
            if (use_beta_schedule) p.beta = opt.beta.at(t, opt.max_steps);
            batch_energy(ctx, mem, xs, p, true, true, exec, ev, gv, sv);
            std::copy(ev.begin(), ev.end(), e.begin());
            std::copy(sv.begin(), sv.end(), st.begin());
            std::copy(gv.begin(), gv.end(), grad.data);
        },
        first_query);
    detail::final_energies_with(res, d, [&](matrix_view<const T> xs, std::span<T> e) {
        batch_energy(ctx, mem, xs, prm, false, true, exec, ev, gv, sv);
        std::copy(ev.begin(), ev.end(), e.begin());
    });
    return res;
}

template <class T>
retrieve_result<T> retrieve(context& ctx,
                            const shard<T>& mem,
                            matrix_view<const T> queries,
                            const energy_params& params,
                            const retrieve_options& options,
                            std::int64_t batch,
                            const exec_options& exec) {
    const std::int64_t n = share_query_shape(ctx, queries), d = mem.dim;
    check_inputs(ctx, mem, queries, params, batch, exec);
    const bool fixed = options.method == retrieval_method::fixed_point;
    ctx.agree([&] {
        detail::check_retrieve_options(options, d);
        if (fixed && params.kernel != kernel_kind::lsr)
            throw invalid_argument(
                "--distributed runs the fixed point only for the lsr kernel (the exact LSR "
                "iteration); kernel '" +
                std::string(to_string(params.kernel)) + "' needs --method gradient");
        if (fixed && !options.clamp.empty())
            throw invalid_argument("clamped coordinates need method 'gradient'");
        if (!fixed && std::is_same_v<T, double> && options.precision == gradient_precision::single)
            throw invalid_argument("--precision single is not available with --distributed");
    });
    retrieve_result<T> out;
    if (ctx.rank() == 0) {
        out = detail::make_result<T>(n, d);
        out.support.offsets.assign(1, 0);
    }
    fixed_point_state<T> fp;
    fp.n_queries = n;
    for (std::int64_t b0 = 0; b0 < n; b0 += batch) {
        const std::int64_t nb = std::min(batch, n - b0);
        const std::vector<T> x = share_batch(ctx, queries, b0, nb, d);
        const matrix_view<const T> xb(x.data(), nb, d, d);
        retrieve_result<T> r = fixed ? fixed_point_batch(ctx, mem, fp, xb, params, options, exec)
                                     : gradient_batch(ctx, mem, xb, params, options, b0, exec);
        if (ctx.rank() != 0) continue;
        std::copy(r.states.begin(), r.states.end(), out.states.begin() + b0 * d);
        std::copy(r.energy.begin(), r.energy.end(), out.energy.begin() + b0);
        std::copy(r.status.begin(), r.status.end(), out.status.begin() + b0);
        std::copy(r.steps.begin(), r.steps.end(), out.steps.begin() + b0);
        if (fixed) {
            const std::int64_t base = out.support.offsets.back();
            for (std::size_t i = 1; i < r.support.offsets.size(); ++i)
                out.support.offsets.push_back(base + r.support.offsets[i]);
            out.support.indices.insert(
                out.support.indices.end(), r.support.indices.begin(), r.support.indices.end());
        }
    }
    if (ctx.rank() == 0 && !fixed) out.support = {};
    return out;
}

template void energy_and_grad(context&,
                              const shard<float>&,
                              matrix_view<const float>,
                              const energy_params&,
                              std::span<float>,
                              matrix_view<float>,
                              std::span<energy_status>,
                              bool,
                              std::int64_t,
                              const exec_options&);
template void energy_and_grad(context&,
                              const shard<double>&,
                              matrix_view<const double>,
                              const energy_params&,
                              std::span<double>,
                              matrix_view<double>,
                              std::span<energy_status>,
                              bool,
                              std::int64_t,
                              const exec_options&);
template retrieve_result<float> retrieve(context&,
                                         const shard<float>&,
                                         matrix_view<const float>,
                                         const energy_params&,
                                         const retrieve_options&,
                                         std::int64_t,
                                         const exec_options&);
template retrieve_result<double> retrieve(context&,
                                          const shard<double>&,
                                          matrix_view<const double>,
                                          const energy_params&,
                                          const retrieve_options&,
                                          std::int64_t,
                                          const exec_options&);

}  // namespace denseam::dist
