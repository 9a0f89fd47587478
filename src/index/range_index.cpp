// SPDX-License-Identifier: MIT
// The exact range-search index: a k-d tree with tight boxes (low d), a ball partition scanned by
// GEMM blocks (high d), or a scan, plus rows appended since the last build (scanned).
//
// Exactness: a member's distance is always sq_dist(x, row) (double, one fma per coordinate in
// coordinate order). The k-d tree prunes a box only when its lower bound, accumulated the same
// way from per-coordinate gaps that are never larger than the members' differences, exceeds r2:
// rounding is monotone, so that bound never exceeds a member's sq_dist and no member (nor a
// boundary row) is pruned. The ball partition's triangle-inequality bounds carry a relative
// margin instead, and its GEMM distances decide only pairs outside a rounding band; pairs in
// the band and every member are recomputed by sq_dist.
#include "index/range_index.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <queue>
#include <string>

#include "denseam/error.hpp"
#include "engine/distance.hpp"
#include "engine/gemm.hpp"
#include "engine/parallel.hpp"

namespace denseam {

std::string_view to_string(index_kind k) noexcept {
    switch (k) {
        case index_kind::automatic:
            return "auto";
        case index_kind::brute:
            return "brute";
        case index_kind::kdtree:
            return "kdtree";
        case index_kind::ball:
            return "ball";
    }
    return "auto";
}

index_kind parse_index_kind(std::string_view name) {
    if (name == "auto" || name == "automatic") return index_kind::automatic;
    if (name == "brute") return index_kind::brute;
    if (name == "kdtree") return index_kind::kdtree;
    if (name == "ball") return index_kind::ball;
    throw invalid_argument("unknown index '" + std::string(name) +
                           "' (choose auto, brute, kdtree or ball)");
}

}  // namespace denseam

namespace denseam::detail {

index_kind choose_index(std::int64_t n, std::int64_t dim, std::int64_t n_queries) {
    // Measured (bench/bench_index): the k-d tree beats the scan up to d ~ 8 and loses from
    // d = 16; the ball partition never beat the scan on the uniform sets measured (d 8..64).
    if (n < 1024 || n_queries < 4 || dim > 12) return index_kind::brute;
    return index_kind::kdtree;
}

namespace {

constexpr std::int64_t leaf_size = 16;
// Relative margin of the ball partition's triangle-inequality bounds (their square roots and
// sums round; 1e-9 is far above that error and far below any useful pruning distance).
constexpr double ball_margin = 1e-9;

// A lower bound of sq_dist(x, r) for every row r in the box [lo, hi]: the per-coordinate gap
// max(lo - x, x - hi, 0) is never larger than |x_k - r_k| after rounding (rounding is
// monotone), and it is accumulated with sq_dist's own operations in its order, so the bound
// never exceeds a member's distance. Branch-free (one of the two differences is <= 0).
inline double box_bound(const double* x, const double* lo, const double* hi, std::int64_t dim) {
    double lb = 0.0;
    for (std::int64_t k = 0; k < dim; ++k) {
        const double g = std::max(std::max(lo[k] - x[k], x[k] - hi[k]), 0.0);
        lb = std::fma(g, g, lb);
    }
    return lb;
}

struct kd_node {
    std::int64_t begin, end;  // slots [begin, end)
    std::int32_t left = -1, right = -1;
    std::int64_t box = 0;  // offset of lo[dim], hi[dim] in boxes
};

}  // namespace

template <class T>
struct range_index<T>::impl {
    index_kind kind = index_kind::brute;
    std::int64_t dim = 0;
    std::vector<T> rows;  // (n x dim) in position order
    std::int64_t n = 0;
    // Rows at positions [0, n_built) are in the structure (those still alive, in order);
    // [n_built, n) were appended since and are scanned.
    std::int64_t n_built = 0;
    // Structure over slots: the built rows copied in slot order (double), their positions
    // (-1 once removed).
    std::vector<double> srows;
    std::vector<std::int64_t> slot_pos;
    std::int64_t n_slots = 0, n_dead = 0;
    // k-d tree
    std::vector<kd_node> nodes;
    std::vector<double> boxes;
    // ball partition: cluster c holds slots [cl_begin[c], cl_begin[c + 1])
    std::vector<double> centres, radius;
    std::vector<std::int64_t> cl_begin;
    mutable std::atomic<std::int64_t> examined{0};

    const T* row(std::int64_t p) const { return rows.data() + p * dim; }

    void build(const exec_options& exec);
    void build_kd(const exec_options& exec);
    void build_ball(const exec_options& exec);

    // k-d tree leaves hold their rows column by column (coordinate k of row j of a leaf
    // [b, e) at srows[b dim + k (e - b) + j]) so that the distances of a leaf's rows are
    // computed side by side in SIMD lanes, each with sq_dist's own operations and order.
    // Calls f(slot, d2) for every row of the leaf.
    template <class F>
    void leaf_d2(const kd_node& nd, const double* x, F&& f) const {
        block_d2(nd.begin, nd.end, x, f);
    }
    // The same for any block of slots [begin, end) stored column by column (k-d leaves and
    // ball clusters).
    template <class F>
    void block_d2(std::int64_t begin, std::int64_t end, const double* x, F&& f) const {
        const std::int64_t cnt = end - begin;
        const double* base = srows.data() + begin * dim;
        constexpr std::int64_t lanes = 32;
        double acc[lanes];
        for (std::int64_t j0 = 0; j0 < cnt; j0 += lanes) {
            const std::int64_t jn = std::min(lanes, cnt - j0);
            for (std::int64_t j = 0; j < jn; ++j) acc[j] = 0.0;
            for (std::int64_t k = 0; k < dim; ++k) {
                const double* col = base + k * cnt + j0;
                const double xk = x[k];
#pragma omp simd
                for (std::int64_t j = 0; j < jn; ++j) {
                    const double t = xk - col[j];
                    acc[j] = std::fma(t, t, acc[j]);
                }
            }
            for (std::int64_t j = 0; j < jn; ++j) f(begin + j0 + j, acc[j]);
        }
    }

    // Structure searches: call f(slot, d2) for every live slot with d2 <= r2 (kd) or
    // candidates (ball); `count` counts rows examined.
    template <class F>
    void kd_within(const double* x, double r2, F&& f, std::int64_t& count) const;
    template <class F>
    void ball_within(const double* x, double r2, F&& f, std::int64_t& count) const;
};

template <class T>
void range_index<T>::impl::build(const exec_options& exec) {
    // Compacts the live rows into the structure; every position is then built.
    n_built = n;
    n_slots = n;
    n_dead = 0;
    nodes.clear();
    boxes.clear();
    centres.clear();
    radius.clear();
    cl_begin.clear();
    srows.clear();
    slot_pos.clear();
    if (kind == index_kind::brute || n == 0) return;
    slot_pos.resize(static_cast<std::size_t>(n));
    std::iota(slot_pos.begin(), slot_pos.end(), std::int64_t{0});
    if (kind == index_kind::kdtree) {
        build_kd(exec);
        return;
    }
    build_ball(exec);
    // clusters column by column (block_d2)
    srows.resize(static_cast<std::size_t>(n * dim));
    const auto kc = static_cast<std::int64_t>(radius.size());
    for (std::int64_t c = 0; c < kc; ++c) {
        const std::int64_t b = cl_begin[static_cast<std::size_t>(c)],
                           cnt = cl_begin[static_cast<std::size_t>(c + 1)] - b;
        for (std::int64_t j = 0; j < cnt; ++j) {
            const T* r = row(slot_pos[static_cast<std::size_t>(b + j)]);
            for (std::int64_t k = 0; k < dim; ++k)
                srows[static_cast<std::size_t>(b * dim + k * cnt + j)] = static_cast<double>(r[k]);
        }
    }
}

namespace {

// Builds k-d subtrees over rows held row-major in `work` (slots [begin, end)), permuting the
// rows and `slot_pos` in place: each node gets its tight bounding box and is split at the
// median of its widest coordinate (ties by position), until leaf_size rows remain.
struct kd_builder {
    std::int64_t dim;
    double* work;
    std::int64_t* slot_pos;
    std::vector<kd_node> nodes;
    std::vector<double> boxes;
    std::vector<std::pair<double, std::int64_t>> keys;
    struct pending {
        std::int32_t node;
        std::int64_t begin, end;
    };
    std::vector<pending> pend;

    // stop_depth >= 0: nodes at that depth become placeholders recorded in `pend`.
    std::int32_t build(std::int64_t begin, std::int64_t end, int depth, int stop_depth) {
        const auto id = static_cast<std::int32_t>(nodes.size());
        nodes.push_back({begin, end, -1, -1, static_cast<std::int64_t>(boxes.size())});
        if (depth == stop_depth && end - begin > leaf_size) {
            nodes[static_cast<std::size_t>(id)].left = -2;
            pend.push_back({id, begin, end});
            return id;
        }
        boxes.resize(boxes.size() + static_cast<std::size_t>(2 * dim));
        double* lo = boxes.data() + nodes[static_cast<std::size_t>(id)].box;
        double* hi = lo + dim;
        std::fill(lo, lo + dim, INFINITY);
        std::fill(hi, hi + dim, -INFINITY);
        for (std::int64_t s = begin; s < end; ++s) {
            const double* r = work + s * dim;
            for (std::int64_t k = 0; k < dim; ++k) {
                lo[k] = std::min(lo[k], r[k]);
                hi[k] = std::max(hi[k], r[k]);
            }
        }
        if (end - begin <= leaf_size) return id;
        std::int64_t split = 0;
        double widest = -1.0;
        for (std::int64_t k = 0; k < dim; ++k)
            if (hi[k] - lo[k] > widest) {
                widest = hi[k] - lo[k];
                split = k;
            }
        if (!(widest > 0.0)) return id;  // identical rows: one leaf
        // Split at the median of a strided sample of the widest coordinate, rows partitioned
        // in place (one pass; the tree need not be perfectly balanced).
        const std::int64_t cnt = end - begin;
        const std::int64_t n_sample = std::min<std::int64_t>(cnt, 255);
        keys.resize(static_cast<std::size_t>(n_sample));
        for (std::int64_t a = 0; a < n_sample; ++a)
            keys[static_cast<std::size_t>(a)] = {work[(begin + a * cnt / n_sample) * dim + split],
                                                 a};
        std::nth_element(keys.begin(), keys.begin() + n_sample / 2, keys.end());
        const double cut = keys[static_cast<std::size_t>(n_sample / 2)].first;
        auto partition = [&](auto&& goes_left) {
            std::int64_t a = begin, b = end - 1;
            while (true) {
                while (a <= b && goes_left(work[a * dim + split])) ++a;
                while (a <= b && !goes_left(work[b * dim + split])) --b;
                if (a >= b) break;
                std::swap_ranges(work + a * dim, work + (a + 1) * dim, work + b * dim);
                std::swap(slot_pos[a], slot_pos[b]);
                ++a;
                --b;
            }
            return a;
        };
        std::int64_t mid = partition([cut](double v) { return v < cut; });
        // all of the range at or above the cut: split off the rows equal to it instead
        if (mid == begin) mid = partition([cut](double v) { return v <= cut; });
        if (mid == begin || mid == end) return id;  // cannot happen: widest > 0
        const std::int32_t l = build(begin, mid, depth + 1, stop_depth);
        const std::int32_t r = build(mid, end, depth + 1, stop_depth);
        nodes[static_cast<std::size_t>(id)].left = l;
        nodes[static_cast<std::size_t>(id)].right = r;
        return id;
    }
};

}  // namespace

template <class T>
void range_index<T>::impl::build_kd(const exec_options& exec) {
    std::vector<double> work(static_cast<std::size_t>(n * dim));
    for (std::int64_t i = 0; i < n * dim; ++i)
        work[static_cast<std::size_t>(i)] = static_cast<double>(rows[static_cast<std::size_t>(i)]);
    // The top levels serially, then their subtrees in parallel (each into its own arrays,
    // appended in a fixed order: the tree does not depend on the thread count).
    kd_builder top{dim, work.data(), slot_pos.data(), {}, {}, {}, {}};
    top.build(0, n, 0, 4);
    const auto pend = top.pend;
    std::vector<kd_builder> subs(pend.size(),
                                 kd_builder{dim, work.data(), slot_pos.data(), {}, {}, {}, {}});
    parallel_for(static_cast<std::int64_t>(pend.size()), exec, [&](std::int64_t t) {
        subs[static_cast<std::size_t>(t)].build(
            pend[static_cast<std::size_t>(t)].begin, pend[static_cast<std::size_t>(t)].end, 0, -1);
    });
    nodes = std::move(top.nodes);
    boxes = std::move(top.boxes);
    for (std::size_t t = 0; t < pend.size(); ++t) {
        const auto node_off = static_cast<std::int32_t>(nodes.size());
        const auto box_off = static_cast<std::int64_t>(boxes.size());
        for (kd_node nd : subs[t].nodes) {
            if (nd.left >= 0) {
                nd.left += node_off;
                nd.right += node_off;
            }
            nd.box += box_off;
            nodes.push_back(nd);
        }
        boxes.insert(boxes.end(), subs[t].boxes.begin(), subs[t].boxes.end());
        nodes[static_cast<std::size_t>(pend[t].node)] = nodes[static_cast<std::size_t>(node_off)];
    }
    // leaves column by column (leaf_d2)
    srows.resize(static_cast<std::size_t>(n * dim));
    for (const kd_node& nd : nodes) {
        if (nd.left != -1) continue;
        const std::int64_t cnt = nd.end - nd.begin;
        for (std::int64_t j = 0; j < cnt; ++j)
            for (std::int64_t k = 0; k < dim; ++k)
                srows[static_cast<std::size_t>(nd.begin * dim + k * cnt + j)] =
                    work[static_cast<std::size_t>((nd.begin + j) * dim + k)];
    }
}

template <class T>
void range_index<T>::impl::build_ball(const exec_options& exec) {
    // k-means (a fixed stride of rows as the start, 3 Lloyd steps) on the rows in double, the
    // assignment by GEMM distances (an approximate assignment only costs pruning, never
    // exactness: the radii are measured from the final assignment).
    const std::int64_t k = std::clamp<std::int64_t>(
        static_cast<std::int64_t>(std::sqrt(static_cast<double>(n))), 1, 4096);
    std::vector<double> data(static_cast<std::size_t>(n * dim)), norm(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
        double v = 0.0;
        for (std::int64_t c = 0; c < dim; ++c) {
            const double a = static_cast<double>(row(i)[c]);
            data[static_cast<std::size_t>(i * dim + c)] = a;
            v += a * a;
        }
        norm[static_cast<std::size_t>(i)] = v;
    }
    centres.assign(static_cast<std::size_t>(k * dim), 0.0);
    for (std::int64_t c = 0; c < k; ++c) {
        const std::int64_t i = c * n / k;
        std::copy(data.begin() + i * dim, data.begin() + (i + 1) * dim, centres.begin() + c * dim);
    }
    std::vector<std::int64_t> assign(static_cast<std::size_t>(n), 0);
    constexpr std::int64_t chunk = 1024;
    const std::int64_t n_chunks = (n + chunk - 1) / chunk;
    auto assign_all = [&] {
        std::vector<double> cnorm(static_cast<std::size_t>(k));
        for (std::int64_t c = 0; c < k; ++c) {
            double v = 0.0;
            for (std::int64_t j = 0; j < dim; ++j)
                v += centres[static_cast<std::size_t>(c * dim + j)] *
                     centres[static_cast<std::size_t>(c * dim + j)];
            cnorm[static_cast<std::size_t>(c)] = v;
        }
        parallel_for(n_chunks, exec, [&](std::int64_t b) {
            const std::int64_t i0 = b * chunk, ni = std::min(chunk, n - i0);
            std::vector<double> g(static_cast<std::size_t>(ni * k));
            gemm(gemm_op::transposed,
                 ni,
                 k,
                 dim,
                 1.0,
                 data.data() + i0 * dim,
                 dim,
                 centres.data(),
                 dim,
                 0.0,
                 g.data(),
                 k);
            for (std::int64_t a = 0; a < ni; ++a) {
                double best = INFINITY;
                std::int64_t bc = 0;
                for (std::int64_t c = 0; c < k; ++c) {
                    const double v = cnorm[static_cast<std::size_t>(c)] -
                                     2.0 * g[static_cast<std::size_t>(a * k + c)];
                    if (v < best) {
                        best = v;
                        bc = c;
                    }
                }
                assign[static_cast<std::size_t>(i0 + a)] = bc;
            }
        });
    };
    for (int it = 0; it < 3; ++it) {
        assign_all();
        std::vector<double> sum(static_cast<std::size_t>(k * dim), 0.0);
        std::vector<std::int64_t> cnt(static_cast<std::size_t>(k), 0);
        for (std::int64_t i = 0; i < n; ++i) {
            const auto c = assign[static_cast<std::size_t>(i)];
            ++cnt[static_cast<std::size_t>(c)];
            for (std::int64_t j = 0; j < dim; ++j)
                sum[static_cast<std::size_t>(c * dim + j)] +=
                    data[static_cast<std::size_t>(i * dim + j)];
        }
        for (std::int64_t c = 0; c < k; ++c)
            if (cnt[static_cast<std::size_t>(c)] > 0)
                for (std::int64_t j = 0; j < dim; ++j)
                    centres[static_cast<std::size_t>(c * dim + j)] =
                        sum[static_cast<std::size_t>(c * dim + j)] /
                        static_cast<double>(cnt[static_cast<std::size_t>(c)]);
    }
    assign_all();
    // Slots grouped by cluster, in position order within a cluster.
    std::vector<std::int64_t> cnt(static_cast<std::size_t>(k + 1), 0);
    for (std::int64_t i = 0; i < n; ++i)
        ++cnt[static_cast<std::size_t>(assign[static_cast<std::size_t>(i)] + 1)];
    for (std::int64_t c = 0; c < k; ++c)
        cnt[static_cast<std::size_t>(c + 1)] += cnt[static_cast<std::size_t>(c)];
    cl_begin = cnt;
    for (std::int64_t i = 0; i < n; ++i)
        slot_pos[static_cast<std::size_t>(
            cnt[static_cast<std::size_t>(assign[static_cast<std::size_t>(i)])]++)] = i;
    radius.assign(static_cast<std::size_t>(k), 0.0);
    for (std::int64_t c = 0; c < k; ++c) {
        double r2max = 0.0;
        for (std::int64_t s = cl_begin[static_cast<std::size_t>(c)];
             s < cl_begin[static_cast<std::size_t>(c + 1)];
             ++s)
            r2max = std::max(
                r2max,
                sq_dist(centres.data() + c * dim, row(slot_pos[static_cast<std::size_t>(s)]), dim));
        radius[static_cast<std::size_t>(c)] = std::sqrt(r2max) * (1.0 + ball_margin);
    }
}

template <class T>
template <class F>
void range_index<T>::impl::kd_within(const double* x, double r2, F&& f, std::int64_t& count) const {
    std::int32_t stack[128];
    int top = 0;
    stack[top++] = 0;
    while (top > 0) {
        const kd_node& nd = nodes[static_cast<std::size_t>(stack[--top])];
        const double* lo = boxes.data() + nd.box;
        const double* hi = lo + dim;
        if (box_bound(x, lo, hi, dim) > r2) continue;
        if (nd.left < 0) {
            count += nd.end - nd.begin;
            leaf_d2(nd, x, [&](std::int64_t s, double d2) {
                if (d2 <= r2) f(s, d2);
            });
            continue;
        }
        stack[top++] = nd.right;
        stack[top++] = nd.left;
    }
}

template <class T>
template <class F>
void range_index<T>::impl::ball_within(const double* x,
                                       double r2,
                                       F&& f,
                                       std::int64_t& count) const {
    const double r = std::sqrt(r2) * (1.0 + ball_margin);
    const auto k = static_cast<std::int64_t>(radius.size());
    for (std::int64_t c = 0; c < k; ++c) {
        const double dc =
            std::sqrt(sq_dist(x, centres.data() + c * dim, dim)) * (1.0 - ball_margin);
        if (dc - radius[static_cast<std::size_t>(c)] > r) continue;
        const std::int64_t b = cl_begin[static_cast<std::size_t>(c)],
                           e = cl_begin[static_cast<std::size_t>(c + 1)];
        count += e - b;
        block_d2(b, e, x, [&](std::int64_t s, double d2) {
            if (d2 <= r2) f(s, d2);
        });
    }
}

template <class T>
range_index<T>::range_index() : p_(std::make_unique<impl>()) {}

template <class T>
range_index<T>::range_index(matrix_view<const T> rows,
                            index_kind kind,
                            const exec_options& exec,
                            std::int64_t n_queries_hint)
    : p_(std::make_unique<impl>()) {
    p_->dim = rows.cols;
    p_->n = rows.rows;
    p_->rows.resize(static_cast<std::size_t>(rows.rows * rows.cols));
    for (std::int64_t i = 0; i < rows.rows; ++i)
        std::copy(rows.row(i), rows.row(i) + rows.cols, p_->rows.begin() + i * rows.cols);
    p_->kind =
        kind == index_kind::automatic ? choose_index(rows.rows, rows.cols, n_queries_hint) : kind;
    p_->build(exec);
}

template <class T>
range_index<T>::~range_index() = default;
template <class T>
range_index<T>::range_index(range_index&&) noexcept = default;
template <class T>
range_index<T>& range_index<T>::operator=(range_index&&) noexcept = default;

template <class T>
index_kind range_index<T>::kind() const noexcept {
    return p_->kind;
}
template <class T>
std::int64_t range_index<T>::size() const noexcept {
    return p_->n;
}
template <class T>
std::int64_t range_index<T>::dim() const noexcept {
    return p_->dim;
}
template <class T>
const T* range_index<T>::row(std::int64_t position) const noexcept {
    return p_->row(position);
}
template <class T>
std::size_t range_index<T>::bytes() const noexcept {
    const auto& q = *p_;
    return q.rows.size() * sizeof(T) + q.srows.size() * sizeof(double) +
           q.slot_pos.size() * sizeof(std::int64_t) + q.nodes.size() * sizeof(kd_node) +
           (q.boxes.size() + q.centres.size() + q.radius.size()) * sizeof(double) +
           q.cl_begin.size() * sizeof(std::int64_t);
}
template <class T>
std::int64_t range_index<T>::rows_examined() const noexcept {
    return p_->examined.load(std::memory_order_relaxed);
}

template <class T>
void range_index<T>::append(matrix_view<const T> rows, const exec_options& exec) {
    auto& q = *p_;
    if (rows.rows == 0) return;
    if (rows.cols != q.dim)
        throw invalid_argument("rows have dimension " + std::to_string(rows.cols) +
                               " but the index has dimension " + std::to_string(q.dim));
    q.rows.reserve(static_cast<std::size_t>((q.n + rows.rows) * q.dim));
    for (std::int64_t i = 0; i < rows.rows; ++i)
        q.rows.insert(q.rows.end(), rows.row(i), rows.row(i) + rows.cols);
    q.n += rows.rows;
    const std::int64_t pending = q.n - q.n_built;
    if (q.kind != index_kind::brute && pending > std::max<std::int64_t>(1024, q.n_built / 4))
        q.build(exec);
}

template <class T>
void range_index<T>::remove(std::span<const std::int64_t> positions, const exec_options& exec) {
    auto& q = *p_;
    if (positions.empty()) return;
    for (std::size_t i = 0; i < positions.size(); ++i)
        if (positions[i] < 0 || positions[i] >= q.n || (i > 0 && positions[i] <= positions[i - 1]))
            throw invalid_argument("positions to remove must be distinct, ascending and in [0, " +
                                   std::to_string(q.n) + ")");
    // new position of every old one (-1: removed)
    std::vector<std::int64_t> remap(static_cast<std::size_t>(q.n));
    std::size_t r = 0;
    std::int64_t next = 0, removed_built = 0;
    for (std::int64_t p = 0; p < q.n; ++p) {
        if (r < positions.size() && positions[r] == p) {
            remap[static_cast<std::size_t>(p)] = -1;
            ++r;
            if (p < q.n_built) ++removed_built;
            continue;
        }
        if (next != p)
            std::copy(q.rows.begin() + p * q.dim,
                      q.rows.begin() + (p + 1) * q.dim,
                      q.rows.begin() + next * q.dim);
        remap[static_cast<std::size_t>(p)] = next++;
    }
    q.rows.resize(static_cast<std::size_t>(next * q.dim));
    for (auto& s : q.slot_pos)
        if (s >= 0) s = remap[static_cast<std::size_t>(s)];
    q.n = next;
    q.n_built -= removed_built;
    q.n_dead += removed_built;
    if (q.kind != index_kind::brute && q.n_dead > q.n_slots / 4) q.build(exec);
}

template <class T>
bool range_index<T>::within(const double* x,
                            double r2,
                            std::vector<std::int64_t>& pos,
                            std::vector<double>* d2) const {
    const auto& q = *p_;
    bool boundary = false;
    std::int64_t count = 0;
    const std::size_t first = pos.size();
    std::vector<std::pair<std::int64_t, double>> hits;
    auto take = [&](std::int64_t p, double v) {
        if (v < r2)
            hits.emplace_back(p, v);
        else if (v == r2)
            boundary = true;
    };
    std::int64_t scan_from = 0;
    if (q.kind == index_kind::kdtree && q.n_slots > 0) {
        q.kd_within(
            x,
            r2,
            [&](std::int64_t s, double v) {
                const std::int64_t p = q.slot_pos[static_cast<std::size_t>(s)];
                if (p >= 0) take(p, v);
            },
            count);
        scan_from = q.n_built;
    } else if (q.kind == index_kind::ball && q.n_slots > 0) {
        q.ball_within(
            x,
            r2,
            [&](std::int64_t s, double v) {
                const std::int64_t p = q.slot_pos[static_cast<std::size_t>(s)];
                if (p >= 0) take(p, v);
            },
            count);
        scan_from = q.n_built;
    }
    std::sort(hits.begin(), hits.end());
    for (std::int64_t p = scan_from; p < q.n; ++p) take(p, sq_dist(x, q.row(p), q.dim));
    count += q.n - scan_from;
    for (auto& [p, v] : hits) {
        pos.push_back(p);
        if (d2 != nullptr) d2->push_back(v);
    }
    (void)first;
    q.examined.fetch_add(count, std::memory_order_relaxed);
    return boundary;
}

template <class T>
void range_index<T>::within_batch(const double* xs,
                                  std::int64_t nq,
                                  double r2,
                                  std::vector<std::int64_t>& offsets,
                                  std::vector<std::int64_t>& pos,
                                  std::vector<double>* d2,
                                  std::vector<std::uint8_t>* boundary,
                                  const exec_options& exec) const {
    const auto& q = *p_;
    constexpr std::int64_t block = 16;
    const std::int64_t n_blocks = (nq + block - 1) / block;
    std::vector<std::vector<std::int64_t>> bpos(static_cast<std::size_t>(n_blocks)),
        bcnt(static_cast<std::size_t>(n_blocks));
    std::vector<std::vector<double>> bd2(static_cast<std::size_t>(n_blocks));
    if (boundary != nullptr) boundary->assign(static_cast<std::size_t>(nq), 0);
    parallel_for(n_blocks, exec, [&](std::int64_t b) {
        auto& bp = bpos[static_cast<std::size_t>(b)];
        auto& bc = bcnt[static_cast<std::size_t>(b)];
        auto* bd = d2 != nullptr ? &bd2[static_cast<std::size_t>(b)] : nullptr;
        for (std::int64_t i = b * block; i < std::min(nq, (b + 1) * block); ++i) {
            const std::size_t before = bp.size();
            const bool on = within(xs + i * q.dim, r2, bp, bd);
            if (boundary != nullptr) (*boundary)[static_cast<std::size_t>(i)] = on ? 1 : 0;
            bc.push_back(static_cast<std::int64_t>(bp.size() - before));
        }
    });
    offsets.assign(1, 0);
    pos.clear();
    if (d2 != nullptr) d2->clear();
    for (std::int64_t b = 0; b < n_blocks; ++b) {
        for (auto c : bcnt[static_cast<std::size_t>(b)]) offsets.push_back(offsets.back() + c);
        pos.insert(pos.end(),
                   bpos[static_cast<std::size_t>(b)].begin(),
                   bpos[static_cast<std::size_t>(b)].end());
        if (d2 != nullptr)
            d2->insert(d2->end(),
                       bd2[static_cast<std::size_t>(b)].begin(),
                       bd2[static_cast<std::size_t>(b)].end());
    }
}

template <class T>
void range_index<T>::nearest(const double* x,
                             std::int64_t k,
                             std::vector<std::int64_t>& pos,
                             std::vector<double>& d2) const {
    const auto& q = *p_;
    pos.clear();
    d2.clear();
    if (k <= 0 || q.n == 0) return;
    // max-heap of the best k by (d2, position)
    using item = std::pair<double, std::int64_t>;
    std::priority_queue<item> heap;
    auto offer = [&](std::int64_t p, double v) {
        if (static_cast<std::int64_t>(heap.size()) < k) {
            heap.emplace(v, p);
        } else if (item(v, p) < heap.top()) {
            heap.pop();
            heap.emplace(v, p);
        }
    };
    auto worst = [&] {
        return static_cast<std::int64_t>(heap.size()) < k ? INFINITY : heap.top().first;
    };
    std::int64_t count = 0;
    if (q.kind == index_kind::kdtree && q.n_slots > 0) {
        // depth first, nearer child first; a box is skipped when its bound exceeds the k-th
        // distance so far (ties are visited: they may carry a smaller position)
        std::vector<std::pair<double, std::int32_t>> stack{{0.0, 0}};
        while (!stack.empty()) {
            const auto [bound, id] = stack.back();
            stack.pop_back();
            if (bound > worst()) continue;
            const kd_node& nd = q.nodes[static_cast<std::size_t>(id)];
            if (nd.left < 0) {
                count += nd.end - nd.begin;
                q.leaf_d2(nd, x, [&](std::int64_t s, double v) {
                    const std::int64_t p = q.slot_pos[static_cast<std::size_t>(s)];
                    if (p >= 0) offer(p, v);
                });
                continue;
            }
            std::pair<double, std::int32_t> ch[2];
            for (int c = 0; c < 2; ++c) {
                const std::int32_t cid = c == 0 ? nd.left : nd.right;
                const double* lo = q.boxes.data() + q.nodes[static_cast<std::size_t>(cid)].box;
                const double* hi = lo + q.dim;
                ch[c] = {box_bound(x, lo, hi, q.dim), cid};
            }
            if (ch[0].first < ch[1].first) std::swap(ch[0], ch[1]);
            stack.push_back(ch[0]);
            stack.push_back(ch[1]);
        }
    } else if (q.kind == index_kind::ball && q.n_slots > 0) {
        const auto kc = static_cast<std::int64_t>(q.radius.size());
        std::vector<std::pair<double, std::int64_t>> order;
        for (std::int64_t c = 0; c < kc; ++c) {
            const double dc =
                std::sqrt(sq_dist(x, q.centres.data() + c * q.dim, q.dim)) * (1.0 - ball_margin);
            const double lb = std::max(0.0, dc - q.radius[static_cast<std::size_t>(c)]);
            order.emplace_back(lb * lb * (1.0 - ball_margin), c);
        }
        std::sort(order.begin(), order.end());
        for (const auto& [lb, c] : order) {
            if (lb > worst()) break;
            const std::int64_t b = q.cl_begin[static_cast<std::size_t>(c)],
                               e = q.cl_begin[static_cast<std::size_t>(c + 1)];
            count += e - b;
            q.block_d2(b, e, x, [&](std::int64_t s, double v) {
                const std::int64_t p = q.slot_pos[static_cast<std::size_t>(s)];
                if (p >= 0) offer(p, v);
            });
        }
    }
    const std::int64_t scan_from = (q.kind == index_kind::brute || q.n_slots == 0) ? 0 : q.n_built;
    for (std::int64_t p = scan_from; p < q.n; ++p) offer(p, sq_dist(x, q.row(p), q.dim));
    count += q.n - scan_from;
    q.examined.fetch_add(count, std::memory_order_relaxed);
    std::vector<item> out;
    while (!heap.empty()) {
        out.push_back(heap.top());
        heap.pop();
    }
    std::reverse(out.begin(), out.end());
    for (const auto& [v, p] : out) {
        pos.push_back(p);
        d2.push_back(v);
    }
}

template <class T>
double range_index<T>::farthest(const double* x) const {
    const auto& q = *p_;
    double best = 0.0;
    std::int64_t count = 0;
    if (q.kind == index_kind::kdtree && q.n_slots > 0) {
        // depth first, the child with the larger bound first
        auto upper = [&](std::int32_t id) {
            const double* lo = q.boxes.data() + q.nodes[static_cast<std::size_t>(id)].box;
            const double* hi = lo + q.dim;
            double ub = 0.0;  // never below a member's sq_dist (monotone rounding)
            for (std::int64_t j = 0; j < q.dim; ++j) {
                const double g = std::max(std::abs(x[j] - lo[j]), std::abs(x[j] - hi[j]));
                ub = std::fma(g, g, ub);
            }
            return ub;
        };
        std::vector<std::pair<double, std::int32_t>> stack{{upper(0), 0}};
        while (!stack.empty()) {
            const auto [ub, id] = stack.back();
            stack.pop_back();
            if (ub <= best) continue;
            const kd_node& nd = q.nodes[static_cast<std::size_t>(id)];
            if (nd.left < 0) {
                count += nd.end - nd.begin;
                q.leaf_d2(nd, x, [&](std::int64_t s, double v) {
                    if (q.slot_pos[static_cast<std::size_t>(s)] >= 0) best = std::max(best, v);
                });
                continue;
            }
            std::pair<double, std::int32_t> a{upper(nd.left), nd.left},
                b{upper(nd.right), nd.right};
            if (a.first > b.first) std::swap(a, b);
            if (a.first > best) stack.push_back(a);
            if (b.first > best) stack.push_back(b);
        }
    } else if (q.kind == index_kind::ball && q.n_slots > 0) {
        const auto kc = static_cast<std::int64_t>(q.radius.size());
        std::vector<std::pair<double, std::int64_t>> order;
        for (std::int64_t c = 0; c < kc; ++c) {
            const double ub =
                std::sqrt(sq_dist(x, q.centres.data() + c * q.dim, q.dim)) * (1.0 + ball_margin) +
                q.radius[static_cast<std::size_t>(c)];
            order.emplace_back(-(ub * ub * (1.0 + ball_margin)), c);
        }
        std::sort(order.begin(), order.end());
        for (const auto& [nub, c] : order) {
            if (-nub < best) break;
            const std::int64_t b = q.cl_begin[static_cast<std::size_t>(c)],
                               e = q.cl_begin[static_cast<std::size_t>(c + 1)];
            count += e - b;
            q.block_d2(b, e, x, [&](std::int64_t s, double v) {
                if (q.slot_pos[static_cast<std::size_t>(s)] >= 0) best = std::max(best, v);
            });
        }
    }
    const std::int64_t scan_from = (q.kind == index_kind::brute || q.n_slots == 0) ? 0 : q.n_built;
    for (std::int64_t p = scan_from; p < q.n; ++p)
        best = std::max(best, sq_dist(x, q.row(p), q.dim));
    count += q.n - scan_from;
    q.examined.fetch_add(count, std::memory_order_relaxed);
    return best;
}

template class range_index<float>;
template class range_index<double>;

}  // namespace denseam::detail
