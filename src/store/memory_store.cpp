// SPDX-License-Identifier: MIT
// The live memory store (include/denseam/store.hpp, docs/store.md): stable ids over the rows of
// a range index that is updated in place, and its crash-safe file (store_file.cpp).
#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <variant>

#include "denseam/error.hpp"
#include "denseam/store.hpp"
#include "engine/validate.hpp"
#include "index/range_index.hpp"
#include "retrieval/methods.hpp"
#include "store/store_file.hpp"

namespace denseam {

std::string_view to_string(store_dtype t) noexcept {
    switch (t) {
        case store_dtype::float32:
            return "float32";
        case store_dtype::float64:
            return "float64";
    }
    return "unknown";
}

store_dtype parse_store_dtype(std::string_view name) {
    if (name == "float32" || name == "f4") return store_dtype::float32;
    if (name == "float64" || name == "f8") return store_dtype::float64;
    throw invalid_argument("unknown store dtype '" + std::string(name) +
                           "' (choose float32 (f4) or float64 (f8))");
}

namespace {

using detail::range_index;

template <class T>
matrix_view<const T> rows_of(const range_index<T>& index) {
    if (index.size() == 0) return {nullptr, 0, index.dim()};
    return {index.row(0), index.size(), index.dim()};
}

// Index updates are never interrupted: a half-applied update would break all-or-nothing.
exec_options without_interrupt(const exec_options& exec) {
    exec_options e = exec;
    e.interrupt = nullptr;
    return e;
}

// A float computation into double outputs: compute(e, g) fills float energies (and gradients
// when `grad` is not empty), which are then widened (exactly) into `energy` and `grad`.
template <class Compute>
void widened(std::span<double> energy, matrix_view<double> grad, Compute&& compute) {
    const auto n = static_cast<std::int64_t>(energy.size());
    const std::int64_t dim = grad.empty() ? 0 : grad.cols;
    std::vector<float> e(energy.size()), g(static_cast<std::size_t>(n * dim));
    compute(std::span<float>(e),
            grad.empty() ? matrix_view<float>{} : matrix_view<float>(g.data(), n, dim));
    std::copy(e.begin(), e.end(), energy.begin());
    for (std::int64_t i = 0; i < n && dim > 0; ++i)
        for (std::int64_t j = 0; j < dim; ++j)
            grad(i, j) = g[static_cast<std::size_t>(i * dim + j)];
}

std::string shape_str(std::int64_t r, std::int64_t c) {
    return "(" + std::to_string(r) + ", " + std::to_string(c) + ")";
}

// A shared mutex that prefers writers: an update waits for the running queries and blocks new
// ones, so a steady stream of queries cannot starve add/remove (glibc's rwlock, behind
// std::shared_mutex, prefers readers). Not recursive.
class update_mutex {
  public:
    void lock_shared() {
        std::unique_lock l(m_);
        cv_.wait(l, [&] { return !writing_ && writers_waiting_ == 0; });
        ++readers_;
    }
    void unlock_shared() {
        std::lock_guard l(m_);
        if (--readers_ == 0) cv_.notify_all();
    }
    void lock() {
        std::unique_lock l(m_);
        ++writers_waiting_;
        cv_.wait(l, [&] { return !writing_ && readers_ == 0; });
        --writers_waiting_;
        writing_ = true;
    }
    void unlock() {
        std::lock_guard l(m_);
        writing_ = false;
        cv_.notify_all();
    }

  private:
    std::mutex m_;
    std::condition_variable cv_;
    std::int64_t readers_ = 0, writers_waiting_ = 0;
    bool writing_ = false;
};

}  // namespace

struct memory_store::impl {
    std::int64_t dim = 0;
    energy_params params;
    store_dtype dtype = store_dtype::float64;
    index_kind requested = index_kind::automatic;
    std::int64_t next_id = 0;
    std::vector<std::int64_t> ids;  // ascending; ids[p] is the pattern at index position p
    double max_abs = 0.0;           // max |coordinate| of the live patterns (range checks)
    std::variant<range_index<float>, range_index<double>> rows;
    mutable update_mutex mutex;

    std::int64_t size() const { return static_cast<std::int64_t>(ids.size()); }

    bool compact() const { return has_compact_support(params.kernel); }

    // The kind an index over n rows gets: brute for a kernel that reaches every memory, else
    // the requested kind (automatic resolved for a long-lived index: many queries to come); an
    // empty index cannot choose, so it scans until rows arrive.
    index_kind kind_for(std::int64_t n) const {
        if (n == 0 || !compact() || requested == index_kind::brute) return index_kind::brute;
        if (requested != index_kind::automatic) return requested;
        return detail::choose_index(n, dim, std::int64_t(1) << 20);
    }

    template <class F>
    decltype(auto) visit(F&& f) const {
        return std::visit(std::forward<F>(f), rows);
    }
    template <class F>
    decltype(auto) visit_mut(F&& f) {
        return std::visit(std::forward<F>(f), rows);
    }

    index_kind used() const {
        return visit([](const auto& ix) { return ix.kind(); });
    }

    template <class T>
    void reset_rows(matrix_view<const T> r, const exec_options& exec) {
        rows = range_index<T>(r, kind_for(r.rows), without_interrupt(exec));
    }

    /// The checks of a query batch: a store with patterns, the store's dimension, a valid view,
    /// finite values (`what`: what the call does, for the message of an empty store).
    void check_queries(matrix_view<const double> queries, const char* what) const {
        if (ids.empty())
            throw invalid_argument(std::string("the store is empty: add patterns before ") + what);
        if (queries.cols != dim)
            throw invalid_argument("queries have dimension " + std::to_string(queries.cols) +
                                   " but the store has dimension " + std::to_string(dim));
        if (queries.rows < 0 || (queries.rows > 0 && (queries.data == nullptr || queries.ld < dim)))
            throw invalid_argument("queries: invalid view (null data or row stride < cols)");
        detail::check_finite(queries, "queries");
    }

    template <class U>
    std::vector<std::int64_t> add(matrix_view<const U> patterns, const exec_options& exec);
};

memory_store::memory_store(std::unique_ptr<impl> p) : p_(std::move(p)) {}

memory_store::memory_store(std::int64_t dim,
                           const energy_params& params,
                           store_dtype dtype,
                           index_kind index)
    : p_(std::make_unique<impl>()) {
    validate(params);
    if (dim < 1) throw invalid_argument("store dimension must be >= 1, got " + std::to_string(dim));
    if (dtype != store_dtype::float32 && dtype != store_dtype::float64)
        throw invalid_argument("invalid store dtype enum value");
    if (static_cast<unsigned>(index) > static_cast<unsigned>(index_kind::ball))
        throw invalid_argument("invalid index kind enum value");
    if (index != index_kind::automatic && index != index_kind::brute &&
        !has_compact_support(params.kernel))
        throw invalid_argument("index '" + std::string(to_string(index)) +
                               "' needs a compact kernel (kernel '" +
                               std::string(to_string(params.kernel)) + "' reaches every memory)");
    auto& s = *p_;
    s.dim = dim;
    s.params = params;
    s.dtype = dtype;
    s.requested = index;
    // An empty index cannot choose its kind: a scan until the first patterns arrive.
    if (dtype == store_dtype::float32)
        s.rows = range_index<float>(matrix_view<const float>(nullptr, 0, dim), index_kind::brute);
    else
        s.rows = range_index<double>(matrix_view<const double>(nullptr, 0, dim), index_kind::brute);
}

memory_store::~memory_store() = default;
memory_store::memory_store(memory_store&&) noexcept = default;
memory_store& memory_store::operator=(memory_store&&) noexcept = default;

template <class U>
std::vector<std::int64_t> memory_store::impl::add(matrix_view<const U> patterns,
                                                  const exec_options& exec) {
    validate(exec);
    if (patterns.rows < 0 || patterns.cols != dim)
        throw invalid_argument("patterns have shape " + shape_str(patterns.rows, patterns.cols) +
                               " but the store has dimension " + std::to_string(dim));
    if (patterns.rows == 0) return {};
    if (patterns.data == nullptr || patterns.ld < patterns.cols)
        throw invalid_argument("patterns: invalid view (null data or row stride < cols)");
    // Sizes before any allocation: rows * dim elements of 8 bytes must be addressable.
    constexpr std::int64_t max_elems = std::numeric_limits<std::int64_t>::max() / 16;
    if (patterns.rows > max_elems / dim)
        throw invalid_argument("patterns: " + std::to_string(patterns.rows) + " x " +
                               std::to_string(dim) + " values are too many");
    detail::check_finite(patterns, "patterns");

    // The rows in the store's type.
    double new_max = 0.0;
    auto convert = [&](auto tag) {
        using T = decltype(tag);
        std::vector<T> out(static_cast<std::size_t>(patterns.rows * dim));
        for (std::int64_t i = 0; i < patterns.rows; ++i)
            for (std::int64_t j = 0; j < dim; ++j)
                out[static_cast<std::size_t>(i * dim + j)] = static_cast<T>(patterns(i, j));
        // The largest coordinate of the stored values (range checks of later queries); a
        // double beyond float's range has become inf.
        new_max = detail::max_abs(matrix_view<const T>(out.data(), patterns.rows, dim));
        if (!std::isfinite(new_max))
            throw invalid_argument(
                "patterns: a value is beyond the range of float32, the "
                "store's dtype");
        return out;
    };
    std::vector<float> f32;
    std::vector<double> f64;
    if (dtype == store_dtype::float32)
        f32 = convert(float{});
    else
        f64 = convert(double{});

    std::unique_lock lock(mutex);
    if (next_id > std::numeric_limits<std::int64_t>::max() - patterns.rows)
        throw invalid_argument("the store has run out of ids");
    ids.reserve(ids.size() + static_cast<std::size_t>(patterns.rows));
    const std::int64_t n_after = size() + patterns.rows;
    const exec_options ex = without_interrupt(exec);
    visit_mut([&](auto& ix) {
        using T = std::remove_cvref_t<decltype(*ix.row(0))>;
        const std::vector<T>& add_rows = [&]() -> const std::vector<T>& {
            if constexpr (std::is_same_v<T, float>)
                return f32;
            else
                return f64;
        }();
        const matrix_view<const T> view(add_rows.data(), patterns.rows, dim);
        const index_kind want = kind_for(n_after);
        if (ix.kind() == index_kind::brute && want != index_kind::brute) {
            // The store grew past the size where the automatic choice picks an index (or
            // received its first rows): build it once over every row.
            std::vector<T> all(static_cast<std::size_t>(n_after * dim));
            const auto old = rows_of(ix);
            if (old.rows > 0) std::copy(old.data, old.data + old.rows * dim, all.begin());
            std::copy(add_rows.begin(), add_rows.end(), all.begin() + old.rows * dim);
            ix = range_index<T>(matrix_view<const T>(all.data(), n_after, dim), want, ex);
        } else {
            ix.append(view, ex);
        }
    });
    std::vector<std::int64_t> out(static_cast<std::size_t>(patterns.rows));
    for (auto& id : out) {
        id = next_id++;
        ids.push_back(id);
    }
    max_abs = std::max(max_abs, new_max);
    return out;
}

std::vector<std::int64_t> memory_store::add(matrix_view<const double> patterns,
                                            const exec_options& exec) {
    return p_->add(patterns, exec);
}

std::vector<std::int64_t> memory_store::add(matrix_view<const float> patterns,
                                            const exec_options& exec) {
    return p_->add(patterns, exec);
}

void memory_store::remove(std::span<const std::int64_t> ids, const exec_options& exec) {
    validate(exec);
    auto& s = *p_;
    std::unique_lock lock(s.mutex);
    std::vector<std::int64_t> pos;
    pos.reserve(ids.size());
    for (const std::int64_t id : ids) {
        const auto it = std::lower_bound(s.ids.begin(), s.ids.end(), id);
        if (it == s.ids.end() || *it != id) {
            if (id >= 0 && id < s.next_id)
                throw invalid_argument("id " + std::to_string(id) +
                                       " was removed from the store before");
            throw invalid_argument("unknown id " + std::to_string(id) +
                                   " (the store's ids are 0.." + std::to_string(s.next_id - 1) +
                                   ")");
        }
        pos.push_back(it - s.ids.begin());
    }
    std::sort(pos.begin(), pos.end());
    const auto dup = std::adjacent_find(pos.begin(), pos.end());
    if (dup != pos.end())
        throw invalid_argument("id " + std::to_string(s.ids[static_cast<std::size_t>(*dup)]) +
                               " is given more than once");
    if (pos.empty()) return;
    s.visit_mut([&](auto& ix) {
        ix.remove(pos, without_interrupt(exec));
        s.max_abs = detail::max_abs(rows_of(ix));
    });
    std::size_t r = 0, w = 0;
    for (std::size_t p = 0; p < s.ids.size(); ++p) {
        if (r < pos.size() && pos[r] == static_cast<std::int64_t>(p)) {
            ++r;
            continue;
        }
        s.ids[w++] = s.ids[p];
    }
    s.ids.resize(w);
}

std::int64_t memory_store::size() const {
    std::shared_lock lock(p_->mutex);
    return p_->size();
}

std::int64_t memory_store::dim() const {
    return p_->dim;
}

store_dtype memory_store::dtype() const {
    return p_->dtype;
}

const energy_params& memory_store::params() const {
    return p_->params;
}

store_info memory_store::info() const {
    const auto& s = *p_;
    std::shared_lock lock(s.mutex);
    store_info i;
    i.size = s.size();
    i.dim = s.dim;
    i.next_id = s.next_id;
    i.dtype = s.dtype;
    i.params = s.params;
    i.index = s.requested;
    i.index_used = s.used();
    i.bytes = s.visit([](const auto& ix) { return ix.bytes(); }) +
              s.ids.capacity() * sizeof(std::int64_t);
    return i;
}

std::vector<std::int64_t> memory_store::ids() const {
    std::shared_lock lock(p_->mutex);
    return p_->ids;
}

std::vector<double> memory_store::patterns() const {
    const auto& s = *p_;
    std::shared_lock lock(s.mutex);
    return s.visit([](const auto& ix) {
        const auto r = rows_of(ix);
        return std::vector<double>(r.data, r.data + r.rows * r.cols);
    });
}

namespace {

template <class T>
std::vector<T> narrowed(matrix_view<const double> q) {
    std::vector<T> out(static_cast<std::size_t>(q.rows * q.cols));
    for (std::int64_t i = 0; i < q.rows; ++i)
        for (std::int64_t j = 0; j < q.cols; ++j)
            out[static_cast<std::size_t>(i * q.cols + j)] = static_cast<T>(q(i, j));
    return out;
}

}  // namespace

void memory_store::energy_and_grad(matrix_view<const double> queries,
                                   std::span<double> energy,
                                   matrix_view<double> grad,
                                   std::span<energy_status> status,
                                   const exec_options& exec) const {
    const auto& s = *p_;
    validate(exec);
    std::shared_lock lock(s.mutex);
    s.check_queries(queries, "computing energies");
    detail::check_energy_outputs(queries, energy, grad, status);
    s.visit([&](const auto& ix) {
        using T = std::remove_cvref_t<decltype(*ix.row(0))>;
        const auto mem = rows_of(ix);
        if (ix.kind() == index_kind::brute) {
            exec_options ex = exec;
            ex.index = index_kind::brute;
            if constexpr (std::is_same_v<T, double>) {
                denseam::energy_and_grad(mem, queries, s.params, energy, grad, status, ex);
            } else {
                const std::vector<float> q = narrowed<float>(queries);
                const matrix_view<const float> qv(q.data(), queries.rows, s.dim);
                widened(energy, grad, [&](std::span<float> e, matrix_view<float> g) {
                    denseam::energy_and_grad(mem, qv, s.params, e, g, status, ex);
                });
            }
            return;
        }
        // The kept index: the checks of denseam::energy_and_grad without its pass over the
        // memories (their largest coordinate is kept up to date by add/remove).
        std::vector<T> qbuf;
        matrix_view<const T> qv;
        if constexpr (std::is_same_v<T, double>) {
            qv = queries;
        } else {
            qbuf = narrowed<T>(queries);
            qv = matrix_view<const T>(qbuf.data(), queries.rows, s.dim);
        }
        const double qmax = detail::max_abs(qv);
        if (!std::isfinite(qmax))
            throw invalid_argument(
                "queries: a value is beyond the range of float32, the store's "
                "dtype");
        detail::check_energy_range(mem, std::max(qmax, s.max_abs), s.params);
        if constexpr (std::is_same_v<T, double>) {
            detail::energy_with_index(ix, qv, s.params, energy, grad, status, exec);
        } else {
            widened(energy, grad, [&](std::span<float> e, matrix_view<float> g) {
                detail::energy_with_index(ix, qv, s.params, e, g, status, exec);
            });
        }
    });
}

retrieve_result<double> memory_store::retrieve(matrix_view<const double> queries,
                                               const retrieve_options& options,
                                               const exec_options& exec) const {
    const auto& s = *p_;
    validate(exec);
    std::shared_lock lock(s.mutex);
    s.check_queries(queries, "retrieving");
    retrieve_result<double> res = s.visit([&](const auto& ix) {
        using T = std::remove_cvref_t<decltype(*ix.row(0))>;
        const auto mem = rows_of(ix);
        exec_options ex = exec;
        ex.index = ix.kind();
        const range_index<T>* kept = ix.kind() == index_kind::brute ? nullptr : &ix;
        if constexpr (std::is_same_v<T, double>) {
            return detail::retrieve_indexed<double>(mem, queries, s.params, options, ex, kept);
        } else {
            const std::vector<float> q = narrowed<float>(queries);
            const matrix_view<const float> qv(q.data(), queries.rows, s.dim);
            if (!std::isfinite(detail::max_abs(qv)))
                throw invalid_argument(
                    "queries: a value is beyond the range of float32, the "
                    "store's dtype");
            retrieve_result<float> r =
                detail::retrieve_indexed<float>(mem, qv, s.params, options, ex, kept);
            retrieve_result<double> d;
            d.states.assign(r.states.begin(), r.states.end());
            d.energy.assign(r.energy.begin(), r.energy.end());
            d.status = std::move(r.status);
            d.steps = std::move(r.steps);
            d.support = std::move(r.support);
            return d;
        }
    });
    for (auto& p : res.support.indices) p = s.ids[static_cast<std::size_t>(p)];
    return res;
}

void memory_store::save(const std::string& path, const store_progress& progress) const {
    const auto& s = *p_;
    std::shared_lock lock(s.mutex);
    detail::store_header h;
    h.dtype = s.dtype;
    h.size = s.size();
    h.dim = s.dim;
    h.next_id = s.next_id;
    h.params = s.params;
    h.index = s.requested;
    s.visit([&](const auto& ix) {
        const auto mem = rows_of(ix);
        detail::write_store_file(
            path,
            h,
            s.ids,
            std::as_bytes(std::span(mem.data, static_cast<std::size_t>(mem.rows * mem.cols))),
            progress);
    });
}

memory_store memory_store::load(const std::string& path,
                                const store_progress& progress,
                                const exec_options& exec) {
    validate(exec);
    const detail::mapped_store_file f = detail::read_store_file(path, progress);
    const detail::store_header& h = f.header;
    memory_store st(h.dim, h.params, h.dtype, h.index);
    auto& s = *st.p_;
    s.next_id = h.next_id;
    s.ids.assign(f.ids.begin(), f.ids.end());
    const std::string what = "patterns of '" + path + "'";
    if (h.dtype == store_dtype::float32) {
        const matrix_view<const float> rows(
            reinterpret_cast<const float*>(f.patterns.data()), h.size, h.dim);
        detail::check_finite(rows, what.c_str());
        s.max_abs = detail::max_abs(rows);
        s.reset_rows(rows, exec);
    } else {
        const matrix_view<const double> rows(
            reinterpret_cast<const double*>(f.patterns.data()), h.size, h.dim);
        detail::check_finite(rows, what.c_str());
        s.max_abs = detail::max_abs(rows);
        s.reset_rows(rows, exec);
    }
    return st;
}

}  // namespace denseam
