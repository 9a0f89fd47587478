// SPDX-License-Identifier: MIT
// Reading the shards of a memory set: by rows (each rank reads its rows by offset) or by cells
// of a recursive coordinate bisection (the rows then move to the rank owning their cell).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "denseam/error.hpp"
#include "denseam/npy.hpp"
#include "dist/comm.hpp"
#include "dist/internal.hpp"
#include "io/format.hpp"

namespace denseam::dist {

namespace {

template <class T>
void set_box(shard<T>& s) {
    const auto d = static_cast<std::size_t>(s.dim);
    s.lo.assign(d, std::numeric_limits<double>::infinity());
    s.hi.assign(d, -std::numeric_limits<double>::infinity());
    for (std::int64_t i = 0; i < s.size(); ++i)
        for (std::size_t k = 0; k < d; ++k) {
            const double v = s.rows[static_cast<std::size_t>(i) * d + k];
            s.lo[k] = std::min(s.lo[k], v);
            s.hi[k] = std::max(s.hi[k], v);
        }
}

// Every rank's box and row count, on every rank.
template <class T>
void share_boxes(context& ctx, shard<T>& s) {
    std::vector<double> mine(s.lo);
    mine.insert(mine.end(), s.hi.begin(), s.hi.end());
    mine.push_back(static_cast<double>(s.size()));
    std::vector<std::int64_t> counts;
    const std::vector<double> all = comm::allgatherv(ctx, mine, counts);
    const std::size_t per = 2 * static_cast<std::size_t>(s.dim) + 1;
    s.boxes.clear();
    s.sizes.clear();
    for (int r = 0; r < ctx.size(); ++r) {
        const double* p = all.data() + static_cast<std::size_t>(r) * per;
        s.boxes.insert(s.boxes.end(), p, p + per - 1);
        s.sizes.push_back(static_cast<std::int64_t>(p[per - 1]));
    }
}

// A node of the recursive coordinate bisection: points with x[dim] < value go to the ranks
// [r0, mid), the others to [mid, r1).
struct cut {
    std::int64_t dim = 0;
    double value = 0.0;
    int r0 = 0, mid = 0, r1 = 0;
};

// Builds the cuts for ranks [r0, r1) from the sample points `idx` (rows of `sample`, d values
// each); the same on every rank (the sample and the arithmetic are the same).
void bisect(const std::vector<double>& sample,
            std::int64_t d,
            std::vector<std::int64_t> idx,
            int r0,
            int r1,
            std::vector<cut>& cuts) {
    if (r1 - r0 <= 1) return;
    const int mid = r0 + (r1 - r0) / 2;
    cut c{0, std::numeric_limits<double>::infinity(), r0, mid, r1};
    if (!idx.empty()) {
        double widest = -1.0;
        for (std::int64_t k = 0; k < d; ++k) {
            double lo = std::numeric_limits<double>::infinity(), hi = -lo;
            for (auto i : idx) {
                const double v = sample[static_cast<std::size_t>(i * d + k)];
                lo = std::min(lo, v);
                hi = std::max(hi, v);
            }
            if (hi - lo > widest) {
                widest = hi - lo;
                c.dim = k;
            }
        }
        std::sort(idx.begin(), idx.end(), [&](std::int64_t a, std::int64_t b) {
            const double va = sample[static_cast<std::size_t>(a * d + c.dim)],
                         vb = sample[static_cast<std::size_t>(b * d + c.dim)];
            return va < vb || (va == vb && a < b);
        });
        // The left ranks get their share of the sample.
        const auto n = static_cast<std::int64_t>(idx.size());
        const std::int64_t at = std::min(n - 1, n * (mid - r0) / (r1 - r0));
        c.value = sample[static_cast<std::size_t>(idx[static_cast<std::size_t>(at)] * d + c.dim)];
    }
    cuts.push_back(c);
    std::vector<std::int64_t> left, right;
    for (auto i : idx)
        (sample[static_cast<std::size_t>(i * d + c.dim)] < c.value ? left : right).push_back(i);
    bisect(sample, d, std::move(left), r0, mid, cuts);
    bisect(sample, d, std::move(right), mid, r1, cuts);
}

int owner_of(const std::vector<cut>& cuts, const double* x, int n_ranks) {
    int r0 = 0, r1 = n_ranks;
    while (r1 - r0 > 1) {
        const auto it = std::find_if(
            cuts.begin(), cuts.end(), [&](const cut& c) { return c.r0 == r0 && c.r1 == r1; });
        if (x[it->dim] < it->value)
            r1 = it->mid;
        else
            r0 = it->mid;
    }
    return r0;
}

template <class T>
void move_to_cells(context& ctx, shard<T>& s) {
    const int n = ctx.size();
    const std::int64_t d = s.dim;
    // A sample of every shard (up to 4096 rows in all), the same on every rank.
    const std::int64_t per_rank = std::max<std::int64_t>(1, 4096 / n);
    std::vector<double> mine;
    const std::int64_t take = std::min(per_rank, s.size());
    for (std::int64_t j = 0; j < take; ++j) {
        const std::int64_t i = j * s.size() / take;
        for (std::int64_t k = 0; k < d; ++k)
            mine.push_back(static_cast<double>(s.rows[static_cast<std::size_t>(i * d + k)]));
    }
    std::vector<std::int64_t> counts;
    const std::vector<double> sample = comm::allgatherv(ctx, mine, counts);
    std::vector<std::int64_t> idx(sample.size() / static_cast<std::size_t>(d));
    std::iota(idx.begin(), idx.end(), 0);
    std::vector<cut> cuts;
    bisect(sample, d, std::move(idx), 0, n, cuts);

    // Rows (with their global row as a double, exact below 2^53) to their owners.
    std::vector<std::vector<double>> out(static_cast<std::size_t>(n));
    std::vector<double> x(static_cast<std::size_t>(d));
    for (std::int64_t i = 0; i < s.size(); ++i) {
        for (std::int64_t k = 0; k < d; ++k)
            x[static_cast<std::size_t>(k)] = s.rows[static_cast<std::size_t>(i * d + k)];
        auto& o = out[static_cast<std::size_t>(owner_of(cuts, x.data(), n))];
        o.push_back(static_cast<double>(s.ids[static_cast<std::size_t>(i)]));
        o.insert(o.end(), x.begin(), x.end());
    }
    std::vector<double> send;
    std::vector<std::int64_t> sendcounts, recvcounts;
    for (auto& o : out) {
        sendcounts.push_back(static_cast<std::int64_t>(o.size()));
        send.insert(send.end(), o.begin(), o.end());
        std::vector<double>().swap(o);
    }
    s.rows.clear();
    s.ids.clear();
    const std::vector<double> recv = comm::alltoallv_counted(ctx, send, sendcounts, recvcounts);
    const std::size_t per = static_cast<std::size_t>(d) + 1;
    const std::size_t m = recv.size() / per;
    std::vector<std::size_t> order(m);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return recv[a * per] < recv[b * per];
    });
    s.rows.resize(m * static_cast<std::size_t>(d));
    s.ids.resize(m);
    for (std::size_t j = 0; j < m; ++j) {
        const double* p = recv.data() + order[j] * per;
        s.ids[j] = static_cast<std::int64_t>(p[0]);
        for (std::size_t k = 0; k < static_cast<std::size_t>(d); ++k)
            s.rows[j * static_cast<std::size_t>(d) + k] = static_cast<T>(p[1 + k]);
    }
}

}  // namespace

template <class T>
shard<T> load_shard(context& ctx, const std::string& path, partition p, const exec_options&) {
    shard<T> s;
    ctx.agree([&] {
        const npy_shape shape = read_npy_shape(path);
        if (shape.shape.size() != 2)
            throw invalid_argument("memories '" + path +
                                   "' must be a 2-D array (rows x dim), got shape " +
                                   detail::format_shape(shape.shape));
        if (shape.shape[0] == 0 || shape.shape[1] == 0)
            throw invalid_argument("memories '" + path + "' is empty (shape " +
                                   detail::format_shape(shape.shape) + ")");
        s.total_rows = shape.shape[0];
        s.dim = shape.shape[1];
        const std::int64_t b = detail_dist::slice_begin(s.total_rows, ctx.rank(), ctx.size()),
                           e = detail_dist::slice_begin(s.total_rows, ctx.rank() + 1, ctx.size());
        const npy_array a = read_npy_rows(path, b, e);
        const std::size_t n = static_cast<std::size_t>((e - b) * s.dim);
        s.rows.resize(n);
        for (std::size_t i = 0; i < n; ++i) {
            const double v = a.is_float32 ? static_cast<double>(a.f32[i]) : a.f64[i];
            if (!std::isfinite(v)) {
                const auto row = b + static_cast<std::int64_t>(i) / s.dim,
                           col = static_cast<std::int64_t>(i) % s.dim;
                throw invalid_argument("memories '" + path + "' contains a non-finite value (" +
                                       std::to_string(v) + ") at row " + std::to_string(row) +
                                       ", column " + std::to_string(col));
            }
            s.rows[i] = static_cast<T>(v);
        }
        s.ids.resize(static_cast<std::size_t>(e - b));
        std::iota(s.ids.begin(), s.ids.end(), b);
    });
    if (p == partition::cells && ctx.size() > 1) move_to_cells(ctx, s);
    set_box(s);
    share_boxes(ctx, s);
    return s;
}

template shard<float> load_shard(context&, const std::string&, partition, const exec_options&);
template shard<double> load_shard(context&, const std::string&, partition, const exec_options&);

}  // namespace denseam::dist
